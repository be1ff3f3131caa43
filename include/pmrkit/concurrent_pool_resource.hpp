// SPDX-License-Identifier: MIT
#pragma once

#include "pmrkit/detail/cache_registry.hpp"
#include "pmrkit/detail/config.hpp"
#include "pmrkit/detail/thread_cache.hpp"
#include "pmrkit/detail/transfer_cache.hpp"
#include "pmrkit/engine/size_class_heap.hpp"
#include "pmrkit/resource_stats.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <memory_resource>
#include <vector>

namespace pmrkit {

/// Options of concurrent_pool_resource, for designated initializers; normalized by the constructor.
struct concurrent_pool_options {
    /// The central pool's options (class range, empty-span retention, large-block cache).
    size_class_options central{};
    /// Bytes of blocks one batch moves between a thread's cache and the central pool, per class
    /// (at least concurrent_pool_resource::min_batch and at most max_batch blocks). A bin holds up
    /// to two batches before it gives one back.
    std::size_t batch_bytes = 16 * 1024;
};

/// concurrent_pool_resource: a size-class pool that many threads use at once, for servers and
/// parallel code sharing one resource.
///
/// How: a central size-class heap (engine/size_class_heap.hpp) behind a mutex holds the spans (the
/// same engine, classes, spans and large-block cache as size_class_resource). Each thread that uses
/// the pool gets its own cache with one free list per class; allocate pops from it and deallocate
/// pushes onto it, with no lock and no atomic read-modify-write. A bin past two batches gives one
/// batch back; batches given back are kept whole, as chains of free blocks, per class (tcmalloc's
/// transfer cache), up to transfer_batches per class. An empty bin takes one of them in O(1) under
/// a lock of its class alone, else blocks from the central pool under the central lock, as one
/// batch move of the heap: a bin's first such refill takes cache::first_take blocks, and each next
/// one twice as many, up to a batch (tcmalloc's slow start), so that a thread, or a pool made for
/// one short task, that needs a few blocks of a class does not carve a batch of them. The chain is
/// cut from the bin before a lock is taken, so a class's lock covers a few stores, not a walk; only
/// a class that has all the batches it keeps sends blocks back into the central pool's spans.
/// Threads moving blocks of different classes take no common lock.
///
/// Cross-thread frees (tcmalloc style): a block freed by a thread other than the one that took it
/// simply enters the freeing thread's cache, and travels back in a batch when that bin overflows,
/// to be taken whole by the thread that allocates (the producer/consumer pattern of Larson). The
/// alternative (mimalloc style: push onto the owner's atomic remote list) costs an atomic exchange
/// per remote free and a per-span owner; here a free is a push whichever thread frees, and blocks
/// only meet the central pool, under its lock, in batches.
///
/// Lifetimes: a thread's cache is found through a per-thread table keyed by the instance's id
/// (never reused, so a stale entry never matches). When a thread exits, its caches go back to the
/// central pools of the instances still alive; when an instance is destroyed or released, every
/// thread's cache of it is emptied (a thread that exits later finds the instance gone and does
/// nothing). Instances coexist, each with its own caches.
///
/// Requests too large for the classes (above options().central.max_pooled_size) or over-aligned
/// beyond them go to the central pool's large-block cache under the lock, exactly as in
/// size_class_resource. Impossible sizes throw std::bad_alloc; upstream exceptions propagate.
///
/// Complexity: allocate and deallocate O(1); one lock per batch (per up to batch_bytes bytes) on
/// the slow path once a bin has started (its first 255 blocks of a class take 8 central locks),
/// O(1) under it while the class's transfer batches neither run out nor overflow.
/// Memory: besides the threads' bins (up to two batches per class each), up to transfer_batches
/// batches per class in transit, which trim() gives back. From operator new: the instance's control
/// block, each thread's first use its cache (about 3 KiB), the first batch a bin gives back the
/// transfer shelves (about 29 KiB; a pool made for a short task may never need them).
///
/// Safety: the caches' and transfer batches' free lists are protected as size_class_resource's are
/// (encoded links, a double-free mark; see detail/free_list.hpp and docs/security.md), with the
/// central heap's key, so that batches move whole; a double free is caught while the block is
/// still in the freeing thread's bin.
/// Hardened builds (PMRKIT_HARDENED): the caches' free lists add their hardened checks,
/// and every deallocate first asks the central pool whether the pointer is one of its blocks (see
/// size_class_resource; a lookup that takes no lock, then the lock only to confirm a miss), so a
/// foreign pointer stops the program before it can enter a cache.
///
/// Thread safety: allocate and deallocate from any number of threads at once; upstream is only
/// ever called under the central lock, so it need not be thread-safe. release(), trim(),
/// cached_blocks() and destruction require that no other thread is using the instance at the same
/// time; stats(), upstream_bytes() and thread_caches() may be called at any time.
///
/// Example:
///
///     pmrkit::concurrent_pool_resource pool;     // over the default resource
///     // any thread: std::pmr::vector<int> v(&pool); ...
class concurrent_pool_resource final : public std::pmr::memory_resource {
public:
    /// size_class_resource's class map: every 8 bytes from 16 to 128, 4 classes per power of two to
    /// 64 KiB.
    using classes = detail::default_size_classes;
    /// One route per detail::route_granule bytes up to detail::small_block_limit: the fast
    /// paths' whole class mapping (classes::table.routes).
    static constexpr std::size_t routes = detail::route_count;
    static_assert(classes::lookup_limit >= detail::small_block_limit, "the routes' classes");
    /// A thread's cache of this pool: one free list per class, reached through the routes.
    using cache = detail::thread_cache<classes::count, routes>;
    /// Whole batches kept per class between a bin that gave one back and a bin that takes one:
    /// in transit, up to 64 of the class's batches (1 MiB at the default batch_bytes; above
    /// 8 KiB a batch is min_batch blocks, so 4 MiB for the 32 KiB class). A batch past them goes
    /// through the central lock block by block. Two threads passing 10,000 blocks a round
    /// Larson's way (W6c, 2 cores, with the pop's prefetch) overflowed the largest classes'
    /// shelves below 64: with 16, 56 sleeps on the central lock a round and 1.44 ms a round;
    /// with 32, 29 batches a round through the central pool and 0.80 ms; with 64, none and
    /// 0.70 ms (16 threads on 2 cores: 0.75% of batches). With 4, W6b at two threads took the
    /// central lock once per 2,000 to 11,000 operations (16: once per 500,000).
    static constexpr std::size_t transfer_batches = 64;
    ///@{
    /// The blocks of one batch: concurrent_pool_options::batch_bytes of them, within these bounds.
    static constexpr std::size_t min_batch = 2;
    static constexpr std::size_t max_batch = 256;
    ///@}

