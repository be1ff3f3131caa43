// SPDX-License-Identifier: MIT
#include "pmrkit/detail/owned_spans.hpp"

#include <algorithm>

namespace pmrkit::detail {

static_assert(size_class_policy::min_span_bytes > 255, "a span start has room for a class index");

owned_spans::owned_spans(const class_table& classes) noexcept {
    for (std::size_t c = 0; c < classes.count; ++c) {
        const span_geometry& g = classes.geometry(c);
        m_classes[c] = {g.span_bytes - 1, exact_divisor(g.block_size, g.blocks)};
    }
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

void owned_spans::add(const void* span_start, std::size_t c) noexcept {
    insert(*m_current.load(std::memory_order_relaxed),
           key(reinterpret_cast<std::uintptr_t>(span_start), c));
    ++m_count;
}

void owned_spans::remove(const void* span_start, std::size_t c) noexcept {
    const table& t = *m_current.load(std::memory_order_relaxed);
    const auto at = [&t](std::size_t i) { return t.slots[i].load(std::memory_order_relaxed); };
    const std::uint64_t k = key(reinterpret_cast<std::uintptr_t>(span_start), c);
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
