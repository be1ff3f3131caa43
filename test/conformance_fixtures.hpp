// SPDX-License-Identifier: MIT
// Every resource in the project, as the conformance suite sees it. A fixture says how to build
// the resource over a given upstream and what it claims:
//   resource                 the resource type
//   make(upstream)           a std::unique_ptr<resource> taking memory from `upstream`
//   max_alignment            every power of two up to this is honoured, for any size
//   reuses_freed_memory      deallocated memory is reused without a reset (false for arenas)
// A resource with a release() member is also checked to give everything back through it.
// Adding a resource to the project means adding its fixtures here and to the list at the end.
#pragma once

#include "pmrkit/fixed_block_resource.hpp"
#include "pmrkit/size_class_resource.hpp"

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

// MaxPooled 0 keeps the default. EmptySpans 0 gives empty spans back as soon as possible;
// LargeCache 0 passes large blocks through exactly.
template <std::size_t MaxPooled, std::size_t EmptySpans, std::size_t LargeCache>
struct size_class_fixture {
    using resource = size_class_resource;
    static std::unique_ptr<resource> make(std::pmr::memory_resource* upstream) {
        size_class_options options{.max_empty_spans = EmptySpans, .large_cache_bytes = LargeCache};
        if (MaxPooled != 0) {
            options.max_pooled_size = MaxPooled;
        }
        return std::make_unique<resource>(options, upstream);
    }
    static constexpr std::size_t max_alignment = 4096;
    static constexpr bool reuses_freed_memory = true;
};

using size_class_default = size_class_fixture<0, size_class_options{}.max_empty_spans,
                                              size_class_options{}.large_cache_bytes>;
using size_class_eager = size_class_fixture<2048, 0, 0>;
using size_class_wide = size_class_fixture<65536, 4, std::size_t{1} << 20>;

} // namespace pmrkit::test

TYPE_TO_STRING(pmrkit::test::fixed_block_64);
TYPE_TO_STRING(pmrkit::test::fixed_block_16);
TYPE_TO_STRING(pmrkit::test::fixed_block_4096_aligned);
TYPE_TO_STRING(pmrkit::test::size_class_default);
TYPE_TO_STRING(pmrkit::test::size_class_eager);
TYPE_TO_STRING(pmrkit::test::size_class_wide);

#define PMRKIT_CONFORMANCE_FIXTURES                                                                \
    pmrkit::test::fixed_block_64, pmrkit::test::fixed_block_16,                                   \
        pmrkit::test::fixed_block_4096_aligned, pmrkit::test::size_class_default,                 \
        pmrkit::test::size_class_eager, pmrkit::test::size_class_wide
