// SPDX-License-Identifier: MIT
// arena_pool: warm reuse, the idle bound, leases, exceptions, and threads sharing one pool.
#include "pmrkit/arena_pool.hpp"
#include "support/checking_resource.hpp"
#include "support/request.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

namespace pmrkit::test {
namespace {

// checking_resource is single-threaded; the pool's upstream must not be.
class locked_resource final : public std::pmr::memory_resource {
public:
    explicit locked_resource(std::pmr::memory_resource& upstream) : m_upstream(upstream) {}

private:
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        const std::lock_guard lock(m_mutex);
        return m_upstream.allocate(bytes, alignment);
    }
    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        const std::lock_guard lock(m_mutex);
        m_upstream.deallocate(p, bytes, alignment);
    }
    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

    std::mutex m_mutex;
    std::pmr::memory_resource& m_upstream;
};

} // namespace

static_assert(std::is_nothrow_move_constructible_v<arena_pool::lease>);
static_assert(!std::is_copy_constructible_v<arena_pool::lease>);
static_assert(!std::is_copy_constructible_v<arena_pool>);

TEST_CASE("arena_pool: a returned arena is reset and handed out again, warm") {
    checking_resource upstream;
    {
        arena_pool pool({.arena = {.first_chunk_size = 1024}}, &upstream);
        CHECK(upstream.allocations() == 0);
        CHECK(pool.options().arena.first_chunk_size == 1024);
        const arena_resource* first = nullptr;
        std::size_t calls_after_first = 0;
        for (int request = 0; request < 5; ++request) {
            auto lease = pool.acquire();
            CHECK(lease->bytes_used() == 0);
            CHECK(pool.leased() == 1);
            CHECK(run_request(*lease, 0) == 300);
            if (request == 0) {
                first = &lease.arena();
                calls_after_first = upstream.allocations();
            } else {
                CHECK(&*lease == first);
                // The first reset replaced the chunks of request 0 by one (one upstream call).
                CHECK_MESSAGE(upstream.allocations() == calls_after_first + 1,
                              "request " << request);
            }
        }
        CHECK(pool.idle() == 1);
        CHECK(pool.leased() == 0);
        CHECK(pool.arenas_created() == 1);
    }
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE("arena_pool: at most max_idle arenas are kept") {
    checking_resource upstream;
    arena_pool pool({.max_idle = 2}, &upstream);
    {
        std::vector<arena_pool::lease> leases;
        for (int i = 0; i < 5; ++i) {
            leases.push_back(pool.acquire());
            (void)leases.back()->allocate(100, 8);
        }
        CHECK(pool.leased() == 5);
        CHECK(pool.arenas_created() == 5);
    }
    CHECK(pool.idle() == 2);
    CHECK(pool.leased() == 0);
    // Each idle arena holds its node and one chunk.
    CHECK(upstream.live_blocks() == 4);
}

TEST_CASE("arena_pool: leases move; a moved-to lease returns its old arena first") {
    checking_resource upstream;
    arena_pool pool(&upstream);
    auto a = pool.acquire();
    auto b = pool.acquire();
    arena_resource* arena_b = &b.arena();
    arena_pool::lease c(std::move(a));
    CHECK(pool.leased() == 2);
    c = std::move(b);
    CHECK(pool.leased() == 1);
    CHECK(pool.idle() == 1);
    CHECK(&c.arena() == arena_b);
}

TEST_CASE("arena_pool: an upstream exception in acquire propagates and changes nothing") {
    checking_resource upstream;
    arena_pool pool(&upstream);
    upstream.fail_next(1);
    CHECK_THROWS_AS((void)pool.acquire(), injected_bad_alloc);
    CHECK(pool.arenas_created() == 0);
    CHECK(pool.leased() == 0);
    auto lease = pool.acquire();
    CHECK(run_request(*lease, 0) == 300);
    CHECK_THROWS_AS(arena_pool({.arena = {.growth_factor = 0.0}}, &upstream),
                    std::invalid_argument);
}

TEST_CASE("arena_pool: threads sharing a pool get warm arenas and intact memory") {
    checking_resource checking;
    locked_resource upstream(checking);
    constexpr int threads = 4;
    constexpr int requests = 500;
    std::size_t one_request_calls = 0;
    {
        arena_resource probe({}, &checking);
        CHECK(run_request(probe, 1000) == 300);
        one_request_calls = probe.upstream_allocations();
    }
    {
        arena_pool pool({.max_idle = threads}, &upstream);
        std::atomic<int> wrong{0};
        std::vector<std::thread> workers;
        for (int t = 0; t < threads; ++t) {
            workers.emplace_back([&pool, &wrong, t] {
                for (int r = 0; r < requests; ++r) {
                    auto lease = pool.acquire();
                    // Same-length strings in every request (four-digit numbers): same memory needs.
                    if (run_request(*lease, 1000 + (t * requests + r) % 1000) != 300) {
                        wrong.fetch_add(1);
                    }
                }
            });
        }
        for (std::thread& w : workers) {
            w.join();
        }
        CHECK(wrong.load() == 0);
        CHECK(pool.arenas_created() <= threads);
        // Each arena took memory once (its node, one request's chunks and the one chunk its
        // first reset put in their place), then stayed warm.
        CHECK(checking.allocations() <=
              one_request_calls + pool.arenas_created() * (2 + one_request_calls));
        CHECK(pool.idle() == pool.arenas_created());
    }
    CHECK(checking.live_blocks() == 0);
}

} // namespace pmrkit::test
