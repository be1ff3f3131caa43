// SPDX-License-Identifier: MIT
// heap_resource beyond the conformance suite: the singleton, equality, the sizes it asks plain
// operator new for, and alignment under whichever malloc the test runs on (ctest runs these cases
// again with mimalloc, jemalloc and tcmalloc preloaded). Which operator new and delete forms it
// calls is tested in heap_resource_calls.cpp, which replaces them.
#include "pmrkit/sources/heap_resource.hpp"

#include "pmrkit/detail/math.hpp"
#include "pmrkit/fixed_block_resource.hpp"

#include <doctest/doctest.h>

#if __has_include(<dlfcn.h>)
#include <dlfcn.h>
#endif

#include <array>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <vector>

namespace pmrkit::test {

static_assert(std::is_final_v<heap_resource>);
static_assert(std::is_nothrow_default_constructible_v<heap_resource>);
static_assert(!std::is_copy_constructible_v<heap_resource>);
static_assert(!std::is_copy_assignable_v<heap_resource>);
static_assert(heap_resource::plain_new_alignment == alignof(std::max_align_t));

TEST_CASE("heap_resource: heap() is one shared instance, equal to every heap_resource") {
    heap_resource local;
    CHECK(heap() == heap());
    CHECK(heap()->is_equal(local));
    CHECK(local.is_equal(*heap()));
    CHECK_FALSE(heap()->is_equal(*std::pmr::new_delete_resource()));
    CHECK_FALSE(heap()->is_equal(*std::pmr::null_memory_resource()));
    fixed_block_resource pool({}, heap());
    CHECK_FALSE(heap()->is_equal(pool));

    // Equal means interchangeable: what one hands out, another takes back.
    void* p = local.allocate(100, 8);
    heap()->deallocate(p, 100, 8);
    p = heap()->allocate(100, 256);
    local.deallocate(p, 100, 256);
}

TEST_CASE("heap_resource: stats() names the resource and claims no counts") {
    const resource_stats s = heap()->stats();
    CHECK(s.resource == "heap_resource");
    CHECK_FALSE(s.allocations.has_value());
    CHECK_FALSE(s.bytes_in_use.has_value());
    CHECK_FALSE(s.upstream_bytes.has_value());
}

TEST_CASE("heap_resource: plain new is asked for a non-zero multiple of the alignment") {
    CHECK(heap_resource::plain_size(0, 1) == 1);
    CHECK(heap_resource::plain_size(1, 1) == 1);
    CHECK(heap_resource::plain_size(0, 16) == 16);
    CHECK(heap_resource::plain_size(8, 8) == 8);
    CHECK(heap_resource::plain_size(8, 16) == 16);
    CHECK(heap_resource::plain_size(24, 8) == 24);
    CHECK(heap_resource::plain_size(24, 16) == 32);
    CHECK(heap_resource::plain_size(17, 4) == 20);
    CHECK(heap_resource::plain_size(64, 16) == 64);
}

TEST_CASE("heap_resource: every size and alignment is honoured by the malloc in use") {
    std::vector<std::size_t> sizes;
    for (std::size_t bytes = 0; bytes <= 1100; ++bytes) {
        sizes.push_back(bytes);
    }
    for (const std::size_t bytes : {4095u, 4096u, 4097u, 65536u, 300000u, (1u << 20) + 1}) {
        sizes.push_back(bytes);
    }
    // A few blocks of each shape live at once, so that a malloc cannot pass by handing the same
    // well-aligned block back every time.
    constexpr std::size_t per_shape = 4;
    std::array<void*, per_shape> blocks{};
    std::size_t misaligned = 0; // counted, for one check rather than millions
    for (std::size_t alignment = 1; alignment <= std::size_t{1} << 16; alignment *= 2) {
        for (const std::size_t bytes : sizes) {
            for (void*& p : blocks) {
                p = heap()->allocate(bytes, alignment);
                if (!detail::is_aligned(p, alignment) && misaligned++ == 0) {
                    MESSAGE(p << " is not aligned to " << alignment << " (" << bytes << " bytes)");
                }
                std::memset(p, 0xA5, bytes);
            }
            for (void* p : blocks) {
                heap()->deallocate(p, bytes, alignment);
            }
        }
    }
    CHECK(misaligned == 0);
}

TEST_CASE("heap_resource: zero-byte requests get distinct blocks") {
    std::array<void*, 3> blocks{};
    for (const std::size_t alignment : {1u, 16u, 64u}) {
        for (void*& p : blocks) {
            p = heap()->allocate(0, alignment);
            CHECK(detail::is_aligned(p, alignment));
        }
        CHECK(blocks[0] != blocks[1]);
        CHECK(blocks[1] != blocks[2]);
        CHECK(blocks[0] != blocks[2]);
        for (void* p : blocks) {
            heap()->deallocate(p, 0, alignment);
        }
    }
}

TEST_CASE("heap_resource: an alignment that is not a power of two throws std::bad_alloc") {
    // volatile: these requests are meant to be invalid, which compilers would warn about.
    for (volatile std::size_t alignment : {0u, 3u, 12u, 24u, 48u, 100u}) {
        CHECK_THROWS_AS((void)heap()->allocate(64, alignment), std::bad_alloc);
    }
}

// ctest's preloaded runs set PMRKIT_EXPECT_OPERATOR_NEW_FROM to the preloaded library's name, so
// that a preload the dynamic loader ignored cannot pass unnoticed. Preloading is the dynamic
// loader's (dlfcn), so POSIX-only.
#if __has_include(<dlfcn.h>)
TEST_CASE("heap_resource: operator new comes from the malloc this run asks for" *
          doctest::skip(std::getenv("PMRKIT_EXPECT_OPERATOR_NEW_FROM") == nullptr)) {
    const char* expected = std::getenv("PMRKIT_EXPECT_OPERATOR_NEW_FROM");
    REQUIRE(expected != nullptr);
    void* plain_new = ::dlsym(RTLD_DEFAULT, "_Znwm"); // operator new(std::size_t)
    REQUIRE(plain_new != nullptr);
    Dl_info info{};
    REQUIRE(::dladdr(plain_new, &info) != 0);
    REQUIRE(info.dli_fname != nullptr);
    INFO("operator new is defined in " << info.dli_fname);
    CHECK(std::string_view(info.dli_fname).find(expected) != std::string_view::npos);
}
#endif

} // namespace pmrkit::test
