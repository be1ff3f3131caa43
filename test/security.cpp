// SPDX-License-Identifier: MIT
// Protected free lists (detail/free_list.hpp, docs/security.md): the mechanism in each of its
// modes, in every build, and the attacks of issue 17 on every pool, in the build under test: a
// use-after-free write of a chosen address into a freed block, a double free, and (hardened
// builds) a one-byte overflow into the next free block. Each attack runs in a child process.
//
// Under ASan a pool poisons its free blocks; the stray writes below first unpoison, as a write
// ASan cannot see would be.
#include "support/death.hpp"

#include "pmrkit/aligned_pool_resource.hpp"
#include "pmrkit/concurrent_pool_resource.hpp"
#include "pmrkit/detail/asan.hpp"
#include "pmrkit/detail/free_list.hpp"
#include "pmrkit/fixed_block_resource.hpp"
#include "pmrkit/object_pool.hpp"
#include "pmrkit/size_class_resource.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <set>
#include <string>

namespace pmrkit::test {
namespace {

using detail::link_protection;
template <link_protection P>
using list_of = detail::basic_free_list<P>;

constexpr std::size_t two_words = 2 * sizeof(void*);
// The lists' blocks below: 16 bytes (two std::uint64_t), the mark in their second word.
constexpr std::size_t mark_at = detail::free_list::mark_offset(16);

std::uintptr_t word_at(const void* block, std::size_t offset = 0) {
    detail::asan_unpoison(block, offset + sizeof(std::uintptr_t));
    std::uintptr_t value;
    std::memcpy(&value, static_cast<const char*>(block) + offset, sizeof value);
    return value;
}

#if PMRKIT_DEATH_TESTS // helpers of the attacks, each run in a child (support/death.hpp)
void write_word(void* block, std::uintptr_t value) {
    detail::asan_unpoison(block, sizeof value);
    std::memcpy(block, &value, sizeof value);
}

bool reported(const child_end& end, const char* what) {
    return end.aborted && end.stderr_.find(what) != std::string::npos;
}

// A chosen address an attacker would like allocate to return.
alignas(64) std::array<std::byte, 256> g_target{};

// What a child says when an attack succeeded, before it ends normally.
constexpr const char* chosen_returned = "attack: the chosen address was returned";
constexpr const char* returned_twice = "attack: one block was handed out twice";
void say_chosen_returned() {
    std::fputs(chosen_returned, stderr);
}
#endif // PMRKIT_DEATH_TESTS

} // namespace

TEST_CASE("free_list: the mark goes in the second word of blocks that have one") {
    CHECK(detail::free_list::mark_offset(sizeof(void*)) == 0);
    CHECK(detail::free_list::mark_offset(2 * sizeof(void*)) == sizeof(void*));
    CHECK(detail::free_list::mark_offset(4096) == sizeof(void*));
}

TEST_CASE_TEMPLATE("free_list: links are stored encoded, per key and per block", List,
                   list_of<link_protection::checked>, list_of<link_protection::hardened>) {
    alignas(16) std::array<std::uint64_t, 8> blocks{};
    const detail::free_list_key key(16);
    List list;
    list.push(&blocks[0], key, mark_at);
    list.push(&blocks[2], key, mark_at);
    const std::uintptr_t link = word_at(&blocks[2]);
    CHECK(link != reinterpret_cast<std::uintptr_t>(&blocks[0]));
    CHECK(List::next(&blocks[2], key) == &blocks[0]);
    CHECK(word_at(&blocks[2], mark_at) != 0); // marked
    CHECK(list.pop(key, mark_at) == &blocks[2]);
    CHECK(word_at(&blocks[2], mark_at) == 0); // a block handed out carries no mark
    CHECK(list.pop(key, mark_at) == &blocks[0]);
    CHECK(list.pop(key, mark_at) == nullptr);

    // The same blocks under another key hold another link.
    const detail::free_list_key other(16);
    list.push(&blocks[0], other, mark_at);
    list.push(&blocks[2], other, mark_at);
    CHECK(word_at(&blocks[2]) != link);
    CHECK(list.pop(other, mark_at) == &blocks[2]);
}

#if PMRKIT_DEATH_TESTS // see support/death.hpp
namespace {

// In a child: a list of two blocks, `stray` written into the link of the top one, which is then
// popped. Returns what the next pop would return, or the child stops with a report.
template <class List>
void* pop_after_write(std::uintptr_t stray) {
    alignas(16) static std::array<std::uint64_t, 4> blocks{};
    const detail::free_list_key key(16);
    List list;
    list.push(&blocks[0], key, mark_at);
    list.push(&blocks[2], key, mark_at);
    write_word(&blocks[2], stray);
    (void)list.pop(key, mark_at);
    return list.front();
}

} // namespace

TEST_CASE_TEMPLATE("free_list: a chosen address written into a free block is never followed", List,
                   list_of<link_protection::checked>, list_of<link_protection::hardened>) {
    // Even values (addresses, zero, small integers) decode odd: always caught.
    for (const std::uintptr_t stray : {reinterpret_cast<std::uintptr_t>(g_target.data()),
                                       std::uintptr_t{0}, std::uintptr_t{1} << 20}) {
        const child_end end = run_in_child([stray] { (void)pop_after_write<List>(stray); });
        CHECK(reported(end, "pmrkit: free-list link overwritten"));
    }
    // Any value near it, odd ones included: either caught, or the next pop would return another
    // address than the one written.
    for (std::uintptr_t low = 0; low < 16; ++low) {
        const std::uintptr_t stray = reinterpret_cast<std::uintptr_t>(g_target.data()) + low;
        const child_end end = run_in_child([stray] {
            if (pop_after_write<List>(stray) == reinterpret_cast<void*>(stray)) {
                say_chosen_returned();
            }
        });
        CAPTURE(low);
        CHECK(end.stderr_.find(chosen_returned) == std::string::npos);
        CHECK((!end.aborted || reported(end, "pmrkit: free")));
    }
}

TEST_CASE_TEMPLATE("free_list: a double free of a listed block stops the program", List,
                   list_of<link_protection::checked>, list_of<link_protection::hardened>) {
    alignas(16) static std::array<std::uint64_t, 8> blocks{};
    const child_end end = run_in_child([] {
        const detail::free_list_key key(16);
        List list;
        list.push(&blocks[0], key, mark_at);
        list.push(&blocks[2], key, mark_at);
        list.push(&blocks[0], key, mark_at);
    });
    CHECK(reported(end, "pmrkit: double free"));
}
#endif // PMRKIT_DEATH_TESTS

TEST_CASE_TEMPLATE("free_list: a live block holding a free block's words is not a double free",
                   List, list_of<link_protection::checked>, list_of<link_protection::hardened>) {
    alignas(16) std::array<std::uint64_t, 8> blocks{};
    const detail::free_list_key key(16);
    List list;
    list.push(&blocks[0], key, mark_at);
    list.push(&blocks[2], key, mark_at);
    list.push(&blocks[4], key, mark_at);
    CHECK(list.pop(key, mark_at) == &blocks[4]);
    // The live block copies a free block's first two words: its mark included. The push walks the
    // list, does not find the block, and takes it.
    detail::asan_unpoison(&blocks[2], two_words);
    std::memcpy(&blocks[4], &blocks[2], two_words);
    detail::asan_poison(&blocks[2], two_words);
    list.push(&blocks[4], key, mark_at);
    CHECK(list.size(key) == 3);
    CHECK(list.pop(key, mark_at) == &blocks[4]);
    CHECK(list.pop(key, mark_at) == &blocks[2]);
    CHECK(list.pop(key, mark_at) == &blocks[0]);
}

TEST_CASE("free_list: remove_range hands its blocks on unmarked") {
    alignas(16) std::array<std::uint64_t, 8> blocks{};
    const detail::free_list_key key(16);
    list_of<link_protection::checked> list;
    list_of<link_protection::checked> other;
    for (std::size_t i = 0; i < 8; i += 2) {
        list.push(&blocks[i], key, mark_at);
    }
    list.remove_range(1, 2, key, mark_at, [&](void* b) {
        CHECK(word_at(b, mark_at) == 0);
        other.push(b, key, mark_at);
    });
    CHECK(other.size(key) == 2);
    CHECK(list.size(key) == 2);
}

#if PMRKIT_DEATH_TESTS // the rest runs attacks in a child: see support/death.hpp

TEST_CASE("free_list (hardened): a one-byte overflow into a free block is reported at its pop") {
    alignas(16) static std::array<std::uint64_t, 8> blocks{};
    for (std::size_t byte = 0; byte < two_words; ++byte) {
        const child_end end = run_in_child([byte] {
            const detail::free_list_key key(16);
            list_of<link_protection::hardened> list;
            list.push(&blocks[0], key, mark_at);
            list.push(&blocks[2], key, mark_at);
            auto* b = reinterpret_cast<unsigned char*>(&blocks[2]);
            detail::asan_unpoison(b, two_words);
            b[byte] ^= 0x40; // a change that keeps the link aligned when it hits the link
            (void)list.pop(key, mark_at);
        });
        CAPTURE(byte);
        CHECK(end.aborted);
        CHECK(end.stderr_.find("pmrkit: free") != std::string::npos);
    }
}

// The pools, in the build under test.

namespace {

constexpr std::size_t bytes = 64;
struct payload {
    std::array<std::byte, bytes> data;
};

template <class Pool>
struct pool_of {
    Pool pool;
    void* allocate() { return pool.allocate(bytes, 8); }
    void deallocate(void* p) { pool.deallocate(p, bytes, 8); }
};

template <>
struct pool_of<object_pool<payload>> {
    object_pool<payload> pool;
    void* allocate() { return pool.make().release(); }
    void deallocate(void* p) {
        const object_pool<payload>::deleter release_to{&pool};
        release_to(static_cast<payload*>(p));
    }
};

// A size_class_resource serving 512-byte blocks, the other shape of issue 17's attacks.
struct size_class_512 {
    size_class_resource pool;
    void* allocate() { return pool.allocate(512, 8); }
    void deallocate(void* p) { pool.deallocate(p, 512, 8); }
};

template <class Pool>
struct subject {
    using type = pool_of<Pool>;
};
template <>
struct subject<size_class_512> {
    using type = size_class_512;
};

// Warm: blocks taken and given back, as a pool under load is.
template <class P>
void warm(P& p) {
    std::array<void*, 16> blocks{};
    for (void*& b : blocks) {
        b = p.allocate();
    }
    for (void* b : blocks) {
        p.deallocate(b);
    }
}

} // namespace

TEST_CASE_TEMPLATE("pools: a chosen address written into a freed block is never handed out" *
                       doctest::skip(detail::build_protection == link_protection::none),
                   Pool, fixed_block_resource, size_class_resource, size_class_512,
                   aligned_pool_resource, concurrent_pool_resource, object_pool<payload>) {
    // Skipped in the builds where it cannot run (the decorator), and discarded there.
    if constexpr (detail::build_protection != link_protection::none) {
        const child_end end = run_in_child([] {
            typename subject<Pool>::type p;
            warm(p);
            void* a = p.allocate();
            void* b = p.allocate();
            p.deallocate(a);
            p.deallocate(b);
            write_word(b, reinterpret_cast<std::uintptr_t>(g_target.data()));
            for (int i = 0; i < 3; ++i) {
                if (p.allocate() == g_target.data()) {
                    say_chosen_returned();
                }
            }
        });
        CHECK(end.stderr_.find(chosen_returned) == std::string::npos);
        CHECK(reported(end, "pmrkit: free-list link overwritten"));
    }
}

TEST_CASE_TEMPLATE("pools: a double free stops the program before the block is handed out twice" *
                       doctest::skip(detail::build_protection == link_protection::none),
                   Pool, fixed_block_resource, size_class_resource, size_class_512,
                   aligned_pool_resource, concurrent_pool_resource, object_pool<payload>) {
    // Skipped in the builds where it cannot run (the decorator), and discarded there.
    if constexpr (detail::build_protection != link_protection::none) {
        // At once, and with another free between.
        for (const bool between : {false, true}) {
            const child_end end = run_in_child([between] {
                typename subject<Pool>::type p;
                warm(p);
                void* a = p.allocate();
                void* b = p.allocate();
                p.deallocate(a);
                if (between) {
                    p.deallocate(b);
                }
                p.deallocate(a);
                if (p.allocate() == p.allocate()) {
                    std::fputs(returned_twice, stderr);
                }
            });
            CAPTURE(between);
            CHECK(end.stderr_.find(returned_twice) == std::string::npos);
            CHECK(reported(end, "pmrkit: double free"));
        }
    }
}

// Large blocks are not on a free list: a freed one is kept whole by the large-block cache, and
// the cache's own record is what a second free must meet.
TEST_CASE_TEMPLATE("pools: a double free of a cached large block stops the program" *
                       doctest::skip(detail::build_protection == link_protection::none),
                   Pool, size_class_resource, aligned_pool_resource, concurrent_pool_resource) {
    // Skipped in the builds where it cannot run (the decorator), and discarded there.
    if constexpr (detail::build_protection != link_protection::none) {
        const child_end end = run_in_child([] {
            Pool p;
            constexpr std::size_t large = 100'000;
            void* a = p.allocate(large, 8);
            p.deallocate(a, large, 8);
            p.deallocate(a, large, 8);
            if (p.allocate(large, 8) == p.allocate(large, 8)) {
                std::fputs(returned_twice, stderr);
            }
        });
        CHECK(end.stderr_.find(returned_twice) == std::string::npos);
        CHECK(reported(end, "pmrkit: double free"));
    }
}

TEST_CASE("size_class_resource (hardened): a large block freed with a size it cannot hold stops "
          "the program" *
          doctest::skip(detail::build_protection != link_protection::hardened)) {
    // Skipped in the builds where it cannot run (the decorator), and discarded there.
    if constexpr (detail::build_protection == link_protection::hardened) {
        // Through the cache (the freed size is cacheable), past it (too large to be), and with no
        // cache (every large block passes through).
        for (const auto& freed_and_cache : {std::pair<std::size_t, bool>{200'000, true},
                                            {std::size_t{128} << 20, true},
                                            {200'000, false}}) {
            const std::size_t freed = freed_and_cache.first;
            const bool cache = freed_and_cache.second;
            const child_end end = run_in_child([freed, cache] {
                size_class_resource p(size_class_options{
                    .large_cache_bytes = cache ? size_class_options{}.large_cache_bytes : 0});
                void* a = p.allocate(100'000, 8);
                p.deallocate(a, freed, 8);
            });
            CAPTURE(freed);
            CAPTURE(cache);
            CHECK(reported(end, "pmrkit: deallocate of a large"));
        }
    }
}

TEST_CASE_TEMPLATE("pools (hardened): a one-byte overflow into a free block is reported at its "
                   "pop" *
                       doctest::skip(detail::build_protection != link_protection::hardened),
                   Pool, fixed_block_resource, size_class_resource, size_class_512,
                   aligned_pool_resource, concurrent_pool_resource, object_pool<payload>) {
    // Skipped in the builds where it cannot run (the decorator), and discarded there.
    if constexpr (detail::build_protection == link_protection::hardened) {
        const child_end end = run_in_child([] {
            typename subject<Pool>::type p;
            // Two neighbours: the block above the first is the second.
            std::set<std::byte*> blocks;
            for (int i = 0; i < 64; ++i) {
                blocks.insert(static_cast<std::byte*>(p.allocate()));
            }
            std::byte* low = nullptr;
            std::byte* high = nullptr;
            for (auto it = blocks.begin(); std::next(it) != blocks.end(); ++it) {
                if (*std::next(it) - *it <= 512) {
                    low = *it;
                    high = *std::next(it);
                    break;
                }
            }
            if (low == nullptr) {
                std::_Exit(4);
            }
            p.deallocate(high);
            const auto size = static_cast<std::size_t>(high - low);
            detail::asan_unpoison(low + size, 1);
            low[size] ^= std::byte{0x40}; // one byte past the end of the block below
            (void)p.allocate();
        });
        CHECK(end.aborted);
        CHECK(end.stderr_.find("pmrkit: free") != std::string::npos);
    }
}
#endif // PMRKIT_DEATH_TESTS

} // namespace pmrkit::test
