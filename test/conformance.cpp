// SPDX-License-Identifier: MIT
// The conformance suite: written once, run for every fixture in conformance_fixtures.hpp, over a
// checking upstream that fails on any size or alignment mismatch and on leaks.
#include "conformance_fixtures.hpp"
#include "support/checking_resource.hpp"
#include "support/default_resource_guard.hpp"
#include "support/live_blocks.hpp"
#include "support/random_size.hpp"
#include "support/seed.hpp"

#include <doctest/doctest.h>

#include <array>
#include <limits>
#include <list>
#include <map>
#include <memory_resource>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace pmrkit::test {
namespace {

template <class F>
concept releasable = requires(typename F::resource& r) {
    r.release();
};

template <class F>
constexpr bool instances_compare_equal() {
    if constexpr (requires { F::instances_compare_equal; }) {
        return F::instances_compare_equal;
    } else {
        return false;
    }
}

template <class F>
constexpr bool forwards_impossible() {
    if constexpr (requires { F::forwards_impossible; }) {
        return F::forwards_impossible;
    } else {
        return false;
    }
}

constexpr std::array<std::size_t, 17> sizes = {0,  1,   7,   8,    15,   16,   17,    63,    64,
                                               65, 100, 256, 1000, 4096, 5000, 70000, 300000};

std::size_t conformance_size(std::mt19937_64& rng) {
    return random_size(rng, {.small_percent = 80,
                             .small_max = 128,
                             .medium_percent = 17,
                             .medium_max = 4096,
                             .large_max = 100000});
}

std::size_t random_alignment(std::mt19937_64& rng, std::size_t max_alignment) {
    if (std::uniform_int_distribution<int>(0, 9)(rng) < 7) {
        return alignof(std::max_align_t);
    }
    const auto max_shift = static_cast<int>(std::bit_width(max_alignment) - 1);
    return std::size_t{1} << std::uniform_int_distribution<int>(0, max_shift)(rng);
}

// Builds and checks one of each standard container the suite requires.
void exercise_containers(std::pmr::memory_resource& r) {
    std::pmr::vector<std::pmr::string> strings(&r);
    for (int i = 0; i < 2000; ++i) {
        strings.emplace_back(std::string(static_cast<std::size_t>(i % 97), 'x') +
                             std::to_string(i));
    }
    std::pmr::map<int, std::pmr::string> map(&r);
    std::pmr::unordered_map<std::uint64_t, std::uint64_t> hash(&r);
    std::pmr::list<int> list(&r);
    for (int i = 0; i < 3000; ++i) {
        map.emplace(i, "value number " + std::to_string(i));
        hash.emplace(static_cast<std::uint64_t>(i) * 7919, static_cast<std::uint64_t>(i));
        list.push_back(i);
    }
    for (int i = 0; i < 3000; i += 2) {
        map.erase(i);
        hash.erase(static_cast<std::uint64_t>(i) * 7919);
    }
    list.remove_if([](int x) { return x % 3 == 0; });
    for (int i = 0; i < 2000; ++i) {
        REQUIRE(strings[static_cast<std::size_t>(i)].ends_with(std::to_string(i)));
    }
    CHECK(map.size() == 1500);
    CHECK(map.at(2999) == "value number 2999");
    CHECK(hash.size() == 1500);
    CHECK(hash.at(2999u * 7919u) == 2999u);
    CHECK(list.size() == 2000);
}

} // namespace

