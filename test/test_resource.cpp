// SPDX-License-Identifier: MIT
// test_resource: every detection fires with a message naming the pointer, size and alignment
// (captured through the handler action), failure injection, and exception_test on standard
// containers and on a deliberately leaky function.
#include "pmrkit/decorators/test_resource.hpp"
#include "support/checking_resource.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <limits>
#include <map>
#include <memory_resource>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace pmrkit::test {
namespace {

std::string text(const void* p) {
    std::ostringstream out;
    out << p;
    return std::move(out).str();
}

// A test_resource over a checking upstream whose errors are collected instead of aborting.
struct capturing {
    explicit capturing(test_resource_options options = {}) {
        options.on_error = error_action::call_handler;
        options.handler = [this](const allocation_error& e) { errors.push_back(e); };
        resource.emplace(std::move(options), &upstream);
    }
    test_resource& operator*() { return *resource; }
    test_resource* operator->() { return &*resource; }

    // The one error expected, of the expected kind, whose message names every fragment.
    void expect_one(allocation_error_kind kind, const std::vector<std::string>& fragments) {
        REQUIRE(errors.size() == 1);
        CHECK(errors.front().kind() == kind);
        const std::string message = errors.front().what();
        for (const std::string& fragment : fragments) {
            CHECK_MESSAGE(message.find(fragment) != std::string::npos,
                          '"' << fragment << "\" missing from: " << message);
        }
        errors.clear();
    }

    checking_resource upstream;
    std::vector<allocation_error> errors;
    std::optional<test_resource> resource;
};

} // namespace

static_assert(std::is_final_v<test_resource>);
static_assert(!std::is_copy_constructible_v<test_resource>);
static_assert(std::is_base_of_v<std::bad_alloc, injected_bad_alloc>);

TEST_CASE("test_resource: a clean run reports nothing and returns every byte upstream") {
    capturing tr;
    {
        std::pmr::vector<std::pmr::string> v(&*tr);
        for (int i = 0; i < 100; ++i) {
            v.emplace_back(std::string(50, 'x'));
        }
        CHECK(tr->live_blocks() > 0);
    }
    CHECK(tr->check() == 0);
    CHECK(tr->live_blocks() == 0);
    CHECK(tr->live_bytes() == 0);
    CHECK(tr->allocations() == tr->deallocations());
    CHECK(tr.errors.empty());
    CHECK(tr->errors() == 0);
}

TEST_CASE("test_resource: new blocks are filled, freed blocks scribbled, guards around both") {
    capturing tr;
    auto* p = static_cast<unsigned char*>(tr->allocate(24, 8));
    CHECK(p[0] == 0xCA);
    CHECK(p[23] == 0xCA);
    CHECK(p[-1] == 0xB6);
    CHECK(p[24] == 0xB6);
    CHECK(tr->last_bytes() == 24);
    CHECK(tr->last_alignment() == 8);
    tr->deallocate(p, 24, 8);
    // The block is in quarantine, still held from upstream: reading it is defined here.
    for (std::size_t i = 0; i < 24; ++i) {
        REQUIRE(p[i] == 0xA5);
    }
    CHECK(tr.errors.empty());
}

TEST_CASE("test_resource: deallocate of a foreign pointer is reported, not passed upstream") {
    capturing tr;
    int local = 0;
    tr->deallocate(&local, sizeof local, alignof(int));
    tr.expect_one(allocation_error_kind::unknown_pointer,
                  {text(&local), "4 bytes", "alignment 4", "never allocated"});
    CHECK(tr.upstream.deallocations() == 0);
}

TEST_CASE("test_resource: a double free is named as such while the block is in quarantine") {
    capturing tr;
    void* p = tr->allocate(32, 8);
    tr->deallocate(p, 32, 8);
    tr->deallocate(p, 32, 8);
    tr.expect_one(allocation_error_kind::double_free,
                  {"double free", text(p), "32 bytes", "alignment 8", "allocation #1"});
    CHECK(tr->errors() == 1);
}

TEST_CASE("test_resource: a double free after the quarantine is an unknown pointer") {
    capturing tr({.quarantine_blocks = 0});
    void* p = tr->allocate(32, 8);
    tr->deallocate(p, 32, 8);
    CHECK(tr.upstream.live_blocks() <= 2); // only bookkeeping is left upstream
    tr->deallocate(p, 32, 8);
    tr.expect_one(allocation_error_kind::unknown_pointer, {text(p), "32 bytes", "alignment 8"});
}

TEST_CASE("test_resource: a size mismatch is reported and the block freed as allocated") {
    capturing tr;
    void* p = tr->allocate(48, 16);
    tr->deallocate(p, 40, 16);
    tr.expect_one(allocation_error_kind::size_mismatch,
                  {"size mismatch", text(p), "40 bytes", "48 bytes", "alignment 16"});
    CHECK(tr->live_blocks() == 0);
    CHECK(tr->live_bytes() == 0);
}

