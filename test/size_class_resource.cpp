// SPDX-License-Identifier: MIT
// size_class_resource beyond the conformance suite: options, class choice, alignment, lazy spans,
// reuse, giving memory back (trim, automatic, release), large blocks, statistics, errors, the
// utilization report, and a seeded model test.
#include "pmrkit/size_class_resource.hpp"
#include "pmrkit/aligned_pool_resource.hpp"
#include "support/checking_resource.hpp"
#include "support/live_blocks.hpp"
#include "support/pool_model.hpp"
#include "support/seed.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <sstream>
#include <type_traits>
#include <vector>

namespace pmrkit::test {
namespace {

using classes = size_class_resource::classes;

// The class a request should land in, by search: the smallest multiple of the alignment.
std::size_t expected_class(std::size_t bytes, std::size_t alignment) {
    for (std::size_t c = 0; c < classes::count; ++c) {
        if (classes::size(c) >= std::max(bytes, detail::min_pooled_block) &&
            classes::size(c) % alignment == 0) {
            return c;
        }
    }
    return classes::count;
}

// The span a class of Map starts with, smaller than its own.
template <class Map = classes>
detail::span_geometry first_span(std::size_t c) {
    return detail::size_class_policy::growth_layout(Map::geometry(c), Map::table.first_level(c),
                                                    sizeof(detail::span));
}

// The spans a class takes from a fresh pool to hold n blocks: its smaller ones, each doubling the
// last, then spans of its own size.
std::size_t spans_holding(std::size_t c, std::size_t n) {
    const detail::span_geometry& own = classes::geometry(c);
    std::size_t spans = 0;
    for (std::size_t level = classes::table.first_level(c); level > 0 && n > 0; --level) {
        n -= std::min(
            n, detail::size_class_policy::growth_layout(own, level, sizeof(detail::span)).blocks);
        ++spans;
    }
    return spans + (n + own.blocks - 1) / own.blocks;
}

std::size_t blocks_in_use(const size_class_resource& r) {
    std::size_t n = 0;
    for (std::size_t c = 0; c < r.class_count(); ++c) {
        n += r.class_stats(c).blocks_in_use;
    }
    return n;
}

} // namespace

static_assert(std::is_final_v<size_class_resource>);
static_assert(!std::is_copy_constructible_v<size_class_resource>);
static_assert(!std::is_move_constructible_v<size_class_resource>);
static_assert(!std::is_copy_assignable_v<size_class_resource>);

TEST_CASE("size_class_resource: options are normalized and readable back") {
    CHECK(size_class_resource().options().max_pooled_size == 32768);
    CHECK(size_class_resource().class_count() == classes::index(32768) + 1);
    CHECK(size_class_resource({.max_pooled_size = 100}).options().max_pooled_size == 2048);
    CHECK(size_class_resource({.max_pooled_size = 40000}).options().max_pooled_size == 40960);
    CHECK(size_class_resource({.max_pooled_size = 1 << 30}).options().max_pooled_size == 65536);
    const size_class_resource r({.max_empty_spans = 3,
                                 .max_empty_bytes = 4,
                                 .empty_span_decay = 6,
                                 .large_cache_bytes = 5,
                                 .large_cache_per_bucket = 7});
    CHECK(r.options().max_empty_spans == 3);
    CHECK(r.options().max_empty_bytes == 4);
    CHECK(r.options().empty_span_decay == 6);
    CHECK(r.options().large_cache_bytes == 5);
    CHECK(r.options().large_cache_per_bucket == 7);
}

TEST_CASE("size_class_resource: takes no memory until a class is used, then one span") {
    checking_resource upstream;
    size_class_resource pool(&upstream);
    CHECK(pool.upstream_resource() == &upstream);
    CHECK(upstream.allocations() == 0);
    CHECK(pool.upstream_bytes() == 0);
    void* p = pool.allocate(100, 8);
    // The smallest first span (see growth_levels), cut from the block the classes' first spans
    // share (size_class_heap::starter_bytes).
    const detail::span_geometry g = first_span(classes::index(104));
    CHECK(g.span_bytes == detail::size_class_policy::min_growth_span);
    CHECK(upstream.allocations() == 1);
    CHECK(upstream.last_bytes() == detail::size_class_heap::starter_bytes);
    // Asked for unaligned (see starter_bytes), the span at its first span boundary.
    CHECK(upstream.last_alignment() == detail::size_class_heap::starter_alignment);
    CHECK(reinterpret_cast<std::uintptr_t>(p) % g.span_bytes == 0);
    CHECK(pool.upstream_bytes() == upstream.last_bytes());
    CHECK(pool.span_count() == 1);
    pool.deallocate(p, 100, 8);
}

TEST_CASE("size_class_resource: a class starts with small spans and doubles them to its own") {
    checking_resource upstream;
    size_class_resource pool(&upstream);
    const std::size_t c = classes::index(32768);
    const detail::span_geometry& own = classes::geometry(c);
    const std::size_t levels = detail::size_class_policy::growth_levels(own, sizeof(detail::span));
    REQUIRE(levels == detail::size_class_policy::max_growth_levels);
    // One block live holds a span of one block, not the class's own (1 MiB of 31).
    std::vector<void*> blocks{pool.allocate(32768, 8)};
    CHECK(upstream.last_bytes() == own.span_bytes >> levels);
    CHECK(pool.upstream_bytes() <= 2 * 32768 + 4096);
    std::vector<std::size_t> spans{upstream.last_bytes()};
    while (spans.size() < levels + 2) {
        const std::size_t calls = upstream.allocations();
        blocks.push_back(pool.allocate(32768, 8));
        std::memset(blocks.back(), 0x5a, 32768);
        CHECK(detail::is_aligned(blocks.back(), 32768));
        if (upstream.allocations() != calls) {
            CHECK(upstream.last_alignment() == upstream.last_bytes());
            spans.push_back(upstream.last_bytes());
        }
    }
    // Each new span doubles the last, up to the class's own, then stays there.
    for (std::size_t i = 1; i <= levels; ++i) {
        CHECK(spans[i] == 2 * spans[i - 1]);
    }
    CHECK(spans[levels] == own.span_bytes);
    CHECK(spans[levels + 1] == own.span_bytes);
    CHECK(std::set<void*>(blocks.begin(), blocks.end()).size() == blocks.size());
    CHECK(pool.class_stats(c).blocks_in_use == blocks.size());
    // Freed and trimmed, the spans go back, and the class starts small again.
    for (void* p : blocks) {
        pool.deallocate(p, 32768, 8);
    }
    pool.trim();
    CHECK(pool.upstream_bytes() == 0);
    void* p = pool.allocate(32768, 8);
    CHECK(upstream.last_bytes() == own.span_bytes >> levels);
    pool.deallocate(p, 32768, 8);
}

TEST_CASE("size_class_resource: a pool with no block live keeps one span per class") {
    checking_resource upstream;
    size_class_resource pool(&upstream);
    // Blocks above the fast paths' reach, in classes that start with small spans: five blocks
    // take two or three spans of each class.
    const std::size_t sizes[] = {2560, 7168, 12288, 24576, 32768};
    std::vector<void*> blocks;
    std::size_t largest_spans = 0; // the bytes of each class's largest span, summed
    for (std::size_t bytes : sizes) {
        std::size_t largest = 0;
        for (int i = 0; i < 5; ++i) {
            const std::size_t calls = upstream.allocations();
            blocks.push_back(pool.allocate(bytes, 8));
            if (upstream.allocations() != calls) {
                largest = std::max(largest, upstream.last_bytes());
            }
        }
        CHECK(pool.class_stats(classes::index(bytes)).spans >= 2);
        largest_spans += largest;
    }
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        pool.deallocate(blocks[i], sizes[i / 5], 8);
    }
    for (std::size_t bytes : sizes) {
        CAPTURE(bytes);
        CHECK(pool.class_stats(classes::index(bytes)).spans == 1);
        CHECK(pool.class_stats(classes::index(bytes)).blocks_in_use == 0);
    }
    CHECK(pool.upstream_bytes() == largest_spans);
    CHECK(upstream.live_bytes() == largest_spans);
    const std::size_t c = classes::index(32768);
    // A pool that empties and fills again in cycles keeps its spans from then on: the second
    // cycle takes a span again, and its end gives none back.
    const auto cycle = [&] {
        std::vector<void*> again;
        for (int i = 0; i < 12; ++i) {
            again.push_back(pool.allocate(32768, 8));
        }
        for (void* p : again) {
            pool.deallocate(p, 32768, 8);
        }
    };
    cycle();
    CHECK(pool.class_stats(c).spans == 2);
    const std::size_t calls = upstream.allocations();
    cycle();
    cycle();
    CHECK(pool.class_stats(c).spans == 2);
    CHECK(upstream.allocations() == calls);

