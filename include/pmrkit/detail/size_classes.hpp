// SPDX-License-Identifier: MIT
// Size classes and the spans that hold them, as constexpr tables.
//
// Classes: L linear classes G, 2G, ..., LG (G, the granularity, and L are powers of two; L = 16
// unless a map asks for more), then
// S = 2^StepsLog2 classes per power of two, 2^k + j * 2^k / S for j = 1..S, up to MaxSize. Every
// class is a multiple of G, and above 16G a multiple of its step 2^k / S, so the internal waste of
// a request is below G bytes in the linear range and below 1/(S + 1) of the class size above it
// (S = 4, the default: under 20%; S = 8: under 11.1%). aligned_pool_resource's maps have G = the
// alignment and L = 64, and below G the small classes: the powers of two from min_pooled_block to
// G / 2, so that a block smaller than the alignment takes its size rounded up to a power of two,
// and is aligned to it, instead of all of G (engine/size_class_heap.hpp).
//
// Why 4 per power of two by default (as jemalloc and mimalloc): every class is a separate pool,
// and a pool holds memory for the most blocks its class has ever had live at once. Under a mix of
// sizes the per-class live counts fluctuate, and the sum of their maxima exceeds the live bytes
// by more the more classes share the load: on the mixed workload (W3), 8 classes per power of
// two held 1.29x the live bytes at peak, 4 per power of two 1.23x (measured), although their
// rounding alone wastes 5.5% and 8.7%. Nor 8 per power of two above 1 KiB only, where sqlite3
// rounds 1,032-byte blocks up to 1,280 and 4,368 to 5,120: on the five traces of bench/traces, the
// sum of every class's peak bytes over the peak bytes live (what a pool holds at least) went from
// 1.22 to 1.10 for sqlite3, but from 1.54 to 1.78 for git, 1.24 to 1.35 for g++, 1.35 to 1.37 for
// python and 1.23 to 1.22 for perl.
//
// Alignment without a search: the smallest class that holds `bytes` aligned to a power of two `a`
// is simply the class of align_up(bytes, a). Any class that is a multiple of `a` is at least that
// rounded size; and that size's own class is a multiple of `a` (if `a` <= the class step, because
// every class is a multiple of its step; if `a` > the step, because the rounded size is then a
// multiple of the step and so a class itself). Blocks are placed at multiples of their class's
// natural alignment inside a span aligned to its size, so the alignment holds for every block.
//
// Spans: each class has a span size, the smallest power of two from min_span_bytes up that holds
// at least min_blocks blocks with at least target_utilization of the span in blocks. Blocks start
// at the span's start (aligned to the span size, so to every block's alignment); the span header
// of HeaderBytes follows the last block. Its offset therefore differs from class to class, which
// spreads the headers of different classes over the cache's sets (headers all at the span start
// would all compete for one set, their addresses being multiples of 16 KiB). A span is aligned to
// its size, so a block's header is at `(p & ~(span_bytes - 1)) + header_offset`. A class's first
// spans may be smaller than its own (size_class_policy::growth_levels); the heap finds their
// headers itself.
//
#pragma once

#include "pmrkit/detail/config.hpp"
#include "pmrkit/detail/math.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace pmrkit::detail {

// Rounds n up to one of 2^steps_log2 geometric steps per power of two: to a multiple of
// 2^(floor(log2(n - 1)) - steps_log2). Waste is below 1/2^steps_log2 of the result.
// Precondition: n > 2^steps_log2.
[[nodiscard]] constexpr std::size_t geometric_round(std::size_t n, int steps_log2) noexcept {
    const int shift = static_cast<int>(std::bit_width(n - 1)) - 1 - steps_log2;
    return align_up(n, std::size_t{1} << shift);
}

// Index of geometric_round(n, steps_log2) among the steps above 2^base_log2 (0 for the first step
// above 2^base_log2). Precondition: n > 2^base_log2 and base_log2 >= steps_log2.
[[nodiscard]] constexpr std::size_t geometric_index(std::size_t n, int steps_log2,
                                                    int base_log2) noexcept {
    const int k = static_cast<int>(std::bit_width(n - 1)) - 1;
    const auto steps = std::size_t{1} << steps_log2;
    return (static_cast<std::size_t>(k - base_log2) << steps_log2) + ((n - 1) >> (k - steps_log2)) -
           steps;
}

