// SPDX-License-Identifier: MIT
// Blocks passed straight through to upstream (oversize or over-aligned requests), recorded with
// the exact size and alignment they were taken with so that release() can give back the ones the
// user never freed. The record lives outside the block, because a header would change the size
// and alignment upstream sees: an open-addressing table (linear probing, at most half full,
// backward-shift deletion) whose array also comes from upstream, never from the default resource,
// and is counted in bytes().
#pragma once

#include <cstddef>
#include <memory_resource>

namespace pmrkit::detail {

class upstream_blocks {
public:
    explicit upstream_blocks(std::pmr::memory_resource* upstream) noexcept : m_upstream(upstream) {}
    upstream_blocks(const upstream_blocks&) = delete;
    upstream_blocks& operator=(const upstream_blocks&) = delete;
    ~upstream_blocks() { release(); }

    // Throws std::bad_alloc for a size or alignment no resource can honour (checked before any
    // arithmetic, so upstream never sees a wrapped size); upstream exceptions propagate and
    // leave the table unchanged.
    [[nodiscard]] void* allocate(std::size_t bytes, std::size_t alignment);
    // A pointer it did not record, or a size or alignment other than its record's, is a
    // precondition violation: a debug build asserts, a hardened build (PMRKIT_HARDENED) stops the
    // program with a report; otherwise it is passed upstream.
    void deallocate(void* p, std::size_t bytes, std::size_t alignment) noexcept;
    // Whether p is a recorded block. O(1) expected.
    [[nodiscard]] bool contains(const void* p) const noexcept {
        return m_capacity != 0 && m_table[slot_of(p)].p == p;
    }
    // The size and alignment p was taken with ({0, 0} when p is not recorded). O(1) expected.
    struct taken {
        std::size_t bytes;
        std::size_t alignment;
    };
    [[nodiscard]] taken find(const void* p) const noexcept {
        if (m_capacity == 0) {
            return {0, 0};
        }
        const record& r = m_table[slot_of(p)];
        return r.p == p ? taken{r.bytes, r.alignment} : taken{0, 0};
    }
    // Gives back every recorded block and the table itself.
    void release() noexcept;

    [[nodiscard]] std::size_t count() const noexcept { return m_count; }
    // Bytes held from upstream: the blocks and the table.
    [[nodiscard]] std::size_t bytes() const noexcept {
        return m_block_bytes + m_capacity * sizeof(record);
    }
    // Bytes of the recorded blocks alone.
    [[nodiscard]] std::size_t block_bytes() const noexcept { return m_block_bytes; }
    // Calls made to upstream since construction, for blocks and for the table.
    [[nodiscard]] std::size_t upstream_allocations() const noexcept { return m_allocations; }
    [[nodiscard]] std::size_t upstream_deallocations() const noexcept { return m_deallocations; }

private:
    struct record {
        void* p;
        std::size_t bytes;
        std::size_t alignment;
    };

    void reserve_one_more();
    [[nodiscard]] std::size_t home(const void* p) const noexcept;
    // The slot holding p, or the empty slot where its probe ends. Precondition: m_capacity != 0.
    [[nodiscard]] std::size_t slot_of(const void* p) const noexcept;
    void insert(const record& r) noexcept;

    std::pmr::memory_resource* m_upstream;
    record* m_table = nullptr;
    std::size_t m_capacity = 0; // zero or a power of two
    std::size_t m_count = 0;
    std::size_t m_block_bytes = 0;
    std::size_t m_allocations = 0;
    std::size_t m_deallocations = 0;
};

} // namespace pmrkit::detail
