// SPDX-License-Identifier: MIT
// Instructions per 64 B allocate+deallocate pair through std::pmr::memory_resource*, counted by
// callgrind, which repeats where time does not. compare.py runs, per row,
//     valgrind --tool=callgrind --toggle-collect=pmrkit_pair_loop pmrkit_instructions ROW N
// and once
//     valgrind --tool=callgrind --toggle-collect=pmrkit_empty_loop pmrkit_instructions empty N
// and reports (Ir(pair loop) - Ir(empty loop)) / N. The loops have C names so that the toggle
// names them exactly. The pseudo-row `virtual_call` (a resource that hands out one static block)
// shows what the two virtual calls cost by themselves. Rows of W1 and of W6a (W1 in every thread)
// are counted, the latter on one thread: the thread-safe pools' fast paths. Exits 3 when malloc is
// not the expected library (see check_malloc).
//
// `pmrkit_instructions ROW N w3` counts pmrkit_mixed_loop instead: W3's shape (a live set of
// 10,000 blocks of 8..1024 B, 70% <= 128 B, alignment 16, random replacement) from a fixed seed,
// so that two builds run the same calls. Its loop overhead is not subtracted: compare builds by
// their difference, Ir(pmrkit_mixed_loop) / N each.
#include "rows.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string_view>
#include <vector>

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

// W3's replacements: the victim's index and the size that replaces it.
struct replacement {
    std::uint32_t victim;
    std::uint32_t bytes;
};
constexpr std::size_t mixed_live = 10'000;
constexpr std::size_t mixed_alignment = 16;

std::uint32_t mixed_size(std::mt19937_64& rng) {
    std::bernoulli_distribution small(0.7);
    std::uniform_int_distribution<std::uint32_t> small_size(8, 128);
    std::uniform_int_distribution<std::uint32_t> large_size(129, 1024);
    return small(rng) ? small_size(rng) : large_size(rng);
}

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

[[gnu::noinline]] void pmrkit_mixed_loop(std::pmr::memory_resource* mr, void** live,
                                         std::uint32_t* sizes, const replacement* steps,
                                         std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        const replacement step = steps[i];
        mr->deallocate(live[step.victim], sizes[step.victim], mixed_alignment);
        live[step.victim] = mr->allocate(step.bytes, mixed_alignment);
        sizes[step.victim] = step.bytes;
    }
}

} // extern "C"

namespace {

void run_mixed(std::pmr::memory_resource* mr, std::size_t n) {
    std::mt19937_64 rng(3);
    std::vector<void*> live(mixed_live);
    std::vector<std::uint32_t> sizes(mixed_live);
    for (std::size_t i = 0; i < mixed_live; ++i) {
        sizes[i] = mixed_size(rng);
        live[i] = mr->allocate(sizes[i], mixed_alignment);
    }
    std::uniform_int_distribution<std::uint32_t> victim(0, mixed_live - 1);
    std::vector<replacement> steps(n + mixed_live);
    for (replacement& step : steps) {
        step = {victim(rng), mixed_size(rng)};
    }
    // Warm-up outside the counted call: the pool reaches its steady state.
    pmrkit_mixed_loop(mr, live.data(), sizes.data(), steps.data() + n, mixed_live);
    pmrkit_mixed_loop(mr, live.data(), sizes.data(), steps.data(), n);
    for (std::size_t i = 0; i < mixed_live; ++i) {
        mr->deallocate(live[i], sizes[i], mixed_alignment);
    }
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 3 && !(argc == 4 && std::string_view(argv[3]) == "w3")) {
        std::fprintf(stderr, "usage: %s ROW|virtual_call|empty ITERATIONS [w3]\n", argv[0]);
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
    if (argc == 4) {
        run_mixed(mr, n);
        return 0;
    }

    // Warm-up outside the counted function: first chunks taken, lazy set-up done.
    for (std::size_t i = 0; i < 1000; ++i) {
        pair(mr, i);
    }
    pmrkit_pair_loop(mr, n);
    return 0;
}