// The size of step `index` above 2^base_log2: the inverse of geometric_index.
[[nodiscard]] constexpr std::size_t geometric_size(std::size_t index, int steps_log2,
                                                   int base_log2) noexcept {
    const std::size_t base = std::size_t{1}
                             << (static_cast<std::size_t>(base_log2) + (index >> steps_log2));
    const std::size_t step = (index & ((std::size_t{1} << steps_log2) - 1)) + 1;
    return base + step * (base >> steps_log2);
}

struct span_geometry {
    std::size_t block_size;
    std::size_t span_bytes;    // a power of two; spans are aligned to it
    std::size_t header_offset; // from the span start, right after the last block
    std::size_t blocks;        // per span

    [[nodiscard]] constexpr std::size_t used_bytes() const noexcept { return blocks * block_size; }
    [[nodiscard]] constexpr std::size_t wasted_bytes() const noexcept {
        return span_bytes - used_bytes();
    }
    // Natural alignment of every block: that of the class size (the span is aligned further).
    [[nodiscard]] constexpr std::size_t alignment() const noexcept {
        return natural_alignment(block_size);
    }
};

// The class and span policy shared by the tables below.
struct size_class_policy {
    static constexpr std::size_t min_span_bytes = 8 * 1024;
    static constexpr std::size_t max_span_bytes = 1024 * 1024;
    static constexpr std::size_t min_blocks = 8;
    static constexpr std::size_t target_utilization_percent = 96;
    static constexpr std::size_t header_alignment = alignof(std::max_align_t);

    [[nodiscard]] static constexpr std::size_t header_end(std::size_t blocks_end,
                                                          std::size_t header_bytes) noexcept {
        return align_up(blocks_end, header_alignment) + header_bytes;
    }

    // Size of class c for granularity g, `linear` linear classes and 2^steps_log2 classes per
    // power of two above them.
    [[nodiscard]] static constexpr std::size_t size(std::size_t c, std::size_t g,
                                                    std::size_t linear, int steps_log2) noexcept {
        if (c < linear) {
            return (c + 1) * g;
        }
        return geometric_size(c - linear, steps_log2,
                              static_cast<int>(std::bit_width(linear * g)) - 1);
    }

    [[nodiscard]] static constexpr span_geometry
    layout(std::size_t size, std::size_t span_bytes, std::size_t header_bytes,
           std::size_t max_blocks = SIZE_MAX) noexcept {
        std::size_t blocks = std::min((span_bytes - header_bytes) / size, max_blocks);
        while (blocks > 0 && header_end(blocks * size, header_bytes) > span_bytes) {
            --blocks;
        }
        return {size, span_bytes, align_up(blocks * size, header_alignment), blocks};
    }

    // The smallest span from min_span_bytes up that meets min_blocks and the utilization target
    // (max_span_bytes if none does), capped at max_blocks blocks (see capped).
    [[nodiscard]] static constexpr span_geometry
    geometry(std::size_t size, std::size_t header_bytes,
             std::size_t max_blocks = SIZE_MAX) noexcept {
        std::size_t span_bytes = min_span_bytes;
        for (;;) {
            const span_geometry g = layout(size, span_bytes, header_bytes);
            const bool good = g.blocks >= min_blocks &&
                              g.used_bytes() * 100 >= span_bytes * target_utilization_percent;
            if (good || span_bytes >= max_span_bytes) {
                return capped(g, header_bytes, max_blocks);
            }
            span_bytes *= 2;
        }
    }

    // A class does not start with its own span: its first span is up to max_growth_levels
    // halvings smaller (each level half the span, at least min_growth_span bytes and one block),
    // and each new span of the class is the next level up, until the class's own. So a class
    // with a few blocks live holds a few blocks' worth (a 32 KiB class: one block in 64 KiB, not
    // 31 in 1 MiB; a 64-byte class: 15 blocks in 1 KiB, not 127 in 8 KiB), and a class in demand
    // reaches its own span after at most max_growth_levels spans (size_class_heap::new_span).
    // Why 1 KiB: a pool made for a short task touches a span in each class it uses, and with
    // 8 KiB first spans (and glibc's alignment slack around each) the ten classes of a small
    // request took more than glibc's 128 KiB trim threshold, so that in a process whose heap top
    // was free every such pool had glibc grow and trim its heap and faulted its pages in again.
    static constexpr std::size_t max_growth_levels = 4;
    static constexpr std::size_t min_growth_span = 1024;

    // The span of g's class `level` halvings below g.
    [[nodiscard]] static constexpr span_geometry
    growth_layout(const span_geometry& g, std::size_t level, std::size_t header_bytes) noexcept {
        return layout(g.block_size, g.span_bytes >> level, header_bytes);
    }

