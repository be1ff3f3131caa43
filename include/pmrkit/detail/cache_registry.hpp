// SPDX-License-Identifier: MIT
// cache_registry: which per-thread caches the calling thread holds, by instance id, and their
// return to their instance when the thread exits (through detail::thread_exit, so that the exit
// path does not depend on thread_local storage: MinGW frees it first).
//
// An instance shares a cache_owner with every thread that holds one of its caches; the owner
// outlives the instance while any of those threads lives, so a thread that exits after the
// instance is gone finds `instance == nullptr` and leaves the cache alone (the instance deleted
// it). A thread's entries are looked up only when its direct-mapped cache_slots miss, so a linear
// search is enough; entries of destroyed instances are dropped when the next cache is registered.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace pmrkit::detail {

// A 128-byte line pair of its own: its mutex is a pool's central lock, taken by every thread, and
// make_shared would otherwise place it beside the pool's own fields (the transfer cache's
// capacity, read at every batch any thread parks).
struct alignas(128) cache_owner {
    std::mutex mutex;
    // nullptr once the instance is gone; set under mutex. Atomic so that a thread can drop its
    // entries of dead instances without taking their locks: it may be inside a call to one of
    // them (a pool whose upstream is another pool, touched first by that pool's refill under its
    // lock), and taking its lock again would deadlock.
    std::atomic<void*> instance = nullptr;
    // Called with mutex held, when a thread that holds `cache` exits while the instance lives.
    void (*retire)(void* instance, void* cache) noexcept = nullptr;
};

// The calling thread's cache of instance id, or nullptr.
[[nodiscard]] void* registered_cache(std::uint64_t id) noexcept;
// Makes room for one more entry of the calling thread (throws std::bad_alloc), so that the
// register_cache that follows cannot fail once the cache is published to its instance.
void reserve_cache_entry();
// Records the calling thread's cache of instance id, after reserve_cache_entry().
void register_cache(std::uint64_t id, std::shared_ptr<cache_owner> owner, void* cache) noexcept;

} // namespace pmrkit::detail
