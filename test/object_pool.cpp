// SPDX-License-Identifier: MIT
// object_pool<T>: handles destroy and return blocks, statistics, exception safety, the recycling
// mode with reset and preconstruction, the cap, and a seeded model test.
#include "pmrkit/object_pool.hpp"
#include "pmrkit/decorators/test_resource.hpp"
#include "support/seed.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace pmrkit::test {
namespace {

// Counts constructions and destructions, so that a test sees which the pool performed.
struct tracked {
    static inline int constructed = 0;
    static inline int destroyed = 0;
    static void clear_counts() { constructed = destroyed = 0; }

    explicit tracked(std::uint64_t v = 0, bool fail = false) : value(v) {
        if (fail) {
            throw std::runtime_error("tracked: constructor failed");
        }
        ++constructed;
    }
    tracked(const tracked&) = delete;
    tracked& operator=(const tracked&) = delete;
    ~tracked() { ++destroyed; }

    std::uint64_t value;
    char payload[40] = {};
};

struct alignas(64) over_aligned {
    double lanes[8] = {};
};

struct no_default {
    explicit no_default(int v) : value(v) {}
    int value;
};

test_resource_options throwing_checks() {
    return {.on_error = error_action::throw_error};
}

} // namespace

static_assert(!std::is_copy_constructible_v<object_pool<int>>);
static_assert(
    std::is_same_v<object_pool<int>::handle, std::unique_ptr<int, object_pool<int>::deleter>>);

TEST_CASE("object_pool: make constructs in a pool block, the handle destroys and returns it") {
    tracked::clear_counts();
    test_resource upstream(throwing_checks(), std::pmr::new_delete_resource());
    {
        object_pool<tracked> pool({.initial_objects = 4}, &upstream);
        CHECK(upstream.live_blocks() == 0); // constructors take no memory
        {
            auto a = pool.make(7U);
            auto b = pool.make(8U);
            CHECK(a->value == 7);
            CHECK(b->value == 8);
            CHECK(pool.in_use() == 2);
            CHECK(pool.blocks().blocks_in_use() == 2);
            CHECK(pool.blocks().block_size() >= sizeof(tracked));
            CHECK(upstream.live_blocks() == 1); // one chunk holds both
            CHECK(tracked::constructed == 2);
        }
        CHECK(tracked::destroyed == 2);
        CHECK(pool.in_use() == 0);
        CHECK(pool.peak_in_use() == 2);
        CHECK(pool.blocks().blocks_in_use() == 0);

        // A freed block is handed out again (LIFO), not a new one.
        auto one = pool.make(1U);
        const void* first = one.get();
        one.reset();
        CHECK(pool.make(2U).get() == first);
        CHECK(pool.blocks().capacity() == 4);
    }
    CHECK(upstream.live_blocks() == 0);
}

TEST_CASE("object_pool: over-aligned types get aligned blocks") {
    object_pool<over_aligned> pool;
    std::vector<object_pool<over_aligned>::handle> live;
    for (int i = 0; i < 100; ++i) {
        live.push_back(pool.make());
        CHECK(reinterpret_cast<std::uintptr_t>(live.back().get()) % 64 == 0);
    }
}

TEST_CASE("object_pool: a throwing constructor returns its block and changes nothing") {
    tracked::clear_counts();
    object_pool<tracked> pool;
    auto kept = pool.make(1U);
    CHECK_THROWS_AS((void)pool.make(2U, true), std::runtime_error);
    CHECK(pool.in_use() == 1);
    CHECK(pool.peak_in_use() == 1);
    CHECK(pool.blocks().blocks_in_use() == 1);
    CHECK(tracked::destroyed == 0);
    // The returned block is the next one handed out: the peak stays at 2 blocks.
    const auto after = pool.make(3U);
    CHECK(pool.blocks().peak_blocks_in_use() == 2);
    CHECK(after.get() != kept.get());
}