    // How many levels below g a class's first span is (0: it starts with g).
    [[nodiscard]] static constexpr std::size_t growth_levels(const span_geometry& g,
                                                             std::size_t header_bytes) noexcept {
        std::size_t levels = 0;
        while (levels < max_growth_levels && (g.span_bytes >> (levels + 1)) >= min_growth_span &&
               growth_layout(g, levels + 1, header_bytes).blocks != 0) {
            ++levels;
        }
        return levels;
    }

    // g, or, if it holds more than max_blocks blocks, the smallest power of two (below 8 KiB if
    // need be) that holds max_blocks blocks and the header: the same class with fewer blocks per
    // span, for a pool that promises at most max_blocks blocks per upstream request (the std
    // drop-ins' max_blocks_per_chunk). Precondition: max_blocks >= 1.
    [[nodiscard]] static constexpr span_geometry
    capped(const span_geometry& g, std::size_t header_bytes, std::size_t max_blocks) noexcept {
        if (g.blocks <= max_blocks) {
            return g;
        }
        const std::size_t end = header_end(max_blocks * g.block_size, header_bytes);
        return layout(g.block_size, std::bit_ceil(end), header_bytes, max_blocks);
    }
};

// Where the header of a block's span is: (address & mask) + offset.
struct header_locator {
    std::uintptr_t mask;
    std::uintptr_t offset;

    [[nodiscard]] static constexpr header_locator of(const span_geometry& g) noexcept {
        return {~static_cast<std::uintptr_t>(g.span_bytes - 1), g.header_offset};
    }
};

// A class map's tables seen at run time, so that one engine (engine/size_class_heap.hpp) serves
// every map: the maps differ in their tables, never in their code.
struct class_table {
    std::size_t count;
    std::size_t granularity;
    std::size_t small_classes;  // below the granularity: 16, 32, ..., granularity / 2
    std::size_t linear_classes; // up to linear_limit(), the small ones included
    std::size_t lookup_limit;
    std::size_t max_size;
    int steps_log2;
    // The least alignment large blocks are taken from upstream with: the granularity in the class
    // maps (every block of a pool is aligned to it); 1 where requests pass through exactly.
    std::size_t large_alignment;
    const span_geometry* geometries;
    const header_locator* locators;
    const std::uint8_t* lookup; // entry i: the class of sizes i * granularity + 1 to (i + 1) * it
    // Entry c: size_class_policy::growth_levels of class c's geometry, computed with the table:
    // at every heap construction it was a quarter of the instructions of an empty heap's life.
    const std::uint8_t* first_levels;
    // Entry g (g < route_count): index_above(g * route_granule), the class of the requests whose
    // last byte is in route granule g, from which every heap and thread cache sets its fast
    // paths' routes. Computed with the table: set class by class at every construction, the
    // routes were 40% of an empty pool's life. Null where lookup_limit < small_block_limit.
    const std::uint8_t* routes = nullptr;
    // Whether the heap may cut several classes' first spans from one upstream block (its starter
    // block): not where each upstream request may hold at most so many blocks (capped tables).
    bool shares_first_spans = true;

    [[nodiscard]] constexpr std::size_t linear_limit() const noexcept {
        return (linear_classes - small_classes) * granularity;
    }
    // Size of class c. Precondition: c < count.
    [[nodiscard]] constexpr std::size_t size(std::size_t c) const noexcept {
        return geometries[c].block_size;
    }
    [[nodiscard]] constexpr const span_geometry& geometry(std::size_t c) const noexcept {
        return geometries[c];
    }
    [[nodiscard]] constexpr const header_locator& locator(std::size_t c) const noexcept {
        return locators[c];
    }
    // The level of class c's first span, and of its next after it held none.
    [[nodiscard]] constexpr std::uint8_t first_level(std::size_t c) const noexcept {
        return first_levels[c];
    }
    // Smallest class whose size exceeds `last`. Precondition: last < lookup_limit.
    [[nodiscard]] constexpr std::size_t index_above(std::size_t last) const noexcept {
        if (last < (granularity >> 1) && small_classes != 0) {
            constexpr std::size_t low = min_pooled_block - 1;
            return static_cast<std::size_t>(std::bit_width(last | low) - std::bit_width(low));
        }
        // A shift, not a division: the slow paths map every request through here.
        return lookup[last >> std::countr_zero(granularity)];
    }
    // Smallest class whose size is at least n. Precondition: 1 <= n <= max_size.
    [[nodiscard]] constexpr std::size_t index(std::size_t n) const noexcept {
        if (n <= lookup_limit) {
            return index_above(n - 1);
        }
        return linear_classes +
               geometric_index(n, steps_log2, static_cast<int>(std::bit_width(linear_limit())) - 1);
    }
};

