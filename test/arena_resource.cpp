// SPDX-License-Identifier: MIT
// arena_resource beyond the conformance suite: options, growth, own blocks for large requests,
// LIFO give-back, marks and scopes, reset and retention, release, byte limit, observers, ASan
// poisoning, and a seeded model test of nested marks and rewinds.
#include "pmrkit/arena_resource.hpp"
#include "support/checking_resource.hpp"
#include "support/request.hpp"
#include "support/seed.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

namespace pmrkit::test {
namespace {

constexpr std::size_t footer = detail::chunk_list::overhead;

// Bytes upstream sees for an own block of `bytes` (the footer is placed 8-aligned after it).
constexpr std::size_t own_block_bytes(std::size_t bytes) {
    return detail::align_up(bytes, alignof(std::size_t)) + footer;
}

bool is_aligned(const void* p, std::size_t alignment) {
    return reinterpret_cast<std::uintptr_t>(p) % alignment == 0;
}

} // namespace

static_assert(std::is_final_v<arena_resource>);
static_assert(!std::is_copy_constructible_v<arena_resource>);
static_assert(!std::is_move_constructible_v<arena_resource>);
static_assert(!std::is_copy_constructible_v<arena_scope>);
static_assert(std::is_nothrow_copy_constructible_v<arena_resource::marker>);

TEST_CASE("arena_resource: options are normalized and readable back") {
    const arena_resource defaults;
    CHECK(defaults.options().first_chunk_size == 4096);
    CHECK(defaults.options().max_chunk_size == std::size_t{1} << 20);
    CHECK(defaults.upstream_resource() == std::pmr::get_default_resource());

    const arena_resource odd({.first_chunk_size = 1000, .max_chunk_size = 10});
    CHECK(odd.options().first_chunk_size == 1008);
    CHECK(odd.options().max_chunk_size == 1008);

    const arena_resource tiny({.first_chunk_size = 1});
    CHECK(tiny.options().first_chunk_size == 256);

    CHECK_THROWS_AS(arena_resource({.growth_factor = 0.5}), std::invalid_argument);
    CHECK_THROWS_AS(arena_resource({.growth_factor = std::numeric_limits<double>::quiet_NaN()}),
                    std::invalid_argument);
}

TEST_CASE("arena_resource: takes no memory until first use; the initial buffer is used first") {
    checking_resource upstream;
    alignas(16) std::array<std::byte, 1024> buffer{};
    arena_resource arena(buffer.data(), buffer.size(), {}, &upstream);
    CHECK(upstream.allocations() == 0);
    CHECK(arena.upstream_bytes() == 0);
    void* a = arena.allocate(100, 16);
    CHECK(a == buffer.data());
    void* b = arena.allocate(900, 8);
    CHECK(b == buffer.data() + 104);
    CHECK(upstream.allocations() == 0);
    CHECK(arena.bytes_used() == 1004);
    void* c = arena.allocate(64, 8); // does not fit the buffer's tail
    CHECK(upstream.allocations() == 1);
    CHECK(upstream.last_bytes() == 4096);
    CHECK(arena.bytes_used() == 1004 + 64); // the buffer's unused tail is not counted
    CHECK(arena.upstream_bytes() == 4096);
    CHECK(is_aligned(c, 8));
}

TEST_CASE("arena_resource: chunks grow geometrically up to the cap") {
    checking_resource upstream;
    arena_resource arena({.first_chunk_size = 1024, .growth_factor = 2.0, .max_chunk_size = 4096},
                         &upstream);
    std::vector<std::size_t> sizes;
    for (int i = 0; i < 400; ++i) {
        const std::size_t before = upstream.allocations();
        (void)arena.allocate(100, 8);
        if (upstream.allocations() != before) {
            sizes.push_back(upstream.last_bytes());
        }
    }
    // 40 000 bytes: 1 KiB, 2 KiB, then 4 KiB chunks (40 of 100 bytes each).
    REQUIRE(sizes.size() >= 5);
    CHECK(sizes[0] == 1024);
    CHECK(sizes[1] == 2048);
    for (std::size_t i = 2; i < sizes.size(); ++i) {
        CHECK(sizes[i] == 4096);
    }
    CHECK(arena.chunk_count() == sizes.size());
    CHECK(arena.upstream_allocations() == sizes.size());

    arena_resource slow({.first_chunk_size = 1024, .growth_factor = 1.5}, &upstream);
    (void)slow.allocate(1000, 8);
    (void)slow.allocate(1000, 8);
    CHECK(upstream.last_bytes() == 1536);
}

TEST_CASE("arena_resource: a request larger than the next chunk gets its own exact block") {
    checking_resource upstream;
    arena_resource arena({.first_chunk_size = 1024}, &upstream);
    void* small = arena.allocate(16, 8);
    CHECK(upstream.last_bytes() == 1024);
    void* huge = arena.allocate(100000, 64);
    CHECK(upstream.last_bytes() == own_block_bytes(100000));
    CHECK(upstream.last_alignment() == 64);
    CHECK(is_aligned(huge, 64));
    // The current chunk stays current, and the growth sequence did not move.
    void* next = arena.allocate(16, 8);
    CHECK(next == static_cast<std::byte*>(small) + 16);
    (void)arena.allocate(1000, 8); // does not fit the first chunk's rest
    CHECK(upstream.last_bytes() == 2048);
    CHECK(arena.bytes_used() == 16 + 100000 + 16 + 1000);
    CHECK(upstream.allocations() == 3);
}

TEST_CASE("arena_resource: every power-of-two alignment up to 4096, in chunks and own blocks") {
    checking_resource upstream;
    arena_resource arena({.first_chunk_size = 256}, &upstream);
    for (std::size_t alignment = 1; alignment <= 4096; alignment *= 2) {
        for (const std::size_t bytes :
             {std::size_t{1}, std::size_t{7}, std::size_t{100}, std::size_t{5000}}) {
            void* p = arena.allocate(bytes, alignment);
            CHECK_MESSAGE(is_aligned(p, alignment), bytes << " bytes, alignment " << alignment);
        }
    }
}

TEST_CASE("arena_resource: freeing the newest block moves the cursor back, others are no-ops") {
    checking_resource upstream;
    arena_resource arena(&upstream);
    void* a = arena.allocate(64, 16);
    void* b = arena.allocate(64, 16);
    const std::size_t used = arena.bytes_used();
    arena.deallocate(a, 64, 16); // not the newest: kept until reset
    CHECK(arena.bytes_used() == used);
    arena.deallocate(b, 64, 16);
    CHECK(arena.bytes_used() == used - 64);
    CHECK(arena.allocate(64, 16) == b);
    CHECK(arena.peak_bytes_used() == used);

    // Scratch buffers freed before the next allocation cost no space.
    const std::size_t before = arena.bytes_used();
    for (int i = 0; i < 1000; ++i) {
        const std::pmr::vector<int> scratch(100, i, &arena);
        CHECK(scratch[99] == i);
    }
    CHECK(arena.bytes_used() == before);
    CHECK(upstream.allocations() == 1);
}

TEST_CASE("arena_resource: rewind frees what came after the marker and gives chunks back") {
    checking_resource upstream;
    arena_resource arena({.first_chunk_size = 1024}, &upstream);
    void* first = arena.allocate(100, 8);
    const auto m = arena.mark();
    const std::size_t used = arena.bytes_used();
    void* after_mark = arena.allocate(100, 8);
    for (int i = 0; i < 100; ++i) {
        (void)arena.allocate(200, 8);
    }
    (void)arena.allocate(50000, 8); // own block
    CHECK(upstream.live_blocks() > 2);
    arena.rewind(m);
    CHECK(upstream.live_blocks() == 1);
    CHECK(arena.chunk_count() == 1);
    CHECK(arena.bytes_used() == used);
    CHECK(arena.allocate(100, 8) == after_mark);
    CHECK(first != after_mark);

    arena_resource keeping({.first_chunk_size = 1024, .rewind_keeps_chunks = true}, &upstream);
    const auto start = keeping.mark();
    for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 100; ++i) {
            (void)keeping.allocate(200, 8);
        }
        keeping.rewind(start);
        CHECK(keeping.bytes_used() == 0);
    }
    const std::size_t calls = keeping.upstream_allocations();
    for (int i = 0; i < 100; ++i) {
        (void)keeping.allocate(200, 8);
    }
    CHECK(keeping.upstream_allocations() == calls);
}