    // While a block is live, a large one included, nothing goes back.
    size_class_resource other(&upstream);
    std::vector<void*> again;
    for (int i = 0; i < 5; ++i) {
        again.push_back(other.allocate(32768, 8));
    }
    void* large = other.allocate(1 << 20, 8);
    for (void* p : again) {
        other.deallocate(p, 32768, 8);
    }
    const std::size_t spans = other.span_count();
    CHECK(spans >= 2);
    other.deallocate(large, 1 << 20, 8);
    CHECK(other.span_count() == 1);
}

TEST_CASE("size_class_resource: each request lands in the smallest class able to align it") {
    checking_resource upstream;
    size_class_resource pool({.max_pooled_size = 65536}, &upstream);
    for (std::size_t alignment = 1; alignment <= 4096; alignment *= 2) {
        for (std::size_t bytes = 0; bytes <= 65536; bytes += (bytes < 2100 ? 1 : 509)) {
            const std::size_t c = expected_class(bytes, alignment);
            if (c == classes::count || classes::size(c) > 65536) {
                continue;
            }
            CAPTURE(bytes);
            CAPTURE(alignment);
            void* p = pool.allocate(bytes, alignment);
            CHECK(detail::is_aligned(p, alignment));
            CHECK(pool.class_stats(c).blocks_in_use == 1);
            pool.deallocate(p, bytes, alignment);
            CHECK(pool.class_stats(c).blocks_in_use == 0);
        }
    }
}