// Points route g at targets[routes[g]], for the N routes of a class_table (or of a thread cache).
// From a copy, which `out` cannot alias, so that the loop is vectorized: two routes a store, 187
// -> 145 ns for an empty pool's life. (Routes of a byte each, copied in one go, made it 94 ns, for
// five instructions more per allocate and deallocate pair; routes of 16-bit byte offsets from the
// first target, a quarter of the stores, four more, 52 -> 56 on W1: a load and an add where a
// pointer is one load, and GCC 12 moves a register more on each path.)
template <class T, std::size_t N>
void point_routes(const std::uint8_t* routes, T* targets, std::array<T*, N>& out) noexcept {
    std::array<std::uint8_t, N> indices;
    std::copy_n(routes, N, indices.data());
    for (std::size_t g = 0; g < N; ++g) {
        out[g] = &targets[indices[g]];
    }
}

template <std::size_t Granularity, std::size_t MaxSize, std::size_t HeaderBytes, int StepsLog2 = 2,
          std::size_t LinearClasses = 16, bool SmallClasses = false>
class size_class_map {
    static_assert(is_power_of_two(Granularity) && Granularity >= sizeof(void*));
    static_assert(is_power_of_two(LinearClasses) && LinearClasses >= (std::size_t{1} << StepsLog2));
    static_assert(is_power_of_two(MaxSize) && MaxSize >= LinearClasses * Granularity);
    static_assert(!SmallClasses || Granularity >= min_pooled_block);
    using policy = size_class_policy;

public:
    static constexpr std::size_t granularity = Granularity;
    // The powers of two from min_pooled_block below Granularity, if the map has small classes.
    static constexpr std::size_t small_classes =
        SmallClasses ? static_cast<std::size_t>(std::countr_zero(Granularity / min_pooled_block))
                     : 0;
    // The classes up to linear_limit: the small ones and the linear ones.
    static constexpr std::size_t linear_classes = small_classes + LinearClasses;
    static constexpr std::size_t linear_limit = LinearClasses * Granularity;
    static constexpr std::size_t max_size = MaxSize;
    static constexpr int steps_log2 = StepsLog2;
    static constexpr std::size_t count =
        linear_classes + ((static_cast<std::size_t>(std::bit_width(MaxSize)) -
                           static_cast<std::size_t>(std::bit_width(linear_limit)))
                          << StepsLog2);
    // Sizes up to here map to a class by one table load (index_above); above, by bit arithmetic.
    static constexpr std::size_t lookup_limit = std::min(256 * Granularity, MaxSize);

    // Size of class c. Precondition: c < count.
    [[nodiscard]] static constexpr std::size_t size(std::size_t c) noexcept {
        return s_geometry[c].block_size;
    }
    [[nodiscard]] static constexpr const span_geometry& geometry(std::size_t c) noexcept {
        return s_geometry[c];
    }
    [[nodiscard]] static constexpr const header_locator& locator(std::size_t c) noexcept {
        return s_locators[c];
    }

    // Smallest class whose size exceeds `last`. Precondition: last < lookup_limit.
    [[nodiscard]] static constexpr std::size_t index_above(std::size_t last) noexcept {
        return table.index_above(last);
    }
    // Smallest class whose size is at least n. Precondition: 1 <= n <= max_size.
    [[nodiscard]] static constexpr std::size_t index(std::size_t n) noexcept {
        return table.index(n);
    }

private:
    [[nodiscard]] static constexpr std::size_t class_size(std::size_t c) noexcept {
        if (c < small_classes) {
            return min_pooled_block << c;
        }
        return policy::size(c - small_classes, Granularity, LinearClasses, StepsLog2);
    }

    static constexpr std::array<span_geometry, count> s_geometry = [] {
        std::array<span_geometry, count> table{};
        for (std::size_t c = 0; c < count; ++c) {
            table[c] = policy::geometry(class_size(c), HeaderBytes);
        }
        return table;
    }();

    static constexpr std::array<header_locator, count> s_locators = [] {
        std::array<header_locator, count> table{};
        for (std::size_t c = 0; c < count; ++c) {
            table[c] = header_locator::of(policy::geometry(class_size(c), HeaderBytes));
        }
        return table;
    }();

