// SPDX-License-Identifier: MIT
#include "pmrkit/fixed_block_resource.hpp"

#include "pmrkit/detail/math.hpp"

#include <algorithm>
#include <stdexcept>

namespace pmrkit {

namespace {

constexpr std::size_t default_first_chunk_bytes = 4096;

fixed_block_options normalized(fixed_block_options o) {
    if (!detail::is_power_of_two(o.block_alignment)) {
        throw std::invalid_argument("pmrkit::fixed_block_options: block_alignment must be a power "
                                    "of two");
    }
    o.block_size = std::max(o.block_size, detail::min_pooled_block);
    const std::size_t free_alignment =
        std::min(detail::natural_alignment(o.block_size), alignof(std::max_align_t));
    o.block_alignment = std::max({o.block_alignment, alignof(void*), free_alignment});
    o.block_size = detail::checked_align_up(o.block_size, o.block_alignment);
    if (o.initial_blocks == 0) {
        o.initial_blocks = std::max<std::size_t>(1, default_first_chunk_bytes / o.block_size);
    }
    return o;
}

} // namespace

fixed_block_resource::fixed_block_resource(const fixed_block_options& options,
                                           std::pmr::memory_resource* upstream)
    : m_block_size(0), m_block_alignment(0), m_oversize(upstream), m_upstream(upstream),
      m_options(normalized(options)) {
    m_block_size = m_options.block_size;
    m_block_alignment = m_options.block_alignment;
    m_key = detail::free_list_key(m_block_alignment);
}

void* fixed_block_resource::allocate_slow(std::size_t bytes, std::size_t alignment) {
    if (!fits(bytes, alignment)) {
        return m_oversize.allocate(bytes, alignment);
    }
    // m_free is empty here, so every block in use was once taken from the never-used blocks.
    void* block = take_fresh();
    if (block == nullptr) {
        block = m_spare.pop(m_key, detail::pool_mark_at);
    }
    if (block == nullptr) {
        const std::size_t wanted =
            m_chunks.empty() ? m_options.initial_blocks
                             : m_options.growth.next_chunk_blocks(m_capacity, m_last_chunk_blocks);
        add_chunk(std::min(std::max<std::size_t>(wanted, 1), m_options.max_blocks - m_capacity));
        block = take_fresh();
    }
    ++m_peak;
    return block;
}

void* fixed_block_resource::take_fresh() noexcept {
    void* block = m_region.take(m_block_size);
    if (block != nullptr) {
        detail::free_list::unmark(block, detail::pool_mark_at);
    }
    return block;
}

void fixed_block_resource::add_chunk(std::size_t blocks) {
    if (blocks == 0 || blocks > m_options.max_blocks - m_capacity) {
        detail::throw_bad_alloc();
    }
    const std::size_t bytes = detail::checked_mul(blocks, m_block_size);
    m_owned.reserve_one_more();
    const auto chunk = m_chunks.allocate(*m_upstream, bytes, m_block_alignment);
    m_owned.add(chunk.begin, bytes, m_block_size);
    while (void* tail_block = take_fresh()) {
        m_spare.push(tail_block, m_key, detail::pool_mark_at);
    }
    m_region = detail::bump_region(chunk.begin, chunk.begin + bytes);
    m_capacity += blocks;
    m_last_chunk_blocks = blocks;
}

void fixed_block_resource::reserve(std::size_t blocks) {
    if (blocks > m_capacity) {
        add_chunk(blocks - m_capacity);
    }
}

void fixed_block_resource::release() noexcept {
    m_oversize.release();
    m_chunks.release(*m_upstream);
    m_owned.clear();
    m_free.clear();
    m_spare.clear();
    m_region = {};
    m_peak = 0;
    m_capacity = 0;
    m_last_chunk_blocks = 0;
}

resource_stats fixed_block_resource::stats() const noexcept {
    resource_stats s;
    s.resource = "fixed_block_resource";
    const std::size_t pool_blocks = blocks_in_use();
    s.blocks_in_use = pool_blocks + m_oversize.count();
    s.bytes_in_use = pool_blocks * m_block_size + m_oversize.block_bytes();
    s.peak_blocks_in_use = m_peak;
    s.peak_bytes_in_use = m_peak * m_block_size;
    s.upstream_allocations = m_chunks.chunks_taken() + m_oversize.upstream_allocations();
    s.upstream_deallocations =
        m_chunks.chunks_taken() - m_chunks.count() + m_oversize.upstream_deallocations();
    s.upstream_bytes = upstream_bytes();
    return s;
}

} // namespace pmrkit