// The sizes of the classes of Map that start with the smallest span, smallest first.
template <class Map>
std::vector<std::size_t> sizes_starting_smallest() {
    std::vector<std::size_t> sizes;
    for (std::size_t c = Map::index(detail::min_pooled_block); c < Map::count; ++c) {
        if (first_span<Map>(c).span_bytes == detail::size_class_policy::min_growth_span) {
            sizes.push_back(Map::size(c));
        }
    }
    return sizes;
}

TEST_CASE("size_class_resource: the classes' first spans of 1 KiB share upstream blocks") {
    using heap = detail::size_class_heap;
    checking_resource upstream;
    size_class_resource pool(&upstream);
    const std::vector<std::size_t> sizes = sizes_starting_smallest<classes>();
    REQUIRE(sizes.size() > heap::starter_spans);
    REQUIRE(sizes.size() <= heap::starter_spans * heap::starter_blocks);
    std::vector<void*> blocks;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        CAPTURE(i);
        blocks.push_back(pool.allocate(sizes[i], 8));
        // A block of starter_spans spans, asked for unaligned, then the next.
        CHECK(upstream.allocations() == i / heap::starter_spans + 1);
        CHECK(upstream.last_bytes() == heap::starter_bytes);
        CHECK(upstream.last_alignment() == heap::starter_alignment);
        CHECK(detail::is_aligned(blocks.back(), detail::size_class_policy::min_growth_span));
    }
    CHECK(pool.span_count() == sizes.size());
    CHECK(pool.upstream_bytes() == upstream.live_bytes());
    CHECK(pool.stats().upstream_allocations == upstream.allocations());
    // A block goes back with the last span cut from it, not before.
    for (std::size_t i = 1; i < blocks.size(); ++i) {
        pool.deallocate(blocks[i], sizes[i], 8);
    }
    pool.trim();
    CHECK(upstream.live_blocks() == 1);
    CHECK(upstream.live_bytes() == heap::starter_bytes);
    CHECK(pool.upstream_bytes() == upstream.live_bytes());
    pool.deallocate(blocks[0], sizes[0], 8);
    pool.trim();
    CHECK(upstream.live_blocks() == 0);
    CHECK(pool.upstream_bytes() == 0);
    // A new one is taken when a class needs a first span again.
    const std::size_t before = upstream.allocations();
    pool.deallocate(pool.allocate(sizes[1], 8), sizes[1], 8);
    CHECK(upstream.allocations() == before + 1);
    CHECK(upstream.last_bytes() == heap::starter_bytes);
    CHECK(pool.stats().upstream_allocations == upstream.allocations());
}

TEST_CASE("size_class_resource: past its starter blocks, a first span is a request of its own") {
    // aligned_pool_resource at 16 bytes has more classes that start with the smallest span than
    // the starter blocks hold; the engine is the same.
    using heap = detail::size_class_heap;
    checking_resource upstream;
    aligned_pool_resource pool({.alignment = 16}, &upstream);
    const std::vector<std::size_t> sizes =
        sizes_starting_smallest<detail::aligned_size_classes<16>>();
    const std::size_t shared = heap::starter_spans * heap::starter_blocks;
    REQUIRE(sizes.size() > shared);
    std::vector<void*> blocks;
    for (std::size_t i = 0; i <= shared; ++i) {
        blocks.push_back(pool.allocate(sizes[i], 16));
    }
    CHECK(upstream.allocations() == heap::starter_blocks + 1);
    CHECK(upstream.last_bytes() == detail::size_class_policy::min_growth_span);
    CHECK(upstream.last_alignment() == detail::size_class_policy::min_growth_span);
    CHECK(pool.span_count() == shared + 1);
    CHECK(pool.upstream_bytes() == upstream.live_bytes());
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        pool.deallocate(blocks[i], sizes[i], 16);
    }
    pool.trim();
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE("size_class_resource: a span holds exactly its blocks; freed blocks come back LIFO") {
    checking_resource upstream;
    size_class_resource pool(&upstream);
    const std::size_t c = classes::index(64);
    const std::size_t per_span = first_span(c).blocks;
    REQUIRE(per_span > 9);
    std::vector<void*> blocks;
    for (std::size_t i = 0; i < per_span; ++i) {
        blocks.push_back(pool.allocate(64, 64));
    }
    CHECK(pool.class_stats(c).spans == 1);
    CHECK(std::set<void*>(blocks.begin(), blocks.end()).size() == per_span);
    blocks.push_back(pool.allocate(64, 64));
    CHECK(pool.class_stats(c).spans == 2);
    CHECK(pool.class_stats(c).upstream_allocations == 1); // the first, cut from the starter block
    CHECK(pool.class_stats(c).blocks_in_use == per_span + 1);
    pool.deallocate(blocks[5], 64, 64);
    pool.deallocate(blocks[9], 64, 64);
    CHECK(pool.allocate(64, 64) == blocks[9]);
    CHECK(pool.allocate(57, 8) == blocks[5]); // 57 bytes round up to the same 64-byte class
    for (void* p : blocks) {
        pool.deallocate(p, 64, 64);
    }
    CHECK(pool.class_stats(c).blocks_in_use == 0);
    CHECK(pool.class_stats(c).peak_spans == 2);
}

