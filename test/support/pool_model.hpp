// SPDX-License-Identifier: MIT
// The seeded model test of a size-class pool (size_class_resource, aligned_pool_resource): random
// allocations of any alignment up to 4096 and frees, with trim() and release() in the middle,
// checked against a live_blocks model and the upstream's own counts after every step.
#pragma once

#include "support/checking_resource.hpp"
#include "support/live_blocks.hpp"
#include "support/random_size.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <random>

namespace pmrkit::test {

// Runs `ops` random steps on `pool` (built over `upstream`); `on_allocate(block, bytes)` sees
// every new block, and `blocks_in_use(pool)` is compared with the model every 1000 steps.
template <class Pool, class OnAllocate, class BlocksInUse>
void run_pool_model(Pool& pool, checking_resource& upstream, std::mt19937_64& rng,
                    const size_bands& bands, int ops, OnAllocate on_allocate,
                    BlocksInUse blocks_in_use) {
    live_blocks live(pool);
    for (int op = 0; op < ops; ++op) {
        const int pick = std::uniform_int_distribution<int>(0, 999)(rng);
        if (pick < 2) {
            pool.trim();
        } else if (pick < 3) {
            live.forget_all();
            pool.release();
            CHECK(upstream.live_blocks() == 0);
        } else if (live.empty() || pick < 560) {
            const std::size_t alignment = std::size_t{1}
                                          << std::uniform_int_distribution<int>(0, 12)(rng);
            const std::size_t bytes = random_size(rng, bands);
            on_allocate(live.allocate(bytes, alignment), bytes);
        } else {
            live.free_random(rng);
        }
        REQUIRE(pool.upstream_bytes() == upstream.live_bytes());
        if (op % 1000 == 0) {
            CHECK(blocks_in_use(pool) == live.size());
        }
    }
    live.check_all();
    live.free_all_shuffled(rng);
    CHECK(blocks_in_use(pool) == 0);
    pool.trim();
    CHECK(pool.upstream_bytes() == 0);
    CHECK(upstream.live_blocks() == 0);
}

} // namespace pmrkit::test
