// SPDX-License-Identifier: MIT
// The size-class engine: every pool of pmrkit that serves a mix of sizes (size_class_resource,
// aligned_pool_resource, concurrent_pool_resource's central pool) is a front end over one
// size_class_heap, which owns the class lists, the routes of the fast paths, the spans, their
// settling, refilling and giving back, the large-block cache and the hardened ownership checks.
// Front ends differ only in the class map they pass (detail/size_classes.hpp) and in what they
// put around the heap (nothing, a thread check, or thread caches and a lock).
//
// A heap is not thread-safe: its front end serializes calls (one thread at a time, or a lock).
// Its design, and why, is in size_class_resource.hpp (the class comment there is the reference);
// this header gives each member's contract.
#pragma once

#include "pmrkit/detail/asan.hpp"
#include "pmrkit/detail/config.hpp"
#include "pmrkit/detail/free_list.hpp"
#include "pmrkit/detail/large_block_cache.hpp"
#include "pmrkit/detail/math.hpp"
#include "pmrkit/detail/owned_spans.hpp"
#include "pmrkit/detail/size_classes.hpp"
#include "pmrkit/detail/span.hpp"
#include "pmrkit/resource_stats.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstddef>
#include <memory_resource>
#include <new>
#include <vector>

namespace pmrkit {

/// Options of size_class_resource (and of the pools on the same engine), for designated
/// initializers; normalized by the constructor.
struct size_class_options {
    /// Largest request served from the size classes (its size rounded up to its alignment).
    /// Rounded up to a class size and clamped to [2 KiB, 64 KiB] (detail::small_block_limit and
    /// detail::max_pooled_limit). Larger requests are large blocks.
    std::size_t max_pooled_size = 32 * 1024;
    /// Empty spans kept for reuse: a sweep runs once more than this many spans (or
    /// max_empty_bytes bytes) have been found empty since the last one and empty_span_decay
    /// refills have passed since it (see size_class_resource's class comment for what it gives
    /// back). 0, with empty_span_decay 0, gives empty spans back as soon as one is found.
    std::size_t max_empty_spans = 1024;
    /// The byte bound on empty spans kept (see max_empty_spans).
    std::size_t max_empty_bytes = std::size_t{8} << 20;
    /// Refills (allocations that find their class's list empty) at least between two sweeps: an
    /// empty span goes back once it has stayed empty through that many. 0: a sweep gives back
    /// every empty span it finds.
    std::size_t empty_span_decay = 4096;
    /// Large blocks kept after deallocate for reuse by a request they fit
    /// (detail::large_block_cache: best fit, kept within 1.5 times the most large-block bytes live
    /// at once, given back when not reused within 64 large-block calls): at most this many bytes in
    /// all (0: no cache, large blocks pass through with their exact size) ...
    std::size_t large_cache_bytes = std::size_t{128} << 20;
    /// ... and at most this many blocks of one size bucket (4 buckets per power of two).
    std::size_t large_cache_per_bucket = 4;
};

/// Statistics of one size class.
struct size_class_stats {
    /// Size of every block of the class.
    std::size_t block_size;
    /// Blocks allocated and not yet deallocated (a count settled lazily: see size_class_resource).
    std::size_t blocks_in_use;
    std::size_t spans;      ///< held now
    std::size_t peak_spans; ///< most held at once since construction or release()
    /// Spans taken from upstream since construction or release(), not counting the first spans
    /// cut from a block the classes share (resource_stats counts that block).
    std::size_t upstream_allocations;
};

/// One row of the utilization report: how a class's span is used.
struct size_class_utilization {
    /// Size of every block of the class.
    std::size_t block_size;
    std::size_t alignment; ///< of every block
    /// Bytes of one span of the class, as taken from upstream.
    std::size_t span_bytes;
    /// Blocks one span holds.
    std::size_t blocks_per_span;
    std::size_t wasted_bytes; ///< per span: header, alignment padding and tail
    double utilization;       ///< blocks_per_span * block_size / span_bytes
};

namespace detail {

// The classes of size_class_resource: every 8 bytes from 16 to 128, 4 per power of two to 64 KiB.
using default_size_classes = size_class_map<8, max_pooled_limit, sizeof(span)>;

// The classes of an aligned_pool_resource of alignment A: the powers of two from 16 to A / 2, then
// every multiple of A up to 64 A (4 KiB at A = 64; up to 64 KiB, all pooled sizes, from A = 1024),
// 4 per power of two above, to 64 KiB. So a block's only internal waste is the rounding up to A,
// or below A to a power of two, for every request up to 64 A. Why the powers of two below A: a
// 24-byte hash-map node in a class of 64 made a container of small nodes touch 2.7 times the
// memory that size_class_resource gives it (W4c: 1.6 to 1.8 times its time), while a block
// smaller than A holds no SIMD register of A bytes anyway; aligned to its own size rounded up, it
// still takes an aligned load of any width that fits in it. Why not every multiple of A up to
// 64 KiB: each class is a pool with state in the resource and spans of its own (1,024 classes at
// A = 64), and more classes sharing a load hold more memory at peak (see size_classes.hpp).
template <std::size_t Alignment>
using aligned_size_classes =
    size_class_map<Alignment, max_pooled_limit, sizeof(span), 2,
                   std::min<std::size_t>(64, max_pooled_limit / Alignment), true>;
class size_class_heap {
public:
    // The most classes of any map (aligned_size_classes<16> has 88).
    static constexpr std::size_t max_classes = 96;
    // class_of's answer for a request that is not pooled (a large block).
    static constexpr std::size_t large = max_classes;
    // The fast paths take requests whose last byte (see last_byte) is below fast_limit, through
    // the table's routes.
    static constexpr std::size_t fast_limit = small_block_limit;
    // The blocks on a class's free list are free but still counted live by their spans: a block
    // freed and soon allocated again (the common case) never touches its span's header, and a
    // block taken from the list needs no count. settle() counts the older half freed, moving
    // them to their spans' lists, once the list holds more than the class's max_uncounted: the
    // blocks of uncounted_bytes, at least 128 and at least a span's blocks (a refill takes one
    // span's whole list). In bytes, so that a small class's working set (1000 nodes of 64 bytes
    // freed in any order and allocated again: W2) cycles on the fast paths without a settle
    // every 64 frees, while what the lists can keep from going back upstream stays near 64 KiB
    // per class.
    static constexpr std::size_t uncounted_bytes = std::size_t{64} << 10;
    static constexpr std::size_t min_max_uncounted = 128;
    // Starter blocks: the classes' first spans of min_growth_span bytes (those of the classes up
    // to 896 bytes) are cut from upstream blocks of starter_spans of them, so that a pool made
    // for a short task takes one block from upstream for every eight classes rather than one per
    // class it touches (W5s: ten aligned requests of several hundred instructions each in glibc,
    // 40% of the pool's time). A block goes back when every span cut from it has; until then the
    // spans given back are not reused, so at most starter_bytes of a block are idle. Eight spans,
    // the 8 KiB a small class used to start with, so that no pool holds much more than it did
    // then (16 KiB was up to 15% faster on W5s, and held twice as much for a pool of one class).
    // A block is asked for with the fundamental alignment, one span less that alignment larger
    // than its spans, which start at its first span boundary: glibc serves an aligned request by
    // splitting a larger chunk and freeing its ends, whose small ends cost the next large request
    // a consolidation of glibc's fast bins (W5s: the two first spans past one block, each asked
    // for aligned, were a quarter of a pool's time). Up to starter_blocks blocks at once, then
    // first spans are asked for one by one. Not where the table caps how many blocks an upstream
    // request may hold (class_table::shares_first_spans).
    static constexpr std::size_t starter_spans = 8;
    static constexpr std::size_t starter_blocks = 4;
    static constexpr std::size_t starter_alignment = alignof(std::max_align_t);
    static constexpr std::size_t starter_bytes =
        (starter_spans + 1) * size_class_policy::min_growth_span - starter_alignment;

