// SPDX-License-Identifier: MIT
// transfer_cache: whole batches of freed blocks parked per class, between a thread cache whose bin
// overflowed and one whose bin runs empty, so that a refill takes a batch in O(1) without touching
// the heap's spans (producer/consumer threads pass blocks this way). Batches stay whole: each is
// one free list of the class's batch size, linked with its heap's key. Not thread-safe: the
// owner's lock guards it.
#pragma once

#include "pmrkit/detail/free_list.hpp"

#include <array>
#include <cstddef>

namespace pmrkit::detail {

template <std::size_t Classes, std::size_t Batches>
class transfer_cache {
public:
    // Parks batch unless class c already holds Batches of them.
    [[nodiscard]] bool park(std::size_t c, const free_list& batch) noexcept {
        shelf& s = m_shelves[c];
        if (s.count == Batches) {
            return false;
        }
        s.batches[s.count++] = batch;
        return true;
    }
    // Takes a parked batch of class c into batch, if there is one.
    [[nodiscard]] bool take(std::size_t c, free_list& batch) noexcept {
        shelf& s = m_shelves[c];
        if (s.count == 0) {
            return false;
        }
        batch = s.batches[--s.count];
        return true;
    }
    [[nodiscard]] std::size_t batches(std::size_t c) const noexcept { return m_shelves[c].count; }
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
    void clear() noexcept { m_shelves = {}; }

private:
    struct shelf {
        std::array<free_list, Batches> batches{};
        std::size_t count = 0;
    };
    std::array<shelf, Classes> m_shelves{};
};

} // namespace pmrkit::detail
