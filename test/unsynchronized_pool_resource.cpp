// SPDX-License-Identifier: MIT
// pmrkit::unsynchronized_pool_resource against the standard's specification, sentence by sentence
// (C++20 [mem.res.pool]). The pool sentences are checked over both pool classes (the synchronized
// one's own file adds its threads); each line names the test case that checks it.
//
// [mem.res.pool.overview]
//   [x] frees its memory on destruction even with blocks not deallocated ...... "destruction"
//   [x] pools of blocks of uniform size; a call goes to the pool of the smallest blocks that
//       hold it ................................................................. "dispatch"
//   [x] an exhausted pool takes a chunk from upstream ........................... "replenish"
//   [x] chunk sizes increase geometrically: up to a class's own span size (8 KiB to 1 MiB,
//       capped by max_blocks_per_chunk), as the engine aligns those spans to their size
//       (docs/migration.md) ............ "size_class_resource: a class starts with small spans"
//   [x] requests above the largest block size go directly to upstream ........... "large"
//   [x] pool_options tunes the largest block size and the chunk size ........... "options", "chunk"
//   [x] not for simultaneous use by threads (debug builds detect it: thread_check.cpp)
// [mem.res.pool.options]
//   [x] max_blocks_per_chunk: at most that many blocks per upstream request; 0 or above the
//       limit: the limit ........................................................ "chunk",
//       "options"
//   [x] largest_required_pool_block: larger requests go to upstream; 0 or above the limit: the
//       limit; the threshold may be larger ..................................... "large", "options"
// [mem.res.pool.ctor]
//   [x] obtains memory from upstream, holds a copy of it, does not own it ....... "constructors"
//   [x] tuned by opts ........................................................... "chunk", "large"
//   [x] throws nothing unless upstream->allocate() throws (the constructor takes no memory;
//       synchronized: its control block, see synchronized_pool_resource.hpp) .... "constructors"
//   [x] destructor calls release() .............................................. "destruction"
//   [x] copy constructor and assignment deleted ................................. "constructors"
// [mem.res.pool.mem]
//   [x] release() gives everything back even if blocks are live ................. "release"
//   [x] upstream_resource() returns the constructor's upstream .................. "constructors"
//   [x] options(): the effective values, zeros replaced, sizes rounded .......... "options"
//   [x] do_allocate: at least `bytes`, aligned as memory_resource requires ...... "alignment"
//   [x] do_allocate: upstream only when the pool cannot serve from its own structures;
//       larger than the largest pool: upstream->allocate() ..................... "replenish",
//       "large"
//   [x] do_allocate throws nothing unless upstream throws, and that unchanged ... "exceptions"
//   [x] do_deallocate returns the memory to the pool, throws nothing ............ "replenish"
//   [x] do_is_equal: this == &other ............................................. "is_equal"
// Bad input (undefined in the standard): hardened builds stop on a foreign or wrong-size
// deallocate ...................................................................... "bad input"
// Plus the conformance suite (conformance.cpp) over std_unsync_* fixtures.
#include "pmrkit/unsynchronized_pool_resource.hpp"
#include "pmrkit/detail/span.hpp"
#include "pmrkit/engine/std_pools.hpp"
#include "pmrkit/synchronized_pool_resource.hpp"

#include "support/call_log.hpp"
#include "support/death.hpp"
#include "support/default_resource_guard.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory_resource>
#include <optional>
#include <type_traits>
#include <vector>

