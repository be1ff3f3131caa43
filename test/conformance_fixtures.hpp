// SPDX-License-Identifier: MIT
// Every resource in the project, as the conformance suite sees it. A fixture says how to build
// the resource over a given upstream and what it claims:
//   resource                 the resource type
//   make(upstream)           a std::unique_ptr<resource> taking memory from `upstream`
//   max_alignment            every power of two up to this is honoured, for any size
//   freed                    what becomes of deallocated memory (freed_memory below)
// and optionally:
//   make()                   instead of make(upstream), for a resource with no upstream (memory
//                            from the OS or operator new); the upstream checks then do not apply
//   bottom()                 what the checking upstream takes its memory from (default
//                            new_delete_resource()), to test a stack: resource -> check -> bottom
//   instances_compare_equal  true for a stateless resource whose instances all compare equal
//   forwards_impossible      true for a decorator that hands even impossible requests to its
//                            upstream unchanged, for the upstream to refuse
// A resource with a release() member is also checked to give everything back through it.
// Adding a resource to the project means adding its fixtures here and to the list at the end.
#pragma once

#include "pmrkit/aligned_pool_resource.hpp"
#if PMRKIT_TEST_BOOST
#include "pmrkit/boost/adaptor.hpp"
#include "pmrkit/boost/json.hpp"
#endif
#include "pmrkit/arena_resource.hpp"
#include "pmrkit/concurrent_arena_resource.hpp"
#include "pmrkit/concurrent_pool_resource.hpp"
#include "pmrkit/decorators/limit_resource.hpp"
#include "pmrkit/decorators/stats_resource.hpp"
#include "pmrkit/decorators/synchronized_resource.hpp"
#include "pmrkit/decorators/test_resource.hpp"
#include "pmrkit/fixed_block_resource.hpp"
#include "pmrkit/monotonic_buffer_resource.hpp"
#include "pmrkit/size_class_resource.hpp"
#include "pmrkit/sources/heap_resource.hpp"
#include "pmrkit/sources/page_resource.hpp"
#include "pmrkit/synchronized_pool_resource.hpp"
#include "pmrkit/unsynchronized_pool_resource.hpp"

#include "support/checking_resource.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <memory_resource>

namespace pmrkit::test {

// What a resource does with memory it is given back; the refill cycles check the claim.
enum class freed_memory {
    reused,             // served again without asking upstream (pools)
    reused_after_reset, // served again after reset(), without asking upstream (arenas)
    returned_upstream,  // passed back to upstream at once (decorators)
    released,           // given back to upstream by release() only (monotonic buffers)
};

template <std::size_t BlockSize, std::size_t BlockAlignment>
struct fixed_block_fixture {
    using resource = fixed_block_resource;
    static std::unique_ptr<resource> make(std::pmr::memory_resource* upstream) {
        return std::make_unique<resource>(
            fixed_block_options{.block_size = BlockSize, .block_alignment = BlockAlignment},
            upstream);
    }
    static constexpr std::size_t max_alignment = 4096;
    static constexpr freed_memory freed = freed_memory::reused;
};

// Deletes a resource, then what it was built on (which the deleter owns, so that it outlives the
// resource).
template <class Owned>
struct deleter_owning {
    std::unique_ptr<Owned> owned;
    template <class Resource>
    void operator()(Resource* r) const noexcept {
        delete r;
    }
};

// An arena, optionally serving from an initial buffer before upstream.
template <std::size_t BufferSize, std::size_t FirstChunk, std::size_t MaxChunk>
struct arena_fixture {
    using resource = arena_resource;
    static std::unique_ptr<resource, deleter_owning<std::byte[]>>
    make(std::pmr::memory_resource* upstream) {
        deleter_owning<std::byte[]> d{BufferSize == 0 ? nullptr
                                                      : std::make_unique<std::byte[]>(BufferSize)};
        auto* arena = new arena_resource(
            d.owned.get(), BufferSize,
            arena_options{.first_chunk_size = FirstChunk, .max_chunk_size = MaxChunk}, upstream);
        return {arena, std::move(d)};
    }
    static constexpr std::size_t max_alignment = 4096;
    static constexpr freed_memory freed = freed_memory::reused_after_reset;
};

using arena_default = arena_fixture<0, 4096, std::size_t{1} << 20>;
using arena_with_buffer = arena_fixture<3000, 4096, std::size_t{1} << 20>;
using arena_small_chunks = arena_fixture<0, 256, 2048>;

// Boost is optional (PMRKIT_TEST_BOOST: its headers were found): the suite runs without it.
#if PMRKIT_TEST_BOOST
// The two Boost adaptors in a round trip, std -> Boost -> std, over a pool: whatever the suite
// checks must pass through both unchanged.
struct boost_round_trip {
    struct chain {
        explicit chain(std::pmr::memory_resource* upstream)
            : pool(fixed_block_options{.block_size = 64}, upstream), to_boost(pool) {}
        fixed_block_resource pool;
        boost_resource_adaptor to_boost;
    };
    using resource = std_resource_adaptor;
    static std::unique_ptr<resource, deleter_owning<chain>>
    make(std::pmr::memory_resource* upstream) {
        deleter_owning<chain> d{std::make_unique<chain>(upstream)};
        auto* adaptor = new std_resource_adaptor(d.owned->to_boost);
        return {adaptor, std::move(d)};
    }
    static constexpr std::size_t max_alignment = 4096;
    static constexpr freed_memory freed = freed_memory::reused;
};
// boost_json_arena, the adaptor typed for an arena, in the same round trip: the calls it makes
// without a virtual dispatch must behave as the virtual ones. reset() is the arena's.
struct boost_json_arena_round_trip {
    class resource final : public std::pmr::memory_resource {
    public:
        explicit resource(std::pmr::memory_resource* upstream)
            : m_arena(upstream), m_to_boost(m_arena), m_back(m_to_boost) {}
        void reset() noexcept { m_arena.reset(); }

