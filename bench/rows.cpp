// SPDX-License-Identifier: MIT
#include "rows.hpp"

#include "adaptors.hpp"
#include "limit_resources.hpp"

#include <pmrkit/aligned_pool_resource.hpp>
#include <pmrkit/arena_resource.hpp>
#include <pmrkit/concurrent_pool_resource.hpp>
#include <pmrkit/decorators/stats_resource.hpp>
#include <pmrkit/decorators/synchronized_resource.hpp>
#include <pmrkit/fixed_block_resource.hpp>
#include <pmrkit/monotonic_buffer_resource.hpp>
#include <pmrkit/size_class_resource.hpp>
#include <pmrkit/sources/heap_resource.hpp>
#include <pmrkit/synchronized_pool_resource.hpp>
#include <pmrkit/unsynchronized_pool_resource.hpp>

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace pmrkit_bench {

namespace {

using upstream_ptr = std::pmr::memory_resource*;

template <class Resource>
stack own(std::unique_ptr<Resource> resource) {
    Resource* raw = resource.get();
    return {std::move(resource), raw, {}};
}

// For resources whose memory only comes back all at once (release(), reset(), unwind()): the stack
// calls Drop after every request, which bounds what they hold.
template <auto Drop, class Resource>
stack own_dropped_after_request(std::unique_ptr<Resource> resource) {
    Resource* raw = resource.get();
    return {std::move(resource), raw, [raw] { (raw->*Drop)(); }};
}

// Owns a pool and a decorator over it. The stack allocates from the decorator itself, so the
// holder adds no call; its own allocate and deallocate only make it a complete resource.
template <class Decorator, class Pool>
class decorated_pool final : public identity_resource {
public:
    template <class Options>
    decorated_pool(const Options& options, upstream_ptr upstream)
        : m_pool(options, upstream), m_top(&m_pool) {}

    Decorator& top() { return m_top; }

private:
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        return m_top.allocate(bytes, alignment);
    }
    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        m_top.deallocate(p, bytes, alignment);
    }

    Pool m_pool;
    Decorator m_top;
};

template <class Decorator, class Pool>
stack own_decorated(std::unique_ptr<decorated_pool<Decorator, Pool>> holder) {
    Decorator* top = &holder->top();
    return {std::move(holder), top, {}};
}

// The drop-in monotonic over the same initial buffer as buffered_monotonic (adaptors.hpp).
class buffered_dropin_monotonic final : private upstream_buffer,
                                        public pmrkit::monotonic_buffer_resource {
public:
    explicit buffered_dropin_monotonic(std::pmr::memory_resource* upstream)
        : upstream_buffer(upstream, buffered_monotonic::buffer_bytes),
          monotonic_buffer_resource(m_buffer, m_buffer_bytes, upstream) {}
};