TEST_CASE("arena_resource: scopes nest and rewind on exit") {
    checking_resource upstream;
    arena_resource arena({.first_chunk_size = 512}, &upstream);
    (void)arena.allocate(10, 1);
    const std::size_t outer_used = arena.bytes_used();
    {
        const arena_scope outer(arena);
        CHECK(&outer.arena() == &arena);
        std::pmr::vector<int> a(300, 1, &arena);
        std::size_t inner_used = 0;
        {
            const arena_scope inner(arena);
            inner_used = arena.bytes_used();
            std::pmr::vector<int> b(1000, 2, &arena);
            CHECK(arena.bytes_used() > inner_used);
        }
        CHECK(arena.bytes_used() == inner_used);
        CHECK(a[299] == 1);
    }
    CHECK(arena.bytes_used() == outer_used);
    CHECK(upstream.live_blocks() == 1);
}

TEST_CASE("arena_resource: reset keeps memory, so a request like the last takes none") {
    checking_resource upstream;
    arena_resource arena({.first_chunk_size = 1024}, &upstream);
    REQUIRE(run_request(arena, 0) == 300);
    const std::size_t first_calls = upstream.allocations();
    const std::size_t spanned = upstream.live_bytes();
    REQUIRE(first_calls > 1);
    arena.reset();
    // The request spanned several chunks: they went back, and one chunk of their total came.
    CHECK(upstream.deallocations() == first_calls);
    CHECK(upstream.allocations() == first_calls + 1);
    CHECK(upstream.last_bytes() == spanned);
    CHECK(upstream.live_bytes() == spanned);
    CHECK(arena.chunk_count() == 1);
    for (int request = 1; request < 10; ++request) {
        CHECK(run_request(arena, 0) == 300);
        CHECK(arena.peak_bytes_used() > 0);
        arena.reset();
        CHECK(arena.bytes_used() == 0);
        CHECK(arena.peak_bytes_used() == 0);
        CHECK_MESSAGE(upstream.allocations() == first_calls + 1, "request " << request);
        CHECK_MESSAGE(upstream.deallocations() == first_calls, "request " << request);
    }
    CHECK(arena.chunk_count() == 1);
    CHECK(upstream.live_blocks() == 1);
}