TEST_CASE("size_class_heap: take() carves fresh blocks across spans, counted live") {
    // What a concurrent pool's refills take from its central heap: n blocks of the class, here
    // all carved from fresh spans, the class's first ones smaller than its own.
    checking_resource upstream;
    detail::size_class_heap heap(classes::table, {}, &upstream);
    const std::size_t c = classes::index(512);
    REQUIRE(classes::table.first_level(c) > 0);
    const std::size_t n = 3 * classes::geometry(c).blocks + 5;
    detail::free_list taken;
    REQUIRE(heap.take(c, n, taken) == n);
    CHECK(heap.class_stats(c).blocks_in_use == n);
    const std::size_t spans = heap.span_count();
    CHECK(spans > 3);
    std::set<void*> distinct;
    detail::free_list back;
    while (void* p = taken.pop(heap.key(), detail::pool_mark_at)) {
        CHECK(reinterpret_cast<std::uintptr_t>(p) % 512 == 0);
        std::memset(p, 0x5a, 512);
        distinct.insert(p);
        back.push(p, heap.key(), detail::pool_mark_at);
    }
    CHECK(distinct.size() == n);
    heap.give(c, back);
    CHECK(heap.class_stats(c).blocks_in_use == 0);
    // No block is live, as the heap counts: the last free of a large block gives back the
    // smaller spans the class started with.
    heap.deallocate(heap.allocate(1 << 20, 16), 1 << 20, 16);
    CHECK(heap.span_count() < spans);
    heap.trim();
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE("size_class_resource: after many frees, a class hands out one span's blocks at a time") {
    // Freed in random order, the blocks of many spans come back span by span, not interleaved as
    // they were freed (only the most recent frees, kept on the class's list uncounted, come first).
    checking_resource upstream;
    size_class_resource pool(&upstream);
    const std::size_t c = classes::index(24);
    const std::size_t per_span = classes::geometry(c).blocks;
    using heap = detail::size_class_heap;
    const std::size_t uncounted =
        std::max(heap::min_max_uncounted, heap::uncounted_bytes / classes::size(c));
    std::vector<void*> blocks((8 + 2 * uncounted / per_span) * per_span);
    const std::size_t spans = spans_holding(c, blocks.size());
    for (void*& p : blocks) {
        p = pool.allocate(24, 8);
    }
    REQUIRE(pool.class_stats(c).spans == spans);
    PMRKIT_SEEDED(seed);
    std::mt19937_64 rng(seed);
    std::shuffle(blocks.begin(), blocks.end(), rng);
    for (void* p : blocks) {
        pool.deallocate(p, 24, 8);
    }
    const auto span_of = [&](const void* p) {
        return reinterpret_cast<std::uintptr_t>(p) / classes::geometry(c).span_bytes;
    };
    std::size_t changes = 0;
    std::uintptr_t previous = 0;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        const void* p = pool.allocate(24, 8);
        if (i >= uncounted && span_of(p) != previous) {
            ++changes;
        }
        previous = span_of(p);
    }
    CHECK(pool.class_stats(c).spans == spans); // every block reused, no new span
    // One change per span emptied, and per span partly taken by the recent frees.
    CHECK(changes <= 2 * spans);
}

TEST_CASE("size_class_resource: a span whose list the class took can empty and go back") {
    // Blocks of a span whose own list the class has taken sit on the class's list, counted free;
    // when the span empties, trim() must take them off that list before giving the span back.
    checking_resource upstream;
    size_class_resource pool(&upstream);
    const std::size_t c = classes::index(48);
    const std::size_t per_span = classes::geometry(c).blocks;
    std::vector<void*> blocks(3 * per_span);
    for (void*& p : blocks) {
        p = pool.allocate(48, 16);
    }
    for (void* p : blocks) {
        pool.deallocate(p, 48, 16);
    }
    // Past the recent frees, the class takes one span's list and hands out a few of its blocks.
    std::vector<void*> again(200);
    for (void*& p : again) {
        p = pool.allocate(48, 16);
    }
    for (void* p : again) {
        pool.deallocate(p, 48, 16);
    }
    pool.trim();
    CHECK(pool.upstream_bytes() == 0);
    CHECK(upstream.live_blocks() == 0);
    // Nothing of the spans given back is handed out again (ASan would report the use).
    std::set<void*> fresh;
    for (std::size_t i = 0; i < 2 * per_span; ++i) {
        void* p = pool.allocate(48, 16);
        std::memset(p, 0xab, 48);
        fresh.insert(p);
    }
    CHECK(fresh.size() == 2 * per_span);
    CHECK(pool.class_stats(c).blocks_in_use == 2 * per_span);
    for (void* p : fresh) {
        pool.deallocate(p, 48, 16);
    }
}

