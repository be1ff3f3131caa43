// SPDX-License-Identifier: MIT
// The fuzz targets: one struct per resource or stack of resources. A target builds its stack over
// the checking upstream from the first input bytes (its options), names the operations it has
// besides allocate and deallocate (release, reset, trim, mark, rewind), and says which refusals
// it documents. driver.cpp does the rest; CMakeLists.txt builds one fuzzer per name listed there.
//
// Adding a resource: a struct here with the members below, and its name in fuzz/CMakeLists.txt.
//   static constexpr const char* name;
//   static constexpr bool may_refuse;             // a budget may refuse a possible request
//   static constexpr bool small_odd_alignments;   // alignments like 3 or 24 have a defined result
//   explicit T(std::pmr::memory_resource* upstream, input& in);
//   std::pmr::memory_resource& top();
//   effect control(input& in);                    // one extra operation, chosen from the input
// A stack whose bottom is one of pmrkit's own sources (page_resource, heap()) instead of the
// checking upstream also has
//   static std::size_t source_bytes();            // bytes its source holds for it now
// which the driver checks is 0 once the target is destroyed, as it checks the checking upstream.
#pragma once

#include "input.hpp"
#include "support/death.hpp"

#include "pmrkit/aligned_pool_resource.hpp"
#include "pmrkit/arena_resource.hpp"
#include "pmrkit/concurrent_arena_resource.hpp"
#include "pmrkit/concurrent_pool_resource.hpp"
#include "pmrkit/decorators/limit_resource.hpp"
#include "pmrkit/decorators/stats_resource.hpp"
#include "pmrkit/decorators/synchronized_resource.hpp"
#include "pmrkit/detail/asan.hpp"
#include "pmrkit/detail/free_list.hpp"
#include "pmrkit/fixed_block_resource.hpp"
#include "pmrkit/size_class_resource.hpp"
#include "pmrkit/sources/heap_resource.hpp"
#include "pmrkit/sources/page_resource.hpp"

#include <sanitizer/common_interface_defs.h>

#include <algorithm>
#include <bit>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory_resource>
#include <optional>
#include <string>
#include <vector>

namespace pmrkit::fuzz {

// What an extra operation did to the blocks the driver holds.
struct effect {
    enum kind_t {
        none,       // nothing: every live block stays valid
        forget_all, // every block (and marker) is gone: release() or reset()
        mark,       // a marker was taken; it is the newest
        rewind,     // blocks allocated since marker `marker` are gone, and newer markers
    } kind = none;
    std::size_t marker = 0;
};

inline fixed_block_options fixed_block_options_from(input& in) {
    return {.block_size = in.below(300),
            .block_alignment = std::size_t{1} << in.below(13),
            .initial_blocks = in.below(40),
            .max_blocks = in.boolean() ? 64 + in.below(2000) : fixed_block_options{}.max_blocks};
}

inline size_class_options size_class_options_from(input& in) {
    return {.max_pooled_size = std::size_t{1024} << in.below(8),
            .max_empty_spans = in.below(6),
            .max_empty_bytes = std::size_t{1} << (12 + in.below(12)),
            .large_cache_bytes = in.boolean() ? 0 : std::size_t{1} << (16 + in.below(8)),
            .large_cache_per_bucket = in.below(5)};
}

// The pool's own fields as size_class_options_from draws them, under an alignment of 16 to 4096,
// or sometimes any value below 5000 for the constructor to round and clamp.
inline aligned_pool_options aligned_pool_options_from(input& in) {
    const std::size_t alignment = in.boolean() ? std::size_t{16} << in.below(9) : in.below(5000);
    return {.alignment = alignment, .pool = size_class_options_from(in)};
}

inline effect release_or_keep(input& in, auto& resource) {
    if (in.below(4) == 0) {
        resource.release();
        return {effect::forget_all};
    }
    return {};
}

// The operations of the size-class pools: trim() (live blocks stay valid) or release().
inline effect trim_or_release(input& in, auto& pool) {
    if (in.boolean()) {
        pool.trim();
        return {};
    }
    return release_or_keep(in, pool);
}

// Checks aligned_pool_resource's own promise, that every block is aligned to at least
// options().alignment, or below it to its size rounded up to a power of two (at least 16),
// whatever alignment was asked for; the driver checks only the one asked for.
class check_least_alignment final : public std::pmr::memory_resource {
public:
    explicit check_least_alignment(aligned_pool_resource& pool) : m_pool(pool) {}

private:
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        void* p = m_pool.allocate(bytes, alignment);
        const std::size_t promised = bytes >= m_pool.alignment()
                                         ? m_pool.alignment()
                                         : std::bit_ceil(std::max<std::size_t>(bytes, 16));
        if (reinterpret_cast<std::uintptr_t>(p) % promised != 0) {
            std::fprintf(stderr,
                         "pmrkit fuzz: block under its promised alignment %zu (bytes %zu)\n",
                         promised, bytes);
            std::abort();
        }
        return p;
    }
    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        m_pool.deallocate(p, bytes, alignment);
    }
    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

    aligned_pool_resource& m_pool;
};

