// SPDX-License-Identifier: MIT
#include "pmrkit/detail/free_list.hpp"

#include <cstdio>
#include <cstdlib>

namespace pmrkit::detail {

void report_heap_corruption(const char* what, const void* block) noexcept {
    // Carrying on would hand the same memory out twice or follow a forged pointer.
    std::fprintf(stderr, "pmrkit: %s (block %p)\n", what, block);
    std::abort();
}

} // namespace pmrkit::detail
