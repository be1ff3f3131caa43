// SPDX-License-Identifier: MIT
// The std::pmr::polymorphic_allocator pitfalls docs/guide.md names, each shown happening:
// copies do not propagate the resource, a resource must outlive its containers, and a temporary
// string pushed into a container allocates from the default resource first.
#include "pmrkit/fixed_block_resource.hpp"
#include "pmrkit/decorators/test_resource.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <memory_resource>
#include <new>
#include <optional>
#include <string>
#include <vector>

namespace pmrkit::test {
namespace {

constexpr const char* long_text = "a string too long for the small-string buffer";

// Makes `resource` the default for one scope, so a test sees what allocates from the default.
class default_resource_guard {
public:
    explicit default_resource_guard(std::pmr::memory_resource* resource)
        : m_previous(std::pmr::set_default_resource(resource)) {}
    default_resource_guard(const default_resource_guard&) = delete;
    default_resource_guard& operator=(const default_resource_guard&) = delete;
    ~default_resource_guard() { std::pmr::set_default_resource(m_previous); }

private:
    std::pmr::memory_resource* m_previous;
};

} // namespace

TEST_CASE("pitfall: copy-assignment and copy construction do not propagate the resource") {
    fixed_block_resource pool_a;
    fixed_block_resource pool_b;
    std::pmr::vector<int> a({1, 2, 3}, &pool_a);
    std::pmr::vector<int> b(&pool_b);

    b = a; // copies the elements into pool_b: the target keeps its resource
    CHECK(b == a);
    CHECK(b.get_allocator().resource() == &pool_b);

    // A copy-constructed container gets the *default* resource, not the source's.
    const std::pmr::vector<int> copy(a);
    CHECK(copy.get_allocator().resource() == std::pmr::get_default_resource());
    CHECK(copy.get_allocator().resource() != &pool_a);
    // To keep the resource, say so.
    const std::pmr::vector<int> same_pool(a, &pool_a);
    CHECK(same_pool.get_allocator().resource() == &pool_a);

    // Move-assignment between different resources cannot steal the buffer: it copies.
    const int* buffer = a.data();
    b = std::move(a);
    CHECK(b.get_allocator().resource() == &pool_b);
    CHECK(b.data() != buffer);
}

TEST_CASE("pitfall: a resource destroyed before its container leaves the container dangling") {
    // The safe order: declare the resource first, so it is destroyed last. The wrong order is
    // shown with a test_resource, which reports the blocks still live when it dies (and gives them
    // back), instead of the undefined behaviour of the container later freeing into a dead object.
    std::vector<allocation_error_kind> reported;
    std::optional<test_resource> resource;
    resource.emplace(test_resource_options{
        .on_error = error_action::call_handler,
        .handler = [&](const allocation_error& e) { reported.push_back(e.kind()); }});

    // The container lives in raw storage so that its destructor, which would free into the dead
    // resource, is never run.
    alignas(std::pmr::vector<int>) std::byte storage[sizeof(std::pmr::vector<int>)];
    auto* numbers = ::new (storage) std::pmr::vector<int>(&*resource);
    numbers->assign(100, 7);
    CHECK(resource->live_blocks() == 1);

    resource.reset(); // the mistake: the resource goes first
    REQUIRE(reported.size() == 1);
    CHECK(reported.front() == allocation_error_kind::leak);
}

TEST_CASE("pitfall: push_back of a temporary string allocates from the default resource first") {
    test_resource default_counted(std::pmr::new_delete_resource());
    default_resource_guard guard(&default_counted);
    fixed_block_resource pool({.block_size = 128}, std::pmr::new_delete_resource());
    std::pmr::vector<std::pmr::string> strings(&pool);
    strings.reserve(4);

    // The temporary is built on the default resource; the element, built with the vector's
    // allocator, cannot take its buffer (the resources differ), so the text is copied again.
    strings.push_back(std::pmr::string(long_text));
    CHECK(default_counted.allocations() == 1);
    CHECK(strings.back().get_allocator().resource() == &pool);

    // emplace_back builds the element in place with the vector's allocator: no default traffic.
    strings.emplace_back(long_text);
    // So does a temporary that was given the container's resource.
    strings.push_back(std::pmr::string(long_text, &pool));
    CHECK(default_counted.allocations() == 1);
    CHECK(default_counted.live_blocks() == 0);
}

} // namespace pmrkit::test
