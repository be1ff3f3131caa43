// SPDX-License-Identifier: MIT
#include "pmrkit/growth_policy.hpp"

#include <algorithm>
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
        if (next >= limit) {
            return std::numeric_limits<std::size_t>::max() / 2;
        }
        // Rounded down, a factor below 2 would keep a chunk of one block at one forever (1.5
        // rounds to 1): one upstream call per block, for an object_pool of 4 KiB objects. A factor
        // above 1 grows every chunk by at least one block.
        const auto blocks = static_cast<std::size_t>(next);
        return m_factor > 1.0 ? std::max(blocks, last_chunk_blocks + 1) : blocks;
    }
    case kind::custom:
        return m_custom ? m_custom(capacity) : last_chunk_blocks;
    }
    return last_chunk_blocks;
}

} // namespace pmrkit
