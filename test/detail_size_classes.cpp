// SPDX-License-Identifier: MIT
// The size-class mechanisms on their own: the class map, spans, span lists, the large-block cache.
#include "pmrkit/detail/free_list.hpp"
#include "pmrkit/detail/large_block_cache.hpp"
#include "pmrkit/detail/math.hpp"
#include "pmrkit/detail/size_classes.hpp"
#include "pmrkit/detail/span.hpp"
#include "pmrkit/size_class_resource.hpp"
#include "support/checking_resource.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory_resource>
#include <new>
#include <set>
#include <vector>

namespace pmrkit::test {
namespace {

using map8 = detail::size_class_map<8, 65536, sizeof(detail::span)>;
using map16 = detail::size_class_map<16, 65536, 64>;
using map8_fine = detail::size_class_map<8, 65536, sizeof(detail::span), 3>;
using aligned16 = detail::aligned_size_classes<16>;
using aligned64 = detail::aligned_size_classes<64>;
using aligned4096 = detail::aligned_size_classes<4096>;

// The smallest class of M that holds n bytes and is a multiple of a, by search.
template <class M>
std::size_t smallest_class(std::size_t n, std::size_t a) {
    for (std::size_t c = 0; c < M::count; ++c) {
        if (M::size(c) >= std::max(n, detail::min_pooled_block) && M::size(c) % a == 0) {
            return c;
        }
    }
    return M::count;
}

template <class M>
void check_map() {
    CHECK(M::size(M::count - 1) == M::max_size);
    for (std::size_t c = 0; c < M::count; ++c) {
        // The small classes are the powers of two from min_pooled_block, the others multiples.
        CHECK(M::size(c) % (c < M::small_classes ? M::size(c) : M::granularity) == 0);
        CHECK((c < M::small_classes) == (M::size(c) < M::granularity));
        if (c > 0) {
            CHECK(M::size(c) > M::size(c - 1));
        }
    }
    for (std::size_t n = 1; n <= M::max_size; ++n) {
        const std::size_t c = M::index(n);
        REQUIRE(c < M::count);
        // The smallest class that holds n bytes and the smallest block.
        const std::size_t least = std::max(n, detail::min_pooled_block);
        CHECK(M::size(c) >= least);
        if (c > 0) {
            CHECK(M::size(c - 1) < least);
        }
        if (n <= M::lookup_limit) {
            CHECK(M::index_above(n - 1) == c);
        }
        if (n > M::linear_limit) {
            // Internal waste below 1/(S + 1) of the block above the linear classes.
            CHECK((M::size(c) - n) * ((std::size_t{1} << M::steps_log2) + 1) < M::size(c));
        } else if (c < M::small_classes) {
            CHECK(M::size(c) == std::bit_ceil(least));
        } else {
            CHECK(M::size(c) - least < M::granularity);
        }
    }
}

// An upstream whose blocks are `offset` bytes past a page boundary (their page taken from
// `upstream`), or on it where the alignment asked is larger than the offset: so whether a block
// is page-aligned does not depend on where malloc puts it.
class offset_resource final : public std::pmr::memory_resource {
public:
    static constexpr std::size_t page = 4096;

    offset_resource(std::pmr::memory_resource* upstream, std::size_t offset)
        : m_upstream(upstream), m_offset(offset) {}

private:
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        auto* p = static_cast<std::byte*>(m_upstream->allocate(bytes + page, page));
        return alignment <= m_offset ? p + m_offset : p;
    }
    void do_deallocate(void* p, std::size_t bytes, std::size_t /*alignment*/) override {
        const auto address = reinterpret_cast<std::uintptr_t>(p);
        m_upstream->deallocate(reinterpret_cast<void*>(address - address % page), bytes + page,
                               page);
    }
    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

    std::pmr::memory_resource* m_upstream;
    std::size_t m_offset;
};

} // namespace