TEST_CASE("arena_resource: after reset, a request that spanned chunks is served from one region") {
    checking_resource upstream;
    arena_resource arena({.first_chunk_size = 1024}, &upstream);
    // 28 blocks of 104 bytes: 9 in the 1 KiB chunk, 19 in the 2 KiB one.
    for (int i = 0; i < 28; ++i) {
        (void)arena.allocate(104, 8);
    }
    REQUIRE(upstream.allocations() == 2);
    arena.reset();
    CHECK(upstream.deallocations() == 2);
    CHECK(upstream.allocations() == 3);
    CHECK(upstream.last_bytes() == 1024 + 2048);
    CHECK(upstream.last_alignment() == alignof(std::max_align_t));
    for (int round = 0; round < 3; ++round) {
        auto* first = static_cast<std::byte*>(arena.allocate(104, 8));
        for (int i = 1; i < 28; ++i) {
            CHECK(arena.allocate(104, 8) == first + 104 * i);
        }
        arena.reset();
    }
    CHECK(upstream.allocations() == 3);
    CHECK(upstream.deallocations() == 2);
    // The growth sequence went on: the next new chunk is the third of it. The chunk of 3072
    // bytes holds 29 blocks.
    for (int i = 0; i < 30; ++i) {
        (void)arena.allocate(104, 8);
    }
    CHECK(upstream.allocations() == 4);
    CHECK(upstream.last_bytes() == 4096);
}

