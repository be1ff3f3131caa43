// SPDX-License-Identifier: MIT
// The checking upstream of the conformance suite and of the per-resource tests: a
// pmrkit::test_resource whose every detection (foreign pointer, double free, size or alignment
// mismatch, overrun, write after free, leak at destruction) fails the running doctest test. It
// can also be told to throw on the next allocations, to test that resources propagate upstream
// exceptions.
#pragma once

#include "pmrkit/decorators/test_resource.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <memory_resource>
#include <string>

namespace pmrkit::test {

// Thrown when failure injection is armed: derived from std::bad_alloc, so that resources must
// propagate it unchanged (a resource that catches and rethrows bad_alloc would turn it into the
// base type).
using injected_bad_alloc = pmrkit::injected_bad_alloc;

class checking_resource final : public std::pmr::memory_resource {
public:
    explicit checking_resource(
        std::pmr::memory_resource* upstream = std::pmr::new_delete_resource())
        : m_checker(
              test_resource_options{
                  .on_error = error_action::call_handler,
                  .handler = [](const allocation_error& e) { FAIL_CHECK(std::string(e.what())); }},
              upstream) {}
    checking_resource(const checking_resource&) = delete;
    checking_resource& operator=(const checking_resource&) = delete;
    ~checking_resource() override = default;

    // The next `count` allocations throw injected_bad_alloc (count = 0 disarms).
    void fail_next(std::size_t count) noexcept { m_checker.fail_allocation(1, count); }

    [[nodiscard]] std::size_t live_blocks() const { return m_checker.live_blocks(); }
    [[nodiscard]] std::size_t live_bytes() const { return m_checker.live_bytes(); }
    [[nodiscard]] std::size_t allocations() const { return m_checker.allocations(); }
    [[nodiscard]] std::size_t deallocations() const { return m_checker.deallocations(); }
    [[nodiscard]] std::size_t last_bytes() const { return m_checker.last_bytes(); }
    [[nodiscard]] std::size_t last_alignment() const { return m_checker.last_alignment(); }
    [[nodiscard]] test_resource& checker() noexcept { return m_checker; }

private:
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        return m_checker.allocate(bytes, alignment);
    }
    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        m_checker.deallocate(p, bytes, alignment);
    }
    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

    test_resource m_checker;
};

} // namespace pmrkit::test