TEST_CASE("detail::geometric_round/index/size: consistent, waste below one step") {
    for (std::size_t n = 2049; n < (std::size_t{1} << 20); n += 97) {
        const std::size_t r = detail::geometric_round(n, 2);
        CHECK(r >= n);
        CHECK((r - n) * 4 < r);
        const std::size_t i = detail::geometric_index(n, 2, 11);
        CHECK(detail::geometric_size(i, 2, 11) == r);
        CHECK(detail::geometric_index(r, 2, 11) == i);
    }
    CHECK(detail::geometric_round(2049, 2) == 2560);
    CHECK(detail::geometric_round(4096, 2) == 4096);
    CHECK(detail::geometric_index(2049, 2, 11) == 0);
    CHECK(detail::geometric_size(3, 2, 11) == 4096);
}

TEST_CASE("detail::size_class_map: every size maps to the smallest class holding it") {
    check_map<map8>();
    check_map<map16>();
    check_map<map8_fine>();
    CHECK(map8::count == 16 + 4 * 9);
    CHECK(map8::size(0) == 8);
    CHECK(map8::size(15) == 128);
    CHECK(map8::size(16) == 160);
    CHECK(map8_fine::count == 16 + 8 * 9);
    CHECK(map8_fine::size(16) == 144);
    CHECK(map16::size(0) == 16);
    CHECK(map16::size(15) == 256);
}

TEST_CASE("detail::aligned_size_classes: powers of two below the alignment, every multiple of "
          "it to 64 x, then steps") {
    check_map<aligned16>();
    check_map<aligned64>();
    check_map<aligned4096>();
    CHECK(aligned16::small_classes == 0);
    CHECK(aligned64::small_classes == 2);
    CHECK(aligned64::linear_limit == 4096);
    CHECK(aligned64::count == 2 + 64 + 4 * 4);
    CHECK(aligned64::size(0) == 16);
    CHECK(aligned64::size(1) == 32);
    CHECK(aligned64::size(2) == 64);
    CHECK(aligned64::size(65) == 4096);
    CHECK(aligned64::size(66) == 5120);
    CHECK(aligned4096::count == 8 + 16); // 16 to 2048, then every multiple of 4096 to 64 KiB
    CHECK(aligned16::lookup_limit == 4096);
    CHECK(aligned4096::lookup_limit == 65536);
    for (std::size_t c = 0; c < aligned64::count; ++c) {
        CHECK(aligned64::geometry(c).alignment() >= std::min<std::size_t>(64, aligned64::size(c)));
        CHECK(aligned64::geometry(c).blocks >= 8);
    }
}

TEST_CASE("detail::size_class_map: the class of align_up(n, a) is the smallest aligned class") {
    for (std::size_t a = 1; a <= 4096; a *= 2) {
        for (std::size_t n = 1; n <= 20000; n += (n < 2100 ? 1 : 37)) {
            const std::size_t rounded = detail::align_up(n, a);
            const std::size_t c = map8::index(rounded);
            CHECK(c == smallest_class<map8>(n, a));
            CHECK(map8::geometry(c).alignment() >= a);
            const std::size_t fine = map8_fine::index(rounded);
            CHECK(fine == smallest_class<map8_fine>(n, a));
            CHECK(map8_fine::geometry(fine).alignment() >= a);
        }
    }
}

TEST_CASE("detail::size_class_map: spans hold their blocks and header, utilization bounded") {
    double sum = 0;
    double worst = 1;
    for (std::size_t c = 0; c < map8::count; ++c) {
        const detail::span_geometry& g = map8::geometry(c);
        CAPTURE(g.block_size);
        CHECK(detail::is_power_of_two(g.span_bytes));
        CHECK(g.blocks >= 8);
        CHECK(g.header_offset >= g.used_bytes());
        CHECK(g.header_offset % alignof(std::max_align_t) == 0);
        CHECK(g.header_offset + sizeof(detail::span) <= g.span_bytes);
        // Not one more block would fit before the header.
        CHECK(detail::align_up(g.used_bytes() + g.block_size, alignof(std::max_align_t)) +
                  sizeof(detail::span) >
              g.span_bytes);
        const auto mask = map8::locator(c).mask;
        CHECK(mask == ~static_cast<std::uintptr_t>(g.span_bytes - 1));
        CHECK(map8::locator(c).offset == g.header_offset);
        const double u = static_cast<double>(g.used_bytes()) / static_cast<double>(g.span_bytes);
        sum += u;
        worst = std::min(worst, u);
    }
    CHECK(worst >= 0.90);
    CHECK(sum / static_cast<double>(map8::count) >= 0.97);
}