TEST_CASE("arena_resource: after reset, over-aligned requests settle within a few cycles") {
    // Aligned to 2048 and 1024, the blocks may fall where the chunk that replaced the old ones
    // needs more padding than they did, depending on the addresses upstream returns: a cycle then
    // takes what it lacks, its reset adds that, and the cycles then take nothing
    // (arena_resource::reset). The bound: each cycle that takes adds at least a first chunk (256
    // bytes) to the merged one, which needs no more than the blocks' sizes plus their alignments
    // (4,687 bytes) to hold any placement: at most 12 cycles after the first.
    checking_resource upstream;
    arena_resource arena({.first_chunk_size = 256}, &upstream);
    std::vector<std::size_t> taken;
    for (int cycle = 0; cycle < 16; ++cycle) {
        const std::size_t before = upstream.allocations();
        CHECK(is_aligned(arena.allocate(562, 2048), 2048));
        CHECK(is_aligned(arena.allocate(446, 1024), 1024));
        (void)arena.allocate(609, 1);
        taken.push_back(upstream.allocations() - before);
        arena.reset();
    }
    const auto settled = std::find(taken.begin(), taken.end(), std::size_t{0});
    REQUIRE(settled != taken.end());
    CHECK(settled - taken.begin() <= 13);
    CHECK(std::all_of(settled, taken.end(), [](std::size_t calls) { return calls == 0; }));
}

TEST_CASE("arena_resource: own blocks of large requests join the chunk that replaces them") {
    checking_resource upstream;
    arena_resource arena({.first_chunk_size = 1024}, &upstream);
    for (int round = 0; round < 3; ++round) {
        void* big = arena.allocate(50000, 64);
        CHECK(is_aligned(big, 64));
        for (int i = 0; i < 25; ++i) {
            (void)arena.allocate(96, 8);
        }
        CHECK(arena.bytes_used() >= 50000 + 25 * 96);
        arena.reset();
    }
    // Round 0: the own block, the 1 and 2 KiB chunks; its reset: one chunk of their total, which
    // serves rounds 1 and 2 alone.
    const std::size_t total = own_block_bytes(50000) + 1024 + 2048;
    CHECK(upstream.allocations() == 4);
    CHECK(upstream.deallocations() == 3);
    CHECK(upstream.last_bytes() == total);
    CHECK(arena.chunk_count() == 1);
    CHECK(arena.upstream_bytes() == total);
}

