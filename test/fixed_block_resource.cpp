// SPDX-License-Identifier: MIT
// fixed_block_resource beyond the conformance suite: options, growth, caps, pass-through,
// observers, reserve, release, overhead, and a seeded model test.
#include "pmrkit/fixed_block_resource.hpp"
#include "pmrkit/detail/math.hpp"
#include "support/checking_resource.hpp"
#include "support/live_blocks.hpp"
#include "support/seed.hpp"

#include <doctest/doctest.h>

#include <limits>
#include <list>
#include <random>
#include <set>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace pmrkit::test {
namespace {

constexpr std::size_t footer = detail::chunk_list::overhead;

// Bytes the pool asks upstream for a chunk of `blocks` blocks.
constexpr std::size_t chunk_bytes(std::size_t blocks, std::size_t block_size) {
    return blocks * block_size + footer;
}

} // namespace

static_assert(std::is_final_v<fixed_block_resource>);
static_assert(!std::is_copy_constructible_v<fixed_block_resource>);
static_assert(!std::is_move_constructible_v<fixed_block_resource>);
static_assert(!std::is_copy_assignable_v<fixed_block_resource>);

TEST_CASE("fixed_block_resource: options are normalized and readable back") {
    fixed_block_resource tiny({.block_size = 1, .block_alignment = 1});
    CHECK(tiny.block_size() == detail::min_pooled_block); // a link and a double-free mark
    // The largest power of two dividing the size, up to the fundamental alignment (8 on armhf).
    CHECK(tiny.block_alignment() == std::min(detail::min_pooled_block, alignof(std::max_align_t)));

    fixed_block_resource odd({.block_size = 40, .block_alignment = 8});
    CHECK(odd.block_size() == 40);
    CHECK(odd.block_alignment() == 8);

    fixed_block_resource sixty_four({.block_size = 64, .block_alignment = 8});
    CHECK(sixty_four.block_alignment() == alignof(std::max_align_t));

    fixed_block_resource wide({.block_size = 100, .block_alignment = 64});
    CHECK(wide.block_size() == 128);
    CHECK(wide.block_alignment() == 64);
    CHECK(wide.options().initial_blocks == 4096 / 128);

    CHECK_THROWS_AS(fixed_block_resource({.block_alignment = 24}), std::invalid_argument);
    CHECK_THROWS_AS(fixed_block_resource({.block_alignment = 0}), std::invalid_argument);
}

TEST_CASE("fixed_block_resource: takes no memory until first use") {
    checking_resource upstream;
    fixed_block_resource pool({}, &upstream);
    CHECK(upstream.allocations() == 0);
    CHECK(pool.capacity() == 0);
    CHECK(pool.upstream_resource() == &upstream);
}

TEST_CASE("fixed_block_resource: growth policies size chunks exactly") {
    checking_resource upstream;
    const auto fill_and_expect = [&](fixed_block_resource& pool,
                                     std::initializer_list<std::size_t> chunks) {
        live_blocks live(pool);
        std::size_t capacity = 0;
        for (const std::size_t blocks : chunks) {
            while (pool.blocks_in_use() < capacity + 1) {
                live.allocate(32, 8);
            }
            capacity += blocks;
            CHECK(pool.capacity() == capacity);
            CHECK(upstream.last_bytes() == chunk_bytes(blocks, 32));
        }
    };
    SUBCASE("linear") {
        fixed_block_resource pool(
            {.block_size = 32, .initial_blocks = 5, .growth = growth_policy::linear(10)},
            &upstream);
        fill_and_expect(pool, {5, 10, 10, 10});
    }
    SUBCASE("exponential") {
        fixed_block_resource pool(
            {.block_size = 32, .initial_blocks = 4, .growth = growth_policy::exponential(1.5)},
            &upstream);
        fill_and_expect(pool, {4, 6, 9, 13});
    }
    SUBCASE("exponential below 2 from one block still grows") {
        fixed_block_resource pool(
            {.block_size = 32, .initial_blocks = 1, .growth = growth_policy::exponential(1.5)},
            &upstream);
        fill_and_expect(pool, {1, 2, 3, 4, 6});
    }
    SUBCASE("custom") {
        fixed_block_resource pool(
            {.block_size = 32,
             .initial_blocks = 2,
             .growth = growth_policy::custom([](std::size_t capacity) { return capacity + 3; })},
            &upstream);
        fill_and_expect(pool, {2, 5, 10, 20});
    }
    SUBCASE("a policy that says 0 still makes progress") {
        fixed_block_resource pool(
            {.block_size = 32, .initial_blocks = 1, .growth = growth_policy::linear(0)}, &upstream);
        fill_and_expect(pool, {1, 1, 1});
    }
}

