// SPDX-License-Identifier: MIT
// The mechanisms under include/pmrkit/detail, each on its own.
#include "pmrkit/detail/bump_region.hpp"
#include "pmrkit/detail/chunk_list.hpp"
#include "pmrkit/detail/free_list.hpp"
#include "pmrkit/detail/math.hpp"
#include "pmrkit/detail/owned_ranges.hpp"
#include "pmrkit/detail/owned_spans.hpp"
#include "pmrkit/detail/size_classes.hpp"
#include "pmrkit/detail/thread_cache.hpp"
#include "pmrkit/detail/transfer_cache.hpp"
#include "pmrkit/detail/upstream_blocks.hpp"
#include "pmrkit/growth_policy.hpp"
#include "support/checking_resource.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <limits>
#include <set>
#include <thread>
#include <vector>

namespace pmrkit::test {

TEST_CASE("detail::math: checked arithmetic throws instead of wrapping") {
    constexpr auto max = std::numeric_limits<std::size_t>::max();
    CHECK(detail::checked_add(2, 3) == 5);
    CHECK_THROWS_AS((void)detail::checked_add(max, 1), std::bad_alloc);
    CHECK_THROWS_AS((void)detail::checked_mul(max / 2, 3), std::bad_alloc);
    CHECK(detail::checked_align_up(17, 16) == 32);
    CHECK_THROWS_AS((void)detail::checked_align_up(max - 3, 16), std::bad_alloc);
    CHECK(detail::natural_alignment(48) == 16);
    CHECK(detail::natural_alignment(4096) == 4096);
    CHECK_FALSE(detail::is_power_of_two(0));
    CHECK_FALSE(detail::is_power_of_two(max));
    // Every power of two, and its neighbours, against the standard's answer.
    for (int shift = 0; shift < std::numeric_limits<std::size_t>::digits; ++shift) {
        const std::size_t x = std::size_t{1} << shift;
        for (const std::size_t y : {x - 1, x, x + 1, x | (x >> 1), x + (x << 1)}) {
            CHECK(detail::is_power_of_two(y) == std::has_single_bit(y));
        }
    }
    CHECK(detail::is_satisfiable(100, 64));
    CHECK_FALSE(detail::is_satisfiable(100, 24));
    CHECK_FALSE(detail::is_satisfiable(max / 2, 8));
    CHECK_FALSE(detail::is_satisfiable(max - 4095, 4096));
}

// The plain-C++ overflow tests (MSVC's) agree with the compiler builtins on every edge.
TEST_CASE("detail::math: portable overflow tests agree with the builtins") {
    constexpr auto max = std::numeric_limits<std::size_t>::max();
    constexpr std::size_t half = max / 2 + 1;
    // root: its square is the first that overflows.
    constexpr std::size_t root = std::size_t{1} << (std::numeric_limits<std::size_t>::digits / 2);
    const std::size_t values[] = {0, 1, 2, 3, 0xffff, root, half - 1, half, max - 1, max};
    for (const std::size_t a : values) {
        for (const std::size_t b : values) {
            std::size_t builtin = 0;
            std::size_t portable = 0;
            CHECK(detail::add_overflows(a, b, builtin) ==
                  detail::add_overflows_portable(a, b, portable));
            CHECK(builtin == portable);
            CHECK(detail::mul_overflows(a, b, builtin) ==
                  detail::mul_overflows_portable(a, b, portable));
            CHECK(builtin == portable);
        }
    }
    std::size_t r = 0;
    CHECK(detail::mul_overflows_portable(half, 2, r));
    CHECK_FALSE(detail::mul_overflows_portable(half - 1, 2, r));
    CHECK(detail::add_overflows_portable(max, 1, r));
}

TEST_CASE("detail::math: is_satisfiable refuses what no allocator could honour") {
    constexpr auto max = std::numeric_limits<std::size_t>::max();
    CHECK(detail::is_satisfiable(0, 1));
    CHECK(detail::is_satisfiable(max / 2 - 4096, 4096));
    CHECK_FALSE(detail::is_satisfiable(max / 2 - 4095, 4096));
    CHECK_FALSE(detail::is_satisfiable(max, 16));
    CHECK_FALSE(detail::is_satisfiable(64, 24));
    CHECK_FALSE(detail::is_satisfiable(64, 0));
    CHECK_FALSE(detail::is_satisfiable(0, (max >> 1) + 1));
    CHECK_FALSE(detail::is_satisfiable(max / 2 + 5, (max >> 1) + 1));
}

TEST_CASE("detail::exact_divisor: multiples below the bound, against division") {
    for (const std::uintptr_t divisor : {1U, 3U, 8U, 24U, 48U, 56U, 640U, 4096U, 13107U}) {
        const std::uintptr_t bound = 100;
        const detail::exact_divisor blocks(divisor, bound);
        for (std::uintptr_t x = 0; x < divisor * (bound + 2); x += (divisor < 64 ? 1 : 7)) {
            CAPTURE(divisor);
            CAPTURE(x);
            CHECK(blocks.below_bound(x) == (x % divisor == 0 && x / divisor < bound));
        }
        // Offsets below a range's start wrap to huge values: never below the bound.
        for (std::uintptr_t below = 1; below <= 2 * divisor; ++below) {
            CHECK_FALSE(blocks.below_bound(0 - below));
        }
    }
}

TEST_CASE("detail::free_list: LIFO, intrusive") {
    std::array<void*, 3> blocks{};
    detail::free_list list;
    const detail::free_list_key key;
    constexpr std::size_t at = 0; // blocks of one word: no double-free mark
    CHECK(list.empty());
    CHECK(list.pop(key, at) == nullptr);
    for (void*& b : blocks) {
        list.push(&b, key, at);
    }
    CHECK(list.size(key) == 3);
    CHECK(list.pop(key, at) == &blocks[2]);
    CHECK(list.pop(key, at) == &blocks[1]);
    CHECK(list.pop(key, at) == &blocks[0]);
    CHECK(list.pop(key, at) == nullptr);
}

TEST_CASE("detail::free_list: split_front detaches the most recent blocks, in order") {
    std::array<void*, 5> blocks{};
    detail::free_list list;
    const detail::free_list_key key;
    constexpr std::size_t at = 0; // blocks of one word: no double-free mark
    for (void*& b : blocks) {
        list.push(&b, key, at);
    }
    CHECK(list.split_front(0, key, at).empty());
    detail::free_list front = list.split_front(2, key, at);
    CHECK(front.size(key) == 2);
    CHECK(list.size(key) == 3);
    CHECK(front.pop(key, at) == &blocks[4]);
    CHECK(front.pop(key, at) == &blocks[3]);
    CHECK(front.pop(key, at) == nullptr);
    detail::free_list rest = list.split_front(3, key, at);
    CHECK(list.empty());
    CHECK(rest.pop(key, at) == &blocks[2]);
    rest.push(&blocks[4], key, at); // a split list is an ordinary list
    CHECK(rest.size(key) == 3);
}

TEST_CASE("detail::free_list: remove_range unlinks a run of blocks, anywhere, and hands them on") {
    std::array<void*, 6> blocks{};
    detail::free_list list;
    const detail::free_list_key key;
    constexpr std::size_t at = 0; // blocks of one word: no double-free mark
    for (void*& b : blocks) {
        list.push(&b, key, at); // the list is 5 4 3 2 1 0
    }
    detail::free_list elsewhere;
    list.remove_range(1, 2, key, at, [&](void* b) { elsewhere.push(b, key, at); }); // 4 and 3
    CHECK(list.size(key) == 4);
    CHECK(elsewhere.pop(key, at) == &blocks[3]);
    CHECK(elsewhere.pop(key, at) == &blocks[4]);
    CHECK(elsewhere.empty());
    list.remove_range(0, 1, key, at, [&](void* b) { elsewhere.push(b, key, at); }); // the front: 5
    CHECK(elsewhere.pop(key, at) == &blocks[5]);
    list.remove_range(2, 1, key, at, [&](void* b) { elsewhere.push(b, key, at); }); // the back: 0
    CHECK(elsewhere.pop(key, at) == &blocks[0]);
    list.remove_range(1, 0, key, at, [&](void* b) { elsewhere.push(b, key, at); });
    CHECK(elsewhere.empty());
    CHECK(list.pop(key, at) == &blocks[2]);
    CHECK(list.pop(key, at) == &blocks[1]);
    CHECK(list.pop(key, at) == nullptr);
}

TEST_CASE("detail::bump_region: aligned carving, refuses what does not fit") {
    alignas(64) std::array<std::byte, 256> buffer{};
    detail::bump_region region(buffer.data() + 1, buffer.data() + buffer.size());
    void* a = region.allocate(10, 32);
    CHECK(a == buffer.data() + 32);
    void* b = region.allocate(1, 1);
    CHECK(b == buffer.data() + 42);
    CHECK(region.allocate(1000, 1) == nullptr);
    CHECK(region.allocate(std::numeric_limits<std::size_t>::max(), 64) == nullptr);
    CHECK(region.remaining() == 256 - 43);
    region.rewind_to(b);
    CHECK(region.remaining() == 256 - 42);
    detail::bump_region fixed(buffer.data(), buffer.data() + 100);
    CHECK(fixed.take(48) == buffer.data());
    CHECK(fixed.take(48) == buffer.data() + 48);
    CHECK(fixed.take(48) == nullptr);
}

TEST_CASE("detail::chunk_list: chunks go back with the size and alignment they came with") {
    checking_resource upstream;
    detail::chunk_list chunks;
    const auto first = chunks.allocate(upstream, 1000, 64);
    CHECK(detail::is_aligned(first.begin, 64));
    CHECK(first.end - first.begin >= 1000);
    CHECK(upstream.last_alignment() == 64);
    const auto second = chunks.allocate(upstream, 13, 4096);
    CHECK(detail::is_aligned(second.begin, 4096));
    CHECK(chunks.count() == 2);
    CHECK(chunks.bytes() == upstream.live_bytes());
    CHECK(chunks.front().begin == second.begin);
    chunks.deallocate_front(upstream);
    CHECK(chunks.front().begin == first.begin);
    chunks.release(upstream);
    CHECK(chunks.empty());
    CHECK(upstream.live_blocks() == 0);
    CHECK_THROWS_AS(chunks.allocate(upstream, std::numeric_limits<std::size_t>::max() - 8, 8),
                    std::bad_alloc);
    CHECK(upstream.allocations() == 2);
}

TEST_CASE("detail::chunk_list: splice moves chunks between lists, sort orders them largest first") {
    checking_resource upstream;
    detail::chunk_list a;
    detail::chunk_list b;
    const std::array<std::size_t, 9> payloads = {300, 100, 700, 100, 500, 900, 200, 700, 100};
    std::vector<std::byte*> begins;
    for (const std::size_t payload : payloads) {
        begins.push_back(a.allocate(upstream, payload, 8).begin);
    }
    b.splice_front(a);
    CHECK(b.front().begin == begins.back());
    CHECK(a.count() == 8);
    CHECK(b.count() == 1);
    CHECK(a.bytes() + b.bytes() == upstream.live_bytes());
    a.splice_front(b);
    CHECK(b.empty());

    a.sort_largest_first();
    CHECK(a.count() == payloads.size());
    CHECK(a.bytes() == upstream.live_bytes());
    std::vector<std::size_t> sizes;
    std::vector<std::byte*> order;
    while (!a.empty()) {
        sizes.push_back(a.front_bytes());
        order.push_back(a.front().begin);
        b.splice_front(a);
    }
    CHECK(std::is_sorted(sizes.rbegin(), sizes.rend()));
    // The footer (three words) follows the payload at the words' alignment.
    CHECK(sizes.front() ==
          detail::align_up(900, alignof(std::size_t)) + detail::chunk_list::overhead);
    // Stable: of the two 700-byte chunks, the newer (nearer the front before sorting) stays first.
    CHECK(order[1] == begins[7]);
    CHECK(order[2] == begins[2]);
    b.release(upstream);
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE("detail::upstream_blocks: exact pass-through, release returns the rest") {
    checking_resource upstream;
    detail::upstream_blocks blocks(&upstream);
    void* a = blocks.allocate(100000, 8);
    void* b = blocks.allocate(5, 4096);
    CHECK(detail::is_aligned(b, 4096));
    CHECK(blocks.count() == 2);
    CHECK(blocks.bytes() == upstream.live_bytes());
    blocks.deallocate(a, 100000, 8);
    CHECK(blocks.count() == 1);
    CHECK(blocks.bytes() == upstream.live_bytes());
    CHECK_THROWS_AS((void)blocks.allocate(std::numeric_limits<std::size_t>::max(), 8),
                    std::bad_alloc);
    CHECK_THROWS_AS((void)blocks.allocate(10, 24), std::bad_alloc);
    // Refused before upstream sees it: the armed failure is still there for the next request.
    upstream.fail_next(1);
    CHECK_THROWS_AS((void)blocks.allocate(10, std::numeric_limits<std::size_t>::max() / 2 + 1),
                    std::bad_alloc);
    CHECK_THROWS_AS((void)blocks.allocate(8, 8), injected_bad_alloc);
    blocks.release();
    CHECK(blocks.count() == 0);
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE("detail::upstream_blocks: many blocks, freed in any order, all found") {
    checking_resource upstream;
    detail::upstream_blocks blocks(&upstream);
    std::vector<void*> live;
    for (std::size_t i = 0; i < 3000; ++i) {
        live.push_back(blocks.allocate(100 + i, 16));
    }
    for (std::size_t i = 0; i < live.size(); i += 3) {
        blocks.deallocate(live[i], 100 + i, 16);
    }
    for (std::size_t i = 1; i < live.size(); i += 3) {
        blocks.deallocate(live[i], 100 + i, 16);
    }
    CHECK(blocks.count() == 1000);
    CHECK(blocks.bytes() == upstream.live_bytes());
    for (std::size_t i = 2; i < live.size(); i += 3) {
        blocks.deallocate(live[i], 100 + i, 16);
    }
    CHECK(blocks.count() == 0);
    blocks.release();
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE("detail::owned_ranges: block starts of the ranges added, with their stride") {
    alignas(64) static std::array<std::byte, 1024> memory{};
    std::byte* const m = memory.data();
    detail::owned_ranges ranges;
    // Added out of order and adjacent: [512, 768) with 64-byte blocks, [0, 240) with 48, [768,
    // 1024) with 32.
    for (const auto& [offset, bytes, stride] : std::array<std::array<std::size_t, 3>, 3>{
             {{512, 256, 64}, {0, 240, 48}, {768, 256, 32}}}) {
        ranges.reserve_one_more();
        ranges.add(m + offset, bytes, stride);
    }
    CHECK(ranges.count() == 3);
    CHECK(ranges.holds_block(m, 48));
    CHECK(ranges.holds_block(m + 192, 48));
    CHECK_FALSE(ranges.holds_block(m + 240, 48)); // past the end of its range
    CHECK_FALSE(ranges.holds_block(m + 8, 48));   // inside a block
    CHECK_FALSE(ranges.holds_block(m, 64));       // the wrong block size
    CHECK(ranges.holds_block(m + 512, 64));
    CHECK(ranges.holds_block(m + 704, 64));
    CHECK(ranges.holds_block(m + 768, 32)); // where one range ends, the next begins
    CHECK_FALSE(ranges.holds_block(m + 768, 64));
    CHECK_FALSE(ranges.holds_block(m + 1024, 32));
    CHECK_FALSE(ranges.holds_block(m + 300, 4)); // in no range

    ranges.remove(m + 512);
    CHECK(ranges.count() == 2);
    CHECK_FALSE(ranges.holds_block(m + 512, 64));
    CHECK(ranges.holds_block(m + 800, 32));
    CHECK(ranges.holds_block(m + 48, 48));
    ranges.remove(m + 768); // the newest: the inline test must forget it too
    CHECK_FALSE(ranges.holds_block(m + 800, 32));
    CHECK(ranges.holds_block(m + 48, 48));
    ranges.clear();
    CHECK_FALSE(ranges.holds_block(m, 48));
}

TEST_CASE("detail::owned_spans: block starts of the spans held, by class") {
    using map = detail::size_class_map<8, 65536, 56>;
    const std::size_t c48 = map::index(48);
    const std::size_t c64 = map::index(64);
    const detail::span_geometry& g48 = map::geometry(c48);
    const detail::span_geometry& g64 = map::geometry(c64);
    detail::owned_spans spans(map::table, 56);
    // Span addresses only: the set never reads the memory at a pointer it checks.
    const auto at = [](std::uintptr_t a) { return reinterpret_cast<std::byte*>(a); };
    const std::uintptr_t base = std::uintptr_t{1} << (sizeof(std::uintptr_t) == 8 ? 40 : 30);
    std::vector<std::uintptr_t> starts;
    for (std::uintptr_t i = 0; i < 40; ++i) { // enough to grow the table twice
        const std::uintptr_t start = base + i * g48.span_bytes;
        spans.reserve_one_more();
        spans.add(at(start), c48);
        starts.push_back(start);
    }
    const auto holds = [&](std::uintptr_t a, std::size_t c) {
        // check_block reports by stopping the program; its test is the same as this one.
        return spans.holds_block(at(a), c);
    };
    for (const std::uintptr_t start : starts) {
        CHECK(holds(start, c48));
        CHECK(holds(start + (g48.blocks - 1) * g48.block_size, c48));
        CHECK_FALSE(holds(start + g48.blocks * g48.block_size, c48)); // past the last block
        CHECK_FALSE(holds(start + 8, c48));                           // inside a block
        CHECK_FALSE(holds(start, c64));                               // another class
    }
    CHECK_FALSE(holds(base - g48.span_bytes, c48));      // a span never added
    for (std::size_t i = 0; i < starts.size(); i += 2) { // every other one, then the rest found
        spans.remove(at(starts[i]), c48);
    }
    for (std::size_t i = 0; i < starts.size(); ++i) {
        CHECK(holds(starts[i], c48) == (i % 2 == 1));
    }
    spans.reserve_one_more();
    spans.add(at(base + 64 * g48.span_bytes), c64);
    CHECK(holds(base + 64 * g48.span_bytes + g64.block_size, c64));
    spans.clear();
    CHECK_FALSE(holds(starts[1], c48));
    // After clear(), as after construction: nothing held, and the next spans found.
    spans.reserve_one_more();
    spans.add(at(starts[0]), c48);
    CHECK(holds(starts[0], c48));
    spans.clear();
    CHECK_FALSE(holds(starts[0], c48));
    for (std::size_t i = 2; i < 6; ++i) {
        spans.reserve_one_more();
        spans.add(at(starts[i]), c48);
    }
    CHECK_FALSE(holds(starts[0], c48));
    CHECK_FALSE(holds(starts[1], c48));
    CHECK(holds(starts[5], c48));
}

TEST_CASE("detail::owned_spans: the smaller spans a class starts with, by level") {
    using map = detail::size_class_map<8, 65536, 56>;
    using policy = detail::size_class_policy;
    const std::size_t c = map::index(64);
    const detail::span_geometry& own = map::geometry(c);
    const std::size_t levels = map::table.first_level(c);
    REQUIRE(levels >= 2);
    detail::owned_spans spans(map::table, 56);
    const auto at = [](std::uintptr_t a) { return reinterpret_cast<std::byte*>(a); };
    const std::uintptr_t base = std::uintptr_t{1} << (sizeof(std::uintptr_t) == 8 ? 40 : 30);
    // A span of each level at a start aligned to the class's own span size, in turn.
    for (std::size_t level = 1; level <= levels; ++level) {
        const detail::span_geometry g = policy::growth_layout(own, level, 56);
        const std::uintptr_t start = base + level * own.span_bytes;
        spans.reserve_one_more();
        spans.add(at(start), c, level);
        const auto smaller = [&](std::uintptr_t a) { return spans.holds_smaller_block(at(a), c); };
        CHECK(smaller(start));
        CHECK(smaller(start + (g.blocks - 1) * g.block_size));
        CHECK_FALSE(smaller(start + g.blocks * g.block_size)); // past its last block
        CHECK_FALSE(smaller(start + 8));                       // inside a block
        CHECK_FALSE(spans.holds_block(at(start), c));          // not a span of the own size
        CHECK_FALSE(spans.holds_smaller_block(at(start), map::index(48))); // another class
        if (level < levels) {
            // A block of the next level's span, where that span would end sooner, is not taken
            // for one of this span: the level is part of the key.
            const detail::span_geometry deeper = policy::growth_layout(own, level + 1, 56);
            CHECK(smaller(start + deeper.blocks * g.block_size));
        }
        spans.remove(at(start), c, level);
        CHECK_FALSE(smaller(start));
    }
    // A deeper span at a start where a shallower one would reach further: a pointer past the
    // deeper span's blocks is foreign even though the shallower level's bound allows it.
    const detail::span_geometry deepest = policy::growth_layout(own, levels, 56);
    spans.reserve_one_more();
    spans.add(at(base), c, levels);
    CHECK(spans.holds_smaller_block(at(base), c));
    CHECK_FALSE(spans.holds_smaller_block(at(base + deepest.blocks * deepest.block_size), c));
}

TEST_CASE("detail::upstream_blocks: contains the blocks it passed through, and only those") {
    checking_resource upstream;
    detail::upstream_blocks blocks(&upstream);
    int other = 0;
    CHECK_FALSE(blocks.contains(&other));
    void* a = blocks.allocate(5000, 64);
    void* b = blocks.allocate(100, 8);
    CHECK(blocks.contains(a));
    CHECK(blocks.contains(b));
    CHECK_FALSE(blocks.contains(&other));
    blocks.deallocate(a, 5000, 64);
    CHECK_FALSE(blocks.contains(a));
    CHECK(blocks.contains(b));
    blocks.release();
    CHECK_FALSE(blocks.contains(b));
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE("growth_policy: linear, exponential, custom") {
    CHECK(growth_policy::linear(10).next_chunk_blocks(100, 50) == 10);
    CHECK(growth_policy::exponential(2.0).next_chunk_blocks(100, 50) == 100);
    CHECK(growth_policy::exponential(1.5).next_chunk_blocks(100, 50) == 75);
    // A factor above 1 grows a chunk by at least one block, also where the product rounds down to
    // the last chunk's size; a factor of 1 keeps it.
    std::size_t last = 1;
    for (const std::size_t expected : {2U, 3U, 4U, 6U, 9U, 13U}) {
        last = growth_policy::exponential(1.5).next_chunk_blocks(0, last);
        CHECK(last == expected);
    }
    CHECK(growth_policy::exponential(1.01).next_chunk_blocks(0, 50) == 51);
    CHECK(growth_policy::exponential(1.0).next_chunk_blocks(0, 50) == 50);
    CHECK(growth_policy::exponential(2.0).next_chunk_blocks(
              0, std::numeric_limits<std::size_t>::max()) ==
          std::numeric_limits<std::size_t>::max() / 2);
    CHECK(growth_policy::custom([](std::size_t capacity) {
              return capacity + 3;
          }).next_chunk_blocks(7, 1) == 10);
}

TEST_CASE("thread_cache: LIFO bins per class, full past their limit, cleared at once") {
    detail::thread_cache<3> cache{detail::free_list_key{}};
    cache.set_limit(1, 2);
    alignas(16) std::array<std::byte, 64> memory{};
    void* a = &memory[0];
    void* b = &memory[16];
    void* c = &memory[32];
    CHECK(cache.pop(1) == nullptr);
    CHECK_FALSE(cache.push(1, a));
    CHECK_FALSE(cache.push(1, b));
    CHECK(cache.push(1, c)); // three blocks, limit two
    CHECK(cache.count(1) == 3);
    CHECK(cache.count(0) == 0);
    CHECK(cache.pop(1) == c);
    CHECK(cache.pop(1) == b);
    CHECK(cache.count(1) == 1);
    CHECK(cache.pop(0) == nullptr); // another class's bin is separate
    cache.clear();
    CHECK(cache.count(1) == 0);
    CHECK(cache.pop(1) == nullptr);
}

TEST_CASE("thread_cache: whole batches taken from and given to a bin, counted") {
    const detail::free_list_key key;
    detail::thread_cache<2> cache{key};
    cache.set_limit(0, 4);
    alignas(16) std::array<std::byte, 112> memory{};
    for (std::size_t i = 0; i < 5; ++i) {
        (void)cache.push(0, &memory[16 * i]);
    }
    detail::free_list batch = cache.take(0, 3); // the three most recent
    CHECK(cache.count(0) == 2);
    CHECK(batch.size(key) == 3);
    CHECK_FALSE(cache.push(0, &memory[80])); // room again below the limit
    detail::thread_cache<2> other{key};
    other.set_limit(0, 4);
    other.give(0, batch, 3);
    CHECK(other.count(0) == 3);
    CHECK(other.pop(0) == &memory[64]);
    CHECK_FALSE(other.push(0, &memory[64]));
    CHECK_FALSE(other.push(0, &memory[96])); // four: at the limit, not past it
    CHECK(other.count(0) == 4);
    CHECK(other.take_all(0).size(key) == 4);
    CHECK(other.count(0) == 0);
    CHECK(other.pop(0) == nullptr);
}

TEST_CASE("thread_cache: refills of a bin start small and double up to the batch") {
    detail::thread_cache<2> cache{detail::free_list_key{}};
    using cache_type = decltype(cache);
    constexpr std::uint32_t batch = 3 * cache_type::first_take;
    CHECK(cache.next_take(0, batch) == cache_type::first_take);
    CHECK(cache.next_take(0, batch) == 2 * cache_type::first_take);
    CHECK(cache.next_take(1, batch) == cache_type::first_take); // each bin its own
    for (int i = 0; i < 1000; ++i) { // never more than the batch, however many refills
        CHECK(cache.next_take(0, batch) == batch);
    }
    CHECK(cache.next_take(1, 1) == 1); // nor for a bin whose next take would be larger
    cache.clear();
    CHECK(cache.next_take(0, batch) == cache_type::first_take);
}

TEST_CASE("detail::transfer_cache: shelves made by the first park, once when threads race") {
    const detail::free_list_key key;
    constexpr std::size_t at = 0; // blocks of one word: no double-free mark
    constexpr std::size_t threads = 4;
    using transfer = detail::transfer_cache<2, threads>;
    detail::free_list batch;
    transfer fresh; // before any park: nothing to take, count or clear
    CHECK_FALSE(fresh.take(0, batch));
    CHECK(fresh.batches(1) == 0);
    fresh.clear();
    CHECK_FALSE(fresh.take(1, batch));

    // Threads park into a fresh cache at once: every batch lands on the one set of shelves.
    transfer shared;
    std::array<void*, threads> blocks{};
    std::array<bool, threads> parked{};
    std::atomic<bool> go{false};
    std::vector<std::thread> parkers;
    for (std::size_t t = 0; t < threads; ++t) {
        parkers.emplace_back([&, t] {
            detail::free_list one;
            one.push(&blocks[t], key, at);
            while (!go.load()) {
                std::this_thread::yield();
            }
            parked[t] = shared.park(1, one);
        });
    }
    go = true;
    for (std::thread& t : parkers) {
        t.join();
    }
    CHECK(std::ranges::all_of(parked, [](bool p) { return p; }));
    CHECK(shared.batches(1) == threads);
    CHECK(shared.batches(0) == 0);
    void* spare = nullptr;
    detail::free_list past_capacity;
    past_capacity.push(&spare, key, at);
    CHECK_FALSE(shared.park(1, past_capacity)); // the shelf holds MaxBatches
    std::set<void*> taken;
    while (shared.take(1, batch)) {
        taken.insert(batch.pop(key, at));
    }
    std::set<void*> given;
    for (void*& b : blocks) {
        given.insert(&b);
    }
    CHECK(taken == given);
}

TEST_CASE("thread_cache: routes reach the bin they were set to") {
    detail::thread_cache<3, 4> cache{detail::free_list_key{}};
    cache.set_limit(2, 1);
    const std::array<std::uint8_t, 4> routes{0, 2, 2, 2};
    cache.set_routes(routes.data());
    alignas(16) std::array<std::byte, 32> memory{};
    CHECK(cache.try_push_routed(3, &memory[0]));
    CHECK(cache.count(2) == 1);
    CHECK_FALSE(cache.try_push_routed(3, &memory[16])); // passes the limit of bin 2: counted
    CHECK(cache.count(2) == 2);
    CHECK(cache.pop(2) == &memory[0]); // but not cached
    cache.push_counted(2, &memory[16]);
    CHECK(cache.count(2) == 1);
    CHECK(cache.pop(2) == &memory[16]);
    CHECK(cache.count(2) == 0);
    CHECK_FALSE(cache.push(2, &memory[16])); // the same bin, by class: at its limit
    CHECK(cache.push(2, &memory[0]));        // past it
    CHECK(cache.pop(2) == &memory[0]);
    CHECK(cache.pop_routed(0) == nullptr); // bin 0 is separate
    CHECK(cache.pop_routed(3) == &memory[16]);
    CHECK(cache.count(2) == 0);
}

TEST_CASE("cache_slots: ids map to slots directly, per thread") {
    detail::cache_slots::slot& s = detail::cache_slots::of(9);
    CHECK(&s == &detail::cache_slots::of(9 + detail::cache_slots::size));
    CHECK(&s != &detail::cache_slots::of(10));
    const detail::cache_slots::slot saved = s;
    s = {9, &s};
    std::thread([] { CHECK(detail::cache_slots::of(9).id != 9); }).join();
    CHECK(detail::cache_slots::of(9).id == 9);
    s = saved;
}

} // namespace pmrkit::test
