// SPDX-License-Identifier: MIT
#include "pmrkit/detail/thread_check.hpp"

#include <cstdio>
#include <cstdlib>

namespace pmrkit::detail {

namespace {

void abort_on_concurrent_use(const char* resource) {
    std::fprintf(stderr,
                 "pmrkit: %s used by two threads at once, or re-entered from its own upstream; "
                 "it is single-threaded (share a concurrent_pool_resource or a "
                 "synchronized_resource instead)\n",
                 resource);
    std::abort();
}

std::atomic<concurrent_use_handler> g_handler{&abort_on_concurrent_use};

} // namespace

concurrent_use_handler set_concurrent_use_handler(concurrent_use_handler handler) noexcept {
    return g_handler.exchange(handler != nullptr ? handler : &abort_on_concurrent_use);
}

void report_concurrent_use(const char* resource) {
    g_handler.load()(resource);
}

} // namespace pmrkit::detail
