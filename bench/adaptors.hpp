// SPDX-License-Identifier: MIT
// Thin std::pmr adaptors for the third-party pools, so that the benchmark reaches them through
// std::pmr::memory_resource* like every other row. Each forwards and does nothing else.
#pragma once

#include "identity_resource.hpp"

#include <boost/container/pmr/memory_resource.hpp>
#include <boost/container/pmr/unsynchronized_pool_resource.hpp>
#include <foonathan/memory/memory_pool.hpp>

#include <cstddef>
#include <memory_resource>
#include <type_traits>

namespace pmrkit_bench {

// Boost.Container pmr has its own memory_resource base: this lets a Boost pool take a
// std::pmr upstream (our counting decorator).
class boost_upstream final : public boost::container::pmr::memory_resource {
public:
    explicit boost_upstream(std::pmr::memory_resource* upstream) : m_upstream(upstream) {}

private:
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        return m_upstream->allocate(bytes, alignment);
    }
    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        m_upstream->deallocate(p, bytes, alignment);
    }
    bool do_is_equal(const boost::container::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

    std::pmr::memory_resource* m_upstream;
};

// boost::container::pmr::unsynchronized_pool_resource (default options) as a std::pmr resource.
class boost_unsync_pool final : public identity_resource {
public:
    explicit boost_unsync_pool(std::pmr::memory_resource* upstream)
        : m_upstream(upstream), m_pool(&m_upstream) {}

private:
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        return m_pool.allocate(bytes, alignment);
    }
    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        m_pool.deallocate(p, bytes, alignment);
    }
    boost_upstream m_upstream;
    boost::container::pmr::unsynchronized_pool_resource m_pool;
};

// A foonathan RawAllocator over a std::pmr upstream, for the pool's block allocator.
class foonathan_upstream {
public:
    using is_stateful = std::true_type;

    explicit foonathan_upstream(std::pmr::memory_resource* upstream) : m_upstream(upstream) {}

    void* allocate_node(std::size_t bytes, std::size_t alignment) {
        return m_upstream->allocate(bytes, alignment);
    }
    void deallocate_node(void* p, std::size_t bytes, std::size_t alignment) noexcept {
        m_upstream->deallocate(p, bytes, alignment);
    }

private:
    std::pmr::memory_resource* m_upstream;
};

// foonathan::memory::memory_pool<node_pool> as a std::pmr resource. Serves node_size bytes only
// (like the pool itself; the rows using it ask for nothing else).
class foonathan_pool final : public identity_resource {
public:
    static constexpr std::size_t first_block_bytes = 4096;

    foonathan_pool(std::size_t node_size, std::pmr::memory_resource* upstream)
        : m_pool(node_size, first_block_bytes, foonathan_upstream(upstream)) {}

private:
    void* do_allocate(std::size_t, std::size_t) override { return m_pool.allocate_node(); }
    void do_deallocate(void* p, std::size_t, std::size_t) override { m_pool.deallocate_node(p); }
    foonathan::memory::memory_pool<foonathan::memory::node_pool, foonathan_upstream> m_pool;
};

} // namespace pmrkit_bench
