// SPDX-License-Identifier: MIT
#include "pmrkit/monotonic_buffer_resource.hpp"

#include "pmrkit/detail/chunk_list.hpp"

#include <limits>

namespace pmrkit {

namespace {

constexpr std::size_t default_initial_size = 4096;
constexpr std::size_t max_size = std::numeric_limits<std::size_t>::max();

// The standard's growth, on an arena: first_chunk_size is what upstream is asked for, footer
// included, so a block of `next_buffer_size` bytes fits the first buffer.
arena_options std_growth(std::size_t next_buffer_size) {
    const std::size_t footer = detail::chunk_list::overhead;
    return {.first_chunk_size =
                next_buffer_size > max_size - footer ? max_size : next_buffer_size + footer,
            .growth_factor = 2.0,
            .max_chunk_size = max_size,
            .large_requests_own_blocks = false};
}

// After an initial buffer: its size (at least 1), grown once.
std::size_t grown(std::size_t buffer_size) {
    return buffer_size > max_size / 2 ? max_size : std::max<std::size_t>(buffer_size, 1) * 2;
}

} // namespace

monotonic_buffer_resource::monotonic_buffer_resource(std::pmr::memory_resource* upstream)
    : m_arena(std_growth(default_initial_size), upstream) {}

monotonic_buffer_resource::monotonic_buffer_resource(std::size_t initial_size,
                                                     std::pmr::memory_resource* upstream)
    : m_arena(std_growth(initial_size == 0 ? default_initial_size : initial_size), upstream) {}

monotonic_buffer_resource::monotonic_buffer_resource(void* buffer, std::size_t buffer_size,
                                                     std::pmr::memory_resource* upstream)
    : m_arena(buffer, buffer_size, std_growth(grown(buffer_size)), upstream) {}

monotonic_buffer_resource::~monotonic_buffer_resource() = default;

} // namespace pmrkit
