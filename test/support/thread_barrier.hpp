// SPDX-License-Identifier: MIT
// A barrier for the tests' threads, over std::mutex and std::condition_variable.
//
// Why not std::barrier or std::binary_semaphore: libstdc++ 12 builds them on std::atomic::wait,
// which on targets without a futex (MinGW-w64) loads the value, then locks a mutex and waits on a
// condition variable that the notifying thread signals without taking that mutex: a notify
// between the load and the wait is lost and the waiter sleeps forever (bits/atomic_wait.h,
// __waiter_pool::_M_do_wait; later libstdc++ versions notify under the mutex). The whole suite
// hung that way under Wine, at random, in the thread checks and concurrent_pool_resource tests.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace pmrkit::test {

// std::barrier's arrive_and_wait, for `count` threads, phase after phase.
class thread_barrier {
public:
    explicit thread_barrier(std::size_t count) : m_count(count) {}
    thread_barrier(const thread_barrier&) = delete;
    thread_barrier& operator=(const thread_barrier&) = delete;

    void arrive_and_wait() {
        std::unique_lock lock(m_mutex);
        const std::size_t phase = m_phase;
        if (++m_arrived == m_count) {
            m_arrived = 0;
            ++m_phase;
            m_all_arrived.notify_all();
            return;
        }
        m_all_arrived.wait(lock, [&] { return m_phase != phase; });
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_all_arrived;
    const std::size_t m_count;
    std::size_t m_arrived = 0;
    std::size_t m_phase = 0;
};

} // namespace pmrkit::test
