// SPDX-License-Identifier: MIT
// The "limit" rows: the least a pool can do per operation when it is reached through a virtual
// call. No size or alignment checks, no statistics, chunks linked up front: a floor to measure
// real pools against, not something to use.
#pragma once

#include "identity_resource.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <mutex>
#include <vector>

namespace pmrkit_bench {

// Upstream chunks carved into linked blocks; gives every chunk back on destruction.
class limit_chunks {
public:
    static constexpr std::size_t chunk_bytes = 64 * 1024;

    explicit limit_chunks(std::pmr::memory_resource* upstream) : m_upstream(upstream) {}
    limit_chunks(const limit_chunks&) = delete;
    limit_chunks& operator=(const limit_chunks&) = delete;
    ~limit_chunks() {
        for (void* chunk : m_chunks) {
            m_upstream->deallocate(chunk, chunk_bytes, alignof(std::max_align_t));
        }
    }

    // Out of line so that the callers' fast paths stay a pop or a push.
    [[gnu::noinline]] void** carve(std::size_t block_bytes) {
        auto* chunk =
            static_cast<std::byte*>(m_upstream->allocate(chunk_bytes, alignof(std::max_align_t)));
        m_chunks.push_back(chunk);
        const std::size_t blocks = chunk_bytes / block_bytes;
        for (std::size_t i = 0; i + 1 < blocks; ++i) {
            *reinterpret_cast<void**>(chunk + i * block_bytes) = chunk + (i + 1) * block_bytes;
        }
        *reinterpret_cast<void**>(chunk + (blocks - 1) * block_bytes) = nullptr;
        return reinterpret_cast<void**>(chunk);
    }

private:
    std::pmr::memory_resource* m_upstream;
    std::vector<void*> m_chunks;
};

// Each free block holds the address of the next one.
struct limit_list {
    void** head = nullptr;

    void* pop(limit_chunks& chunks, std::size_t block_bytes) {
        if (head == nullptr) [[unlikely]] {
            head = chunks.carve(block_bytes);
        }
        void** block = head;
        head = static_cast<void**>(*block);
        return block;
    }
    void push(void* block) {
        *static_cast<void**>(block) = head;
        head = static_cast<void**>(block);
    }
};

// One list of 64-byte blocks: the floor for a fixed-block pool (W1, W2).
class limit_free_list final : public identity_resource {
public:
    static constexpr std::size_t block_bytes = 64;

    explicit limit_free_list(std::pmr::memory_resource* upstream) : m_chunks(upstream) {}

private:
    void* do_allocate(std::size_t, std::size_t) override {
        return m_list.pop(m_chunks, block_bytes);
    }
    void do_deallocate(void* p, std::size_t, std::size_t) override { m_list.push(p); }
    limit_list m_list;
    limit_chunks m_chunks;
};

// One list per 16-byte size class up to 1024 bytes: the floor for a size-class pool (W3).
class limit_size_class final : public identity_resource {
public:
    static constexpr std::size_t class_bytes = 16;
    static constexpr std::size_t max_bytes = 1024;

    explicit limit_size_class(std::pmr::memory_resource* upstream) : m_chunks(upstream) {}

private:
    // Sizes 1..16 are class 0, 17..32 class 1, ...; sizes of 0 are not asked for in W3.
    static std::size_t class_of(std::size_t bytes) { return (bytes - 1) / class_bytes; }

    void* do_allocate(std::size_t bytes, std::size_t) override {
        const std::size_t c = class_of(bytes);
        return m_lists[c].pop(m_chunks, (c + 1) * class_bytes);
    }
    void do_deallocate(void* p, std::size_t bytes, std::size_t) override {
        m_lists[class_of(bytes)].push(p);
    }
    std::array<limit_list, max_bytes / class_bytes> m_lists{};
    limit_chunks m_chunks;
};

// One list per 16-byte size class up to 1024 bytes in every thread, chunks taken under a lock:
// the floor for a pool with per-thread caches (W6). A thread's lists are thread_local, tagged with
// the instance that filled them so that the lists of a destroyed instance are dropped, not used.
// A block freed by another thread joins that thread's list. No batches, no bounds, no checks.
struct limit_thread_lists {
    static constexpr std::size_t class_bytes = 16;
    static constexpr std::size_t max_bytes = 1024;
    std::uint64_t owner = 0;
    std::array<limit_list, max_bytes / class_bytes> of_class{};
};

inline constinit thread_local limit_thread_lists t_limit_lists{};

class limit_per_thread final : public identity_resource {
public:
    static constexpr std::size_t class_bytes = limit_thread_lists::class_bytes;

    explicit limit_per_thread(std::pmr::memory_resource* upstream)
        : m_id(s_next_id.fetch_add(1)), m_chunks(upstream) {}

private:
    limit_thread_lists& mine() {
        limit_thread_lists& l = t_limit_lists;
        if (l.owner != m_id) [[unlikely]] {
            l = limit_thread_lists{m_id, {}};
        }
        return l;
    }

    void* do_allocate(std::size_t bytes, std::size_t) override {
        const std::size_t c = (bytes - 1) / class_bytes;
        limit_list& list = mine().of_class[c];
        if (list.head == nullptr) [[unlikely]] {
            const std::lock_guard lock(m_mutex);
            list.head = m_chunks.carve((c + 1) * class_bytes);
        }
        return list.pop(m_chunks, (c + 1) * class_bytes);
    }
    void do_deallocate(void* p, std::size_t bytes, std::size_t) override {
        mine().of_class[(bytes - 1) / class_bytes].push(p);
    }

    static inline std::atomic<std::uint64_t> s_next_id{1};
    std::uint64_t m_id;
    std::mutex m_mutex;
    limit_chunks m_chunks;
};

} // namespace pmrkit_bench
