// SPDX-License-Identifier: MIT
/// @file
/// The statistics shape shared by every pmrkit resource, so that one JSON report covers a whole
/// stack (stats_resource -> size_class_resource -> test_resource -> ...).
///
/// A resource joins the report by implementing one function:
///
///     [[nodiscard]] resource_stats stats() const noexcept;
/// filling the fields it knows and leaving the others empty (written as null): a pool does not
/// count its fast-path calls, a pass-through decorator has no upstream bytes of its own.
///
/// Example:
///
///     pmrkit::stats_resource outer(&pool);
///     std::cout << pmrkit::to_json(pmrkit::stack_stats(outer, pool)) << '\n';
#pragma once

#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>

/// std::pmr::memory_resource classes: pools, arenas, decorators and sources, each usable alone or
/// stacked through upstream pointers. pmrkit::detail is internal.
namespace pmrkit {

/// Counts by power of two: bucket k >= 1 holds values in [2^(k-1), 2^k), bucket 0 holds 0.
/// So an alignment a (a power of two) lands in the bucket labelled a, and a size in the bucket
/// labelled with the largest power of two not above it.
struct pow2_histogram {
    /// Bucket 0, and one per bit width from 1 to 63.
    static constexpr std::size_t buckets = 64;

    /// bit_width(v), written so that g++ emits one LEA and one BSR (and a sign extension it
    /// cannot prove useless): 2v + 1 is never 0, and 63 ^ countl_zero is the BSR result itself.
    /// In 64 bits whatever size_t is (a 32-bit countl_zero made 63 ^ it 32 or more). Values of
    /// 2^63 and above, which no resource can serve, are never counted.
    [[nodiscard]] static constexpr std::size_t bucket(std::size_t v) noexcept {
        return 63U ^ static_cast<unsigned>(std::countl_zero((std::uint64_t{v} << 1) | 1));
    }
    /// The smallest value of bucket k.
    [[nodiscard]] static constexpr std::uint64_t label(std::size_t k) noexcept {
        return k == 0 ? 0 : std::uint64_t{1} << (k - 1);
    }
    /// The sum of all counts.
    [[nodiscard]] std::uint64_t total() const noexcept;

    /// counts[k]: the values counted in bucket k.
    std::array<std::uint64_t, buckets> counts{};
};

/// A snapshot of one resource. Counts are since construction (or the resource's reset()); bytes
/// are as the resource counts them (a pool counts whole blocks, a decorator the bytes requested).
struct resource_stats {
    /// A count, empty when the resource does not track it (written as null).
    using count = std::optional<std::uint64_t>;

    /// The type, e.g. "fixed_block_resource".
    std::string_view resource;
    ///@{
    /// Allocate calls that returned a block, deallocate calls, and allocate calls this resource
    /// refused or that threw.
    count allocations;
    count deallocations;
    count failed_allocations;
    ///@}
    /// Blocks allocated and not yet deallocated.
    count blocks_in_use;
    /// Bytes of the blocks in use.
    count bytes_in_use;
    /// Most blocks in use at once.
    count peak_blocks_in_use;
    /// Most bytes in use at once.
    count peak_bytes_in_use;
    /// Bytes of all successful allocations.
    count total_bytes;
    /// Allocations served without an upstream call.
    count served_locally;
    ///@{
    /// Calls to upstream allocate and deallocate, and the bytes held from upstream now.
    count upstream_allocations;
    count upstream_deallocations;
    count upstream_bytes;
    ///@}
    ///@{
    /// Of the requests, by power of two.
    std::optional<pow2_histogram> sizes;
    std::optional<pow2_histogram> alignments;
    ///@}
};

/// A resource that joins the report: it has `resource_stats stats() const`.
template <class R>
concept reports_stats = requires(const R& r) {
    { r.stats() } -> std::same_as<resource_stats>;
};

/// Snapshots of the layers of a stack, listed top (the resource containers use) first.
template <reports_stats... Rs>
[[nodiscard]] std::array<resource_stats, sizeof...(Rs)> stack_stats(const Rs&... layers) {
    return {layers.stats()...};
}

///@{
/// One JSON object per resource, keys in the order of the struct, null for what the resource does
/// not track; histograms as {"label": count} with only non-empty buckets. A stack is an array of
/// those objects, top first.
void write_json(std::ostream& out, const resource_stats& stats);
void write_json(std::ostream& out, std::span<const resource_stats> stack);
[[nodiscard]] std::string to_json(const resource_stats& stats);
[[nodiscard]] std::string to_json(std::span<const resource_stats> stack);
///@}

} // namespace pmrkit