namespace pmrkit::test {
namespace {

constexpr std::size_t max_size = std::numeric_limits<std::size_t>::max();

bool aligned(const void* p, std::size_t alignment) {
    return reinterpret_cast<std::uintptr_t>(p) % alignment == 0;
}

} // namespace

TEST_CASE_TEMPLATE("std pools: constructors", Pool, unsynchronized_pool_resource,
                   synchronized_pool_resource) {
    static_assert(std::is_base_of_v<std::pmr::memory_resource, Pool>);
    static_assert(!std::is_copy_constructible_v<Pool> && !std::is_copy_assignable_v<Pool>);
    static_assert(!std::is_final_v<Pool>);
    call_log log;
    {
        const default_resource_guard guard(&log);
        Pool a;
        Pool b{std::pmr::pool_options{.max_blocks_per_chunk = 4}};
        CHECK(a.upstream_resource() == &log);
        CHECK(b.upstream_resource() == &log);
    }
    call_log other;
    Pool c(&other);
    Pool d(std::pmr::pool_options{}, &other);
    CHECK(c.upstream_resource() == &other);
    CHECK(d.upstream_resource() == &other);
    // No memory is taken before the first request.
    CHECK(log.allocations().empty());
    CHECK(other.allocations().empty());
    void* p = c.allocate(64);
    CHECK(!other.allocations().empty());
    c.deallocate(p, 64);
}

TEST_CASE_TEMPLATE("std pools: options are the effective values", Pool,
                   unsynchronized_pool_resource, synchronized_pool_resource) {
    const std::pmr::pool_options limits = Pool(std::pmr::pool_options{}).options();
    // 16-byte blocks in an 8 KiB span beside its header (56 bytes: 508 blocks; 36 in 32 bits).
    CHECK(limits.max_blocks_per_chunk == (8192 - sizeof(detail::span)) / 16);
    CHECK(limits.largest_required_pool_block == 65536);
    const std::pmr::pool_options above = Pool({max_size, max_size}).options();
    CHECK(above.max_blocks_per_chunk == limits.max_blocks_per_chunk);
    CHECK(above.largest_required_pool_block == limits.largest_required_pool_block);
    const std::pmr::pool_options small = Pool({5, 100}).options();
    CHECK(small.max_blocks_per_chunk == 5);
    CHECK(small.largest_required_pool_block == 2048); // raised: always pooled up to 2 KiB
    const std::pmr::pool_options rounded = Pool({1, 3000}).options();
    CHECK(rounded.max_blocks_per_chunk == 1);
    CHECK(rounded.largest_required_pool_block == 3072); // rounded up to a class
    // The normalized values give the same pool again.
    const std::pmr::pool_options again = Pool(rounded).options();
    CHECK(again.max_blocks_per_chunk == rounded.max_blocks_per_chunk);
    CHECK(again.largest_required_pool_block == rounded.largest_required_pool_block);
}

TEST_CASE("std pools: the table shared at the block limit is the capped one that caps nothing") {
    using detail::std_pools;
    std::optional<std_pools::classes> capped;
    const detail::class_table& shared = std_pools::table_for(std_pools::max_blocks_limit, capped);
    CHECK_FALSE(capped.has_value()); // nothing built
    const std_pools::classes at_limit(std_pools::max_blocks_limit, std_pools::exact_alignment);
    const detail::class_table& built = at_limit.table();
    CHECK(shared.count == built.count);
    CHECK(shared.large_alignment == built.large_alignment);
    CHECK(shared.lookup == built.lookup);
    // From the first class used: the map's 8-byte class 0 serves no request (every block is at
    // least 16 bytes), and the cap does shrink its spans.
    for (std::size_t c = built.index_above(0); c < built.count; ++c) {
        CAPTURE(c);
        CHECK(shared.geometry(c).block_size == built.geometry(c).block_size);
        CHECK(shared.geometry(c).span_bytes == built.geometry(c).span_bytes);
        CHECK(shared.geometry(c).header_offset == built.geometry(c).header_offset);
        CHECK(shared.geometry(c).blocks == built.geometry(c).blocks);
        CHECK(shared.locator(c).mask == built.locator(c).mask);
        CHECK(shared.locator(c).offset == built.locator(c).offset);
        CHECK(shared.first_level(c) == built.first_level(c));
    }
    // Below the limit a pool builds its own.
    const detail::class_table& own = std_pools::table_for(std_pools::max_blocks_limit - 1, capped);
    REQUIRE(capped.has_value());
    CHECK(&own == &capped->table());
    CHECK(own.geometry(own.index_above(0)).blocks == std_pools::max_blocks_limit - 1);
}

TEST_CASE_TEMPLATE("std pools: max_blocks_per_chunk holds from the first chunk", Pool,
                   unsynchronized_pool_resource, synchronized_pool_resource) {
    for (const std::size_t cap : std::initializer_list<std::size_t>{1, 2, 3, 16, 100, 1015}) {
        for (const std::size_t bytes :
             std::initializer_list<std::size_t>{8, 24, 64, 200, 1000, 4096, 20000}) {
            CAPTURE(cap);
            CAPTURE(bytes);
            call_log log;
            {
                Pool pool({.max_blocks_per_chunk = cap}, &log);
                std::vector<void*> blocks;
                const std::size_t count = std::min<std::size_t>(3 * cap + 1, 600);
                for (std::size_t i = 0; i < count; ++i) {
                    blocks.push_back(pool.allocate(bytes, 8));
                }
                // Each upstream request holds at most `cap` blocks, so `count` blocks need at
                // least count / cap of them, and none is much larger than `cap` blocks.
                const auto calls = log.allocations();
                CHECK(calls.size() >= (count + cap - 1) / cap);
                for (const call_log::call& c : calls) {
                    CHECK(c.bytes <=
                          std::max<std::size_t>(2 * (cap * (bytes + bytes / 4 + 8) + 128), 8192));
                }
                for (void* p : blocks) {
                    pool.deallocate(p, bytes, 8);
                }
            }
            CHECK(log.checker().live_blocks() == 0);
        }
    }
}

TEST_CASE_TEMPLATE("std pools: a capped pool takes each class's first span by itself", Pool,
                   unsynchronized_pool_resource, synchronized_pool_resource) {
    // Uncapped, the classes' first spans share one upstream block (size_class_heap's starter
    // block), which would hold more than max_blocks_per_chunk blocks.
    call_log log;
    Pool pool({.max_blocks_per_chunk = 4}, &log);
    const std::array<std::size_t, 3> sizes{16, 48, 96};
    std::array<void*, 3> blocks{};
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        blocks[i] = pool.allocate(sizes[i], 8);
    }
    CHECK(log.allocations().size() == sizes.size());
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        CHECK(log.allocations()[i].bytes <= 2 * (4 * sizes[i] + 128)); // 4 blocks and a header
        pool.deallocate(blocks[i], sizes[i], 8);
    }
}