// THE table: one entry per row, in the order of the report.
const row table[] = {
    {.name = "new_delete",
     .note = "std::pmr::new_delete_resource(): the baseline, every operation is a malloc",
     .workloads = all_workloads | threaded_workloads,
     .make =
         [](upstream_ptr upstream) {
             return stack{nullptr, upstream, {}};
         },
     .is_upstream = true},
    {.name = "heap",
     .note = "pmrkit::heap(): plain operator new where it guarantees the alignment, aligned "
             "new above; no upstream, every operation is a malloc as in new_delete (its upstream "
             "traffic shows 0); also run under each preloaded malloc",
     .workloads = all_workloads,
     .make =
         [](upstream_ptr) {
             return stack{nullptr, pmrkit::heap(), {}};
         }},
    {.name = "std_unsync_pool",
     .note = "std::pmr::unsynchronized_pool_resource, default options; libstdc++ 12 picks a pool "
             "by size alone, so allocate(17..24, 16) returns 8-aligned blocks and alignment 64 "
             "is not honoured either: its W3 and W9 blocks are under-aligned",
     .workloads = all_workloads,
     .make =
         [](upstream_ptr upstream) {
             return own(std::make_unique<std::pmr::unsynchronized_pool_resource>(upstream));
         },
     .known_misaligned = W3 | W9},
    {.name = "std_monotonic",
     .note = "std::pmr::monotonic_buffer_resource, release() after every iteration: every 1000 ops "
             "in W1 and W2, after each container in W4a-c (10k strings, 10k nodes, 100k "
             "inserts), after each request in W5",
     .workloads = W1 | W2 | W4a | W4b | W4c | W5 | W5f | W5s,
     .make =
         [](upstream_ptr upstream) {
             return own_dropped_after_request<&std::pmr::monotonic_buffer_resource::release>(
                 std::make_unique<std::pmr::monotonic_buffer_resource>(upstream));
         }},
    {.name = "std_monotonic_buffer",
     .note = "std::pmr::monotonic_buffer_resource over a 256 KiB initial buffer (taken once from "
             "upstream, so counted in its bytes) reused after release() per request",
     .workloads = W5 | W5f | W5s,
     .make =
         [](upstream_ptr upstream) {
             return own_dropped_after_request<&std::pmr::monotonic_buffer_resource::release>(
                 std::make_unique<buffered_monotonic>(upstream));
         }},
    {.name = "dropin_unsync_pool",
     .note = "std -> pmrkit drop-in: pmrkit::unsynchronized_pool_resource, default options, in "
             "std_unsync_pool's place",
     .workloads = all_workloads,
     .make =
         [](upstream_ptr upstream) {
             return own(std::make_unique<pmrkit::unsynchronized_pool_resource>(upstream));
         }},
    {.name = "dropin_monotonic",
     .note = "std -> pmrkit drop-in: pmrkit::monotonic_buffer_resource in std_monotonic's place, "
             "released as it is",
     .workloads = W1 | W2 | W4a | W4b | W4c | W5 | W5f | W5s,
     .make =
         [](upstream_ptr upstream) {
             return own_dropped_after_request<&pmrkit::monotonic_buffer_resource::release>(
                 std::make_unique<pmrkit::monotonic_buffer_resource>(upstream));
         }},
    {.name = "dropin_monotonic_buffer",
     .note = "std -> pmrkit drop-in: pmrkit::monotonic_buffer_resource over the same initial "
             "buffer as std_monotonic_buffer, released after each request",
     .workloads = W5 | W5f | W5s,
     .make =
         [](upstream_ptr upstream) {
             return own_dropped_after_request<&pmrkit::monotonic_buffer_resource::release>(
                 std::make_unique<buffered_dropin_monotonic>(upstream));
         }},
    {.name = "foonathan_memory_stack",
     .note = "foonathan::memory::memory_stack, first block 4 KiB, unwound to its start after each "
             "request (keeps its blocks), through adaptor",
     .workloads = W5 | W5f | W5s,
     .make =
         [](upstream_ptr upstream) {
             return own_dropped_after_request<&foonathan_stack::unwind>(
                 std::make_unique<foonathan_stack>(upstream));
         }},
    {.name = "boost_unsync_pool",
     .note = "boost::container::pmr::unsynchronized_pool_resource, default options, through "
             "adaptor; its pools ignore the alignment, so its W8 and W9 blocks are under-aligned",
     .workloads = all_workloads,
     .make =
         [](upstream_ptr upstream) { return own(std::make_unique<boost_unsync_pool>(upstream)); },
     .known_misaligned = W8 | W9},
    {.name = "foonathan_memory_pool",
     .note = "foonathan::memory::memory_pool<node_pool>, node size 64, first block 4 KiB, through "
             "adaptor",
     .workloads = W1 | W2,
     .make =
         [](upstream_ptr upstream) { return own(std::make_unique<foonathan_pool>(64, upstream)); }},
    {.name = "limit_free_list",
     .note = "hand-written intrusive free list of 64 B blocks in 64 KiB chunks, no checks: the "
             "floor for a fixed-block pool behind a virtual call",
     .workloads = W1 | W2,
     .make =
         [](upstream_ptr upstream) { return own(std::make_unique<limit_free_list>(upstream)); }},
    {.name = "limit_size_class",
     .note = "hand-written free list per 16 B size class up to 1024 B, 64 KiB chunks, no checks: "
             "the floor for a size-class pool (W2: its 64 B class alone)",
     .workloads = W2 | W3,
     .make =
         [](upstream_ptr upstream) { return own(std::make_unique<limit_size_class>(upstream)); }},
    {.name = "arena",
     .note = "pmrkit::arena_resource, default options (first chunk 4 KiB, growth 2), reset() after "
             "every iteration: every 1000 ops in W1 and W2, after each container in W4a-c, after "
             "each request in W5; reset keeps the memory",
     .workloads = W1 | W2 | W4a | W4b | W4c | W5 | W5f | W5s,
     .make =
         [](upstream_ptr upstream) {
             return own_dropped_after_request<&pmrkit::arena_resource::reset>(
                 std::make_unique<pmrkit::arena_resource>(upstream));
         }},
    {.name = "arena_256k",
     .note = "pmrkit::arena_resource with a 256 KiB first chunk, other options default, reset() "
             "after each request",
     .workloads = W5 | W5f | W5s,
     .make =
         [](upstream_ptr upstream) {
             return own_dropped_after_request<&pmrkit::arena_resource::reset>(
                 std::make_unique<pmrkit::arena_resource>(
                     pmrkit::arena_options{.first_chunk_size = 256 * 1024}, upstream));
         }},
    {.name = "fixed_block",
     .note = "pmrkit::fixed_block_resource, block_size 64, other options default",
     .workloads = W1 | W2,
     .make =
         [](upstream_ptr upstream) {
             return own(std::make_unique<pmrkit::fixed_block_resource>(
                 pmrkit::fixed_block_options{.block_size = 64}, upstream));
         }},
    {.name = "stats_over_fixed_block",
     .note = "pmrkit::stats_resource (single-threaded) over the fixed_block row's pool: what "
             "counting costs is the difference to the fixed_block row",
     .workloads = W1 | W2,
     .make =
         [](upstream_ptr upstream) {
             return own_decorated(
                 std::make_unique<
                     decorated_pool<pmrkit::stats_resource, pmrkit::fixed_block_resource>>(
                     pmrkit::fixed_block_options{.block_size = 64}, upstream));
         }},
    {.name = "size_class",
     .note = "pmrkit::size_class_resource, default options (classes to 32 KiB, 128 MiB large-block "
             "cache)",
     .workloads = all_workloads,
     .make =
         [](upstream_ptr upstream) {
             return own(std::make_unique<pmrkit::size_class_resource>(upstream));
         }},
    {.name = "aligned_pool",
     .note = "pmrkit::aligned_pool_resource, default options (alignment 64, classes to 32 KiB): "
             "size_class_resource asked for at least 64-byte alignment, or below 64 bytes for the "
             "block's size rounded up to a power of two",
     .workloads = all_workloads,
     .make =
         [](upstream_ptr upstream) {
             return own(std::make_unique<pmrkit::aligned_pool_resource>(upstream));
         }},
    {.name = "std_sync_pool",
     .note = "std::pmr::synchronized_pool_resource, default options; under-aligned blocks for "
             "W3 sizes as std_unsync_pool",
     .workloads = threaded_workloads | W5f | W5s,
     .make =
         [](upstream_ptr upstream) {
             return own(std::make_unique<std::pmr::synchronized_pool_resource>(upstream));
         },
     .known_misaligned = W6b | W6c},
    {.name = "dropin_sync_pool",
     .note = "std -> pmrkit drop-in: pmrkit::synchronized_pool_resource, default options, in "
             "std_sync_pool's place",
     .workloads = threaded_workloads | W5f | W5s,
     .make =
         [](upstream_ptr upstream) {
             return own(std::make_unique<pmrkit::synchronized_pool_resource>(upstream));
         }},
    {.name = "boost_sync_pool",
     .note = "boost::container::pmr::synchronized_pool_resource, default options, through adaptor",
     .workloads = threaded_workloads | W5f | W5s,
     .make =
         [](upstream_ptr upstream) { return own(std::make_unique<boost_sync_pool>(upstream)); }},
    {.name = "limit_per_thread",
     .note = "hand-written thread_local free list per 16 B size class up to 1024 B (tagged with "
             "the instance), 64 KiB chunks under a lock, no bounds, no checks: the floor for a "
             "pool with per-thread caches",
     .workloads = threaded_workloads,
     .make =
         [](upstream_ptr upstream) { return own(std::make_unique<limit_per_thread>(upstream)); }},
    {.name = "synchronized_size_class",
     .note = "pmrkit::synchronized_resource<pmrkit::size_class_resource> (one std::mutex), default "
             "options",
     .workloads = threaded_workloads | W5f | W5s,
     .make =
         [](upstream_ptr upstream) {
             return own(
                 std::make_unique<pmrkit::synchronized_resource<pmrkit::size_class_resource>>(
                     upstream));
         }},
    {.name = "concurrent_pool",
     .note = "pmrkit::concurrent_pool_resource, default options (16 KiB batches)",
     .workloads = threaded_workloads | W5f | W5s,
     .make =
         [](upstream_ptr upstream) {
             return own(std::make_unique<pmrkit::concurrent_pool_resource>(upstream));
         }},
    // Larger batches cross between threads' caches less often: in a 16-thread driver of W6b's
    // pattern, 0.02% of allocations reused a block another thread had used, against 0.53% with
    // 16 KiB batches, for 15% more memory. Measured beside the default to see what that is worth
    // on many cores.
    {.name = "concurrent_pool_64k",
     .note = "pmrkit::concurrent_pool_resource, 64 KiB batches (batch_bytes)",
     .workloads = threaded_workloads,
     .make =
         [](upstream_ptr upstream) {
             return own(std::make_unique<pmrkit::concurrent_pool_resource>(
                 pmrkit::concurrent_pool_options{.batch_bytes = 64 * 1024}, upstream));
         }},
};

