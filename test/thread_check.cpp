// SPDX-License-Identifier: MIT
// Detection of a single-threaded resource used by two threads at once: one thread is held inside
// allocate (its upstream blocks), a second thread calls allocate on the same resource and must be
// reported, with the resource's name. Sequential use from two threads must not be.
#include "pmrkit/detail/thread_check.hpp"
#include "pmrkit/arena_resource.hpp"
#include "pmrkit/fixed_block_resource.hpp"
#include "pmrkit/size_class_resource.hpp"
#include "support/thread_barrier.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <memory_resource>
#include <string>
#include <thread>

namespace pmrkit::test {
namespace {

// An upstream whose first allocation meets the test's thread at `sync` twice: once inside, then
// when released, so that caller stays inside the resource in between.
class blocking_upstream final : public std::pmr::memory_resource {
public:
    thread_barrier sync{2};

private:
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        if (!m_blocked.exchange(true)) {
            sync.arrive_and_wait(); // inside
            sync.arrive_and_wait(); // released
        }
        return std::pmr::new_delete_resource()->allocate(bytes, alignment);
    }
    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        std::pmr::new_delete_resource()->deallocate(p, bytes, alignment);
    }
    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }
    std::atomic<bool> m_blocked{false};
};

struct detected {
    std::string resource;
};

// Installs a handler that throws `detected` for the test's duration.
struct throwing_handler {
    throwing_handler()
        : previous(detail::set_concurrent_use_handler([](const char* r) { throw detected{r}; })) {}
    throwing_handler(const throwing_handler&) = delete;
    throwing_handler& operator=(const throwing_handler&) = delete;
    ~throwing_handler() { detail::set_concurrent_use_handler(previous); }
    detail::concurrent_use_handler previous;
};

// Returns the name reported when a second thread allocates while the first is inside.
template <class Resource>
std::string concurrent_allocate(Resource& resource, blocking_upstream& upstream) {
    const throwing_handler handler;
    std::thread inside([&] { resource.deallocate(resource.allocate(64, 8), 64, 8); });
    upstream.sync.arrive_and_wait(); // the other thread is inside
    std::string reported;
    try {
        (void)resource.allocate(64, 8);
    } catch (const detected& d) {
        reported = d.resource;
    }
    upstream.sync.arrive_and_wait(); // let it out
    inside.join();
    // Sequential use from this thread, now that the other has left: not reported.
    resource.deallocate(resource.allocate(64, 8), 64, 8);
    return reported;
}

} // namespace

#if PMRKIT_THREAD_CHECKS

TEST_CASE("thread checks: fixed_block_resource used by two threads at once is reported") {
    blocking_upstream upstream;
    fixed_block_resource pool(fixed_block_options{.block_size = 64}, &upstream);
    CHECK(concurrent_allocate(pool, upstream) == "fixed_block_resource");
}

TEST_CASE("thread checks: size_class_resource used by two threads at once is reported") {
    blocking_upstream upstream;
    size_class_resource pool(&upstream);
    CHECK(concurrent_allocate(pool, upstream) == "size_class_resource");
}

TEST_CASE("thread checks: arena_resource used by two threads at once is reported") {
    blocking_upstream upstream;
    arena_resource arena(&upstream);
    CHECK(concurrent_allocate(arena, upstream) == "arena_resource");
}

#endif

} // namespace pmrkit::test
