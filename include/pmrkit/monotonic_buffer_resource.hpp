// SPDX-License-Identifier: MIT
#pragma once

#include "pmrkit/arena_resource.hpp"

#include <cstddef>
#include <memory_resource>

namespace pmrkit {

/// monotonic_buffer_resource: std::pmr::monotonic_buffer_resource with the same interface and the
/// standard's semantics ([mem.res.monotonic.buffer], with LWG 3120: release() returns to the
/// initial buffer and the initial next buffer size), served by arena_resource. Migrating is
/// changing the namespace (docs/migration.md).
///
/// How: a front end over an arena_resource with the standard's growth rule (a request larger than
/// the next buffer gets a buffer of its own size, which becomes current, and the buffer after it
/// is twice that size, as libc++'s; arena_options::large_requests_own_blocks = false). Buffers
/// asked of upstream: the first of initial_size bytes plus a footer of three words (so a block of
/// initial_size fits it), rounded up to 16 bytes and at least 256 (4 KiB plus the footer when no
/// size is given; twice the initial buffer's size, at least 256 bytes, after an initial buffer),
/// each next one twice the last, without a cap; always aligned to at least
/// alignof(std::max_align_t) and to the request that made it. deallocate does nothing: memory
/// comes back by release() and destruction.
///
/// Every power-of-two alignment is honoured; zero-byte requests get distinct addresses. Throws
/// what upstream throws, unchanged, and std::bad_alloc for a size no upstream could serve; the
/// resource stays usable after either.
///
/// Thread safety: none (the standard's). One thread at a time may use an instance (debug builds
/// stop the program when two threads use it at once).
///
/// Not final, as the standard's class is not: a class derived from it compiles unchanged.
///
/// Example:
///
///     std::array<std::byte, 16384> stack_buffer;
///     pmrkit::monotonic_buffer_resource mono(stack_buffer.data(), stack_buffer.size());
///     std::pmr::vector<std::pmr::string> fields(&mono);
class monotonic_buffer_resource : public std::pmr::memory_resource {
public:
    /// Takes no memory.
    explicit monotonic_buffer_resource(std::pmr::memory_resource* upstream);
    /// Precondition (the standard's): initial_size > 0; 0 is taken as the default size.
    monotonic_buffer_resource(std::size_t initial_size, std::pmr::memory_resource* upstream);
    /// Serves requests from [buffer, buffer + buffer_size) first; the buffer must outlive the
    /// resource and is never passed to upstream. buffer_size may be 0.
    monotonic_buffer_resource(void* buffer, std::size_t buffer_size,
                              std::pmr::memory_resource* upstream);
    /// Over std::pmr::get_default_resource(), as the standard's default constructor. Takes no
    /// memory.
    monotonic_buffer_resource() : monotonic_buffer_resource(std::pmr::get_default_resource()) {}
    /// Over the default resource; see the constructor with an upstream.
    explicit monotonic_buffer_resource(std::size_t initial_size)
        : monotonic_buffer_resource(initial_size, std::pmr::get_default_resource()) {}
    /// Over the default resource; see the constructor with an upstream.
    monotonic_buffer_resource(void* buffer, std::size_t buffer_size)
        : monotonic_buffer_resource(buffer, buffer_size, std::pmr::get_default_resource()) {}
    monotonic_buffer_resource(const monotonic_buffer_resource&) = delete;
    monotonic_buffer_resource& operator=(const monotonic_buffer_resource&) = delete;

    /// Calls release().
    ~monotonic_buffer_resource() override;

    /// Gives every buffer taken from upstream back to it and returns to the state right after
    /// construction: the initial buffer (if any) is current again, and the next buffer size is the
    /// initial one.
    void release() noexcept { m_arena.release(); }

    /// The resource buffers come from once the initial buffer is used up.
    [[nodiscard]] std::pmr::memory_resource* upstream_resource() const noexcept {
        return m_arena.upstream_resource();
    }

protected:
    /// The standard's: a block from the current buffer, or from a new, larger one.
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        return m_arena.allocate(bytes, alignment);
    }
    /// The standard's: no effect.
    void do_deallocate(void* /*p*/, std::size_t /*bytes*/, std::size_t /*alignment*/) override {}
    /// Identity: memory from one resource cannot go back to another.
    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

private:
    arena_resource m_arena;
};

} // namespace pmrkit
