// SPDX-License-Identifier: MIT
#include "pmrkit/detail/free_list.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <random>

#if defined(__linux__)
#include <sys/random.h>
#endif

namespace pmrkit::detail {

// The library's protection, for config.hpp's link-time check.
const int PMRKIT_PROTECTION_SYMBOL = 1;

void report_heap_corruption(const char* what, const void* block) noexcept {
    // Carrying on would hand the same memory out twice or follow a forged pointer.
    std::fprintf(stderr, "pmrkit: %s (block %p)\n", what, block);
    std::abort();
}

void report_foreign_pointer(const void* p) noexcept {
    report_heap_corruption("deallocate of a pointer this pool did not hand out (another "
                           "resource's, or inside a block, or with the wrong size)",
                           p);
}

namespace {

struct process_secret {
    std::uint64_t words[2];
};

// Read once: a system call per key would make constructing a pool cost a microsecond.
process_secret read_process_secret() noexcept {
    process_secret s{};
#if defined(__linux__)
    if (getrandom(s.words, sizeof s.words, 0) == static_cast<ssize_t>(sizeof s.words)) {
        return s;
    }
#endif
    try {
        std::random_device device;
        for (std::uint64_t& w : s.words) {
            w = (std::uint64_t{device()} << 32) ^ device();
        }
    } catch (...) {
        // No random source at all: the addresses of a stack and a static variable still differ
        // from run to run with address-space randomization.
        const process_secret* local = &s;
        static const char anchor = 0;
        s.words[0] = reinterpret_cast<std::uintptr_t>(local);
        s.words[1] = reinterpret_cast<std::uintptr_t>(&anchor);
    }
    return s;
}

// splitmix64's finalizer: a bijection that spreads every input bit over the output.
std::uint64_t mix(std::uint64_t z) noexcept {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// The n-th key word: the secret enters before and after the mixing, so that one key's words do
// not give the secret (nor another key) by inverting the public mix.
std::uint64_t key_word(std::uint64_t n) noexcept {
    static const process_secret secret = read_process_secret();
    return mix(mix(n ^ secret.words[0]) ^ secret.words[1]) + secret.words[0];
}

std::atomic<std::uint64_t> g_keys_made{0};

} // namespace

free_list_key::free_list_key(std::size_t alignment) noexcept
    : m_misaligned(static_cast<std::uintptr_t>(alignment - 1)) {
    const std::uint64_t n = g_keys_made.fetch_add(1, std::memory_order_relaxed);
    m_link = static_cast<std::uintptr_t>(key_word(2 * n)) | 1;
    m_mark = static_cast<std::uintptr_t>(key_word(2 * n + 1));
    if (m_mark == 0) {
        m_mark = 1;
    }
}

} // namespace pmrkit::detail
