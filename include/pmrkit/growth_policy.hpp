// SPDX-License-Identifier: MIT
/// @file
/// How a pool sizes the next chunk it takes from upstream.
#pragma once

#include <cstddef>
#include <functional>

namespace pmrkit {

/// Next chunk's block count as a function of the pool's state. Value type; cheap to copy for the
/// linear and exponential kinds.
///
///   growth_policy::linear(256)       every chunk after the first holds 256 blocks
///   growth_policy::exponential(2.0)  every chunk holds factor × the previous one (the default),
///                                    rounded down; with a factor above 1, at least one block
///                                    more than the previous one
///   growth_policy::custom(f)         f(capacity in blocks) returns the next chunk's block count
///
/// Whatever the policy says, a pool clamps the result to at least 1 block and to what its
/// max_blocks cap still allows.
class growth_policy {
public:
    /// Every chunk after the first holds blocks_per_chunk blocks.
    [[nodiscard]] static growth_policy linear(std::size_t blocks_per_chunk) {
        return growth_policy(kind::linear, blocks_per_chunk, 1.0, {});
    }
    /// Precondition: factor >= 1.
    [[nodiscard]] static growth_policy exponential(double factor = 2.0) {
        return growth_policy(kind::exponential, 0, factor, {});
    }
    /// next(capacity in blocks) returns the next chunk's block count.
    [[nodiscard]] static growth_policy custom(std::function<std::size_t(std::size_t)> next) {
        return growth_policy(kind::custom, 0, 1.0, std::move(next));
    }

    /// Blocks for the next chunk, given the capacity so far and the size of the last chunk.
    /// Saturates instead of overflowing; the caller clamps and checks the byte size.
    [[nodiscard]] std::size_t next_chunk_blocks(std::size_t capacity,
                                                std::size_t last_chunk_blocks) const;

private:
    enum class kind { linear, exponential, custom };
    growth_policy(kind k, std::size_t blocks, double factor,
                  std::function<std::size_t(std::size_t)> next)
        : m_kind(k), m_blocks(blocks), m_factor(factor), m_custom(std::move(next)) {}

    kind m_kind;
    std::size_t m_blocks;
    double m_factor;
    std::function<std::size_t(std::size_t)> m_custom;
};

} // namespace pmrkit
