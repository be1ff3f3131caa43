// SPDX-License-Identifier: MIT
// pmrkit::synchronized_pool_resource against the standard's specification (C++20 [mem.res.pool]).
// Every sentence it shares with unsynchronized_pool_resource is checked over both classes in
// unsynchronized_pool_resource.cpp (its checklist, test cases "std pools: ..."); this file checks
// the sentence that is the synchronized pool's own:
//
// [mem.res.pool.overview]
//   [x] may be accessed from multiple threads without external synchronization, may have
//       thread-specific pools .......................................... "threads", "cross-thread"
//   [x] upstream is only called under the pool's lock (a pmrkit promise) .... "threads"
//   [x] release() after the threads are done gives everything back ......... "threads"
// Plus the conformance suite (conformance.cpp) over std_sync_* fixtures, and the tsan preset.
#include "pmrkit/synchronized_pool_resource.hpp"

#include "support/call_log.hpp"
#include "support/patterned_block.hpp"
#include "support/seed.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

namespace pmrkit::test {

TEST_CASE("std synchronized pool: threads share one pool without external synchronization") {
    PMRKIT_SEEDED(seed);
    call_log log;
    std::atomic<bool> all_intact{true};
    {
        synchronized_pool_resource pool({.max_blocks_per_chunk = 32}, &log);
        std::vector<std::thread> threads;
        for (std::uint64_t t = 0; t < 4; ++t) {
            threads.emplace_back([&pool, &all_intact, seed, t] {
                std::mt19937_64 rng(seed + t);
                std::vector<patterned_block> live;
                std::uint64_t tag = 0;
                for (int op = 0; op < 20000; ++op) {
                    if (live.empty() || rng() % 100 < 55) {
                        const auto bytes =
                            static_cast<std::size_t>(rng() % 3 == 0 ? rng() % 5000 : rng() % 200);
                        const std::size_t alignment = std::size_t{1} << (rng() % 7);
                        const patterned_block b{
                            static_cast<std::byte*>(pool.allocate(bytes, alignment)), bytes,
                            alignment, (t << 32) + ++tag};
                        b.fill();
                        live.push_back(b);
                    } else {
                        const auto i = static_cast<std::size_t>(rng() % live.size());
                        if (live[i].first_change() != live[i].bytes) {
                            all_intact = false;
                        }
                        pool.deallocate(live[i].p, live[i].bytes, live[i].alignment);
                        live[i] = live.back();
                        live.pop_back();
                    }
                }
                for (const patterned_block& b : live) {
                    pool.deallocate(b.p, b.bytes, b.alignment);
                }
            });
        }
        for (std::thread& t : threads) {
            t.join();
        }
        CHECK(all_intact);
        pool.release();
        CHECK(log.checker().live_blocks() == 0);
    }
}

TEST_CASE("std synchronized pool: blocks freed by another thread than the one that took them") {
    call_log log;
    synchronized_pool_resource pool(&log);
    constexpr int count = 50000;
    std::vector<void*> handed(count);
    std::thread producer([&] {
        for (int i = 0; i < count; ++i) {
            handed[static_cast<std::size_t>(i)] = pool.allocate(64, 16);
            std::memset(handed[static_cast<std::size_t>(i)], i & 0xff, 64);
        }
    });
    producer.join();
    std::thread consumer([&] {
        for (int i = 0; i < count; ++i) {
            pool.deallocate(handed[static_cast<std::size_t>(i)], 64, 16);
        }
    });
    consumer.join();
    // Freed by the consumer, served again without taking more from upstream.
    const std::size_t calls = log.allocations().size();
    std::thread again([&] {
        for (int i = 0; i < count; ++i) {
            handed[static_cast<std::size_t>(i)] = pool.allocate(64, 16);
        }
        for (void* p : handed) {
            pool.deallocate(p, 64, 16);
        }
    });
    again.join();
    CHECK(log.allocations().size() == calls);
}

} // namespace pmrkit::test
