// SPDX-License-Identifier: MIT
// The Boost adaptors in both directions, and Boost.JSON parsing into an arena through them.
// (The round trip std -> Boost -> std also runs the conformance suite: conformance_fixtures.hpp.)
#include "pmrkit/boost/adaptor.hpp"
#include "pmrkit/boost/json.hpp"
#include "pmrkit/fixed_block_resource.hpp"
#include "support/checking_resource.hpp"

#include <doctest/doctest.h>

#include <boost/container/pmr/global_resource.hpp>
#include <boost/container/pmr/vector.hpp>
#include <boost/json.hpp>

#include <string>
#include <type_traits>

namespace pmrkit::test {

static_assert(std::is_final_v<boost_resource_adaptor>);
static_assert(std::is_final_v<std_resource_adaptor>);
static_assert(boost::json::is_deallocate_trivial<boost_json_arena>::value);
static_assert(!boost::json::is_deallocate_trivial<boost_resource_adaptor>::value);

TEST_CASE("boost_resource_adaptor: passes size and alignment through unchanged") {
    checking_resource upstream;
    boost_resource_adaptor adaptor(upstream);
    CHECK(&adaptor.resource() == &upstream);
    void* p = adaptor.allocate(100, 64);
    CHECK(upstream.last_bytes() == 100);
    CHECK(upstream.last_alignment() == 64);
    adaptor.deallocate(p, 100, 64); // checking_resource fails on any mismatch
    {
        boost::container::pmr::vector<int> v(&adaptor);
        for (int i = 0; i < 1000; ++i) {
            v.push_back(i);
        }
        CHECK(v[999] == 999);
        CHECK(upstream.live_blocks() == 1);
    }
    CHECK(upstream.live_blocks() == 0);
    CHECK(upstream.allocations() > 2);
}

TEST_CASE("std_resource_adaptor: passes size and alignment through, round trip included") {
    checking_resource upstream;
    boost_resource_adaptor to_boost(upstream);
    std_resource_adaptor back(to_boost);
    CHECK(&back.resource() == &to_boost);
    void* p = back.allocate(3000, 4096);
    CHECK(upstream.last_bytes() == 3000);
    CHECK(upstream.last_alignment() == 4096);
    CHECK(reinterpret_cast<std::uintptr_t>(p) % 4096 == 0);
    back.deallocate(p, 3000, 4096);

    std_resource_adaptor boost_heap(*boost::container::pmr::new_delete_resource());
    std::pmr::vector<std::pmr::string> strings(&boost_heap);
    strings.emplace_back("through Boost's new_delete_resource and back to std::pmr");
    CHECK(strings[0].get_allocator().resource() == &boost_heap);
}

TEST_CASE("adaptors: equal when the wrapped resources are equal") {
    checking_resource a;
    checking_resource b;
    boost_resource_adaptor a1(a);
    boost_resource_adaptor a2(a);
    boost_resource_adaptor b1(b);
    CHECK(a1.is_equal(a2));
    CHECK_FALSE(a1.is_equal(b1));
    CHECK_FALSE(a1.is_equal(*boost::container::pmr::new_delete_resource()));
    // Adaptors of two types over one resource: the typed one calls it directly, nothing else.
    basic_boost_resource_adaptor<checking_resource> typed(a);
    basic_boost_resource_adaptor<checking_resource> typed_b(b);
    CHECK(typed.is_equal(a1));
    CHECK(a1.is_equal(typed));
    CHECK_FALSE(typed_b.is_equal(a1));
    CHECK_FALSE(a1.is_equal(typed_b));
    std_resource_adaptor s1(a1);
    std_resource_adaptor s2(a2);
    std_resource_adaptor s3(b1);
    CHECK(s1.is_equal(s2));
    CHECK_FALSE(s1.is_equal(s3));
    CHECK_FALSE(s1.is_equal(a));
}

TEST_CASE("boost_json_arena: Boost.JSON parses into an arena; the next parse takes nothing") {
    const std::string text = R"({"name":"pmrkit","tags":["arena","json","a string longer than )"
                             R"(the small buffer"],"sizes":[1,2,3.5,-4e10],"nested":{"ok":true,)"
                             R"("none":null}})";
    checking_resource upstream;
    arena_resource arena({.first_chunk_size = 512}, &upstream);
    boost_json_arena json_memory(arena);
    std::size_t calls_after_first = 0;
    for (int parse = 0; parse < 3; ++parse) {
        {
            boost::json::stream_parser parser;
            parser.reset(&json_memory);
            parser.write(text);
            const boost::json::value v = parser.release();
            CHECK(v.storage().is_deallocate_trivial());
            CHECK(v.storage().get() == &json_memory);
            CHECK(v.at("name").as_string() == "pmrkit");
            CHECK(v.at("tags").as_array().size() == 3);
            CHECK(v.at("sizes").as_array()[2].as_double() == 3.5);
            CHECK(v.at("nested").at("ok").as_bool());
            CHECK(v == boost::json::parse(text));
            CHECK(arena.bytes_used() > 0);
        }
        arena.reset();
        if (parse == 0) {
            calls_after_first = upstream.allocations();
            CHECK(calls_after_first > 0);
        } else {
            CHECK(upstream.allocations() == calls_after_first);
        }
    }
}

} // namespace pmrkit::test