TEST_CASE("arena_resource: reset keeps the chunks when their total passes a cap") {
    checking_resource upstream;
    // Three requests of 28 blocks of 104 bytes: 1 and 2 KiB chunks, 3072 bytes in all.
    const auto three_requests = [](arena_resource& arena) {
        for (int round = 0; round < 3; ++round) {
            for (int i = 0; i < 28; ++i) {
                (void)arena.allocate(104, 8);
            }
            arena.reset();
        }
    };
    SUBCASE("max_chunk_size") {
        arena_resource arena({.first_chunk_size = 1024, .max_chunk_size = 2048}, &upstream);
        three_requests(arena);
        CHECK(arena.chunk_count() == 2);
        CHECK(upstream.allocations() == 2);
    }
    SUBCASE("max_retained") {
        arena_resource arena({.first_chunk_size = 1024, .max_retained = 3000}, &upstream);
        three_requests(arena);
        // Trimmed as before, the 2 KiB chunk kept: each later request takes the next chunk of the
        // growth sequence (4, then 8 KiB), which its reset gives back.
        CHECK(arena.chunk_count() == 1);
        CHECK(arena.upstream_bytes() == 2048);
        CHECK(upstream.allocations() == 4);
        CHECK(upstream.last_bytes() == 8192);
    }
    SUBCASE("max_retained met exactly") {
        // One request over the 1, 2 and 4 KiB chunks, 7 KiB in all: too much to merge, so reset
        // trims, largest first: the 4 KiB chunk goes back, 2 KiB stay, and the 1 KiB chunk fills
        // what is left of the cap exactly, so it stays too.
        arena_resource arena({.first_chunk_size = 1024, .max_retained = 3072}, &upstream);
        for (int i = 0; i < 50; ++i) {
            (void)arena.allocate(104, 8);
        }
        REQUIRE(upstream.allocations() == 3);
        arena.reset();
        CHECK(arena.chunk_count() == 2);
        CHECK(arena.upstream_bytes() == 3072);
        CHECK(upstream.deallocations() == 1);
    }
    // Each arena gave every chunk back when it was destroyed.
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE("arena_resource: an upstream exception in reset leaves an empty, usable arena") {
    checking_resource upstream;
    arena_resource arena({.first_chunk_size = 1024}, &upstream);
    for (int i = 0; i < 28; ++i) {
        (void)arena.allocate(104, 8);
    }
    upstream.fail_next(1);
    arena.reset(); // noexcept: the replacing chunk fails, the old ones are gone
    CHECK(upstream.live_blocks() == 0);
    CHECK(arena.chunk_count() == 0);
    CHECK(arena.upstream_bytes() == 0);
    void* p = arena.allocate(100, 8);
    CHECK(p != nullptr);
    CHECK(upstream.last_bytes() == 4096); // the growth sequence was not restarted
    CHECK(upstream.live_blocks() == 1);
}

TEST_CASE("arena_resource: reset trims to max_retained, keeping the largest chunks") {
    checking_resource upstream;
    arena_resource arena({.first_chunk_size = 1024, .max_chunk_size = 8192, .max_retained = 40000},
                         &upstream);
    // Chunks of 1, 2, 4 and 8 KiB, and own blocks for 20 000 and 30 000 bytes.
    for (int i = 0; i < 140; ++i) {
        (void)arena.allocate(100, 8);
    }
    (void)arena.allocate(20000, 8);
    (void)arena.allocate(30000, 8);
    REQUIRE(arena.chunk_count() == 6);
    arena.reset();
    // Largest first, each one that still fits: 30 024, not 20 024, 8192, not 4096, not 2048, 1024.
    const std::size_t kept = own_block_bytes(30000) + 8192 + 1024;
    CHECK(arena.upstream_bytes() == kept);
    CHECK(arena.chunk_count() == 3);
    CHECK(upstream.live_bytes() == kept);
    // The next request starts in the largest chunk.
    const std::size_t calls = upstream.allocations();
    void* first = arena.allocate(100, 8);
    for (int i = 0; i < 280; ++i) {
        (void)arena.allocate(100, 8);
    }
    CHECK(upstream.allocations() == calls);
    CHECK(upstream.last_bytes() == own_block_bytes(30000));
    CHECK(first != nullptr);
}

TEST_CASE("arena_resource: release restores the construction state, initial buffer included") {
    checking_resource upstream;
    alignas(64) std::array<std::byte, 512> buffer{};
    arena_resource arena(buffer.data(), buffer.size(), {.first_chunk_size = 1024}, &upstream);
    for (int round = 0; round < 2; ++round) {
        CHECK(arena.allocate(64, 64) == buffer.data());
        for (int i = 0; i < 100; ++i) {
            (void)arena.allocate(100, 8);
        }
        (void)arena.allocate(100000, 8);
        arena.reset();
        (void)arena.allocate(600, 8); // into a kept chunk
        arena.release();
        CHECK(upstream.live_blocks() == 0);
        CHECK(arena.chunk_count() == 0);
        CHECK(arena.bytes_used() == 0);
        CHECK(arena.upstream_bytes() == 0);
    }
    (void)arena.allocate(600, 8);
    CHECK(upstream.last_bytes() == 1024); // the growth sequence restarted
}

TEST_CASE("arena_resource: byte_limit throws std::bad_alloc and the arena stays usable") {
    checking_resource upstream;
    arena_resource arena({.first_chunk_size = 1024, .byte_limit = 3000}, &upstream);
    void* a = arena.allocate(1000, 8);
    (void)arena.allocate(1000, 8);
    CHECK_THROWS_AS((void)arena.allocate(1001, 8), std::bad_alloc);
    CHECK_THROWS_AS((void)arena.allocate(5000, 8), std::bad_alloc);
    CHECK(arena.bytes_used() == 2000);
    void* b = arena.allocate(1000, 8);
    CHECK(arena.bytes_used() == 3000);
    CHECK_THROWS_AS((void)arena.allocate(1, 1), std::bad_alloc);
    arena.deallocate(b, 1000, 8);
    CHECK(arena.allocate(1000, 8) == b);
    arena.reset();
    CHECK(arena.allocate(1000, 8) != nullptr);
    CHECK(a != nullptr);
}

TEST_CASE("arena_resource: impossible requests throw std::bad_alloc before upstream") {
    checking_resource upstream;
    arena_resource arena(&upstream);
    // volatile: these requests are meant to be impossible, which compilers would warn about.
    volatile std::size_t max = std::numeric_limits<std::size_t>::max();
    CHECK_THROWS_AS((void)arena.allocate(max, 8), std::bad_alloc);
    CHECK_THROWS_AS((void)arena.allocate(max - 4000, 4096), std::bad_alloc);
    CHECK_THROWS_AS((void)arena.allocate(max / 2, 8), std::bad_alloc);
    volatile std::size_t not_power_of_two = 24;
    CHECK_THROWS_AS((void)arena.allocate(8, not_power_of_two), std::bad_alloc);
    volatile std::size_t zero = 0;
    CHECK_THROWS_AS((void)arena.allocate(8, zero), std::bad_alloc);
    CHECK(upstream.allocations() == 0);
    CHECK(arena.allocate(8, 8) != nullptr);
}

TEST_CASE("arena_resource: an upstream exception leaves the arena as it was") {
    checking_resource upstream;
    arena_resource arena({.first_chunk_size = 512}, &upstream);
    void* a = arena.allocate(400, 8);
    const std::size_t used = arena.bytes_used();
    const std::size_t reserved = arena.upstream_bytes();
    upstream.fail_next(2);
    CHECK_THROWS_AS((void)arena.allocate(400, 8), injected_bad_alloc);
    CHECK_THROWS_AS((void)arena.allocate(100000, 8), injected_bad_alloc);
    CHECK(arena.bytes_used() == used);
    CHECK(arena.upstream_bytes() == reserved);
    CHECK(arena.allocate(16, 8) == static_cast<std::byte*>(a) + 400);
    CHECK(upstream.last_bytes() == 512);
    (void)arena.allocate(400, 8);
    CHECK(upstream.last_bytes() == 1024); // the failed calls did not advance the growth
}

TEST_CASE("arena_resource: zero-byte requests get distinct addresses") {
    arena_resource arena;
    void* a = arena.allocate(0, 1);
    void* b = arena.allocate(0, 1);
    CHECK(a != b);
    arena.deallocate(b, 0, 1);
    CHECK(arena.allocate(0, 1) == b);
}

TEST_CASE("arena_resource: memory not handed out is poisoned under AddressSanitizer" *
          doctest::skip(!detail::asan_enabled)) {
    // Skipped in the builds where it cannot run (the decorator), and discarded there.
    if constexpr (detail::asan_enabled) {
#if defined(PMRKIT_ASAN)
        const auto poisoned = [](const void* p) { return __asan_address_is_poisoned(p) != 0; };
        alignas(16) std::array<std::byte, 256> buffer{};
        {
            arena_resource arena(buffer.data(), buffer.size(), {.first_chunk_size = 1024});
            CHECK(poisoned(buffer.data()));
            auto* a = static_cast<std::byte*>(arena.allocate(64, 16));
            CHECK_FALSE(poisoned(a));
            CHECK_FALSE(poisoned(a + 63));
            CHECK(poisoned(a + 64)); // the region's unused tail

            const auto m = arena.mark();
            auto* b = static_cast<std::byte*>(arena.allocate(64, 16));
            auto* in_chunk = static_cast<std::byte*>(arena.allocate(512, 16));
            auto* own = static_cast<std::byte*>(arena.allocate(4096, 16));
            CHECK_FALSE(poisoned(b));
            CHECK_FALSE(poisoned(in_chunk + 511));
            arena.rewind(m);
            CHECK(poisoned(b)); // use after rewind is caught
            CHECK_FALSE(poisoned(a + 63));
            (void)in_chunk; // given back to upstream: ASan's allocator reports it as freed
            (void)own;

            auto* c = static_cast<std::byte*>(arena.allocate(32, 16));
            arena.deallocate(c, 32, 16);
            CHECK(poisoned(c)); // LIFO give-back

            (void)arena.allocate(600, 16); // a chunk, kept by reset below
            auto* d = static_cast<std::byte*>(arena.allocate(100, 16));
            arena.reset();
            CHECK(poisoned(d)); // use after reset is caught, in a kept chunk too
            CHECK(poisoned(a));
        }
        CHECK_FALSE(poisoned(buffer.data())); // the buffer is the user's again
        CHECK_FALSE(poisoned(buffer.data() + 255));
#endif
    }
}

TEST_CASE("arena_resource: seeded model test of nested marks and rewinds") {
    PMRKIT_SEEDED(seed);
    std::mt19937_64 rng(seed);
    checking_resource upstream;
    alignas(64) std::array<std::byte, 2048> buffer{};
    const bool keep = std::uniform_int_distribution<int>(0, 1)(rng) == 1;
    INFO("rewind_keeps_chunks " << keep);
    arena_resource arena(
        buffer.data(), buffer.size(),
        {.first_chunk_size = 512, .max_chunk_size = 8192, .rewind_keeps_chunks = keep}, &upstream);

    struct block {
        std::byte* p;
        std::size_t bytes;
        std::size_t alignment;
        std::byte fill;
    };
    struct frame {
        arena_resource::marker marker;
        std::size_t used;
        std::vector<block> blocks;
    };
    std::vector<frame> frames{{arena.mark(), 0, {}}};
    std::map<std::uintptr_t, std::uintptr_t> intervals; // live [begin, end)
    std::uint8_t next_fill = 1;

    const auto check_intact = [](const block& b) {
        for (std::size_t i = 0; i < b.bytes; ++i) {
            if (b.p[i] != b.fill) {
                FAIL_CHECK("block " << static_cast<void*>(b.p) << " changed at offset " << i);
                return;
            }
        }
    };
    const auto drop = [&](const block& b) {
        check_intact(b);
        intervals.erase(reinterpret_cast<std::uintptr_t>(b.p));
    };

    for (int op = 0; op < 20000; ++op) {
        const int pick = std::uniform_int_distribution<int>(0, 99)(rng);
        frame& top = frames.back();
        if (pick < 60) {
            const std::size_t bytes =
                std::uniform_int_distribution<int>(0, 9)(rng) == 0
                    ? std::uniform_int_distribution<std::size_t>(0, 20000)(rng)
                    : std::uniform_int_distribution<std::size_t>(0, 300)(rng);
            const std::size_t alignment = std::size_t{1}
                                          << std::uniform_int_distribution<int>(0, 8)(rng);
            auto* p = static_cast<std::byte*>(arena.allocate(bytes, alignment));
            REQUIRE(is_aligned(p, alignment));
            const auto begin = reinterpret_cast<std::uintptr_t>(p);
            const auto end = begin + std::max<std::size_t>(bytes, 1);
            const auto next = intervals.lower_bound(begin);
            REQUIRE_MESSAGE((next == intervals.end() || end <= next->first),
                            "overlap at op " << op);
            REQUIRE_MESSAGE((next == intervals.begin() || std::prev(next)->second <= begin),
                            "overlap at op " << op);
            intervals.emplace(begin, end);
            const block b{p, bytes, alignment, static_cast<std::byte>(next_fill++ | 1u)};
            std::fill(p, p + bytes, b.fill);
            top.blocks.push_back(b);
        } else if (pick < 70 && !top.blocks.empty()) {
            // Free the newest block (LIFO): the arena takes its bytes back.
            const block b = top.blocks.back();
            top.blocks.pop_back();
            drop(b);
            const std::size_t used = arena.bytes_used();
            arena.deallocate(b.p, b.bytes, b.alignment);
            CHECK(arena.bytes_used() <= used);
        } else if (pick < 80 && frames.size() < 12) {
            frames.push_back({arena.mark(), arena.bytes_used(), {}});
        } else if (pick < 95 && frames.size() > 1) {
            // Rewind to a random enclosing mark: everything since is dropped.
            const auto level =
                std::uniform_int_distribution<std::size_t>(1, frames.size() - 1)(rng);
            for (std::size_t f = level; f < frames.size(); ++f) {
                for (const block& b : frames[f].blocks) {
                    drop(b);
                }
            }
            arena.rewind(frames[level].marker);
            CHECK(arena.bytes_used() == frames[level].used);
            frames.erase(frames.begin() + static_cast<std::ptrdiff_t>(level), frames.end());
        } else if (pick == 99) {
            for (const frame& f : frames) {
                for (const block& b : f.blocks) {
                    drop(b);
                }
            }
            arena.reset();
            CHECK(arena.bytes_used() == 0);
            frames.assign(1, {arena.mark(), 0, {}});
        }
        CHECK(arena.bytes_used() <= arena.peak_bytes_used());
    }
    for (const frame& f : frames) {
        for (const block& b : f.blocks) {
            check_intact(b);
        }
    }
    arena.release();
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE("arena_resource: the header's example") {
    struct request {
        int id;
    };
    const std::array<request, 3> requests{{{1}, {2}, {3}}};
    std::size_t handled = 0;
    const auto handle = [&handled](const request& r, std::pmr::vector<std::pmr::string>& fields) {
        fields.emplace_back("request " + std::to_string(r.id) + " with a long enough field");
        handled += fields.size();
    };

    std::array<std::byte, 16384> stack_buffer;
    pmrkit::arena_resource arena(stack_buffer.data(), stack_buffer.size());
    for (const request& r : requests) {
        {
            std::pmr::vector<std::pmr::string> fields(&arena);
            handle(r, fields);
        }
        arena.reset(); // the containers are gone; the memory is kept
    }
    CHECK(handled == 3);
    CHECK(arena.upstream_allocations() == 0);
}

TEST_CASE("arena_resource: stats() in the common shape agree with the observers and upstream") {
    checking_resource upstream;
    arena_resource arena(arena_options{.first_chunk_size = 1024}, &upstream);
    for (int i = 0; i < 100; ++i) {
        (void)arena.allocate(40, 8);
    }
    const resource_stats s = arena.stats();
    CHECK(s.resource == "arena_resource");
    CHECK(s.bytes_in_use == arena.bytes_used());
    CHECK(s.peak_bytes_in_use == arena.peak_bytes_used());
    CHECK(s.upstream_allocations == upstream.allocations());
    CHECK(s.upstream_bytes == upstream.live_bytes());
    CHECK_FALSE(s.blocks_in_use.has_value());
    arena.reset();
    CHECK(arena.stats().bytes_in_use == 0);
    CHECK(arena.stats().peak_bytes_in_use == 0);
}

} // namespace pmrkit::test