    // Takes no memory. Precondition: table.count <= max_classes, table.routes != nullptr.
    size_class_heap(const class_table& table, const size_class_options& options,
                    std::pmr::memory_resource* upstream);
    size_class_heap(const size_class_heap&) = delete;
    size_class_heap& operator=(const size_class_heap&) = delete;
    ~size_class_heap() { give_back_all(); }

    // One less than bytes rounded up to a power-of-two alignment (wraps for 0 bytes): the fast
    // paths' single test of size and alignment. For an alignment that is not a power of two it is
    // still at least bytes - 1.
    [[nodiscard]] static std::size_t last_byte(std::size_t bytes, std::size_t alignment) noexcept {
        return (bytes - 1) | (alignment - 1);
    }

    // A block of at least `bytes` aligned to `alignment`: memory_resource::allocate's contract.
    // Impossible sizes throw std::bad_alloc; upstream exceptions propagate.
    void* allocate(std::size_t bytes, std::size_t alignment) {
        const std::size_t last = last_byte(bytes, alignment);
        if (last < fast_limit) [[likely]] {
            assert(is_power_of_two(alignment) && "see size_class_resource's class comment");
            return allocate_in(*m_routes[last / route_granule]);
        }
        return allocate_slow(bytes, alignment);
    }
    void deallocate(void* p, std::size_t bytes, std::size_t alignment) noexcept {
        const std::size_t last = last_byte(bytes, alignment);
        if (last < fast_limit) [[likely]] {
            deallocate_in(p, *m_routes[last / route_granule]);
            return;
        }
        deallocate_slow(p, bytes, alignment);
    }

