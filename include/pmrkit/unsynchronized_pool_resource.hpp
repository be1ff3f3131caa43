// SPDX-License-Identifier: MIT
#pragma once

#include "pmrkit/detail/thread_check.hpp"
#include "pmrkit/engine/size_class_heap.hpp"
#include "pmrkit/engine/std_pools.hpp"

#include <cstddef>
#include <memory_resource>
#include <optional>

namespace pmrkit {

/// unsynchronized_pool_resource: std::pmr::unsynchronized_pool_resource with the same interface
/// and the standard's semantics ([mem.res.pool]), served by pmrkit's size-class engine. Migrating
/// is changing the namespace: `std::pmr::unsynchronized_pool_resource pool(opts, upstream);`
/// becomes `pmrkit::unsynchronized_pool_resource pool(opts, upstream);` (docs/migration.md).
///
/// How: a front end over one detail::size_class_heap with the default classes (every 8 bytes from
/// 16 to 128, then 4 per power of two; see size_class_resource.hpp), whose spans are capped at
/// max_blocks_per_chunk blocks (a per-instance detail::capped_class_table when that caps a span;
/// at the default, a table all such pools share), with no large-block cache.
/// The fast paths are size_class_resource's.
///
/// options(): the effective values. The implementation's limits: max_blocks_per_chunk at most 508,
/// 509 in 32 bits (the most blocks a span holds; 0, or more than that, means that, which caps
/// nothing), and largest_required_pool_block at most 64 KiB (0, or more, means 64 KiB); a smaller
/// one is raised to at least 2 KiB and rounded up to a size class (the standard allows a larger
/// threshold). A pool never takes more than max_blocks_per_chunk blocks from upstream at once, from
/// its first span on (classes above 4 KiB hold fewer: at most 96% of a span is left to blocks, one
/// span per 8 KiB to 1 MiB).
///
/// Requests whose size rounded up to their alignment exceeds options().largest_required_pool_block
/// go to upstream with their exact size and alignment, and back with the same. Every power-of-two
/// alignment is honoured (up to the largest class from the pools, beyond by upstream). An
/// alignment that is not a power of two violates memory_resource's precondition: a debug build
/// asserts, a release build returns a block of at least `bytes` bytes.
///
/// Complexity: allocate and deallocate O(1) amortized; a new span is one upstream call. Throws
/// std::bad_alloc for impossible sizes and what upstream throws, unchanged; the resource stays
/// usable after either.
///
/// Bad input (undefined in the standard): hardened builds (PMRKIT_HARDENED) stop the program with a
/// report on a deallocate of a block this pool did not hand out, of one inside a block, or with a
/// size of another class; debug builds stop it when two threads use the pool at once.
///
/// Thread safety: none (the standard's). One thread at a time may use an instance.
///
/// Not final, as the standard's class is not: a class derived from it compiles unchanged.
///
/// Example:
///
///     pmrkit::unsynchronized_pool_resource pool({.max_blocks_per_chunk = 64});
///     std::pmr::map<int, std::pmr::string> m(&pool);
class unsynchronized_pool_resource : public std::pmr::memory_resource {
public:
    /// Default options over std::pmr::get_default_resource(), as the standard's.
    unsynchronized_pool_resource()
        : unsynchronized_pool_resource(std::pmr::pool_options(), std::pmr::get_default_resource()) {
    }
    /// Default options over `upstream`.
    explicit unsynchronized_pool_resource(std::pmr::memory_resource* upstream)
        : unsynchronized_pool_resource(std::pmr::pool_options(), upstream) {}
    /// `opts` over std::pmr::get_default_resource().
    explicit unsynchronized_pool_resource(const std::pmr::pool_options& opts)
        : unsynchronized_pool_resource(opts, std::pmr::get_default_resource()) {}
    /// Takes no memory.
    unsynchronized_pool_resource(const std::pmr::pool_options& opts,
                                 std::pmr::memory_resource* upstream);
    unsynchronized_pool_resource(const unsynchronized_pool_resource&) = delete;
    unsynchronized_pool_resource& operator=(const unsynchronized_pool_resource&) = delete;

    /// Calls release().
    ~unsynchronized_pool_resource() override;

    /// Gives every span and large block back to upstream, live blocks included, and returns to the
    /// state right after construction.
    void release() noexcept { m_heap.release(); }

    /// The resource spans and large blocks come from.
    [[nodiscard]] std::pmr::memory_resource* upstream_resource() const noexcept {
        return m_heap.upstream_resource();
    }
    /// The effective options (see the limits above).
    [[nodiscard]] std::pmr::pool_options options() const noexcept { return m_options; }

protected:
    /// The standard's: a block of at least `bytes` aligned to `alignment` (see the class comment).
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        PMRKIT_THREAD_CHECK(m_in_use, "unsynchronized_pool_resource");
        return m_heap.allocate(bytes, alignment);
    }
    /// The standard's: gives back a block this resource allocated with these bytes and alignment.
    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        PMRKIT_THREAD_CHECK(m_in_use, "unsynchronized_pool_resource");
        m_heap.deallocate(p, bytes, alignment);
    }
    /// Identity: memory from one pool cannot go back to another.
    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

private:
    std::pmr::pool_options m_options;
    std::optional<detail::std_pools::classes> m_capped; // before m_heap, which reads it
    detail::size_class_heap m_heap;
    detail::entry_flag m_in_use; // concurrent-use detection, see thread_check.hpp
};

} // namespace pmrkit
