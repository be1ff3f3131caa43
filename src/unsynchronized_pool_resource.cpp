// SPDX-License-Identifier: MIT
#include "pmrkit/unsynchronized_pool_resource.hpp"

namespace pmrkit {

unsynchronized_pool_resource::unsynchronized_pool_resource(const std::pmr::pool_options& opts,
                                                           std::pmr::memory_resource* upstream)
    : m_options(detail::std_pools::normalized(opts)),
      m_heap(detail::std_pools::table_for(m_options.max_blocks_per_chunk, m_capped),
             detail::std_pools::heap_options(m_options.largest_required_pool_block), upstream) {}

unsynchronized_pool_resource::~unsynchronized_pool_resource() = default;

} // namespace pmrkit
