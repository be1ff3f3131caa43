// SPDX-License-Identifier: MIT
// Per-thread caches of free blocks, one bin per size class, and the per-thread table that finds a
// thread's cache for a given pool instance.
//
// A thread_cache is touched by one thread only (its owner), so a bin is a plain intrusive free
// list and a count: no lock, no atomic. Its lists are linked with its pool's key, so that whole
// lists move between the pool and its caches. The bin reports when it has grown past its limit so
// that the pool can move a batch back to its central pool.
//
// cache_slots: every thread has a small direct-mapped table from an instance id to that instance's
// cache for the thread. Ids come from one global counter and are never reused, so a slot left
// behind by a destroyed instance can never match a later one: the fast path needs no liveness
// check, only `slot.id == id`. The table is constant-initialized and trivially destructible, so
// reaching it is a plain TLS access with no initialization guard.
#pragma once

#include "pmrkit/detail/config.hpp"
#include "pmrkit/detail/free_list.hpp"
#include "pmrkit/detail/size_classes.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <new>

namespace pmrkit::detail {

// Routes: a pool may map each of its request granules to a bin once (set_routes), so that its fast
// paths reach the bin with one load from the cache instead of a class lookup, a scaling and an
// add (two instructions fewer per call, and one load less on the dependency chain).
//
// A cache is one thread's, but other threads' data may lie next to it: padded at both ends, it
// shares no cache line with them, yet is allocated with the fundamental alignment. (Declared
// alignas(64), it was an aligned request, which glibc serves by splitting a larger chunk and
// freeing its small ends; their consolidation at the next large request was 5% of a pool made
// per request, W5s.)
template <std::size_t Classes, std::size_t Routes = 0>
class thread_cache {
public:
    explicit thread_cache(const free_list_key& key) noexcept : m_key(key) {}
    // Routes point into the cache itself.
    thread_cache(const thread_cache&) = delete;
    thread_cache& operator=(const thread_cache&) = delete;

    // Requests of route r go to bin routes[r], for the Routes entries of `routes`. Precondition
    // of the routed calls: set_routes has been called.
    void set_routes(const std::uint8_t* routes) noexcept {
        point_routes(routes, m_bins.data(), m_routes);
    }
    [[nodiscard]] void* pop_routed(std::size_t r) noexcept { return pop(*m_routes[r]); }
    // Counts p into route r's bin and caches it there, unless that takes the bin past its limit:
    // then returns false with p counted but not cached (the caller caches it with push_counted()
    // and flushes). Testing before the push lets the push end the caller (its rare double-free
    // walk a tail call), so the fast path saves no register.
    [[nodiscard]] bool try_push_routed(std::size_t r, void* p) noexcept {
        bin& b = *m_routes[r];
        if (--b.room < 0) [[unlikely]] {
            return false;
        }
        b.blocks.push(p, m_key, pool_mark_at);
        return true;
    }
    // Caches p, counted by a try_push_routed that returned false, in its bin c.
    void push_counted(std::size_t c, void* p) noexcept {
        m_bins[c].blocks.push(p, m_key, pool_mark_at);
    }

    // Bin c holds at most limit blocks before push() reports it full. Set before the bin is used.
    void set_limit(std::size_t c, std::uint32_t limit) noexcept {
        bin& b = m_bins[c];
        b.room = static_cast<std::int32_t>(limit) - static_cast<std::int32_t>(count(c));
        b.limit = static_cast<std::int32_t>(limit);
    }

    // A cached block of class c, or nullptr.
    [[nodiscard]] void* pop(std::size_t c) noexcept { return pop(m_bins[c]); }

    // Caches a block of class c; true when the bin now holds more than its limit.
    [[nodiscard]] bool push(std::size_t c, void* p) noexcept { return push(m_bins[c], p); }

    // Detaches the n most recently cached blocks of class c. Precondition: n <= count(c).
    [[nodiscard]] free_list take(std::size_t c, std::uint32_t n) noexcept {
        bin& b = m_bins[c];
        b.room += static_cast<std::int32_t>(n);
        return b.blocks.split_front(n, m_key, pool_mark_at);
    }

    // Detaches every cached block of class c.
    [[nodiscard]] free_list take_all(std::size_t c) noexcept {
        bin& b = m_bins[c];
        const free_list blocks = b.blocks;
        b.blocks.clear();
        b.room = b.limit;
        return blocks;
    }

    // Caches n blocks of class c at once. Precondition: bin c is empty and n <= limit(c).
    void give(std::size_t c, free_list blocks, std::uint32_t n) noexcept {
        bin& b = m_bins[c];
        b.blocks = blocks;
        b.room -= static_cast<std::int32_t>(n);
    }

