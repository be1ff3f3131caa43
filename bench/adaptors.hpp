// SPDX-License-Identifier: MIT
// Thin std::pmr adaptors for the third-party pools, so that the benchmark reaches them through
// std::pmr::memory_resource* like every other row. Each forwards and does nothing else.
#pragma once

#include "identity_resource.hpp"

#include <pmrkit/boost/adaptor.hpp>

#include <boost/container/pmr/memory_resource.hpp>
#include <boost/container/pmr/synchronized_pool_resource.hpp>
#include <boost/container/pmr/unsynchronized_pool_resource.hpp>
#include <foonathan/memory/memory_pool.hpp>
#include <foonathan/memory/memory_stack.hpp>

#include <cstddef>
#include <memory_resource>
#include <type_traits>

namespace pmrkit_bench {

// A Boost.Container pmr pool (default options) as a std::pmr resource.
template <class Pool>
class boost_pool final : public identity_resource {
public:
    explicit boost_pool(std::pmr::memory_resource* upstream)
        : m_upstream(*upstream), m_pool(&m_upstream) {}

private:
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        return m_pool.allocate(bytes, alignment);
    }
    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        m_pool.deallocate(p, bytes, alignment);
    }
    // Boost.Container pmr has its own memory_resource base: the adaptor lets the Boost pool take
    // a std::pmr upstream (our counting decorator).
    pmrkit::boost_resource_adaptor m_upstream;
    Pool m_pool;
};

using boost_unsync_pool = boost_pool<boost::container::pmr::unsynchronized_pool_resource>;
using boost_sync_pool = boost_pool<boost::container::pmr::synchronized_pool_resource>;

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

// foonathan::memory::memory_stack as a std::pmr resource: allocate bumps the stack, deallocate does
// nothing, unwind() drops everything since construction and keeps the blocks for the next request.
class foonathan_stack final : public identity_resource {
public:
    static constexpr std::size_t first_block_bytes = 4096;

    explicit foonathan_stack(std::pmr::memory_resource* upstream)
        : m_stack(first_block_bytes, foonathan_upstream(upstream)), m_start(m_stack.top()) {}

    void unwind() noexcept { m_stack.unwind(m_start); }

private:
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        return m_stack.allocate(bytes, alignment);
    }
    void do_deallocate(void*, std::size_t, std::size_t) override {}

    using stack_type = foonathan::memory::memory_stack<foonathan_upstream>;
    stack_type m_stack;
    stack_type::marker m_start;
};

// An initial buffer taken once from upstream (so that the row's upstream bytes count it) and
// given back on destruction. A base class, so that it exists before the resource built on it.
class upstream_buffer {
protected:
    upstream_buffer(std::pmr::memory_resource* upstream, std::size_t bytes)
        : m_buffer_upstream(upstream), m_buffer_bytes(bytes),
          m_buffer(upstream->allocate(bytes, alignof(std::max_align_t))) {}
    upstream_buffer(const upstream_buffer&) = delete;
    upstream_buffer& operator=(const upstream_buffer&) = delete;
    ~upstream_buffer() {
        m_buffer_upstream->deallocate(m_buffer, m_buffer_bytes, alignof(std::max_align_t));
    }

    std::pmr::memory_resource* m_buffer_upstream;
    std::size_t m_buffer_bytes;
    void* m_buffer;
};

// std::pmr::monotonic_buffer_resource over an initial buffer it reuses after every release(), as
// a server keeps one per thread. Still a monotonic_buffer_resource: no forwarding call.
class buffered_monotonic final : private upstream_buffer,
                                 public std::pmr::monotonic_buffer_resource {
public:
    static constexpr std::size_t buffer_bytes = 256 * 1024;

    explicit buffered_monotonic(std::pmr::memory_resource* upstream)
        : upstream_buffer(upstream, buffer_bytes),
          monotonic_buffer_resource(m_buffer, m_buffer_bytes, upstream) {}
};

} // namespace pmrkit_bench