    // The class serving (bytes, alignment), or `large`. Any sizes and alignments, checked before
    // any arithmetic.
    [[nodiscard]] std::size_t class_of(std::size_t bytes, std::size_t alignment) const noexcept;
    [[nodiscard]] std::size_t class_size(std::size_t c) const noexcept { return m_table.size(c); }

    // Batches, for a front end that caches blocks elsewhere (concurrent_pool_resource's threads),
    // on lists linked with key() (the front end links its caches with it too, so that lists move
    // whole). take: pushes up to n blocks of class c onto `out` and returns how many; upstream's
    // exception propagates only if not one block could be taken.
    std::size_t take(std::size_t c, std::size_t n, free_list& out);
    // give: every block of `blocks` (class-c blocks of this heap) is free again.
    void give(std::size_t c, free_list blocks) noexcept;
    // The key of every free list of this heap (see free_list.hpp). Constant.
    [[nodiscard]] const free_list_key& key() const noexcept { return m_key; }
    // Hardened builds: stops the program with a report unless p is the start of a class-c block of
    // one of this heap's spans. Does nothing in other builds. O(1): owned_spans for the spans of
    // the class's own size, then the few smaller ones a class starts with (see new_span).
    void check_block(const void* p, std::size_t c) const noexcept {
        if (!holds_any_block(p, c)) [[unlikely]] {
            report_foreign_pointer(p);
        }
    }
    // check_block's test without the report (always true in other builds), whole and in its two
    // parts: the spans of the class's own size (inline), then the smaller ones a class starts
    // with. Each takes no lock and may run while another thread changes the heap, then possibly
    // missing a block.
    [[nodiscard]] bool holds_any_block(const void* p, std::size_t c) const noexcept {
        return holds_block(p, c) || holds_smaller_block(p, c);
    }
    [[nodiscard]] bool holds_block(const void* p, std::size_t c) const noexcept {
        return m_owned.holds_block(p, c);
    }
    [[nodiscard]] bool holds_smaller_block(const void* p, std::size_t c) const noexcept {
        return m_owned.holds_smaller_block(p, c);
    }

    // Gives every span and large block back (see size_class_resource::release / trim).
    void release() noexcept;
    void trim() noexcept;

    [[nodiscard]] std::pmr::memory_resource* upstream_resource() const noexcept {
        return m_upstream;
    }
    [[nodiscard]] const size_class_options& options() const noexcept { return m_options; }
    [[nodiscard]] std::size_t class_count() const noexcept { return m_class_count; }
    [[nodiscard]] size_class_stats class_stats(std::size_t c) const noexcept;
    [[nodiscard]] std::size_t upstream_bytes() const noexcept {
        return m_span_bytes + m_large.upstream_bytes();
    }
    [[nodiscard]] std::size_t peak_upstream_bytes() const noexcept { return m_peak_bytes; }
    [[nodiscard]] std::size_t span_count() const noexcept;
    [[nodiscard]] std::size_t large_blocks_in_use() const noexcept { return m_large.live_blocks(); }
    [[nodiscard]] std::size_t large_blocks_cached() const noexcept {
        return m_large.cached_blocks();
    }
    [[nodiscard]] std::size_t large_upstream_allocations() const noexcept {
        return m_large.block_allocations();
    }
    // The snapshot in the common shape (resource is left empty for the front end to name).
    [[nodiscard]] resource_stats stats() const noexcept;

    // The options as a heap over `table` normalizes them, and its utilization report.
    [[nodiscard]] static size_class_options normalized(const class_table& table,
                                                       size_class_options options) noexcept;
    [[nodiscard]] static std::vector<size_class_utilization>
    utilization(const class_table& table, const size_class_options& options);

private:
    // A class's free list, all of it counted live by the spans. 32-bit fields (16-bit ones
    // measured 20% slower on W1, as many instructions); 16 bytes, so that no list straddles two
    // cache lines.
    struct alignas(16) class_list {
        free_list blocks;
        // Counts down: a free that takes it below 0 settles, in the fast path's one decrement and
        // sign test; an allocate adds one back without a test.
        std::int32_t room = 0; // max_uncounted - blocks on the list
        std::int32_t max_uncounted = 0;

