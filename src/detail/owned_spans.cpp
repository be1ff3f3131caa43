// SPDX-License-Identifier: MIT
#include "pmrkit/detail/owned_spans.hpp"

#include <algorithm>
#include <cassert>

namespace pmrkit::detail {

owned_spans::owned_spans(const class_table& classes, std::size_t header_bytes) noexcept
    : m_first_levels(classes.first_levels) {
    for (std::size_t c = 0; c < classes.count; ++c) {
        const span_geometry& g = classes.geometry(c);
        // A key is a span's start or'ed with its class: spans are aligned to their size, which
        // exceeds every class index (the smallest, a span capped at one 16-byte block, is 128; a
        // smaller span is at least size_class_policy::min_growth_span).
        assert(g.span_bytes > classes.count);
        m_classes[c] = {g.span_bytes - 1, exact_divisor(g.block_size, g.blocks)};
        for (std::size_t level = 1; level <= m_first_levels[c]; ++level) {
            m_level_blocks[c][level - 1] = static_cast<std::uint32_t>(
                size_class_policy::growth_layout(g, level, header_bytes).blocks);
        }
    }
}

bool owned_spans::holds_smaller_block(const void* p, std::size_t c) const noexcept {
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    const class_check& check = m_classes[c];
    const std::uintptr_t own = check.offset_mask + 1;
    for (std::size_t level = m_first_levels[c]; level != 0; --level) {
        const std::uintptr_t start = a & ~((own >> level) - 1);
        if (check.blocks.below_bound(a - start, m_level_blocks[c][level - 1]) &&
            holds(start, c, level)) {
            return true;
        }
    }
    return false;
}

void owned_spans::reserve_one_more() {
    const table& current = *m_current.load(std::memory_order_relaxed);
    const std::size_t size = current.mask + 1;
    // m_none is only ever probed: the first span makes a table.
    if (&current != &m_none && 2 * (m_count + 1) <= size) {
        return;
    }
    const std::size_t bigger = std::max<std::size_t>(16, 2 * size);
    m_arrays.reserve(m_arrays.size() + 1);
    auto slots = std::make_unique<slot[]>(bigger); // zero: every slot empty
    const table& next =
        m_tables.emplace_back(table{slots.get(), bigger - 1, 64 - std::countr_zero(bigger)});
    m_arrays.push_back(std::move(slots));
    for (std::size_t i = 0; i < size; ++i) {
        const std::uint64_t k = current.slots[i].load(std::memory_order_relaxed);
        if (k != empty) {
            insert(next, k);
        }
    }
    // Lookups move to the new table once it is whole; the old one stays readable.
    m_current.store(&next, std::memory_order_release);
}

void owned_spans::insert(const table& t, std::uint64_t k) noexcept {
    std::size_t i = t.home(k);
    while (t.slots[i].load(std::memory_order_relaxed) != empty) {
        i = (i + 1) & t.mask;
    }
    t.slots[i].store(k, std::memory_order_relaxed);
}

void owned_spans::add(const void* span_start, std::size_t c, std::size_t level) noexcept {
    insert(*m_current.load(std::memory_order_relaxed),
           key(reinterpret_cast<std::uintptr_t>(span_start), c, level));
    ++m_count;
}

void owned_spans::remove(const void* span_start, std::size_t c, std::size_t level) noexcept {
    const table& t = *m_current.load(std::memory_order_relaxed);
    const auto at = [&t](std::size_t i) { return t.slots[i].load(std::memory_order_relaxed); };
    const std::uint64_t k = key(reinterpret_cast<std::uintptr_t>(span_start), c, level);
    std::size_t hole = t.home(k);
    while (at(hole) != k) {
        hole = (hole + 1) & t.mask;
    }
    // Backward-shift deletion: a later key of the same probe run moves into the hole when its home
    // slot is not after the hole, so lookups never need tombstones. (A lookup running meanwhile
    // may miss a moving key: see holds_block.)
    for (std::size_t i = (hole + 1) & t.mask; at(i) != empty; i = (i + 1) & t.mask) {
        if (((i - t.home(at(i))) & t.mask) >= ((i - hole) & t.mask)) {
            t.slots[hole].store(at(i), std::memory_order_relaxed);
            hole = i;
        }
    }
    t.slots[hole].store(empty, std::memory_order_relaxed);
    --m_count;
}

void owned_spans::clear() noexcept {
    m_current.store(&m_none, std::memory_order_relaxed);
    m_tables.clear();
    m_arrays.clear();
    m_count = 0;
}

} // namespace pmrkit::detail
