// SPDX-License-Identifier: MIT
#pragma once

#include "pmrkit/engine/size_class_front.hpp"
#include "pmrkit/engine/size_class_heap.hpp"

#include <cstddef>
#include <memory_resource>
#include <vector>

namespace pmrkit {

/// Deprecated since 0.2 (removed in 0.3): the least max_pooled_size is detail::small_block_limit.
[[deprecated(
    "see detail::small_block_limit")]] inline constexpr std::size_t size_class_min_pooled_size =
    detail::small_block_limit;

/// size_class_resource: a general small-object pool for any mix of sizes, as node containers,
/// strings and DOMs produce. The workhorse of pmrkit. It is a front end over the size-class engine
/// (engine/size_class_heap.hpp) with the default classes; aligned_pool_resource is the same engine
/// over classes that are multiples of its alignment (detail::aligned_size_classes).
///
/// How: a request's size, rounded up to its alignment, picks a size class in O(1) (a table below
/// 2 KiB, bit arithmetic above; classes every 8 bytes from 16 to 128, then 4 per power of two, so
/// internal waste is under 8 bytes or 20%; see size_classes.hpp for why not 8). The smallest block
/// is 16 bytes, room for a free block's link and its double-free mark. Each class has one intrusive
/// LIFO free list: allocate pops, deallocate pushes. Memory comes from upstream in spans aligned to
/// their size (8 KiB for most classes up to 1 KiB, larger for larger classes, chosen so that spans
/// are at least 96% blocks), carved lazily; no span is taken for a class before it is used. A class
/// starts with a smaller span, of at least a block and 1 KiB, up to four halvings smaller, and each
/// new span of the class doubles the last until it reaches the class's own size
/// (detail::size_class_policy::growth_levels): a 32 KiB class with one block live holds 64 KiB, not
/// 1 MiB. The first spans of 1 KiB (the classes up to 896 bytes) are cut eight at a time from
/// upstream blocks asked for without over-alignment, each given back with the last span cut from
/// it (detail::size_class_heap::starter_bytes): a pool made for a few blocks in each of ten classes
/// takes two plain requests, 18 KiB, from upstream, not ten aligned ones of 80 KiB in all (which
/// made glibc grow and trim its heap around every such pool).
/// A span's header (after its last block) is found from any block by a mask and an add, and counts
/// the span's live blocks. The count is settled lazily: the blocks on a class's list (up to 64 KiB
/// of them, at least 128) stay counted live, so that a block freed and allocated again never
/// touches the header; older frees move in batches to their spans' own free lists, counted free. A
/// class whose list runs empty takes the whole list of one span that has free blocks, in O(1),
/// counting them live at once. So after many frees (a container destroyed) a class hands out one
/// span's blocks at a time, close together, not the class's blocks in the order they were freed:
/// with one list per class, a hash map built after its predecessor was destroyed had its nodes
/// scattered over every span of the class (W4c: 0.77 of new_delete's time before, 0.56 after, in an
/// A/B run; mimalloc shards its free lists per page for the same reason). A span found empty is
/// reported; once more than options().max_empty_spans spans (or max_empty_bytes bytes) have been
/// reported and at least options().empty_span_decay refills (allocations that find their class's
/// list empty) have passed since the last, a sweep takes every class's list off it, gives back
/// upstream the empty spans that the last sweep kept and that no refill has used since, and keeps
/// the others found empty for the next. So an empty span goes back once it has stayed empty through
/// a decay, and a program that frees everything and starts over (a batch, a request, a pass over
/// its input) finds its spans again rather than taking each from upstream once more (sqlite3's
/// trace replayed: 1.47 -> 0.82 of new_delete's time). A large block taken from upstream first
/// gives back the spans the last sweep kept that are still unused, so that upstream can reuse their
/// memory. trim() gives back every empty span at once. And a pool whose blocks are all freed gives
/// back the smaller spans its classes started with but each class's largest (so it holds at most
/// one of those per class), found when the last free is of a large block or of a block above 2 KiB
/// whose class holds more than one span. A pool that then takes a span again empties and fills in
/// cycles, and keeps its spans from then on (a give-back and a new span per cycle would cost more
/// than they save).
///
/// Alignment: every block is aligned to the largest power of two dividing its class size, so a
/// request of `bytes` aligned to `a` goes to the class of align_up(bytes, a); any power of two up
/// to the largest class is honoured, larger ones pass upstream. An alignment must be a power of two
/// (the precondition of memory_resource::allocate). One of 2 KiB or more throws std::bad_alloc.
/// One below 2 KiB is not checked on the fast path: a debug build asserts, a release build returns
/// a block of at least `bytes` bytes (memory-safe, but its alignment is not promised).
///
/// Large requests (above max_pooled_size) go upstream through a cache of recently freed large
/// blocks (detail::large_block_cache): a request reuses the best-fitting kept block aligned as
/// asked, what is kept stays within 1.5 times the most large-block bytes live at once and goes back
/// when not reused within 64 large-block calls, and upstream gets back exactly what it gave. Blocks
/// are aligned to at least the classes' granularity (8 bytes here).
///
/// Complexity: allocate and deallocate O(1) amortized (a batch of 64 counts per 64 frees at most);
/// a new span costs one upstream call. A sweep costs O(spans + free blocks of the classes that had
/// one), at most once per empty_span_decay refills and only while more than max_empty_spans spans
/// (or max_empty_bytes bytes) are reported or kept empty; a large block taken from upstream while
/// spans are kept empty costs O(spans) once; a free above 2 KiB that leaves its class, of more than
/// one span, with no block live looks at the other classes (O(classes), usually ending at the
/// first). Never returns null: impossible sizes throw std::bad_alloc, upstream exceptions
/// propagate unchanged, and the resource stays usable after either.
///
/// Safety: the free lists' links are encoded and checked, and blocks of 16 bytes or more carry a
/// double-free mark (see detail/free_list.hpp and docs/security.md): a use-after-free write into a
/// block's link or a double free of a block still on its class's list stops the program.
/// Hardened builds (PMRKIT_HARDENED) check every free: besides the free lists' checks, a pointer
/// that is not the start of a block of a span of the class its size maps to (another resource's,
/// one inside a block, or a free with the wrong size), and a large block it did not hand out, stop
/// the program with a report (O(1) per deallocate: a hash set of the spans,
/// detail/owned_spans.hpp).
///
/// Thread safety: none. One thread at a time may use an instance.
///
/// Example:
///
///     pmrkit::size_class_resource pool;             // over the default resource
///     std::pmr::map<int, std::pmr::string> m(&pool); // nodes and strings from the pool
class size_class_resource final : public detail::size_class_front {
public:
    /// The class map: every 8 bytes from 16 to 128, 4 classes per power of two to 64 KiB (see the
    /// class comment).
    using classes = detail::default_size_classes;

    /// Takes no memory. Throws nothing but what copying the options throws.
    explicit size_class_resource(
        const size_class_options& options = {},
        std::pmr::memory_resource* upstream = std::pmr::get_default_resource())
        : size_class_front("size_class_resource", classes::table, options, upstream) {}
    /// Default options over `upstream`.
    explicit size_class_resource(std::pmr::memory_resource* upstream)
        : size_class_resource(size_class_options{}, upstream) {}

    /// Returns all memory to upstream, live blocks included.
    ~size_class_resource() override = default;

    /// The options after normalization.
    [[nodiscard]] const size_class_options& options() const noexcept { return heap_options(); }

    /// The utilization report: one row per class served with these options (tools/ prints it).
    [[nodiscard]] static std::vector<size_class_utilization>
    utilization(const size_class_options& options = {}) {
        return detail::size_class_heap::utilization(classes::table, options);
    }
};

} // namespace pmrkit
