// SPDX-License-Identifier: MIT
// A program written against std::pmr's pool and monotonic resources compiles unchanged against
// pmrkit's: the same source (a template over the three classes) instantiated with both sets, every
// constructor form of [mem.res.pool.ctor] and [mem.res.monotonic.buffer.ctor] with the same
// arguments, the members, a derived class; and the construction traits (explicit or not,
// copyable or not) equal for every argument list.
#include "pmrkit/monotonic_buffer_resource.hpp"
#include "pmrkit/synchronized_pool_resource.hpp"
#include "pmrkit/unsynchronized_pool_resource.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstddef>
#include <memory_resource>
#include <type_traits>

namespace pmrkit::test {
namespace {

// What the program observes, each defined by the standard: a pmrkit class must give what std's
// gives.
struct observed {
    std::size_t elements = 0; // of a container on the resource
    bool upstream_kept = false;
    bool instances_equal = true; // two instances compare equal
    bool self_equal = false;
    friend bool operator==(const observed&, const observed&) = default;
};
constexpr observed expected{
    .elements = 3, .upstream_kept = true, .instances_equal = false, .self_equal = true};

// The program, written once: it must compile for std's classes and for pmrkit's.
template <class Pool>
observed use_pool(std::pmr::memory_resource* upstream) {
    const std::pmr::pool_options opts{.max_blocks_per_chunk = 16,
                                      .largest_required_pool_block = 512};
    Pool a;
    Pool b(upstream);
    Pool c(opts);
    Pool d(opts, upstream);
    Pool e{opts, upstream};
    Pool f{std::pmr::pool_options{}};
    Pool g({4, 100}, upstream);
    std::pmr::memory_resource* r = &d;
    observed seen;
    {
        const std::pmr::vector<int> v({1, 2, 3}, r);
        seen.elements = v.size();
    }
    std::pmr::polymorphic_allocator<int> alloc(&g);
    int* p = alloc.allocate(10);
    alloc.deallocate(p, 10);
    const std::pmr::pool_options o = d.options();
    seen.upstream_kept = d.upstream_resource() == upstream;
    d.release();
    a.release();
    b.release();
    c.release();
    e.release();
    f.release();
    (void)o;
    seen.instances_equal = a == b;
    seen.self_equal = a.is_equal(a);
    return seen;
}

template <class Monotonic>
observed use_monotonic(std::pmr::memory_resource* upstream) {
    std::array<std::byte, 256> buffer{};
    Monotonic a;
    Monotonic b(upstream);
    Monotonic c(std::size_t{1024});
    Monotonic d(1024, upstream);
    Monotonic e(buffer.data(), buffer.size());
    Monotonic f(buffer.data(), buffer.size(), upstream);
    Monotonic g{upstream};
    observed seen;
    {
        const std::pmr::vector<int> v({1, 2, 3}, &f);
        seen.elements = v.size();
    }
    seen.upstream_kept = f.upstream_resource() == upstream;
    f.release();
    a.release();
    (void)b.allocate(10);
    (void)c.allocate(10);
    (void)d.allocate(10);
    (void)e.allocate(10);
    (void)g.allocate(10);
    seen.instances_equal = a == b;
    seen.self_equal = a.is_equal(a);
    return seen;
}

// A class derived from the resource, as a program may write: it overrides the protected members.
template <class Base>
struct counting : Base {
    using Base::Base;
    std::size_t calls = 0;

protected:
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        ++calls;
        return Base::do_allocate(bytes, alignment);
    }
};

template <class Std, class Ours, class... Args>
constexpr bool same_construction() {
    return std::is_constructible_v<Std, Args...> == std::is_constructible_v<Ours, Args...> &&
           std::is_convertible_v<Args..., Std> == std::is_convertible_v<Args..., Ours>;
}

template <class Std, class Ours>
constexpr bool same_pool_traits() {
    using mr = std::pmr::memory_resource*;
    using opts = const std::pmr::pool_options&;
    return std::is_default_constructible_v<Std> == std::is_default_constructible_v<Ours> &&
           same_construction<Std, Ours, mr>() && same_construction<Std, Ours, opts>() &&
           std::is_constructible_v<Std, opts, mr> == std::is_constructible_v<Ours, opts, mr> &&
           !std::is_copy_constructible_v<Std> && !std::is_copy_constructible_v<Ours> &&
           !std::is_copy_assignable_v<Std> && !std::is_copy_assignable_v<Ours> &&
           !std::is_move_constructible_v<Std> && !std::is_move_constructible_v<Ours> &&
           std::has_virtual_destructor_v<Ours>;
}

static_assert(
    same_pool_traits<std::pmr::unsynchronized_pool_resource, unsynchronized_pool_resource>());
static_assert(same_pool_traits<std::pmr::synchronized_pool_resource, synchronized_pool_resource>());

using std_mono = std::pmr::monotonic_buffer_resource;
static_assert(same_construction<std_mono, monotonic_buffer_resource, std::pmr::memory_resource*>());
static_assert(same_construction<std_mono, monotonic_buffer_resource, std::size_t>());
static_assert(
    std::is_constructible_v<monotonic_buffer_resource, std::size_t, std::pmr::memory_resource*> &&
    std::is_constructible_v<monotonic_buffer_resource, void*, std::size_t> &&
    std::is_constructible_v<monotonic_buffer_resource, void*, std::size_t,
                            std::pmr::memory_resource*>);
static_assert(!std::is_copy_constructible_v<monotonic_buffer_resource> &&
              !std::is_move_constructible_v<monotonic_buffer_resource>);

} // namespace

