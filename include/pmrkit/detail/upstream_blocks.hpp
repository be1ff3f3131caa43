// SPDX-License-Identifier: MIT
// Blocks passed straight through to upstream (oversize or over-aligned requests), recorded with
// the exact size and alignment they were taken with so that release() can give back the ones the
// user never freed. The record lives outside the block, because a header would change the size
// and alignment upstream sees. The table itself is allocated from the same upstream, never from
// the default resource.
#pragma once

#include <cstddef>
#include <memory_resource>
#include <unordered_map>

namespace pmrkit::detail {

class upstream_blocks {
public:
    explicit upstream_blocks(std::pmr::memory_resource* upstream) : m_blocks(upstream) {}

    // Throws std::bad_alloc for a size or alignment no resource can honour (checked before any
    // arithmetic, so nothing upstream sees a wrapped size); upstream exceptions propagate.
    [[nodiscard]] void* allocate(std::size_t bytes, std::size_t alignment);
    void deallocate(void* p, std::size_t bytes, std::size_t alignment) noexcept;
    void release() noexcept;

    [[nodiscard]] std::size_t count() const noexcept { return m_blocks.size(); }
    [[nodiscard]] std::size_t bytes() const noexcept { return m_bytes; }

private:
    struct shape {
        std::size_t bytes;
        std::size_t alignment;
    };
    std::pmr::memory_resource& upstream() const noexcept {
        return *m_blocks.get_allocator().resource();
    }

    std::pmr::unordered_map<void*, shape> m_blocks;
    std::size_t m_bytes = 0;
};

} // namespace pmrkit::detail
