// SPDX-License-Identifier: MIT
#include "pmrkit/aligned_pool_resource.hpp"

#include <algorithm>
#include <bit>

namespace pmrkit {

namespace {

size_class_options pool_options(const aligned_pool_options& o, std::size_t alignment) {
    return {.max_pooled_size = std::max(o.max_pooled_size, alignment),
            .max_empty_spans = o.max_empty_spans,
            .max_empty_bytes = o.max_empty_bytes,
            .large_cache_bytes = o.large_cache_bytes,
            .large_cache_per_bucket = o.large_cache_per_bucket};
}

std::size_t normalized_alignment(std::size_t alignment) {
    return std::bit_ceil(std::clamp(alignment, aligned_pool_resource::min_alignment,
                                    aligned_pool_resource::max_alignment));
}

} // namespace

aligned_pool_resource::aligned_pool_resource(const aligned_pool_options& options,
                                             std::pmr::memory_resource* upstream)
    : m_options(options),
      m_pool(pool_options(options, normalized_alignment(options.alignment)), upstream) {
    // The pool normalizes its own options; these are read back from it.
    m_options.alignment = normalized_alignment(options.alignment);
    m_options.max_pooled_size = m_pool.options().max_pooled_size;
}

resource_stats aligned_pool_resource::stats() const noexcept {
    resource_stats s = m_pool.stats();
    s.resource = "aligned_pool_resource";
    return s;
}

} // namespace pmrkit
