// SPDX-License-Identifier: MIT
#pragma once

#include "pmrkit/detail/asan.hpp"
#include "pmrkit/detail/bump_region.hpp"
#include "pmrkit/detail/chunk_list.hpp"
#include "pmrkit/detail/config.hpp"
#include "pmrkit/detail/math.hpp"
#include "pmrkit/detail/thread_check.hpp"
#include "pmrkit/resource_stats.hpp"

#include <algorithm>
#include <cstddef>
#include <functional>
#include <limits>
#include <memory_resource>

namespace pmrkit {

/// Options of arena_resource, for designated initializers; normalized by the constructor.
struct arena_options {
    /// Bytes asked of upstream for the first chunk, its 24-byte footer included. Rounded up to a
    /// multiple of 16 and raised to at least 256.
    std::size_t first_chunk_size = 4096;
    /// Each new chunk is growth_factor times the previous one, up to max_chunk_size. At least 1
    /// (else the constructor throws std::invalid_argument).
    double growth_factor = 2.0;
    /// Cap of the growth sequence, rounded like first_chunk_size and raised to at least it.
    std::size_t max_chunk_size = std::size_t{1} << 20;
    /// reset() keeps at most this many bytes of chunks (footers included) for the next use, the
    /// largest chunks first; the rest go back upstream.
    std::size_t max_retained = std::numeric_limits<std::size_t>::max();
    /// Whether rewind() keeps the chunks taken since the marker for reuse, or gives them back.
    bool rewind_keeps_chunks = false;
    /// Whether a request larger than the next chunk gets a block of its own that leaves the
    /// current region and the growth sequence as they were (true), or, as the standard's
    /// monotonic_buffer_resource does, a chunk of max(its size, the next chunk's size) that becomes
    /// the current region and advances the growth sequence from that chunk's size (false).
    bool large_requests_own_blocks = true;
    /// bytes_used() never exceeds this: an allocation that would pass it throws std::bad_alloc.
    std::size_t byte_limit = std::numeric_limits<std::size_t>::max();
};

/// arena_resource: bump allocation for memory that dies together (one request, one frame, one
/// parse): build everything from a moving pointer, then drop it all at once with reset(), rewind()
/// or release(). Not for long-lived containers that free and refill (freed memory is not reused,
/// except the most recent block): use a pool for those.
///
/// How: allocate carves from the current region (an optional initial buffer given by the user,
/// then chunks from upstream linked through a footer). A full region is left behind and the next is
/// the first kept chunk that fits, else a new upstream chunk; chunk sizes grow geometrically
/// (first_chunk_size × growth_factor^n, capped at max_chunk_size). A request larger than the next
/// chunk gets its own block of its exact size, which does not advance the sequence, so one huge
/// request does not make the following chunks huge (large_requests_own_blocks; false gives the
/// standard monotonic_buffer_resource's rule instead).
///
///   regions:  [initial buffer] -> [chunk 1] -> [chunk 2] -> ... [chunk n: used | cursor | free]
///   own blocks for large requests, newest first;   kept chunks for the next request
///
/// Complexity: allocate O(1), a handful of instructions unless a new region is needed (one upstream
/// call at most). deallocate O(1): a no-op, except that freeing the most recent block of the
/// current region moves the cursor back (a scratch buffer freed before the next allocation costs no
/// space; a std::vector's old buffer, freed after its new one is taken, is not reclaimed before a
/// rewind or reset). mark() O(1); rewind() and reset() O(chunks let go), plus one upstream call
/// when reset() replaces several chunks by one; a reset() that must trim to max_retained sorts the
/// chunks. Every power-of-two alignment is honoured (regions are padded; a chunk taken for an
/// over-aligned request is aligned for it); any other alignment, a size no upstream can serve, and
/// passing byte_limit throw std::bad_alloc. Zero-byte requests get distinct addresses. Never
/// returns null; an exception from upstream propagates unchanged and leaves the arena as it was.
///
/// Under AddressSanitizer, memory not handed out (the tail of the current region, rewound and reset
/// memory, kept chunks) is poisoned, so a use after rewind or reset is reported.
///
/// Thread safety: none. One thread at a time may use an instance; arena_pool hands arenas to
/// threads.
///
/// Example (a request scope; arena_scope rewinds on exit):
///
///     std::array<std::byte, 16384> stack_buffer;
///     pmrkit::arena_resource arena(stack_buffer.data(), stack_buffer.size());
///     for (const request& r : requests) {
///         {
///             std::pmr::vector<std::pmr::string> fields(&arena);
///             handle(r, fields);
///         }
///         arena.reset();   // the containers are gone; the memory is kept
///     }
class arena_resource final : public std::pmr::memory_resource {
public:
    /// A position in the arena, for rewind(). Valid until a rewind() to an earlier marker, reset()
    /// or release().
    class marker {
    private:
        friend class arena_resource;
        marker(std::byte* cursor, std::size_t chunks, std::size_t own_blocks,
               std::size_t used_before) noexcept
            : m_cursor(cursor), m_chunks(chunks), m_own_blocks(own_blocks),
              m_used_before(used_before) {}
        std::byte* m_cursor;
        std::size_t m_chunks;
        std::size_t m_own_blocks;
        std::size_t m_used_before;
    };

