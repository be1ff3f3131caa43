// SPDX-License-Identifier: MIT
#include "pmrkit/arena_pool.hpp"

#include <cassert>

namespace pmrkit {

struct arena_pool::node {
    node(const arena_options& options, std::pmr::memory_resource* upstream)
        : arena(options, upstream) {}
    arena_resource arena;
    node* next = nullptr;
};

arena_pool::lease& arena_pool::lease::operator=(lease&& other) noexcept {
    if (this != &other) {
        give_back();
        m_pool = other.m_pool;
        m_node = other.m_node;
        other.m_node = nullptr;
    }
    return *this;
}

arena_resource& arena_pool::lease::arena() const noexcept {
    assert(m_node != nullptr && "use of a moved-from arena_pool::lease");
    return m_node->arena;
}

void arena_pool::lease::give_back() noexcept {
    if (m_node != nullptr) {
        m_pool->put_back(m_node);
        m_node = nullptr;
    }
}

arena_pool::arena_pool(const arena_pool_options& options, std::pmr::memory_resource* upstream)
    : m_upstream(upstream), m_options(options) {
    // An arena takes no memory when constructed: building one here checks and normalizes the
    // options now rather than at the first acquire().
    m_options.arena = arena_resource(options.arena, upstream).options();
}

arena_pool::~arena_pool() {
    assert(m_leased == 0 && "arena_pool destroyed while leases are outstanding");
    while (m_idle != nullptr) {
        node* n = m_idle;
        m_idle = n->next;
        destroy(n);
    }
}

arena_pool::lease arena_pool::acquire() {
    {
        const std::lock_guard lock(m_mutex);
        if (node* n = m_idle) {
            m_idle = n->next;
            --m_idle_count;
            ++m_leased;
            return {*this, n};
        }
    }
    // Created outside the lock: the upstream call may be slow.
    std::pmr::polymorphic_allocator<node> alloc(m_upstream);
    node* n = alloc.new_object<node>(m_options.arena, m_upstream);
    const std::lock_guard lock(m_mutex);
    ++m_created;
    ++m_leased;
    return {*this, n};
}

void arena_pool::put_back(node* n) noexcept {
    // Reset outside the lock: it may give chunks back to upstream.
    n->arena.reset();
    {
        const std::lock_guard lock(m_mutex);
        --m_leased;
        if (m_idle_count < m_options.max_idle) {
            n->next = m_idle;
            m_idle = n;
            ++m_idle_count;
            return;
        }
    }
    destroy(n);
}

void arena_pool::destroy(node* n) noexcept {
    std::pmr::polymorphic_allocator<node>(m_upstream).delete_object(n);
}

std::size_t arena_pool::idle() const {
    const std::lock_guard lock(m_mutex);
    return m_idle_count;
}

std::size_t arena_pool::leased() const {
    const std::lock_guard lock(m_mutex);
    return m_leased;
}

std::size_t arena_pool::arenas_created() const {
    const std::lock_guard lock(m_mutex);
    return m_created;
}

} // namespace pmrkit
