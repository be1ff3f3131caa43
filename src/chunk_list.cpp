// SPDX-License-Identifier: MIT
#include "pmrkit/detail/chunk_list.hpp"

#include "pmrkit/detail/math.hpp"

#include <algorithm>
#include <new>

namespace pmrkit::detail {

chunk_list::span chunk_list::allocate(std::pmr::memory_resource& upstream,
                                      std::size_t payload_bytes, std::size_t alignment) {
    const std::size_t footer_offset = checked_align_up(payload_bytes, alignof(footer));
    const std::size_t total = checked_add(footer_offset, sizeof(footer));
    const std::size_t chunk_alignment = std::max(alignment, alignof(footer));
    auto* begin = static_cast<std::byte*>(upstream.allocate(total, chunk_alignment));
    auto* f = ::new (begin + footer_offset) footer{m_head, total, chunk_alignment};
    m_head = f;
    ++m_count;
    ++m_taken;
    m_bytes += total;
    return {begin, begin + footer_offset};
}

void chunk_list::deallocate_front(std::pmr::memory_resource& upstream) noexcept {
    footer* f = m_head;
    m_head = f->next;
    --m_count;
    m_bytes -= f->bytes;
    upstream.deallocate(payload_of(f).begin, f->bytes, f->alignment);
}

void chunk_list::release(std::pmr::memory_resource& upstream) noexcept {
    while (m_head != nullptr) {
        deallocate_front(upstream);
    }
}

} // namespace pmrkit::detail
