// SPDX-License-Identifier: MIT
// Every build switch and every limit that more than one part of pmrkit depends on, each written
// once. A switch that changes inline code (the free lists, the thread checks) must be defined the
// same way for the library and for every user of its headers: the CMake options make them PUBLIC
// compile definitions of pmrkit::pmrkit.
#pragma once

#include <cstddef>

// PMRKIT_HARDENED (CMake -DPMRKIT_HARDENED=ON): the pools check every free against the memory
// they own and check their free-list links on every pop (see free_list.hpp, owned_ranges.hpp).
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
// PMRKIT_TLS_INITIAL_EXEC: a thread_local reached by one thread-pointer-relative load, on ELF
// targets (see thread_cache.hpp for its cost); elsewhere the platform's only model.
#if defined(__GNUC__) || defined(__clang__)
#define PMRKIT_NOINLINE [[gnu::noinline]]
#define PMRKIT_COLD [[gnu::cold]]
#elif defined(_MSC_VER)
#define PMRKIT_NOINLINE __declspec(noinline)
#define PMRKIT_COLD
#else
#define PMRKIT_NOINLINE
#define PMRKIT_COLD
#endif
#if defined(__ELF__)
#define PMRKIT_TLS_INITIAL_EXEC [[gnu::tls_model("initial-exec")]]
#else
#define PMRKIT_TLS_INITIAL_EXEC
#endif

namespace pmrkit::detail {

#if defined(PMRKIT_HARDENED)
inline constexpr bool hardened_build = true;
#else
inline constexpr bool hardened_build = false;
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
// The largest pooled size (size_class_options::max_pooled_size is clamped to it) and the largest
// block the large-block cache keeps.
inline constexpr std::size_t max_pooled_limit = 64 * 1024;
inline constexpr std::size_t max_cached_block = std::size_t{64} << 20;

} // namespace pmrkit::detail
