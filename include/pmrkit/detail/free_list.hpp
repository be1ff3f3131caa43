// SPDX-License-Identifier: MIT
// Intrusive LIFO list of free blocks: the link lives in the free block itself, so a pool needs no
// per-block header. LIFO order hands back the most recently freed (cache-warm) block first. Every
// pmrkit pool keeps its free blocks here, and only here are links read or written.
//
// Protected links (every build but PMRKIT_UNPROTECTED). With raw links, one use-after-free write
// of an address into a freed block chooses what a later allocate returns (glibc's "tcache
// poisoning"), and a double free hands one block out twice. So, as glibc's safe-linking and tcache
// key do, at a few instructions per operation:
// - A link is stored as next ^ block ^ key: the owner's secret (free_list_key, drawn from the
//   system's random source) and the address of the block holding the link. A value written there
//   decodes to an address the writer cannot choose without the key, and a link copied into another
//   block decodes to another address.
// - Every pop checks the decoded address against the owner's block alignment. The key's low bit is
//   set, so any even value written into a link (a pointer, zero, most integers) decodes to an odd
//   address and is always caught; an odd value passes with probability 2 / alignment.
// - A free block of 16 bytes or more carries the owner's mark (a second secret word) in its second
//   word. A push that finds the mark there walks the list, and finding the block on it is a double
//   free; a pop clears the mark. So a block freed again while it is still on the list the second
//   free pushes onto is caught; one that has meanwhile moved to another list (a span's list,
//   another thread's cache) is not. A block of one word (8 bytes; 4 in 32 bits) has no second
//   word and no double-free check.
// A failed check stops the program with a message (report_heap_corruption).
//
// The key is the owner's, not the list's: a pool holds one free_list_key for all its lists (blocks
// and whole lists move between them unchanged) and passes it to every operation, with the offset of
// the mark in its blocks (mark_offset). Beside each list head, keys would grow every list, span
// headers and thread-cache bins included, by 16 bytes, and cost the same loads on the fast paths.
//
// Hardened (PMRKIT_HARDENED) adds: the mark is bound to the link (stored as mark ^ link) and
// checked on every pop, so any write into the first two words of the block handed out is reported,
// a one-byte overflow from the block below it included. The pools add their own checks
// (owned_spans, owned_ranges).
//
// PMRKIT_UNPROTECTED: raw links, no mark, no check. A use-after-free write or a double free then
// silently corrupts the pool: for programs that measured the cost and accept that.
//
// The encoding is an xor of whole words: it assumes nothing about the address width (57-bit
// address spaces, tagged pointers), only the blocks' alignment.
//
// Under AddressSanitizer the words a free block's list uses stay poisoned, unpoisoned only while
// the list reads or writes them, so that a pool may poison its free blocks whole.
#pragma once

#include "pmrkit/detail/asan.hpp"
#include "pmrkit/detail/config.hpp"

