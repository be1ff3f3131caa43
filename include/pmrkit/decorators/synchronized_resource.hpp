// SPDX-License-Identifier: MIT
#pragma once

#include "pmrkit/resource_stats.hpp"

#include <concepts>
#include <cstddef>
#include <memory_resource>
#include <mutex>
#include <utility>

namespace pmrkit {

/// synchronized_resource<R, Mutex>: any resource R behind one lock, so that several threads may
/// share it. The simple answer when contention is low (a few threads allocating now and then); for
/// many threads allocating all the time, concurrent_pool_resource scales and this does not.
///
/// R is constructed in place from the constructor's arguments and used only under the lock; the
/// memory R takes from its upstream is therefore also requested under the lock (the upstream need
/// not be thread-safe unless shared with something else). Mutex is any type with lock() and
/// unlock() (std::mutex by default; a spin lock for very short sections).
///
/// Oversize and over-aligned requests: exactly as R handles them. Complexity: R's plus one lock
/// and unlock per call. Exceptions from R propagate, the lock released.
///
/// Thread safety: allocate, deallocate, stats() and with_lock() from any thread at once.
/// Destruction requires that no other thread uses the resource.
///
/// Example:
///
///     pmrkit::synchronized_resource<pmrkit::size_class_resource> shared(options, upstream);
///     shared.with_lock([](pmrkit::size_class_resource& pool) { pool.trim(); });
template <class R, class Mutex = std::mutex>
class synchronized_resource final : public std::pmr::memory_resource {
public:
    /// Constructs R in place from `args` (R's own constructor arguments, its upstream included).
    template <class... Args>
        requires std::constructible_from<R, Args...>
    explicit synchronized_resource(Args&&... args) : m_resource(std::forward<Args>(args)...) {}

    synchronized_resource(const synchronized_resource&) = delete;
    synchronized_resource& operator=(const synchronized_resource&) = delete;
    ~synchronized_resource() override = default;

    /// Calls f(R&) under the lock and returns its result: the way to reach R's own members
    /// (release(), trim(), observers).
    template <class F>
    decltype(auto) with_lock(F&& f) {
        const std::lock_guard lock(m_mutex);
        return std::forward<F>(f)(m_resource);
    }

    /// R's statistics, read under the lock.
    [[nodiscard]] resource_stats stats() const
        requires reports_stats<R>
    {
        const std::lock_guard lock(m_mutex);
        return m_resource.stats();
    }

private:
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        const std::lock_guard lock(m_mutex);
        return m_resource.allocate(bytes, alignment);
    }
    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        const std::lock_guard lock(m_mutex);
        m_resource.deallocate(p, bytes, alignment);
    }
    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

    mutable Mutex m_mutex;
    R m_resource;
};

} // namespace pmrkit