struct fixed_block {
    static constexpr const char* name = "fixed_block";
    static constexpr bool may_refuse = true; // max_blocks
    static constexpr bool small_odd_alignments = true;
    fixed_block(std::pmr::memory_resource* upstream, input& in)
        : pool(fixed_block_options_from(in), upstream) {}
    std::pmr::memory_resource& top() { return pool; }
    effect control(input& in) {
        if (in.boolean()) {
            try {
                pool.reserve(in.below(3000));
            } catch (const std::bad_alloc&) {
                // past max_blocks: documented, and nothing changes
            }
            return {};
        }
        return release_or_keep(in, pool);
    }
    fixed_block_resource pool;
};

struct size_class {
    static constexpr const char* name = "size_class";
    static constexpr bool may_refuse = false;
    // Debug builds assert on them below 2 KiB (documented), so they are not drawn.
    static constexpr bool small_odd_alignments = false;
    size_class(std::pmr::memory_resource* upstream, input& in)
        : pool(size_class_options_from(in), upstream) {}
    std::pmr::memory_resource& top() { return pool; }
    effect control(input& in) { return trim_or_release(in, pool); }
    size_class_resource pool;
};

struct aligned_pool {
    static constexpr const char* name = "aligned_pool";
    static constexpr bool may_refuse = false;
    // One above the pool's alignment reaches size_class_resource as asked (asserts, as above).
    static constexpr bool small_odd_alignments = false;
    aligned_pool(std::pmr::memory_resource* upstream, input& in)
        : pool(aligned_pool_options_from(in), upstream), checked(pool) {}
    std::pmr::memory_resource& top() { return checked; }
    effect control(input& in) { return trim_or_release(in, pool); }
    aligned_pool_resource pool;
    check_least_alignment checked;
};

// One thread: the fuzzer is after request handling (the classes, the thread cache's bins and
// batches, the central pool behind them); test/concurrent.cpp under TSan covers the threads.
struct concurrent_pool {
    static constexpr const char* name = "concurrent_pool";
    static constexpr bool may_refuse = false;
    static constexpr bool small_odd_alignments = false; // the central size_class_resource's
    concurrent_pool(std::pmr::memory_resource* upstream, input& in)
        : pool({.central = size_class_options_from(in),
                .batch_bytes = std::size_t{1} << in.below(20)},
               upstream) {}
    std::pmr::memory_resource& top() { return pool; }
    effect control(input& in) { return trim_or_release(in, pool); }
    concurrent_pool_resource pool;
};

struct concurrent_arena {
    static constexpr const char* name = "concurrent_arena";
    static constexpr bool may_refuse = false;
    // Documented: an alignment that is not a power of two throws std::bad_alloc.
    static constexpr bool small_odd_alignments = true;
    concurrent_arena(std::pmr::memory_resource* upstream, input& in)
        : a({.first_chunk_size = in.below(std::size_t{1} << 18),
             .max_chunk_size = std::size_t{1} << (8 + in.below(16))},
            upstream) {}
    std::pmr::memory_resource& top() { return a; }
    effect control(input& in) {
        if (in.boolean()) {
            a.reset();
            return {effect::forget_all};
        }
        return release_or_keep(in, a);
    }
    concurrent_arena_resource a;
};

struct synchronized_size_class {
    static constexpr const char* name = "synchronized_size_class";
    static constexpr bool may_refuse = false;
    static constexpr bool small_odd_alignments = false;
    synchronized_size_class(std::pmr::memory_resource* upstream, input& in)
        : shared(size_class_options_from(in), upstream) {}
    std::pmr::memory_resource& top() { return shared; }
    effect control(input& in) {
        return shared.with_lock(
            [&in](size_class_resource& pool) { return trim_or_release(in, pool); });
    }
    synchronized_resource<size_class_resource> shared;
};

