// SPDX-License-Identifier: MIT
// aligned_pool_resource beyond the conformance suite: options, the least alignment for every
// request, sizes rounded to the alignment (below it, to a power of two), no shared cache lines,
// large blocks, statistics, and a seeded model test.
#include "pmrkit/aligned_pool_resource.hpp"
#include "support/checking_resource.hpp"
#include "support/pool_model.hpp"
#include "support/seed.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <random>
#include <set>
#include <type_traits>
#include <vector>

namespace pmrkit::test {
namespace {

std::uintptr_t address(const void* p) {
    return reinterpret_cast<std::uintptr_t>(p);
}

// The class comment's promise: the alignment option, or for a smaller block its size rounded up to
// a power of two (at least 16).
std::size_t promised_alignment(std::size_t bytes, std::size_t alignment) {
    return std::min(alignment, std::bit_ceil(std::max<std::size_t>(bytes, 16)));
}

} // namespace

static_assert(std::is_final_v<aligned_pool_resource>);
static_assert(!std::is_copy_constructible_v<aligned_pool_resource>);
static_assert(!std::is_move_constructible_v<aligned_pool_resource>);

TEST_CASE("aligned_pool_resource: options are normalized and readable back") {
    CHECK(aligned_pool_resource().alignment() == 64);
    CHECK(aligned_pool_resource({.alignment = 1}).alignment() == 16);
    CHECK(aligned_pool_resource({.alignment = 48}).alignment() == 64);
    CHECK(aligned_pool_resource({.alignment = 1 << 20}).alignment() == 4096);
    CHECK(aligned_pool_resource().options().pool.max_pooled_size == 32768);
    CHECK(
        aligned_pool_resource({.pool = {.max_pooled_size = 100}}).options().pool.max_pooled_size ==
        2048);
    CHECK(aligned_pool_resource({.alignment = 4096, .pool = {.max_pooled_size = 100}})
              .options()
              .pool.max_pooled_size == 4096);
    const aligned_pool_resource r({.pool = {.max_empty_spans = 3, .large_cache_bytes = 5}});
    CHECK(r.options().pool.max_empty_spans == 3);
    CHECK(r.options().pool.large_cache_bytes == 5);
    // At 64: 16 and 32, every multiple of 64 to 4 KiB, then 4 per power of two to 32 KiB.
    CHECK(aligned_pool_resource().class_count() == 2 + 64 + 3 * 4);
    // At 4096: the powers of two from 16 to 2048, then every multiple of 4096 to 32 KiB.
    CHECK(aligned_pool_resource({.alignment = 4096}).class_count() == 8 + 8);
}

TEST_CASE("aligned_pool_resource: every block is aligned to the option or its size, whatever is "
          "asked") {
    for (const std::size_t alignment : {16U, 32U, 64U, 128U, 256U, 1024U, 4096U}) {
        CAPTURE(alignment);
        checking_resource upstream;
        aligned_pool_resource pool({.alignment = alignment}, &upstream);
        std::vector<std::pair<void*, std::size_t>> blocks;
        for (std::size_t bytes = 0; bytes <= 40000; bytes = bytes * 3 / 2 + 1) {
            for (const std::size_t asked : {1U, 8U, 16U}) {
                void* p = pool.allocate(bytes, asked);
                CHECK(address(p) % promised_alignment(bytes, alignment) == 0);
                blocks.emplace_back(p, bytes);
            }
        }
        for (auto [p, bytes] : blocks) {
            pool.deallocate(p, bytes, 8);
        }
    }
}

TEST_CASE("aligned_pool_resource: a vector<float>'s data is aligned for SIMD loads") {
    aligned_pool_resource pool({.alignment = 32});
    std::pmr::vector<float> v(&pool);
    for (int i = 0; i < 1000; ++i) {
        v.push_back(static_cast<float>(i));
        // Aligned for every load that fits in it: 32 bytes once it holds 8 floats.
        CHECK(address(v.data()) % promised_alignment(v.capacity() * sizeof(float), 32) == 0);
    }
    CHECK(address(v.data()) % 32 == 0);
}

TEST_CASE("aligned_pool_resource: sizes are rounded to multiples of the alignment, or below it to "
          "powers of two") {
    for (const std::size_t alignment : {16U, 64U, 256U, 4096U}) {
        CAPTURE(alignment);
        aligned_pool_resource pool({.alignment = alignment});
        // The only waste up to 64 x alignment (or the largest pooled size): rounding up to it.
        const std::size_t exact = std::min(64 * alignment, pool.options().pool.max_pooled_size);
        for (std::size_t bytes = 1; bytes <= exact; bytes += 1 + bytes / 512) {
            CAPTURE(bytes);
            void* p = pool.allocate(bytes, 8);
            const std::size_t promised = promised_alignment(bytes, alignment);
            CHECK(*pool.stats().bytes_in_use == (bytes + promised - 1) / promised * promised);
            pool.deallocate(p, bytes, 8);
        }
    }
}

TEST_CASE("aligned_pool_resource: at alignment 64 or more, a block of at least the alignment "
          "shares no cache line") {
    for (const std::size_t alignment : {64U, 128U}) {
        aligned_pool_resource pool({.alignment = alignment});
        std::mt19937_64 rng(7);
        std::set<std::uintptr_t> lines_of_large; // of blocks of at least the alignment
        std::set<std::uintptr_t> lines_of_small; // may be shared by small blocks
        std::vector<std::pair<void*, std::size_t>> blocks;
        std::size_t small = 0;
        for (int i = 0; i < 3000; ++i) {
            const std::size_t bytes = std::uniform_int_distribution<std::size_t>(1, 700)(rng);
            void* p = pool.allocate(bytes, 8);
            blocks.emplace_back(p, bytes);
            small += bytes < alignment ? 1U : 0U;
            for (std::uintptr_t line = address(p) / 64; line <= (address(p) + bytes - 1) / 64;
                 ++line) {
                CHECK(lines_of_large.count(line) == 0);
                if (bytes >= alignment) {
                    CHECK(lines_of_small.count(line) == 0);
                    lines_of_large.insert(line);
                } else {
                    lines_of_small.insert(line);
                }
            }
        }
        CHECK(small > 100); // both kinds were met
        for (auto [p, bytes] : blocks) {
            pool.deallocate(p, bytes, 8);
        }
    }
}

TEST_CASE("aligned_pool_resource: large blocks go upstream with the alignment") {
    checking_resource upstream;
    aligned_pool_resource pool({.alignment = 256, .pool = {.large_cache_bytes = 0}}, &upstream);
    void* p = pool.allocate(100000, 8);
    CHECK(address(p) % 256 == 0);
    CHECK(upstream.last_bytes() == 100000);
    CHECK(upstream.last_alignment() == 256);
    CHECK(pool.stats().blocks_in_use == 1);
    pool.deallocate(p, 100000, 8);
    CHECK(upstream.live_blocks() == 1); // the record table of large blocks, until trim()
    pool.trim();
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE("aligned_pool_resource: an alignment of 2 KiB or more that is not a power of two throws "
          "std::bad_alloc, as in size_class_resource") {
    checking_resource upstream;
    // At 4096 the large blocks' alignment is raised to 4096, which must not hide the request's.
    aligned_pool_resource pool({.alignment = 4096}, &upstream);
    // volatile: these requests break the precondition, which compilers would warn about.
    for (volatile std::size_t not_power_of_two :
         {std::size_t{2049}, std::size_t{3000}, std::size_t{4095}}) {
        CAPTURE(not_power_of_two);
        CHECK_THROWS_AS((void)pool.allocate(1, not_power_of_two), std::bad_alloc);
        CHECK_THROWS_AS((void)pool.allocate(70'000, not_power_of_two), std::bad_alloc);
    }
    CHECK(upstream.allocations() == 0);
}

TEST_CASE("aligned_pool_resource: stats() in the common shape agree with upstream") {
    checking_resource upstream;
    aligned_pool_resource pool(&upstream);
    std::vector<void*> small;
    for (int i = 0; i < 10; ++i) {
        small.push_back(pool.allocate(24, 8));
    }
    const resource_stats s = pool.stats();
    CHECK(s.resource == "aligned_pool_resource");
    CHECK(s.blocks_in_use == 10);
    CHECK(s.bytes_in_use == 10 * 32); // 24 bytes take the 32-byte class, below the alignment
    CHECK(s.upstream_allocations == upstream.allocations());
    CHECK(s.upstream_bytes == upstream.live_bytes());
    for (void* p : small) {
        pool.deallocate(p, 24, 8);
    }
    CHECK(pool.stats().blocks_in_use == 0);
    pool.trim();
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE("aligned_pool_resource: seeded model test with trim and release in the middle") {
    PMRKIT_SEEDED(seed);
    std::mt19937_64 rng(seed);
    checking_resource upstream;
    aligned_pool_resource pool({.alignment = 64, .pool = {.max_empty_spans = 8}}, &upstream);
    std::size_t misaligned = 0;
    const size_bands bands{.small_percent = 70,
                           .small_max = 256,
                           .medium_percent = 27,
                           .medium_max = 40000,
                           .large_max = 300000};
    run_pool_model(
        pool, upstream, rng, bands, 20000,
        [&misaligned](void* p, std::size_t bytes) {
            misaligned += address(p) % promised_alignment(bytes, 64) != 0 ? 1U : 0U;
        },
        [](const aligned_pool_resource& p) { return *p.stats().blocks_in_use; });
    CHECK(misaligned == 0);
}

} // namespace pmrkit::test
