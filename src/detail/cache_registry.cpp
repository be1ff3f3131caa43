// SPDX-License-Identifier: MIT
#include "pmrkit/detail/cache_registry.hpp"

#include "pmrkit/detail/thread_cache.hpp"
#include "pmrkit/detail/thread_exit.hpp"

#include <vector>

namespace pmrkit::detail {

namespace {

// The calling thread's caches of every instance it has used, on the heap (see thread_exit.hpp).
struct registry final : thread_exit_state {
    struct entry {
        std::uint64_t id;
        std::shared_ptr<cache_owner> owner;
        void* cache;
    };
    std::vector<entry> entries;

    registry() noexcept : thread_exit_state{&retire_all} {}

    static void retire_all(thread_exit_state* self) noexcept {
        const std::unique_ptr<registry> r(static_cast<registry*>(self));
        for (entry& e : r->entries) {
            if constexpr (thread_locals_live_at_exit) {
                cache_slots::of(e.id) = {};
            }
            const std::lock_guard lock(e.owner->mutex);
            if (void* instance = e.owner->instance.load(std::memory_order_relaxed)) {
                e.owner->retire(instance, e.cache);
            }
        }
    }

    static registry* find() noexcept { return static_cast<registry*>(this_thread_exit_state()); }

    static registry& local() {
        if (registry* r = find()) {
            return *r;
        }
        auto r = std::make_unique<registry>();
        set_this_thread_exit_state(r.get());
        return *r.release();
    }
};

} // namespace

void* registered_cache(std::uint64_t id) noexcept {
    if (registry* r = registry::find()) {
        for (const registry::entry& e : r->entries) {
            if (e.id == id) {
                return e.cache;
            }
        }
    }
    return nullptr;
}

void reserve_cache_entry() {
    registry& r = registry::local();
    std::erase_if(r.entries, [](const registry::entry& e) {
        return e.owner->instance.load(std::memory_order_relaxed) == nullptr;
    });
    r.entries.reserve(r.entries.size() + 1);
}

void register_cache(std::uint64_t id, std::shared_ptr<cache_owner> owner, void* cache) noexcept {
    registry::find()->entries.push_back({id, std::move(owner), cache});
}

} // namespace pmrkit::detail
