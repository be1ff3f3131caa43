// SPDX-License-Identifier: MIT
// An upstream that records every allocate and deallocate call (size and alignment) it passes on
// to a checking_resource, for tests that check a resource's exact upstream traffic.
#pragma once

#include "support/checking_resource.hpp"

#include <cstddef>
#include <memory_resource>
#include <mutex>
#include <vector>

namespace pmrkit::test {

class call_log final : public std::pmr::memory_resource {
public:
    struct call {
        std::size_t bytes;
        std::size_t alignment;
        friend bool operator==(const call&, const call&) = default;
    };

    [[nodiscard]] std::vector<call> allocations() const {
        const std::lock_guard lock(m_mutex);
        return m_allocations;
    }
    [[nodiscard]] std::vector<call> deallocations() const {
        const std::lock_guard lock(m_mutex);
        return m_deallocations;
    }
    [[nodiscard]] checking_resource& checker() noexcept { return m_checker; }

private:
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        void* p = m_checker.allocate(bytes, alignment);
        const std::lock_guard lock(m_mutex);
        m_allocations.push_back({bytes, alignment});
        return p;
    }
    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        {
            const std::lock_guard lock(m_mutex);
            m_deallocations.push_back({bytes, alignment});
        }
        m_checker.deallocate(p, bytes, alignment);
    }
    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

    mutable std::mutex m_mutex;
    std::vector<call> m_allocations;
    std::vector<call> m_deallocations;
    checking_resource m_checker;
};

} // namespace pmrkit::test
