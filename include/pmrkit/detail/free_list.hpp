// SPDX-License-Identifier: MIT
// Intrusive LIFO list of free blocks: the link lives in the free block itself, so a pool needs no
// per-block header. LIFO order hands back the most recently freed (cache-warm) block first.
//
// Hardened (a build with PMRKIT_HARDENED defined, or Hardened = true): the link word holds the
// next block's address masked by a hash of the block's own address in its low 48 bits, and a
// check of both in its top 16. A pop or a walk that meets a link that does not check (a write
// into the first word of a freed block) and a push of a block that is already on the list (a
// double free) stop the program with a message on stderr. A live block whose first word happens
// to check (about 1 in 2^16 values, and no pointer or small integer) only costs a walk of the
// list to tell it from a double free, so there are no false reports. A write elsewhere in a freed
// block is not seen here (ASan poisoning reports it in sanitizer builds). Addresses must fit in 48
// bits, as user-space addresses do on x86-64 and AArch64 (a block above is reported).
//
// Under AddressSanitizer the link word of a free block stays poisoned, unpoisoned only while the
// list reads or writes it, so that a pool may poison its free blocks whole.
#pragma once

#include "pmrkit/detail/asan.hpp"
#include "pmrkit/detail/config.hpp"

#include <cstddef>
#include <cstdint>

namespace pmrkit::detail {

// Prints "pmrkit: <what> (block <block>)" to stderr and aborts.
[[noreturn, gnu::cold]] void report_heap_corruption(const char* what, const void* block) noexcept;

// The encoding of hardened links.
class link_codec {
public:
    [[nodiscard]] static std::uintptr_t encode(const void* next, const void* at) noexcept {
        const std::uint64_t m = mask(at);
        const std::uint64_t n = address(next);
        return static_cast<std::uintptr_t>((n ^ m) | (check(n, m) << address_bits));
    }

    // The next block, or false when the link was not written by encode for this block.
    [[nodiscard]] static bool decode(std::uintptr_t link, const void* at, void*& next) noexcept {
        const std::uint64_t m = mask(at);
        const std::uint64_t n = (link & low_mask) ^ m;
        next = reinterpret_cast<void*>(static_cast<std::uintptr_t>(n));
        return (link >> address_bits) == check(n, m) && n % alignof(void*) == 0;
    }

    [[nodiscard]] static bool encodable(const void* block) noexcept {
        return (address(block) >> address_bits) == 0;
    }

private:
    static constexpr unsigned address_bits = 48;
    static constexpr std::uint64_t low_mask = (std::uint64_t{1} << address_bits) - 1;

    [[nodiscard]] static std::uint64_t address(const void* p) noexcept {
        return reinterpret_cast<std::uintptr_t>(p);
    }
    // Differs per process with address-space randomization; the aim is to catch bugs, not to
    // resist an attacker who can read memory.
    [[nodiscard]] static std::uint64_t key() noexcept { return address(&anchor); }
    [[nodiscard]] static std::uint64_t mask(const void* at) noexcept {
        return ((address(at) ^ key()) * 0x9E3779B97F4A7C15ULL) >> (64 - address_bits);
    }
    // The top bit is always set, so that zero, small integers, pointers and text never check.
    // A sum, not the xor that is stored, so that a link copied to another block does not check.
    [[nodiscard]] static std::uint64_t check(std::uint64_t next, std::uint64_t mask) noexcept {
        return (((next + mask) * 0xD6E8FEB86659FD93ULL) >> (64 - 15)) | 0x8000;
    }

    static inline const char anchor = 0;
};

template <bool Hardened>
class basic_free_list {
public:
    // Precondition: block is at least sizeof(void*) bytes and aligned for a pointer.
    void push(void* block) noexcept {
        auto* n = static_cast<node*>(block);
        asan_unpoison(n, sizeof(node));
        if constexpr (Hardened) {
            check_push(n);
        }
        n->link = encode(m_head, n);
        asan_poison(n, sizeof(node));
        m_head = n;
    }

