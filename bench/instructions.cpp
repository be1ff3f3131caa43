// SPDX-License-Identifier: MIT
// Instructions per 64 B allocate+deallocate pair through std::pmr::memory_resource*, counted by
// callgrind, which repeats where time does not. compare.py runs, per row,
//     valgrind --tool=callgrind --toggle-collect=pmrkit_pair_loop pmrkit_instructions ROW N
// and once
//     valgrind --tool=callgrind --toggle-collect=pmrkit_empty_loop pmrkit_instructions empty N
// and reports (Ir(pair loop) - Ir(empty loop)) / N. The loops have C names so that the toggle
// names them exactly. The pseudo-row `virtual_call` (a resource that hands out one static block)
// shows what the two virtual calls cost by themselves. Rows of W1 and of W6a (W1 in every thread)
// are counted, the latter on one thread: the thread-safe pools' fast paths. Exits 3 when malloc is not the expected
// library (see check_malloc).
#include "rows.hpp"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace {

constexpr std::size_t block_bytes = 64;
constexpr std::size_t block_alignment = 8;

// What both the counted loop and the warm-up do per pair.
inline void pair(std::pmr::memory_resource* mr, std::size_t i) {
    void* p = mr->allocate(block_bytes, block_alignment);
    std::memcpy(p, &i, sizeof i);
    mr->deallocate(p, block_bytes, block_alignment);
}

class static_block_resource final : public pmrkit_bench::identity_resource {
    void* do_allocate(std::size_t, std::size_t) override { return m_block; }
    void do_deallocate(void*, std::size_t, std::size_t) override {}
    alignas(64) unsigned char m_block[block_bytes];
};

} // namespace

extern "C" {

// The same loop and write as pmrkit_pair_loop, on a block that is always there.
[[gnu::noinline]] void pmrkit_empty_loop(std::size_t n) {
    alignas(64) unsigned char block[block_bytes];
    for (std::size_t i = 0; i < n; ++i) {
        void* p = block;
        benchmark::DoNotOptimize(p);
        std::memcpy(p, &i, sizeof i);
    }
}

[[gnu::noinline]] void pmrkit_pair_loop(std::pmr::memory_resource* mr, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        pair(mr, i);
    }
}

} // extern "C"

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s ROW|virtual_call|empty ITERATIONS\n", argv[0]);
        return 2;
    }
    const std::string_view name = argv[1];
    const std::size_t n = std::strtoull(argv[2], nullptr, 10);

    const pmrkit_bench::malloc_check check = pmrkit_bench::check_malloc();
    if (!check.ok) {
        std::fprintf(stderr, "pmrkit_instructions: malloc resolves to %s, expected %s\n",
                     check.resolved.c_str(), check.expected.c_str());
        return 3;
    }
    if (name == "empty") {
        pmrkit_empty_loop(n);
        return 0;
    }
    static_block_resource static_block;
    pmrkit_bench::counting_resource counting(std::pmr::new_delete_resource());
    pmrkit_bench::stack stack{nullptr, &static_block, {}};
    if (name != "virtual_call") {
        const pmrkit_bench::row* r = pmrkit_bench::find_row(name);
        if (r == nullptr || (r->workloads & (pmrkit_bench::W1 | pmrkit_bench::W6a)) == 0) {
            std::fprintf(stderr, "pmrkit_instructions: no W1 or W6a row named %s\n", argv[1]);
            return 2;
        }
        stack = build_timed(*r, counting);
    }
    std::pmr::memory_resource* mr = stack.resource;
    benchmark::DoNotOptimize(mr);

    // Warm-up outside the counted function: first chunks taken, lazy set-up done.
    for (std::size_t i = 0; i < 1000; ++i) {
        pair(mr, i);
    }
    pmrkit_pair_loop(mr, n);
    return 0;
}