TEST_CASE("size_class_resource: trim() gives back every empty span; free-all + trim holds 0") {
    checking_resource upstream;
    size_class_resource pool(&upstream);
    std::vector<std::pair<void*, std::size_t>> blocks;
    for (std::size_t i = 0; i < 20000; ++i) {
        const std::size_t bytes = 8 + (i * 37) % 3000;
        blocks.emplace_back(pool.allocate(bytes, 16), bytes);
    }
    void* large = pool.allocate(300000, 16);
    const std::size_t spans = pool.span_count();
    const std::size_t held = pool.upstream_bytes();
    CHECK(spans > 50);
    // Free every other block: few spans become empty, trim keeps the rest.
    for (std::size_t i = 0; i < blocks.size(); i += 2) {
        pool.deallocate(blocks[i].first, blocks[i].second, 16);
    }
    pool.trim();
    CHECK(pool.span_count() > 0);
    CHECK(pool.upstream_bytes() == upstream.live_bytes());
    for (std::size_t i = 1; i < blocks.size(); i += 2) {
        pool.deallocate(blocks[i].first, blocks[i].second, 16);
    }
    pool.deallocate(large, 300000, 16);
    CHECK(pool.large_blocks_cached() == 1);
    CHECK(pool.upstream_bytes() > 0);
    pool.trim();
    CHECK(pool.span_count() == 0);
    CHECK(pool.large_blocks_cached() == 0);
    CHECK(pool.upstream_bytes() == 0);
    CHECK(upstream.live_blocks() == 0);
    CHECK(pool.peak_upstream_bytes() >= held); // the peak outlives what made it
    // Still usable.
    void* p = pool.allocate(24, 8);
    pool.deallocate(p, 24, 8);
}

namespace {

// The most frees a class's list holds uncounted before a settle (size_class_heap's
// max_uncounted: the blocks of uncounted_bytes, at least min_max_uncounted and a span's).
std::size_t max_uncounted(std::size_t c) {
    return std::max({detail::size_class_heap::min_max_uncounted,
                     detail::size_class_heap::uncounted_bytes / classes::size(c),
                     classes::geometry(c).blocks});
}

// Frees after which every earlier free of class c is counted: a settle comes within
// max_uncounted + 1 frees and keeps the newest half uncounted; the next one comes within as many,
// and the half it keeps is then all newer.
std::size_t frees_to_count(std::size_t c) {
    return 2 * (max_uncounted(c) + 1);
}

// Spans of one class, carved from a fresh class and sorted by the test's plan for them.
struct carved_spans {
    std::vector<std::vector<void*>> victims; // full spans of the class's own size
    std::vector<std::vector<void*>> others;  // the other spans, the last one still being carved
    [[nodiscard]] std::size_t count() const { return victims.size() + others.size(); }
};

// Allocates blocks of `bytes` from a class the pool has not used, span by span (a block that
// makes class_stats().spans count up starts a new span), until `victims` full spans of the
// class's own size (utilization()'s blocks_per_span) are carved and the other full spans hold
// `spare` blocks besides one each. Every allocation is a refill. The last span is left with one
// block, still being carved.
carved_spans carve_spans(size_class_resource& pool, std::size_t bytes, std::size_t victims,
                         std::size_t spare) {
    const std::size_t c = classes::index(bytes);
    const std::size_t own = size_class_resource::utilization(pool.options())[c].blocks_per_span;
    carved_spans spans;
    std::size_t spare_now = 0;
    std::vector<void*> current;
    for (;;) {
        void* p = pool.allocate(bytes, 8);
        if (!current.empty() && pool.class_stats(c).spans > spans.count() + 1) {
            // p starts a span: the current one is full.
            if (current.size() == own && spans.victims.size() < victims) {
                spans.victims.push_back(std::move(current));
            } else {
                spare_now += current.size() - 1;
                spans.others.push_back(std::move(current));
            }
            current = {};
            if (spans.victims.size() == victims && spare_now >= spare) {
                spans.others.push_back({p});
                return spans;
            }
        }
        current.push_back(p);
    }
}

// Frees every block of the victims, then every block but the first of the other spans (each
// stays in use), frees_to_count of them at least: the victims end counted empty, reported to the
// pool's empty-span bounds, and no other span of the class is.
void empty_victims(size_class_resource& pool, std::size_t bytes, const carved_spans& spans) {
    for (const std::vector<void*>& span : spans.victims) {
        for (void* p : span) {
            pool.deallocate(p, bytes, 8);
        }
    }
    for (const std::vector<void*>& span : spans.others) {
        for (std::size_t i = 1; i < span.size(); ++i) {
            pool.deallocate(span[i], bytes, 8);
        }
    }
}

void free_others(size_class_resource& pool, std::size_t bytes, const carved_spans& spans) {
    for (const std::vector<void*>& span : spans.others) {
        pool.deallocate(span.front(), bytes, 8);
    }
}

// The spans of the class of `bytes` that a pool with options `o` gives back when `victims` of
// them become empty (see empty_victims) and nothing else does.
std::size_t given_back(const size_class_options& o, std::size_t bytes, std::size_t victims) {
    checking_resource upstream;
    size_class_resource pool(o, &upstream);
    const std::size_t c = classes::index(bytes);
    const carved_spans spans = carve_spans(pool, bytes, victims, frees_to_count(c));
    REQUIRE(pool.class_stats(c).spans == spans.count());
    empty_victims(pool, bytes, spans);
    const std::size_t held = pool.class_stats(c).spans;
    CHECK(pool.upstream_bytes() == upstream.live_bytes());
    CHECK(pool.class_stats(c).blocks_in_use == spans.others.size());
    free_others(pool, bytes, spans);
    return spans.count() - held;
}

} // namespace

