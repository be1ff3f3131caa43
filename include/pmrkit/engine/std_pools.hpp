// SPDX-License-Identifier: MIT
// What the std drop-in pools (unsynchronized_pool_resource, synchronized_pool_resource) share:
// std::pmr::pool_options normalized to the size-class engine's limits, the options of the heap
// that serves them, and the class table whose spans hold at most max_blocks_per_chunk blocks.
#pragma once

#include "pmrkit/detail/config.hpp"
#include "pmrkit/detail/size_classes.hpp"
#include "pmrkit/engine/size_class_heap.hpp"

#include <cstddef>
#include <memory_resource>
#include <optional>

namespace pmrkit::detail {

struct std_pools {
    // The implementation's limits of [mem.res.pool.options]: a span of the default classes holds
    // at most max_blocks_limit blocks (508 blocks of 16 bytes in 8 KiB; 509 in 32 bits), and sizes
    // up to largest_block_limit (64 KiB) can be pooled.
    static constexpr std::size_t max_blocks_limit = default_size_classes::max_blocks_per_span;
    static constexpr std::size_t largest_block_limit = max_pooled_limit;

    // 0 and values above the limits become the limits; largest_required_pool_block is then raised
    // to at least small_block_limit (2 KiB, always pooled) and rounded up to a class size.
    [[nodiscard]] static std::pmr::pool_options
    normalized(std::pmr::pool_options options) noexcept {
        const auto limited = [](std::size_t value, std::size_t limit) {
            return value == 0 || value > limit ? limit : value;
        };
        options.max_blocks_per_chunk = limited(options.max_blocks_per_chunk, max_blocks_limit);
        options.largest_required_pool_block =
            heap_options(limited(options.largest_required_pool_block, largest_block_limit))
                .max_pooled_size;
        return options;
    }

    // The heap's options for a normalized largest_required_pool_block: no large-block cache, so
    // larger requests pass to upstream with their exact size (and, through table's
    // large_alignment of 1, their exact alignment).
    [[nodiscard]] static size_class_options heap_options(std::size_t largest_block) noexcept {
        return size_class_heap::normalized(
            default_size_classes::table,
            {.max_pooled_size = largest_block, .large_cache_bytes = 0});
    }

    // The default classes, spans capped at a normalized max_blocks_per_chunk.
    using classes = capped_class_table<default_size_classes>;
    // The tables' large_alignment: large requests pass to upstream with their own alignment.
    static constexpr std::size_t exact_alignment = 1;

    // The class table of a pool with a normalized max_blocks_per_chunk: a capped one built in
    // `capped` if the value caps a span, else the one every such pool shares (building a capped
    // table that capped nothing was a third of the default pool's construction).
    [[nodiscard]] static const class_table& table_for(std::size_t max_blocks_per_chunk,
                                                      std::optional<classes>& capped) {
        if (max_blocks_per_chunk >= max_blocks_limit) {
            return uncapped;
        }
        return capped.emplace(max_blocks_per_chunk, exact_alignment).table();
    }

private:
    static constexpr class_table uncapped = [] {
        class_table table = default_size_classes::table;
        table.large_alignment = exact_alignment;
        return table;
    }();
};

} // namespace pmrkit::detail