TEST_CASE("detail::class_table: first span levels are the policy's for the table's own spans") {
    const auto check = [](const detail::class_table& table) {
        for (std::size_t c = 0; c < table.count; ++c) {
            CAPTURE(c);
            CHECK(table.first_level(c) == detail::size_class_policy::growth_levels(
                                              table.geometry(c), sizeof(detail::span)));
        }
    };
    check(map8::table);
    check(aligned64::table);
    // A capped table's spans are smaller, so some of its classes start at another level.
    const detail::capped_class_table<map8> capped(4, 1);
    check(capped.table());
    std::size_t differing = 0;
    for (std::size_t c = 0; c < map8::count; ++c) {
        differing += capped.table().first_level(c) != map8::table.first_level(c) ? 1U : 0U;
    }
    CHECK(differing > 0);
}

TEST_CASE("detail::class_table: a route is the class of every last byte in its granule") {
    const auto check = [](const detail::class_table& table) {
        REQUIRE(table.routes != nullptr);
        for (std::size_t last = 0; last < detail::small_block_limit; ++last) {
            CAPTURE(last);
            CHECK(table.routes[last / detail::route_granule] == table.index_above(last));
        }
    };
    check(map8::table);
    check(map16::table);
    check(map8_fine::table);
    check(aligned16::table);
    check(aligned64::table);
    check(aligned4096::table);
    // A capped table has the same classes, so the same routes.
    const detail::capped_class_table<map8> capped(4, 1);
    CHECK(capped.table().routes == map8::table.routes);
}

TEST_CASE("detail::span: lazy carving, owner by mask, live and free counts") {
    const std::size_t c = map8::index(48);
    const detail::span_geometry& g = map8::geometry(c);
    // Aligned operator new rather than std::aligned_alloc, which Windows' C runtime lacks.
    void* memory = ::operator new (g.span_bytes, std::align_val_t{g.span_bytes});
    // Memory that held free blocks before: any word may read as a mark.
    std::memset(memory, 0xA5, g.span_bytes);
    detail::span* s = detail::span::create(memory, g, c);
    CHECK(s->memory() == memory);
    CHECK(s->size_class() == c);
    CHECK(s->bytes() == g.span_bytes);
    CHECK(s->live() == 0);
    CHECK(s->carving());
    std::set<void*> blocks;
    while (void* b = s->carve(g.block_size, detail::pool_mark_at)) {
        CHECK(detail::is_aligned(b, 16));
        CHECK(static_cast<std::byte*>(b) + g.block_size <= reinterpret_cast<std::byte*>(s));
        CHECK(detail::span::owner(b, map8::locator(c).mask, map8::locator(c).offset) == s);
        // Unmarked, so that its first free does not look for a double free (free_list::unmark).
        std::uintptr_t mark_word = 0;
        std::memcpy(&mark_word, static_cast<std::byte*>(b) + detail::pool_mark_at,
                    sizeof mark_word);
        CHECK((mark_word == 0) == (detail::build_protection != detail::link_protection::none));
        blocks.insert(b);
    }
    CHECK(blocks.size() == g.blocks);
    CHECK(s->live() == g.blocks);
    CHECK_FALSE(s->carving());
    const detail::free_list_key key(16);
    const std::size_t mark_at = detail::free_list::mark_offset(g.block_size);
    std::size_t kept = 0;
    for (void* b : blocks) {
        CHECK(s->keep_free(b, key, mark_at) == (++kept == g.blocks));
        CHECK(s->live() == g.blocks - kept);
        CHECK(s->free_count() == kept);
    }
    CHECK(s->has_free());
    detail::free_list taken = s->take_free();
    CHECK_FALSE(s->has_free());
    CHECK(s->free_count() == 0);
    CHECK(s->live() == g.blocks); // counted live as they leave
    CHECK(taken.size(key) == g.blocks);
    ::operator delete (memory, std::align_val_t{g.span_bytes});
}