TEST_CASE("size_class_resource: a sweep runs once more than max_empty_spans spans are empty") {
    // The same k spans emptied with bounds k and 0, and k + 1 with bound k: a sweep gives back
    // every empty span (empty_span_decay 0) once more than the bound are reported, else none.
    for (const std::size_t bytes : {std::size_t{32}, std::size_t{1024}}) {
        for (const std::size_t k : {std::size_t{1}, std::size_t{2}, std::size_t{4}}) {
            CAPTURE(bytes);
            CAPTURE(k);
            CHECK(given_back({.max_empty_spans = k, .empty_span_decay = 0}, bytes, k) == 0);
            CHECK(given_back({.max_empty_spans = 0, .empty_span_decay = 0}, bytes, k) == k);
            CHECK(given_back({.max_empty_spans = k, .empty_span_decay = 0}, bytes, k + 1) == k + 1);
        }
    }
}

TEST_CASE("size_class_resource: a sweep runs once more than max_empty_bytes are in empty spans") {
    // As above, in bytes of the victims, spans of the class's own size; the span bound out of the
    // way.
    for (const std::size_t bytes : {std::size_t{32}, std::size_t{1024}}) {
        const std::size_t span_bytes =
            size_class_resource::utilization()[classes::index(bytes)].span_bytes;
        for (const std::size_t k : {std::size_t{1}, std::size_t{2}, std::size_t{4}}) {
            CAPTURE(bytes);
            CAPTURE(k);
            const size_class_options bound{.max_empty_spans = std::size_t{1} << 20,
                                           .max_empty_bytes = k * span_bytes,
                                           .empty_span_decay = 0};
            const size_class_options zero{.max_empty_spans = std::size_t{1} << 20,
                                          .max_empty_bytes = 0,
                                          .empty_span_decay = 0};
            CHECK(given_back(bound, bytes, k) == 0);
            CHECK(given_back(zero, bytes, k) == k);
            CHECK(given_back(bound, bytes, k + 1) == k + 1);
        }
    }
}

TEST_CASE("size_class_resource: by default, freeing everything keeps spans for reuse") {
    checking_resource upstream;
    size_class_resource pool(&upstream);
    for (int round = 0; round < 3; ++round) {
        std::vector<void*> blocks;
        for (int i = 0; i < 5000; ++i) {
            blocks.push_back(pool.allocate(48, 8));
        }
        for (void* p : blocks) {
            pool.deallocate(p, 48, 8);
        }
        CHECK(upstream.allocations() == pool.stats().upstream_allocations);
        CHECK(upstream.deallocations() == 0);
    }
}

namespace {

// Allocates `count` blocks of `bytes` from the pool, and frees them all.
void fill_and_free(size_class_resource& pool, std::size_t bytes, std::size_t count) {
    std::vector<void*> blocks;
    for (std::size_t i = 0; i < count; ++i) {
        blocks.push_back(pool.allocate(bytes, 8));
    }
    for (void* p : blocks) {
        pool.deallocate(p, bytes, 8);
    }
}

} // namespace

TEST_CASE("size_class_resource: spans emptied within the decay are found again, past the bounds") {
    checking_resource upstream;
    const std::size_t decay = 64;
    size_class_resource pool({.max_empty_spans = 2, .empty_span_decay = decay}, &upstream);
    const std::size_t c = classes::index(32);
    const std::size_t per_span = classes::geometry(c).blocks;
    REQUIRE(40 * per_span > 2 * decay);
    // Freeing everything and starting over finds the spans again: far past the bounds, but
    // they became empty within the decay.
    const std::size_t spans = spans_holding(c, 40 * per_span);
    fill_and_free(pool, 32, 40 * per_span);
    CHECK(pool.class_stats(c).spans == spans);
    const std::size_t taken = upstream.allocations();
    fill_and_free(pool, 32, 40 * per_span);
    CHECK(upstream.allocations() == taken);
    CHECK(pool.class_stats(c).spans == spans);
    CHECK(pool.class_stats(c).blocks_in_use == 0);
    CHECK(pool.upstream_bytes() == upstream.live_bytes());
    // When spans nobody uses again go back: the next case.
}

