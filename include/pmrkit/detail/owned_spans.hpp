// SPDX-License-Identifier: MIT
// The spans a size-class heap holds, so that a hardened build (PMRKIT_HARDENED) can tell, in
// deallocate, a block the heap handed out from a pointer it never did: another resource's block, a
// heap pointer, one into the middle of a block, or one of another class. Unchecked, such a pointer
// goes onto a free list and is handed out again, overlapping whatever really owns it.
//
// O(1) and inline, because it runs on every free: a span is aligned to its size, so a pointer's
// span start is one mask and its offset in the span the other bits. The start, tagged with the
// class, is looked up in a hash set of the heap's spans (open addressing, at most half full, so a
// lookup is about one probe; lookups take no lock); the offset must be a whole number of blocks
// below the span's block count, which a multiplication by the block size's inverse and a rotation
// test decide (exact_divisor in math.hpp). Nothing at the pointer is read, so a wild pointer is
// reported, not followed. The set lives on the global heap (operator new), not upstream, so that a
// hardened build asks upstream for exactly what a normal build asks; it changes only when a span
// is taken or given back. The few smaller spans a class starts with (size_class_policy's growth
// levels) are in the set too, their level in the key: a pointer that misses the spans of its
// class's own size is looked for in each of them (holds_smaller_block), still without a lock.
// (Found by the heap's loop over its smaller spans instead, a block in a class's first span cost
// 120 instructions more per free than one in its own span, and concurrent_pool took its central
// lock for each: W1 in a hardened build counted 174 and 320 instructions per pair, now 164 and
// 203; 52 and 67 unchecked.)
//
// In a normal build heaps hold span_checks = no_owned_spans, whose members do nothing and compile
// to nothing.
#pragma once

#include "pmrkit/detail/config.hpp"
#include "pmrkit/detail/free_list.hpp"
#include "pmrkit/detail/math.hpp"
#include "pmrkit/detail/size_classes.hpp"

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <type_traits>
#include <vector>

namespace pmrkit::detail {

class owned_spans {
public:
    // For the heap's classes, whose spans have headers of header_bytes. Takes no memory; keeps a
    // pointer into `classes`, which must outlive it.
    owned_spans(const class_table& classes, std::size_t header_bytes) noexcept;
    owned_spans(const owned_spans&) = delete;
    owned_spans& operator=(const owned_spans&) = delete;

    // The changes: one thread at a time (concurrent_pool: under its lock), while lookups run.
    // Makes room for one more span: call before taking the memory, so that when it throws
    // (std::bad_alloc) nothing has changed.
    void reserve_one_more();
    // A span of class c, `level` halvings below the class's own size (0: its own size).
    // Precondition: reserve_one_more() since the last add; the span is not held.
    void add(const void* span_start, std::size_t c, std::size_t level = 0) noexcept;
    // Precondition: the span was added with class c and this level.
    void remove(const void* span_start, std::size_t c, std::size_t level = 0) noexcept;
    // Precondition: no lookup runs.
    void clear() noexcept;

    // Whether p is the start of a block of class c in a span held. From any thread, also while
    // another changes the set: then it may miss a span held (a key moving in the table), never
    // find one that was not added; concurrent_pool asks again under its lock before it reports.
    [[nodiscard]] bool holds_block(const void* p, std::size_t c) const noexcept {
        const auto a = reinterpret_cast<std::uintptr_t>(p);
        const class_check& check = m_classes[c];
        return check.blocks.below_bound(a & check.offset_mask) && holds(a & ~check.offset_mask, c);
    }
    // Whether p is the start of a block of class c in one of the class's smaller spans held, the
    // deepest level (the class's first span) first; as holds_block, from any thread.
    [[nodiscard]] PMRKIT_NOINLINE bool holds_smaller_block(const void* p,
                                                           std::size_t c) const noexcept;

private:
    using slot = std::atomic<std::uint64_t>;  // relaxed: a lookup may run during a change
    static constexpr std::uint64_t empty = 0; // no span starts at 0

    // A power of two of slots, at most half used. Replaced when full, but never freed before
    // clear() or destruction, since a lookup on another thread may still read it.
    struct table {
        slot* slots;
        std::size_t mask;
        int shift; // 64 - log2(slots): Fibonacci hashing keeps the top bits

        [[nodiscard]] std::size_t home(std::uint64_t k) const noexcept {
            return static_cast<std::size_t>((k * 0x9E3779B97F4A7C15U) >> shift);
        }
    };

    // Spans are aligned to more than every class index (see the .cpp), and user-space addresses
    // end below bit 57 (x86-64 with 5-level paging; 48 elsewhere), which leaves bits 60-62 for a
    // smaller span's level: no two held spans share a start, but a lookup computes a level's
    // start from the pointer, and must not take a span of another level found there for one of
    // its own (a deeper one ends sooner).
    static constexpr int level_shift = 60;
    [[nodiscard]] static std::uint64_t key(std::uintptr_t span_start, std::size_t c,
                                           std::size_t level) noexcept {
        return span_start | c | (std::uint64_t{level} << level_shift);
    }
    [[nodiscard]] bool holds(std::uintptr_t span_start, std::size_t c,
                             std::size_t level = 0) const noexcept {
        const std::uint64_t k = key(span_start, c, level);
        const table& t = *m_current.load(std::memory_order_acquire);
        for (std::size_t i = t.home(k);; i = (i + 1) & t.mask) {
            const std::uint64_t found = t.slots[i].load(std::memory_order_relaxed);
            if (found == k) {
                return true;
            }
            if (found == empty) {
                return false;
            }
        }
    }
    static void insert(const table& t, std::uint64_t k) noexcept;

    // Per class, 32 bytes so that the class index scales by a shift.
    struct alignas(32) class_check {
        std::uintptr_t offset_mask = 0; // span_bytes - 1
        exact_divisor blocks;           // offsets of the class's blocks in a span
    };

    std::array<class_check, 256> m_classes;
    // Per class: how many levels below its own size its first span is (the table's, which
    // outlives the heap that holds this), and the blocks a span of each level holds (entry l - 1
    // for level l).
    const std::uint8_t* m_first_levels;
    std::array<std::array<std::uint32_t, size_class_policy::max_growth_levels>, 256>
        m_level_blocks{};
    // What lookups probe before the first span: two empty slots (home() gives 0 or 1), so that
    // they need no test for an empty set.
    std::array<slot, 2> m_no_slots{};
    table m_none{m_no_slots.data(), 1, 63};
    std::deque<table> m_tables;                    // every table made, the current one last
    std::vector<std::unique_ptr<slot[]>> m_arrays; // their slots
    std::atomic<const table*> m_current{&m_none};
    std::size_t m_count = 0;
};

// What a normal build holds instead: nothing, and no work.
class no_owned_spans {
public:
    no_owned_spans(const class_table& /*classes*/, std::size_t /*header_bytes*/) noexcept {}
    void reserve_one_more() noexcept {}
    void add(const void* /*span_start*/, std::size_t /*c*/, std::size_t /*level*/ = 0) noexcept {}
    void remove(const void* /*span_start*/, std::size_t /*c*/, std::size_t /*level*/ = 0) noexcept {
    }
    void clear() noexcept {}
    [[nodiscard]] bool holds_block(const void* /*p*/, std::size_t /*c*/) const noexcept {
        return true;
    }
    [[nodiscard]] bool holds_smaller_block(const void* /*p*/, std::size_t /*c*/) const noexcept {
        return true;
    }
};

using span_checks = std::conditional_t<hardened_build, owned_spans, no_owned_spans>;

} // namespace pmrkit::detail
