// SPDX-License-Identifier: MIT
// transfer_cache: whole batches of freed blocks parked per class, between a thread cache whose bin
// overflowed and one whose bin runs empty, so that a refill takes a batch in O(1) without touching
// the heap's spans (producer/consumer threads pass blocks this way). Batches stay whole: each is
// one free list of the class's batch size, linked with its heap's key.
//
// Thread-safe, with one lock per class that covers a few stores: threads moving batches of
// different classes do not wait for each other, nor for the heap's lock. (Behind the heap's lock,
// with 4 batches per class, 16 threads passing blocks Larson's way took that one lock once per
// 100 operations, three times in four for per-block work in the heap.) How many batches a class
// keeps is set at run time (set_capacity), so that it can follow the number of threads.
#pragma once

#include "pmrkit/detail/free_list.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>

namespace pmrkit::detail {

template <std::size_t Classes, std::size_t MaxBatches>
class transfer_cache {
public:
    // Each class keeps up to `batches` from now on, clamped to [1, MaxBatches]; a class holding
    // more keeps them until they are taken.
    void set_capacity(std::size_t batches) noexcept {
        m_capacity.store(std::clamp<std::size_t>(batches, 1, MaxBatches),
                         std::memory_order_relaxed);
    }
    // Parks batch unless class c already holds its capacity.
    [[nodiscard]] bool park(std::size_t c, const free_list& batch) noexcept {
        shelf& s = m_shelves[c];
        const std::lock_guard lock(s.mutex);
        if (s.count >= m_capacity.load(std::memory_order_relaxed)) {
            return false;
        }
        s.batches[s.count++] = batch;
        return true;
    }
    // Takes a parked batch of class c into batch, if there is one.
    [[nodiscard]] bool take(std::size_t c, free_list& batch) noexcept {
        shelf& s = m_shelves[c];
        const std::lock_guard lock(s.mutex);
        if (s.count == 0) {
            return false;
        }
        batch = s.batches[--s.count];
        return true;
    }
    [[nodiscard]] std::size_t batches(std::size_t c) const noexcept {
        shelf& s = m_shelves[c];
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
        for (std::size_t c = 0; c < Classes; ++c) {
            shelf& s = m_shelves[c];
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
    // On the heap: a few hundred bytes per class would make the pool object itself large.
    std::unique_ptr<shelf[]> m_shelves = std::make_unique<shelf[]>(Classes);
    std::atomic<std::size_t> m_capacity{1};
};

} // namespace pmrkit::detail
