// SPDX-License-Identifier: MIT
#pragma once

#include "pmrkit/detail/config.hpp"
#include "pmrkit/resource_stats.hpp"

#include <cstddef>
#include <memory_resource>
#include <new>

namespace pmrkit {

/// Thrown by limit_resource when a request would take the bytes in use past the limit. A
/// std::bad_alloc, so code that handles exhaustion handles it; it says by how much.
class limit_exceeded : public std::bad_alloc {
public:
    /// The refused request's bytes, the bytes in use then, and the limit.
    limit_exceeded(std::size_t requested, std::size_t in_use, std::size_t limit) noexcept
        : m_requested(requested), m_in_use(in_use), m_limit(limit) {}
    /// A fixed "pmrkit::limit_exceeded"; the figures are in the members below.
    [[nodiscard]] const char* what() const noexcept override { return "pmrkit::limit_exceeded"; }
    /// Bytes of the refused request.
    [[nodiscard]] std::size_t requested() const noexcept { return m_requested; }
    /// Bytes in use through the limit_resource when it refused.
    [[nodiscard]] std::size_t in_use() const noexcept { return m_in_use; }
    /// The limit when it refused.
    [[nodiscard]] std::size_t limit() const noexcept { return m_limit; }

private:
    std::size_t m_requested;
    std::size_t m_in_use;
    std::size_t m_limit;
};

/// limit_resource: a budget on the bytes in use through it, e.g. a per-request memory budget in a
/// server (one limit_resource per request, over the shared pool). A request that would take the
/// bytes in use past limit() throws limit_exceeded and does not reach upstream; memory freed makes
/// room again. The limit can be raised or lowered at any time; lowered below what is in use, every
/// allocation (even of zero bytes) fails until enough is freed.
///
/// Bytes are the requested bytes (a pool below may round them up). O(1); never allocates itself;
/// upstream exceptions propagate unchanged and leave the count as it was.
/// Thread safety: none; one thread at a time per instance (a per-request budget is naturally
/// owned by one thread).
///
/// Example:
///
///     pmrkit::limit_resource budget(64 * 1024, &pool);
///     std::pmr::string body(&budget);
///     try { read_body(body); } catch (const pmrkit::limit_exceeded&) { reply_413(); }
class limit_resource final : public std::pmr::memory_resource {
public:
    /// A budget of limit_bytes over `upstream`. Takes no memory.
    explicit limit_resource(std::size_t limit_bytes, std::pmr::memory_resource* upstream =
                                                         std::pmr::get_default_resource()) noexcept
        : m_limit(limit_bytes), m_upstream(upstream) {}

    limit_resource(const limit_resource&) = delete;
    limit_resource& operator=(const limit_resource&) = delete;
    ~limit_resource() override = default;

    /// Raises or lowers the limit; blocks in use are never taken back (see the class comment).
    void set_limit(std::size_t limit_bytes) noexcept { m_limit = limit_bytes; }
    /// The budget in bytes.
    [[nodiscard]] std::size_t limit() const noexcept { return m_limit; }
    /// Requested bytes allocated and not yet deallocated.
    [[nodiscard]] std::size_t bytes_in_use() const noexcept { return m_in_use; }
    /// Most bytes in use at once since construction.
    [[nodiscard]] std::size_t peak_bytes_in_use() const noexcept { return m_peak; }
    /// Bytes that can still be allocated (0 when the limit was lowered below the use).
    [[nodiscard]] std::size_t remaining() const noexcept {
        return m_in_use < m_limit ? m_limit - m_in_use : 0;
    }
    /// Requests refused for the limit since construction.
    [[nodiscard]] std::size_t refused() const noexcept { return m_refused; }

    /// The resource every request that fits the budget goes to.
    [[nodiscard]] std::pmr::memory_resource* upstream_resource() const noexcept {
        return m_upstream;
    }
    /// The snapshot in the common shape: bytes in use, their peak, and refused requests as
    /// failed_allocations.
    [[nodiscard]] resource_stats stats() const noexcept;

private:
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        if (m_in_use > m_limit || bytes > m_limit - m_in_use) [[unlikely]] {
            refuse(bytes);
        }
        void* p = m_upstream->allocate(bytes, alignment);
        m_in_use += bytes;
        if (m_in_use > m_peak) {
            m_peak = m_in_use;
        }
        return p;
    }

    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        m_in_use -= bytes;
        m_upstream->deallocate(p, bytes, alignment);
    }

    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

    [[noreturn]] PMRKIT_NOINLINE void refuse(std::size_t bytes);

    std::size_t m_limit;
    std::size_t m_in_use = 0;
    std::size_t m_peak = 0;
    std::size_t m_refused = 0;
    std::pmr::memory_resource* m_upstream;
};

} // namespace pmrkit