std::string canonical_or_same(const std::string& path) {
    std::error_code ec;
    auto canonical = std::filesystem::canonical(path, ec);
    return ec ? path : canonical.string();
}

} // namespace

std::span<const row> rows() {
    return table;
}

const row* find_row(std::string_view name) {
    for (const row& r : table) {
        if (r.name == name) {
            return &r;
        }
    }
    return nullptr;
}

stack build_timed(const row& r, counting_resource& counting) {
    return r.make(r.is_upstream ? std::pmr::new_delete_resource() : &counting);
}

malloc_check check_malloc() {
    // Resolved the way the program's own calls are, so a failed LD_PRELOAD shows here.
    void* address = dlsym(RTLD_DEFAULT, "malloc");
    Dl_info info{};
    malloc_check check;
    check.resolved = address != nullptr && dladdr(address, &info) != 0 && info.dli_fname != nullptr
                         ? canonical_or_same(info.dli_fname)
                         : "unknown";
    const char* wanted = std::getenv("PMRKIT_BENCH_MALLOC");
    if (wanted != nullptr && *wanted != '\0') {
        check.expected = canonical_or_same(wanted);
        check.ok = check.resolved == check.expected;
    } else {
        check.expected = "libc";
        check.ok = std::filesystem::path(check.resolved).filename().string().starts_with("libc.");
    }
    return check;
}

} // namespace pmrkit_bench