TEST_CASE("detail::span_list: push, remove anywhere, iterate") {
    const detail::span_geometry& g = map8::geometry(0);
    std::vector<void*> memory;
    std::vector<detail::span*> spans;
    for (int i = 0; i < 4; ++i) {
        memory.push_back(::operator new (g.span_bytes, std::align_val_t{g.span_bytes}));
        spans.push_back(detail::span::create(memory.back(), g, 0));
    }
    detail::span_list list;
    CHECK(list.empty());
    for (detail::span* s : spans) {
        list.push_front(s);
    }
    CHECK(list.count() == 4);
    list.remove(spans[2]); // middle
    list.remove(spans[3]); // front
    list.remove(spans[0]); // back
    CHECK(list.count() == 1);
    CHECK(list.front() == spans[1]);
    CHECK(detail::span_list::next(spans[1]) == nullptr);
    list.push_front(spans[3]);
    CHECK(list.front() == spans[3]);
    CHECK(detail::span_list::next(spans[3]) == spans[1]);
    for (void* m : memory) {
        ::operator delete (m, std::align_val_t{g.span_bytes});
    }
}

TEST_CASE("detail::free_list: walking without popping") {
    std::array<void*, 3> blocks{};
    detail::free_list list;
    const detail::free_list_key key;
    constexpr std::size_t at = 0; // blocks of one word: no double-free mark
    CHECK(list.front() == nullptr);
    for (void*& b : blocks) {
        list.push(&b, key, at);
    }
    CHECK(list.front() == &blocks[2]);
    CHECK(detail::free_list::next(list.front(), key) == &blocks[1]);
    CHECK(detail::free_list::next(&blocks[0], key) == nullptr);
    CHECK(list.size(key) == 3);
}

TEST_CASE("detail::large_block_cache: rounding, best-fit reuse, exact give-back") {
    checking_resource upstream;
    detail::large_block_cache cache(&upstream, 1 << 20, 2);
    CHECK(cache.upstream_size(100000, 16) == 102400); // 4 KiB pages from 64 KiB up
    CHECK(cache.upstream_size(3000, 16) == 3072);     // 256 bytes below
    void* a = cache.allocate(100000, 64);
    CHECK(upstream.last_bytes() == 102400);
    CHECK(upstream.last_alignment() == 64); // its own, not a page's (see the class comment)
    CHECK(detail::is_aligned(a, 64));
    CHECK(cache.live_blocks() == 1);
    cache.deallocate(a, 100000, 64);
    CHECK(cache.cached_blocks() == 1);
    CHECK(cache.cached_bytes() == 102400);
    CHECK(upstream.live_blocks() == 2); // the block and the record table
    CHECK(cache.upstream_bytes() == upstream.live_bytes());
    // A smaller request reuses the larger block when the block is at most twice its size.
    const std::size_t calls = upstream.allocations();
    void* b = cache.allocate(90000, 16);
    CHECK(b == a);
    CHECK(upstream.allocations() == calls);
    CHECK(cache.cached_blocks() == 0);
    // Given back with the size and alignment it was taken with, not those asked this time
    // (checking_resource checks them).
    cache.deallocate(b, 90000, 16);
    CHECK(cache.cached_bytes() == 102400);
    void* half = cache.allocate(51200, 16);
    CHECK(half == a);
    cache.deallocate(half, 51200, 16);
    // One that would waste more goes upstream; the kept block, which would take live and kept
    // blocks past 1.5 times the most asked for at once, goes back first.
    const std::size_t deallocations = upstream.deallocations();
    void* c = cache.allocate(51100, 16);
    CHECK(c != a);
    CHECK(upstream.allocations() == calls + 1);
    CHECK(upstream.deallocations() == deallocations + 1);
    CHECK(cache.cached_blocks() == 0);
    cache.deallocate(c, 51100, 16);

    cache.trim();
    CHECK(cache.cached_blocks() == 0);
    CHECK(upstream.live_blocks() == 0);
    CHECK(cache.upstream_bytes() == 0);
}