TEST_CASE("test_resource: an alignment mismatch is reported") {
    capturing tr;
    void* p = tr->allocate(64, 64);
    tr->deallocate(p, 64, 16);
    tr.expect_one(allocation_error_kind::alignment_mismatch,
                  {"alignment mismatch", text(p), "64 bytes", "alignment 16", "alignment 64"});
    CHECK(tr->live_blocks() == 0);
}

TEST_CASE("test_resource: a write before the block is caught on deallocate") {
    capturing tr;
    auto* p = static_cast<char*>(tr->allocate(20, 4));
    p[-3] = 'x';
    tr->deallocate(p, 20, 4);
    tr.expect_one(allocation_error_kind::overrun_before,
                  {"overrun before", text(p), "20 bytes", "alignment 4", "offset -3"});
}

TEST_CASE("test_resource: a write past the end is caught by check() and on deallocate") {
    capturing tr;
    auto* p = static_cast<char*>(tr->allocate(20, 4));
    p[20] = 'x';
    CHECK(tr->check() == 1);
    tr.expect_one(allocation_error_kind::overrun_after,
                  {"overrun after", text(p), "20 bytes", "alignment 4", "offset 20"});
    tr->deallocate(p, 20, 4);
    tr.expect_one(allocation_error_kind::overrun_after, {text(p), "20 bytes"});
}

TEST_CASE("test_resource: a write into a freed block is caught by check() and on eviction") {
    capturing tr({.quarantine_blocks = 2});
    auto* p = static_cast<char*>(tr->allocate(100, 8));
    tr->deallocate(p, 100, 8);
    p[50] = 'x'; // still held in quarantine, so the write lands in memory the resource owns
    CHECK(tr->check() == 1);
    tr.expect_one(allocation_error_kind::write_after_free,
                  {"write after free", text(p), "100 bytes", "alignment 8", "offset 50"});
    // Two more frees push it out of the two-block quarantine.
    for (int i = 0; i < 2; ++i) {
        tr->deallocate(tr->allocate(8, 8), 8, 8);
    }
    tr.expect_one(allocation_error_kind::write_after_free, {text(p), "100 bytes", "offset 50"});
}

TEST_CASE("test_resource: leaks are reported at destruction with count, bytes, first offenders") {
    capturing tr({.leaks_listed = 2});
    void* first = tr->allocate(10, 2);
    void* second = tr->allocate(20, 4);
    void* third = tr->allocate(30, 8);
    tr->deallocate(tr->allocate(1, 1), 1, 1);
    tr.resource.reset();
    REQUIRE(tr.errors.size() == 1);
    const std::string message = tr.errors.front().what();
    CHECK(tr.errors.front().pointer() == first);
    CHECK_MESSAGE(message.find(text(third)) == std::string::npos, "only 2 are named: " << message);
    tr.expect_one(allocation_error_kind::leak,
                  {"3 blocks (60 bytes) leaked", text(first), "10 bytes, alignment 2", text(second),
                   "20 bytes, alignment 4", "and 1 more"});
    // The leaked blocks went back upstream: the checking upstream's destructor finds nothing.
    CHECK(tr.upstream.live_blocks() == 0);
}

TEST_CASE("test_resource: the throw action throws allocation_error and keeps the state sound") {
    checking_resource upstream;
    test_resource tr({.on_error = error_action::throw_error}, &upstream);
    void* p = tr.allocate(16, 8);
    try {
        tr.deallocate(p, 8, 8);
        FAIL("no allocation_error");
    } catch (const allocation_error& e) {
        CHECK(e.kind() == allocation_error_kind::size_mismatch);
        CHECK(e.pointer() == p);
    }
    CHECK(tr.live_blocks() == 0);
    int local = 0;
    CHECK_THROWS_AS(tr.deallocate(&local, 4, 4), allocation_error);
}

TEST_CASE("test_resource: the n-th allocation from now fails, as many times as asked") {
    capturing tr;
    tr->fail_allocation(3);
    void* a = tr->allocate(8);
    void* b = tr->allocate(8);
    CHECK_THROWS_AS((void)tr->allocate(8), injected_bad_alloc);
    void* c = tr->allocate(8); // one failure only
    tr->fail_allocation(1, 2);
    CHECK_THROWS_AS((void)tr->allocate(8), injected_bad_alloc);
    CHECK_THROWS_AS((void)tr->allocate(8), std::bad_alloc);
    void* d = tr->allocate(8);
    tr->fail_allocation(1);
    tr->fail_allocation(0); // disarmed
    void* e = tr->allocate(8);
    for (void* p : {a, b, c, d, e}) {
        tr->deallocate(p, 8);
    }
    CHECK(tr->allocations() == 5);
    CHECK(tr->stats().failed_allocations == 3);
}