TEST_CASE("std drop-ins: the same program compiles and runs against std's and pmrkit's classes") {
    std::pmr::memory_resource* upstream = std::pmr::new_delete_resource();
    CHECK(use_pool<unsynchronized_pool_resource>(upstream) == expected);
    CHECK(use_pool<synchronized_pool_resource>(upstream) == expected);
    CHECK(use_monotonic<monotonic_buffer_resource>(upstream) == expected);
    // std's classes, for the compilation, and as the reference for `expected`.
    CHECK(use_pool<std::pmr::unsynchronized_pool_resource>(upstream) == expected);
    CHECK(use_pool<std::pmr::synchronized_pool_resource>(upstream) == expected);
    CHECK(use_monotonic<std::pmr::monotonic_buffer_resource>(upstream) == expected);
    // The options within pmrkit's limits as given; largest_required_pool_block raised to the
    // least it pools (detail::std_pools::normalized).
    const std::pmr::pool_options asked{.max_blocks_per_chunk = 16,
                                       .largest_required_pool_block = 512};
    const unsynchronized_pool_resource unsync_pool(asked, upstream);
    const synchronized_pool_resource sync_pool(asked, upstream);
    for (const std::pmr::pool_options o : {unsync_pool.options(), sync_pool.options()}) {
        CHECK(o.max_blocks_per_chunk == 16);
        CHECK(o.largest_required_pool_block == detail::small_block_limit);
    }

    counting<unsynchronized_pool_resource> ours(upstream);
    counting<std::pmr::unsynchronized_pool_resource> theirs(upstream);
    std::pmr::memory_resource& a = ours;
    std::pmr::memory_resource& b = theirs;
    a.deallocate(a.allocate(8), 8);
    b.deallocate(b.allocate(8), 8);
    CHECK(ours.calls == theirs.calls);
    counting<monotonic_buffer_resource> mono;
    std::pmr::memory_resource& m = mono;
    (void)m.allocate(8);
    CHECK(mono.calls == 1);
    counting<synchronized_pool_resource> sync;
    std::pmr::memory_resource& s = sync;
    s.deallocate(s.allocate(8), 8);
    CHECK(sync.calls == 1);
}

} // namespace pmrkit::test
