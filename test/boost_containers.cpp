// SPDX-License-Identifier: MIT
// pmrkit resources under Boost.Container: small_vector, flat_map, stable_vector and devector with
// std::pmr::polymorphic_allocator; boost::container::pmr::vector and flat_map through
// boost_resource_adaptor; a Boost pmr resource under std::pmr containers through
// std_resource_adaptor; and one pmrkit resource shared by std and Boost containers.
#include "pmrkit/boost/adaptor.hpp"
#include "pmrkit/fixed_block_resource.hpp"
#include "pmrkit/size_class_resource.hpp"
#include "pmrkit/decorators/test_resource.hpp"

#include <doctest/doctest.h>

#include <boost/container/devector.hpp>
#include <boost/container/flat_map.hpp>
#include <boost/container/pmr/flat_map.hpp>
#include <boost/container/pmr/string.hpp>
#include <boost/container/pmr/unsynchronized_pool_resource.hpp>
#include <boost/container/pmr/vector.hpp>
#include <boost/container/small_vector.hpp>
#include <boost/container/stable_vector.hpp>

#include <functional>
#include <map>
#include <memory_resource>
#include <string>
#include <utility>
#include <vector>

namespace pmrkit::test {
namespace {

template <class T>
using pmr_alloc = std::pmr::polymorphic_allocator<T>;

constexpr const char* long_text = "a string too long for the small-string buffer";

test_resource_options throwing_checks() { return {.on_error = error_action::throw_error}; }

// Builds a container on `pool` with `fill`, and checks that its memory came from there (a
// test_resource under the pool counts it and checks every deallocation) and all went back (after
// trim(), the pool holds nothing from upstream).
template <class Container, class Fill>
void check_allocates_from(test_resource& counted, size_class_resource& pool, Fill fill) {
    const std::size_t before = counted.allocations();
    std::pmr::memory_resource* resource = &pool;
    {
        // small_vector's allocator_type wraps the one it was given; the others are the same type.
        Container c(typename Container::allocator_type(pmr_alloc<typename Container::value_type>{
            resource}));
        fill(c);
        CHECK(c.get_allocator().resource() == resource);
        CHECK(counted.allocations() > before);
        CHECK(counted.live_blocks() > 0);
    }
    pool.trim();
    CHECK(counted.live_blocks() == 0);
    CHECK(counted.errors() == 0);
}

} // namespace

TEST_CASE("Boost containers with std::pmr::polymorphic_allocator over a pmrkit resource") {
    test_resource counted(throwing_checks(), std::pmr::new_delete_resource());
    size_class_resource pool(&counted);

    SUBCASE("small_vector: inline up to N, then from the resource") {
        using sv = boost::container::small_vector<int, 8, pmr_alloc<int>>;
        {
            sv inline_only(sv::allocator_type(pmr_alloc<int>{&pool}));
            inline_only.assign(8, 1);
            CHECK(counted.allocations() == 0); // eight ints fit inline
        }
        check_allocates_from<sv>(counted, pool, [](sv& v) {
            for (int i = 0; i < 100; ++i) {
                v.push_back(i);
            }
            CHECK(v[99] == 99);
        });
    }
    SUBCASE("flat_map: one sorted buffer; mapped pmr::strings need the resource given") {
        using fm = boost::container::flat_map<int, std::pmr::string, std::less<>,
                                              pmr_alloc<std::pair<int, std::pmr::string>>>;
        check_allocates_from<fm>(counted, pool, [&](fm& m) {
            for (int i = 0; i < 50; ++i) {
                m.emplace(50 - i, std::pmr::string(long_text, &pool));
            }
            CHECK(m.begin()->first == 1);
            CHECK(m.at(7).get_allocator().resource() == &pool);
            // Boost 1.81's flat_map::emplace builds the pair outside the buffer and moves it in,
            // so std's uses-allocator construction never reaches the mapped string: built from
            // the bare text, it lands on the default resource (docs/guide.md's pitfalls say so).
            m.emplace(100, long_text);
            CHECK(m.at(100).get_allocator().resource() == std::pmr::get_default_resource());
        });
    }
    SUBCASE("stable_vector: one node per element, stable addresses") {
        using stv = boost::container::stable_vector<std::pmr::string, pmr_alloc<std::pmr::string>>;
        check_allocates_from<stv>(counted, pool, [&](stv& v) {
            v.emplace_back(long_text);
            const std::pmr::string* first = &v.front();
            for (int i = 0; i < 100; ++i) {
                v.emplace_back(long_text);
            }
            CHECK(&v.front() == first);
            CHECK(v.back().get_allocator().resource() == &pool);
        });
    }
    SUBCASE("devector: growth at both ends") {
        using dv = boost::container::devector<int, pmr_alloc<int>>;
        check_allocates_from<dv>(counted, pool, [](dv& v) {
            for (int i = 0; i < 100; ++i) {
                v.push_front(-i);
                v.push_back(i);
            }
            CHECK(v.front() == -99);
            CHECK(v.back() == 99);
        });
    }
}

TEST_CASE("boost::container::pmr containers on a pmrkit resource through boost_resource_adaptor") {
    test_resource counted(throwing_checks(), std::pmr::new_delete_resource());
    fixed_block_resource pool({.block_size = 256}, &counted);
    boost_resource_adaptor adaptor(pool);
    {
        boost::container::pmr::flat_map<int, boost::container::pmr::string> m(&adaptor);
        boost::container::pmr::vector<int> v(&adaptor);
        for (int i = 0; i < 100; ++i) {
            // try_emplace builds the mapped string in the buffer (emplace would build the pair in a
            // temporary first, where g++ 12 -O2 raises a false -Warray-bounds inside Boost).
            m.try_emplace(i, long_text);
            v.push_back(i);
        }
        CHECK(m.at(42) == long_text);
        // Boost's uses-allocator construction hands the adaptor to the mapped strings too.
        CHECK(m.at(42).get_allocator().resource() == &adaptor);
        CHECK(pool.blocks_in_use() > 0);
        CHECK(pool.oversize_blocks() > 0); // the growing buffers pass through to upstream
    }
    CHECK(pool.blocks_in_use() == 0);
    CHECK(pool.oversize_blocks() == 0);
    CHECK(counted.errors() == 0);
}

TEST_CASE("std::pmr containers on a Boost pmr resource through std_resource_adaptor") {
    test_resource counted(throwing_checks(), std::pmr::new_delete_resource());
    boost_resource_adaptor to_boost(counted);
    {
        boost::container::pmr::unsynchronized_pool_resource boost_pool(&to_boost);
        std_resource_adaptor from_boost(boost_pool);
        std::pmr::map<int, std::pmr::string> m(&from_boost);
        for (int i = 0; i < 100; ++i) {
            m.emplace(i, long_text);
        }
        CHECK(m.at(3).get_allocator().resource() == &from_boost);
        CHECK(counted.allocations() > 0); // the Boost pool took its chunks from the test resource
    }
    CHECK(counted.live_blocks() == 0);
    CHECK(counted.errors() == 0);
}

TEST_CASE("one pmrkit resource serves std and Boost containers alike") {
    test_resource counted(throwing_checks(), std::pmr::new_delete_resource());
    size_class_resource pool(&counted);
    boost_resource_adaptor adaptor(pool);
    {
        std::pmr::vector<std::pmr::string> names(&pool);
        using tag_vector =
            boost::container::small_vector<std::pmr::string, 4, pmr_alloc<std::pmr::string>>;
        tag_vector tags(tag_vector::allocator_type(pmr_alloc<std::pmr::string>{&pool}));
        boost::container::pmr::flat_map<int, int> index(&adaptor);
        for (int i = 0; i < 64; ++i) {
            names.emplace_back(long_text);
            tags.emplace_back(long_text);
            index.emplace(i, i * i);
        }
        CHECK(names.back().get_allocator().resource() == &pool);
        CHECK(tags.back().get_allocator().resource() == &pool);
        CHECK(index.at(8) == 64);
        // Every byte the three took is in the pool's spans: nothing came from anywhere else.
        CHECK(counted.live_blocks() > 0);
        CHECK(counted.live_bytes() == pool.upstream_bytes());
    }
    pool.release();
    CHECK(counted.live_blocks() == 0);
}

} // namespace pmrkit::test
