// SPDX-License-Identifier: MIT
#include "pmrkit/detail/large_block_cache.hpp"

#include "pmrkit/detail/math.hpp"
#include "pmrkit/detail/size_classes.hpp"

namespace pmrkit::detail {

bool large_block_cache::cacheable(std::size_t bytes, std::size_t alignment) const noexcept {
    return m_max_bytes != 0 && m_per_bucket != 0 && bytes >= min_cached_bytes &&
           bytes <= max_cached_bytes && is_power_of_two(alignment) && alignment <= cached_alignment;
}

std::size_t large_block_cache::upstream_size(std::size_t bytes,
                                             std::size_t alignment) const noexcept {
    return cacheable(bytes, alignment) ? geometric_round(bytes, steps_log2) : bytes;
}

void* large_block_cache::allocate(std::size_t bytes, std::size_t alignment) {
    if (!cacheable(bytes, alignment)) {
        void* p = m_blocks.allocate(bytes, alignment);
        ++m_upstream_calls;
        return p;
    }
    const std::size_t bucket = geometric_index(bytes, steps_log2, base_log2);
    const std::size_t size = geometric_round(bytes, steps_log2);
    if (void* p = m_free[bucket].pop()) {
        --m_counts[bucket];
        --m_cached_blocks;
        m_cached_bytes -= size;
        return p;
    }
    void* p = m_blocks.allocate(size, cached_alignment);
    ++m_upstream_calls;
    return p;
}

void large_block_cache::deallocate(void* p, std::size_t bytes, std::size_t alignment) noexcept {
    if (!cacheable(bytes, alignment)) {
        m_blocks.deallocate(p, bytes, alignment);
        return;
    }
    if constexpr (hardened_build) {
        // Caching a block it never handed out would hand that memory out again.
        if (!m_blocks.contains(p)) [[unlikely]] {
            report_heap_corruption("deallocate of a large block this resource did not hand out",
                                   p);
        }
    }
    const std::size_t bucket = geometric_index(bytes, steps_log2, base_log2);
    const std::size_t size = geometric_round(bytes, steps_log2);
    if (m_counts[bucket] < m_per_bucket && size <= m_max_bytes - m_cached_bytes) {
        m_free[bucket].push(p);
        ++m_counts[bucket];
        ++m_cached_blocks;
        m_cached_bytes += size;
        return;
    }
    m_blocks.deallocate(p, size, cached_alignment);
}

void large_block_cache::trim() noexcept {
    for (std::size_t bucket = 0; bucket < bucket_count; ++bucket) {
        const std::size_t size = geometric_size(bucket, steps_log2, base_log2);
        while (void* p = m_free[bucket].pop()) {
            m_blocks.deallocate(p, size, cached_alignment);
        }
        m_counts[bucket] = 0;
    }
    m_cached_blocks = 0;
    m_cached_bytes = 0;
    if (m_blocks.count() == 0) {
        m_blocks.release();
    }
}

void large_block_cache::release() noexcept {
    // Cached blocks leave through their free lists, which give them back with their link words
    // unpoisoned under ASan (upstream may write into what it gets back).
    trim();
    m_blocks.release();
}

} // namespace pmrkit::detail