    /// Takes no memory: the first chunk is taken on first use. Throws std::invalid_argument if
    /// options.growth_factor is below 1 (or NaN).
    explicit arena_resource(const arena_options& options = {},
                            std::pmr::memory_resource* upstream = std::pmr::get_default_resource());
    /// Default options over `upstream`.
    explicit arena_resource(std::pmr::memory_resource* upstream)
        : arena_resource(arena_options{}, upstream) {}
    /// Serves requests from [buffer, buffer + buffer_size) first (a stack array, say); the buffer
    /// must outlive the arena and is never passed to upstream.
    arena_resource(void* buffer, std::size_t buffer_size, const arena_options& options = {},
                   std::pmr::memory_resource* upstream = std::pmr::get_default_resource());

    arena_resource(const arena_resource&) = delete;
    arena_resource& operator=(const arena_resource&) = delete;

    /// Returns all memory to upstream.
    ~arena_resource() override;

    /// Effects: a marker of the current position. Complexity: O(1).
    [[nodiscard]] marker mark() const noexcept {
        return {m_region.cursor(), m_chunks.count(), m_own_blocks.count(), m_used_before};
    }

    /// Effects: frees everything allocated since `m` was taken; chunks taken since are kept for
    /// reuse or given back, per options().rewind_keeps_chunks. Precondition: `m` came from this
    /// arena and is still valid (checked by assert).
    void rewind(const marker& m) noexcept;

    /// Effects: frees everything, but keeps the memory (up to options().max_retained bytes, largest
    /// chunks first) for the next use, so that a request like the last takes nothing from upstream.
    /// When the memory used since the last reset spans several chunks or own blocks and their
    /// total is at most max_chunk_size and max_retained, they are given back and replaced by one
    /// kept chunk of that total (one upstream call), so that from the next request on, a request
    /// like the last is served from one region, with no region switch and no upstream call; if
    /// upstream throws there, nothing of them is kept. That holds for blocks aligned to at most
    /// alignof(std::max_align_t): over-aligned ones may fall where the new chunk needs more
    /// padding than their old chunks did, and then take more; each reset adds what the cycle took,
    /// so a repeated request settles after a few. The growth sequence is not restarted. Resets
    /// peak_bytes_used().
    void reset() noexcept;

    /// Effects: gives every chunk and block back to upstream with the size and alignment it was
    /// taken with, and returns to the construction state, initial buffer included.
    void release() noexcept;

    /// The resource chunks and large blocks come from.
    [[nodiscard]] std::pmr::memory_resource* upstream_resource() const noexcept {
        return m_upstream;
    }
    /// The options after normalization.
    [[nodiscard]] const arena_options& options() const noexcept { return m_options; }

    /// Bytes handed out and not yet reclaimed (alignment padding included; the unused tails of
    /// regions left behind are not).
    [[nodiscard]] std::size_t bytes_used() const noexcept {
        return m_used_before + static_cast<std::size_t>(m_region.cursor() - m_begin);
    }
    /// The most bytes_used() has been since construction, reset() or release().
    [[nodiscard]] std::size_t peak_bytes_used() const noexcept {
        return std::max(m_peak, bytes_used());
    }
    /// Bytes held from upstream: chunks in use, own blocks of large requests and kept chunks (the
    /// initial buffer is not counted: it is the caller's).
    [[nodiscard]] std::size_t upstream_bytes() const noexcept {
        return m_chunks.bytes() + m_own_blocks.bytes() + m_kept.bytes();
    }
    /// Blocks held from upstream: chunks in use, own blocks of large requests and kept chunks.
    [[nodiscard]] std::size_t chunk_count() const noexcept {
        return m_chunks.count() + m_own_blocks.count() + m_kept.count();
    }
    /// Allocations asked of upstream since construction (not reset by reset() or release()).
    [[nodiscard]] std::size_t upstream_allocations() const noexcept {
        return m_upstream_allocations;
    }

    ///@{
    /// The 0.1 names: bytes_reserved() counted the initial buffer too.
    [[deprecated("use upstream_bytes() (+ the initial buffer's size)")]] [[nodiscard]] std::size_t
    bytes_reserved() const noexcept {
        return m_buffer_size + upstream_bytes();
    }
    [[deprecated("use upstream_allocations()")]] [[nodiscard]] std::size_t
    upstream_calls() const noexcept {
        return upstream_allocations();
    }
    ///@}