// An arena with marks: the driver mirrors the marker stack by index.
class arena_with_marks {
public:
    arena_with_marks(std::pmr::memory_resource* upstream, input& in)
        : m_buffer(in.below(4) * 1000),
          m_arena(m_buffer.data(), m_buffer.size(),
                  {.first_chunk_size = 256 + in.below(8000),
                   .growth_factor = 1.0 + static_cast<double>(in.below(4)) / 2,
                   .max_chunk_size = std::size_t{1} << (8 + in.below(14)),
                   .max_retained = in.boolean() ? in.below(1 << 16) : arena_options{}.max_retained,
                   .rewind_keeps_chunks = in.boolean(),
                   .byte_limit = in.boolean() ? in.below(1 << 20) : arena_options{}.byte_limit},
                  upstream) {}
    arena_resource& arena() { return m_arena; }
    effect control(input& in) {
        switch (in.below(4)) {
        case 0:
            m_marks.push_back(m_arena.mark());
            return {effect::mark};
        case 1:
            if (!m_marks.empty()) {
                const std::size_t i = in.below(m_marks.size());
                m_arena.rewind(m_marks[i]);
                m_marks.erase(m_marks.begin() + static_cast<std::ptrdiff_t>(i) + 1, m_marks.end());
                return {effect::rewind, i};
            }
            return {};
        case 2:
            m_marks.clear();
            m_arena.reset();
            return {effect::forget_all};
        default:
            m_marks.clear();
            return release_or_keep(in, m_arena);
        }
    }

private:
    std::vector<std::byte> m_buffer;
    arena_resource m_arena;
    std::vector<arena_resource::marker> m_marks;
};

struct arena {
    static constexpr const char* name = "arena";
    static constexpr bool may_refuse = true; // byte_limit
    static constexpr bool small_odd_alignments = true;
    arena(std::pmr::memory_resource* upstream, input& in) : a(upstream, in) {}
    std::pmr::memory_resource& top() { return a.arena(); }
    effect control(input& in) { return a.control(in); }
    arena_with_marks a;
};

// Stacks: a decorator over a pool, and an arena over a pool over a decorator.
struct stats_over_size_class {
    static constexpr const char* name = "stats_over_size_class";
    static constexpr bool may_refuse = false;
    static constexpr bool small_odd_alignments = false;
    stats_over_size_class(std::pmr::memory_resource* upstream, input& in)
        : pool(size_class_options_from(in), upstream), stats(&pool) {}
    std::pmr::memory_resource& top() { return stats; }
    effect control(input& in) {
        pool.trim();
        if (in.boolean()) {
            stats.reset();
        }
        return {};
    }
    size_class_resource pool;
    stats_resource stats;
};

struct limit_over_fixed_block {
    static constexpr const char* name = "limit_over_fixed_block";
    static constexpr bool may_refuse = true;
    static constexpr bool small_odd_alignments = true;
    limit_over_fixed_block(std::pmr::memory_resource* upstream, input& in)
        : pool(fixed_block_options_from(in), upstream), limit(in.below(1 << 22), &pool) {}
    std::pmr::memory_resource& top() { return limit; }
    effect control(input& in) {
        limit.set_limit(in.below(1 << 22));
        return {};
    }
    fixed_block_resource pool;
    limit_resource limit;
};

struct arena_over_size_class {
    static constexpr const char* name = "arena_over_size_class";
    static constexpr bool may_refuse = true;
    static constexpr bool small_odd_alignments = true;
    arena_over_size_class(std::pmr::memory_resource* upstream, input& in)
        : stats(upstream), pool(size_class_options_from(in), &stats), a(&pool, in) {}
    std::pmr::memory_resource& top() { return a.arena(); }
    effect control(input& in) {
        if (in.below(8) == 0) {
            pool.trim();
            return {};
        }
        return a.control(in);
    }
    stats_resource stats;
    size_class_resource pool;
    arena_with_marks a;
};

// The pools above over pmrkit's own sources instead of the checking upstream, so that the sources
// meet a pool's real requests (spans aligned to their size, large blocks, huge alignments) and
// the pools meet the sources' answers. What the pool must give back is counted where it leaves
// (source_bytes): by the source itself where it counts (page_resource::mapped_bytes), else by a
// stats_resource passing each request on unchanged. The sources are shared by every run, and each
// run ends at 0, so a leak shows in the run that made it.
struct aligned_pool_over_page : aligned_pool {
    static constexpr const char* name = "aligned_pool_over_page";
    aligned_pool_over_page(std::pmr::memory_resource* /*checking*/, input& in)
        : aligned_pool(&pages(), in) {}
    static page_resource& pages() {
        static page_resource p;
        return p;
    }
    static std::size_t source_bytes() { return pages().mapped_bytes(); }
};

