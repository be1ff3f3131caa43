// SPDX-License-Identifier: MIT
#pragma once

#include <memory_resource>

namespace pmrkit_bench {

// Base of the bench's own resources: equal only to themselves, like every pool (memory from one
// cannot be freed to another).
class identity_resource : public std::pmr::memory_resource {
    bool do_is_equal(const std::pmr::memory_resource& other) const noexcept final {
        return this == &other;
    }
};

} // namespace pmrkit_bench
