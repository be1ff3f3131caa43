// SPDX-License-Identifier: MIT
#include "pmrkit/detail/large_block_cache.hpp"

#include "pmrkit/detail/asan.hpp"
#include "pmrkit/detail/free_list.hpp"
#include "pmrkit/detail/math.hpp"

#include <algorithm>

namespace pmrkit::detail {

namespace {

constexpr std::size_t page_rounding_from = 64 * 1024;
constexpr std::size_t page_bytes = 4096;

} // namespace

bool large_block_cache::cacheable(std::size_t bytes, std::size_t alignment) const noexcept {
    return m_max_bytes != 0 && m_per_bucket != 0 && bytes >= min_cached_bytes &&
           bytes <= max_cached_bytes && is_power_of_two(alignment) &&
           alignment <= max_cached_alignment;
}

std::size_t large_block_cache::upstream_size(std::size_t bytes,
                                             std::size_t alignment) const noexcept {
    if (!cacheable(bytes, alignment)) {
        return bytes;
    }
    return align_up(bytes, bytes >= page_rounding_from ? page_bytes : 256);
}

large_block_cache::kept large_block_cache::take(std::size_t i) noexcept {
    const kept k = m_kept[i];
    std::copy(m_kept.begin() + static_cast<std::ptrdiff_t>(i) + 1,
              m_kept.begin() + static_cast<std::ptrdiff_t>(m_kept_count),
              m_kept.begin() + static_cast<std::ptrdiff_t>(i));
    --m_kept_count;
    m_kept_bytes -= k.bytes;
    --m_bucket_kept[large_bucket_of(k.bytes)];
    asan_unpoison(k.p, k.bytes);
    return k;
}

void large_block_cache::give_back(const kept& k) noexcept {
    m_blocks.deallocate(k.p, k.bytes, k.alignment);
}

void large_block_cache::expire() noexcept {
    // Oldest first: the expired ones are a prefix.
    while (m_kept_count != 0 && m_kept[0].deadline < m_clock) {
        give_back(take(0));
    }
}

void* large_block_cache::allocate(std::size_t bytes, std::size_t alignment) {
    if (!cacheable(bytes, alignment)) {
        void* p = m_blocks.allocate(bytes, alignment);
        ++m_block_allocations;
        return p;
    }
    ++m_clock;
    expire();
    // Best fit: the smallest kept block that holds the request and is at most twice its size.
    std::size_t best = m_kept_count;
    for (std::size_t i = 0; i < m_kept_count; ++i) {
        const std::size_t size = m_kept[i].bytes;
        if (size >= bytes && size - bytes <= bytes && is_aligned(m_kept[i].p, alignment) &&
            (best == m_kept_count || size < m_kept[best].bytes)) {
            best = i;
        }
    }
    void* p = nullptr;
    std::size_t held = 0;
    if (best != m_kept_count) {
        const kept k = take(best);
        p = k.p;
        held = k.bytes;
    } else {
        held = upstream_size(bytes, alignment);
        // Kept blocks that would take the total past the bound with this one go back first
        // (oldest first), so that upstream can reuse their memory for it.
        const std::size_t bound = bound_with(bytes);
        while (m_kept_count != 0 && m_held_live + m_kept_bytes + held > bound) {
            give_back(take(0));
        }
        p = m_blocks.allocate(held, alignment);
        ++m_block_allocations;
    }
    m_held_live += held;
    m_asked_live += bytes;
    m_asked_peak = std::max(m_asked_peak, m_asked_live);
    return p;
}

std::size_t large_block_cache::bound_with(std::size_t asked) const noexcept {
    const std::size_t peak = std::max(m_asked_peak, m_asked_live + asked);
    return peak + peak / 2;
}

bool large_block_cache::room_for(std::size_t bytes) noexcept {
    if (bytes > m_max_bytes - std::min(m_max_bytes, m_kept_bytes) ||
        m_held_live + m_kept_bytes + bytes > bound_with(0)) {
        return false;
    }
    if (m_bucket_kept[large_bucket_of(bytes)] >= m_per_bucket) {
        return false;
    }
    if (m_kept_count == max_kept) {
        give_back(take(0));
    }
    return true;
}

void large_block_cache::deallocate(void* p, std::size_t bytes, std::size_t alignment) noexcept {
    if (!cacheable(bytes, alignment)) {
        m_blocks.deallocate(p, bytes, alignment);
        return;
    }
    // The size and alignment it was taken with: a reused block may be larger than the request,
    // and less aligned blocks than it may have been asked for since.
    const auto [held, taken_alignment] = m_blocks.find(p);
    if (held == 0) [[unlikely]] {
        // Not one of its blocks: never kept (it would be handed out again); upstream_blocks
        // reports it in hardened builds and asserts in debug ones.
        m_blocks.deallocate(p, bytes, alignment);
        return;
    }
    // Kept, it is still recorded: without this test a second free would keep it twice, and two
    // requests would get the same block. At most max_kept entries, for a free of at least 2 KiB.
    if constexpr (build_protection != link_protection::none) {
        if (std::any_of(m_kept.begin(), m_kept.begin() + static_cast<std::ptrdiff_t>(m_kept_count),
                        [p](const kept& k) { return k.p == p; })) [[unlikely]] {
            report_heap_corruption("double free: the large block is already free", p);
        }
    }
    if constexpr (hardened_build) {
        // A block reused for a smaller request is larger than its size rounded: only a size it
        // cannot hold shows.
        if (upstream_size(bytes, alignment) > held) [[unlikely]] {
            report_heap_corruption("deallocate of a large block with a size larger than its own",
                                   p);
        }
    }
    ++m_clock;
    m_held_live -= held;
    m_asked_live -= bytes;
    expire();
    if (!room_for(held)) {
        m_blocks.deallocate(p, held, taken_alignment);
        return;
    }
    asan_poison(p, held);
    m_kept[m_kept_count++] = {p, held, taken_alignment, m_clock + decay_operations};
    m_kept_bytes += held;
    ++m_bucket_kept[large_bucket_of(held)];
}

void large_block_cache::trim() noexcept {
    while (m_kept_count != 0) {
        give_back(take(m_kept_count - 1));
    }
    if (m_blocks.count() == 0) {
        m_blocks.release();
    }
}

void large_block_cache::release() noexcept {
    trim();
    m_blocks.release();
    m_asked_live = 0;
    m_asked_peak = 0;
    m_held_live = 0;
}

} // namespace pmrkit::detail