TEST_CASE("test_resource: impossible requests throw std::bad_alloc") {
    capturing tr;
    // volatile: the compilers must not see the impossible requests (they warn about them).
    volatile std::size_t max = std::numeric_limits<std::size_t>::max();
    volatile std::size_t not_a_power_of_two = 24;
    CHECK_THROWS_AS((void)tr->allocate(64, not_a_power_of_two), std::bad_alloc);
    CHECK_THROWS_AS((void)tr->allocate(max, 8), std::bad_alloc);
    CHECK(tr.upstream.allocations() == 0);
}

TEST_CASE("exception_test: std::pmr::vector<std::pmr::string> operations are exception-safe") {
    capturing tr;
    const std::size_t runs = exception_test(*tr, [&] {
        std::pmr::vector<std::pmr::string> v(&*tr);
        for (int i = 0; i < 20; ++i) {
            v.emplace_back(40, static_cast<char>('a' + i));
        }
        v.insert(v.begin() + 3, std::pmr::string(100, 'z', &*tr));
        v.erase(v.begin());
        std::pmr::vector<std::pmr::string> copy(v, &*tr);
        CHECK(copy.size() == 20);
    });
    CHECK(runs > 20); // a failure was injected at every allocation the operations make
    CHECK(tr.errors.empty());
    CHECK(tr->live_blocks() == 0);
}

TEST_CASE("exception_test: std::pmr::map operations are exception-safe") {
    capturing tr;
    const std::size_t runs = exception_test(*tr, [&] {
        std::pmr::map<int, std::pmr::string> m(&*tr);
        for (int i = 0; i < 30; ++i) {
            m.emplace(i, std::pmr::string(32, 'v'));
        }
        m.erase(7);
        m[100] = "a string long enough to leave the small-string buffer";
        std::pmr::map<int, std::pmr::string> copy(m, &*tr);
        CHECK(copy.size() == 30);
    });
    CHECK(runs > 60);
    CHECK(tr.errors.empty());
}

TEST_CASE("exception_test: a function that leaks on exception is caught") {
    capturing tr;
    std::vector<std::pair<void*, std::size_t>> leaked;
    // Takes two blocks and frees the first only if the second succeeds: not exception-safe.
    const auto leaky = [&] {
        void* first = tr->allocate(24, 8);
        leaked.emplace_back(first, 24);
        void* second = tr->allocate(56, 8);
        tr->deallocate(second, 56, 8);
        tr->deallocate(first, 24, 8);
        leaked.pop_back();
    };
    CHECK(exception_test(*tr, leaky) == 3);
    REQUIRE(leaked.size() == 1);
    tr.expect_one(allocation_error_kind::exception_leak,
                  {"injected failure of allocation 2", "1 block (24 bytes) leaked",
                   text(leaked.front().first), "24 bytes, alignment 8"});
    tr->deallocate(leaked.front().first, 24, 8);
}

TEST_CASE("exception_test: other exceptions propagate and disarm the injection") {
    capturing tr;
    CHECK_THROWS_AS(exception_test(*tr, [] { throw std::runtime_error("not an allocation"); }),
                    std::runtime_error);
    tr->deallocate(tr->allocate(8), 8);
    CHECK(exception_test(*tr, [] {}) == 1);
}

TEST_CASE("test_resource: its statistics are in the common shape") {
    capturing tr;
    void* p = tr->allocate(100, 32);
    tr->deallocate(tr->allocate(50, 8), 50, 8);
    const resource_stats s = tr->stats();
    CHECK(s.allocations == 2);
    CHECK(s.deallocations == 1);
    CHECK(s.blocks_in_use == 1);
    CHECK(s.bytes_in_use == 100);
    CHECK(s.peak_bytes_in_use == 150);
    CHECK(s.total_bytes == 150);
    CHECK(s.upstream_allocations == 2);
    CHECK(s.upstream_deallocations == 0); // the freed block is in quarantine
    CHECK(to_json(s).find("\"resource\": \"test_resource\"") != std::string::npos);
    tr->deallocate(p, 100, 32);
}

TEST_CASE("test_resource: allocate and deallocate from two threads at once") {
    capturing tr;
    const auto work = [&tr] {
        for (int i = 0; i < 2000; ++i) {
            void* p = tr->allocate(static_cast<std::size_t>(i % 200), 16);
            tr->deallocate(p, static_cast<std::size_t>(i % 200), 16);
        }
    };
    std::thread other(work);
    work();
    other.join();
    CHECK(tr->allocations() == 4000);
    CHECK(tr->deallocations() == 4000);
    CHECK(tr->live_blocks() == 0);
    CHECK(tr.errors.empty());
}

} // namespace pmrkit::test
