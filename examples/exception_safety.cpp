// SPDX-License-Identifier: MIT
// Exception-safety testing of allocator-aware code: exception_test runs the function with an
// allocation failure injected at the 1st, 2nd, ... allocation until it completes, and checks after
// each failure that everything the function allocated was freed. Exit status 0 means the checked
// result held.
#include <pmrkit/decorators/test_resource.hpp>

#include <cstdio>
#include <map>
#include <memory_resource>
#include <stdexcept>
#include <string>
#include <vector>

// User code under test: builds an index of words by first letter.
std::pmr::map<char, std::pmr::vector<std::pmr::string>>
index_words(const std::vector<std::string>& words, std::pmr::memory_resource* resource) {
    std::pmr::map<char, std::pmr::vector<std::pmr::string>> index(resource);
    for (const std::string& w : words) {
        index[w.front()].emplace_back(w);
    }
    return index;
}

int main() {
    const std::vector<std::string> words = {"allocator",    "arena", "block",
                                            "bump-pointer", "chunk", "free-list-with-a-long-name"};
    pmrkit::test_resource resource(std::pmr::new_delete_resource());

    const std::size_t runs = pmrkit::exception_test(resource, [&] {
        const auto index = index_words(words, &resource);
        if (index.at('a').size() != 2) {
            throw std::logic_error("wrong index");
        }
    });

    // Every allocation index_words makes was made to fail once, and nothing leaked (a leak would
    // have been reported, and aborted the program, with the leaked blocks named).
    std::printf("%zu runs, %zu errors, %zu blocks live\n", runs, resource.errors(),
                resource.live_blocks());
    return runs > words.size() && resource.errors() == 0 && resource.live_blocks() == 0 ? 0 : 1;
}
