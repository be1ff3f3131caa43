// SPDX-License-Identifier: MIT
// Every resource in the project, as the conformance suite sees it. A fixture says how to build
// the resource over a given upstream and what it claims:
//   resource                 the resource type
//   make(upstream)           a std::unique_ptr<resource> taking memory from `upstream`
//   max_alignment            every power of two up to this is honoured, for any size
//   reuses_freed_memory      deallocated memory is reused without a reset (false for arenas and
//                            for pass-through decorators)
// and optionally:
//   make()                   instead of make(upstream), for a resource with no upstream (memory
//                            from the OS or operator new); the upstream checks then do not apply
//   bottom()                 what the checking upstream takes its memory from (default
//                            new_delete_resource()), to test a stack: resource -> check -> bottom
//   instances_compare_equal  true for a stateless resource whose instances all compare equal
// A resource with a release() member is also checked to give everything back through it.
// Adding a resource to the project means adding its fixtures here and to the list at the end.
#pragma once

#include "pmrkit/fixed_block_resource.hpp"
#include "pmrkit/heap_resource.hpp"
#include "pmrkit/limit_resource.hpp"
#include "pmrkit/page_resource.hpp"
#include "pmrkit/stats_resource.hpp"
#include "pmrkit/test_resource.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <memory_resource>

namespace pmrkit::test {

template <std::size_t BlockSize, std::size_t BlockAlignment>
struct fixed_block_fixture {
    using resource = fixed_block_resource;
    static std::unique_ptr<resource> make(std::pmr::memory_resource* upstream) {
        return std::make_unique<resource>(
            fixed_block_options{.block_size = BlockSize, .block_alignment = BlockAlignment},
            upstream);
    }
    static constexpr std::size_t max_alignment = 4096;
    static constexpr bool reuses_freed_memory = true;
};

using fixed_block_64 = fixed_block_fixture<64, alignof(std::max_align_t)>;
using fixed_block_16 = fixed_block_fixture<16, 8>;
using fixed_block_4096_aligned = fixed_block_fixture<4096, 4096>;

// Decorators that pass every request through, built over the upstream alone.
template <class Resource>
struct pass_through_fixture {
    using resource = Resource;
    static std::unique_ptr<resource> make(std::pmr::memory_resource* upstream) {
        return std::make_unique<resource>(upstream);
    }
    static constexpr std::size_t max_alignment = 4096;
    static constexpr bool reuses_freed_memory = false;
};

using stats = pass_through_fixture<stats_resource>;
using concurrent_stats = pass_through_fixture<concurrent_stats_resource>;
using checking_test_resource = pass_through_fixture<test_resource>;

struct limit_1gib {
    using resource = limit_resource;
    static std::unique_ptr<resource> make(std::pmr::memory_resource* upstream) {
        return std::make_unique<resource>(std::size_t{1} << 30, upstream);
    }
    static constexpr std::size_t max_alignment = 4096;
    static constexpr bool reuses_freed_memory = false;
};

struct heap_fixture {
    using resource = heap_resource;
    static std::unique_ptr<resource> make() { return std::make_unique<resource>(); }
    static constexpr std::size_t max_alignment = 4096;
    static constexpr bool reuses_freed_memory = true;
    static constexpr bool instances_compare_equal = true;
};

template <bool HugePages, bool Prefault>
struct page_fixture {
    using resource = page_resource;
    static std::unique_ptr<resource> make() {
        return std::make_unique<resource>(
            page_options{.huge_pages = HugePages, .prefault = Prefault});
    }
    static constexpr std::size_t max_alignment = page_resource::huge_page_size;
    static constexpr bool reuses_freed_memory = true;
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
inline std::pmr::memory_resource* shared_heap() { return heap(); }

using fixed_block_64_on_pages = stacked_on<fixed_block_64, shared_pages>;
using fixed_block_4096_aligned_on_pages = stacked_on<fixed_block_4096_aligned, shared_pages>;
using fixed_block_64_on_heap = stacked_on<fixed_block_64, shared_heap>;

} // namespace pmrkit::test

TYPE_TO_STRING(pmrkit::test::fixed_block_64);
TYPE_TO_STRING(pmrkit::test::fixed_block_16);
TYPE_TO_STRING(pmrkit::test::fixed_block_4096_aligned);
TYPE_TO_STRING(pmrkit::test::stats);
TYPE_TO_STRING(pmrkit::test::concurrent_stats);
TYPE_TO_STRING(pmrkit::test::checking_test_resource);
TYPE_TO_STRING(pmrkit::test::limit_1gib);
TYPE_TO_STRING(pmrkit::test::heap_fixture);
TYPE_TO_STRING(pmrkit::test::page_plain);
TYPE_TO_STRING(pmrkit::test::page_huge_prefaulted);
TYPE_TO_STRING(pmrkit::test::fixed_block_64_on_pages);
TYPE_TO_STRING(pmrkit::test::fixed_block_4096_aligned_on_pages);
TYPE_TO_STRING(pmrkit::test::fixed_block_64_on_heap);

#define PMRKIT_CONFORMANCE_FIXTURES                                                                \
    pmrkit::test::fixed_block_64, pmrkit::test::fixed_block_16,                                    \
        pmrkit::test::fixed_block_4096_aligned, pmrkit::test::stats,                               \
        pmrkit::test::concurrent_stats, pmrkit::test::checking_test_resource,                      \
        pmrkit::test::limit_1gib, pmrkit::test::heap_fixture, pmrkit::test::page_plain,            \
        pmrkit::test::page_huge_prefaulted, pmrkit::test::fixed_block_64_on_pages,                 \
        pmrkit::test::fixed_block_4096_aligned_on_pages, pmrkit::test::fixed_block_64_on_heap