TEST_CASE("detail::large_block_cache: best fit: the smallest kept block that holds a request") {
    // Two kept blocks, of different buckets, both able to serve the request: the smaller one
    // serves it, whichever was freed first (a first fit would take the older, or the newer).
    for (const bool larger_first : {true, false}) {
        CAPTURE(larger_first);
        checking_resource upstream;
        detail::large_block_cache cache(&upstream, 1 << 20, 2);
        const std::size_t larger = 200000;
        const std::size_t smaller = 120000;
        const std::size_t asked = 110000;
        REQUIRE(detail::large_bucket_of(cache.upstream_size(larger, 8)) !=
                detail::large_bucket_of(cache.upstream_size(smaller, 8)));
        REQUIRE(cache.upstream_size(larger, 8) - asked <= asked); // both hold it, at most twice
        // Live at once, so that both fit within 1.5 times the most live.
        void* l = cache.allocate(larger, 8);
        void* s = cache.allocate(smaller, 8);
        if (larger_first) {
            cache.deallocate(l, larger, 8);
            cache.deallocate(s, smaller, 8);
        } else {
            cache.deallocate(s, smaller, 8);
            cache.deallocate(l, larger, 8);
        }
        REQUIRE(cache.cached_blocks() == 2);
        const std::size_t calls = upstream.allocations();
        void* p = cache.allocate(asked, 8);
        CHECK(p == s);
        CHECK(upstream.allocations() == calls);
        CHECK(cache.cached_bytes() == cache.upstream_size(larger, 8));
        cache.deallocate(p, asked, 8);
        cache.release();
        CHECK(upstream.live_blocks() == 0);
    }
}

TEST_CASE("detail::large_block_cache: a kept block serves only requests its address is aligned "
          "for") {
    // Blocks of 16 bytes' alignment, 64 bytes past a page boundary or on it.
    for (const std::size_t offset : {std::size_t{64}, std::size_t{0}}) {
        CAPTURE(offset);
        checking_resource upstream;
        offset_resource pages(&upstream, offset);
        detail::large_block_cache cache(&pages, 1 << 20, 2);
        void* a = cache.allocate(100000, 16);
        REQUIRE(detail::is_aligned(a, offset_resource::page) == (offset == 0));
        cache.deallocate(a, 100000, 16);
        REQUIRE(cache.cached_blocks() == 1);
        const std::size_t calls = upstream.allocations();
        void* b = cache.allocate(100000, offset_resource::page);
        CHECK(detail::is_aligned(b, offset_resource::page));
        CHECK((b == a) == (offset == 0));
        CHECK(upstream.allocations() == calls + (offset == 0 ? 0 : 1));
        cache.deallocate(b, 100000, offset_resource::page);
        cache.release();
        CHECK(upstream.live_blocks() == 0);
    }
}

