// SPDX-License-Identifier: MIT
// Detection of a single-threaded resource used by two threads at once.
//
// Each single-threaded resource (fixed_block, size_class, arena) holds one atomic flag. With
// checks on, allocate and deallocate set it on entry (one exchange) and clear it on exit; a call
// that finds it already set is a second thread inside the same resource, which would corrupt its
// free lists: the resource reports it and the default handler prints the resource's name and
// calls std::abort(). Sequential use from several threads (handed over with proper
// synchronization) is allowed and not reported.
//
// The switch is PMRKIT_THREAD_CHECKS (config.hpp): on by default when NDEBUG is not defined; =1
// turns it on in a release build (CMake: -DPMRKIT_THREAD_CHECKS=ON), =0 off in a debug one. When
// off, the guard compiles to nothing, so the fast paths are unchanged; the flag stays in the object
// either way, so the layout does not depend on it.
#pragma once

#include "pmrkit/detail/config.hpp"

#include <atomic>

namespace pmrkit::detail {

// Called with the resource's name when concurrent use is detected. The default prints to stderr
// and aborts. A handler that returns resumes the call as if unchecked; one that throws (from an
// allocate) leaves the resource as it was. For tests.
using concurrent_use_handler = void (*)(const char* resource);
// Installs a handler (nullptr: the default) and returns the previous one.
concurrent_use_handler set_concurrent_use_handler(concurrent_use_handler handler) noexcept;
PMRKIT_COLD PMRKIT_NOINLINE void report_concurrent_use(const char* resource);

class entry_flag {
public:
    // Marks a call in progress for its lifetime.
    class scope {
    public:
        scope(entry_flag& flag, const char* resource) : m_flag(flag) {
            if (m_flag.m_busy.exchange(true, std::memory_order_acquire)) [[unlikely]] {
                report_concurrent_use(resource);
            }
        }
        scope(const scope&) = delete;
        scope& operator=(const scope&) = delete;
        ~scope() { m_flag.m_busy.store(false, std::memory_order_release); }

    private:
        entry_flag& m_flag;
    };

private:
    std::atomic<bool> m_busy{false};
};

} // namespace pmrkit::detail

#if PMRKIT_THREAD_CHECKS
#define PMRKIT_THREAD_CHECK(flag, resource)                                                        \
    const ::pmrkit::detail::entry_flag::scope pmrkit_thread_check_scope((flag), (resource))
#else
#define PMRKIT_THREAD_CHECK(flag, resource) static_cast<void>(0)
#endif
