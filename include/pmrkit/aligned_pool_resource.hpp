// SPDX-License-Identifier: MIT
#pragma once

#include "pmrkit/engine/size_class_front.hpp"
#include "pmrkit/engine/size_class_heap.hpp"

#include <cstddef>
#include <memory_resource>

namespace pmrkit {

/// Options of aligned_pool_resource, for designated initializers; normalized by the constructor.
struct aligned_pool_options {
    /// The least alignment of every block of at least this many bytes (a smaller block: its size
    /// rounded up to a power of two): rounded up to a power of two and clamped to [16, 4096].
    /// 64 is a cache line and an AVX-512 register.
    std::size_t alignment = 64;
    /// The pool's size classes, empty-span retention and large-block cache, as in
    /// size_class_resource; max_pooled_size is also raised to at least the alignment.
    size_class_options pool{};
};

/// aligned_pool_resource: a small-object pool whose every block of at least options().alignment
/// (A) bytes is aligned to A, whatever alignment is asked for, so that the data of a
/// std::pmr::vector<float> can be read with aligned SIMD loads (_mm256_load_ps) without a custom
/// allocator type, and so that per-thread buffers or queues do not share cache lines. A smaller
/// block is aligned to its size rounded up to a power of two (at least 16): enough for every
/// aligned load that fits in it, and it costs a container of small nodes no more memory than a
/// power-of-two rounding (a 24-byte hash-map node takes 32 bytes, not 64).
///
/// How: the size-class engine of size_class_resource (engine/size_class_heap.hpp) over the classes
/// of detail::aligned_size_classes<A> (one table per alignment, chosen at construction; the fast
/// paths are the same code for every table): the powers of two from 16 to A / 2, every multiple of
/// A up to 64 x A (4 KiB at A = 64; every pooled size from A = 1024 up), then 4 classes per power
/// of two to 64 KiB. A request of `bytes` goes to the smallest class that holds it and is a
/// multiple of the alignment asked for; its blocks sit at multiples of the class size's natural
/// alignment inside spans aligned to their own size, so a block of A bytes or more is aligned to A
/// and its size is a multiple of A. Up to 64 x A the only internal waste is the rounding up to A
/// (below A, to a power of two); above, the class step adds under 20%.
///
/// False sharing: with an alignment of 64 or more, every block of at least A bytes starts on a
/// cache line and its size is a whole number of lines, so it shares no 64-byte line with another
/// block or a span header. Smaller blocks share lines with one another; an object that must have
/// a line of its own, however small, declares it: alignas(64) (or
/// std::hardware_destructive_interference_size) makes its size and alignment 64, which every
/// pmrkit pool honours.
///
/// Large requests (above options().pool.max_pooled_size) go upstream with their alignment raised
/// to options().alignment, through size_class_resource's bounded cache of large blocks, or with
/// their exact size when pool.large_cache_bytes is 0. Alignments above options().alignment are
/// honoured as size_class_resource honours them.
///
/// Complexity: allocate and deallocate O(1) amortized, the same fast paths as
/// size_class_resource.
/// Never returns null: impossible sizes throw std::bad_alloc, upstream exceptions propagate, and
/// the resource stays usable after either.
///
/// Thread safety: none. One thread at a time may use an instance.
///
/// Example:
///
///     pmrkit::aligned_pool_resource pool({.alignment = 32});
///     std::pmr::vector<float> v(1024, &pool);  // v.data() is 32-byte aligned: _mm256_load_ps
class aligned_pool_resource final : public detail::size_class_front {
public:
    ///@{
    /// The range options.alignment is clamped to.
    static constexpr std::size_t min_alignment = 16;
    static constexpr std::size_t max_alignment = 4096;
    ///@}

    /// Takes no memory. Throws nothing but what copying the options throws.
    explicit aligned_pool_resource(
        const aligned_pool_options& options = {},
        std::pmr::memory_resource* upstream = std::pmr::get_default_resource());
    /// Default options over `upstream`.
    explicit aligned_pool_resource(std::pmr::memory_resource* upstream)
        : aligned_pool_resource(aligned_pool_options{}, upstream) {}

    /// Returns all memory to upstream, live blocks included.
    ~aligned_pool_resource() override = default;

    /// The options after normalization.
    [[nodiscard]] const aligned_pool_options& options() const noexcept { return m_options; }
    /// The least alignment of every block: options().alignment.
    [[nodiscard]] std::size_t alignment() const noexcept { return m_options.alignment; }

private:
    aligned_pool_options m_options;
};

} // namespace pmrkit