TEST_CASE("fixed_block_resource: max_blocks caps capacity, then the pool stays usable") {
    checking_resource upstream;
    fixed_block_resource pool({.block_size = 16, .initial_blocks = 4, .max_blocks = 10}, &upstream);
    live_blocks live(pool);
    for (int i = 0; i < 10; ++i) {
        live.allocate(16, 8);
    }
    CHECK(pool.capacity() == 10); // 4, then 8 clamped to 6
    const std::size_t calls = upstream.allocations();
    CHECK_THROWS_AS(live.allocate(16, 8), std::bad_alloc);
    CHECK(upstream.allocations() == calls);
    live.free_at(3);
    live.allocate(16, 8);
    CHECK(pool.blocks_in_use() == 10);
    CHECK_THROWS_AS(pool.reserve(11), std::bad_alloc);
}

TEST_CASE("fixed_block_resource: requests that do not fit go upstream exactly, counted") {
    checking_resource upstream;
    fixed_block_resource pool({.block_size = 64}, &upstream);
    void* big = pool.allocate(65, 8);
    CHECK(upstream.last_bytes() == 65);
    CHECK(upstream.last_alignment() == 8);
    void* aligned = pool.allocate(64, 128);
    CHECK(upstream.last_bytes() == 64);
    CHECK(upstream.last_alignment() == 128);
    CHECK(pool.oversize_blocks() == 2);
    CHECK(pool.blocks_in_use() == 0);
    CHECK(pool.upstream_bytes() == upstream.live_bytes());
    pool.deallocate(big, 65, 8);
    pool.deallocate(aligned, 64, 128);
    CHECK(pool.oversize_blocks() == 0);
    CHECK(pool.upstream_bytes() == upstream.live_bytes());
    pool.release();
    CHECK(upstream.live_bytes() == 0);
}

TEST_CASE("fixed_block_resource: impossible requests throw std::bad_alloc before upstream") {
    checking_resource upstream;
    fixed_block_resource pool({.block_size = 64}, &upstream);
    // volatile: these requests are meant to be impossible, which compilers would warn about.
    volatile std::size_t max = std::numeric_limits<std::size_t>::max();
    CHECK_THROWS_AS((void)pool.allocate(max, 8), std::bad_alloc);
    CHECK_THROWS_AS((void)pool.allocate(max - 4095, 4096), std::bad_alloc);
    volatile std::size_t not_power_of_two = 24;
    CHECK_THROWS_AS((void)pool.allocate(100, not_power_of_two), std::bad_alloc);
    CHECK(upstream.allocations() == 0);
    // A non-power-of-two alignment the block already satisfies is served from the pool.
    not_power_of_two = pool.block_alignment() - 1;
    void* p = pool.allocate(24, not_power_of_two);
    CHECK(pool.blocks_in_use() == 1);
    pool.deallocate(p, 24, not_power_of_two);
}

TEST_CASE("fixed_block_resource: a chunk of more blocks than memory holds throws std::bad_alloc "
          "before upstream") {
    checking_resource upstream;
    // volatile: these counts are meant to be impossible, which compilers would warn about.
    volatile std::size_t max = std::numeric_limits<std::size_t>::max();
    // Blocks times size fits in size_t, but not with the alignment's padding: the chunk's size
    // is checked, not only its product.
    fixed_block_resource pool({.block_size = 4096, .block_alignment = 4096}, &upstream);
    CHECK_THROWS_AS(pool.reserve(max / 4096), std::bad_alloc);
    fixed_block_resource first(
        {.block_size = 64, .block_alignment = 64, .initial_blocks = max / 64}, &upstream);
    CHECK_THROWS_AS((void)first.allocate(64, 64), std::bad_alloc);
    // The checking upstream would have refused them too: nothing reached it.
    CHECK(upstream.allocations() == 0);
    CHECK(upstream.checker().stats().failed_allocations == 0);
    void* p = pool.allocate(4096, 4096);
    CHECK(detail::is_aligned(p, 4096));
    pool.deallocate(p, 4096, 4096);
}

