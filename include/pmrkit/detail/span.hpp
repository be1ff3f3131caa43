// SPDX-License-Identifier: MIT
// A span: a run of memory taken from upstream for one size class, aligned to its own size, with
// this header after its last block. Any block's header is found by a mask and an add
// (`(p & ~(span_bytes - 1)) + header_offset`, see size_classes.hpp for why it is not at the start).
//
//   [ block 0 | block 1 | ... | block n-1 | pad | header | tail waste ]
//   ^ span start, aligned to span_bytes          ^ geometry.header_offset
//
// The header counts live blocks, so that a pool knows when a span is empty and can give it back.
// Blocks are carved lazily from the span's never-used region. The header also holds a free list
// of the span's own: a pool keeps its recently freed blocks on one list per class (a push and a
// pop, the cheapest fast path) and moves the older ones to their spans' lists in batches, so that
// a class refilled after many frees takes one span's blocks at a time, close together in memory,
// rather than the whole class's blocks in the order they were freed (see size_class_resource).
#pragma once

#include "pmrkit/detail/bump_region.hpp"
#include "pmrkit/detail/free_list.hpp"
#include "pmrkit/detail/size_classes.hpp"

#include <cstddef>
#include <cstdint>
#include <new>

namespace pmrkit::detail {

class span {
public:
    // Builds the header in `memory` (geometry.span_bytes bytes aligned to that size) for class
    // `size_class`; no block is carved yet.
    static span* create(void* memory, const span_geometry& geometry,
                        std::size_t size_class) noexcept {
        auto* base = static_cast<std::byte*>(memory);
        return ::new (base + geometry.header_offset) span(
            bump_region(base, base + geometry.used_bytes()),
            static_cast<std::uint32_t>(geometry.span_bytes), static_cast<std::uint8_t>(size_class));
    }

    // The span holding `block`, given its class's span mask and header offset.
    [[nodiscard]] static span* owner(const void* block, std::uintptr_t mask,
                                     std::uintptr_t header_offset) noexcept {
        return reinterpret_cast<span*>((reinterpret_cast<std::uintptr_t>(block) & mask) +
                                       header_offset);
    }

    // A never-used block, counted live, unmarked (free_list::unmark); nullptr once the whole span
    // has been carved.
    [[nodiscard]] void* carve(std::size_t block_size, std::size_t mark_at) noexcept {
        void* block = m_fresh.take(block_size);
        if (block != nullptr) {
            ++m_live;
            free_list::unmark(block, mark_at);
        }
        return block;
    }
    // Carves up to n never-used blocks onto `out`, a list linked with key, counted live; returns
    // how many (fewer once the whole span has been carved).
    [[nodiscard]] std::size_t carve(std::size_t n, std::size_t block_size, free_list& out,
                                    const free_list_key& key, std::size_t mark_at) noexcept {
        std::size_t carved = 0;
        for (; carved < n; ++carved) {
            void* block = m_fresh.take(block_size);
            if (block == nullptr) {
                break;
            }
            free_list::unmark(block, mark_at);
            out.push(block, key, mark_at);
        }
        m_live += static_cast<std::uint32_t>(carved);
        return carved;
    }
    // Whether blocks remain to be carved.
    [[nodiscard]] bool carving() const noexcept { return m_fresh.remaining() != 0; }

    // The span's own free list: blocks counted free, kept here until a pool takes them all, linked
    // with the pool's key (see free_list).
    [[nodiscard]] bool has_free() const noexcept { return !m_free.empty(); }
    // Keeps a block on the span's list, counted free; true when the span has become empty.
    [[nodiscard]] bool keep_free(void* block, const free_list_key& key,
                                 std::size_t mark_at) noexcept {
        m_free.push(block, key, mark_at);
        ++m_free_count;
        return --m_live == 0;
    }
    // The span's free list, whose blocks are now counted live (they leave for a pool's list).
    [[nodiscard]] free_list take_free() noexcept {
        const free_list blocks = m_free;
        m_free.clear();
        m_live += m_free_count;
        m_free_count = 0;
        return blocks;
    }
    // How many blocks the span's own free list holds.
    [[nodiscard]] std::size_t free_count() const noexcept { return m_free_count; }
    [[nodiscard]] std::size_t live() const noexcept { return m_live; }
    [[nodiscard]] std::size_t size_class() const noexcept { return m_class; }
    [[nodiscard]] std::size_t bytes() const noexcept { return m_bytes; }
    // The span's start, as taken from upstream.
    [[nodiscard]] void* memory() const noexcept {
        const auto address = reinterpret_cast<std::uintptr_t>(this);
        return reinterpret_cast<void*>(address & ~static_cast<std::uintptr_t>(m_bytes - 1));
    }

    // A pool's own marks, for batching work over its spans: reported (counted empty once), and
    // kept_empty (found empty and kept by the last sweep, not reused since).
    [[nodiscard]] bool reported() const noexcept { return m_reported; }
    void set_reported(bool value) noexcept { m_reported = value; }
    [[nodiscard]] bool kept_empty() const noexcept { return m_kept_empty; }
    void set_kept_empty(bool value) noexcept { m_kept_empty = value; }

private:
    friend class span_list;

    span(bump_region fresh, std::uint32_t bytes, std::uint8_t size_class) noexcept
        : m_bytes(bytes), m_fresh(fresh), m_class(size_class) {}

    // 32-bit counts keep the header at 56 bytes, as the class tables assume (spans are at most
    // 1 MiB).
    std::uint32_t m_live = 0;
    std::uint32_t m_bytes;
    bump_region m_fresh;
    span* m_prev = nullptr;
    span* m_next = nullptr;
    free_list m_free;
    std::uint8_t m_class;
    bool m_reported = false;
    bool m_kept_empty = false;
    std::uint32_t m_free_count = 0; // blocks on m_free
};
static_assert(sizeof(span) == 56 || sizeof(void*) != 8, "the header size the class tables assume");

// Intrusive doubly linked list of spans: O(1) insert and removal, in-order iteration.
class span_list {
public:
    void push_front(span* s) noexcept {
        s->m_prev = nullptr;
        s->m_next = m_head;
        if (m_head != nullptr) {
            m_head->m_prev = s;
        }
        m_head = s;
        ++m_count;
    }
    // Precondition: s is in this list.
    void remove(span* s) noexcept {
        (s->m_prev != nullptr ? s->m_prev->m_next : m_head) = s->m_next;
        if (s->m_next != nullptr) {
            s->m_next->m_prev = s->m_prev;
        }
        --m_count;
    }
    [[nodiscard]] span* front() const noexcept { return m_head; }
    [[nodiscard]] static span* next(const span* s) noexcept { return s->m_next; }
    [[nodiscard]] std::size_t count() const noexcept { return m_count; }
    [[nodiscard]] bool empty() const noexcept { return m_head == nullptr; }
    void clear() noexcept {
        m_head = nullptr;
        m_count = 0;
    }

private:
    span* m_head = nullptr;
    std::size_t m_count = 0;
};

} // namespace pmrkit::detail