    private:
        void* do_allocate(std::size_t bytes, std::size_t alignment) override {
            return m_back.allocate(bytes, alignment);
        }
        void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
            m_back.deallocate(p, bytes, alignment);
        }
        [[nodiscard]] bool
        do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
            return this == &other;
        }
        arena_resource m_arena;
        boost_json_arena m_to_boost;
        std_resource_adaptor m_back;
    };
    static std::unique_ptr<resource> make(std::pmr::memory_resource* upstream) {
        return std::make_unique<resource>(upstream);
    }
    static constexpr std::size_t max_alignment = 4096;
    static constexpr freed_memory freed = freed_memory::reused_after_reset;
};
#define PMRKIT_BOOST_FIXTURES                                                                      \
    pmrkit::test::boost_round_trip, pmrkit::test::boost_json_arena_round_trip,
#else
#define PMRKIT_BOOST_FIXTURES
#endif

using fixed_block_64 = fixed_block_fixture<64, alignof(std::max_align_t)>;
using fixed_block_16 = fixed_block_fixture<16, 8>;
using fixed_block_4096_aligned = fixed_block_fixture<4096, 4096>;

// Decorators that pass every request through, built over the upstream alone; ForwardsImpossible:
// impossible ones too (the statistics decorators count what they are asked, and what upstream
// refuses).
template <class Resource, bool ForwardsImpossible = false>
struct pass_through_fixture {
    using resource = Resource;
    static std::unique_ptr<resource> make(std::pmr::memory_resource* upstream) {
        return std::make_unique<resource>(upstream);
    }
    static constexpr std::size_t max_alignment = 4096;
    static constexpr freed_memory freed = freed_memory::returned_upstream;
    static constexpr bool forwards_impossible = ForwardsImpossible;
};

using stats = pass_through_fixture<stats_resource, true>;
using concurrent_stats = pass_through_fixture<concurrent_stats_resource, true>;
using checking_test_resource = pass_through_fixture<test_resource>;

struct limit_1gib {
    using resource = limit_resource;
    static std::unique_ptr<resource> make(std::pmr::memory_resource* upstream) {
        return std::make_unique<resource>(std::size_t{1} << 30, upstream);
    }
    static constexpr std::size_t max_alignment = 4096;
    static constexpr freed_memory freed = freed_memory::returned_upstream;
};

// MaxPooled 0 keeps the default. EmptySpans 0 gives empty spans back as soon as possible (no
// decay either); LargeCache 0 passes large blocks through exactly.
template <std::size_t MaxPooled, std::size_t EmptySpans, std::size_t LargeCache>
struct size_class_fixture {
    using resource = size_class_resource;
    static std::unique_ptr<resource> make(std::pmr::memory_resource* upstream) {
        size_class_options options{.max_empty_spans = EmptySpans, .large_cache_bytes = LargeCache};
        if (EmptySpans == 0) {
            options.empty_span_decay = 0;
        }
        if (MaxPooled != 0) {
            options.max_pooled_size = MaxPooled;
        }
        return std::make_unique<resource>(options, upstream);
    }
    static constexpr std::size_t max_alignment = 4096;
    static constexpr freed_memory freed = freed_memory::reused;
};

