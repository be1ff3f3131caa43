// SPDX-License-Identifier: MIT
// [cursor, end) of untouched memory, carved front to back. Pools carve fresh chunks lazily with it
// (no linking of a whole chunk up front); the arena is built on it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pmrkit::detail {

class bump_region {
public:
    bump_region() = default;
    bump_region(void* begin, void* end) noexcept
        : m_cursor(static_cast<std::byte*>(begin)), m_end(static_cast<std::byte*>(end)) {}

    // Returns `bytes` bytes aligned to `alignment` (a power of two), or nullptr when they do not
    // fit. The fit test compares remaining space, so no pointer past `end` is ever formed.
    [[nodiscard]] void* allocate(std::size_t bytes, std::size_t alignment) noexcept {
        const auto cursor = reinterpret_cast<std::uintptr_t>(m_cursor);
        const std::size_t padding = (0 - cursor) & (alignment - 1);
        if (padding > remaining() || bytes > remaining() - padding) {
            return nullptr;
        }
        std::byte* p = m_cursor + padding;
        m_cursor = p + bytes;
        return p;
    }

    // Fixed-stride carving for pools whose chunk is already aligned for every block.
    [[nodiscard]] void* take(std::size_t stride) noexcept {
        if (remaining() < stride) {
            return nullptr;
        }
        std::byte* p = m_cursor;
        m_cursor += stride;
        return p;
    }

    [[nodiscard]] std::size_t remaining() const noexcept {
        return static_cast<std::size_t>(m_end - m_cursor);
    }
    [[nodiscard]] std::byte* cursor() const noexcept { return m_cursor; }
    [[nodiscard]] std::byte* end() const noexcept { return m_end; }

    // Moves the cursor back to an earlier position of the same region (LIFO reuse, rewind).
    void rewind_to(void* position) noexcept { m_cursor = static_cast<std::byte*>(position); }

private:
    std::byte* m_cursor = nullptr;
    std::byte* m_end = nullptr;
};

} // namespace pmrkit::detail
