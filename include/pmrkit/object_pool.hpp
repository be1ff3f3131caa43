// SPDX-License-Identifier: MIT
#pragma once

#include "pmrkit/detail/config.hpp"
#include "pmrkit/fixed_block_resource.hpp"
#include "pmrkit/growth_policy.hpp"
#include "pmrkit/resource_stats.hpp"

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <memory_resource>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace pmrkit {

template <class T>
/// Options of object_pool<T>, for designated initializers.
struct object_pool_options {
    /// Objects the first chunk of blocks holds; 0 fills 4 KiB (see fixed_block_options).
    std::size_t initial_objects = 0;
    /// Objects in each chunk of blocks after the first (growth_policy).
    growth_policy growth = growth_policy::exponential(2.0);
    /// Cap on objects alive at once (in use plus kept); past it, make and acquire throw
    /// std::bad_alloc.
    std::size_t max_objects = std::numeric_limits<std::size_t>::max();
    /// Recycling mode, when set: a released object is not destroyed but reset by this function
    /// and kept, and acquire() hands kept objects out again before it constructs new ones. For
    /// objects that are expensive to build (a std::vector that keeps its capacity, a parser with
    /// tables). If reset throws, the object is destroyed instead of kept.
    std::function<void(T&)> reset = {};
    /// Recycling mode only: objects default-constructed and kept by the constructor, so the first
    /// acquire() calls construct nothing.
    std::size_t preconstructed = 0;
};

/// object_pool<T>: objects of one type in blocks of a fixed_block_resource, for code that thinks in
/// objects rather than bytes. make(args...) returns a std::unique_ptr whose deleter destroys the
/// object and returns its block to the pool; in recycling mode (options.reset set) the deleter
/// resets the object and keeps it for acquire() instead.
///
/// Complexity: make, acquire and release O(1) (a new chunk of blocks costs one upstream call; in
/// recycling mode, the list of kept objects grows geometrically, on make or acquire, never on
/// release, so that the deleter cannot throw).
/// Errors: exhaustion (max_objects) and upstream failure throw std::bad_alloc or the upstream's
/// exception; an exception from T's constructor propagates after the block has been returned. In
/// every case the pool is unchanged.
/// Lifetime: every handle must be released before the pool is destroyed (the deleter points to the
/// pool; a debug build asserts that none is left).
///
/// Thread safety: none. One thread at a time may use a pool and release its handles.
///
/// Example:
///
///     pmrkit::object_pool<particle> particles({.initial_objects = 1024});
///     auto p = particles.make(position, velocity);   // std::unique_ptr<particle, deleter>
///
///     pmrkit::object_pool<std::vector<int>> buffers(
///         {.reset = [](std::vector<int>& v) { v.clear(); }, .preconstructed = 8});
///     auto b = buffers.acquire();                     // keeps the capacity of earlier users
template <class T>
class object_pool final {
public:
    static_assert(std::is_object_v<T> && !std::is_array_v<T> && !std::is_const_v<T>,
                  "object_pool holds complete, non-const, non-array object types");

    /// The handle's deleter: gives the object back to its pool (destroyed, or reset and kept in
    /// recycling mode).
    class deleter {
    public:
        deleter() = default;
        /// A deleter that gives objects back to `pool`.
        explicit deleter(object_pool* pool) noexcept : m_pool(pool) {}
        /// Gives `object` back to the pool; never throws (see the class comment).
        void operator()(T* object) const noexcept { m_pool->release(object); }

    private:
        object_pool* m_pool = nullptr;
    };
    /// What make() and acquire() return: owns the object, gives it back to the pool when destroyed.
    using handle = std::unique_ptr<T, deleter>;

    /// Takes no memory unless options.preconstructed asks for objects (in recycling mode). Throws
    /// what the preconstruction throws (nothing is left allocated then), or std::invalid_argument
    /// when preconstructed objects are asked of a T that has no default constructor.
    explicit object_pool(object_pool_options<T> options = {},
                         std::pmr::memory_resource* upstream = std::pmr::get_default_resource())
        : m_blocks(block_options(options), upstream), m_options(std::move(options)) {
        if (recycling() && m_options.preconstructed > 0) {
            if constexpr (std::is_default_constructible_v<T>) {
                preconstruct();
            } else {
                throw std::invalid_argument("object_pool: preconstructed objects need a default "
                                            "constructor");
            }
        }
    }
    /// Default options over `upstream`.
    explicit object_pool(std::pmr::memory_resource* upstream)
        : object_pool(object_pool_options<T>{}, upstream) {}

    object_pool(const object_pool&) = delete;
    object_pool& operator=(const object_pool&) = delete;

    ~object_pool() {
        assert(m_in_use == 0 && "object_pool destroyed while handles are live");
        destroy_kept();
    }

    /// Effects: constructs a T from args in a block of the pool (a kept object is not used: see
    /// acquire). Returns: the owning handle. Throws: std::bad_alloc or the upstream's exception
    /// when no block can be had; whatever T's constructor throws, after returning the block.
    template <class... Args>
    [[nodiscard]] handle make(Args&&... args) {
        reserve_kept_slot();
        void* block = m_blocks.allocate(sizeof(T), alignof(T));
        T* object = nullptr;
        try {
            object = ::new (block) T(std::forward<Args>(args)...);
        } catch (...) {
            m_blocks.deallocate(block, sizeof(T), alignof(T));
            throw;
        }
        return hand_out(object);
    }

    /// Recycling mode: hands out the most recently kept object (reset when it was released), or a
    /// new default-constructed one when none is kept. Without recycling, the same as make().
    [[nodiscard]] handle acquire()
        requires std::is_default_constructible_v<T>
    {
        if (!m_kept.empty()) {
            T* object = m_kept.back();
            m_kept.pop_back();
            ++m_recycled;
            return hand_out(object);
        }
        return make();
    }

    /// Objects handed out and not yet released.
    [[nodiscard]] std::size_t in_use() const noexcept { return m_in_use; }
    /// Most objects in use at once since construction.
    [[nodiscard]] std::size_t peak_in_use() const noexcept { return m_peak; }
    /// acquire() calls served by a kept object.
    [[nodiscard]] std::uint64_t recycled() const noexcept { return m_recycled; }
    /// Objects constructed, reset and waiting for acquire().
    [[nodiscard]] std::size_t kept() const noexcept { return m_kept.size(); }
    /// Whether the pool is in recycling mode (options().reset is set).
    [[nodiscard]] bool recycling() const noexcept { return static_cast<bool>(m_options.reset); }
    /// The options given to the constructor.
    [[nodiscard]] const object_pool_options<T>& options() const noexcept { return m_options; }
    /// The pool of blocks underneath (capacity, chunks, upstream bytes).
    [[nodiscard]] const fixed_block_resource& blocks() const noexcept { return m_blocks; }

    /// The common statistics shape: objects in use and their peak, recycled acquisitions as
    /// served_locally, upstream figures from the block pool.
    [[nodiscard]] resource_stats stats() const noexcept {
        const resource_stats below = m_blocks.stats();
        resource_stats s;
        s.resource = "object_pool";
        s.blocks_in_use = m_in_use;
        s.bytes_in_use = m_in_use * m_blocks.block_size();
        s.peak_blocks_in_use = m_peak;
        s.peak_bytes_in_use = m_peak * m_blocks.block_size();
        s.served_locally = m_recycled;
        s.upstream_allocations = below.upstream_allocations;
        s.upstream_deallocations = below.upstream_deallocations;
        s.upstream_bytes = below.upstream_bytes;
        return s;
    }

private:
    static fixed_block_options block_options(const object_pool_options<T>& options) {
        return {.block_size = sizeof(T),
                .block_alignment = alignof(T),
                .initial_blocks = options.initial_objects,
                .growth = options.growth,
                .max_blocks = options.max_objects};
    }

    handle hand_out(T* object) noexcept {
        ++m_in_use;
        if (m_in_use > m_peak) {
            m_peak = m_in_use;
        }
        return handle(object, deleter(this));
    }

    // Every live object may come back to m_kept, so its capacity covers them all before one more
    // is made; the deleter's push_back then never allocates. Doubling keeps it amortized O(1)
    // (reserve() alone would reallocate on every new object).
    void reserve_kept_slot() {
        const std::size_t needed = m_in_use + m_kept.size() + 1;
        if (recycling() && needed > m_kept.capacity()) {
            m_kept.reserve(std::max(needed, 2 * m_kept.capacity()));
        }
    }

    void release(T* object) noexcept {
        --m_in_use;
        if (recycling()) {
            keep(object);
            return;
        }
        destroy(object);
    }

    // Out of line, so that the plain release above stays a few instructions without register
    // saves (inlined, the reset call made every release push six registers: +40% on batches).
    PMRKIT_NOINLINE void keep(T* object) noexcept {
        try {
            m_options.reset(*object);
            m_kept.push_back(object);
        } catch (...) {
            // A half-reset object is not handed out again.
            destroy(object);
        }
    }

    void destroy(T* object) noexcept {
        object->~T();
        m_blocks.deallocate(object, sizeof(T), alignof(T));
    }

    void preconstruct() {
        try {
            for (std::size_t i = 0; i < m_options.preconstructed; ++i) {
                m_kept.push_back(make().release());
                --m_in_use;
            }
        } catch (...) {
            destroy_kept();
            throw;
        }
        m_peak = 0;
    }

    void destroy_kept() noexcept {
        for (T* object : m_kept) {
            destroy(object);
        }
        m_kept.clear();
    }

    fixed_block_resource m_blocks;
    object_pool_options<T> m_options;
    // Kept objects (recycling mode), last released first: it is the most likely to be in cache.
    std::pmr::vector<T*> m_kept{m_blocks.upstream_resource()};
    std::size_t m_in_use = 0;
    std::size_t m_peak = 0;
    std::uint64_t m_recycled = 0;
};

} // namespace pmrkit
