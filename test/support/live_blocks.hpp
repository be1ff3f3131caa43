// SPDX-License-Identifier: MIT
// The set of blocks a test holds from a resource. Every block is checked on arrival (aligned, not
// overlapping any live block) and filled with a pattern unique to it; the pattern is checked
// again when the block is freed, so a resource that hands out the same memory twice or writes
// into live blocks is caught.
#pragma once

#include "patterned_block.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory_resource>
#include <random>
#include <vector>

namespace pmrkit::test {

class live_blocks {
public:
    explicit live_blocks(std::pmr::memory_resource& resource) : m_resource(resource) {}
    live_blocks(const live_blocks&) = delete;
    live_blocks& operator=(const live_blocks&) = delete;
    ~live_blocks() { free_all(); }

    void* allocate(std::size_t bytes, std::size_t alignment) {
        auto* p = static_cast<std::byte*>(m_resource.allocate(bytes, alignment));
        const auto address = reinterpret_cast<std::uintptr_t>(p);
        REQUIRE_MESSAGE(p != nullptr, "null returned for " << bytes << " bytes");
        CHECK_MESSAGE(address % alignment == 0,
                      p << " is not aligned to " << alignment << " (" << bytes << " bytes)");
        check_disjoint(address, std::max<std::size_t>(bytes, 1));
        const block b{p, bytes, alignment, m_next_tag++};
        b.fill();
        m_by_address.emplace(address, m_blocks.size());
        m_blocks.push_back(b);
        return p;
    }

    // Frees the block at `index` (in arrival order, with swap-removal).
    void free_at(std::size_t index) {
        const block b = m_blocks[index];
        check(b);
        m_by_address.erase(reinterpret_cast<std::uintptr_t>(b.p));
        if (index + 1 != m_blocks.size()) {
            m_blocks[index] = m_blocks.back();
            m_by_address[reinterpret_cast<std::uintptr_t>(m_blocks[index].p)] = index;
        }
        m_blocks.pop_back();
        m_resource.deallocate(b.p, b.bytes, b.alignment);
    }

    void free_random(std::mt19937_64& rng) {
        free_at(std::uniform_int_distribution<std::size_t>(0, m_blocks.size() - 1)(rng));
    }

    void free_all_shuffled(std::mt19937_64& rng) {
        while (!m_blocks.empty()) {
            free_random(rng);
        }
    }

    void free_all() {
        while (!m_blocks.empty()) {
            free_at(m_blocks.size() - 1);
        }
    }

    // Forgets the blocks without freeing them (after release(), which already took them).
    void forget_all() {
        check_all();
        m_blocks.clear();
        m_by_address.clear();
    }

    void check_all() const {
        for (const block& b : m_blocks) {
            check(b);
        }
    }

    [[nodiscard]] std::size_t size() const noexcept { return m_blocks.size(); }
    [[nodiscard]] bool empty() const noexcept { return m_blocks.empty(); }

private:
    using block = patterned_block;

    static void check(const block& b) {
        const std::size_t changed = b.first_change();
        CHECK_MESSAGE(changed == b.bytes, "contents of live block " << static_cast<void*>(b.p)
                                              << " (" << b.bytes << " bytes) changed at offset "
                                              << changed);
    }

    void check_disjoint(std::uintptr_t address, std::size_t extent) const {
        const auto next = m_by_address.lower_bound(address);
        if (next != m_by_address.end()) {
            CHECK_MESSAGE(address + extent <= next->first,
                          "new block at " << address << " overlaps the live block at "
                                          << next->first);
        }
        if (next != m_by_address.begin()) {
            const block& prev = m_blocks[std::prev(next)->second];
            const auto prev_end = reinterpret_cast<std::uintptr_t>(prev.p) +
                                  std::max<std::size_t>(prev.bytes, 1);
            CHECK_MESSAGE(prev_end <= address, "new block at " << address
                                                   << " overlaps the live block at "
                                                   << std::prev(next)->first);
        }
    }

    std::pmr::memory_resource& m_resource;
    std::vector<block> m_blocks;
    std::map<std::uintptr_t, std::size_t> m_by_address;
    std::uint64_t m_next_tag = 1;
};

} // namespace pmrkit::test
