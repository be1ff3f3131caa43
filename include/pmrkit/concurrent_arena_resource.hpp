// SPDX-License-Identifier: MIT
#pragma once

#include "pmrkit/detail/chunk_list.hpp"
#include "pmrkit/detail/config.hpp"
#include "pmrkit/detail/math.hpp"
#include "pmrkit/resource_stats.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <mutex>

namespace pmrkit {

/// Options of concurrent_arena_resource, for designated initializers; normalized by the
/// constructor.
struct concurrent_arena_options {
    /// Payload of the first chunk taken from upstream; each next chunk doubles, up to
    /// max_chunk_size. Clamped to at least 4 KiB, and max_chunk_size to at least first_chunk_size.
    std::size_t first_chunk_size = 64 * 1024;
    /// Cap on the payload of a regular chunk (a larger request gets a chunk of its own).
    std::size_t max_chunk_size = std::size_t{4} << 20;
};

/// concurrent_arena_resource: a bump arena that many threads allocate from at once, for parallel
/// build-then-drop phases (parallel parsing, a task graph building one result). deallocate does
/// nothing; memory comes back all at once with reset() or release().
///
/// How: the current chunk's region is [cursor, end) with an atomic cursor; allocate advances it by
/// compare-and-swap (no lock). When the region cannot hold a request, one thread adds a chunk under
/// a mutex and publishes its region; the others retry in the new one. A request larger than a
/// quarter of the next chunk gets a chunk of its own, so the waste at the end of a region stays
/// below a quarter of it.
///
/// Oversize and over-aligned: any size and any power-of-two alignment; large or strongly aligned
/// requests take a dedicated upstream chunk with exactly that alignment. Sizes whose chunk would
/// overflow and alignments that are not powers of two throw std::bad_alloc; upstream exceptions
/// propagate.
///
/// Complexity: allocate O(1) (one CAS, retried under contention); one upstream call per chunk.
/// reset() and release() O(chunks).
///
/// Thread safety: allocate and deallocate from any number of threads at once. reset(), release(),
/// stats() and destruction require that no other thread uses the arena at the same time.
///
/// Example:
///
///     pmrkit::concurrent_arena_resource arena;
///     // worker threads: std::pmr::vector<node> v(&arena); ...
///     arena.reset(); // after the workers are joined
class concurrent_arena_resource final : public std::pmr::memory_resource {
public:
    /// Takes no memory.
    explicit concurrent_arena_resource(
        const concurrent_arena_options& options = {},
        std::pmr::memory_resource* upstream = std::pmr::get_default_resource());
    /// Default options over `upstream`.
    explicit concurrent_arena_resource(std::pmr::memory_resource* upstream)
        : concurrent_arena_resource(concurrent_arena_options{}, upstream) {}

    concurrent_arena_resource(const concurrent_arena_resource&) = delete;
    concurrent_arena_resource& operator=(const concurrent_arena_resource&) = delete;
    ~concurrent_arena_resource() override { release(); }

    /// Gives every chunk back to upstream; the state right after construction.
    void release() noexcept;
    /// Keeps the current chunk (rewound, for the next phase) and gives every other chunk back.
    void reset() noexcept;

    /// The resource the chunks come from.
    [[nodiscard]] std::pmr::memory_resource* upstream_resource() const noexcept {
        return m_upstream;
    }
    /// The options after normalization.
    [[nodiscard]] const concurrent_arena_options& options() const noexcept { return m_options; }
    /// Bytes held from upstream now (chunk footers included).
    [[nodiscard]] std::size_t upstream_bytes() const;
    /// The snapshot in the common shape: chunks taken from upstream and the bytes held (the
    /// lock-free fast path counts nothing).
    [[nodiscard]] resource_stats stats() const;

private:
    // Placed at the start of each regular chunk: the part of the chunk still to hand out.
    struct region {
        std::atomic<std::uintptr_t> cursor;
        std::uintptr_t end;

        [[nodiscard]] void* take(std::size_t bytes, std::size_t alignment) noexcept {
            std::uintptr_t cur = cursor.load(std::memory_order_relaxed);
            for (;;) {
                const std::uintptr_t start = (cur + alignment - 1) & ~(alignment - 1);
                if (start < cur || start > end || end - start < bytes) {
                    return nullptr;
                }
                if (cursor.compare_exchange_weak(cur, start + bytes, std::memory_order_relaxed)) {
                    return reinterpret_cast<void*>(start);
                }
            }
        }
    };

    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        if (detail::is_power_of_two(alignment)) [[likely]] {
            if (region* r = m_current.load(std::memory_order_acquire)) [[likely]] {
                if (void* p = r->take(bytes + (bytes == 0), alignment)) [[likely]] {
                    return p;
                }
            }
        }
        return allocate_slow(bytes, alignment);
    }

    void do_deallocate(void* /*p*/, std::size_t /*bytes*/, std::size_t /*alignment*/) override {}

    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

    PMRKIT_NOINLINE void* allocate_slow(std::size_t bytes, std::size_t alignment);
    void rewind(region* r) noexcept;

    std::atomic<region*> m_current{nullptr};
    mutable std::mutex m_mutex;  // guards everything below
    detail::chunk_list m_chunks; // regular chunks, newest (the current region's) first
    detail::chunk_list m_large;  // dedicated chunks
    std::size_t m_next;
    concurrent_arena_options m_options;
    std::pmr::memory_resource* m_upstream;
};

} // namespace pmrkit
