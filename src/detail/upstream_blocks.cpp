// SPDX-License-Identifier: MIT
#include "pmrkit/detail/upstream_blocks.hpp"

#include "pmrkit/detail/free_list.hpp"
#include "pmrkit/detail/math.hpp"

#include <cassert>
#include <cstdint>

namespace pmrkit::detail {

namespace {
constexpr std::size_t first_capacity = 16;
} // namespace

std::size_t upstream_blocks::home(const void* p) const noexcept {
    // Fibonacci hashing: block addresses share their low bits, the product's high bits do not.
    const auto h = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p)) *
                   0x9E3779B97F4A7C15ULL;
    return static_cast<std::size_t>(h >> 32) & (m_capacity - 1);
}

std::size_t upstream_blocks::slot_of(const void* p) const noexcept {
    std::size_t i = home(p);
    while (m_table[i].p != nullptr && m_table[i].p != p) {
        i = (i + 1) & (m_capacity - 1);
    }
    return i;
}

void upstream_blocks::insert(const record& r) noexcept {
    std::size_t i = home(r.p);
    while (m_table[i].p != nullptr) {
        i = (i + 1) & (m_capacity - 1);
    }
    m_table[i] = r;
}

void upstream_blocks::reserve_one_more() {
    if (2 * (m_count + 1) <= m_capacity) {
        return;
    }
    const std::size_t capacity = m_capacity == 0 ? first_capacity : checked_mul(m_capacity, 2);
    auto* table = static_cast<record*>(
        m_upstream->allocate(checked_mul(capacity, sizeof(record)), alignof(record)));
    ++m_allocations;
    for (std::size_t i = 0; i < capacity; ++i) {
        table[i] = record{nullptr, 0, 0};
    }
    record* old = m_table;
    const std::size_t old_capacity = m_capacity;
    m_table = table;
    m_capacity = capacity;
    for (std::size_t i = 0; i < old_capacity; ++i) {
        if (old[i].p != nullptr) {
            insert(old[i]);
        }
    }
    if (old != nullptr) {
        m_upstream->deallocate(old, old_capacity * sizeof(record), alignof(record));
        ++m_deallocations;
    }
}

void* upstream_blocks::allocate(std::size_t bytes, std::size_t alignment) {
    if (!is_satisfiable(bytes, alignment)) {
        throw_bad_alloc();
    }
    reserve_one_more();
    void* p = m_upstream->allocate(bytes, alignment);
    ++m_allocations;
    insert({p, bytes, alignment});
    ++m_count;
    m_block_bytes += bytes;
    return p;
}

void upstream_blocks::deallocate(void* p, std::size_t bytes, std::size_t alignment) noexcept {
    const std::size_t i = m_capacity == 0 ? 0 : slot_of(p);
    const bool found = m_capacity != 0 && m_table[i].p == p;
    if constexpr (hardened_build) {
        if (!found) [[unlikely]] {
            report_heap_corruption("deallocate of a large or pass-through block this resource did "
                                   "not hand out",
                                   p);
        }
        // Passed on, a wrong size would reach upstream, which may trust it.
        if (m_table[i].bytes != bytes || m_table[i].alignment != alignment) [[unlikely]] {
            report_heap_corruption("deallocate of a large or pass-through block with a size or "
                                   "alignment other than its own",
                                   p);
        }
    }
    assert(found && "deallocate of a block this resource did not pass upstream");
    if (found) {
        assert(m_table[i].bytes == bytes && m_table[i].alignment == alignment);
        // Backward-shift deletion keeps every probe chain unbroken without tombstones.
        std::size_t hole = i;
        for (std::size_t j = (i + 1) & (m_capacity - 1); m_table[j].p != nullptr;
             j = (j + 1) & (m_capacity - 1)) {
            const std::size_t h = home(m_table[j].p);
            const bool movable = hole <= j ? (h <= hole || h > j) : (h <= hole && h > j);
            if (movable) {
                m_table[hole] = m_table[j];
                hole = j;
            }
        }
        m_table[hole] = record{nullptr, 0, 0};
        --m_count;
        m_block_bytes -= bytes;
    }
    m_upstream->deallocate(p, bytes, alignment);
    ++m_deallocations;
}

void upstream_blocks::release() noexcept {
    for (std::size_t i = 0; i < m_capacity; ++i) {
        if (m_table[i].p != nullptr) {
            m_upstream->deallocate(m_table[i].p, m_table[i].bytes, m_table[i].alignment);
            ++m_deallocations;
        }
    }
    if (m_table != nullptr) {
        m_upstream->deallocate(m_table, m_capacity * sizeof(record), alignof(record));
        ++m_deallocations;
    }
    m_table = nullptr;
    m_capacity = 0;
    m_count = 0;
    m_block_bytes = 0;
}

} // namespace pmrkit::detail
