// SPDX-License-Identifier: MIT
// The rows of the comparison: every resource stack the benchmarks measure. They live in ONE table
// (rows.cpp); adding a resource to the comparison is adding one entry there.
#pragma once

#include "identity_resource.hpp"

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <memory_resource>
#include <span>
#include <string>
#include <string_view>

namespace pmrkit_bench {

// The project's benchmark workloads, as bits so that a row says where it applies with W1 | W2.
enum workload : unsigned {
    W1 = 1U << 0,  // 64 B alloc+free churn
    W2 = 1U << 1,  // 1000 x 64 B, freed shuffled
    W3 = 1U << 2,  // mixed sizes, live set 10k, random replacement
    W4a = 1U << 3, // pmr::vector<pmr::string>
    W4b = 1U << 4, // pmr::map<int, pmr::string>
    W4c = 1U << 5, // pmr::unordered_map<u64, u64>
    W5 = 1U << 6,  // per request: build containers, drop them
    W7 = 1U << 7,  // large blocks
    W8 = 1U << 8,  // 256 B alloc+free churn, alignment 64
    W9 = 1U << 9,  // W3 with alignment 64
    // Threads sharing one resource, each run with 1, 2, 4, 8 and 16 threads:
    W6a = 1U << 10, // W1 in every thread
    W6b = 1U << 11, // W3 in every thread (its own live set)
    W6c = 1U << 12, // Larson-style: every block is freed by another thread than its taker's
    W7f = 1U << 13, // W7 from a fresh pool every 100 steps
    W5f = 1U << 14, // W5 from a fresh resource per request
    W5s = 1U << 15, // a small request (8 strings, a map of 4) from a fresh resource per request
};
// The single-threaded workloads; W6 only applies to rows that are safe with threads.
inline constexpr unsigned all_workloads =
    W1 | W2 | W3 | W4a | W4b | W4c | W5 | W5f | W5s | W7 | W7f | W8 | W9;
inline constexpr unsigned threaded_workloads = W6a | W6b | W6c;

// A resource stack built for one benchmark run.
struct stack {
    std::unique_ptr<std::pmr::memory_resource> owner; // null when the row borrows a resource
    std::pmr::memory_resource* resource = nullptr;    // what the workload allocates from
    // Run after every benchmark iteration (in W5, after every request) for rows that drop
    // everything at once (monotonic, arena); empty for the others.
    std::function<void()> after_request;
};

struct row {
    std::string_view name;
    std::string_view note; // printed under the report's table
    unsigned workloads;
    // Builds the stack over upstream, which counts what the stack takes from new_delete (and is
    // thread-safe in W6).
    stack (*make)(std::pmr::memory_resource* upstream);
    // The row is new_delete_resource() itself. It is timed without the counting decorator, which
    // would add a virtual call per operation; its upstream counts come from an untimed iteration.
    bool is_upstream = false;
    // Workloads on which this third-party resource is known to return under-aligned blocks: the
    // report marks them instead of the benchmark failing. Never set for pmrkit's own rows.
    unsigned known_misaligned = 0;
};

// In the order of the report.
[[nodiscard]] std::span<const row> rows();
[[nodiscard]] const row* find_row(std::string_view name);

// Counts what passes to upstream. Costs nothing on the operations a pool serves itself.
class counting_resource final : public identity_resource {
public:
    explicit counting_resource(std::pmr::memory_resource* upstream) : m_upstream(upstream) {}

    [[nodiscard]] std::size_t calls() const { return m_calls; }
    [[nodiscard]] std::size_t peak_bytes() const { return m_peak; }

private:
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        void* p = m_upstream->allocate(bytes, alignment);
        ++m_calls;
        m_held += bytes;
        m_peak = std::max(m_peak, m_held);
        return p;
    }
    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        m_held -= bytes;
        m_upstream->deallocate(p, bytes, alignment);
    }
    std::pmr::memory_resource* m_upstream;
    std::size_t m_calls = 0;
    std::size_t m_held = 0;
    std::size_t m_peak = 0;
};

// The stack a timed run uses: over counting, or new_delete_resource() itself for is_upstream.
[[nodiscard]] stack build_timed(const row& r, counting_resource& counting);

// Which library malloc resolves to in this process, against the one expected: the library named
// by the environment variable PMRKIT_BENCH_MALLOC (the driver sets it with LD_PRELOAD), else libc.
struct malloc_check {
    std::string expected;
    std::string resolved;
    bool ok = false;
};
[[nodiscard]] malloc_check check_malloc();

} // namespace pmrkit_bench
