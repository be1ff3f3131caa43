// SPDX-License-Identifier: MIT
// Large blocks taken from upstream, with a small cache of recently freed ones, so that a program
// that frees and allocates large buffers over and over does not round-trip to the system each
// time (a fresh glibc unmaps such blocks and faults them back in), while holding no more than the
// program needs.
//
// A cacheable request (small_block_limit < bytes <= max_cached_block, see config.hpp; alignment a
// power of two <= 4096) is rounded up to 256 bytes (4 KiB from 64 KiB up; at most 12.5% more)
// and taken with its own alignment. A freed block is kept, and a request reuses the smallest kept
// block that holds it, is at most twice its size and whose address has the alignment asked (best
// fit: a larger block serves a smaller request; upstream still gets back exactly the size and
// alignment it gave). Why up to twice: the bound below caps what live and kept blocks hold
// whatever each live one wastes, and a wider fit reuses more (W7, sizes spread over 4 powers of
// two: 0.42 upstream calls per step with at most a quarter to spare, 0.10 with twice, for the same
// peak held; its time under a glibc that maps every block 0.50 -> 0.15 of new_delete's, under
// jemalloc 1.11 -> 0.76). Not every block with alignment 4096, which would let any kept block
// serve any alignment: glibc carves an aligned large block out of a larger chunk and gives back
// its ends, several times the time of a malloc of the same size in a warmed heap (W7 measured it).
// jemalloc is the other way round (a malloc there offsets a large block within a page, an aligned
// one not), but glibc's is the default resource on Linux. What it keeps is bounded three ways:
// - by what the program has needed: the blocks kept and live together stay within 1.5 times the
//   most bytes of large blocks live at once (asked sizes), and within `max_bytes`;
// - by use: a kept block not reused within decay_operations large-block calls goes back;
// - by count: at most max_kept blocks, and at most `per_bucket` of one size bucket (4 buckets
//   per power of two).
// Under jemalloc a warm pool's W7 time is bimodal, and not through this cache's work: jemalloc
// purges the pages of the blocks given back (dirty_decay_ms), and the blocks asked for next (an
// eighth of the steps) often fault theirs in again. In a process that also ran fresh pools, whole
// repetitions took 3.7 times as long (3 to 5 faults a step, each about 7 us on the 2-core VM);
// new_delete, whose frees jemalloc reuses at once, had such phases less often. With
// MALLOC_CONF=dirty_decay_ms:-1 no repetition was slow.
// Other requests (and every request when max_bytes or per_bucket is 0) pass through with their
// exact size and alignment. Every block, kept or live, is recorded in an upstream_blocks table, so
// release() gives back all of them.
#pragma once

#include "pmrkit/detail/config.hpp"
#include "pmrkit/detail/size_classes.hpp"
#include "pmrkit/detail/upstream_blocks.hpp"

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory_resource>

namespace pmrkit::detail {

// The size bucket of a large block of `bytes`: 4 per power of two above small_block_limit.
[[nodiscard]] constexpr std::size_t large_bucket_of(std::size_t bytes) noexcept {
    return geometric_index(bytes, 2, std::bit_width(small_block_limit) - 1);
}

class large_block_cache {
public:
    static constexpr std::size_t min_cached_bytes = small_block_limit + 1;
    static constexpr std::size_t max_cached_bytes = max_cached_block;
    static constexpr std::size_t max_cached_alignment = 4096;
    static constexpr std::size_t max_kept = 32;
    static constexpr std::size_t decay_operations = 64;

    large_block_cache(std::pmr::memory_resource* upstream, std::size_t max_bytes,
                      std::size_t per_bucket) noexcept
        : m_blocks(upstream), m_max_bytes(max_bytes), m_per_bucket(per_bucket) {}

    // Throws std::bad_alloc for an impossible size or an alignment that is not a power of two;
    // upstream exceptions propagate, leaving the cache unchanged.
    [[nodiscard]] void* allocate(std::size_t bytes, std::size_t alignment);
    // Precondition: p came from allocate(bytes, alignment) and is not yet freed. A second free of
    // a block still kept stops the program with a report unless PMRKIT_UNPROTECTED; hardened
    // builds also stop on a size the block cannot hold (and upstream_blocks on an unknown pointer
    // or, for a block passed through, any other size or alignment).
    void deallocate(void* p, std::size_t bytes, std::size_t alignment) noexcept;
    // Gives every cached block back, and the record table once no block is live.
    void trim() noexcept;
    // Gives every block back, live or cached, and the record table.
    void release() noexcept;

    // The size upstream is asked for a block of `bytes` that is not served from the cache.
    [[nodiscard]] std::size_t upstream_size(std::size_t bytes,
                                            std::size_t alignment) const noexcept;

    [[nodiscard]] std::size_t live_blocks() const noexcept {
        return m_blocks.count() - m_kept_count;
    }
    [[nodiscard]] std::size_t cached_blocks() const noexcept { return m_kept_count; }
    [[nodiscard]] std::size_t cached_bytes() const noexcept { return m_kept_bytes; }
    // Every upstream allocate call since construction, the table's included.
    [[nodiscard]] std::size_t upstream_allocations() const noexcept {
        return m_blocks.upstream_allocations();
    }
    // Bytes of the live blocks, as upstream sized them.
    [[nodiscard]] std::size_t live_bytes() const noexcept {
        return m_blocks.block_bytes() - m_kept_bytes;
    }
    // Bytes held from upstream: live and cached blocks, and the record table.
    [[nodiscard]] std::size_t upstream_bytes() const noexcept { return m_blocks.bytes(); }
    // Calls to upstream's allocate for blocks (not the table) since construction.
    [[nodiscard]] std::size_t block_allocations() const noexcept { return m_block_allocations; }

private:
    struct kept {
        void* p;
        std::size_t bytes;     // as upstream sized it
        std::size_t alignment; // as upstream aligned it
        std::size_t deadline;  // the m_clock value after which it goes back
    };

    static constexpr std::size_t buckets = large_bucket_of(max_cached_bytes) + 1;

    [[nodiscard]] bool cacheable(std::size_t bytes, std::size_t alignment) const noexcept;
    // Takes kept block i out of the cache (for reuse or to give it back).
    kept take(std::size_t i) noexcept;
    void give_back(const kept& k) noexcept;
    // Gives back the kept blocks past their deadline.
    void expire() noexcept;
    // Live and kept blocks together may hold this much (1.5 times the most bytes asked for at
    // once), counting a request of `asked` more bytes.
    [[nodiscard]] std::size_t bound_with(std::size_t asked) const noexcept;
    // Whether a freed block of `bytes` may be kept beside the others, after making room for it
    // by giving back the oldest ones where only the count stands in its way.
    [[nodiscard]] bool room_for(std::size_t bytes) noexcept;

    upstream_blocks m_blocks;
    std::array<kept, max_kept> m_kept{};               // [0, m_kept_count), oldest first
    std::array<std::uint8_t, buckets> m_bucket_kept{}; // kept blocks per large_bucket_of
    std::size_t m_kept_count = 0;
    std::size_t m_kept_bytes = 0;
    std::size_t m_asked_live = 0; // bytes asked for by the live cacheable blocks
    std::size_t m_asked_peak = 0; // most of m_asked_live since construction or release()
    std::size_t m_held_live = 0;  // bytes upstream holds for them
    std::size_t m_clock = 0;      // cacheable allocate and deallocate calls
    std::size_t m_block_allocations = 0;
    std::size_t m_max_bytes;
    std::size_t m_per_bucket;
};

} // namespace pmrkit::detail
