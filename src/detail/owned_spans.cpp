// SPDX-License-Identifier: MIT
#include "pmrkit/detail/owned_spans.hpp"

#include <algorithm>
#include <utility>

namespace pmrkit::detail {

static_assert(size_class_policy::min_span_bytes > 255, "a span start has room for a class index");

owned_spans::owned_spans(const class_table& table) noexcept {
    for (std::size_t c = 0; c < table.count; ++c) {
        const span_geometry& g = table.geometry(c);
        m_classes[c] = {g.span_bytes - 1, exact_divisor(g.block_size, g.blocks)};
    }
}

void owned_spans::reserve_one_more() {
    if (2 * (m_count + 1) <= m_slots.size()) {
        return;
    }
    std::vector<std::uint64_t> old(std::max<std::size_t>(16, 2 * m_slots.size()), empty);
    old.swap(m_slots);
    m_probe = m_slots.data();
    m_mask = m_slots.size() - 1;
    m_shift = 64 - std::countr_zero(m_slots.size());
    for (const std::uint64_t k : old) {
        if (k != empty) {
            insert(k);
        }
    }
}

void owned_spans::insert(std::uint64_t k) noexcept {
    std::size_t i = slot_of(k);
    while (m_slots[i] != empty) {
        i = (i + 1) & m_mask;
    }
    m_slots[i] = k;
}

void owned_spans::add(const void* span_start, std::size_t c) noexcept {
    insert(key(reinterpret_cast<std::uintptr_t>(span_start), c));
    ++m_count;
}

void owned_spans::remove(const void* span_start, std::size_t c) noexcept {
    const std::size_t mask = m_mask;
    std::size_t hole = slot_of(key(reinterpret_cast<std::uintptr_t>(span_start), c));
    while (m_slots[hole] != key(reinterpret_cast<std::uintptr_t>(span_start), c)) {
        hole = (hole + 1) & mask;
    }
    // Backward-shift deletion: a later key of the same probe run moves into the hole when its home
    // slot is not after the hole, so lookups never need tombstones.
    for (std::size_t i = (hole + 1) & mask; m_slots[i] != empty; i = (i + 1) & mask) {
        const std::size_t home = slot_of(m_slots[i]);
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            m_slots[hole] = m_slots[i];
            hole = i;
        }
    }
    m_slots[hole] = empty;
    --m_count;
}

void owned_spans::clear() noexcept {
    std::fill(m_slots.begin(), m_slots.end(), empty);
    m_count = 0;
}

} // namespace pmrkit::detail
