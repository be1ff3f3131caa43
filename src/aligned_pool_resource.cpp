// SPDX-License-Identifier: MIT
#include "pmrkit/aligned_pool_resource.hpp"

#include <algorithm>
#include <bit>
#include <variant>

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

// Makes alternative `index` of the variant of pools the pool.
template <class Pools, std::size_t I = 0>
void emplace_pool(Pools& pools, std::size_t index, const size_class_options& options,
                  std::pmr::memory_resource* upstream) {
    if constexpr (I < std::variant_size_v<Pools>) {
        if (I == index) {
            pools.template emplace<I>(options, upstream);
        } else {
            emplace_pool<Pools, I + 1>(pools, index, options, upstream);
        }
    }
}

} // namespace

aligned_pool_resource::aligned_pool_resource(const aligned_pool_options& options,
                                             std::pmr::memory_resource* upstream)
    : m_options(options), m_active(nullptr) {
    m_options.alignment = normalized_alignment(options.alignment);
    // m_pools starts as the alignment-16 pool, which takes no memory; the right one replaces it.
    emplace_pool(m_pools,
                 static_cast<std::size_t>(std::countr_zero(m_options.alignment / min_alignment)),
                 pool_options(options, m_options.alignment), upstream);
    // The pool normalizes its own options; these are read back from it.
    m_options.max_pooled_size =
        visit([](const auto& pool) { return pool.options().max_pooled_size; });
    m_active = visit([](auto& pool) -> std::pmr::memory_resource* { return &pool; });
}

resource_stats aligned_pool_resource::stats() const noexcept {
    resource_stats s = visit([](const auto& pool) { return pool.stats(); });
    s.resource = "aligned_pool_resource";
    return s;
}

} // namespace pmrkit
