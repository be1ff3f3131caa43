// SPDX-License-Identifier: MIT
// Large blocks taken from upstream, with a small bounded cache of recently freed ones, so that a
// program that frees and allocates a large buffer over and over does not round-trip to the
// system each time (glibc unmaps such blocks and faults them back in).
//
// A cacheable request (small_block_limit < bytes <= max_cached_block, see config.hpp; alignment a
// power of two <= 4096) is rounded up to its bucket, 4 buckets per power of two (so less than 25%
// more), and upstream is asked for exactly the bucket size with alignment 4096. A freed block of a
// bucket is kept for the next request of the same bucket while its bucket holds fewer than
// `per_bucket` blocks and the cache fewer than `max_bytes` bytes; otherwise it goes back at once.
// Upstream always gets back exactly the size and alignment it gave. Other requests (and every
// request when max_bytes or per_bucket is 0) pass through with their exact size and alignment.
// Every block, cached or live, is recorded in an upstream_blocks table, so release() gives back
// all of them.
#pragma once

#include "pmrkit/detail/config.hpp"
#include "pmrkit/detail/free_list.hpp"
#include "pmrkit/detail/upstream_blocks.hpp"

#include <array>
#include <bit>
#include <cstddef>
#include <memory_resource>

namespace pmrkit::detail {

class large_block_cache {
public:
    static constexpr std::size_t min_cached_bytes = small_block_limit + 1;
    static constexpr std::size_t max_cached_bytes = max_cached_block;
    static constexpr std::size_t cached_alignment = 4096;
    static constexpr int steps_log2 = 2;

    large_block_cache(std::pmr::memory_resource* upstream, std::size_t max_bytes,
                      std::size_t per_bucket) noexcept
        : m_blocks(upstream), m_max_bytes(max_bytes), m_per_bucket(per_bucket) {}

    // Throws std::bad_alloc for an impossible size or an alignment that is not a power of two;
    // upstream exceptions propagate, leaving the cache unchanged.
    [[nodiscard]] void* allocate(std::size_t bytes, std::size_t alignment);
    // Precondition: p came from allocate(bytes, alignment) and is not yet freed.
    void deallocate(void* p, std::size_t bytes, std::size_t alignment) noexcept;
    // Gives every cached block back, and the record table once no block is live.
    void trim() noexcept;
    // Gives every block back, live or cached, and the record table.
    void release() noexcept;

    // The size upstream is asked for: the bucket size when cacheable, else `bytes`.
    [[nodiscard]] std::size_t upstream_size(std::size_t bytes,
                                            std::size_t alignment) const noexcept;

    [[nodiscard]] std::size_t live_blocks() const noexcept {
        return m_blocks.count() - m_cached_blocks;
    }
    [[nodiscard]] std::size_t cached_blocks() const noexcept { return m_cached_blocks; }
    [[nodiscard]] std::size_t cached_bytes() const noexcept { return m_cached_bytes; }
    // Every upstream allocate call since construction, the table's included.
    [[nodiscard]] std::size_t upstream_allocations() const noexcept {
        return m_blocks.upstream_allocations();
    }
    // Bytes of the live blocks, as upstream sized them.
    [[nodiscard]] std::size_t live_bytes() const noexcept {
        return m_blocks.block_bytes() - m_cached_bytes;
    }
    // Bytes held from upstream: live and cached blocks, and the record table.
    [[nodiscard]] std::size_t upstream_bytes() const noexcept { return m_blocks.bytes(); }
    // Calls to upstream's allocate since construction.
    [[nodiscard]] std::size_t upstream_calls() const noexcept { return m_upstream_calls; }

private:
    // Buckets above 2^base_log2 (the first holds min_cached_bytes) up to max_cached_bytes.
    static constexpr int base_log2 = std::bit_width(small_block_limit) - 1;
    static constexpr std::size_t bucket_count =
        static_cast<std::size_t>(std::bit_width(max_cached_bytes) - 1 - base_log2) << steps_log2;

    [[nodiscard]] bool cacheable(std::size_t bytes, std::size_t alignment) const noexcept;

    upstream_blocks m_blocks;
    std::array<free_list, bucket_count> m_free{};
    std::array<std::size_t, bucket_count> m_counts{};
    std::size_t m_cached_blocks = 0;
    std::size_t m_cached_bytes = 0;
    std::size_t m_upstream_calls = 0;
    std::size_t m_max_bytes;
    std::size_t m_per_bucket;
};

} // namespace pmrkit::detail
