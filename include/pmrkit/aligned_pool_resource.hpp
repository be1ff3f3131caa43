// SPDX-License-Identifier: MIT
#pragma once

#include "pmrkit/resource_stats.hpp"
#include "pmrkit/size_class_resource.hpp"

#include <cstddef>
#include <memory_resource>
#include <utility>
#include <variant>

namespace pmrkit {

struct aligned_pool_options {
    // The least alignment of every block: rounded up to a power of two and clamped to [16, 4096].
    // 64 is a cache line and an AVX-512 register.
    std::size_t alignment = 64;
    // Largest request served from the pool (its size rounded up to the alignment), as in
    // size_class_options: rounded to a class size, clamped to [2 KiB, 64 KiB] and raised to at
    // least the alignment.
    std::size_t max_pooled_size = 32 * 1024;
    // Empty spans kept for reuse and large blocks cached, as in size_class_options.
    std::size_t max_empty_spans = 1024;
    std::size_t max_empty_bytes = std::size_t{8} << 20;
    std::size_t large_cache_bytes = std::size_t{128} << 20;
    std::size_t large_cache_per_bucket = 4;
};

// aligned_pool_resource: a small-object pool whose every block is aligned to at least
// options().alignment, whatever alignment is asked for, so that the data of a
// std::pmr::vector<float> can be read with aligned SIMD loads (_mm256_load_ps) without a custom
// allocator type, and so that per-thread counters or queues do not share cache lines.
//
// How: the size_class_resource mechanism (basic_size_class_resource) over classes that are all
// multiples of the alignment A (detail::aligned_size_classes<A>, one per alignment, chosen at
// construction): every multiple of A up to 64 x A is a class (4 KiB at A = 64; every pooled size
// from A = 1024 up), then 4 classes per power of two to 64 KiB. A request of `bytes` goes to the
// class of align_up(bytes, alignment), whose blocks sit at multiples of the class size's natural
// alignment (at least A) inside spans aligned to their own size, so every block is aligned to A
// and its size is a multiple of A. Up to 64 x A the only internal waste is the rounding up to A;
// above, the class step adds under 20%.
//
// False sharing: with an alignment of 64 or more, every block starts on a cache line and its
// size is a whole number of lines, so no two blocks (nor a block and a span header) share a
// 64-byte cache line.
//
// Large requests (above options().max_pooled_size) go upstream through size_class_resource's
// bounded cache of large blocks (aligned to 4096), or pass through with their exact size and
// alignment (raised to options().alignment) when large_cache_bytes is 0. Alignments above
// options().alignment are honoured as size_class_resource honours them.
//
// Complexity: allocate and deallocate O(1) amortized, as size_class_resource (plus one virtual
// call, to the pool of its alignment).
// Never returns null: impossible sizes throw std::bad_alloc, upstream exceptions propagate, and
// the resource stays usable after either.
//
// Thread safety: none. One thread at a time may use an instance.
//
// Example:
//     pmrkit::aligned_pool_resource pool({.alignment = 32});
//     std::pmr::vector<float> v(1024, &pool);  // v.data() is 32-byte aligned: _mm256_load_ps
class aligned_pool_resource final : public std::pmr::memory_resource {
    template <std::size_t A>
    using pool_of = basic_size_class_resource<detail::aligned_size_classes<A>>;
    // Alternative i: alignment 16 << i.
    using pools = std::variant<pool_of<16>, pool_of<32>, pool_of<64>, pool_of<128>, pool_of<256>,
                               pool_of<512>, pool_of<1024>, pool_of<2048>, pool_of<4096>>;

    // Calls f with the pool of this alignment.
    template <class F>
    decltype(auto) visit(F&& f) {
        return std::visit(std::forward<F>(f), m_pools);
    }
    template <class F>
    decltype(auto) visit(F&& f) const {
        return std::visit(std::forward<F>(f), m_pools);
    }

public:
    static constexpr std::size_t min_alignment = 16;
    static constexpr std::size_t max_alignment = 4096;

    // Takes no memory. Throws nothing but what copying the options throws.
    explicit aligned_pool_resource(
        const aligned_pool_options& options = {},
        std::pmr::memory_resource* upstream = std::pmr::get_default_resource());
    explicit aligned_pool_resource(std::pmr::memory_resource* upstream)
        : aligned_pool_resource(aligned_pool_options{}, upstream) {}

    aligned_pool_resource(const aligned_pool_resource&) = delete;
    aligned_pool_resource& operator=(const aligned_pool_resource&) = delete;
    ~aligned_pool_resource() override = default;

    // Gives everything back to upstream, live blocks included (size_class_resource::release).
    void release() noexcept {
        visit([](auto& pool) { pool.release(); });
    }
    // Gives back every empty span and cached large block (size_class_resource::trim).
    void trim() noexcept {
        visit([](auto& pool) { pool.trim(); });
    }

    [[nodiscard]] std::pmr::memory_resource* upstream_resource() const noexcept {
        return visit([](const auto& pool) { return pool.upstream_resource(); });
    }
    // The options after normalization.
    [[nodiscard]] const aligned_pool_options& options() const noexcept { return m_options; }
    [[nodiscard]] std::size_t alignment() const noexcept { return m_options.alignment; }

    // The classes served and their statistics, as in size_class_resource.
    [[nodiscard]] std::size_t class_count() const noexcept {
        return visit([](const auto& pool) { return pool.class_count(); });
    }
    [[nodiscard]] size_class_stats class_stats(std::size_t c) const noexcept {
        return visit([c](const auto& pool) { return pool.class_stats(c); });
    }
    [[nodiscard]] std::size_t span_count() const noexcept {
        return visit([](const auto& pool) { return pool.span_count(); });
    }
    [[nodiscard]] std::size_t upstream_bytes() const noexcept {
        return visit([](const auto& pool) { return pool.upstream_bytes(); });
    }
    [[nodiscard]] std::size_t peak_upstream_bytes() const noexcept {
        return visit([](const auto& pool) { return pool.peak_upstream_bytes(); });
    }

    // The snapshot in the common shape, as size_class_resource::stats (blocks_in_use and
    // bytes_in_use count whole blocks, so bytes_in_use minus the bytes asked for is the rounding).
    [[nodiscard]] resource_stats stats() const noexcept;

private:
    // Every class of the pool is a multiple of the alignment and its blocks are aligned to at
    // least that, so a request goes as it is, to the pool through m_active: a virtual call costs
    // fewer instructions than a visit's jump table and its check for a valueless variant.
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        return m_active->allocate(bytes, alignment);
    }
    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        m_active->deallocate(p, bytes, alignment);
    }
    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

    aligned_pool_options m_options;
    pools m_pools;
    std::pmr::memory_resource* m_active; // the pool in m_pools
};

} // namespace pmrkit
