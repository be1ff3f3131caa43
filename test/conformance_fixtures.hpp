// SPDX-License-Identifier: MIT
// Every resource in the project, as the conformance suite sees it. A fixture says how to build
// the resource over a given upstream and what it claims:
//   resource                 the resource type
//   make(upstream)           a std::unique_ptr<resource> taking memory from `upstream`
//   max_alignment            every power of two up to this is honoured, for any size
//   reuses_freed_memory      deallocated memory is reused without a reset (false for arenas and
//                            for pass-through decorators)
// A resource with a release() member is also checked to give everything back through it.
// Adding a resource to the project means adding its fixtures here and to the list at the end.
#pragma once

#include "pmrkit/fixed_block_resource.hpp"
#include "pmrkit/limit_resource.hpp"
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

} // namespace pmrkit::test

TYPE_TO_STRING(pmrkit::test::fixed_block_64);
TYPE_TO_STRING(pmrkit::test::fixed_block_16);
TYPE_TO_STRING(pmrkit::test::fixed_block_4096_aligned);
TYPE_TO_STRING(pmrkit::test::stats);
TYPE_TO_STRING(pmrkit::test::concurrent_stats);
TYPE_TO_STRING(pmrkit::test::checking_test_resource);
TYPE_TO_STRING(pmrkit::test::limit_1gib);

#define PMRKIT_CONFORMANCE_FIXTURES                                                                \
    pmrkit::test::fixed_block_64, pmrkit::test::fixed_block_16,                                    \
        pmrkit::test::fixed_block_4096_aligned, pmrkit::test::stats,                               \
        pmrkit::test::concurrent_stats, pmrkit::test::checking_test_resource,                      \
        pmrkit::test::limit_1gib
