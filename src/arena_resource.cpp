// SPDX-License-Identifier: MIT
#include "pmrkit/arena_resource.hpp"

#include <cassert>
#include <cmath>
#include <stdexcept>

namespace pmrkit {

namespace {

constexpr std::size_t chunk_granule = 16;
constexpr std::size_t min_chunk_size = 256;
// Keeps growth arithmetic far from overflow; no upstream serves more anyway.
constexpr std::size_t max_chunk_cap = std::numeric_limits<std::size_t>::max() / 4;

std::size_t chunk_size(std::size_t bytes) {
    return detail::align_up(std::clamp(bytes, min_chunk_size, max_chunk_cap), chunk_granule);
}

arena_options normalized(arena_options o) {
    if (!(o.growth_factor >= 1.0)) {
        throw std::invalid_argument("pmrkit::arena_options: growth_factor must be at least 1");
    }
    o.first_chunk_size = chunk_size(o.first_chunk_size);
    o.max_chunk_size = std::max(chunk_size(o.max_chunk_size), o.first_chunk_size);
    return o;
}

} // namespace

arena_resource::arena_resource(const arena_options& options, std::pmr::memory_resource* upstream)
    : arena_resource(nullptr, 0, options, upstream) {}

arena_resource::arena_resource(void* buffer, std::size_t buffer_size, const arena_options& options,
                               std::pmr::memory_resource* upstream)
    : m_next_chunk_size(0), m_buffer(static_cast<std::byte*>(buffer)),
      m_buffer_size(buffer == nullptr ? 0 : buffer_size), m_upstream(upstream),
      m_options(normalized(options)) {
    m_next_chunk_size = m_options.first_chunk_size;
    enter_region(m_buffer, m_buffer, m_buffer + m_buffer_size);
}

arena_resource::~arena_resource() {
    release();
    // The buffer is the user's again.
    detail::asan_unpoison(m_buffer, m_buffer_size);
}

std::byte* arena_resource::limited_end(std::byte* begin, std::byte* end) const noexcept {
    const std::size_t room = m_options.byte_limit - m_used_before;
    return static_cast<std::size_t>(end - begin) > room ? begin + room : end;
}

void arena_resource::enter_region(std::byte* begin, std::byte* cursor, std::byte* end) noexcept {
    m_begin = begin;
    m_end = end;
    detail::asan_poison(cursor, static_cast<std::size_t>(end - cursor));
    m_region = detail::bump_region(cursor, limited_end(begin, end));
}

detail::chunk_list::payload arena_resource::take_block(detail::chunk_list& list, std::size_t bytes,
                                                       std::size_t alignment) {
    const auto block = list.allocate(*m_upstream, bytes, alignment);
    ++m_upstream_allocations;
    return block;
}

void* arena_resource::allocate_slow(std::size_t bytes, std::size_t alignment) {
    // Past here the current region cannot serve the request (or the alignment is invalid).
    if (!detail::is_satisfiable(bytes, alignment) || bytes > m_options.byte_limit - bytes_used()) {
        detail::throw_bad_alloc();
    }
    const std::size_t used = bytes_used();
    // A kept chunk first: the one this point of the last request used fits a like request.
    const std::size_t room = m_options.byte_limit - used;
    const auto fits = [bytes, alignment, room](detail::chunk_list::payload chunk) {
        const auto size = static_cast<std::size_t>(chunk.end - chunk.begin);
        detail::bump_region trial(chunk.begin, chunk.begin + std::min(size, room));
        return trial.allocate(bytes, alignment) != nullptr;
    };
    if (m_chunks.splice_first_if(m_kept, fits)) {
        return allocate_in_new_region(bytes, alignment);
    }
    const std::size_t payload = m_next_chunk_size - detail::chunk_list::overhead;
    if (bytes > payload && m_options.large_requests_own_blocks) {
        // Its own block, outside the regions: the current region stays current.
        const auto block = take_block(m_own_blocks, bytes, alignment);
        m_used_before += bytes;
        m_region = detail::bump_region(m_region.cursor(), limited_end(m_begin, m_end));
        return block.begin;
    }
    // The chunk is aligned for the request, so it fits at the chunk's start.
    const std::size_t served = std::max(payload, bytes);
    (void)take_block(m_chunks, served, std::max(alignment, alignof(std::max_align_t)));
    // Grown from the larger of the planned chunk and the one just taken: after a large request
    // the next chunk is as large as libc++'s (twice the last buffer) and never smaller than
    // libstdc++'s (twice the planned one), so the drop-in asks upstream no more often than either.
    const std::size_t last = std::max(m_next_chunk_size, served + detail::chunk_list::overhead);
    const double grown = static_cast<double>(last) * m_options.growth_factor;
    m_next_chunk_size = grown >= static_cast<double>(m_options.max_chunk_size)
                            ? m_options.max_chunk_size
                            : chunk_size(static_cast<std::size_t>(grown));
    return allocate_in_new_region(bytes, alignment);
}

void* arena_resource::allocate_in_new_region(std::size_t bytes, std::size_t alignment) noexcept {
    m_used_before = bytes_used();
    const auto chunk = m_chunks.front();
    enter_region(chunk.begin, chunk.begin, chunk.end);
    void* p = m_region.allocate(bytes, alignment);
    detail::asan_unpoison(p, bytes);
    return p;
}

void arena_resource::keep_front(detail::chunk_list& list) noexcept {
    const auto chunk = list.front();
    detail::asan_poison(chunk.begin, static_cast<std::size_t>(chunk.end - chunk.begin));
    m_kept.splice_front(list);
}

void arena_resource::give_back_front(detail::chunk_list& list) noexcept {
    list.deallocate_front(*m_upstream);
}

void arena_resource::rewind(const marker& m) noexcept {
    assert(m.m_chunks <= m_chunks.count() && m.m_own_blocks <= m_own_blocks.count() &&
           "rewind to a marker that an earlier rewind, reset or release invalidated");
    note_peak();
    const auto let_go = [this](detail::chunk_list& list) {
        if (m_options.rewind_keeps_chunks) {
            keep_front(list);
        } else {
            give_back_front(list);
        }
    };
    while (m_own_blocks.count() > m.m_own_blocks) {
        let_go(m_own_blocks);
    }
    while (m_chunks.count() > m.m_chunks) {
        let_go(m_chunks);
    }
    m_used_before = m.m_used_before;
    if (m_chunks.empty()) {
        enter_region(m_buffer, m.m_cursor, m_buffer + m_buffer_size);
    } else {
        const auto chunk = m_chunks.front();
        enter_region(chunk.begin, m.m_cursor, chunk.end);
    }
}

void arena_resource::trim_kept() noexcept {
    m_kept.sort_largest_first();
    detail::chunk_list kept;
    while (!m_kept.empty()) {
        if (m_kept.front_bytes() <= m_options.max_retained - kept.bytes()) {
            kept.splice_front(m_kept);
        } else {
            give_back_front(m_kept);
        }
    }
    // Back in largest-first order: the next request starts in the largest chunk.
    while (!kept.empty()) {
        m_kept.splice_front(kept);
    }
}

void arena_resource::consolidate(std::size_t bytes) noexcept {
    // Given back first, so that upstream can reuse that memory for the new chunk and the peak
    // held from it does not double.
    while (!m_own_blocks.empty()) {
        give_back_front(m_own_blocks);
    }
    while (!m_chunks.empty()) {
        give_back_front(m_chunks);
    }
    try {
        // bytes is a sum of chunk sizes, footers included: a multiple of the footer's alignment,
        // so the new chunk is exactly that size.
        const auto chunk =
            take_block(m_kept, bytes - detail::chunk_list::overhead, alignof(std::max_align_t));
        detail::asan_poison(chunk.begin, static_cast<std::size_t>(chunk.end - chunk.begin));
    } catch (...) {
        // reset() cannot fail: without the new chunk, the next request takes chunks as a first
        // one does.
    }
}

void arena_resource::reset() noexcept {
    const std::size_t spanned = m_chunks.bytes() + m_own_blocks.bytes();
    if (m_chunks.count() + m_own_blocks.count() > 1 && spanned <= m_options.max_chunk_size &&
        spanned <= m_options.max_retained) {
        consolidate(spanned);
    } else {
        // Own blocks first, then the chunks, so that the next request meets the chunks first, in
        // the order this one used them (the same layout fits again).
        while (!m_own_blocks.empty()) {
            keep_front(m_own_blocks);
        }
        while (!m_chunks.empty()) {
            keep_front(m_chunks);
        }
    }
    if (m_kept.bytes() > m_options.max_retained) {
        trim_kept();
    }
    m_used_before = 0;
    m_peak = 0;
    enter_region(m_buffer, m_buffer, m_buffer + m_buffer_size);
}

void arena_resource::release() noexcept {
    for (detail::chunk_list* list : {&m_chunks, &m_own_blocks, &m_kept}) {
        while (!list->empty()) {
            give_back_front(*list);
        }
    }
    m_used_before = 0;
    m_peak = 0;
    m_next_chunk_size = m_options.first_chunk_size;
    enter_region(m_buffer, m_buffer, m_buffer + m_buffer_size);
}

} // namespace pmrkit