    static constexpr std::array<std::uint8_t, count> s_first_levels = [] {
        std::array<std::uint8_t, count> table{};
        for (std::size_t c = 0; c < count; ++c) {
            table[c] = static_cast<std::uint8_t>(policy::growth_levels(s_geometry[c], HeaderBytes));
        }
        return table;
    }();

    // Entry i: the class of sizes i * G + 1 to (i + 1) * G, at least min_pooled_block (a class
    // below it, 8 bytes at G = 8, is never used).
    static constexpr std::array<std::uint8_t, lookup_limit / Granularity> s_lookup = [] {
        std::array<std::uint8_t, lookup_limit / Granularity> table{};
        std::size_t c = 0;
        for (std::size_t i = 0; i < table.size(); ++i) {
            while (class_size(c) < std::max((i + 1) * Granularity, min_pooled_block)) {
                ++c;
            }
            table[i] = static_cast<std::uint8_t>(c);
        }
        return table;
    }();

    static constexpr class_table s_unrouted = {.count = count,
                                               .granularity = Granularity,
                                               .small_classes = small_classes,
                                               .linear_classes = linear_classes,
                                               .lookup_limit = lookup_limit,
                                               .max_size = MaxSize,
                                               .steps_log2 = StepsLog2,
                                               .large_alignment = Granularity,
                                               .geometries = s_geometry.data(),
                                               .locators = s_locators.data(),
                                               .lookup = s_lookup.data(),
                                               .first_levels = s_first_levels.data()};

    static constexpr std::array<std::uint8_t, route_count> s_routes = [] {
        std::array<std::uint8_t, route_count> routes{};
        if constexpr (lookup_limit >= small_block_limit) {
            for (std::size_t g = 0; g < route_count; ++g) {
                routes[g] = static_cast<std::uint8_t>(s_unrouted.index_above(g * route_granule));
            }
        }
        return routes;
    }();

public:
    static constexpr class_table table = [] {
        class_table t = s_unrouted;
        if constexpr (lookup_limit >= small_block_limit) {
            t.routes = s_routes.data();
        }
        return t;
    }();
    static constexpr std::size_t header_bytes = HeaderBytes;
    // The most blocks a span of this map holds: a cap at or above it caps nothing.
    static constexpr std::size_t max_blocks_per_span = [] {
        std::size_t most = 0;
        for (const span_geometry& g : s_geometry) {
            if (g.block_size >= min_pooled_block) { // the lookup leads to no smaller class
                most = std::max(most, g.blocks);
            }
        }
        return most;
    }();

private:
    static_assert(count <= 256, "class indices are stored in one byte");
    static_assert(class_size(count - 1) == MaxSize);
    static_assert(HeaderBytes < policy::min_span_bytes);
};

// A class map's table whose spans hold at most max_blocks blocks (size_class_policy::capped): the
// same classes and lookup, its own geometries and locators, so a heap over it differs only in how
// much it takes from upstream at a time. Per instance (2.5 KiB for the default classes); not
// copyable, as its table points into it.
template <class Map>
class capped_class_table {
public:
    // Precondition: max_blocks >= 1.
    constexpr capped_class_table(std::size_t max_blocks, std::size_t large_alignment) noexcept
        : m_table(Map::table) {
        for (std::size_t c = 0; c < Map::count; ++c) {
            m_geometries[c] =
                size_class_policy::capped(Map::geometry(c), Map::header_bytes, max_blocks);
            m_locators[c] = header_locator::of(m_geometries[c]);
            m_first_levels[c] = static_cast<std::uint8_t>(
                size_class_policy::growth_levels(m_geometries[c], Map::header_bytes));
        }
        m_table.large_alignment = large_alignment;
        m_table.geometries = m_geometries.data();
        m_table.locators = m_locators.data();
        m_table.first_levels = m_first_levels.data();
        m_table.shares_first_spans = false;
    }
    capped_class_table(const capped_class_table&) = delete;
    capped_class_table& operator=(const capped_class_table&) = delete;

    [[nodiscard]] constexpr const class_table& table() const noexcept { return m_table; }

private:
    std::array<span_geometry, Map::count> m_geometries{};
    std::array<header_locator, Map::count> m_locators{};
    std::array<std::uint8_t, Map::count> m_first_levels{};
    class_table m_table;
};

} // namespace pmrkit::detail
