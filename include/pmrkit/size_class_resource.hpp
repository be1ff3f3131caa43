// SPDX-License-Identifier: MIT
#pragma once

#include "pmrkit/detail/asan.hpp"
#include "pmrkit/detail/free_list.hpp"
#include "pmrkit/detail/large_block_cache.hpp"
#include "pmrkit/detail/math.hpp"
#include "pmrkit/detail/owned_ranges.hpp"
#include "pmrkit/detail/size_classes.hpp"
#include "pmrkit/detail/span.hpp"
#include "pmrkit/detail/thread_check.hpp"
#include "pmrkit/resource_stats.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstddef>
#include <iosfwd>
#include <memory_resource>
#include <vector>

namespace pmrkit {

// The least max_pooled_size: as far as the fast paths reach, so that whatever they take is pooled.
inline constexpr std::size_t size_class_min_pooled_size = 2048;

struct size_class_options {
    // Largest request served from the size classes (its size rounded up to its alignment).
    // Rounded up to a class size and clamped to [2 KiB, 64 KiB]. Larger requests are large blocks.
    std::size_t max_pooled_size = 32 * 1024;
    // Empty spans kept for reuse, at most this many and at most max_empty_bytes bytes. When more
    // spans (or bytes) than this have become empty since the last sweep, every empty span is given
    // back to upstream (besides each class's span still being carved). 0 gives empty spans back
    // as soon as one is found.
    std::size_t max_empty_spans = 1024;
    std::size_t max_empty_bytes = std::size_t{8} << 20;
    // Large blocks kept after deallocate for reuse by the next request of the same bucket: at most
    // this many bytes in all (0: no cache, large blocks pass through with their exact size) ...
    std::size_t large_cache_bytes = std::size_t{128} << 20;
    // ... and at most this many blocks per bucket (4 buckets per power of two).
    std::size_t large_cache_per_bucket = 4;
};

// Statistics of one size class.
struct size_class_stats {
    std::size_t block_size;
    std::size_t blocks_in_use;
    std::size_t spans;          // held now
    std::size_t peak_spans;     // most held at once since construction or release()
    std::size_t upstream_calls; // spans taken from upstream since construction or release()
};

// One row of the utilization report: how a class's span is used.
struct size_class_utilization {
    std::size_t block_size;
    std::size_t alignment; // of every block
    std::size_t span_bytes;
    std::size_t blocks_per_span;
    std::size_t wasted_bytes; // per span: header, alignment padding and tail
    double utilization;       // blocks_per_span * block_size / span_bytes
};

// size_class_resource: a general small-object pool for any mix of sizes, as node containers,
// strings and DOMs produce. The workhorse of pmrkit. It is basic_size_class_resource over the
// default classes; aligned_pool_resource is the same mechanism over classes that are multiples of
// its alignment (detail::aligned_size_classes).
//
// How: a request's size, rounded up to its alignment, picks a size class in O(1) (a table below
// 2 KiB, bit arithmetic above; classes every 8 bytes to 128, then 4 per power of two, so internal
// waste is under 8 bytes or 20%; see size_classes.hpp for why not 8). Each class has one
// intrusive LIFO free list: allocate pops, deallocate pushes. Memory comes from upstream in spans
// aligned to their size (8 KiB for most classes up to 1 KiB, larger for larger classes, chosen so
// that spans are at least 96% blocks), carved lazily; no span is taken for a class before it is
// used. A span's header (after its last block) is found from any block by a mask and an add, and
// counts the span's live blocks. The count is settled lazily: the most recently freed blocks of a
// class (at most 128) stay on the class's list counted live, so that a block freed and allocated
// again never touches the header; older frees move in batches to their spans' own free lists,
// counted free. A class whose list runs empty takes the whole list of one span that has free
// blocks, in O(1). So after many frees (a container destroyed) a class hands out one span's
// blocks at a time, close together, not the class's blocks in the order they were freed: with one
// list per class, a hash map built after its predecessor was destroyed had its nodes scattered
// over every span of the class (W4c: 0.77 of new_delete's time before, 0.56 after, in an A/B run;
// mimalloc shards its free lists per page for the same reason). A span found empty is reported;
// once more than options().max_empty_spans spans (or max_empty_bytes bytes) have been reported,
// every empty span goes back upstream (its blocks still on the class's list taken off it in one
// pass), and trim() does the same on demand.
//
// Alignment: every block is aligned to the largest power of two dividing its class size, so a
// request of `bytes` aligned to `a` goes to the class of align_up(bytes, a); any power of two up
// to the largest class is honoured, larger ones pass upstream. An alignment must be a power of two
// (the precondition of memory_resource::allocate). One of 2 KiB or more throws std::bad_alloc.
// One below 2 KiB is not checked on the fast path: a debug build asserts, a release build returns
// a block of at least `bytes` bytes (memory-safe, but its alignment is not promised).
//
// Large requests (above max_pooled_size) go upstream through a bounded cache of recently freed
// large blocks (detail::large_block_cache: bucket-rounded, exact give-back, 128 MiB by default),
// aligned to at least the classes' granularity (8 bytes here).
//
// Complexity: allocate and deallocate O(1) amortized (a batch of 64 counts per 64 frees at most);
// a new span costs one upstream call. Giving empty spans back costs O(spans + free blocks of the
// classes that had one), at most once per max_empty_spans + 1 spans (or max_empty_bytes bytes)
// found empty. Never returns null: impossible sizes throw std::bad_alloc, upstream exceptions
// propagate unchanged, and the resource stays usable after either.
//
// Safety: the free lists' links are encoded and checked, and blocks of 16 bytes or more carry a
// double-free mark (see detail/free_list.hpp and docs/security.md): a use-after-free write into a
// block's link or a double free of a block still on its class's list stops the program.
// Hardened builds (PMRKIT_HARDENED) check every free: besides the free lists' checks, a pointer
// that is not the start of a block of a span of the class its size maps to (another resource's, one
// inside a block, or a free with the wrong size), and a large block it did not hand out, stop the
// program with a report (O(log spans) per deallocate).
//
// Thread safety: none. One thread at a time may use an instance.
//
// Example:
//     pmrkit::size_class_resource pool;             // over the default resource
//     std::pmr::map<int, std::pmr::string> m(&pool); // nodes and strings from the pool
template <class Classes>
class basic_size_class_resource final : public std::pmr::memory_resource {
public:
    using classes = Classes;

