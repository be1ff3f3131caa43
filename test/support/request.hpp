// SPDX-License-Identifier: MIT
// One request of the per-request workload (anchors.md W5): a vector of 200 strings long enough to
// allocate and a 100-entry unordered_map of copies, built on a resource, then dropped. Every
// request with the same number of digits in `salt` makes the same allocations.
#pragma once

#include <cstddef>
#include <memory_resource>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pmrkit::test {

// Returns 300 (strings plus entries) when every string reads back intact, else 0.
inline std::size_t run_request(std::pmr::memory_resource& r, int salt) {
    const auto text = [salt](int i) {
        return "a string long enough to allocate " + std::to_string(i + salt);
    };
    std::pmr::vector<std::pmr::string> strings(&r);
    for (int i = 0; i < 200; ++i) {
        strings.emplace_back(text(i));
    }
    std::pmr::unordered_map<int, std::pmr::string> map(&r);
    for (int i = 0; i < 100; ++i) {
        map.emplace(i, strings[static_cast<std::size_t>(i)]);
    }
    bool intact = true;
    for (int i = 0; i < 200; ++i) {
        intact = intact && std::string_view(strings[static_cast<std::size_t>(i)]) == text(i);
    }
    for (int i = 0; i < 100; ++i) {
        intact = intact && std::string_view(map.at(i)) == text(i);
    }
    return intact ? strings.size() + map.size() : 0;
}

} // namespace pmrkit::test