    // Returns nullptr when empty.
    [[nodiscard]] void* pop() noexcept {
        node* n = m_head;
        if (n != nullptr) [[likely]] {
            asan_unpoison(n, sizeof(node));
            m_head = static_cast<node*>(read_link(n));
        }
        return n;
    }

    // Detaches the first n blocks as a list of their own, in order, walking n - 1 links (so a
    // thread can cut a batch before it takes a lock). Precondition: n <= size().
    [[nodiscard]] basic_free_list split_front(std::size_t n) noexcept {
        basic_free_list front;
        if (n == 0) {
            return front;
        }
        front.m_head = m_head;
        node* last = m_head;
        for (std::size_t i = 1; i < n; ++i) {
            last = static_cast<node*>(next(last));
        }
        m_head = static_cast<node*>(next(last));
        asan_unpoison(last, sizeof(node));
        last->link = encode(nullptr, last);
        asan_poison(last, sizeof(node));
        return front;
    }

    // Unlinks the n blocks that follow the first `skip` and hands each to f, which may reuse its
    // link word (push it onto another list). Precondition: skip + n <= size().
    template <class F>
    void remove_range(std::size_t skip, std::size_t n, F f) noexcept {
        node* before = nullptr;
        node* at = m_head;
        for (std::size_t i = 0; i < skip; ++i) {
            before = at;
            at = static_cast<node*>(next(at));
        }
        for (std::size_t i = 0; i < n; ++i) {
            node* after = static_cast<node*>(next(at));
            if constexpr (Hardened) {
                // A valid link left in it would make the next list's push walk for a double free.
                asan_unpoison(at, sizeof(node));
                at->link = 0;
                asan_poison(at, sizeof(node));
            }
            f(static_cast<void*>(at));
            at = after;
        }
        if (before == nullptr) {
            m_head = at;
            return;
        }
        asan_unpoison(before, sizeof(node));
        before->link = encode(at, before);
        asan_poison(before, sizeof(node));
    }

    // For walking the list without changing it: the first block, and the one after a block.
    [[nodiscard]] void* front() const noexcept { return m_head; }
    [[nodiscard]] static void* next(const void* block) noexcept {
        const auto* n = static_cast<const node*>(block);
        asan_unpoison(n, sizeof(node));
        void* after = read_link(n);
        asan_poison(n, sizeof(node));
        return after;
    }

    [[nodiscard]] bool empty() const noexcept { return m_head == nullptr; }
    void clear() noexcept { m_head = nullptr; }

    // O(n): for observers and tests, never on an allocation path.
    [[nodiscard]] std::size_t size() const noexcept {
        std::size_t n = 0;
        for (const void* p = m_head; p != nullptr; p = next(p)) {
            ++n;
        }
        return n;
    }

private:
    struct node {
        std::uintptr_t link;
    };

    [[nodiscard]] static std::uintptr_t encode(const node* next,
                                               [[maybe_unused]] const node* at) noexcept {
        if constexpr (Hardened) {
            return link_codec::encode(next, at);
        } else {
            return reinterpret_cast<std::uintptr_t>(next);
        }
    }

    [[nodiscard]] static void* read_link(const node* n) noexcept {
        if constexpr (Hardened) {
            void* after = nullptr;
            if (!link_codec::decode(n->link, n, after)) [[unlikely]] {
                report_heap_corruption("free-list link overwritten: a write into a freed block",
                                       n);
            }
            return after;
        } else {
            return reinterpret_cast<void*>(n->link);
        }
    }

    // A block whose first word already checks as a link is on the list (a double free) or a live
    // block holding a value that happens to check; the walk tells which.
    void check_push(const node* n) const noexcept {
        if (!link_codec::encodable(n)) [[unlikely]] {
            report_heap_corruption("block address beyond 48 bits in a hardened free list", n);
        }
        void* ignored = nullptr;
        if (link_codec::decode(n->link, n, ignored)) [[unlikely]] {
            for (const void* p = m_head; p != nullptr; p = next(p)) {
                if (p == n) {
                    report_heap_corruption("double free: the block is already free", n);
                }
            }
        }
    }

    node* m_head = nullptr;
};

using free_list = basic_free_list<hardened_build>;

} // namespace pmrkit::detail