    // Takes no memory. Throws nothing but what copying the options throws.
    explicit basic_size_class_resource(
        const size_class_options& options = {},
        std::pmr::memory_resource* upstream = std::pmr::get_default_resource());
    explicit basic_size_class_resource(std::pmr::memory_resource* upstream)
        : basic_size_class_resource(size_class_options{}, upstream) {}

    basic_size_class_resource(const basic_size_class_resource&) = delete;
    basic_size_class_resource& operator=(const basic_size_class_resource&) = delete;

    // Returns all memory to upstream, live blocks included.
    ~basic_size_class_resource() override { release(); }

    // Gives every span and every large block (live or cached) back to upstream with the size and
    // alignment it was taken with, and returns to the state right after construction. Blocks
    // handed out before become invalid.
    void release() noexcept;

    // Gives back every empty span (including a class's span being carved, if empty) and every
    // cached large block. After everything is deallocated, trim() leaves upstream_bytes() == 0.
    // O(spans + free blocks of the classes that had an empty span).
    void trim() noexcept;

    [[nodiscard]] std::pmr::memory_resource* upstream_resource() const noexcept {
        return m_upstream;
    }
    // The options after normalization.
    [[nodiscard]] const size_class_options& options() const noexcept { return m_options; }

    // Classes served, from 0 to class_count() - 1, smallest first.
    [[nodiscard]] std::size_t class_count() const noexcept { return m_class_count; }
    // Precondition: c < class_count(). O(spans of the class).
    [[nodiscard]] size_class_stats class_stats(std::size_t c) const noexcept;

    // Bytes held from upstream now: spans, large blocks (live and cached) and their table.
    [[nodiscard]] std::size_t upstream_bytes() const noexcept {
        return m_span_bytes + m_large.upstream_bytes();
    }
    // Most bytes held from upstream at once since construction or release().
    [[nodiscard]] std::size_t peak_upstream_bytes() const noexcept { return m_peak_bytes; }
    // Spans held now, in all classes.
    [[nodiscard]] std::size_t span_count() const noexcept;
    [[nodiscard]] std::size_t large_blocks_in_use() const noexcept { return m_large.live_blocks(); }
    [[nodiscard]] std::size_t large_blocks_cached() const noexcept {
        return m_large.cached_blocks();
    }
    // Large-block allocations that went to upstream (cache misses and uncached requests).
    [[nodiscard]] std::size_t large_upstream_calls() const noexcept {
        return m_large.upstream_calls();
    }

    // The snapshot in the common shape, O(spans). Bytes are whole blocks (large blocks as sized
    // for upstream); upstream calls are those for spans since construction or release() plus
    // those for large blocks and their table since construction. The fast path counts
    // nothing, so allocations, deallocations and served_locally are not known here (put a
    // stats_resource above the pool for them).
    [[nodiscard]] resource_stats stats() const noexcept;

