// SPDX-License-Identifier: MIT
// The address ranges a pool carves its blocks from, so that a hardened build (PMRKIT_HARDENED)
// can tell, in deallocate, a block the pool handed out from a pointer it never did: another
// resource's block, a heap pointer, or one into the middle of a block. Unchecked, such a pointer
// goes onto a free list and is handed out again, overlapping whatever really owns it.
//
// A range is [begin, begin + bytes) holding blocks of `stride` bytes from begin: a pool's chunk
// or span, one per upstream call. The ranges are kept in a vector sorted by address, so a check
// is a binary search, O(log ranges), and adding or removing a range is O(ranges), once per
// upstream call. The vector lives on the global heap (operator new), not upstream, so that a
// hardened build asks upstream for exactly what a normal build asks.
//
// In a normal build pools hold pool_ranges = no_owned_ranges, whose members do nothing and
// compile to nothing, so the pools' fast paths are what they are without hardening.
#pragma once

#include "pmrkit/detail/config.hpp"
#include "pmrkit/detail/free_list.hpp"
#include "pmrkit/detail/math.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace pmrkit::detail {

class owned_ranges {
public:
    // Makes room for one more range: call before taking the memory, so that when it throws
    // (std::bad_alloc) nothing has changed. Doubles the capacity when full (reserve(size() + 1)
    // would reallocate on every add).
    void reserve_one_more() {
        if (m_ranges.size() == m_ranges.capacity()) {
            m_ranges.reserve(std::max<std::size_t>(16, 2 * m_ranges.capacity()));
        }
    }
    // Precondition: reserve_one_more() since the last add; the range overlaps no other.
    void add(const void* begin, std::size_t bytes, std::size_t stride) noexcept;
    // Precondition: a range starting at begin was added.
    void remove(const void* begin) noexcept;
    void clear() noexcept {
        m_ranges.clear();
        m_newest = {};
    }

    // Whether p is the start of a block in a range added with this stride. The newest range is
    // tested first, inline: a growing pool's largest chunk, where most of its blocks are.
    [[nodiscard]] bool holds_block(const void* p, std::size_t stride) const noexcept {
        const auto a = reinterpret_cast<std::uintptr_t>(p);
        return (m_newest.stride == stride && m_newest.blocks.below_bound(a - m_newest.begin)) ||
               holds_searched(a, stride);
    }
    // Stops the program with a report (report_heap_corruption) unless holds_block(p, stride).
    void check_block(const void* p, std::size_t stride) const noexcept {
        if (!holds_block(p, stride)) [[unlikely]] {
            report_foreign_pointer(p);
        }
    }

    [[nodiscard]] std::size_t count() const noexcept { return m_ranges.size(); }

private:
    struct range {
        std::uintptr_t begin = 0;
        std::uintptr_t end = 0;
        std::size_t stride = 0;
        exact_divisor blocks; // offsets of its blocks, without a division; none by default
    };

    [[nodiscard]] bool holds_searched(std::uintptr_t a, std::size_t stride) const noexcept;
    // The first range that ends after address a.
    [[nodiscard]] std::vector<range>::const_iterator after(std::uintptr_t a) const noexcept;

    std::vector<range> m_ranges;
    range m_newest; // a copy of the range added last, or none
};

// What a normal build holds instead: nothing, and no work.
class no_owned_ranges {
public:
    void reserve_one_more() noexcept {}
    void add(const void* /*begin*/, std::size_t /*bytes*/, std::size_t /*stride*/) noexcept {}
    void remove(const void* /*begin*/) noexcept {}
    void clear() noexcept {}
    void check_block(const void* /*p*/, std::size_t /*stride*/) const noexcept {}
};

using pool_ranges = std::conditional_t<hardened_build, owned_ranges, no_owned_ranges>;

} // namespace pmrkit::detail
