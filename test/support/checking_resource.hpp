// SPDX-License-Identifier: MIT
// The checking upstream of the conformance suite: records every (pointer, size, alignment) it
// hands out and fails the running test when a block comes back with another size or alignment,
// comes back twice, or was never handed out. It can also be told to throw on the next
// allocations, to test that resources propagate upstream exceptions.
#pragma once

#include <doctest/doctest.h>

#include <cstddef>
#include <map>
#include <memory_resource>
#include <new>

namespace pmrkit::test {

// Thrown by checking_resource when failure injection is armed: derived from std::bad_alloc so
// that resources must propagate it unchanged (a resource that catches and rethrows bad_alloc
// would turn it into the base type).
struct injected_bad_alloc : std::bad_alloc {
    [[nodiscard]] const char* what() const noexcept override { return "injected_bad_alloc"; }
};

class checking_resource final : public std::pmr::memory_resource {
public:
    explicit checking_resource(std::pmr::memory_resource* upstream = std::pmr::new_delete_resource())
        : m_upstream(upstream) {}
    checking_resource(const checking_resource&) = delete;
    checking_resource& operator=(const checking_resource&) = delete;
    ~checking_resource() override { CHECK_MESSAGE(m_live.empty(), "blocks leaked to upstream"); }

    // The next `count` allocations throw injected_bad_alloc (count = 0 disarms).
    void fail_next(std::size_t count) noexcept { m_failures_left = count; }

    [[nodiscard]] std::size_t live_blocks() const noexcept { return m_live.size(); }
    [[nodiscard]] std::size_t live_bytes() const noexcept { return m_live_bytes; }
    [[nodiscard]] std::size_t allocations() const noexcept { return m_allocations; }
    [[nodiscard]] std::size_t deallocations() const noexcept { return m_deallocations; }
    [[nodiscard]] std::size_t last_bytes() const noexcept { return m_last_bytes; }
    [[nodiscard]] std::size_t last_alignment() const noexcept { return m_last_alignment; }

private:
    struct shape {
        std::size_t bytes;
        std::size_t alignment;
    };

    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        if (m_failures_left > 0) {
            --m_failures_left;
            throw injected_bad_alloc();
        }
        void* p = m_upstream->allocate(bytes, alignment);
        m_live.emplace(p, shape{bytes, alignment});
        m_live_bytes += bytes;
        m_last_bytes = bytes;
        m_last_alignment = alignment;
        ++m_allocations;
        return p;
    }

    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        const auto it = m_live.find(p);
        REQUIRE_MESSAGE(it != m_live.end(), "deallocate of a pointer never handed out: " << p);
        CHECK_MESSAGE(it->second.bytes == bytes, "size mismatch at deallocate of " << p << ": got "
                                                     << bytes << ", allocated " << it->second.bytes);
        CHECK_MESSAGE(it->second.alignment == alignment,
                      "alignment mismatch at deallocate of " << p << ": got " << alignment
                                                             << ", allocated "
                                                             << it->second.alignment);
        m_live_bytes -= it->second.bytes;
        m_live.erase(it);
        ++m_deallocations;
        m_upstream->deallocate(p, bytes, alignment);
    }

    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

    std::pmr::memory_resource* m_upstream;
    std::map<void*, shape> m_live;
    std::size_t m_live_bytes = 0;
    std::size_t m_allocations = 0;
    std::size_t m_deallocations = 0;
    std::size_t m_failures_left = 0;
    std::size_t m_last_bytes = 0;
    std::size_t m_last_alignment = 0;
};

} // namespace pmrkit::test
