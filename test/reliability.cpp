// SPDX-License-Identifier: MIT
// Reliability: hostile requests on every resource (each with its documented result, and the
// resource still whole after it), the hardened pools' detections (death tests in the hardened
// preset; the free lists' own are in security.cpp), and ASan poisoning of free pool blocks (asan
// preset).
#include "conformance_fixtures.hpp"
#include "support/checking_resource.hpp"
#include "support/death.hpp"
#include "support/live_blocks.hpp"

#include "pmrkit/detail/asan.hpp"
#include "pmrkit/detail/free_list.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <type_traits>

namespace pmrkit::test {
namespace {

// volatile: the compiler must not see the values, or it warns about the impossible sizes.
volatile std::size_t max_size = std::numeric_limits<std::size_t>::max();

void check_still_serves(std::pmr::memory_resource& r) {
    live_blocks live(r);
    live.allocate(24, 8);
    live.allocate(1000, 64);
}

} // namespace

TEST_CASE_TEMPLATE("hostile: impossible sizes and size + alignment overflow throw std::bad_alloc",
                   F, PMRKIT_CONFORMANCE_FIXTURES) {
    checking_resource upstream(bottom_of<F>());
    {
        auto resource = make_resource<F>(upstream);
        const std::size_t max = max_size;
        const std::array<std::pair<std::size_t, std::size_t>, 7> requests = {{
            {max, 1},
            {max, 8},
            {max - 7, 8},
            {max - 4095, 4096},  // the size rounds up past SIZE_MAX
            {max / 2 + 1, 4096}, // no upstream can hold it
            {max / 2, 1 << 20},
            {8, max / 2 + 1}, // the alignment alone overflows any padding
        }};
        for (const auto& request : requests) {
            CAPTURE(request.first);  // bytes
            CAPTURE(request.second); // alignment
            CHECK_THROWS_AS((void)resource->allocate(request.first, request.second),
                            std::bad_alloc);
            check_still_serves(*resource);
        }
    }
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE_TEMPLATE("hostile: alignments above 4096 are honoured", F, PMRKIT_CONFORMANCE_FIXTURES) {
    checking_resource upstream(bottom_of<F>());
    {
        auto resource = make_resource<F>(upstream);
        live_blocks live(*resource);
        for (std::size_t alignment = 8192; alignment <= (std::size_t{1} << 21); alignment *= 4) {
            for (const std::size_t bytes : std::array<std::size_t, 4>{0, 1, 100, 5000}) {
                live.allocate(bytes, alignment);
            }
        }
        live.check_all();
        check_still_serves(*resource);
    }
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE_TEMPLATE("hostile: alignments that are not powers of two", F,
                   PMRKIT_CONFORMANCE_FIXTURES) {
    checking_resource upstream(bottom_of<F>());
    {
        auto resource = make_resource<F>(upstream);
        // Above 4096 every resource refuses: no block it has is aligned for them.
        for (const std::size_t alignment : std::array<std::size_t, 3>{6000, 12288, 3 << 20}) {
            CAPTURE(alignment);
            CHECK_THROWS_AS((void)resource->allocate(100, alignment), std::bad_alloc);
        }
        // Small ones: refused (std::bad_alloc), or served with a block of at least the size when
        // a pool's block is aligned to a power of two above them (fixed_block_resource up to its
        // block alignment; size_class_resource and the resources built on it, the std drop-in
        // pools included, in release builds,
        // asserting in debug builds, as its header says). Either way the resource stays whole.
#if defined(NDEBUG)
        constexpr bool skip = false;
#else
        using R = typename F::resource;
        constexpr bool skip = std::is_same_v<R, size_class_resource> ||
                              std::is_same_v<R, aligned_pool_resource> ||
                              std::is_same_v<R, concurrent_pool_resource> ||
                              std::is_same_v<R, synchronized_resource<size_class_resource>> ||
                              std::is_same_v<R, unsynchronized_pool_resource> ||
                              std::is_same_v<R, synchronized_pool_resource>;
#endif
        if constexpr (!skip) {
            for (const std::size_t alignment : std::array<std::size_t, 3>{3, 12, 24}) {
                CAPTURE(alignment);
                try {
                    void* p = resource->allocate(16, alignment);
                    std::memset(p, 0x5A, 16);
                    resource->deallocate(p, 16, alignment);
                } catch (const std::bad_alloc&) {
                    // the documented refusal
                }
            }
        }
        check_still_serves(*resource);
    }
    CHECK(upstream.live_blocks() == 0);
}

#if PMRKIT_DEATH_TESTS // see support/death.hpp
// The pools in a hardened build: besides the free list's detections (test/security.cpp), the
// foreign-pointer checks.
TEST_CASE_TEMPLATE("hardened pools: double free, write after free and foreign pointers stop the "
                   "program" *
                       doctest::skip(!detail::hardened_build),
                   Pool, fixed_block_resource, size_class_resource, aligned_pool_resource,
                   concurrent_pool_resource) {
    // Skipped in the builds where it cannot run (the decorator), and discarded there.
    if constexpr (detail::hardened_build) {
        static constexpr std::size_t bytes = 48;
        const auto double_free = run_in_child([] {
            Pool pool;
            void* a = pool.allocate(bytes, 8);
            void* b = pool.allocate(bytes, 8);
            pool.deallocate(a, bytes, 8);
            pool.deallocate(b, bytes, 8);
            pool.deallocate(a, bytes, 8);
        });
        CHECK(double_free.aborted);
        CHECK(double_free.stderr_.find("pmrkit: double free") != std::string::npos);

        const auto write_after_free = run_in_child([] {
            Pool pool;
            void* a = pool.allocate(bytes, 8);
            pool.deallocate(a, bytes, 8);
            std::memset(a, 0, 8);
            (void)pool.allocate(bytes, 8);
        });
        CHECK(write_after_free.aborted);
        CHECK(write_after_free.stderr_.find("pmrkit: free-list link overwritten") !=
              std::string::npos);

        // Pointers the pool never handed out: another instance's block, one inside its own
        // block, a heap block of a pooled size, and one of a large size.
        const auto foreign = [](auto&& wrong_pointer) {
            return run_in_child([&wrong_pointer] {
                Pool pool;
                Pool other;
                void* own = pool.allocate(bytes, 8);
                const auto [p, size] = wrong_pointer(own, other);
                pool.deallocate(p, size, 8);
            });
        };
        const std::array<child_end, 4> ends = {
            foreign([](void*, Pool& other) {
                return std::pair{other.allocate(bytes, 8), bytes};
            }),
            foreign([](void* own, Pool&) {
                return std::pair{static_cast<void*>(static_cast<char*>(own) + 8), bytes};
            }),
            foreign([](void*, Pool&) {
                return std::pair{::operator new(bytes), bytes};
            }),
            foreign([](void*, Pool&) {
                constexpr std::size_t large = 100000;
                return std::pair{::operator new(large), large};
            }),
        };
        for (const child_end& end : ends) {
            CHECK(end.aborted);
            CHECK(end.stderr_.find("did not hand out") != std::string::npos);
        }
    }
}
#endif

// ASan: a free pool block is poisoned whole, its link word included, and unpoisoned when handed
// out again; a use after free inside the pool is reported by ASan.
template <class Pool>
void check_pool_poisoning([[maybe_unused]] std::size_t bytes) {
    // Its callers are skipped in other builds; discarded there.
    if constexpr (detail::asan_enabled) {
#if defined(PMRKIT_ASAN)
        const auto poisoned = [](const void* p) { return __asan_address_is_poisoned(p) != 0; };
        Pool pool;
        auto* a = static_cast<unsigned char*>(pool.allocate(bytes, 8));
        auto* b = static_cast<unsigned char*>(pool.allocate(bytes, 8));
        CHECK_FALSE(poisoned(a));
        pool.deallocate(a, bytes, 8);
        CHECK(poisoned(a));
        CHECK(poisoned(a + bytes - 1));
        CHECK_FALSE(poisoned(b));
        pool.deallocate(b, bytes, 8);
        CHECK(poisoned(b + 8));
        auto* again = static_cast<unsigned char*>(pool.allocate(bytes, 8));
        CHECK(again == b);
        CHECK_FALSE(poisoned(again));
        CHECK_FALSE(poisoned(again + bytes - 1));
        pool.deallocate(again, bytes, 8);

        const auto use_after_free = run_in_child([bytes] {
            Pool inner;
            auto* p = static_cast<unsigned char*>(inner.allocate(bytes, 8));
            inner.deallocate(p, bytes, 8);
            p[bytes / 2] = 1;
        });
        CHECK(use_after_free.stderr_.find("use-after-poison") != std::string::npos);
#endif
    }
}

TEST_CASE("asan: free fixed_block_resource blocks are poisoned" *
          doctest::skip(!detail::asan_enabled)) {
    check_pool_poisoning<fixed_block_resource>(64);
}

TEST_CASE("asan: free size_class_resource blocks are poisoned" *
          doctest::skip(!detail::asan_enabled)) {
    check_pool_poisoning<size_class_resource>(48);
}

} // namespace pmrkit::test
