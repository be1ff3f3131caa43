// SPDX-License-Identifier: MIT
// The front end that size_class_resource and aligned_pool_resource share: a memory_resource over
// one size_class_heap, with the thread check of a single-threaded resource and the observers
// every size-class pool offers. The public classes derive from it, are final, and add only their
// constructor and options; calls through them devirtualize, calls through memory_resource* pay
// one virtual call and reach the heap's inline fast path.
#pragma once

#include "pmrkit/detail/thread_check.hpp"
#include "pmrkit/engine/size_class_heap.hpp"
#include "pmrkit/resource_stats.hpp"

#include <cstddef>
#include <memory_resource>

namespace pmrkit::detail {

/// The members size_class_resource and aligned_pool_resource share: release(), trim(), the
/// observers and stats(), over one size-class heap. Internal: use it through those two classes.
class size_class_front : public std::pmr::memory_resource {
public:
    size_class_front(const size_class_front&) = delete;
    size_class_front& operator=(const size_class_front&) = delete;

    /// Gives every span and every large block (live or cached) back to upstream with the size and
    /// alignment it was taken with, and returns to the state right after construction. Blocks
    /// handed out before become invalid.
    void release() noexcept { m_heap.release(); }

    /// Gives back every empty span (including a class's span being carved, if empty) and every
    /// cached large block. After everything is deallocated, trim() leaves upstream_bytes() == 0.
    /// O(spans + free blocks of the classes that had an empty span).
    void trim() noexcept { m_heap.trim(); }

    /// The resource spans and large blocks come from.
    [[nodiscard]] std::pmr::memory_resource* upstream_resource() const noexcept {
        return m_heap.upstream_resource();
    }

    /// Classes served, from 0 to class_count() - 1, smallest first.
    [[nodiscard]] std::size_t class_count() const noexcept { return m_heap.class_count(); }
    /// The statistics of class c.
    /// Precondition: c < class_count(). O(spans of the class).
    [[nodiscard]] size_class_stats class_stats(std::size_t c) const noexcept {
        return m_heap.class_stats(c);
    }
    /// Bytes held from upstream now: spans, large blocks (live and cached) and their table.
    [[nodiscard]] std::size_t upstream_bytes() const noexcept { return m_heap.upstream_bytes(); }
    /// Most bytes held from upstream at once since construction or release().
    [[nodiscard]] std::size_t peak_upstream_bytes() const noexcept {
        return m_heap.peak_upstream_bytes();
    }
    /// Spans held now, in all classes.
    [[nodiscard]] std::size_t span_count() const noexcept { return m_heap.span_count(); }
    /// Large blocks (above options().max_pooled_size) allocated and not yet deallocated.
    [[nodiscard]] std::size_t large_blocks_in_use() const noexcept {
        return m_heap.large_blocks_in_use();
    }
    /// Large blocks kept in the cache for reuse.
    [[nodiscard]] std::size_t large_blocks_cached() const noexcept {
        return m_heap.large_blocks_cached();
    }
    /// Large-block allocations that went to upstream (cache misses and uncached requests).
    [[nodiscard]] std::size_t large_upstream_allocations() const noexcept {
        return m_heap.large_upstream_allocations();
    }
    /// Deprecated since 0.2 (removed in 0.3): large_upstream_allocations().
    [[deprecated("use large_upstream_allocations()")]] [[nodiscard]] std::size_t
    large_upstream_calls() const noexcept {
        return large_upstream_allocations();
    }

    /// The snapshot in the common shape, O(spans). Bytes are whole blocks (large blocks as sized
    /// for upstream); upstream_allocations counts spans since construction or release() plus large
    /// blocks and their table since construction. The fast path counts nothing, so allocations,
    /// deallocations and served_locally are not known here (put a stats_resource above the pool).
    [[nodiscard]] resource_stats stats() const noexcept {
        resource_stats s = m_heap.stats();
        s.resource = m_name;
        return s;
    }

protected:
    /// `name` (a string literal) names the resource in stats() and in thread-check reports.
    size_class_front(const char* name, const class_table& table, const size_class_options& options,
                     std::pmr::memory_resource* upstream)
        : m_heap(table, options, upstream), m_name(name) {}
    ~size_class_front() override = default;

    /// The heap's options after normalization, which the derived class's options() reports.
    [[nodiscard]] const size_class_options& heap_options() const noexcept {
        return m_heap.options();
    }

private:
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        PMRKIT_THREAD_CHECK(m_in_use, m_name);
        return m_heap.allocate(bytes, alignment);
    }
    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        PMRKIT_THREAD_CHECK(m_in_use, m_name);
        m_heap.deallocate(p, bytes, alignment);
    }
    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

    size_class_heap m_heap;
    const char* m_name;
    entry_flag m_in_use; // concurrent-use detection, see thread_check.hpp
};

} // namespace pmrkit::detail
