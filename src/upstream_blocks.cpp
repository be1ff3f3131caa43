// SPDX-License-Identifier: MIT
#include "pmrkit/detail/upstream_blocks.hpp"

#include "pmrkit/detail/math.hpp"

#include <cassert>
#include <limits>

namespace pmrkit::detail {

namespace {
// Refuse sizes whose alignment padding could wrap inside any upstream (std's aligned operator new
// rounds the size up to the alignment).
bool is_satisfiable(std::size_t bytes, std::size_t alignment) noexcept {
    return is_power_of_two(alignment) &&
           bytes <= std::numeric_limits<std::size_t>::max() / 2 - alignment;
}
} // namespace

void* upstream_blocks::allocate(std::size_t bytes, std::size_t alignment) {
    if (!is_satisfiable(bytes, alignment)) {
        throw_bad_alloc();
    }
    void* p = upstream().allocate(bytes, alignment);
    try {
        m_blocks.emplace(p, shape{bytes, alignment});
    } catch (...) {
        upstream().deallocate(p, bytes, alignment);
        throw;
    }
    m_bytes += bytes;
    return p;
}

void upstream_blocks::deallocate(void* p, std::size_t bytes, std::size_t alignment) noexcept {
    const auto it = m_blocks.find(p);
    assert(it != m_blocks.end() && "deallocate of a block this resource did not pass upstream");
    if (it != m_blocks.end()) {
        assert(it->second.bytes == bytes && it->second.alignment == alignment);
        m_bytes -= it->second.bytes;
        m_blocks.erase(it);
    }
    upstream().deallocate(p, bytes, alignment);
}

void upstream_blocks::release() noexcept {
    for (const auto& [p, s] : m_blocks) {
        upstream().deallocate(p, s.bytes, s.alignment);
    }
    // Swapping with an empty table also gives back the bucket array, which clear() keeps.
    decltype(m_blocks)(m_blocks.get_allocator()).swap(m_blocks);
    m_bytes = 0;
}

} // namespace pmrkit::detail