        [[nodiscard]] std::size_t uncounted() const noexcept {
            return static_cast<std::size_t>(max_uncounted - room);
        }
    };

    // The state of a used class (see used()), made by init_class.
    struct class_state {
        span_list with_free; // spans whose own free list has blocks
        span_list others;
        span* carving = nullptr; // the span whose tail is still being carved
        // The spans smaller than the class's own (size_class_policy::growth_levels): the span of
        // level l is growing[l - 1] until given back. A class has at most one of each level.
        std::array<span*, size_class_policy::max_growth_levels> growing{};
        std::uint8_t growing_spans = 0; // entries of `growing` not null
        std::uint8_t next_level = 0;    // of the class's next span (0: its own size)
        std::size_t counted_live = 0;   // blocks its spans count live (the sum of span::live)
        std::size_t peak_spans = 0;
        std::size_t upstream_allocations = 0;
    };
    // The states live in raw storage, made at each class's first refill: zeroing all 96 (10 KB)
    // at construction was a fifth of the time of a pool made for a few requests (W5s), which
    // uses about ten classes. Precondition of state_of(c): used(c).
    [[nodiscard]] class_state& state_of(std::size_t c) noexcept {
        return *std::launder(reinterpret_cast<class_state*>(&m_states[c * sizeof(class_state)]));
    }
    [[nodiscard]] const class_state& state_of(std::size_t c) const noexcept {
        return *std::launder(
            reinterpret_cast<const class_state*>(&m_states[c * sizeof(class_state)]));
    }
    // The state of class c, made (init_class) first if the class has not been used: what the
    // refills, which may be a class's first, begin with.
    [[nodiscard]] class_state& used_state(std::size_t c) noexcept {
        if (!used(c)) [[unlikely]] {
            init_class(m_lists[c]);
        }
        return state_of(c);
    }

    // The fast paths. What they rarely do (refill, settle) is out of line and given the list, not
    // its class, so that no class index or table load is computed on the common path.
    void* allocate_in(class_list& list) {
        void* block = list.blocks.pop(m_key, pool_mark_at);
        if (block == nullptr) [[unlikely]] {
            return refill(list);
        }
        asan_unpoison(block, class_size(class_of(list)));
        ++list.room;
        return block;
    }

    void deallocate_in(void* p, class_list& list) noexcept {
        check_block(p, class_of(list));
        asan_poison(p, class_size(class_of(list)));
        // Both paths end in a call: the fast path saves no register (see free_list::push).
        if (--list.room < 0) [[unlikely]] {
            push_and_settle(p, list);
            return;
        }
        list.blocks.push(p, m_key, pool_mark_at);
    }

    [[nodiscard]] std::size_t class_of(const class_list& list) const noexcept {
        return static_cast<std::size_t>(&list - m_lists.data());
    }
    [[nodiscard]] span* owner(const void* block, std::size_t c) const noexcept {
        if (state_of(c).growing_spans != 0) [[unlikely]] {
            if (span* s = growing_owner(block, c)) {
                return s;
            }
        }
        const header_locator& at = m_table.locator(c);
        return span::owner(block, at.mask, at.offset);
    }