TEST_CASE("object_pool: every allocation failure leaves nothing behind (exception_test)") {
    test_resource upstream(throwing_checks(), std::pmr::new_delete_resource());
    // Small chunks, so that filling the pool takes several upstream allocations, each made to fail
    // once; recycling adds the kept list's allocations.
    const std::size_t runs = exception_test(upstream, [&] {
        object_pool<std::string> pool({.initial_objects = 2,
                                       .growth = growth_policy::linear(2),
                                       .reset = [](std::string& s) { s.clear(); },
                                       .preconstructed = 3},
                                      &upstream);
        std::vector<object_pool<std::string>::handle> live;
        for (int i = 0; i < 9; ++i) {
            live.push_back(i % 2 == 0 ? pool.make(std::size_t{40}, 'x') : pool.acquire());
        }
        if (pool.in_use() != 9 || pool.recycled() != 3) {
            throw std::logic_error("object_pool: wrong counts");
        }
    });
    CHECK(runs > 5);
    CHECK(upstream.live_blocks() == 0);
    CHECK(upstream.errors() == 0);
}

TEST_CASE("object_pool: max_objects is a cap; past it make throws and nothing changes") {
    object_pool<int> pool({.initial_objects = 2, .max_objects = 3});
    auto a = pool.make(1);
    auto b = pool.make(2);
    auto c = pool.make(3);
    CHECK_THROWS_AS((void)pool.make(4), std::bad_alloc);
    CHECK(pool.in_use() == 3);
    c.reset();
    CHECK(*pool.make(5) == 5);
}

TEST_CASE("object_pool: recycling resets and hands the same object out again") {
    int resets = 0;
    object_pool<std::vector<int>> pool({.reset = [&](std::vector<int>& v) {
        ++resets;
        v.clear();
    }});
    CHECK(pool.recycling());

    auto first = pool.acquire();
    first->assign(1000, 7);
    const auto* object = first.get();
    const auto* buffer = first->data();
    first.reset();
    CHECK(resets == 1);
    CHECK(pool.kept() == 1);
    CHECK(pool.in_use() == 0);

    auto again = pool.acquire();
    CHECK(again.get() == object);
    CHECK(again->empty());
    CHECK(again->capacity() >= 1000); // the expensive part survived
    CHECK(again->data() == buffer);
    CHECK(pool.recycled() == 1);
    CHECK(pool.kept() == 0);

    // make() always constructs from its arguments, and its objects are recycled too.
    auto made = pool.make(std::size_t{3}, 9);
    CHECK(*made == std::vector<int>{9, 9, 9});
    made.reset();
    CHECK(pool.kept() == 1);
    CHECK(pool.acquire()->empty());
    CHECK(pool.recycled() == 2);
}

TEST_CASE("object_pool: the list of kept objects grows geometrically") {
    test_resource upstream(throwing_checks(), std::pmr::new_delete_resource());
    object_pool<int> pool({.initial_objects = 2048, .reset = [](int& i) { i = 0; }}, &upstream);
    std::vector<object_pool<int>::handle> live;
    for (int i = 0; i < 2000; ++i) {
        live.push_back(pool.make(i));
    }
    // One chunk of blocks and about log2(2000) = 11 buffers for the list, not one per object.
    CHECK(upstream.allocations() <= 1 + 12);
    const std::size_t before = upstream.allocations();
    live.clear(); // every release keeps its object without allocating
    CHECK(pool.kept() == 2000);
    CHECK(upstream.allocations() == before);
}

TEST_CASE("object_pool: preconstructed objects are built eagerly and handed out first") {
    tracked::clear_counts();
    {
        object_pool<tracked> pool({.reset = [](tracked& t) { t.value = 0; }, .preconstructed = 5});
        CHECK(tracked::constructed == 5);
        CHECK(pool.kept() == 5);
        CHECK(pool.in_use() == 0);
        CHECK(pool.peak_in_use() == 0);

        std::vector<object_pool<tracked>::handle> live;
        for (int i = 0; i < 5; ++i) {
            live.push_back(pool.acquire());
        }
        CHECK(tracked::constructed == 5); // none built on the way
        CHECK(pool.recycled() == 5);
        live.push_back(pool.acquire());
        CHECK(tracked::constructed == 6);
        CHECK(pool.recycled() == 5);
        CHECK(pool.peak_in_use() == 6);
        live.clear();
        CHECK(tracked::destroyed == 0); // kept, not destroyed
        CHECK(pool.kept() == 6);
    }
    CHECK(tracked::destroyed == 6); // the pool's destructor destroys what it kept
}

