// SPDX-License-Identifier: MIT
// stats_resource and concurrent_stats_resource: exact counts, histograms, peak, reset, failed
// upstream calls, the JSON shape, and a stack report whose pool statistics agree with the
// checking upstream's own counts.
#include "pmrkit/decorators/stats_resource.hpp"
#include "pmrkit/fixed_block_resource.hpp"
#include "support/checking_resource.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <limits>
#include <memory_resource>
#include <span>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <vector>

namespace pmrkit::test {

static_assert(std::is_final_v<stats_resource>);
static_assert(!std::is_copy_constructible_v<stats_resource>);
static_assert(reports_stats<stats_resource> && reports_stats<concurrent_stats_resource> &&
              reports_stats<fixed_block_resource> && reports_stats<test_resource>);

TEST_CASE("pow2_histogram: bucket k >= 1 holds [2^(k-1), 2^k), bucket 0 holds 0") {
    CHECK(pow2_histogram::bucket(0) == 0);
    CHECK(pow2_histogram::bucket(1) == 1);
    CHECK(pow2_histogram::bucket(2) == 2);
    CHECK(pow2_histogram::bucket(3) == 2);
    CHECK(pow2_histogram::bucket(64) == 7);
    CHECK(pow2_histogram::bucket(127) == 7);
    constexpr std::size_t bits = std::numeric_limits<std::size_t>::digits;
    CHECK(pow2_histogram::bucket(std::size_t{1} << (bits - 2)) == bits - 1);
    CHECK(pow2_histogram::bucket(std::numeric_limits<std::size_t>::max() / 2) == bits - 1);
    // Every bucket a size_t reaches: all 64 of them in 64 bits, 0 to 32 in 32 bits.
    for (std::size_t k = 0; k < std::min(pow2_histogram::buckets, bits + 1); ++k) {
        CHECK(pow2_histogram::bucket(static_cast<std::size_t>(pow2_histogram::label(k))) == k);
    }
}

TEST_CASE_TEMPLATE("stats_resource: counts, bytes, peak and histograms are exact", R,
                   stats_resource, concurrent_stats_resource) {
    checking_resource upstream;
    R stats(&upstream);
    void* a = stats.allocate(64, 8);
    void* b = stats.allocate(200, 32);
    void* c = stats.allocate(0, 1);
    CHECK(stats.allocations() == 3);
    CHECK(stats.bytes_in_use() == 264);
    CHECK(stats.blocks_in_use() == 3);
    stats.deallocate(b, 200, 32);
    void* d = stats.allocate(10, 8);
    CHECK(stats.peak_bytes_in_use() == 264);
    CHECK(stats.bytes_in_use() == 74);
    CHECK(stats.total_bytes() == 274);
    CHECK(stats.deallocations() == 1);

    const pow2_histogram sizes = stats.sizes();
    CHECK(sizes.counts[pow2_histogram::bucket(64)] == 1);
    CHECK(sizes.counts[pow2_histogram::bucket(200)] == 1);
    CHECK(sizes.counts[0] == 1);
    CHECK(sizes.counts[pow2_histogram::bucket(8)] == 1);
    CHECK(sizes.total() == 4);
    const pow2_histogram alignments = stats.alignments();
    CHECK(alignments.counts[pow2_histogram::bucket(8)] == 2);
    CHECK(alignments.counts[pow2_histogram::bucket(32)] == 1);
    CHECK(alignments.counts[pow2_histogram::bucket(1)] == 1);

    for (auto [p, n, al] : {std::tuple{a, 64, 8}, {c, 0, 1}, {d, 10, 8}}) {
        stats.deallocate(p, static_cast<std::size_t>(n), static_cast<std::size_t>(al));
    }
    CHECK(stats.bytes_in_use() == 0);
    CHECK(stats.blocks_in_use() == 0);
    CHECK(upstream.allocations() == 4);
    CHECK(upstream.deallocations() == 4);
}

TEST_CASE("stats_resource: a failed upstream allocation counts as failed only") {
    checking_resource upstream;
    stats_resource stats(&upstream);
    upstream.fail_next(1);
    CHECK_THROWS_AS((void)stats.allocate(64, 8), injected_bad_alloc);
    CHECK(stats.failed_allocations() == 1);
    CHECK(stats.allocations() == 0);
    CHECK(stats.bytes_in_use() == 0);
    CHECK(stats.peak_bytes_in_use() == 0);
}

TEST_CASE("stats_resource: reset() zeroes the counts but keeps what is in use") {
    checking_resource upstream;
    stats_resource stats(&upstream);
    void* kept = stats.allocate(40, 8);
    stats.deallocate(stats.allocate(1000, 8), 1000, 8);
    stats.reset();
    CHECK(stats.allocations() == 0);
    CHECK(stats.deallocations() == 0);
    CHECK(stats.total_bytes() == 0);
    CHECK(stats.sizes().total() == 0);
    CHECK(stats.bytes_in_use() == 40);
    CHECK(stats.blocks_in_use() == 1);
    CHECK(stats.peak_bytes_in_use() == 40);
    // The snapshot agrees with the members, the block kept across reset() included.
    const resource_stats s = stats.stats();
    CHECK(s.allocations == 0);
    CHECK(s.blocks_in_use == 1);
    CHECK(s.bytes_in_use == 40);
    CHECK(s.peak_bytes_in_use == 40);
    stats.deallocate(kept, 40, 8);
    CHECK(stats.blocks_in_use() == 0);
    CHECK(stats.bytes_in_use() == 0);
}

TEST_CASE("concurrent_stats_resource: counts are exact with two threads") {
    concurrent_stats_resource stats(std::pmr::new_delete_resource());
    constexpr int per_thread = 20000;
    const auto work = [&stats] {
        std::vector<void*> held;
        for (int i = 0; i < per_thread; ++i) {
            held.push_back(stats.allocate(48, 16));
            if (held.size() == 10) {
                for (void* p : held) {
                    stats.deallocate(p, 48, 16);
                }
                held.clear();
            }
        }
    };
    std::thread other(work);
    work();
    other.join();
    CHECK(stats.allocations() == 2 * per_thread);
    CHECK(stats.deallocations() == 2 * per_thread);
    CHECK(stats.bytes_in_use() == 0);
    CHECK(stats.total_bytes() == 2u * per_thread * 48u);
    CHECK(stats.peak_bytes_in_use() >= 10 * 48);
    CHECK(stats.peak_bytes_in_use() <= 20 * 48);
}

TEST_CASE("stats JSON: every key, null for what a resource does not track") {
    checking_resource upstream;
    stats_resource stats(&upstream);
    stats.deallocate(stats.allocate(64, 16), 64, 16);
    void* small = stats.allocate(3, 1);
    const std::string json = to_json(stats.stats());
    CHECK(json == "{\"resource\": \"stats_resource\", \"allocations\": 2, \"deallocations\": 1, "
                  "\"failed_allocations\": 0, \"blocks_in_use\": 1, \"bytes_in_use\": 3, "
                  "\"peak_blocks_in_use\": null, \"peak_bytes_in_use\": 64, "
                  "\"total_bytes\": 67, \"served_locally\": null, "
                  "\"upstream_allocations\": null, \"upstream_deallocations\": null, "
                  "\"upstream_bytes\": null, \"sizes\": {\"2\": 1, \"64\": 1}, "
                  "\"alignments\": {\"1\": 1, \"16\": 1}}");
    const std::array<resource_stats, 0> none{};
    CHECK(to_json(std::span<const resource_stats>(none)) == "[]");
    stats.deallocate(small, 3, 1);
}

TEST_CASE("stack report: the pool's own statistics agree with what its upstream saw") {
    checking_resource upstream;
    fixed_block_resource pool({.block_size = 32, .initial_blocks = 4}, &upstream);
    stats_resource stats(&pool);
    {
        std::vector<void*> held;
        for (int i = 0; i < 20; ++i) {
            held.push_back(stats.allocate(24, 8));
        }
        void* big = stats.allocate(500, 8); // passed through the pool
        // Pool blocks count whole (24 bytes take a 32-byte block), the pass-through block its
        // size; the peak is of pool blocks alone (see fixed_block_resource::stats).
        const resource_stats live = pool.stats();
        CHECK(live.blocks_in_use == 21);
        CHECK(live.bytes_in_use == 20 * 32 + 500);
        CHECK(live.peak_bytes_in_use == 20 * 32);
        for (void* p : held) {
            stats.deallocate(p, 24, 8);
        }
        stats.deallocate(big, 500, 8);
        for (int i = 0; i < 20; ++i) {
            stats.deallocate(stats.allocate(24, 8), 24, 8);
        }
    }
    const auto stack = stack_stats(stats, pool, upstream.checker());
    CHECK(stack[0].allocations == 41);
    CHECK(stack[0].bytes_in_use == 0);
    CHECK(stack[1].resource == "fixed_block_resource");
    CHECK(stack[1].blocks_in_use == 0);
    CHECK(stack[1].peak_blocks_in_use == 20);
    CHECK(stack[1].upstream_allocations == upstream.allocations());
    CHECK(stack[1].upstream_deallocations == upstream.deallocations());
    CHECK(stack[1].upstream_bytes == upstream.live_bytes());
    CHECK(stack[1].allocations == std::nullopt); // not counted on the pool's fast path
    // The upstream's own count of what it holds, against the pool's count of its calls.
    CHECK(stack[2].blocks_in_use ==
          *stack[1].upstream_allocations - *stack[1].upstream_deallocations);
    const std::string json = to_json(stack);
    CHECK(json.starts_with("[\n  {\"resource\": \"stats_resource\""));
    CHECK(json.find("\n  {\"resource\": \"fixed_block_resource\"") != std::string::npos);
    CHECK(json.find("\n  {\"resource\": \"test_resource\"") != std::string::npos);
    CHECK(json.ends_with("}\n]"));
}

} // namespace pmrkit::test
