// SPDX-License-Identifier: MIT
#include "pmrkit/aligned_pool_resource.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <utility>

namespace pmrkit {

namespace {

std::size_t normalized_alignment(std::size_t alignment) {
    return std::bit_ceil(std::clamp(alignment, aligned_pool_resource::min_alignment,
                                    aligned_pool_resource::max_alignment));
}

// Entry i: the classes of alignment 16 << i.
template <std::size_t... I>
constexpr std::array<const detail::class_table*, sizeof...(I)>
make_tables(std::index_sequence<I...>) {
    static_assert(((detail::aligned_size_classes<(std::size_t{16} << I)>::count <=
                    detail::size_class_heap::max_classes) &&
                   ...));
    return {&detail::aligned_size_classes<(std::size_t{16} << I)>::table...};
}
constexpr auto tables = make_tables(
    std::make_index_sequence<std::countr_zero(aligned_pool_resource::max_alignment / 16) + 1>());

const detail::class_table& table_of(std::size_t alignment) {
    return *tables[static_cast<std::size_t>(std::countr_zero(alignment / 16))];
}

size_class_options pool_options(size_class_options o, std::size_t alignment) {
    o.max_pooled_size = std::max(o.max_pooled_size, alignment);
    return o;
}

} // namespace

aligned_pool_resource::aligned_pool_resource(const aligned_pool_options& options,
                                             std::pmr::memory_resource* upstream)
    : size_class_front("aligned_pool_resource", table_of(normalized_alignment(options.alignment)),
                       pool_options(options.pool, normalized_alignment(options.alignment)),
                       upstream),
      m_options{normalized_alignment(options.alignment), heap_options()} {}

} // namespace pmrkit