#if PMRKIT_VALGRIND
#include <valgrind/memcheck.h>
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace pmrkit::detail {

// Prints "pmrkit: <what> (block <block>)" to stderr and aborts.
[[noreturn]] PMRKIT_COLD void report_heap_corruption(const char* what, const void* block) noexcept;
// The hardened builds' report of a deallocate the pool's ownership check rejects.
[[noreturn]] PMRKIT_COLD void report_foreign_pointer(const void* p) noexcept;

// The secrets of one owner's free lists. Each key is new: it mixes a per-process secret, read once
// from the system (getrandom(2), else std::random_device), with a count of the keys made, so no two
// instances share one. Not cryptographic: an attacker who can read a free block's words and knows
// its address learns the key of its owner (as glibc's safe-linking yields to a heap-address leak).
class free_list_key {
public:
    // For blocks aligned to at least `alignment` (a power of two, at least alignof(void*)).
    explicit free_list_key(std::size_t alignment = alignof(void*)) noexcept;

private:
    template <link_protection>
    friend class basic_free_list;

    std::uintptr_t m_link;       // low bit set: an even value written into a link decodes odd
    std::uintptr_t m_mark;       // never 0, the value a pop leaves
    std::uintptr_t m_misaligned; // alignment - 1
};

template <link_protection Protection>
class basic_free_list {
public:
    // Where a free block of block_size bytes keeps its mark: in its second word. A block of one
    // word has no room: its mark is written into the link word, then overwritten by the link, so
    // it has no double-free check but costs no branch.
    [[nodiscard]] static constexpr std::size_t mark_offset(std::size_t block_size) noexcept {
        return block_size >= 2 * word ? word : 0;
    }

    // Preconditions, for every operation: blocks are aligned to the key's alignment; key and
    // mark_at are those every push onto this list used, mark_at = mark_offset(block size).
    void push(void* block, const free_list_key& key, std::size_t mark_at) noexcept {
        auto* b = static_cast<std::byte*>(block);
        asan_unpoison(b, mark_at + word);
        if constexpr (Protection != link_protection::none) {
#if PMRKIT_VALGRIND
            VALGRIND_MAKE_MEM_DEFINED(b, mark_at + word);
#endif
            if (load(b + mark_at) == mark(load(b), key)) [[unlikely]] {
                push_marked(b, key, mark_at);
                return;
            }
        }
        link_on(b, key, mark_at);
    }

    // For a block handed out other than by pop, carved from memory upstream gave: clears what may
    // read as its double-free mark, left there by a free block of the same key that the memory
    // held before (a span or chunk given back and taken again). Otherwise the block's first free,
    // if the caller has not written that word, walks the whole list looking for a double free
    // (sqlite3's trace replayed: 27% of size_class's instructions).
    static void unmark(void* block, std::size_t mark_at) noexcept {
        if constexpr (Protection != link_protection::none) {
            store(static_cast<std::byte*>(block) + mark_at, 0);
        }
    }

    // Returns nullptr when empty.
    [[nodiscard]] void* pop(const free_list_key& key, std::size_t mark_at) noexcept {
        std::byte* b = m_head;
        if (b != nullptr) [[likely]] {
            asan_unpoison(b, mark_at + word);
            const std::uintptr_t link = load(b);
            m_head = decode(link, b, key);
            if constexpr (Protection == link_protection::hardened) {
                if (mark_at != 0 && load(b + mark_at) != mark(link, key)) [[unlikely]] {
                    report_heap_corruption("free block overwritten: a write into a freed block or "
                                           "an overflow from the block below",
                                           b);
                }
            }
            if constexpr (Protection != link_protection::none) {
                store(b + mark_at, 0);
            }
        }
        return b;
    }

    // Detaches the first n blocks as a list of their own, in order, walking n - 1 links (so a
    // thread can cut a batch before it takes a lock). Precondition: n <= size(key).
    [[nodiscard]] basic_free_list split_front(std::size_t n, const free_list_key& key,
                                              std::size_t mark_at) noexcept {
        basic_free_list front;
        if (n == 0) {
            return front;
        }
        front.m_head = m_head;
        void* last = m_head;
        for (std::size_t i = 1; i < n; ++i) {
            last = next(last, key);
        }
        m_head = static_cast<std::byte*>(next(last, key));
        relink(static_cast<std::byte*>(last), nullptr, key, mark_at);
        return front;
    }

    // Unlinks the n blocks that follow the first `skip` and hands each to f, unmarked, which may
    // push it onto another list of the same key. Precondition: skip + n <= size(key).
    template <class F>
    void remove_range(std::size_t skip, std::size_t n, const free_list_key& key,
                      std::size_t mark_at, F f) noexcept {
        std::byte* before = nullptr;
        std::byte* at = m_head;
        for (std::size_t i = 0; i < skip; ++i) {
            before = at;
            at = static_cast<std::byte*>(next(at, key));
        }
        for (std::size_t i = 0; i < n; ++i) {
            auto* after = static_cast<std::byte*>(next(at, key));
            if constexpr (Protection != link_protection::none) {
                // Marked, its next push would walk the list for a double free.
                asan_unpoison(at, mark_at + word);
                store(at + mark_at, 0);
                asan_poison(at, mark_at + word);
            }
            f(static_cast<void*>(at));
            at = after;
        }
        if (before == nullptr) {
            m_head = at;
            return;
        }
        relink(before, at, key, mark_at);
    }

    // For walking the list without changing it: the first block, and the one after a block.
    [[nodiscard]] void* front() const noexcept {
        return m_head;
    }
    [[nodiscard]] static void* next(const void* block, const free_list_key& key) noexcept {
        const auto* b = static_cast<const std::byte*>(block);
        asan_unpoison(b, word);
        void* after = decode(load(b), b, key);
        asan_poison(b, word);
        return after;
    }

    [[nodiscard]] bool empty() const noexcept {
        return m_head == nullptr;
    }
    void clear() noexcept {
        m_head = nullptr;
    }

    // O(n): for observers and tests, never on an allocation path.
    [[nodiscard]] std::size_t size(const free_list_key& key) const noexcept {
        std::size_t n = 0;
        for (const void* p = m_head; p != nullptr; p = next(p, key)) {
            ++n;
        }
        return n;
    }

private:
    static constexpr std::size_t word = sizeof(std::uintptr_t);

    [[nodiscard]] static std::uintptr_t load(const std::byte* at) noexcept {
        std::uintptr_t value;
        std::memcpy(&value, at, word);
        return value;
    }
    static void store(std::byte* at, std::uintptr_t value) noexcept {
        std::memcpy(at, &value, word);
    }
    [[nodiscard]] static std::uintptr_t address(const void* p) noexcept {
        return reinterpret_cast<std::uintptr_t>(p);
    }

    [[nodiscard]] static std::uintptr_t encode(const void* next, const std::byte* at,
                                               const free_list_key& key) noexcept {
        if constexpr (Protection == link_protection::none) {
            return address(next);
        } else {
            return address(next) ^ address(at) ^ key.m_link;
        }
    }
    // The next block; a link that does not decode to an aligned address stops the program.
    [[nodiscard]] static std::byte* decode(std::uintptr_t link, const std::byte* at,
                                           const free_list_key& key) noexcept {
        if constexpr (Protection == link_protection::none) {
            return reinterpret_cast<std::byte*>(link);
        } else {
            const std::uintptr_t next = link ^ address(at) ^ key.m_link;
            if ((key.m_misaligned & next) != 0) [[unlikely]] {
                report_heap_corruption("free-list link overwritten: a write into a freed block",
                                       at);
            }
            return reinterpret_cast<std::byte*>(next);
        }
    }
    // What a free block's mark word holds, given its link word.
    [[nodiscard]] static std::uintptr_t mark([[maybe_unused]] std::uintptr_t link,
                                             const free_list_key& key) noexcept {
        if constexpr (Protection == link_protection::hardened) {
            return key.m_mark ^ link;
        } else {
            return key.m_mark;
        }
    }

    // Points a listed block at another next block, its hardened mark with it.
    static void relink(std::byte* b, const void* after, const free_list_key& key,
                       [[maybe_unused]] std::size_t mark_at) noexcept {
        asan_unpoison(b, mark_at + word);
        const std::uintptr_t link = encode(after, b, key);
        if constexpr (Protection == link_protection::hardened) {
            store(b + mark_at, mark(link, key));
        }
        store(b, link);
        asan_poison(b, mark_at + word);
    }

    // Makes b (unpoisoned) the head.
    void link_on(std::byte* b, const free_list_key& key, std::size_t mark_at) noexcept {
        const std::uintptr_t link = encode(m_head, b, key);
        if constexpr (Protection != link_protection::none) {
            store(b + mark_at, mark(link, key));
        }
        // Between the block's two stores, so that GCC does not merge them into one vector store
        // (three instructions for two).
        m_head = b;
        store(b, link);
        asan_poison(b, mark_at + word);
    }

    // The push of a block whose mark says it is free: a double free, or a live block whose word
    // happens to hold the mark (only if it was copied there); the walk tells which. Out of line
    // and whole, so that a push ends in it (a tail call) and the fast paths save no register.
    PMRKIT_NOINLINE PMRKIT_COLD void push_marked(std::byte* b, const free_list_key& key,
                                                 std::size_t mark_at) noexcept {
        for (const void* p = m_head; p != nullptr; p = next(p, key)) {
            if (p == b) {
                report_heap_corruption("double free: the block is already free", b);
            }
        }
        link_on(b, key, mark_at);
    }

    std::byte* m_head = nullptr;
};

using free_list = basic_free_list<build_protection>;

// Where a free block of every pmrkit pool keeps its mark: all blocks are at least min_pooled_block.
inline constexpr std::size_t pool_mark_at = free_list::mark_offset(min_pooled_block);

} // namespace pmrkit::detail
