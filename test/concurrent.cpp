// SPDX-License-Identifier: MIT
// The thread-safe resources under threads: producer/consumer stress with cross-thread frees
// (pattern checks catch a block handed out twice, a counting upstream catches a block lost),
// thread exit while the pool lives, the pool destroyed while threads that used it live, and
// several pools in the same threads. Seeded; each test runs a bounded number of operations.
#include "pmrkit/concurrent_arena_resource.hpp"
#include "pmrkit/concurrent_pool_resource.hpp"
#include "pmrkit/decorators/synchronized_resource.hpp"
#include "pmrkit/detail/thread_exit.hpp"
#include "pmrkit/size_class_resource.hpp"
#include "support/checking_resource.hpp"
#include "support/seed.hpp"
#include "support/thread_barrier.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

namespace pmrkit::test {
namespace {

struct block {
    unsigned char* p;
    std::size_t bytes;
    std::size_t alignment;
    unsigned char tag;
};

// Blocks in flight from producers to consumers.
class mailbox {
public:
    void put(const block& b) {
        {
            const std::lock_guard lock(m_mutex);
            m_blocks.push_back(b);
        }
        m_ready.notify_one();
    }
    // false once closed and empty.
    bool take(block& b) {
        std::unique_lock lock(m_mutex);
        m_ready.wait(lock, [this] { return !m_blocks.empty() || m_closed; });
        if (m_blocks.empty()) {
            return false;
        }
        b = m_blocks.front();
        m_blocks.pop_front();
        return true;
    }
    void close() {
        {
            const std::lock_guard lock(m_mutex);
            m_closed = true;
        }
        m_ready.notify_all();
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_ready;
    std::deque<block> m_blocks;
    bool m_closed = false;
};

// Counts blocks whose pattern was overwritten (handed out twice, or written by the resource).
struct pattern_checker {
    std::atomic<std::size_t> corrupted{0};

