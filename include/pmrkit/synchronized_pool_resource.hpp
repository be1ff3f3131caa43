// SPDX-License-Identifier: MIT
#pragma once

#include "pmrkit/concurrent_pool_resource.hpp"
#include "pmrkit/engine/std_pools.hpp"

#include <cstddef>
#include <memory_resource>
#include <optional>

namespace pmrkit {

/// synchronized_pool_resource: std::pmr::synchronized_pool_resource with the same interface and
/// the standard's semantics ([mem.res.pool]), served by concurrent_pool_resource. Migrating is
/// changing the namespace (docs/migration.md).
///
/// How: a front end over a concurrent_pool_resource (per-thread caches meeting one central
/// size-class heap in batches, under its lock; see concurrent_pool_resource.hpp) whose central
/// heap has the default classes with spans capped at max_blocks_per_chunk blocks and no
/// large-block cache. Calls through memory_resource* pay one virtual call and reach
/// concurrent_pool_resource's inline fast paths.
///
/// options(), the implementation's limits, large requests, alignments and errors: as in
/// unsynchronized_pool_resource.hpp. max_blocks_per_chunk bounds the blocks of one upstream
/// request (one span); a thread's cache moves blocks in batches of up to 16 KiB, which are not
/// chunks (upstream is not called for them).
///
/// Thread safety: allocate, deallocate, upstream_resource() and options() from any number of
/// threads at once; upstream is only called under the pool's lock, so it need not be thread-safe.
/// release() and destruction require that no other thread uses the instance at the same time
/// (a block any thread still holds becomes invalid by them anyway).
///
/// Not final, as the standard's class is not: a class derived from it compiles unchanged.
///
/// Example:
///
///     pmrkit::synchronized_pool_resource pool;
///     // any thread: std::pmr::vector<int> v(&pool); ...
class synchronized_pool_resource : public std::pmr::memory_resource {
public:
    /// Default options over std::pmr::get_default_resource(), as the standard's.
    synchronized_pool_resource()
        : synchronized_pool_resource(std::pmr::pool_options(), std::pmr::get_default_resource()) {}
    /// Default options over `upstream`.
    explicit synchronized_pool_resource(std::pmr::memory_resource* upstream)
        : synchronized_pool_resource(std::pmr::pool_options(), upstream) {}
    /// `opts` over std::pmr::get_default_resource().
    explicit synchronized_pool_resource(const std::pmr::pool_options& opts)
        : synchronized_pool_resource(opts, std::pmr::get_default_resource()) {}
    /// Takes no memory but a small control block (throws std::bad_alloc if that fails).
    synchronized_pool_resource(const std::pmr::pool_options& opts,
                               std::pmr::memory_resource* upstream);
    synchronized_pool_resource(const synchronized_pool_resource&) = delete;
    synchronized_pool_resource& operator=(const synchronized_pool_resource&) = delete;

    /// Calls release().
    ~synchronized_pool_resource() override;

    /// Gives everything back to upstream, live blocks and every thread's cache included, and
    /// returns to the state right after construction.
    void release() noexcept { m_pool.release(); }

    /// The resource spans and large blocks come from.
    [[nodiscard]] std::pmr::memory_resource* upstream_resource() const noexcept {
        return m_pool.upstream_resource();
    }
    /// The effective options (see unsynchronized_pool_resource.hpp for the limits).
    [[nodiscard]] std::pmr::pool_options options() const noexcept { return m_options; }

protected:
    /// The standard's: a block of at least `bytes` aligned to `alignment` (see the class comment).
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        return m_pool.allocate(bytes, alignment);
    }
    /// The standard's: gives back a block this resource allocated with these bytes and alignment.
    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        m_pool.deallocate(p, bytes, alignment);
    }
    /// Identity: memory from one pool cannot go back to another.
    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

private:
    std::pmr::pool_options m_options;
    std::optional<detail::std_pools::classes> m_capped; // before m_pool, which reads it
    concurrent_pool_resource m_pool;
};

} // namespace pmrkit