    // The utilization report: one row per class served with these options.
    [[nodiscard]] static std::vector<size_class_utilization>
    utilization(const size_class_options& options = {});
    // Prints the report as a Markdown table with its summary (average, worst, internal waste).
    static void print_utilization(std::ostream& out, const size_class_options& options = {});

    // Hardened builds (PMRKIT_HARDENED): stops the program with a report unless p is the start of
    // a block of the class serving (bytes, alignment), in one of this pool's spans; large sizes
    // are not checked here (deallocate checks them). Does nothing in other builds. For a resource
    // that keeps this pool's blocks elsewhere before they come back (concurrent_pool_resource's
    // thread caches). O(log spans).
    void check_pooled_block(const void* p, std::size_t bytes,
                            std::size_t alignment) const noexcept {
        if constexpr (detail::hardened_build) {
            const std::size_t c = pooled_class(bytes, alignment);
            if (c != classes::count) {
                m_owned.check_block(p, classes::size(c));
            }
        }
    }

    // The class serving (bytes, alignment), or classes::count for a large block. Any sizes and
    // alignments, checked before any arithmetic. (concurrent_pool_resource maps requests to the
    // same classes as its central pool through this.)
    [[nodiscard]] std::size_t pooled_class(std::size_t bytes, std::size_t alignment) const noexcept;

private:
    // A class's free list; its top `uncounted` blocks are still counted live by their spans.
    // 32-bit fields keep it at 16 bytes.
    struct class_list {
        detail::free_list blocks;
        std::uint32_t uncounted = 0;
        std::uint32_t mark_at = 0; // detail::free_list::mark_offset of the class's size
    };

    // The fast paths take 1 <= bytes <= 2 KiB and alignment <= 2 KiB, tested at once on
    // last = (bytes - 1) | (alignment - 1), which is one less than bytes rounded up to the
    // alignment (and wraps for 0 bytes). Its route (m_routes, one per granule) leads to the
    // class's list. For an alignment that is not a power of two, last is still at least bytes - 1
    // and within the routes.
    static constexpr std::size_t fast_limit =
        std::min(classes::lookup_limit, size_class_min_pooled_size);