TEST_CASE("object_pool: a reset that throws destroys the object instead of keeping it") {
    tracked::clear_counts();
    object_pool<tracked> pool({.reset = [](tracked& t) {
        if (t.value == 13) {
            throw std::runtime_error("cannot reset");
        }
    }});
    pool.make(13U).reset();
    CHECK(pool.kept() == 0);
    CHECK(tracked::destroyed == 1);
    CHECK(pool.blocks().blocks_in_use() == 0);
    pool.make(12U).reset();
    CHECK(pool.kept() == 1);
}

TEST_CASE("object_pool: preconstruction needs a default constructor") {
    CHECK_THROWS_AS(object_pool<no_default>({.reset = [](no_default&) {}, .preconstructed = 1}),
                    std::invalid_argument);
    object_pool<no_default> pool({.reset = [](no_default& n) { n.value = 0; }});
    auto n = pool.make(4);
    CHECK(n->value == 4);
}

TEST_CASE("object_pool: stats() reports objects and the block pool's upstream figures") {
    object_pool<int> pool({.initial_objects = 8, .reset = [](int& i) { i = 0; }});
    auto a = pool.make(1);
    auto b = pool.acquire();
    b.reset();
    auto c = pool.acquire();
    const resource_stats s = pool.stats();
    CHECK(s.resource == "object_pool");
    CHECK(s.blocks_in_use == 2);
    CHECK(s.peak_blocks_in_use == 2);
    CHECK(s.served_locally == 1);
    CHECK(s.upstream_allocations == 1);
    CHECK(s.upstream_bytes == pool.blocks().upstream_bytes());
    CHECK(!s.allocations.has_value());
}

TEST_CASE("object_pool: seeded model test against a map of live values") {
    PMRKIT_SEEDED(seed);
    std::mt19937_64 rng(seed);
    test_resource upstream(throwing_checks(), std::pmr::new_delete_resource());
    for (const bool recycle : {false, true}) {
        CAPTURE(recycle);
        tracked::clear_counts();
        {
            object_pool_options<tracked> options{.initial_objects = 3,
                                                 .growth = growth_policy::linear(5)};
            if (recycle) {
                options.reset = [](tracked& t) { t.value = 0; };
            }
            object_pool<tracked> pool(options, &upstream);
            std::map<std::uint64_t, object_pool<tracked>::handle> live;
            std::size_t peak = 0;
            std::uint64_t next = 1;
            std::uint64_t recycled = 0;
            for (int step = 0; step < 20000; ++step) {
                const bool grow = live.empty() || rng() % 100 < 55;
                if (grow) {
                    const bool by_make = rng() % 2 == 0;
                    auto h = by_make ? pool.make(next) : pool.acquire();
                    if (by_make) {
                        REQUIRE(h->value == next);
                    } else {
                        REQUIRE(h->value == 0); // default-constructed, or kept and reset
                        h->value = next;
                    }
                    live.emplace(next++, std::move(h));
                } else {
                    auto it = live.begin();
                    std::advance(it, static_cast<long>(rng() % live.size()));
                    REQUIRE(it->second->value == it->first); // no other object wrote here
                    live.erase(it);
                }
                peak = std::max(peak, live.size());
                REQUIRE(pool.in_use() == live.size());
                REQUIRE(pool.peak_in_use() == peak);
                recycled = pool.recycled();
            }
            std::set<const void*> addresses;
            for (const auto& [key, h] : live) {
                CHECK(addresses.insert(h.get()).second);
            }
            // Blocks in use are the live objects plus, when recycling, the kept ones.
            CHECK(pool.blocks().blocks_in_use() == live.size() + pool.kept());
            CHECK(pool.blocks().capacity() >= peak);
            CHECK((recycle ? recycled > 0 : recycled == 0));
            live.clear();
        }
        CHECK(tracked::constructed == tracked::destroyed);
        CHECK(upstream.live_blocks() == 0);
    }
}

} // namespace pmrkit::test