    /// Takes no memory from upstream. Throws std::bad_alloc only if the shared control block
    /// cannot be made.
    explicit concurrent_pool_resource(
        const concurrent_pool_options& options = {},
        std::pmr::memory_resource* upstream = std::pmr::get_default_resource())
        : concurrent_pool_resource(classes::table, options, upstream) {}
    /// Default options over `upstream`.
    explicit concurrent_pool_resource(std::pmr::memory_resource* upstream)
        : concurrent_pool_resource(concurrent_pool_options{}, upstream) {}

    concurrent_pool_resource(const concurrent_pool_resource&) = delete;
    concurrent_pool_resource& operator=(const concurrent_pool_resource&) = delete;

    /// Returns all memory to upstream, live blocks and every thread's cache included.
    ~concurrent_pool_resource() override;

    /// Gives everything back to upstream and empties every thread's cache. Blocks handed out
    /// before become invalid.
    void release() noexcept;
    /// Moves every thread's cached blocks to the central pool and gives its empty spans back.
    void trim() noexcept;

    /// The resource the central pool's spans and large blocks come from.
    [[nodiscard]] std::pmr::memory_resource* upstream_resource() const noexcept {
        return m_upstream;
    }
    /// The options after normalization.
    [[nodiscard]] const concurrent_pool_options& options() const noexcept { return m_options; }

    /// Bytes held from upstream now.
    [[nodiscard]] std::size_t upstream_bytes() const;
    /// Threads holding a cache of this instance now.
    [[nodiscard]] std::size_t thread_caches() const;
    /// Blocks in all threads' caches and in transfer batches now. Not while other threads use the
    /// instance.
    [[nodiscard]] std::size_t cached_blocks() const;

    /// upstream_bytes only: the fast path counts nothing.
    [[nodiscard]] resource_stats stats() const;

private:
    friend class synchronized_pool_resource;

