// SPDX-License-Identifier: MIT
// Every build switch and every limit that more than one part of pmrkit depends on, each written
// once. A switch that changes inline code (the free lists, the thread checks) must be defined the
// same way for the library and for every user of its headers: the CMake options make them PUBLIC
// compile definitions of pmrkit::pmrkit.
#pragma once

#include <cstddef>

// Free-list protection (see free_list.hpp and docs/security.md). The default build encodes every
// free-list link with a per-pool secret key, checks it on every pop and marks free blocks against
// double frees.
// PMRKIT_HARDENED (CMake -DPMRKIT_HARDENED=ON) adds the costly checks: the pools check every free
// against the memory they own (owned_spans.hpp, owned_ranges.hpp), and every pop checks the free
// block's first 16 bytes.
// PMRKIT_UNPROTECTED (CMake -DPMRKIT_UNPROTECTED=ON), UNSAFE: raw links, no check, no mark; a
// use-after-free write or a double free silently corrupts the pools.
#if defined(PMRKIT_HARDENED) && defined(PMRKIT_UNPROTECTED)
#error "PMRKIT_HARDENED and PMRKIT_UNPROTECTED contradict each other"
#endif
//
// PMRKIT_THREAD_CHECKS (CMake PMRKIT_THREAD_CHECKS=AUTO|ON|OFF): a single-threaded resource used
// by two threads at once stops the program (see thread_check.hpp). AUTO: on unless NDEBUG.
#ifndef PMRKIT_THREAD_CHECKS
#ifdef NDEBUG
#define PMRKIT_THREAD_CHECKS 0
#else
#define PMRKIT_THREAD_CHECKS 1
#endif
#endif

// PMRKIT_ASAN: set when the translation unit is built with AddressSanitizer, whose manual
// poisoning the pools then use (see asan.hpp).
#if defined(__SANITIZE_ADDRESS__)
#define PMRKIT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PMRKIT_ASAN 1
#endif
#endif

// PMRKIT_NOINLINE, PMRKIT_COLD: keep slow paths and error reports out of the fast paths. GCC and
// Clang spell them gnu::; MSVC has noinline only; elsewhere they are hints left out.
// PMRKIT_PREFETCH(p): starts loading p's cache line for a read to come; a hint, left out where the
// compiler has no builtin for it.
// PMRKIT_TLS_INITIAL_EXEC: a thread_local reached by one thread-pointer-relative load, on ELF
// targets (see thread_cache.hpp for its cost); elsewhere the platform's only model.
#if defined(__GNUC__) || defined(__clang__)
#define PMRKIT_NOINLINE [[gnu::noinline]]
#define PMRKIT_COLD [[gnu::cold]]
#define PMRKIT_PREFETCH(p) __builtin_prefetch(p)
#elif defined(_MSC_VER)
#define PMRKIT_NOINLINE __declspec(noinline)
#define PMRKIT_COLD
#define PMRKIT_PREFETCH(p) static_cast<void>(p)
#else
#define PMRKIT_NOINLINE
#define PMRKIT_COLD
#define PMRKIT_PREFETCH(p) static_cast<void>(p)
#endif
// PMRKIT_VISIBLE: state the headers define inline (thread_cache.hpp's table) is one object in the
// whole program even when a user builds with -fvisibility=hidden against a shared libpmrkit:
// hidden, each module would have its own, and the library's fills would never reach the user's.
#if defined(__ELF__)
#define PMRKIT_TLS_INITIAL_EXEC [[gnu::tls_model("initial-exec")]]
#define PMRKIT_VISIBLE [[gnu::visibility("default")]]
#else
#define PMRKIT_TLS_INITIAL_EXEC
#define PMRKIT_VISIBLE
#endif

