// SPDX-License-Identifier: MIT
#pragma once

#include "pmrkit/arena_resource.hpp"

#include <cstddef>
#include <memory_resource>
#include <mutex>

namespace pmrkit {

/// Options of arena_pool, for designated initializers.
struct arena_pool_options {
    /// Options of every arena the pool creates (max_retained bounds what each idle arena holds).
    arena_options arena = {};
    /// Idle arenas kept for reuse; an arena returned while this many are idle is destroyed.
    std::size_t max_idle = 64;
};

/// arena_pool: reusable arenas for servers. Each request, on any thread, acquire()s a lease on an
/// arena, allocates from it, and drops the lease; the arena is reset (its memory kept) and goes
/// back to the pool, so the next request starts with a warm arena that takes nothing from upstream.
///
/// How: idle arenas on a LIFO list under a mutex (the most recently used, cache-warm arena goes out
/// first); a new arena is created when none is idle. The lock is held only to push or pop one
/// arena, never during reset or any allocation. Arenas and their memory come from the pool's
/// upstream.
///
/// Complexity: acquire() and returning a lease O(1) plus the arena's reset(); creating an arena
/// costs one upstream call. Thread safety: acquire() and lease destruction may be called
/// concurrently from any threads; each leased arena is used by one thread at a time. The upstream
/// must be thread-safe (new_delete_resource(), a synchronized pool). The pool must outlive its
/// leases.
///
/// Example:
///
///     pmrkit::arena_pool pool({.arena = {.first_chunk_size = 64 * 1024}, .max_idle = 32});
///     // on any thread, per request:
///     auto lease = pool.acquire();
///     std::pmr::vector<std::pmr::string> fields(&lease.arena());
class arena_pool {
    struct node;

public:
    /// Exclusive use of one arena until destroyed; then the arena is reset and returned.
    class lease {
    public:
        /// Takes over the other lease's arena; `other` is left moved from.
        lease(lease&& other) noexcept : m_pool(other.m_pool), m_node(other.m_node) {
            other.m_node = nullptr;
        }
        /// Gives this lease's arena back first, then takes over the other's.
        lease& operator=(lease&& other) noexcept;
        lease(const lease&) = delete;
        lease& operator=(const lease&) = delete;
        ~lease() { give_back(); }

        /// Precondition: the lease was not moved from.
        [[nodiscard]] arena_resource& arena() const noexcept;
        /// The arena, as arena() (precondition: not moved from).
        arena_resource* operator->() const noexcept { return &arena(); }
        /// The arena, as arena() (precondition: not moved from).
        arena_resource& operator*() const noexcept { return arena(); }

    private:
        friend class arena_pool;
        lease(arena_pool& pool, node* n) noexcept : m_pool(&pool), m_node(n) {}
        void give_back() noexcept;

        arena_pool* m_pool;
        node* m_node;
    };

    /// Takes no memory until the first acquire(). Throws std::invalid_argument for arena options an
    /// arena_resource refuses.
    explicit arena_pool(const arena_pool_options& options = {},
                        std::pmr::memory_resource* upstream = std::pmr::get_default_resource());
    /// Default options over `upstream`.
    explicit arena_pool(std::pmr::memory_resource* upstream)
        : arena_pool(arena_pool_options{}, upstream) {}
    arena_pool(const arena_pool&) = delete;
    arena_pool& operator=(const arena_pool&) = delete;
    /// Precondition: no lease is outstanding (checked by assert). Destroys the idle arenas.
    ~arena_pool();

    /// Returns a lease on an idle arena, or on a new one when none is idle. Throws what creating an
    /// arena throws (an upstream exception, unchanged); the pool is unchanged then.
    [[nodiscard]] lease acquire();

    /// The resource the arenas and their memory come from.
    [[nodiscard]] std::pmr::memory_resource* upstream_resource() const noexcept {
        return m_upstream;
    }
    /// The options, arena options normalized as arena_resource::options() reports them.
    [[nodiscard]] const arena_pool_options& options() const noexcept { return m_options; }
    /// Snapshots; other threads may change them at once.
    /// Arenas idle now, ready for acquire().
    [[nodiscard]] std::size_t idle() const;
    /// Arenas out on lease now (a snapshot too).
    [[nodiscard]] std::size_t leased() const;
    /// Arenas created since construction.
    [[nodiscard]] std::size_t arenas_created() const;

private:
    void put_back(node* n) noexcept;
    void destroy(node* n) noexcept;

    mutable std::mutex m_mutex;
    node* m_idle = nullptr; // LIFO, linked through node::next
    std::size_t m_idle_count = 0;
    std::size_t m_leased = 0;
    std::size_t m_created = 0;
    std::pmr::memory_resource* m_upstream;
    arena_pool_options m_options;
};

} // namespace pmrkit
