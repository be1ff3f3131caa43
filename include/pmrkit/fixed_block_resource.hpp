// SPDX-License-Identifier: MIT
#pragma once

#include "pmrkit/detail/asan.hpp"
#include "pmrkit/detail/bump_region.hpp"
#include "pmrkit/detail/chunk_list.hpp"
#include "pmrkit/detail/config.hpp"
#include "pmrkit/detail/free_list.hpp"
#include "pmrkit/detail/owned_ranges.hpp"
#include "pmrkit/detail/thread_check.hpp"
#include "pmrkit/detail/upstream_blocks.hpp"
#include "pmrkit/growth_policy.hpp"
#include "pmrkit/resource_stats.hpp"

#include <cstddef>
#include <limits>
#include <memory_resource>

namespace pmrkit {

/// Options of fixed_block_resource, for designated initializers; normalized by the constructor.
struct fixed_block_options {
    /// Raised to at least 16 bytes (room for a free block's link and its double-free mark) and
    /// rounded up to a multiple of block_alignment.
    std::size_t block_size = 64;
    /// A power of two (else the constructor throws std::invalid_argument). Raised to at least
    /// alignof(void*), and to the largest power of two dividing block_size up to
    /// alignof(std::max_align_t), since that alignment costs nothing.
    std::size_t block_alignment = alignof(std::max_align_t);
    /// Blocks in the first chunk; 0 picks as many as fill 4 KiB (at least one).
    std::size_t initial_blocks = 0;
    /// Blocks in each chunk after the first (growth_policy).
    growth_policy growth = growth_policy::exponential(2.0);
    /// Cap on capacity in blocks; past it, allocate throws std::bad_alloc.
    std::size_t max_blocks = std::numeric_limits<std::size_t>::max();
};

/// fixed_block_resource: a pool of blocks of one size, for programs that churn objects of one type
/// (entities, nodes, messages).
///
/// How: freed blocks go on an intrusive LIFO free list (the link lives in the free block, so
/// there is no per-block header); when it is empty, blocks are carved lazily from the newest chunk;
/// when that is used up, a chunk is taken from upstream, sized by the growth policy. The only
/// bookkeeping is a 24-byte footer per chunk (0.6% of the default 4 KiB first chunk).
///
/// Complexity: allocate and deallocate O(1); a new chunk costs one upstream call.
/// Requests that do not fit a block (bytes > block_size() or alignment > block_alignment()) are
/// passed to upstream with their exact size and alignment, recorded so release() can return them,
/// and counted (oversize_blocks()). An alignment that is not a power of two is served from the pool
/// when it is at most block_alignment() (a block aligned to a power of two is aligned to anything
/// smaller); otherwise allocate throws std::bad_alloc. Zero-byte requests get a distinct block.
/// Never returns null: exhaustion of max_blocks throws std::bad_alloc, and an exception from
/// upstream propagates unchanged; in both cases the resource stays usable and unchanged.
///
/// Safety: the free list's links are encoded and checked, and every free block carries a
/// double-free mark (see detail/free_list.hpp and docs/security.md): a use-after-free write into a
/// block's link or a double free of the block on top stops the program with a message.
/// Hardened builds (PMRKIT_HARDENED) check every free: besides the free list's checks, a pointer
/// that is not the start of a block of one of its chunks and was not passed through stops the
/// program with a report (per deallocate: O(1) in the newest chunk, O(log chunks) in the others).
///
/// Thread safety: none. One thread at a time may use an instance (use a synchronized or concurrent
/// resource for sharing).
///
/// Example:
///
///     pmrkit::fixed_block_resource pool({.block_size = sizeof(node), .initial_blocks = 1024});
///     std::pmr::list<int> list(&pool);   // every node comes from the pool
class fixed_block_resource final : public std::pmr::memory_resource {
public:
    /// Takes no memory: the first chunk is taken on first use.
    /// Throws std::invalid_argument if options.block_alignment is not a power of two, or
    /// std::bad_alloc if the block size overflows.
    explicit fixed_block_resource(
        const fixed_block_options& options = {},
        std::pmr::memory_resource* upstream = std::pmr::get_default_resource());
    /// Default options over `upstream`.
    explicit fixed_block_resource(std::pmr::memory_resource* upstream)
        : fixed_block_resource(fixed_block_options{}, upstream) {}

    fixed_block_resource(const fixed_block_resource&) = delete;
    fixed_block_resource& operator=(const fixed_block_resource&) = delete;

    /// Returns all memory to upstream, live blocks included.
    ~fixed_block_resource() override { release(); }

    /// Gives every chunk and every passed-through block back to upstream with the size and
    /// alignment it was taken with, and returns to the state right after construction (the next
    /// chunk is again options().initial_blocks). Blocks handed out before become invalid.
    void release() noexcept;