TEST_CASE_TEMPLATE("std pools: large requests pass to upstream exactly", Pool,
                   unsynchronized_pool_resource, synchronized_pool_resource) {
    call_log log;
    Pool pool({.largest_required_pool_block = 4096}, &log);
    REQUIRE(pool.options().largest_required_pool_block == 4096);
    const std::array<call_log::call, 6> requests = {
        {{4097, 1}, {5000, 2}, {5000, 32}, {100000, 8}, {70000, 4096}, {65536 * 4, 16}}};
    for (const call_log::call& r : requests) {
        CAPTURE(r.bytes);
        CAPTURE(r.alignment);
        void* p = pool.allocate(r.bytes, r.alignment);
        CHECK(aligned(p, r.alignment));
        REQUIRE(!log.allocations().empty());
        CHECK(log.allocations().back() == r);
        pool.deallocate(p, r.bytes, r.alignment);
        REQUIRE(!log.deallocations().empty());
        CHECK(log.deallocations().back() == r);
    }
    // At the threshold: pooled (a span, not the request, from upstream), and a block freed is
    // taken again without calling upstream.
    void* a = pool.allocate(4096, 8);
    CHECK(log.allocations().back().bytes > 4096);
    pool.deallocate(a, 4096, 8);
    const std::size_t calls = log.allocations().size();
    void* b = pool.allocate(4096, 8);
    CHECK(log.allocations().size() == calls);
    pool.deallocate(b, 4096, 8);
}

TEST_CASE_TEMPLATE("std pools: dispatch to the smallest blocks that hold the request", Pool,
                   unsynchronized_pool_resource, synchronized_pool_resource) {
    Pool pool;
    for (std::size_t bytes = 1; bytes <= 2048; bytes += bytes / 8 + 1) {
        CAPTURE(bytes);
        // Blocks of a fresh class are carved next to each other: the distance of two neighbours
        // is the block size, at least `bytes` and the smallest block, under 8 bytes or 20% more.
        // (Of three blocks, two are neighbours even if they come from two spans.)
        std::array<std::byte*, 3> p{};
        for (auto& q : p) {
            q = static_cast<std::byte*>(pool.allocate(bytes, 1));
        }
        const auto apart = [](const std::byte* a, const std::byte* b) {
            return static_cast<std::size_t>(a < b ? b - a : a - b);
        };
        const std::size_t distance =
            std::min({apart(p[0], p[1]), apart(p[1], p[2]), apart(p[0], p[2])});
        CHECK(distance >= bytes);
        const std::size_t least = std::max(bytes, detail::min_pooled_block);
        CHECK(distance < std::max(least + 8, least + least / 4 + 1));
        for (auto* q : p) {
            pool.deallocate(q, bytes, 1);
        }
        pool.release();
    }
}

TEST_CASE_TEMPLATE("std pools: replenish from upstream only when a pool is exhausted", Pool,
                   unsynchronized_pool_resource, synchronized_pool_resource) {
    call_log log;
    Pool pool({.max_blocks_per_chunk = 16}, &log);
    std::vector<void*> blocks;
    for (int i = 0; i < 16; ++i) {
        blocks.push_back(pool.allocate(48, 16));
    }
    const std::size_t calls = log.allocations().size();
    CHECK(calls >= 1);
    for (int cycle = 0; cycle < 100; ++cycle) {
        for (void* p : blocks) {
            pool.deallocate(p, 48, 16); // back to the pool ...
        }
        for (void*& p : blocks) {
            p = pool.allocate(48, 16); // ... and served again from it
        }
    }
    CHECK(log.allocations().size() == calls);
    blocks.push_back(pool.allocate(48, 16));
    for (void* p : blocks) {
        pool.deallocate(p, 48, 16);
    }
}