using size_class_default = size_class_fixture<0, size_class_options{}.max_empty_spans,
                                              size_class_options{}.large_cache_bytes>;
using size_class_eager = size_class_fixture<2048, 0, 0>;
using size_class_wide = size_class_fixture<65536, 4, std::size_t{1} << 20>;

template <std::size_t Alignment>
struct aligned_pool_fixture {
    using resource = aligned_pool_resource;
    static std::unique_ptr<resource> make(std::pmr::memory_resource* upstream) {
        return std::make_unique<resource>(aligned_pool_options{.alignment = Alignment}, upstream);
    }
    static constexpr std::size_t max_alignment = 4096;
    static constexpr freed_memory freed = freed_memory::reused;
};

// The thread-safe resources, used from one thread here (test/concurrent.cpp adds threads).
template <std::size_t BatchBytes>
struct concurrent_pool_fixture {
    using resource = concurrent_pool_resource;
    static std::unique_ptr<resource> make(std::pmr::memory_resource* upstream) {
        return std::make_unique<resource>(concurrent_pool_options{.batch_bytes = BatchBytes},
                                          upstream);
    }
    static constexpr std::size_t max_alignment = 4096;
    static constexpr freed_memory freed = freed_memory::reused;
};

using concurrent_pool_default = concurrent_pool_fixture<concurrent_pool_options{}.batch_bytes>;
using concurrent_pool_small_batches = concurrent_pool_fixture<64>;

// The std drop-ins: the standard's default options, and small chunks with a low pass-through
// threshold.
template <class Pool, std::size_t MaxBlocks, std::size_t LargestBlock>
struct std_pool_fixture {
    using resource = Pool;
    static std::unique_ptr<resource> make(std::pmr::memory_resource* upstream) {
        return std::make_unique<resource>(
            std::pmr::pool_options{.max_blocks_per_chunk = MaxBlocks,
                                   .largest_required_pool_block = LargestBlock},
            upstream);
    }
    static constexpr std::size_t max_alignment = 4096;
    static constexpr freed_memory freed = freed_memory::reused;
};

using std_unsync_default = std_pool_fixture<unsynchronized_pool_resource, 0, 0>;
using std_unsync_small_chunks = std_pool_fixture<unsynchronized_pool_resource, 4, 2048>;
using std_sync_default = std_pool_fixture<synchronized_pool_resource, 0, 0>;
using std_sync_small_chunks = std_pool_fixture<synchronized_pool_resource, 4, 2048>;

template <std::size_t BufferSize>
struct std_monotonic_fixture {
    using resource = monotonic_buffer_resource;
    static std::unique_ptr<resource, deleter_owning<std::byte[]>>
    make(std::pmr::memory_resource* upstream) {
        deleter_owning<std::byte[]> d{BufferSize == 0 ? nullptr
                                                      : std::make_unique<std::byte[]>(BufferSize)};
        return {new monotonic_buffer_resource(d.owned.get(), BufferSize, upstream), std::move(d)};
    }
    static constexpr std::size_t max_alignment = 4096;
    static constexpr freed_memory freed = freed_memory::released;
};

using std_monotonic_default = std_monotonic_fixture<0>;
using std_monotonic_buffer = std_monotonic_fixture<3000>;

template <std::size_t FirstChunk>
struct concurrent_arena_fixture {
    using resource = concurrent_arena_resource;
    static std::unique_ptr<resource> make(std::pmr::memory_resource* upstream) {
        return std::make_unique<resource>(concurrent_arena_options{.first_chunk_size = FirstChunk},
                                          upstream);
    }
    static constexpr std::size_t max_alignment = 4096;
    static constexpr freed_memory freed = freed_memory::reused_after_reset;
};

using concurrent_arena_default =
    concurrent_arena_fixture<concurrent_arena_options{}.first_chunk_size>;
using concurrent_arena_small_chunks = concurrent_arena_fixture<4096>;