    // table: the default classes with spans of their own size (detail::capped_class_table), which
    // must outlive the instance; synchronized_pool_resource's max_blocks_per_chunk.
    concurrent_pool_resource(const detail::class_table& table,
                             const concurrent_pool_options& options,
                             std::pmr::memory_resource* upstream);

    [[nodiscard]] static std::size_t last_byte(std::size_t bytes, std::size_t alignment) noexcept {
        return (bytes - 1) | (alignment - 1);
    }

    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        const std::size_t last = last_byte(bytes, alignment);
        const detail::cache_slots::slot& s = detail::cache_slots::at(m_slot_offset);
        if (last < detail::small_block_limit && s.id == m_id) [[likely]] {
            auto* tc = static_cast<cache*>(s.cache);
            if (void* p = tc->pop_routed(last / detail::route_granule)) [[likely]] {
                return p;
            }
        }
        return allocate_slow(bytes, alignment);
    }

    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        const std::size_t last = last_byte(bytes, alignment);
        const detail::cache_slots::slot& s = detail::cache_slots::at(m_slot_offset);
        if (last < detail::small_block_limit && s.id == m_id) [[likely]] {
            auto* tc = static_cast<cache*>(s.cache);
            if constexpr (detail::hardened_build) {
                const std::size_t c = classes::index_above(last);
                if (!m_central.holds_block(p, c)) [[unlikely]] {
                    confirm_and_push(*tc, c, p);
                    return;
                }
            }
            if (!tc->try_push_routed(last / detail::route_granule, p)) [[unlikely]] {
                push_and_flush(*tc, classes::index_above(last), p);
            }
            return;
        }
        deallocate_slow(p, bytes, alignment);
    }

    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

    PMRKIT_NOINLINE void* allocate_slow(std::size_t bytes, std::size_t alignment);
    PMRKIT_NOINLINE void deallocate_slow(void* p, std::size_t bytes,
                                         std::size_t alignment) noexcept;
    PMRKIT_NOINLINE void flush(cache& tc, std::size_t c) noexcept;
    // A bin past its limit (try_push_routed counted p): p goes in, then a batch goes out.
    PMRKIT_NOINLINE void push_and_flush(cache& tc, std::size_t c, void* p) noexcept;
    // Hardened builds: before a block enters a cache, from which it could be handed out again,
    // the central pool checks that it is one of its class-c blocks, without the lock
    // (holds_block, then holds_smaller_block). A miss is either a pointer the pool did not hand
    // out or a span moving in the set as another thread changes it: the same check under the
    // lock tells them apart.
    void confirm_foreign(const void* p, std::size_t c) const noexcept;
    // A miss on the fast path (a block of a class's smaller first spans, or a foreign pointer):
    // looks in the smaller spans, confirms a miss there, then caches p. Out of line and whole,
    // so that the fast path ends in it and saves no register.
    PMRKIT_NOINLINE void confirm_and_push(cache& tc, std::size_t c, void* p) noexcept;
    // p goes into its bin, then, if the bin is past its limit, a batch goes out.
    void cache_block(cache& tc, std::size_t c, void* p) noexcept;
    // This thread's cache, made and registered on first use.
    cache& thread_cache();
    void* refill(cache& tc, std::size_t c);
    // With the lock held: gives every block of a thread's cache back to the central pool.
    void give_back_locked(cache& tc) noexcept;
    // With the lock held: a thread has exited; its cache goes back and is deleted.
    void retire_locked(cache* tc) noexcept;
    void drain_all_locked() noexcept;

    std::uint64_t m_id;
    std::size_t m_slot_offset; // detail::cache_slots::offset_of(m_id)
    // Shared with the threads that hold a cache; its mutex is the central lock.
    std::shared_ptr<detail::cache_owner> m_owner;
    concurrent_pool_options m_options;
    std::pmr::memory_resource* m_upstream;
    detail::size_class_heap m_central; // guarded by m_owner->mutex
    std::vector<cache*> m_caches;      // guarded by m_owner->mutex; owned
    std::array<std::uint32_t, classes::count> m_batch{};
    // Batches of m_batch[c] blocks; thread-safe by itself, with a lock per class.
    detail::transfer_cache<classes::count, transfer_batches> m_transfer;
};

} // namespace pmrkit