    [[nodiscard]] static std::size_t last_byte(std::size_t bytes, std::size_t alignment) noexcept {
        return (bytes - 1) | (alignment - 1);
    }

    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        PMRKIT_THREAD_CHECK(m_in_use, "size_class_resource");
        const std::size_t last = last_byte(bytes, alignment);
        if (last < fast_limit) [[likely]] {
            assert(detail::is_power_of_two(alignment) && "see the class comment");
            return allocate_in(*m_routes[last / classes::granularity]);
        }
        return allocate_slow(bytes, alignment);
    }

    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        PMRKIT_THREAD_CHECK(m_in_use, "size_class_resource");
        const std::size_t last = last_byte(bytes, alignment);
        if (last < fast_limit) [[likely]] {
            deallocate_in(p, *m_routes[last / classes::granularity]);
            return;
        }
        deallocate_slow(p, bytes, alignment);
    }

    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

    [[nodiscard]] static detail::span* owner(const void* block, std::size_t c) noexcept {
        const typename classes::header_locator& at = classes::locator(c);
        return detail::span::owner(block, at.mask, at.offset);
    }

    // Fast paths. A free list's top `uncounted` blocks are free but still counted live by their
    // spans: a block freed and soon allocated again (the common case) never touches its span's
    // header. settle() counts the older half, moving them to their spans' lists, once the
    // uncounted blocks pass a bound.
    void* allocate_in(class_list& list) {
        const std::size_t c = class_of(list);
        void* block = list.blocks.pop(m_key, list.mark_at);
        if (block == nullptr) [[unlikely]] {
            return refill(c);
        }
        detail::asan_unpoison(block, classes::size(c));
        if (list.uncounted != 0) [[likely]] {
            --list.uncounted;
        } else {
            owner(block, c)->count_allocated();
        }
        return block;
    }

    void deallocate_in(void* p, class_list& list) noexcept {
        const std::size_t c = class_of(list);
        m_owned.check_block(p, classes::size(c));
        detail::asan_poison(p, classes::size(c));
        // Both paths end in a call: the fast path saves no register (see free_list::push).
        if (++list.uncounted > max_uncounted) [[unlikely]] {
            push_and_settle(p, c);
            return;
        }
        list.blocks.push(p, m_key, list.mark_at);
    }

    [[gnu::noinline]] void* allocate_slow(std::size_t bytes, std::size_t alignment);
    [[gnu::noinline]] void deallocate_slow(void* p, std::size_t bytes,
                                           std::size_t alignment) noexcept;
    [[gnu::noinline]] void* refill(std::size_t c);
    [[gnu::noinline]] void settle(std::size_t c, std::size_t keep) noexcept;
    // Pushes p onto class c's list, then settles half of its uncounted blocks.
    [[gnu::noinline]] void push_and_settle(void* p, std::size_t c) noexcept;
    // Moves all but the top `keep` uncounted blocks of class c to their spans' lists, counted
    // freed; flags spans emptied.
    void count_frees(std::size_t c, std::size_t keep) noexcept;
    // Calls f(span*, list) for every span of a class_state and the list holding it; f may remove
    // the span and give it back.
    template <class State, class F>
    static void for_each_span(State& state, F f) noexcept;
    detail::span* new_span(std::size_t c);
    void give_back_empty_spans(bool with_carving) noexcept;
    void give_back(detail::span* s) noexcept;
    void note_peak() noexcept;
    void set_mark_offsets() noexcept;

    struct class_state {
        detail::span_list with_free; // spans whose own free list has blocks
        detail::span_list others;
        detail::span* carving = nullptr; // the span whose tail is still being carved
        std::size_t peak_spans = 0;
        std::size_t upstream_calls = 0;
    };

    static constexpr std::size_t max_uncounted = 128;

    [[nodiscard]] std::size_t class_of(const class_list& list) const noexcept {
        return static_cast<std::size_t>(&list - m_lists.data());
    }

    // The fast paths touch only these arrays (and rarely a span's header). A route per granule
    // of the fast paths' reach leads to the granule's class list in one load: two instructions
    // and a load fewer than the class table, a scaling and an add.
    static constexpr std::size_t routes =
        (fast_limit + classes::granularity - 1) / classes::granularity;
    detail::free_list_key m_key; // of every list: classes', spans' (see free_list.hpp)
    std::array<class_list, classes::count> m_lists{};
    std::array<class_list*, routes> m_routes;
    std::array<class_state, classes::count> m_classes{};
    std::size_t m_class_count;
    std::size_t m_max_pooled;
    std::size_t m_reported = 0; // spans reported empty since the last sweep
    std::size_t m_reported_bytes = 0;
    std::size_t m_span_bytes = 0;
    std::size_t m_peak_bytes = 0;
    std::pmr::memory_resource* m_upstream;
    size_class_options m_options;
    detail::large_block_cache m_large;
    [[no_unique_address]] detail::pool_ranges m_owned; // hardened builds: the spans' blocks
    detail::entry_flag m_in_use; // concurrent-use detection, see thread_check.hpp
};

namespace detail {
// The classes of size_class_resource: every 8 bytes to 128, 4 per power of two to 64 KiB.
using default_size_classes = size_class_map<8, 64 * 1024, sizeof(span)>;

// The classes of an aligned_pool_resource of alignment A: every multiple of A up to 64 A (4 KiB at
// A = 64; up to 64 KiB, all pooled sizes, from A = 1024), 4 per power of two above, to 64 KiB. So
// a block's only internal waste is the rounding up to A for every request up to 64 A. Why not
// every multiple of A up to 64 KiB: each class is a pool with state in the resource and spans of
// its own (1,024 classes at A = 64), and more classes sharing a load hold more memory at peak
// (see above).
template <std::size_t Alignment>
using aligned_size_classes = size_class_map<Alignment, 64 * 1024, sizeof(span), 2,
                                            std::min<std::size_t>(64, 64 * 1024 / Alignment)>;

} // namespace detail

using size_class_resource = basic_size_class_resource<detail::default_size_classes>;

// Compiled once, in src/size_class_resource.cpp, for the default classes and every alignment of
// aligned_pool_resource.
extern template class basic_size_class_resource<detail::default_size_classes>;
extern template class basic_size_class_resource<detail::aligned_size_classes<16>>;
extern template class basic_size_class_resource<detail::aligned_size_classes<32>>;
extern template class basic_size_class_resource<detail::aligned_size_classes<64>>;
extern template class basic_size_class_resource<detail::aligned_size_classes<128>>;
extern template class basic_size_class_resource<detail::aligned_size_classes<256>>;
extern template class basic_size_class_resource<detail::aligned_size_classes<512>>;
extern template class basic_size_class_resource<detail::aligned_size_classes<1024>>;
extern template class basic_size_class_resource<detail::aligned_size_classes<2048>>;
extern template class basic_size_class_resource<detail::aligned_size_classes<4096>>;

} // namespace pmrkit