TEST_CASE("detail::large_block_cache: kept blocks bounded by need, bucket, bytes and age") {
    checking_resource upstream;
    detail::large_block_cache cache(&upstream, 1 << 20, 2);
    // Four blocks of one bucket live at once: at most two of them are kept.
    std::vector<void*> blocks;
    for (int i = 0; i < 4; ++i) {
        blocks.push_back(cache.allocate(100000, 8));
    }
    for (void* p : blocks) {
        cache.deallocate(p, 100000, 8);
    }
    CHECK(cache.cached_blocks() == 2);
    CHECK(upstream.live_blocks() == 3);
    // At most max_bytes in all: a 1 MiB block does not fit beside them.
    void* big = cache.allocate(1 << 20, 8);
    cache.deallocate(big, 1 << 20, 8);
    CHECK(cache.cached_blocks() == 2);
    CHECK(cache.upstream_bytes() == upstream.live_bytes());
    // Kept blocks not reused go back (after exactly decay_operations calls: the next case).
    for (std::size_t i = 0; i < detail::large_block_cache::decay_operations; ++i) {
        void* p = cache.allocate(5000, 8);
        cache.deallocate(p, 5000, 8);
    }
    CHECK(cache.cached_blocks() == 1); // the 5000-byte block, reused each time
    CHECK(cache.cached_bytes() == 5120);
    // The bucket of the blocks that went back counts none: two of its blocks are kept again.
    void* a = cache.allocate(100000, 8);
    void* b = cache.allocate(100000, 8);
    cache.deallocate(a, 100000, 8);
    cache.deallocate(b, 100000, 8);
    CHECK(cache.cached_blocks() == 3);
    cache.release();
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE("detail::large_block_cache: a kept block goes back after decay_operations calls") {
    checking_resource upstream;
    detail::large_block_cache cache(&upstream, 1 << 20, 2);
    constexpr std::size_t decay = detail::large_block_cache::decay_operations;
    void* kept = cache.allocate(100000, 8);
    cache.deallocate(kept, 100000, 8);
    REQUIRE(cache.cached_blocks() == 1);
    const std::size_t kept_bytes = cache.cached_bytes();
    const std::size_t deallocations = upstream.deallocations();
    // Large-block calls, allocate or deallocate, of a block of another bucket that is reused
    // each time (so never goes back itself).
    void* other = nullptr;
    const std::size_t other_bytes = 5000;
    const std::size_t other_held = cache.upstream_size(other_bytes, 8);
    const auto call = [&] {
        if (other == nullptr) {
            other = cache.allocate(other_bytes, 8);
        } else {
            cache.deallocate(other, other_bytes, 8);
            other = nullptr;
        }
    };
    for (std::size_t i = 0; i < decay; ++i) {
        call();
    }
    CHECK(upstream.deallocations() == deallocations);
    CHECK(cache.cached_bytes() == kept_bytes + (other == nullptr ? other_held : 0));
    call(); // the first past the decay
    CHECK(upstream.deallocations() == deallocations + 1);
    CHECK(cache.cached_bytes() == (other == nullptr ? other_held : 0));
    cache.release();
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE("detail::large_block_cache: what is not cacheable passes through exactly") {
    checking_resource upstream;
    detail::large_block_cache cache(&upstream, 1 << 20, 2);
    void* over_aligned = cache.allocate(5000, 8192);
    CHECK(upstream.last_bytes() == 5000);
    CHECK(upstream.last_alignment() == 8192);
    void* huge = cache.allocate((std::size_t{64} << 20) + 1, 16);
    CHECK(upstream.last_bytes() == (std::size_t{64} << 20) + 1);
    cache.deallocate(over_aligned, 5000, 8192);
    cache.deallocate(huge, (std::size_t{64} << 20) + 1, 16);
    CHECK(cache.cached_blocks() == 0);
    CHECK_THROWS_AS((void)cache.allocate(std::numeric_limits<std::size_t>::max(), 16),
                    std::bad_alloc);
    CHECK_THROWS_AS((void)cache.allocate(100000, 24), std::bad_alloc);

    detail::large_block_cache off(&upstream, 0, 2);
    void* exact = off.allocate(100000, 16);
    CHECK(upstream.last_bytes() == 100000);
    CHECK(upstream.last_alignment() == 16);
    off.deallocate(exact, 100000, 16);
    CHECK(off.cached_blocks() == 0);
    off.release();
    cache.release();
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE("detail::large_block_cache: release gives back live and cached blocks") {
    checking_resource upstream;
    detail::large_block_cache cache(&upstream, 1 << 20, 2);
    (void)cache.allocate(50000, 16);
    cache.deallocate(cache.allocate(70000, 16), 70000, 16);
    CHECK(cache.live_blocks() == 1);
    CHECK(cache.cached_blocks() == 1);
    cache.release();
    CHECK(upstream.live_blocks() == 0);
    CHECK(cache.live_blocks() == 0);
    CHECK(cache.cached_blocks() == 0);
    CHECK(cache.upstream_bytes() == 0);
}

} // namespace pmrkit::test