    PMRKIT_NOINLINE void* allocate_slow(std::size_t bytes, std::size_t alignment);
    PMRKIT_NOINLINE void deallocate_slow(void* p, std::size_t bytes,
                                         std::size_t alignment) noexcept;
    // The span of the class's smaller spans (growing) that holds block, or nullptr.
    [[nodiscard]] span* growing_owner(const void* block, std::size_t c) const noexcept;
    PMRKIT_NOINLINE void* refill(class_list& list);
    // Counts the older half of the list's uncounted blocks freed, and gives empty spans back
    // when more than the options allow have been found.
    PMRKIT_NOINLINE void settle(class_list& list) noexcept;
    // Pushes p onto the list, then settles it.
    PMRKIT_NOINLINE void push_and_settle(void* p, class_list& list) noexcept;
    // Moves all but the top `keep` uncounted blocks of class c to their spans' lists, counted
    // freed; flags spans emptied.
    void count_frees(std::size_t c, std::size_t keep) noexcept;
    // Calls f(span*, list) for every span of a class_state and the list holding it; f may remove
    // the span and give it back.
    template <class State, class F>
    static void for_each_span(State& state, F f) noexcept;
    span* new_span(std::size_t c);
    struct starter {
        std::byte* block = nullptr;     // as upstream gave it; nullptr: the entry is free
        std::byte* first_cut = nullptr; // its first span boundary
        std::uint32_t cut = 0;          // spans cut from it
        std::uint32_t live = 0;         // of those, not given back
    };
    // A span of size_class_policy::min_growth_span bytes cut from a starter block (one taken
    // from upstream if every block held has been cut), or nullptr when starter_blocks blocks are
    // held and every span of them has been cut. Precondition: m_table.shares_first_spans.
    void* cut_from_starter();
    // The starter block s was cut from, or nullptr (s was asked for on its own).
    [[nodiscard]] starter* starter_of(const span* s) noexcept;
    // Whether class c has been refilled since construction or release() (init_class): a class
    // that has not holds no span and has no state.
    [[nodiscard]] bool used(std::size_t c) const noexcept {
        return ((m_used[c / 64] >> (c % 64)) & 1) != 0;
    }
    // Calls f(c) for every used class c, in increasing order. f may give spans back.
    template <class F>
    void for_each_used(F f) const noexcept {
        for (std::size_t w = 0; w < m_used.size(); ++w) {
            for (std::uint64_t bits = m_used[w]; bits != 0; bits &= bits - 1) {
                f(w * 64 + static_cast<std::size_t>(std::countr_zero(bits)));
            }
        }
    }
    // Whether no block of class c is live: every block its spans count live is on its list.
    [[nodiscard]] bool no_block_live(std::size_t c) const noexcept {
        return state_of(c).counted_live == m_lists[c].uncounted();
    }
    // Whether the class holds a span give_back_if_unused would give back.
    [[nodiscard]] static bool has_spare(const class_state& state) noexcept {
        return state.growing_spans != 0 && state.with_free.count() + state.others.count() > 1;
    }
    // If no block of the heap is live, gives back the spans smaller than their class's own but
    // each class's largest (see the class comment of size_class_resource).
    PMRKIT_NOINLINE void give_back_if_unused() noexcept;
    // A sweep (see empty_span_decay); all: every empty span, the carving ones too (trim).
    void give_back_empty_spans(bool all) noexcept;
    // Gives back the spans the last sweep kept that have not been used since.
    void give_back_kept_spans() noexcept;
    void give_back(span* s) noexcept;
    // Gives every span and large block back to upstream, and leaves the classes' state stale:
    // release() renews it, destruction need not.
    void give_back_all() noexcept;
    void note_peak() noexcept;
    // Makes the state and sets the list limits of a class that has not been used, at its first
    // refill, and marks it used: a heap's construction and release() leave every class unused, so
    // that a pool made for a few requests pays only for the classes it uses.
    void init_class(class_list& list) noexcept;

    // The fast paths touch only m_key, m_lists and m_routes (and rarely a span's header). A route
    // per granule of the fast paths' reach leads to the granule's class list in one load: two
    // instructions and a load fewer than the class table, a scaling and an add.
    free_list_key m_key; // of every list: the classes', the spans', the front end's batches
    std::array<class_list, max_classes> m_lists{};
    std::array<class_list*, route_count> m_routes;
    const class_table& m_table;
    alignas(class_state) std::array<std::byte, max_classes * sizeof(class_state)> m_states;
    std::size_t m_class_count;
    // Bit c % 64 of word c / 64: used(c). The loops over the classes visit only the used ones, a
    // pool made for a short task about ten of its eighty (each visited was 5% of W5s's
    // destruction).
    std::array<std::uint64_t, (max_classes + 63) / 64> m_used{};
    std::size_t m_reported = 0; // spans reported empty since the last sweep, or kept by it
    std::size_t m_reported_bytes = 0;
    std::uint64_t m_refills = 0; // the clock of empty_span_decay
    std::uint64_t m_swept_at = 0;
    std::size_t m_kept_spans = 0; // spans kept_empty
    std::size_t m_span_bytes = 0; // the starter blocks' included, not the spans cut from them
    std::size_t m_peak_bytes = 0;
    std::array<starter, starter_blocks> m_starters{};
    std::size_t m_starter_allocations = 0;
    // When a class empties, whether to see if the heap has no block live (give_back_if_unused).
    enum class unused_check : std::uint8_t {
        armed,
        idle,      // nothing to give back was found, and the heap has taken no span since
        gave_back, // then the heap took no span
        cycles,    // the heap took a span after giving back: it empties and fills in cycles
    };
    unused_check m_unused = unused_check::armed;
    std::pmr::memory_resource* m_upstream;
    size_class_options m_options;
    large_block_cache m_large;
    [[no_unique_address]] span_checks m_owned; // hardened builds: the spans' blocks
};

} // namespace detail
} // namespace pmrkit