    // How many blocks bin c's next refill from its central pool takes: first_take at the first,
    // doubled at each refill until `batch` (tcmalloc's slow start), so that a thread, or a pool
    // made for one short task, that needs a few blocks of a class carves a few, not a batch.
    // Precondition: batch <= 2^31 (the doublings stop at 31).
    [[nodiscard]] std::uint32_t next_take(std::size_t c, std::uint32_t batch) noexcept {
        assert(batch <= std::uint32_t{1} << 31);
        std::uint8_t& doublings = m_doublings[c];
        const std::uint32_t n = std::min(batch, first_take << doublings);
        if (n < batch) {
            ++doublings;
        }
        return n;
    }
    // One block, not a few: a pool made per request (W5f) that took 4 blocks of each class it
    // touched held enough more that glibc trimmed its heap after each pool and the next one
    // faulted 17-25 pages back in.
    static constexpr std::uint32_t first_take = 1;

    [[nodiscard]] std::size_t count(std::size_t c) const noexcept {
        return static_cast<std::size_t>(m_bins[c].limit - m_bins[c].room);
    }
    [[nodiscard]] std::size_t limit(std::size_t c) const noexcept {
        return static_cast<std::size_t>(m_bins[c].limit);
    }

    // Forgets every cached block (their memory is gone or handed elsewhere); refills start slow
    // again.
    void clear() noexcept {
        for (std::size_t c = 0; c < Classes; ++c) {
            (void)take_all(c);
        }
        m_doublings = {};
    }

private:
    struct bin {
        free_list blocks;
        std::int32_t room = 0; // blocks it takes before it is at its limit: limit - count
        std::int32_t limit = 0;
    };

    void* pop(bin& b) noexcept {
        void* p = b.blocks.pop(m_key, pool_mark_at);
        if (p != nullptr) [[likely]] {
            ++b.room;
        }
        // The next pop reads that block's link: a block another thread freed (a batch it gave
        // back) is a miss, and each pop's address comes from the miss before it. Started now, the
        // miss overlaps the caller's work with this block: W6c (Larson) at two threads, with 64
        // transfer batches per class, 0.80 to 0.70 ms a round, for three instructions. Not for a
        // null head: a prefetch of address 0 walks the page tables each time (W6a, whose bins run
        // empty, took 2.7 times as long).
        if (void* next = b.blocks.front(); next != nullptr) {
            PMRKIT_PREFETCH(next);
        }
        return p;
    }
    // Counting down the room left, not up to the limit, makes the test the sign of the decrement.
    bool push(bin& b, void* p) noexcept {
        b.blocks.push(p, m_key, pool_mark_at);
        return --b.room < 0;
    }

    static constexpr std::size_t line_bytes = 64;
    [[maybe_unused]] std::array<std::byte, line_bytes> m_pad_front;
    free_list_key m_key;
    std::array<bin, Classes> m_bins{};
    // Set by set_routes; not zeroed first (that was a tenth of a new cache's set-up).
    std::array<bin*, Routes> m_routes;
    std::array<std::uint8_t, Classes> m_doublings{}; // of next_take, per bin
    [[maybe_unused]] std::array<std::byte, line_bytes> m_pad_back;
};

// The calling thread's direct-mapped table: instance id -> that instance's cache for this thread.
// Invariant: a slot whose id is set has a cache (the fast path tests the id only).
struct cache_slots {
    static constexpr std::size_t size = 8;
    struct slot {
        std::uint64_t id = 0; // 0: empty (ids start at 1)
        void* cache = nullptr;
    };
    std::array<slot, size> slots{};

    // Byte offset of id's slot in the table: an instance keeps it, so that finding its slot is an
    // add to the table's address rather than a mask and a multiply on every call.
    [[nodiscard]] static constexpr std::size_t offset_of(std::uint64_t id) noexcept {
        return static_cast<std::size_t>(id & (size - 1)) * sizeof(slot);
    }
    [[nodiscard]] static slot& at(std::size_t offset) noexcept;
    [[nodiscard]] static slot& of(std::uint64_t id) noexcept { return at(offset_of(id)); }
};

// initial-exec: in position-independent code (pmrkit is built with -fPIC) the default model reaches
// a thread_local through a call to __tls_get_addr, and that call made GCC save six registers in
// the fast paths; initial-exec is one %fs-relative load. Its cost: a shared library holding it
// must be loaded at program start (or fit glibc's small static-TLS surplus when dlopen()ed).
inline constinit thread_local cache_slots t_cache_slots PMRKIT_TLS_INITIAL_EXEC PMRKIT_VISIBLE{};

inline cache_slots::slot& cache_slots::at(std::size_t offset) noexcept {
    auto* table = reinterpret_cast<unsigned char*>(t_cache_slots.slots.data());
    return *std::launder(reinterpret_cast<slot*>(table + offset));
}

} // namespace pmrkit::detail