TEST_CASE("fixed_block_resource: zero-byte requests get distinct usable blocks") {
    fixed_block_resource pool;
    void* a = pool.allocate(0, 1);
    void* b = pool.allocate(0, 1);
    CHECK(a != nullptr);
    CHECK(a != b);
    pool.deallocate(a, 0, 1);
    pool.deallocate(b, 0, 1);
}

TEST_CASE("fixed_block_resource: observers track use, peak and chunks") {
    checking_resource upstream;
    fixed_block_resource pool({.block_size = 32, .initial_blocks = 8}, &upstream);
    live_blocks live(pool);
    for (int i = 0; i < 20; ++i) {
        live.allocate(32, 8);
    }
    CHECK(pool.blocks_in_use() == 20);
    CHECK(pool.peak_blocks_in_use() == 20);
    CHECK(pool.chunk_count() == 2); // 8 + 16
    CHECK(pool.capacity() == 24);
    CHECK(pool.upstream_bytes() == upstream.live_bytes());
    for (int i = 0; i < 15; ++i) {
        live.free_at(0);
    }
    CHECK(pool.blocks_in_use() == 5);
    CHECK(pool.peak_blocks_in_use() == 20);
    for (int i = 0; i < 10; ++i) {
        live.allocate(32, 8);
    }
    CHECK(pool.blocks_in_use() == 15);
    CHECK(pool.peak_blocks_in_use() == 20);
    for (int i = 0; i < 7; ++i) {
        live.allocate(32, 8);
    }
    CHECK(pool.peak_blocks_in_use() == 22);
}

TEST_CASE("fixed_block_resource: reserve pre-grows in one call and loses no blocks") {
    checking_resource upstream;
    fixed_block_resource pool({.block_size = 32, .initial_blocks = 8}, &upstream);
    live_blocks live(pool);
    live.allocate(32, 8);
    pool.reserve(100);
    CHECK(pool.capacity() == 100);
    CHECK(upstream.allocations() == 2);
    while (pool.blocks_in_use() < 100) {
        live.allocate(32, 8);
    }
    CHECK(upstream.allocations() == 2); // the first chunk's 7 spare blocks were used too
    CHECK(pool.peak_blocks_in_use() == 100);
    pool.reserve(50);
    CHECK(upstream.allocations() == 2);
}

TEST_CASE("fixed_block_resource: release restores the construction state") {
    checking_resource upstream;
    fixed_block_resource pool({.block_size = 32, .initial_blocks = 4}, &upstream);
    for (int i = 0; i < 100; ++i) {
        (void)pool.allocate(32, 8);
    }
    (void)pool.allocate(1000, 8);
    pool.release();
    CHECK(upstream.live_blocks() == 0);
    CHECK(pool.capacity() == 0);
    CHECK(pool.blocks_in_use() == 0);
    CHECK(pool.peak_blocks_in_use() == 0);
    CHECK(pool.chunk_count() == 0);
    CHECK(pool.oversize_blocks() == 0);
    (void)pool.allocate(32, 8);
    CHECK(upstream.last_bytes() == chunk_bytes(4, 32)); // growth starts over
    pool.release();
}