TEST_CASE("size_class_resource: an empty span goes back after exactly empty_span_decay refills") {
    checking_resource upstream;
    const std::size_t decay = 64;
    const size_class_options o{.max_empty_spans = 2, .empty_span_decay = decay};
    size_class_resource pool(o, &upstream);
    // Blocks of a second class, freed per_settle at a time to make its list settle (the settles
    // run the sweeps) with no refill; a third class's allocations are the refills.
    const std::size_t settling_bytes = 1024;
    const std::size_t per_settle = max_uncounted(classes::index(settling_bytes)) + 1;
    std::vector<void*> settling;
    for (std::size_t i = 0; i < 2 * per_settle; ++i) {
        settling.push_back(pool.allocate(settling_bytes, 8));
    }
    const auto settle = [&] {
        for (std::size_t i = 0; i < per_settle; ++i) {
            pool.deallocate(settling.back(), settling_bytes, 8);
            settling.pop_back();
        }
    };
    std::vector<void*> clock;
    const auto refill = [&](std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) {
            clock.push_back(pool.allocate(256, 8)); // a fresh block each, none freed: a refill
        }
    };
    const std::size_t bytes = 32;
    const std::size_t c = classes::index(bytes);
    const carved_spans spans = carve_spans(pool, bytes, o.max_empty_spans + 1, frees_to_count(c));
    // Every allocation so far was a refill (nothing was freed), the settling blocks' alone
    // `decay` at least: the first sweep is due as soon as more than max_empty_spans spans are
    // reported, at the settle that counts the last victim's blocks. It keeps the spans it finds
    // empty; the settles after it, with no refill since, run none.
    REQUIRE(settling.size() >= decay);
    const std::size_t held = spans.count();
    empty_victims(pool, bytes, spans);
    CHECK(pool.class_stats(c).spans == held);
    // decay - 1 refills later, a settle finds no sweep due; one refill more, the sweep gives back
    // the spans the first one kept.
    refill(decay - 1);
    settle();
    CHECK(pool.class_stats(c).spans == held);
    refill(1);
    settle();
    CHECK(pool.class_stats(c).spans == held - spans.victims.size());
    CHECK(pool.upstream_bytes() == upstream.live_bytes());
    free_others(pool, bytes, spans);
    for (void* p : clock) {
        pool.deallocate(p, 256, 8);
    }
    for (void* p : settling) {
        pool.deallocate(p, settling_bytes, 8);
    }
}

TEST_CASE(
    "size_class_resource: a large block taken from upstream gives back the spans kept empty") {
    checking_resource upstream;
    size_class_resource pool({.max_empty_spans = 2}, &upstream);
    const std::size_t c = classes::index(32);
    const std::size_t spans = spans_holding(c, 40 * classes::geometry(c).blocks);
    fill_and_free(pool, 32, 40 * classes::geometry(c).blocks);
    // The free-all's sweep kept the spans already empty then (most of them); what became empty
    // after it is only reported.
    REQUIRE(pool.class_stats(c).spans == spans);
    void* large = pool.allocate(std::size_t{1} << 20, 16);
    const std::size_t left = pool.class_stats(c).spans;
    CHECK(left < spans);
    CHECK(pool.upstream_bytes() == upstream.live_bytes());
    // A large block served from the cache takes nothing from upstream and gives nothing back.
    pool.deallocate(large, std::size_t{1} << 20, 16);
    large = pool.allocate(std::size_t{1} << 20, 16);
    CHECK(pool.class_stats(c).spans == left);
    pool.deallocate(large, std::size_t{1} << 20, 16);
}

TEST_CASE("size_class_resource: large blocks go through a bounded cache") {
    checking_resource upstream;
    size_class_resource pool(&upstream);
    void* a = pool.allocate(100000, 16);
    CHECK(pool.large_blocks_in_use() == 1);
    CHECK(upstream.last_bytes() == 102400); // rounded up to 4 KiB, the cache's size buckets
    pool.deallocate(a, 100000, 16);
    CHECK(pool.large_blocks_in_use() == 0);
    CHECK(pool.large_blocks_cached() == 1);
    const std::size_t calls = upstream.allocations();
    CHECK(pool.allocate(90000, 8) == a); // a larger block, at most twice the request
    CHECK(upstream.allocations() == calls);
    CHECK(pool.large_upstream_allocations() == 1);
    pool.deallocate(a, 90000, 8);

    size_class_resource exact({.large_cache_bytes = 0}, &upstream);
    void* b = exact.allocate(100000, 16);
    CHECK(upstream.last_bytes() == 100000);
    CHECK(upstream.last_alignment() == 16);
    exact.deallocate(b, 100000, 16);
    CHECK(exact.large_blocks_cached() == 0);
    CHECK(exact.upstream_bytes() == upstream.live_bytes() - pool.upstream_bytes());
    exact.trim(); // the record table goes too
    CHECK(exact.upstream_bytes() == 0);
}

TEST_CASE("size_class_resource: release() gives everything back and restores the initial state") {
    checking_resource upstream;
    size_class_resource pool(&upstream);
    live_blocks live(pool);
    for (std::size_t i = 0; i < 3000; ++i) {
        live.allocate(i % 5000, std::size_t{1} << (i % 13));
    }
    live.allocate(1 << 20, 16);
    live.forget_all();
    pool.release();
    CHECK(upstream.live_blocks() == 0);
    CHECK(pool.upstream_bytes() == 0);
    CHECK(pool.peak_upstream_bytes() == 0);
    CHECK(pool.span_count() == 0);
    CHECK(pool.large_blocks_in_use() == 0);
    for (std::size_t c = 0; c < pool.class_count(); ++c) {
        const size_class_stats s = pool.class_stats(c);
        CHECK(s.blocks_in_use == 0);
        CHECK(s.peak_spans == 0);
        CHECK(s.upstream_allocations == 0);
    }
    live.allocate(40, 8);
    CHECK(upstream.allocations() > 0);
}