struct size_class_over_heap : size_class {
    static constexpr const char* name = "size_class_over_heap";
    size_class_over_heap(std::pmr::memory_resource* /*checking*/, input& in)
        : size_class(&counted(), in) {}
    static stats_resource& counted() {
        static stats_resource s(heap());
        return s;
    }
    static std::size_t source_bytes() { return counted().bytes_in_use(); }
};

// size_class under the driver's operations, and now and then (control) an attack on a fresh pool
// of each kind, in a forked child: a use-after-free write of a value from the input into a freed
// block's link, or a double free (of a block of 16 bytes or more, where the mark is), then
// allocations. Each attack must be caught (the child stops: pmrkit's report, or a crash on the
// address a forged link decoded to, never the written one) or harmless; the child says so when an
// allocation returns the written address or one block twice, and that stops the fuzzer. The
// parent's pools are untouched. PMRKIT_UNPROTECTED builds skip the attacks.
// The child says so by its exit status, not by a message: a child that crashes runs libFuzzer's
// crash handler, which prints the input, and the fuzzer learns the strings the parent searches
// for (its strstr hooks), so a message would be forged by the input itself.
struct protected_lists : size_class {
    static constexpr const char* name = "protected_lists";
    protected_lists(std::pmr::memory_resource* upstream, input& in) : size_class(upstream, in) {}

    effect control(input& in) {
        if (in.below(4) != 0 || detail::build_protection == detail::link_protection::none) {
            return size_class::control(in);
        }
        const std::size_t kind = in.below(4);
        const std::size_t bytes = 16 + in.below(1000);
        const bool double_free = in.boolean();
        const std::size_t warm = in.below(40);
        std::uintptr_t value = 0;
        for (int i = 0; i < 8; ++i) {
            value = (value << 8) | in.byte();
        }
        const test::child_end end = test::run_in_child([&] {
            // A forged link that decodes to unmapped or poisoned memory is a caught attack: the
            // child dies without libFuzzer's crash handler (the sanitizers' death callback and
            // its signal handlers), which would write a crash file per caught attack.
            __sanitizer_set_death_callback(nullptr);
            std::signal(SIGSEGV, SIG_DFL);
            std::signal(SIGBUS, SIG_DFL);
            switch (kind) {
            case 0: {
                fixed_block_resource fresh({.block_size = bytes});
                attack(fresh, bytes, double_free, warm, value);
                break;
            }
            case 1: {
                size_class_resource fresh;
                attack(fresh, bytes, double_free, warm, value);
                break;
            }
            case 2: {
                aligned_pool_resource fresh;
                attack(fresh, bytes, double_free, warm, value);
                break;
            }
            default: {
                concurrent_pool_resource fresh;
                attack(fresh, bytes, double_free, warm, value);
                break;
            }
            }
        });
        if (end.exit_status == attack_succeeded) {
            std::fprintf(stderr, "pmrkit fuzz: %s (pool %zu, bytes %zu, value %#zx)\n",
                         double_free ? "a double free handed one block out twice"
                                     : "a written link was followed",
                         kind, bytes, static_cast<std::size_t>(value));
            std::abort();
        }
        if (double_free && !end.aborted) {
            std::fprintf(stderr,
                         "pmrkit fuzz: a double free was not stopped (pool %zu, bytes %zu)\n", kind,
                         bytes);
            std::abort();
        }
        return {};
    }

private:
    static constexpr int attack_succeeded = 77;

    // In the child. `warm` blocks are taken and freed first, so that the attacked blocks sit on a
    // list among others.
    static void attack(std::pmr::memory_resource& pool, std::size_t bytes, bool double_free,
                       std::size_t warm, std::uintptr_t value) {
        std::vector<void*> blocks(warm);
        for (void*& b : blocks) {
            b = pool.allocate(bytes, 8);
        }
        for (void* b : blocks) {
            pool.deallocate(b, bytes, 8);
        }
        void* a = pool.allocate(bytes, 8);
        void* b = pool.allocate(bytes, 8);
        pool.deallocate(a, bytes, 8);
        pool.deallocate(b, bytes, 8);
        if (double_free) {
            pool.deallocate(a, bytes, 8);
            if (pool.allocate(bytes, 8) == pool.allocate(bytes, 8)) {
                std::_Exit(attack_succeeded);
            }
            return;
        }
        // A write the pool cannot see, as a bug's or an attacker's would be.
        detail::asan_unpoison(b, sizeof value);
        std::memcpy(b, &value, sizeof value);
        for (int i = 0; i < 3; ++i) {
            void* p = pool.allocate(bytes, 8);
            if (reinterpret_cast<std::uintptr_t>(p) == value && p != a && p != b) {
                std::_Exit(attack_succeeded);
            }
        }
    }
};

} // namespace pmrkit::fuzz
