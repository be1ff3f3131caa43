// SPDX-License-Identifier: MIT
#include "pmrkit/concurrent_arena_resource.hpp"

#include <algorithm>
#include <new>

namespace pmrkit {

namespace {

constexpr std::size_t min_chunk = 4096;

concurrent_arena_options normalized(concurrent_arena_options o) noexcept {
    o.first_chunk_size = std::max(o.first_chunk_size, min_chunk);
    o.max_chunk_size = std::max(o.max_chunk_size, o.first_chunk_size);
    return o;
}

} // namespace

concurrent_arena_resource::concurrent_arena_resource(const concurrent_arena_options& options,
                                                     std::pmr::memory_resource* upstream)
    : m_next(normalized(options).first_chunk_size), m_options(normalized(options)),
      m_upstream(upstream) {}

void* concurrent_arena_resource::allocate_slow(std::size_t bytes, std::size_t alignment) {
    if (!detail::is_power_of_two(alignment)) {
        throw std::bad_alloc();
    }
    bytes = std::max<std::size_t>(bytes, 1);
    const std::lock_guard lock(m_mutex);
    // Another thread may have added a chunk while this one waited.
    if (region* r = m_current.load(std::memory_order_acquire)) {
        if (void* p = r->take(bytes, alignment)) {
            return p;
        }
    }
    if (bytes > m_next / 4 || alignment > m_next / 4) {
        return m_large.allocate(*m_upstream, bytes, alignment).begin; // checks for overflow
    }
    const detail::chunk_list::payload s = m_chunks.allocate(*m_upstream, m_next, alignof(region));
    auto* r = ::new (s.begin) region{{}, reinterpret_cast<std::uintptr_t>(s.end)};
    rewind(r);
    void* p = r->take(bytes, alignment); // fits: bytes + alignment <= m_next / 2
    m_next = std::min(m_next * 2, m_options.max_chunk_size);
    m_current.store(r, std::memory_order_release);
    return p;
}

void concurrent_arena_resource::rewind(region* r) noexcept {
    r->cursor.store(reinterpret_cast<std::uintptr_t>(r + 1), std::memory_order_relaxed);
}

void concurrent_arena_resource::release() noexcept {
    const std::lock_guard lock(m_mutex);
    m_current.store(nullptr, std::memory_order_relaxed);
    m_chunks.release(*m_upstream);
    m_large.release(*m_upstream);
    m_next = m_options.first_chunk_size;
}

void concurrent_arena_resource::reset() noexcept {
    const std::lock_guard lock(m_mutex);
    m_large.release(*m_upstream);
    if (m_chunks.empty()) {
        return;
    }
    detail::chunk_list kept;
    kept.splice_front(m_chunks);
    m_chunks.release(*m_upstream);
    m_chunks.splice_front(kept);
    rewind(m_current.load(std::memory_order_relaxed));
}

std::size_t concurrent_arena_resource::upstream_bytes() const {
    const std::lock_guard lock(m_mutex);
    return m_chunks.bytes() + m_large.bytes();
}

resource_stats concurrent_arena_resource::stats() const {
    resource_stats s;
    s.resource = "concurrent_arena_resource";
    const std::lock_guard lock(m_mutex);
    s.upstream_allocations = m_chunks.chunks_taken() + m_large.chunks_taken();
    s.upstream_bytes = m_chunks.bytes() + m_large.bytes();
    return s;
}

} // namespace pmrkit
