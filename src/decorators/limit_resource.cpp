// SPDX-License-Identifier: MIT
#include "pmrkit/decorators/limit_resource.hpp"

namespace pmrkit {

void limit_resource::refuse(std::size_t bytes) {
    ++m_refused;
    throw limit_exceeded(bytes, m_in_use, m_limit);
}

resource_stats limit_resource::stats() const noexcept {
    resource_stats s;
    s.resource = "limit_resource";
    s.failed_allocations = m_refused;
    s.bytes_in_use = m_in_use;
    s.peak_bytes_in_use = m_peak;
    return s;
}

} // namespace pmrkit
