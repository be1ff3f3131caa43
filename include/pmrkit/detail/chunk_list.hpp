// SPDX-License-Identifier: MIT
// Chunks taken from an upstream resource, linked through a footer stored at the end of each chunk.
// The footer remembers the exact size and alignment the chunk was taken with, so giving it back
// needs no outside bookkeeping. A footer (rather than a header) keeps the payload at the chunk's
// start, so a 4096-aligned pool does not pad a header up to 4096 bytes.
//
//   chunk:  [ payload ............................ | footer{next, bytes, alignment} ]
//           ^ upstream pointer, aligned as asked     ^ align_up(payload, alignof(footer))
#pragma once

#include <cstddef>
#include <memory_resource>

namespace pmrkit::detail {

class chunk_list {
public:
    struct span {
        std::byte* begin;
        std::byte* end;
    };

    // Takes a chunk whose payload holds at least `payload_bytes` bytes aligned to `alignment`.
    // Throws std::bad_alloc if the total size overflows; an exception from upstream propagates
    // and leaves the list unchanged.
    span allocate(std::pmr::memory_resource& upstream, std::size_t payload_bytes,
                  std::size_t alignment);

    // Gives back the newest chunk. Precondition: !empty().
    void deallocate_front(std::pmr::memory_resource& upstream) noexcept;

    // Gives back every chunk, newest first.
    void release(std::pmr::memory_resource& upstream) noexcept;

    [[nodiscard]] bool empty() const noexcept { return m_head == nullptr; }
    // Precondition: !empty().
    [[nodiscard]] span front() const noexcept { return payload_of(m_head); }
    [[nodiscard]] std::size_t count() const noexcept { return m_count; }
    // Bytes held from upstream, footers included.
    [[nodiscard]] std::size_t bytes() const noexcept { return m_bytes; }
    // Chunks taken from upstream since construction; those given back are this minus count().
    [[nodiscard]] std::size_t chunks_taken() const noexcept { return m_taken; }

    static constexpr std::size_t overhead = 3 * sizeof(std::size_t);

private:
    struct footer {
        footer* next;
        std::size_t bytes;
        std::size_t alignment;
    };
    static_assert(sizeof(footer) == overhead);

    static span payload_of(footer* f) noexcept {
        auto* end = reinterpret_cast<std::byte*>(f);
        return {end + sizeof(footer) - f->bytes, end};
    }

    footer* m_head = nullptr;
    std::size_t m_count = 0;
    std::size_t m_bytes = 0;
    std::size_t m_taken = 0;
};

} // namespace pmrkit::detail