// PMRKIT_VALGRIND (CMake -DPMRKIT_VALGRIND=ON; the memcheck preset): a free pushed onto a
// protected free list reads the block's first two words for the double-free check, and the program
// may never have written them; under valgrind memcheck they are first marked defined, so that the
// check is not reported as a use of uninitialised memory. Needs <valgrind/memcheck.h>.
#ifndef PMRKIT_VALGRIND
#define PMRKIT_VALGRIND 0
#endif

namespace pmrkit::detail {

#if defined(PMRKIT_HARDENED)
inline constexpr bool hardened_build = true;
#else
inline constexpr bool hardened_build = false;
#endif

enum class link_protection {
    none,     // PMRKIT_UNPROTECTED: raw links
    checked,  // the default: encoded links, alignment check, double-free mark
    hardened, // PMRKIT_HARDENED: also the mark bound to the link, checked on every pop
};

#if defined(PMRKIT_UNPROTECTED)
inline constexpr link_protection build_protection = link_protection::none;
#elif defined(PMRKIT_HARDENED)
inline constexpr link_protection build_protection = link_protection::hardened;
#else
inline constexpr link_protection build_protection = link_protection::checked;
#endif

// A program whose code sees another protection than its libpmrkit was built with would run the
// library's pools with other inline free-list code and other class layouts (a crash, or a false
// corruption report, at run time). Every translation unit that includes pmrkit refers to the
// symbol of its protection, which only a library built with it defines (free_list.cpp): a mismatch
// fails to link, naming the switch. MSVC checks the same at link time by detect_mismatch.
#if defined(PMRKIT_UNPROTECTED)
extern const int library_built_with_PMRKIT_UNPROTECTED;
#define PMRKIT_PROTECTION_SYMBOL library_built_with_PMRKIT_UNPROTECTED
#define PMRKIT_PROTECTION_NAME "unprotected"
#elif defined(PMRKIT_HARDENED)
extern const int library_built_with_PMRKIT_HARDENED;
#define PMRKIT_PROTECTION_SYMBOL library_built_with_PMRKIT_HARDENED
#define PMRKIT_PROTECTION_NAME "hardened"
#else
extern const int library_built_without_PMRKIT_HARDENED_or_PMRKIT_UNPROTECTED;
#define PMRKIT_PROTECTION_SYMBOL library_built_without_PMRKIT_HARDENED_or_PMRKIT_UNPROTECTED
#define PMRKIT_PROTECTION_NAME "default"
#endif
#if defined(__GNUC__) || defined(__clang__)
// `used`: kept in every object file, though nothing reads it.
[[maybe_unused, gnu::used]] static const int* const protection_check = &PMRKIT_PROTECTION_SYMBOL;
#elif defined(_MSC_VER)
#pragma detect_mismatch("pmrkit_protection", PMRKIT_PROTECTION_NAME)
#endif

#if defined(PMRKIT_ASAN)
inline constexpr bool asan_enabled = true;
#else
inline constexpr bool asan_enabled = false;
#endif

// The size-class pools' small-block limit: requests whose size rounded up to their alignment is at
// most this are served by the fast paths (one route per 8 bytes up to here) and always pooled;
// the least max_pooled_size; the smallest large block the large-block cache keeps.
inline constexpr std::size_t small_block_limit = 2048;
// The fast paths' routes: one per route_granule bytes of request below small_block_limit, each
// the class of its requests (class_table::routes).
inline constexpr std::size_t route_granule = 8;
inline constexpr std::size_t route_count = small_block_limit / route_granule;
// Every pool's smallest block: room for a free block's link and its double-free mark
// (free_list.hpp), so that every block has the check and the fast paths need no per-class mark
// offset (three instructions per allocate and deallocate pair). A request of 1 to 8 bytes takes a
// 16-byte block.
inline constexpr std::size_t min_pooled_block = 16;
// The largest pooled size (size_class_options::max_pooled_size is clamped to it) and the largest
// block the large-block cache keeps.
inline constexpr std::size_t max_pooled_limit = 64 * 1024;
inline constexpr std::size_t max_cached_block = std::size_t{64} << 20;

} // namespace pmrkit::detail
