// SPDX-License-Identifier: MIT
// SIMD on a pool: the data of a std::pmr::vector<float> on an aligned_pool_resource is 64-byte
// aligned once it holds 16 floats (a smaller block is aligned to its size rounded up to a power of
// two), so a kernel may use aligned AVX2 loads (_mm256_load_ps, which faults on a misaligned
// address) on every 8 floats it holds, with no custom allocator type. The dot product runs with
// AVX2 when the CPU has it, and is checked against a scalar loop. Exit status 0 means every result
// matched.
#include <pmrkit/aligned_pool_resource.hpp>

#include <cstdint>
#include <cstdio>
#include <memory_resource>
#include <random>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PMRKIT_EXAMPLE_X86 1
#endif

namespace {

float dot_scalar(const std::pmr::vector<float>& a, const std::pmr::vector<float>& b) {
    float sum = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        sum += a[i] * b[i];
    }
    return sum;
}

#ifdef PMRKIT_EXAMPLE_X86
// Eight lanes at a time with aligned loads; the tail (fewer than 8 floats) is scalar.
__attribute__((target("avx2"))) float dot_avx2(const float* a, const float* b, std::size_t n) {
    __m256 sum = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        sum = _mm256_add_ps(sum, _mm256_mul_ps(_mm256_load_ps(a + i), _mm256_load_ps(b + i)));
    }
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, sum);
    float total = 0;
    for (const float lane : lanes) {
        total += lane;
    }
    for (; i < n; ++i) {
        total += a[i] * b[i];
    }
    return total;
}
#endif

bool has_avx2() {
#ifdef PMRKIT_EXAMPLE_X86
    return __builtin_cpu_supports("avx2") != 0;
#else
    return false;
#endif
}

float dot(const std::pmr::vector<float>& a, const std::pmr::vector<float>& b) {
#ifdef PMRKIT_EXAMPLE_X86
    if (has_avx2()) {
        return dot_avx2(a.data(), b.data(), a.size());
    }
#endif
    return dot_scalar(a, b);
}

// What the pool's blocks cost beyond the bytes asked for, on the sizes of the benchmark's mixed
// workload (W9: 10,000 live blocks of 8..1024 B, 70% <= 128 B, alignment 64). Returns false when
// a block's bytes are below the request rounded up to the alignment.
bool report_waste() {
    pmrkit::aligned_pool_resource pool({.alignment = 64});
    std::mt19937_64 rng(3);
    std::bernoulli_distribution small(0.7);
    std::uniform_int_distribution<std::size_t> small_size(8, 128);
    std::uniform_int_distribution<std::size_t> large_size(129, 1024);
    std::vector<std::pair<void*, std::size_t>> blocks;
    std::size_t asked = 0;
    std::size_t rounded = 0;
    for (int i = 0; i < 10'000; ++i) {
        const std::size_t bytes = small(rng) ? small_size(rng) : large_size(rng);
        blocks.emplace_back(pool.allocate(bytes, 64), bytes);
        asked += bytes;
        rounded += (bytes + 63) / 64 * 64;
    }
    const pmrkit::resource_stats s = pool.stats();
    const auto in_blocks = static_cast<std::size_t>(s.bytes_in_use.value_or(0));
    const auto held = static_cast<std::size_t>(s.upstream_bytes.value_or(0));
    const auto percent = [asked](std::size_t n) {
        return 100.0 * static_cast<double>(n - asked) / static_cast<double>(asked);
    };
    std::printf("waste on 10,000 mixed blocks: asked %zu B; rounded to 64: %zu B (+%.1f%%); "
                "in blocks: %zu B (+%.1f%%); held from upstream: %zu B (+%.1f%%)\n",
                asked, rounded, percent(rounded), in_blocks, percent(in_blocks), held,
                percent(held));
    for (auto [p, bytes] : blocks) {
        pool.deallocate(p, bytes, 64);
    }
    return in_blocks >= rounded;
}

} // namespace

int main() {
    pmrkit::aligned_pool_resource pool({.alignment = 64});
    std::printf("kernel: %s\n", has_avx2() ? "AVX2, aligned loads" : "scalar (no AVX2)");

    int failures = 0;
    // Small integers keep every partial sum exact in float, so both orders of summation agree.
    for (std::size_t n = 1; n <= 5000; n = n * 3 + 1) {
        std::pmr::vector<float> a(&pool);
        std::pmr::vector<float> b(&pool);
        for (std::size_t i = 0; i < n; ++i) {
            a.push_back(static_cast<float>(i % 17));
            b.push_back(static_cast<float>(i % 13) - 6.0F);
        }
        // What the kernel's aligned loads need: 32 bytes, from 8 floats up.
        const bool aligned = n < 8 || (reinterpret_cast<std::uintptr_t>(a.data()) % 32 == 0 &&
                                       reinterpret_cast<std::uintptr_t>(b.data()) % 32 == 0);
        const float fast = dot(a, b);
        const float scalar = dot_scalar(a, b);
        std::printf("n = %4zu: dot = %9.0f, scalar = %9.0f, aligned for AVX2: %s\n", n,
                    static_cast<double>(fast), static_cast<double>(scalar), aligned ? "yes" : "NO");
        failures += (fast != scalar || !aligned) ? 1 : 0;
    }
    failures += report_waste() ? 0 : 1;
    return failures == 0 ? 0 : 1;
}