TEST_CASE("size_class_resource: errors throw, upstream exceptions pass unchanged, still usable") {
    checking_resource upstream;
    size_class_resource pool(&upstream);
    // volatile: these requests are meant to be impossible, which compilers would warn about.
    volatile std::size_t max = std::numeric_limits<std::size_t>::max();
    CHECK_THROWS_AS((void)pool.allocate(max, 8), std::bad_alloc);
    CHECK_THROWS_AS((void)pool.allocate(max - 4096, 4096), std::bad_alloc);
    volatile std::size_t huge_alignment = max / 2 + 1;
    volatile std::size_t not_power_of_two = 3 * 4096;
    CHECK_THROWS_AS((void)pool.allocate(10, huge_alignment), std::bad_alloc);
    CHECK_THROWS_AS((void)pool.allocate(5000, not_power_of_two), std::bad_alloc);
    CHECK(upstream.allocations() == 0);

    upstream.fail_next(1);
    CHECK_THROWS_AS((void)pool.allocate(64, 8), injected_bad_alloc);
    CHECK(pool.span_count() == 0);
    upstream.fail_next(1);
    CHECK_THROWS_AS((void)pool.allocate(1 << 20, 8), injected_bad_alloc);
    CHECK(pool.large_blocks_in_use() == 0);
    CHECK(pool.upstream_bytes() == upstream.live_bytes());
    // The large blocks' record table taken, the block refused: the table is in the peak.
    upstream.checker().fail_allocation(2);
    CHECK_THROWS_AS((void)pool.allocate(1 << 20, 8), injected_bad_alloc);
    CHECK(pool.upstream_bytes() == upstream.live_bytes());
    CHECK(pool.upstream_bytes() != 0);
    CHECK(pool.peak_upstream_bytes() >= pool.upstream_bytes());
    live_blocks live(pool);
    live.allocate(64, 8);
    live.allocate(1 << 20, 8);
    CHECK(pool.upstream_bytes() == upstream.live_bytes());
}

TEST_CASE("size_class_resource: zero-byte requests get distinct, aligned blocks") {
    size_class_resource pool;
    std::set<void*> seen;
    for (std::size_t alignment = 1; alignment <= 4096; alignment *= 2) {
        void* p = pool.allocate(0, alignment);
        CHECK(detail::is_aligned(p, alignment));
        CHECK(seen.insert(p).second);
    }
}

TEST_CASE("size_class_resource: the utilization report") {
    const std::vector<size_class_utilization> rows = size_class_resource::utilization();
    REQUIRE(rows.size() == size_class_resource().class_count());
    double sum = 0;
    double worst = 1;
    for (const size_class_utilization& r : rows) {
        CHECK(r.blocks_per_span * r.block_size + r.wasted_bytes == r.span_bytes);
        sum += r.utilization;
        worst = std::min(worst, r.utilization);
    }
    CHECK(sum / static_cast<double>(rows.size()) >= 0.97);
    CHECK(worst >= 0.90);
    CHECK(rows.back().block_size == 32768);
    CHECK(size_class_resource::utilization({.max_pooled_size = 65536}).back().block_size == 65536);
    CHECK(rows[classes::index(1024)].block_size == 1024);
    CHECK(rows[classes::index(1024)].alignment == 1024);
}

TEST_CASE("size_class_resource: seeded model test with trim and release in the middle") {
    PMRKIT_SEEDED(seed);
    std::mt19937_64 rng(seed);
    checking_resource upstream;
    size_class_resource pool({.max_empty_spans = 8}, &upstream);
    const size_bands bands{.small_percent = 70,
                           .small_max = 128,
                           .medium_percent = 27,
                           .medium_max = 40000,
                           .large_max = 600000};
    run_pool_model(
        pool, upstream, rng, bands, 30000, [](void*, std::size_t) {},
        [](const size_class_resource& p) { return blocks_in_use(p) + p.large_blocks_in_use(); });
}

TEST_CASE("size_class_resource: stats() in the common shape agree with upstream") {
    checking_resource upstream;
    size_class_resource pool(&upstream);
    std::vector<void*> small;
    for (int i = 0; i < 10; ++i) {
        small.push_back(pool.allocate(24, 8));
    }
    void* large = pool.allocate(100000, 16);
    const resource_stats s = pool.stats();
    CHECK(s.resource == "size_class_resource");
    CHECK(s.blocks_in_use == 11);
    REQUIRE(s.bytes_in_use.has_value());
    CHECK(*s.bytes_in_use >= 10 * 24 + 100000);
    CHECK(s.upstream_allocations == upstream.allocations());
    CHECK(s.upstream_bytes == upstream.live_bytes());
    CHECK_FALSE(s.allocations.has_value());
    CHECK(to_json(s).find("\"resource\": \"size_class_resource\"") != std::string::npos);
    for (void* p : small) {
        pool.deallocate(p, 24, 8);
    }
    pool.deallocate(large, 100000, 16);
    CHECK(pool.stats().blocks_in_use == 0);
    CHECK(pool.stats().bytes_in_use == 0);
}

} // namespace pmrkit::test
