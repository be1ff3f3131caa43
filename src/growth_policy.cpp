// SPDX-License-Identifier: MIT
#include "pmrkit/growth_policy.hpp"

#include <limits>

namespace pmrkit {

std::size_t growth_policy::next_chunk_blocks(std::size_t capacity,
                                             std::size_t last_chunk_blocks) const {
    switch (m_kind) {
    case kind::linear:
        return m_blocks;
    case kind::exponential: {
        const double next = static_cast<double>(last_chunk_blocks) * m_factor;
        constexpr auto limit = static_cast<double>(std::numeric_limits<std::size_t>::max() / 2);
        return next >= limit ? std::numeric_limits<std::size_t>::max() / 2
                             : static_cast<std::size_t>(next);
    }
    case kind::custom:
        return m_custom ? m_custom(capacity) : last_chunk_blocks;
    }
    return last_chunk_blocks;
}

} // namespace pmrkit
