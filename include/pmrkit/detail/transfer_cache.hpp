// SPDX-License-Identifier: MIT
// transfer_cache: whole batches of freed blocks parked per class, between a thread cache whose bin
// overflowed and one whose bin runs empty, so that a refill takes a batch in O(1) without touching
// the heap's spans (producer/consumer threads pass blocks this way). Batches stay whole: each is
// one free list of the class's batch size, linked with its heap's key.
//
// Thread-safe, with one lock per class that covers a few stores: threads moving batches of
// different classes do not wait for each other, nor for the heap's lock. (Behind the heap's lock,
// with 4 batches per class, 16 threads passing blocks Larson's way took that one lock once per
// 100 operations, three times in four for per-block work in the heap.) Each class keeps up to
// MaxBatches; a batch past them goes back to the caller (and from there into the heap).
#pragma once

#include "pmrkit/detail/free_list.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <mutex>
#include <new>

namespace pmrkit::detail {

template <std::size_t Classes, std::size_t MaxBatches>
class transfer_cache {
public:
    transfer_cache() = default;
    transfer_cache(const transfer_cache&) = delete;
    transfer_cache& operator=(const transfer_cache&) = delete;
    ~transfer_cache() { delete[] m_shelves.load(std::memory_order_relaxed); }

    // Parks batch unless class c already holds MaxBatches (or no memory for the shelves).
    [[nodiscard]] bool park(std::size_t c, const free_list& batch) noexcept {
        shelf* const all = shelves();
        if (all == nullptr) [[unlikely]] {
            return false;
        }
        shelf& s = all[c];
        const std::lock_guard lock(s.mutex);
        if (s.count == MaxBatches) {
            return false;
        }
        s.batches[s.count++] = batch;
        return true;
    }
    // Takes a parked batch of class c into batch, if there is one.
    [[nodiscard]] bool take(std::size_t c, free_list& batch) noexcept {
        shelf* const all = m_shelves.load(std::memory_order_acquire);
        if (all == nullptr) {
            return false;
        }
        shelf& s = all[c];
        const std::lock_guard lock(s.mutex);
        if (s.count == 0) {
            return false;
        }
        batch = s.batches[--s.count];
        return true;
    }
    [[nodiscard]] std::size_t batches(std::size_t c) const noexcept {
        shelf* const all = m_shelves.load(std::memory_order_acquire);
        if (all == nullptr) {
            return 0;
        }
        shelf& s = all[c];
        const std::lock_guard lock(s.mutex);
        return s.count;
    }
    // Hands every parked batch to give(c, batch) and forgets it.
    template <class Give>
    void drain(Give&& give) noexcept {
        for (std::size_t c = 0; c < Classes; ++c) {
            free_list batch;
            while (take(c, batch)) {
                give(c, batch);
            }
        }
    }
    // Forgets every batch (their memory went back with the heap's spans).
    void clear() noexcept {
        shelf* const all = m_shelves.load(std::memory_order_acquire);
        for (std::size_t c = 0; all != nullptr && c < Classes; ++c) {
            shelf& s = all[c];
            const std::lock_guard lock(s.mutex);
            s.count = 0;
        }
    }

private:
    // A cache line of its own per class, so that two classes' locks do not share one.
    struct alignas(64) shelf {
        std::mutex mutex;
        std::size_t count = 0;
        std::array<free_list, MaxBatches> batches{};
    };
    // The shelves, made by the first park: a pool that never parks a batch (one made for a short
    // task) neither allocates nor clears them (about 29 KiB for the default classes; at 17 KiB,
    // 0.2 of the 0.8 us that constructing and destroying a concurrent pool took). A thread that
    // loses the race to install them frees its own.
    shelf* shelves() noexcept {
        shelf* all = m_shelves.load(std::memory_order_acquire);
        if (all != nullptr) [[likely]] {
            return all;
        }
        auto* made = new (std::nothrow) shelf[Classes];
        if (made == nullptr) {
            return nullptr;
        }
        if (m_shelves.compare_exchange_strong(all, made, std::memory_order_acq_rel,
                                              std::memory_order_acquire)) {
            return made;
        }
        delete[] made;
        return all;
    }

    // On the heap: a few hundred bytes per class would make the pool object itself large.
    std::atomic<shelf*> m_shelves{nullptr}; // owned
};

} // namespace pmrkit::detail