TEST_CASE("fixed_block_resource: bookkeeping stays under 2% of block memory for 16-byte blocks") {
    checking_resource upstream;
    fixed_block_resource pool({.block_size = 16, .block_alignment = 8}, &upstream);
    for (const std::size_t blocks : {1UL, 256UL, 257UL, 100000UL}) {
        while (pool.blocks_in_use() < blocks) {
            (void)pool.allocate(16, 8);
        }
        const std::size_t block_bytes = pool.capacity() * pool.block_size();
        const double overhead = static_cast<double>(upstream.live_bytes() - block_bytes) /
                                static_cast<double>(block_bytes);
        INFO("blocks " << blocks << ", overhead " << overhead * 100 << "%");
        CHECK(overhead < 0.02);
    }
    // The default first chunk: 256 blocks and one 24-byte footer.
    pool.release();
    (void)pool.allocate(16, 8);
    CHECK(upstream.live_bytes() == chunk_bytes(256, 16));
}

TEST_CASE("fixed_block_resource: seeded model test") {
    PMRKIT_SEEDED(seed);
    std::mt19937_64 rng(seed);
    checking_resource upstream;
    fixed_block_resource pool({.block_size = 48,
                               .block_alignment = 16,
                               .initial_blocks = 3,
                               .growth = growth_policy::exponential(1.5),
                               .max_blocks = 5000},
                              &upstream);
    struct model_block {
        void* p;
        std::size_t bytes;
        std::size_t alignment;
    };
    std::vector<model_block> live;
    std::set<void*> addresses;
    std::size_t pooled = 0;
    std::size_t peak = 0;
    for (int op = 0; op < 60000; ++op) {
        const int pick = std::uniform_int_distribution<int>(0, 999)(rng);
        if (pick < 2) {
            pool.release();
            live.clear();
            addresses.clear();
            pooled = 0;
            peak = 0;
            CHECK(upstream.live_blocks() == 0);
        } else if (pick < 5) {
            const std::size_t want = std::uniform_int_distribution<std::size_t>(0, 6000)(rng);
            if (want <= 5000) {
                pool.reserve(want);
                CHECK(pool.capacity() >= want);
            } else {
                CHECK_THROWS_AS(pool.reserve(want), std::bad_alloc);
            }
        } else if (pick < 520 || live.empty()) {
            const bool oversize = std::uniform_int_distribution<int>(0, 19)(rng) == 0;
            const auto bytes = static_cast<std::size_t>(oversize ? 49 + rng() % 500 : rng() % 49);
            const std::size_t alignment = std::size_t{1} << (rng() % (oversize ? 7 : 5));
            void* p = nullptr;
            try {
                p = pool.allocate(bytes, alignment);
            } catch (const std::bad_alloc&) {
                CHECK(pool.capacity() == 5000);
                CHECK(pool.blocks_in_use() == 5000);
                continue;
            }
            REQUIRE(addresses.insert(p).second);
            CHECK(detail::is_aligned(p, alignment));
            live.push_back({p, bytes, alignment});
            if (!oversize) {
                peak = std::max(peak, ++pooled);
            }
        } else {
            const auto i = static_cast<std::size_t>(rng() % live.size());
            const model_block b = live[i];
            live[i] = live.back();
            live.pop_back();
            addresses.erase(b.p);
            pool.deallocate(b.p, b.bytes, b.alignment);
            if (b.bytes <= 48 && b.alignment <= 16) {
                --pooled;
            }
        }
        if (op % 16 == 0) { // blocks_in_use() walks the free list
            REQUIRE(pool.blocks_in_use() == pooled);
        }
        REQUIRE(pool.peak_blocks_in_use() == peak);
        REQUIRE(pool.oversize_blocks() == live.size() - pooled);
        REQUIRE(pool.upstream_bytes() == upstream.live_bytes());
    }
}

TEST_CASE("fixed_block_resource: the header's example") {
    struct node {
        void* links[2];
        int value;
    };
    checking_resource upstream;
    {
        pmrkit::fixed_block_resource pool({.block_size = sizeof(node), .initial_blocks = 1024},
                                          &upstream);
        std::pmr::list<int> list(&pool);
        for (int i = 0; i < 5000; ++i) {
            list.push_back(i);
        }
        CHECK(pool.blocks_in_use() == 5000);
        CHECK(pool.oversize_blocks() == 0);
    }
    CHECK(upstream.live_blocks() == 0);
}

} // namespace pmrkit::test
