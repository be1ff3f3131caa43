// SPDX-License-Identifier: MIT
// limit_resource: the cap, what a refusal looks like, room made by freeing, the limit changed at
// run time, and upstream failures leaving the count untouched.
#include "pmrkit/decorators/limit_resource.hpp"
#include "support/checking_resource.hpp"

#include <doctest/doctest.h>

#include <memory_resource>
#include <string>
#include <type_traits>
#include <vector>

namespace pmrkit::test {

static_assert(std::is_final_v<limit_resource>);
static_assert(std::is_base_of_v<std::bad_alloc, limit_exceeded>);

TEST_CASE("limit_resource: past the cap allocate throws limit_exceeded and upstream is not asked") {
    checking_resource upstream;
    limit_resource limit(1000, &upstream);
    void* a = limit.allocate(600, 8);
    void* b = limit.allocate(400, 8); // exactly at the cap
    CHECK(limit.bytes_in_use() == 1000);
    CHECK(limit.remaining() == 0);
    try {
        (void)limit.allocate(1, 1);
        FAIL("no limit_exceeded");
    } catch (const limit_exceeded& e) {
        CHECK(e.requested() == 1);
        CHECK(e.in_use() == 1000);
        CHECK(e.limit() == 1000);
    }
    CHECK(upstream.allocations() == 2);
    CHECK(limit.refused() == 1);
    limit.deallocate(a, 600, 8);
    void* c = limit.allocate(600, 8); // freeing made room
    CHECK(limit.peak_bytes_in_use() == 1000);
    limit.deallocate(b, 400, 8);
    limit.deallocate(c, 600, 8);
    CHECK(limit.bytes_in_use() == 0);
}

TEST_CASE("limit_resource: the limit can be raised and lowered at run time") {
    checking_resource upstream;
    limit_resource limit(100, &upstream);
    void* a = limit.allocate(80);
    CHECK_THROWS_AS((void)limit.allocate(80), limit_exceeded);
    limit.set_limit(200);
    void* b = limit.allocate(80);
    limit.set_limit(50); // below what is in use: everything fails until enough is freed
    CHECK(limit.remaining() == 0);
    CHECK_THROWS_AS((void)limit.allocate(0), std::bad_alloc);
    limit.deallocate(a, 80);
    limit.deallocate(b, 80);
    void* c = limit.allocate(50);
    CHECK(limit.limit() == 50);
    limit.deallocate(c, 50);
}

TEST_CASE("limit_resource: an upstream exception propagates and leaves the count as it was") {
    checking_resource upstream;
    limit_resource limit(1000, &upstream);
    upstream.fail_next(1);
    CHECK_THROWS_AS((void)limit.allocate(100), injected_bad_alloc);
    CHECK(limit.bytes_in_use() == 0);
    CHECK(limit.refused() == 0);
}

TEST_CASE("limit_resource: a per-request budget for a container") {
    checking_resource upstream;
    limit_resource budget(4096, &upstream);
    std::pmr::vector<std::pmr::string> lines(&budget);
    bool refused = false;
    try {
        for (int i = 0; i < 1000; ++i) {
            lines.emplace_back(100, 'x');
        }
    } catch (const limit_exceeded&) {
        refused = true;
    }
    CHECK(refused);
    CHECK(budget.bytes_in_use() <= 4096);
    CHECK(!lines.empty());
    lines = std::pmr::vector<std::pmr::string>(&budget);
    CHECK(budget.bytes_in_use() == 0);
    const resource_stats s = budget.stats();
    CHECK(s.failed_allocations == 1);
    // An optional compares with a number as if empty were the least value: both checks are needed.
    REQUIRE(s.peak_bytes_in_use.has_value());
    CHECK(*s.peak_bytes_in_use == budget.peak_bytes_in_use());
    CHECK(*s.peak_bytes_in_use > 0);
    CHECK(*s.peak_bytes_in_use <= 4096);
    CHECK(s.bytes_in_use == 0);
}

} // namespace pmrkit::test
