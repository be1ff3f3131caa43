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
    // A chunk's payload, [begin, end): its bytes before the footer.
    struct payload {
        std::byte* begin;
        std::byte* end;
    };

    // Takes a chunk whose payload holds at least `payload_bytes` bytes aligned to `alignment`.
    // Throws std::bad_alloc if the total size is not detail::is_satisfiable; an exception from
    // upstream propagates and leaves the list unchanged.
    payload allocate(std::pmr::memory_resource& upstream, std::size_t payload_bytes,
                  std::size_t alignment);

    // Gives back the newest chunk. Precondition: !empty().
    void deallocate_front(std::pmr::memory_resource& upstream) noexcept;

    // Gives back every chunk, newest first.
    void release(std::pmr::memory_resource& upstream) noexcept;

    // Moves the front chunk of `from` to the front of this list, without touching upstream
    // (an arena keeps chunks it no longer uses for the next request). Precondition: !from.empty().
    void splice_front(chunk_list& from) noexcept { push_front(from.unlink(&from.m_head)); }

    // Moves the first chunk of `from` whose payload satisfies `fits` to the front of this
    // list. Returns false, changing nothing, when none does. O(chunks passed over).
    template <class Fits>
    bool splice_first_if(chunk_list& from, Fits fits) noexcept {
        footer** link = &from.m_head;
        while (*link != nullptr && !fits(payload_of(*link))) {
            link = &(*link)->next;
        }
        if (*link == nullptr) {
            return false;
        }
        push_front(from.unlink(link));
        return true;
    }

    // Orders the chunks by size, largest first (stable merge sort: O(n log n), no allocation).
    void sort_largest_first() noexcept;

    [[nodiscard]] bool empty() const noexcept { return m_head == nullptr; }
    // Precondition: !empty().
    [[nodiscard]] payload front() const noexcept { return payload_of(m_head); }
    // Bytes the front chunk was taken with, footer included. Precondition: !empty().
    [[nodiscard]] std::size_t front_bytes() const noexcept { return m_head->bytes; }
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

    // Takes the chunk *link out of this list.
    footer* unlink(footer** link) noexcept {
        footer* f = *link;
        *link = f->next;
        --m_count;
        m_bytes -= f->bytes;
        return f;
    }
    void push_front(footer* f) noexcept {
        f->next = m_head;
        m_head = f;
        ++m_count;
        m_bytes += f->bytes;
    }

    static footer* merge(footer* a, footer* b) noexcept;
    static footer* run_end(footer* first, std::size_t width) noexcept;

    static payload payload_of(footer* f) noexcept {
        auto* end = reinterpret_cast<std::byte*>(f);
        return {end + sizeof(footer) - f->bytes, end};
    }

    footer* m_head = nullptr;
    std::size_t m_count = 0;
    std::size_t m_bytes = 0;
    std::size_t m_taken = 0;
};

} // namespace pmrkit::detail