    static void fill(const block& b) { std::memset(b.p, b.tag, b.bytes); }
    void check(const block& b) {
        for (std::size_t i = 0; i < b.bytes; ++i) {
            if (b.p[i] != b.tag) {
                corrupted.fetch_add(1, std::memory_order_relaxed);
                return;
            }
        }
    }
};

std::size_t stress_size(std::mt19937_64& rng) {
    const int pick = std::uniform_int_distribution<int>(0, 99)(rng);
    if (pick < 70) {
        return std::uniform_int_distribution<std::size_t>(1, 256)(rng);
    }
    if (pick < 97) {
        return std::uniform_int_distribution<std::size_t>(257, 8192)(rng);
    }
    return std::uniform_int_distribution<std::size_t>(40000, 100000)(rng); // large blocks
}

// Producers allocate, fill and mail blocks (and free some of their own); consumers check and free
// what they receive: most frees cross threads. Returns the number of corrupted blocks seen.
std::size_t producer_consumer(std::pmr::memory_resource& r, std::uint64_t seed, int producers,
                              int consumers) {
    constexpr int blocks_per_producer = 6000;
    pattern_checker patterns;
    mailbox box;
    std::vector<std::thread> threads;
    for (int t = 0; t < producers; ++t) {
        threads.emplace_back([&, t] {
            std::mt19937_64 rng(seed + static_cast<std::uint64_t>(t));
            std::vector<block> own;
            for (int i = 0; i < blocks_per_producer; ++i) {
                const std::size_t bytes = stress_size(rng);
                const std::size_t alignment = std::size_t{1}
                                              << std::uniform_int_distribution<int>(0, 6)(rng);
                const block b{static_cast<unsigned char*>(r.allocate(bytes, alignment)), bytes,
                              alignment, static_cast<unsigned char>(rng() | 1)};
                pattern_checker::fill(b);
                if (i % 4 == 0) {
                    own.push_back(b);
                } else {
                    box.put(b);
                }
                if (own.size() > 16) {
                    patterns.check(own.front());
                    r.deallocate(own.front().p, own.front().bytes, own.front().alignment);
                    own.erase(own.begin());
                }
            }
            for (const block& b : own) {
                patterns.check(b);
                r.deallocate(b.p, b.bytes, b.alignment);
            }
        });
    }
    std::vector<std::thread> consumer_threads;
    for (int t = 0; t < consumers; ++t) {
        consumer_threads.emplace_back([&] {
            block b{};
            while (box.take(b)) {
                patterns.check(b);
                r.deallocate(b.p, b.bytes, b.alignment);
            }
        });
    }
    for (std::thread& t : threads) {
        t.join();
    }
    box.close();
    for (std::thread& t : consumer_threads) {
        t.join();
    }
    return patterns.corrupted.load();
}

// The documented bin rules of concurrent_pool_resource, for the figures the tests below expect:
// a batch of a class is options().batch_bytes of its blocks, within [min_batch, max_batch].
std::size_t batch_of(const concurrent_pool_resource& pool, std::size_t bytes) {
    using classes = concurrent_pool_resource::classes;
    return std::clamp(pool.options().batch_bytes / classes::size(classes::index(bytes)),
                      concurrent_pool_resource::min_batch, concurrent_pool_resource::max_batch);
}

// The blocks a thread's refills of a class leave in its bin when it allocates n blocks and frees
// none: each refill takes cache::first_take blocks, then twice as many as the last, up to a
// batch (slow start).
std::size_t left_by_refills(std::size_t n, std::size_t batch) {
    std::size_t taken = 0;
    for (std::size_t take = concurrent_pool_resource::cache::first_take; taken < n;
         take = std::min(2 * take, batch)) {
        taken += take;
    }
    return taken - n;
}

// The batches a bin holding `held` blocks gives back while n blocks are freed into it: a free
// that takes it past two batches gives one back.
std::size_t batches_given_back(std::size_t held, std::size_t n, std::size_t batch) {
    std::size_t given = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (++held > 2 * batch) {
            held -= batch;
            ++given;
        }
    }
    return given;
}

} // namespace

TEST_CASE("concurrent_pool_resource: producer/consumer stress, every block back at the end") {
    PMRKIT_SEEDED(seed);
    checking_resource upstream;
    {
        concurrent_pool_resource pool(&upstream);
        CHECK(producer_consumer(pool, seed, 2, 2) == 0);
        // Every thread has exited, so its cache went back; trim() also takes the batches still in
        // transit, and then all spans are empty.
        CHECK(pool.thread_caches() == 0);
        pool.trim();
        CHECK(pool.cached_blocks() == 0);
        CHECK(pool.upstream_bytes() == 0);
        CHECK(upstream.live_blocks() == 0);
    }
}

TEST_CASE("concurrent_arena_resource: producer/consumer stress") {
    PMRKIT_SEEDED(seed);
    checking_resource upstream;
    {
        concurrent_arena_resource arena(concurrent_arena_options{.first_chunk_size = 4096},
                                        &upstream);
        CHECK(producer_consumer(arena, seed, 3, 1) == 0);
        CHECK(upstream.live_blocks() > 0);
    }
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE("synchronized_resource: producer/consumer stress over a size_class_resource") {
    PMRKIT_SEEDED(seed);
    checking_resource upstream;
    synchronized_resource<size_class_resource> shared(size_class_options{}, &upstream);
    CHECK(producer_consumer(shared, seed, 2, 2) == 0);
    shared.with_lock([](size_class_resource& pool) { pool.trim(); });
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE("concurrent_pool_resource: a thread's cache goes back when the thread exits") {
    checking_resource upstream;
    concurrent_pool_resource pool(&upstream);
    std::thread([&pool] {
        std::vector<void*> blocks;
        for (int i = 0; i < 1000; ++i) {
            blocks.push_back(pool.allocate(48, 8));
        }
        for (void* p : blocks) {
            pool.deallocate(p, 48, 8);
        }
        CHECK(pool.thread_caches() == 1);
        CHECK(pool.cached_blocks() > 0);
    }).join();
    CHECK(pool.thread_caches() == 0);
    // The 1,000 frees onto what the refills left in the bin overflowed it (twice at the default
    // batch_bytes: batches of 256, 1,023 blocks taken, 23 left), and the batches given back are
    // in transit; the rest of the bin went back to the central pool.
    const std::size_t batch = batch_of(pool, 48);
    const std::size_t given = batches_given_back(left_by_refills(1000, batch), 1000, batch);
    REQUIRE(given > 0);
    REQUIRE(given <= concurrent_pool_resource::transfer_batches);
    CHECK(pool.cached_blocks() == given * batch);
    pool.trim();
    CHECK(pool.cached_blocks() == 0);
    CHECK(pool.upstream_bytes() == 0);
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE("concurrent_pool_resource: a thread's first refills of a class take few blocks") {
    // Slow start: a thread that needs a few blocks of a class carves a few, not a batch.
    checking_resource upstream;
    concurrent_pool_resource pool(&upstream);
    const std::size_t batch = batch_of(pool, 64);
    std::set<void*> distinct;
    const auto take_one = [&] { CHECK(distinct.insert(pool.allocate(64, 8)).second); };
    for (std::size_t take = concurrent_pool_resource::cache::first_take; take <= 2 * batch;
         take *= 2) {
        const std::size_t expected = std::min(take, batch);
        take_one(); // a refill
        CHECK(pool.cached_blocks() == expected - 1);
        for (std::size_t i = 1; i < expected; ++i) {
            take_one();
        }
        CHECK(pool.cached_blocks() == 0);
    }
    for (void* p : distinct) {
        pool.deallocate(p, 64, 8);
    }
    pool.trim();
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE("concurrent_pool_resource: a batch freed by one thread is taken whole by another") {
    checking_resource upstream;
    concurrent_pool_resource pool(&upstream);
    const std::size_t batch = batch_of(pool, 64);
    std::vector<void*> blocks;
    std::thread producer_of_all([&] { // exits: what its refills took beyond them goes back
        for (std::size_t i = 0; i < 3 * batch; ++i) {
            blocks.push_back(pool.allocate(64, 8));
            std::memset(blocks.back(), 7, 64);
        }
    });
    producer_of_all.join();
    REQUIRE(pool.cached_blocks() == 0);
    std::thread consumer([&] {
        // The bin overflows at its block 2 * batch (counted from 0) and gives back its batch
        // most recent ones, blocks batch + 1 to 2 * batch, as one batch; the batch - 1 frees
        // after them leave it at two batches, which go back to the central pool at exit.
        for (void* p : blocks) {
            pool.deallocate(p, 64, 8);
        }
    });
    consumer.join();
    CHECK(pool.cached_blocks() == batch); // in transit
    const auto at = [&](std::size_t i) { return blocks.begin() + static_cast<std::ptrdiff_t>(i); };
    const std::set<void*> in_transit(at(batch + 1), at(2 * batch + 1));
    const std::size_t upstream_calls = upstream.allocations();
    std::set<void*> taken;
    std::thread producer([&] {
        for (std::size_t i = 0; i < batch; ++i) {
            void* p = pool.allocate(64, 8);
            std::memset(p, 9, 64);
            taken.insert(p);
        }
    });
    producer.join();
    CHECK(taken == in_transit); // the whole batch, as it was given back
    CHECK(pool.cached_blocks() == 0);
    CHECK(upstream.allocations() == upstream_calls);
    for (void* p : taken) {
        pool.deallocate(p, 64, 8);
    }
    pool.trim();
    CHECK(pool.cached_blocks() == 0);
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE("concurrent_pool_resource: the transfer shelves keep transfer_batches per class") {
    checking_resource upstream;
    concurrent_pool_resource pool(&upstream);
    const std::size_t batch = batch_of(pool, 64);
    constexpr std::size_t batches = concurrent_pool_resource::transfer_batches + 16;
    // `batches` batches of 64 B blocks freed by a thread: its bin overflows more than
    // transfer_batches times (batches - 1 at the default batch_bytes: the 255 blocks its refills
    // took beyond them, through a bin of 512, stay in it); the shelf keeps transfer_batches of the
    // batches it gives back, the central pool takes the others. At the thread's exit the rest of
    // its bin goes back to the central pool, and what stays cached is in transit.
    REQUIRE(batches_given_back(left_by_refills(batches * batch, batch), batches * batch, batch) >
            concurrent_pool_resource::transfer_batches);
    std::thread freeing([&pool, batch] {
        std::vector<void*> blocks;
        for (std::size_t i = 0; i < batches * batch; ++i) {
            blocks.push_back(pool.allocate(64, 8));
        }
        for (void* p : blocks) {
            pool.deallocate(p, 64, 8);
        }
    });
    freeing.join();
    CHECK(pool.thread_caches() == 0);
    CHECK(pool.cached_blocks() == concurrent_pool_resource::transfer_batches * batch);
    // A bin that runs empty takes a parked batch whole.
    void* p = pool.allocate(64, 8);
    CHECK(pool.cached_blocks() == concurrent_pool_resource::transfer_batches * batch - 1);
    pool.deallocate(p, 64, 8);
    pool.trim();
    CHECK(pool.cached_blocks() == 0);
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE("concurrent_pool_resource: destroyed while threads that used it still run") {
    checking_resource upstream;
    auto pool = std::make_unique<concurrent_pool_resource>(&upstream);
    thread_barrier sync(3);
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&] {
            void* kept = pool->allocate(64, 8);
            for (int i = 0; i < 500; ++i) {
                pool->deallocate(pool->allocate(32, 8), 32, 8);
            }
            pool->deallocate(kept, 64, 8);
            sync.arrive_and_wait(); // the main thread destroys the pool now
            sync.arrive_and_wait();
            // A new pool in the same threads: stale entries of the old one must not match.
            concurrent_pool_resource next(&upstream);
            for (int i = 0; i < 500; ++i) {
                next.deallocate(next.allocate(32, 8), 32, 8);
            }
        }); // at exit, the registry finds the first pool gone and leaves its cache alone
    }
    sync.arrive_and_wait();
    CHECK(pool->thread_caches() == 2);
    pool.reset();
    CHECK(upstream.live_blocks() == 0);
    sync.arrive_and_wait();
    for (std::thread& t : threads) {
        t.join();
    }
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE("concurrent_pool_resource: release() empties every thread's cache") {
    checking_resource upstream;
    concurrent_pool_resource pool(&upstream);
    thread_barrier sync(2);
    std::thread worker([&] {
        pool.deallocate(pool.allocate(100, 8), 100, 8);
        sync.arrive_and_wait(); // main releases
        sync.arrive_and_wait();
        void* p = pool.allocate(100, 8); // from a fresh span, not the released one
        std::memset(p, 1, 100);
        pool.deallocate(p, 100, 8);
    });
    sync.arrive_and_wait();
    pool.release();
    CHECK(upstream.live_blocks() == 0);
    CHECK(pool.cached_blocks() == 0);
    sync.arrive_and_wait();
    worker.join();
    pool.trim();
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE("concurrent_pool_resource: many instances in the same threads keep their own caches") {
    PMRKIT_SEEDED(seed);
    checking_resource upstream;
    constexpr std::size_t pools = 11; // more than the per-thread slots: collisions
    std::vector<std::unique_ptr<concurrent_pool_resource>> all;
    for (std::size_t i = 0; i < pools; ++i) {
        all.push_back(std::make_unique<concurrent_pool_resource>(&upstream));
    }
    pattern_checker patterns;
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&, t] {
            std::mt19937_64 rng(seed + static_cast<std::uint64_t>(t));
            std::vector<std::pair<std::size_t, block>> live;
            for (int i = 0; i < 4000; ++i) {
                if (live.size() < 64 && rng() % 3 != 0) {
                    const auto which = static_cast<std::size_t>(rng() % pools);
                    const std::size_t bytes = 1 + rng() % 512;
                    const block b{static_cast<unsigned char*>(all[which]->allocate(bytes, 8)),
                                  bytes, 8, static_cast<unsigned char>(rng() | 1)};
                    pattern_checker::fill(b);
                    live.emplace_back(which, b);
                } else if (!live.empty()) {
                    const auto [which, b] = live.back();
                    live.pop_back();
                    patterns.check(b);
                    all[which]->deallocate(b.p, b.bytes, b.alignment);
                }
            }
            for (const auto& [which, b] : live) {
                patterns.check(b);
                all[which]->deallocate(b.p, b.bytes, b.alignment);
            }
        });
    }
    for (std::thread& t : threads) {
        t.join();
    }
    CHECK(patterns.corrupted.load() == 0);
    for (const auto& pool : all) {
        CHECK(pool->thread_caches() == 0);
        pool->trim();
        CHECK(pool->upstream_bytes() == 0);
    }
    all.clear();
    CHECK(upstream.live_blocks() == 0);
}

// A pool over another (a pool per module over a shared one): a thread may first touch the lower
// pool inside the upper one's refill or trim, which hold the upper one's lock.
TEST_CASE("concurrent_pool_resource: a pool over another, reached first through it by new "
          "threads") {
    checking_resource upstream;
    {
        concurrent_pool_resource lower(&upstream);
        concurrent_pool_resource upper(&lower);
        // The lower pool's first call from this thread comes from a refill of the upper one.
        std::thread([&upper] {
            std::vector<void*> blocks;
            for (int i = 0; i < 1000; ++i) {
                blocks.push_back(upper.allocate(64, 8));
            }
            for (void* p : blocks) {
                upper.deallocate(p, 64, 8);
            }
        }).join();
        CHECK(upper.upstream_bytes() != 0);
        // This thread's refill finds blocks in the upper pool; its trim gives spans back to the
        // lower one from a thread that holds a cache of the upper one only.
        std::thread([&upper] {
            void* p = upper.allocate(64, 8);
            upper.deallocate(p, 64, 8);
            upper.trim();
        }).join();
        CHECK(upper.upstream_bytes() == 0);
    }
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE("detail::thread_exit: a thread's state goes to its exit function once, at exit") {
    struct state : detail::thread_exit_state {
        std::atomic<int>* exits;
    };
    static constexpr auto on_exit = [](detail::thread_exit_state* self) noexcept {
        auto* s = static_cast<state*>(self);
        // The exited mark is set before the exit function runs.
        if (detail::this_thread_exited()) {
            s->exits->fetch_add(1);
        }
        delete s;
    };
    std::atomic<int> exits{0};
    std::thread([&exits] {
        CHECK(detail::this_thread_exit_state() == nullptr);
        auto* s = new state{{on_exit}, &exits};
        detail::set_this_thread_exit_state(s);
        CHECK(detail::this_thread_exit_state() == s);
        CHECK_FALSE(detail::this_thread_exited());
    }).join();
    CHECK(exits.load() == 1);
    CHECK_FALSE(detail::this_thread_exited()); // another thread's exit
}

TEST_CASE("concurrent_pool_resource: options() gives the central options as normalized") {
    for (const std::size_t asked : {std::size_t{100}, std::size_t{5000}, std::size_t{1} << 30}) {
        const concurrent_pool_resource pool({.central = {.max_pooled_size = asked}});
        const size_class_resource reference({.max_pooled_size = asked});
        CHECK(pool.options().central.max_pooled_size == reference.options().max_pooled_size);
    }
    // The normalized limit is the one in use: 1500 bytes, above the 100 asked for, is pooled, so
    // its block goes to this thread's cache, where a large block would not.
    concurrent_pool_resource pool({.central = {.max_pooled_size = 100}});
    CHECK(pool.options().central.max_pooled_size >= 1500);
    pool.deallocate(pool.allocate(1500), 1500);
    CHECK(pool.cached_blocks() >= 1);
}

} // namespace pmrkit::test