TEST_CASE_TEMPLATE("std pools: release gives everything back, live blocks included", Pool,
                   unsynchronized_pool_resource, synchronized_pool_resource) {
    call_log log;
    Pool pool(&log);
    for (int round = 0; round < 2; ++round) {
        for (std::size_t bytes = 1; bytes < 300000; bytes = bytes * 3 + 1) {
            (void)pool.allocate(bytes, 8);
            (void)pool.allocate(bytes, 64);
        }
        CHECK(log.checker().live_blocks() > 0);
        pool.release();
        CHECK(log.checker().live_blocks() == 0);
    }
}

TEST_CASE_TEMPLATE("std pools: destruction gives everything back", Pool,
                   unsynchronized_pool_resource, synchronized_pool_resource) {
    call_log log;
    {
        Pool pool(&log);
        (void)pool.allocate(100);
        (void)pool.allocate(100000);
        CHECK(log.checker().live_blocks() >= 2); // spans, the large block and its record
    }
    CHECK(log.checker().live_blocks() == 0);
}

TEST_CASE_TEMPLATE("std pools: every alignment to 4096 is honoured", Pool,
                   unsynchronized_pool_resource, synchronized_pool_resource) {
    call_log log;
    Pool pool({.largest_required_pool_block = 8192}, &log);
    for (std::size_t alignment = 1; alignment <= 4096; alignment *= 2) {
        for (const std::size_t bytes :
             std::initializer_list<std::size_t>{0, 1, 17, 45, 100, 1000, 5000, 9000, 70000}) {
            CAPTURE(alignment);
            CAPTURE(bytes);
            void* p = pool.allocate(bytes, alignment);
            CHECK(aligned(p, alignment));
            std::fill_n(static_cast<std::byte*>(p), bytes, std::byte{0x5a});
            pool.deallocate(p, bytes, alignment);
        }
    }
}

TEST_CASE_TEMPLATE("std pools: exceptions only from upstream, unchanged", Pool,
                   unsynchronized_pool_resource, synchronized_pool_resource) {
    call_log log;
    Pool pool(&log);
    log.checker().fail_next(1);
    CHECK_THROWS_AS((void)pool.allocate(64), injected_bad_alloc);
    log.checker().fail_next(1);
    CHECK_THROWS_AS((void)pool.allocate(1 << 20), injected_bad_alloc);
    void* p = pool.allocate(64);
    pool.deallocate(p, 64);
    Pool none(std::pmr::null_memory_resource());
    CHECK_THROWS_AS((void)none.allocate(8), std::bad_alloc);
    CHECK_THROWS_AS((void)none.allocate(max_size / 2, 8), std::bad_alloc);
}

TEST_CASE_TEMPLATE("std pools: is_equal is identity", Pool, unsynchronized_pool_resource,
                   synchronized_pool_resource) {
    Pool a;
    Pool b;
    CHECK(a.is_equal(a));
    CHECK_FALSE(a.is_equal(b));
    CHECK_FALSE(a.is_equal(*std::pmr::get_default_resource()));
}

#if PMRKIT_DEATH_TESTS // see support/death.hpp
// Undefined behaviour in other builds, where ASan reports what it can.
TEST_CASE_TEMPLATE("std pools: bad input stops a hardened build" *
                       doctest::skip(!detail::hardened_build),
                   Pool, unsynchronized_pool_resource, synchronized_pool_resource) {
    const auto dies = [](auto&& misuse) {
        const child_end end = run_in_child([&] {
            Pool pool;
            misuse(pool);
        });
        CHECK(end.aborted);
        // The pool's own report: not any crash, nor a check of the malloc below.
        CHECK(end.stderr_.find("pmrkit: deallocate of a") != std::string::npos);
        CHECK(end.stderr_.find("did not hand out") != std::string::npos);
    };
    dies([](Pool& pool) {
        alignas(64) static std::byte foreign[64];
        (void)pool.allocate(64);
        pool.deallocate(foreign, 64);
    });
    dies([](Pool& pool) {
        void* p = pool.allocate(64);
        pool.deallocate(p, 512); // a size of another class
    });
    dies([](Pool& pool) {
        std::array<std::byte, 64> foreign{};
        pool.deallocate(foreign.data(), 100000); // a large block it never handed out
    });
}
#endif // PMRKIT_DEATH_TESTS

} // namespace pmrkit::test