// The decorator over two pools of different engines: size classes, and one block size.
template <class Pool, class Options>
struct synchronized_fixture {
    using resource = synchronized_resource<Pool>;
    static std::unique_ptr<resource> make(std::pmr::memory_resource* upstream) {
        return std::make_unique<resource>(Options{}, upstream);
    }
    static constexpr std::size_t max_alignment = 4096;
    static constexpr freed_memory freed = freed_memory::reused;
};

using synchronized_size_class = synchronized_fixture<size_class_resource, size_class_options>;
using synchronized_fixed_block = synchronized_fixture<fixed_block_resource, fixed_block_options>;

using aligned_pool_16 = aligned_pool_fixture<16>;
using aligned_pool_32 = aligned_pool_fixture<32>;
using aligned_pool_64 = aligned_pool_fixture<64>;
using aligned_pool_4096 = aligned_pool_fixture<4096>;

struct heap_fixture {
    using resource = heap_resource;
    static std::unique_ptr<resource> make() { return std::make_unique<resource>(); }
    static constexpr std::size_t max_alignment = 4096;
    static constexpr freed_memory freed = freed_memory::returned_upstream;
    static constexpr bool instances_compare_equal = true;
};

template <bool HugePages, bool Prefault>
struct page_fixture {
    using resource = page_resource;
    static std::unique_ptr<resource> make() {
        return std::make_unique<resource>(
            page_options{.huge_pages = HugePages, .prefault = Prefault});
    }
    // The huge-page alignment huge_pages asks for at 4 KiB pages (page_resource::huge_page_size()).
    static constexpr std::size_t max_alignment = std::size_t{2} << 20;
    static constexpr freed_memory freed = freed_memory::returned_upstream;
};

using page_plain = page_fixture<false, false>;
using page_huge_prefaulted = page_fixture<true, true>;

// Stacks: the fixture's resource over the checking upstream over `Bottom()`, so that a
// composition is tested with every upstream check still in place.
template <class Fixture, std::pmr::memory_resource* (*Bottom)()>
struct stacked_on : Fixture {
    static std::pmr::memory_resource* bottom() { return Bottom(); }
};

inline std::pmr::memory_resource* shared_pages() {
    static page_resource pages;
    return &pages;
}
inline std::pmr::memory_resource* shared_heap() {
    return heap();
}

using fixed_block_64_on_pages = stacked_on<fixed_block_64, shared_pages>;
using fixed_block_4096_aligned_on_pages = stacked_on<fixed_block_4096_aligned, shared_pages>;
using fixed_block_64_on_heap = stacked_on<fixed_block_64, shared_heap>;
using aligned_pool_64_on_pages = stacked_on<aligned_pool_64, shared_pages>;
using size_class_default_on_pages = stacked_on<size_class_default, shared_pages>;

// How the suites build a fixture's resource.
template <class F>
concept takes_upstream = requires(std::pmr::memory_resource* upstream) {
    F::make(upstream);
};

// The fixture's resource, over `upstream` if it takes one; `upstream` then stays unused, and its
// checks pass trivially.
template <class F>
auto make_resource(checking_resource& upstream) {
    if constexpr (takes_upstream<F>) {
        return F::make(&upstream);
    } else {
        return F::make();
    }
}

// What the checking upstream takes its memory from.
template <class F>
std::pmr::memory_resource* bottom_of() {
    if constexpr (requires { F::bottom(); }) {
        return F::bottom();
    } else {
        return std::pmr::new_delete_resource();
    }
}

} // namespace pmrkit::test