TEST_CASE_TEMPLATE("conformance: every claimed alignment is honoured for sizes 0 to large", F,
                   PMRKIT_CONFORMANCE_FIXTURES) {
    checking_resource upstream(bottom_of<F>());
    {
        auto resource = make_resource<F>(upstream);
        live_blocks live(*resource);
        for (std::size_t alignment = 1; alignment <= F::max_alignment; alignment *= 2) {
            for (const std::size_t bytes : sizes) {
                live.allocate(bytes, alignment);
            }
        }
        live.check_all();
    }
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE_TEMPLATE("conformance: random allocate/free keeps blocks disjoint and intact", F,
                   PMRKIT_CONFORMANCE_FIXTURES) {
    PMRKIT_SEEDED(seed);
    std::mt19937_64 rng(seed);
    checking_resource upstream(bottom_of<F>());
    {
        auto resource = make_resource<F>(upstream);
        live_blocks live(*resource);
        for (int op = 0; op < 20000; ++op) {
            if (live.empty() || std::uniform_int_distribution<int>(0, 99)(rng) < 55) {
                live.allocate(conformance_size(rng), random_alignment(rng, F::max_alignment));
            } else {
                live.free_random(rng);
            }
        }
        live.free_all_shuffled(rng);
    }
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE_TEMPLATE("conformance: free-all then refill cycles", F, PMRKIT_CONFORMANCE_FIXTURES) {
    PMRKIT_SEEDED(seed);
    std::mt19937_64 rng(seed);
    checking_resource upstream(bottom_of<F>());
    auto resource = make_resource<F>(upstream);
    live_blocks live(*resource);
    // A pool must not ask upstream again once every block is free; a decorator must not keep
    // what it was given back (a bounded quarantine, as test_resource's, is the same each cycle).
    // A monotonic buffer must give everything taken back by release().
    const auto upstream_measure = [&upstream] {
        return F::freed == freed_memory::returned_upstream || F::freed == freed_memory::released
                   ? upstream.live_blocks()
                   : upstream.allocations();
    };
    std::size_t after_first_cycle = 0;
    for (int cycle = 0; cycle < 5; ++cycle) {
        // Small enough for every pool in the project to serve itself, not pass upstream.
        for (int i = 0; i < 1000; ++i) {
            live.allocate(i % 3 == 0 ? 8 : 16, 8);
        }
        live.free_all_shuffled(rng);
        if constexpr (F::freed == freed_memory::reused_after_reset) {
            resource->reset();
        } else if constexpr (F::freed == freed_memory::released) {
            resource->release();
        }
        if constexpr (!takes_upstream<F>) {
            continue; // it gives memory back to malloc or the OS, which the test cannot see
        }
        if (cycle == 0) {
            after_first_cycle = upstream_measure();
            if constexpr (F::freed == freed_memory::returned_upstream) {
                CHECK(after_first_cycle < 1000);
            }
        } else {
            CHECK_MESSAGE(upstream_measure() == after_first_cycle,
                          "cycle " << cycle
                                   << ": upstream traffic grew although every block "
                                      "was free");
        }
    }
}

TEST_CASE_TEMPLATE("conformance: release() and destruction give everything back", F,
                   PMRKIT_CONFORMANCE_FIXTURES) {
    checking_resource upstream(bottom_of<F>());
    {
        auto resource = make_resource<F>(upstream);
        live_blocks live(*resource);
        for (const std::size_t bytes : sizes) {
            live.allocate(bytes, 8);
            live.allocate(bytes, 64);
        }
        if constexpr (takes_upstream<F>) {
            CHECK(upstream.live_blocks() > 0);
        }
        if constexpr (releasable<F>) {
            live.forget_all();
            resource->release();
            CHECK(upstream.live_blocks() == 0);
            for (const std::size_t bytes : sizes) {
                live.allocate(bytes, 16);
            }
            live.check_all();
            live.forget_all(); // destruction below gives them back
        }
    }
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE_TEMPLATE("conformance: an upstream exception propagates and the resource stays usable", F,
                   PMRKIT_CONFORMANCE_UPSTREAM_FIXTURES) {
    checking_resource upstream(bottom_of<F>());
    auto resource = make_resource<F>(upstream);
    live_blocks live(*resource);

    // Allocates until one allocation throws the injected exception, unchanged; false if none did.
    const auto throws_injected = [&live](int attempts, std::size_t large_every) {
        for (int i = 1; i <= attempts; ++i) {
            try {
                live.allocate(static_cast<std::size_t>(i) % large_every == 0 ? 1 << 20 : 48, 16);
            } catch (const injected_bad_alloc&) {
                return true;
            }
        }
        return false;
    };

    // The first upstream call of a fresh resource (libstdc++ 12's pool calls std::terminate here):
    // the first allocation, unless an initial buffer serves it.
    upstream.fail_next(1);
    CHECK(throws_injected(10000, 10000));
    CHECK(upstream.allocations() == 0);
    upstream.fail_next(0);

    // Once upstream fails for good, some allocation must throw its exception, unchanged.
    for (int i = 0; i < 50; ++i) {
        live.allocate(48, 16);
    }
    upstream.fail_next(1000000);
    CHECK(throws_injected(200000, 100));
    upstream.fail_next(0);

    live.check_all();
    for (int i = 0; i < 100; ++i) {
        live.allocate(static_cast<std::size_t>(i) * 13, 16);
    }
    live.check_all();
}

TEST_CASE_TEMPLATE("conformance: impossible sizes throw std::bad_alloc before reaching upstream "
                   "(a decorator that forwards them: from upstream)",
                   F, PMRKIT_CONFORMANCE_FIXTURES) {
    checking_resource upstream(bottom_of<F>());
    auto resource = make_resource<F>(upstream);
    live_blocks live(*resource);
    live.allocate(64, 16);
    const std::size_t upstream_calls = upstream.allocations();
    // The checking upstream refuses impossible sizes too: its count of refusals shows whether one
    // reached it.
    const std::uint64_t refused = upstream.checker().stats().failed_allocations.value_or(0);
    // volatile: these requests are meant to be impossible, which compilers would warn about.
    volatile std::size_t max = std::numeric_limits<std::size_t>::max();
    const std::array<std::array<std::size_t, 2>, 6> requests = {{{max, 1},
                                                                 {max, 16},
                                                                 {max - 15, 16},
                                                                 {max - 4095, 4096},
                                                                 {max / 2 + 1, 8},
                                                                 {max / 2 - 100, 4096}}};
    for (const auto& [bytes, alignment] : requests) {
        CHECK_THROWS_AS((void)resource->allocate(bytes, alignment), std::bad_alloc);
    }
    CHECK(upstream.allocations() == upstream_calls);
    const std::uint64_t forwarded = forwards_impossible<F>() ? requests.size() : 0;
    CHECK(upstream.checker().stats().failed_allocations.value_or(0) == refused + forwarded);
    live.allocate(100, 32);
    live.check_all();
}

TEST_CASE_TEMPLATE("conformance: standard containers work on top", F, PMRKIT_CONFORMANCE_FIXTURES) {
    checking_resource upstream(bottom_of<F>());
    auto resource = make_resource<F>(upstream);
    exercise_containers(*resource);
}

TEST_CASE_TEMPLATE("conformance: never falls back to the default resource", F,
                   PMRKIT_CONFORMANCE_FIXTURES) {
    checking_resource upstream(bottom_of<F>());
    const default_resource_guard guard(std::pmr::null_memory_resource());
    auto resource = make_resource<F>(upstream);
    exercise_containers(*resource);
    live_blocks live(*resource);
    for (const std::size_t bytes : sizes) {
        live.allocate(bytes, 32);
    }
}

TEST_CASE_TEMPLATE("conformance: is_equal is identity, or type for stateless resources", F,
                   PMRKIT_CONFORMANCE_FIXTURES) {
    checking_resource upstream(bottom_of<F>());
    auto a = make_resource<F>(upstream);
    auto b = make_resource<F>(upstream);
    CHECK(a->is_equal(*a));
    CHECK(a->is_equal(*b) == instances_compare_equal<F>());
    CHECK_FALSE(a->is_equal(*std::pmr::new_delete_resource()));
    CHECK_FALSE(a->is_equal(upstream));
    CHECK(*a == *a);
    CHECK((*a == *b) == instances_compare_equal<F>());
}

} // namespace pmrkit::test