    /// Ensures capacity() >= blocks with at most one upstream call. Throws std::bad_alloc if that
    /// would pass max_blocks; upstream exceptions propagate; either way nothing changes.
    void reserve(std::size_t blocks);

    /// The resource chunks and passed-through blocks come from.
    [[nodiscard]] std::pmr::memory_resource* upstream_resource() const noexcept {
        return m_upstream;
    }
    /// The options after normalization (effective block size, alignment, first chunk).
    [[nodiscard]] const fixed_block_options& options() const noexcept { return m_options; }

    /// The effective block size: every block holds this many bytes.
    [[nodiscard]] std::size_t block_size() const noexcept { return m_block_size; }
    /// The effective alignment of every block.
    [[nodiscard]] std::size_t block_alignment() const noexcept { return m_block_alignment; }
    /// Blocks in all chunks taken so far.
    [[nodiscard]] std::size_t capacity() const noexcept { return m_capacity; }
    /// O(free blocks): it counts the free list, so that allocate and deallocate do not pay for a
    /// counter (a read-modify-write chained through every pair cost 8% on 64-byte churn).
    [[nodiscard]] std::size_t blocks_in_use() const noexcept { return m_peak - m_free.size(m_key); }
    /// Most blocks in use at once since construction or release().
    [[nodiscard]] std::size_t peak_blocks_in_use() const noexcept { return m_peak; }
    /// Chunks currently held from upstream.
    [[nodiscard]] std::size_t chunk_count() const noexcept { return m_chunks.count(); }
    /// Bytes currently held from upstream: chunks with their footers, plus passed-through blocks.
    [[nodiscard]] std::size_t upstream_bytes() const noexcept {
        return m_chunks.bytes() + m_oversize.bytes();
    }
    /// Passed-through (oversize or over-aligned) blocks currently live.
    [[nodiscard]] std::size_t oversize_blocks() const noexcept { return m_oversize.count(); }

    /// The snapshot in the common shape, O(free blocks) like blocks_in_use(). Bytes are whole
    /// blocks; pass-through blocks count in blocks_in_use and bytes_in_use, the peak is of pool
    /// blocks. The fast path counts nothing, so allocations, deallocations and served_locally are
    /// not known here (put a stats_resource above the pool for them); upstream calls are counted
    /// on the slow path since construction, release() included.
    [[nodiscard]] resource_stats stats() const noexcept;

private:
    [[nodiscard]] bool fits(std::size_t bytes, std::size_t alignment) const noexcept {
        return bytes <= m_block_size && alignment <= m_block_alignment;
    }

    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        PMRKIT_THREAD_CHECK(m_in_use, "fixed_block_resource");
        if (fits(bytes, alignment)) [[likely]] {
            if (void* block = m_free.pop(m_key, detail::pool_mark_at)) [[likely]] {
                detail::asan_unpoison(block, m_block_size);
                return block;
            }
        }
        return allocate_slow(bytes, alignment);
    }

    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        PMRKIT_THREAD_CHECK(m_in_use, "fixed_block_resource");
        if (fits(bytes, alignment)) [[likely]] {
            m_owned.check_block(p, m_block_size);
            detail::asan_poison(p, m_block_size);
            m_free.push(p, m_key, detail::pool_mark_at);
            return;
        }
        m_oversize.deallocate(p, bytes, alignment);
    }

    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

    PMRKIT_NOINLINE void* allocate_slow(std::size_t bytes, std::size_t alignment);
    void add_chunk(std::size_t blocks);
    // The next never-used block of the newest chunk, unmarked (free_list::unmark), or nullptr.
    void* take_fresh() noexcept;

    // Fast-path fields first, so that they share one cache line.
    detail::free_list m_free;
    std::size_t m_block_size;
    std::size_t m_block_alignment;
    detail::free_list_key m_key; // of m_free and m_spare, see free_list.hpp

    // Never-used blocks: the newest chunk's uncarved tail, and tails that reserve() set aside.
    // Blocks are only taken from here when m_free is empty, so the number taken is the peak, and
    // every block taken is either in use or on m_free.
    detail::bump_region m_region;
    detail::free_list m_spare;
    std::size_t m_peak = 0;
    std::size_t m_capacity = 0;
    std::size_t m_last_chunk_blocks = 0;
    detail::chunk_list m_chunks;
    detail::upstream_blocks m_oversize;
    [[no_unique_address]] detail::pool_ranges m_owned; // hardened builds: the chunks' blocks
    std::pmr::memory_resource* m_upstream;
    fixed_block_options m_options;
    detail::entry_flag m_in_use; // concurrent-use detection, see thread_check.hpp
};

} // namespace pmrkit