TYPE_TO_STRING(pmrkit::test::fixed_block_64);
TYPE_TO_STRING(pmrkit::test::fixed_block_16);
TYPE_TO_STRING(pmrkit::test::fixed_block_4096_aligned);
TYPE_TO_STRING(pmrkit::test::stats);
TYPE_TO_STRING(pmrkit::test::concurrent_stats);
TYPE_TO_STRING(pmrkit::test::checking_test_resource);
TYPE_TO_STRING(pmrkit::test::limit_1gib);
TYPE_TO_STRING(pmrkit::test::arena_default);
TYPE_TO_STRING(pmrkit::test::arena_with_buffer);
TYPE_TO_STRING(pmrkit::test::arena_small_chunks);
#if PMRKIT_TEST_BOOST
TYPE_TO_STRING(pmrkit::test::boost_round_trip);
TYPE_TO_STRING(pmrkit::test::boost_json_arena_round_trip);
#endif
TYPE_TO_STRING(pmrkit::test::size_class_default);
TYPE_TO_STRING(pmrkit::test::size_class_eager);
TYPE_TO_STRING(pmrkit::test::size_class_wide);
TYPE_TO_STRING(pmrkit::test::aligned_pool_16);
TYPE_TO_STRING(pmrkit::test::aligned_pool_32);
TYPE_TO_STRING(pmrkit::test::aligned_pool_64);
TYPE_TO_STRING(pmrkit::test::aligned_pool_4096);
TYPE_TO_STRING(pmrkit::test::aligned_pool_64_on_pages);
TYPE_TO_STRING(pmrkit::test::size_class_default_on_pages);
TYPE_TO_STRING(pmrkit::test::heap_fixture);
TYPE_TO_STRING(pmrkit::test::page_plain);
TYPE_TO_STRING(pmrkit::test::page_huge_prefaulted);
TYPE_TO_STRING(pmrkit::test::fixed_block_64_on_pages);
TYPE_TO_STRING(pmrkit::test::fixed_block_4096_aligned_on_pages);
TYPE_TO_STRING(pmrkit::test::fixed_block_64_on_heap);
TYPE_TO_STRING(pmrkit::test::concurrent_pool_default);
TYPE_TO_STRING(pmrkit::test::concurrent_pool_small_batches);
TYPE_TO_STRING(pmrkit::test::concurrent_arena_default);
TYPE_TO_STRING(pmrkit::test::concurrent_arena_small_chunks);
TYPE_TO_STRING(pmrkit::test::synchronized_size_class);
TYPE_TO_STRING(pmrkit::test::synchronized_fixed_block);
TYPE_TO_STRING(pmrkit::test::std_unsync_default);
TYPE_TO_STRING(pmrkit::test::std_unsync_small_chunks);
TYPE_TO_STRING(pmrkit::test::std_sync_default);
TYPE_TO_STRING(pmrkit::test::std_sync_small_chunks);
TYPE_TO_STRING(pmrkit::test::std_monotonic_default);
TYPE_TO_STRING(pmrkit::test::std_monotonic_buffer);

// The resources over an upstream, then the sources (heap_resource, page_resource), which take
// none: the suites that inject upstream failures run the first list alone.
#define PMRKIT_CONFORMANCE_UPSTREAM_FIXTURES                                                       \
    pmrkit::test::fixed_block_64, pmrkit::test::fixed_block_16,                                    \
        pmrkit::test::fixed_block_4096_aligned, pmrkit::test::stats,                               \
        pmrkit::test::concurrent_stats, pmrkit::test::checking_test_resource,                      \
        pmrkit::test::limit_1gib, pmrkit::test::arena_default, pmrkit::test::arena_with_buffer,    \
        pmrkit::test::arena_small_chunks, PMRKIT_BOOST_FIXTURES pmrkit::test::size_class_default,  \
        pmrkit::test::size_class_eager, pmrkit::test::size_class_wide,                             \
        pmrkit::test::fixed_block_64_on_pages, pmrkit::test::fixed_block_4096_aligned_on_pages,    \
        pmrkit::test::fixed_block_64_on_heap, pmrkit::test::aligned_pool_16,                       \
        pmrkit::test::aligned_pool_32, pmrkit::test::aligned_pool_64,                              \
        pmrkit::test::aligned_pool_4096, pmrkit::test::aligned_pool_64_on_pages,                   \
        pmrkit::test::size_class_default_on_pages, pmrkit::test::concurrent_pool_default,          \
        pmrkit::test::concurrent_pool_small_batches, pmrkit::test::concurrent_arena_default,       \
        pmrkit::test::concurrent_arena_small_chunks, pmrkit::test::synchronized_size_class,        \
        pmrkit::test::synchronized_fixed_block, pmrkit::test::std_unsync_default,                  \
        pmrkit::test::std_unsync_small_chunks, pmrkit::test::std_sync_default,                     \
        pmrkit::test::std_sync_small_chunks, pmrkit::test::std_monotonic_default,                  \
        pmrkit::test::std_monotonic_buffer

#define PMRKIT_CONFORMANCE_FIXTURES                                                                \
    PMRKIT_CONFORMANCE_UPSTREAM_FIXTURES, pmrkit::test::heap_fixture, pmrkit::test::page_plain,    \
        pmrkit::test::page_huge_prefaulted