    /// The snapshot in the common shape: bytes_used(), peak_bytes_used(), upstream_allocations()
    /// and upstream_bytes(). The arena counts bytes, not blocks.
    [[nodiscard]] resource_stats stats() const noexcept {
        resource_stats s;
        s.resource = "arena_resource";
        s.bytes_in_use = bytes_used();
        s.peak_bytes_in_use = peak_bytes_used();
        s.upstream_allocations = upstream_allocations();
        s.upstream_bytes = upstream_bytes();
        return s;
    }

private:
    [[nodiscard]] static std::size_t nonzero(std::size_t bytes) noexcept {
        return bytes + static_cast<std::size_t>(bytes == 0);
    }

    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        PMRKIT_THREAD_CHECK(m_in_use, "arena_resource");
        bytes = nonzero(bytes);
        if (detail::is_power_of_two(alignment)) [[likely]] {
            if (void* p = m_region.allocate(bytes, alignment)) [[likely]] {
                detail::asan_unpoison(p, bytes);
                return p;
            }
        }
        return allocate_slow(bytes, alignment);
    }

    void do_deallocate(void* p, std::size_t bytes, std::size_t /*alignment*/) override {
        PMRKIT_THREAD_CHECK(m_in_use, "arena_resource");
        // Only the newest block of the current region can be taken back; anything else waits for
        // rewind(), reset() or release().
        auto* block = static_cast<std::byte*>(p);
        if (block + nonzero(bytes) == m_region.cursor() &&
            !std::less<std::byte*>{}(block, m_begin)) {
            note_peak();
            detail::asan_poison(block, static_cast<std::size_t>(m_region.cursor() - block));
            m_region.rewind_to(block);
        }
    }

    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

    PMRKIT_NOINLINE void* allocate_slow(std::size_t bytes, std::size_t alignment);
    // Makes the front of m_chunks the current region and serves the request (which fits) from it.
    void* allocate_in_new_region(std::size_t bytes, std::size_t alignment) noexcept;
    detail::chunk_list::payload take_block(detail::chunk_list& list, std::size_t bytes,
                                           std::size_t alignment);
    void enter_region(std::byte* begin, std::byte* cursor, std::byte* end) noexcept;
    [[nodiscard]] std::byte* limited_end(std::byte* begin, std::byte* end) const noexcept;
    void note_peak() noexcept { m_peak = std::max(m_peak, bytes_used()); }
    void keep_front(detail::chunk_list& list) noexcept;
    void give_back_front(detail::chunk_list& list) noexcept;
    void trim_kept() noexcept;
    // Replaces the chunks and own blocks in use by one kept chunk of `bytes` (their total).
    void consolidate(std::size_t bytes) noexcept;

    // Fast-path fields first: the cursor and end of the current region, and its start for
    // deallocate's check.
    detail::bump_region m_region;
    std::byte* m_begin = nullptr;
    // The current region's real end (m_region's end is earlier when byte_limit is near).
    std::byte* m_end = nullptr;
    // bytes_used() outside the current region.
    std::size_t m_used_before = 0;
    std::size_t m_peak = 0;
    std::size_t m_next_chunk_size;
    std::size_t m_upstream_allocations = 0;
    detail::chunk_list m_chunks;     // regions after the initial buffer, newest (current) first
    detail::chunk_list m_own_blocks; // blocks of large requests, newest first
    detail::chunk_list m_kept;       // chunks kept by reset() or rewind(), next to use first
    std::byte* m_buffer;
    std::size_t m_buffer_size;
    std::pmr::memory_resource* m_upstream;
    arena_options m_options;
    detail::entry_flag m_in_use; // concurrent-use detection, see thread_check.hpp
};

/// arena_scope: marks an arena on construction and rewinds it on destruction, so everything
/// allocated inside the scope is freed when it ends. Scopes nest (destroy them in reverse order,
/// as C++ scopes do). Not copyable or movable.
///
/// Example:
///
///     pmrkit::arena_scope scope(arena);
///     std::pmr::vector<int> scratch(&arena);   // destroyed before the scope, then rewound
class arena_scope {
public:
    /// Marks `arena`, which must outlive the scope.
    explicit arena_scope(arena_resource& arena) noexcept : m_arena(arena), m_marker(arena.mark()) {}
    arena_scope(const arena_scope&) = delete;
    arena_scope& operator=(const arena_scope&) = delete;
    ~arena_scope() { m_arena.rewind(m_marker); }

    /// The arena the scope rewinds.
    [[nodiscard]] arena_resource& arena() const noexcept { return m_arena; }

private:
    arena_resource& m_arena;
    arena_resource::marker m_marker;
};

} // namespace pmrkit
