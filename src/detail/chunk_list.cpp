// SPDX-License-Identifier: MIT
#include "pmrkit/detail/chunk_list.hpp"

#include "pmrkit/detail/asan.hpp"
#include "pmrkit/detail/math.hpp"

#include <algorithm>
#include <new>

namespace pmrkit::detail {

chunk_list::payload chunk_list::allocate(std::pmr::memory_resource& upstream,
                                         std::size_t payload_bytes, std::size_t alignment) {
    const std::size_t footer_offset = checked_align_up(payload_bytes, alignof(footer));
    const std::size_t total = checked_add(footer_offset, sizeof(footer));
    const std::size_t chunk_alignment = std::max(alignment, alignof(footer));
    // A size this near the top wraps in upstream's padding arithmetic (libstdc++'s aligned
    // operator new then returns a tiny block), and the footer would land outside the chunk.
    if (!is_satisfiable(total, chunk_alignment)) {
        throw_bad_alloc();
    }
    auto* begin = static_cast<std::byte*>(upstream.allocate(total, chunk_alignment));
    push_front(::new (begin + footer_offset) footer{nullptr, total, chunk_alignment});
    ++m_taken;
    return {begin, begin + footer_offset};
}

void chunk_list::deallocate_front(std::pmr::memory_resource& upstream) noexcept {
    footer* f = unlink(&m_head);
    // Upstream may not be ASan's allocator: it must get its memory back usable, whatever the
    // owner poisoned in it.
    detail::asan_unpoison(payload_of(f).begin, f->bytes);
    upstream.deallocate(payload_of(f).begin, f->bytes, f->alignment);
}

void chunk_list::release(std::pmr::memory_resource& upstream) noexcept {
    while (m_head != nullptr) {
        deallocate_front(upstream);
    }
}

// Merges two lists sorted largest first; on equal sizes `a` goes first, which keeps the sort
// stable.
chunk_list::footer* chunk_list::merge(footer* a, footer* b) noexcept {
    footer head{nullptr, 0, 0};
    footer* tail = &head;
    while (a != nullptr && b != nullptr) {
        footer*& larger = a->bytes >= b->bytes ? a : b;
        tail->next = larger;
        tail = larger;
        larger = larger->next;
    }
    tail->next = a != nullptr ? a : b;
    return head.next;
}

// The last node of the run of at most `width` nodes that starts at `first` (not null).
chunk_list::footer* chunk_list::run_end(footer* first, std::size_t width) noexcept {
    for (std::size_t i = 1; i < width && first->next != nullptr; ++i) {
        first = first->next;
    }
    return first;
}

void chunk_list::sort_largest_first() noexcept {
    // Bottom-up: merge runs of width 1, 2, 4, ... until one run holds the whole list.
    for (std::size_t width = 1; width < m_count; width *= 2) {
        footer* rest = m_head;
        footer head{nullptr, 0, 0};
        footer* tail = &head;
        while (rest != nullptr) {
            footer* a = rest;
            footer* a_last = run_end(a, width);
            footer* b = a_last->next;
            a_last->next = nullptr;
            rest = nullptr;
            if (b != nullptr) {
                footer* b_last = run_end(b, width);
                rest = b_last->next;
                b_last->next = nullptr;
            }
            tail->next = merge(a, b);
            while (tail->next != nullptr) {
                tail = tail->next;
            }
        }
        m_head = head.next;
    }
}

} // namespace pmrkit::detail
