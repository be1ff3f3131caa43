// SPDX-License-Identifier: MIT
#include "pmrkit/engine/size_class_heap.hpp"

#include <algorithm>
#include <bit>

namespace pmrkit::detail {

size_class_options size_class_heap::normalized(const class_table& table,
                                               size_class_options o) noexcept {
    o.max_pooled_size = table.size(table.index(std::clamp(
        o.max_pooled_size, small_block_limit, std::min(table.max_size, max_pooled_limit))));
    return o;
}

size_class_heap::size_class_heap(const class_table& table, const size_class_options& options,
                                 std::pmr::memory_resource* upstream)
    // Every block is aligned to its class's natural alignment, and the first class's is the least.
    : m_key(natural_alignment(table.size(0))), m_table(table), m_class_count(0),
      m_upstream(upstream), m_options(normalized(table, options)),
      m_large(upstream, m_options.large_cache_bytes, m_options.large_cache_per_bucket),
      m_owned(table, sizeof(span)) {
    assert(table.count <= max_classes && table.routes != nullptr);
    m_class_count = table.index(m_options.max_pooled_size) + 1;
    point_routes(table.routes, m_lists.data(), m_routes);
}

std::size_t size_class_heap::class_of(std::size_t bytes, std::size_t alignment) const noexcept {
    // Sizes are checked before the rounding, so that it cannot wrap. Zero bytes take one.
    const std::size_t max = m_options.max_pooled_size;
    if (bytes <= max && alignment <= max && is_power_of_two(alignment)) {
        const std::size_t last = last_byte(std::max<std::size_t>(bytes, 1), alignment);
        if (last < max) {
            return m_table.index(last + 1);
        }
    }
    return large;
}

std::size_t size_class_heap::take(std::size_t c, std::size_t n, free_list& out) {
    class_list& list = m_lists[c];
    class_state& state = used_state(c);
    std::size_t taken = 0;
    try {
        while (taken < n) {
            // Fresh blocks, when they are next, carved in one go rather than through a refill
            // each; anything else (and a new span) as allocate takes it.
            span* fresh = state.carving;
            if (list.blocks.empty() && state.with_free.empty() && fresh != nullptr &&
                fresh->carving()) {
                ++m_refills; // one refill's worth, as a span's whole list taken at once
                const std::size_t carved =
                    fresh->carve(n - taken, class_size(c), out, m_key, pool_mark_at);
                state.counted_live += carved;
                taken += carved;
                continue;
            }
            out.push(allocate_in(list), m_key, pool_mark_at);
            ++taken;
        }
    } catch (...) { // upstream is out of memory: the blocks taken so far are the batch
        if (taken == 0) {
            throw;
        }
    }
    return taken;
}

void size_class_heap::give(std::size_t c, free_list blocks) noexcept {
    while (void* p = blocks.pop(m_key, pool_mark_at)) {
        deallocate_in(p, m_lists[c]);
    }
}

void* size_class_heap::allocate_slow(std::size_t bytes, std::size_t alignment) {
    const std::size_t c = class_of(bytes, alignment);
    if (c != large) {
        return allocate_in(m_lists[c]);
    }
    // Tested before the alignment is raised, which would make it a power of two.
    if (!is_power_of_two(alignment)) {
        throw_bad_alloc();
    }
    const std::size_t taken = m_large.block_allocations();
    void* p = nullptr;
    try {
        // Raised as the classes are aligned (aligned_pool_resource's are aligned to its
        // alignment).
        p = m_large.allocate(bytes, std::max(alignment, m_table.large_alignment));
    } catch (...) { // the record table may have grown before upstream refused the block
        note_peak();
        throw;
    }
    // The pool grows: the spans kept empty since the last sweep go back, for upstream to serve
    // the next large blocks from (python's trace replayed faulted 14 MB in afresh without this).
    if (m_large.block_allocations() != taken && m_kept_spans != 0) {
        give_back_kept_spans();
    }
    note_peak();
    return p;
}

void size_class_heap::deallocate_slow(void* p, std::size_t bytes, std::size_t alignment) noexcept {
    const std::size_t c = class_of(bytes, alignment);
    if (c != large) {
        deallocate_in(p, m_lists[c]);
        // Blocks this large take the slow path anyway: a test finds a class with no block live
        // that has spans to give back.
        if (no_block_live(c) && has_spare(state_of(c)) && m_unused == unused_check::armed)
            [[unlikely]] {
            give_back_if_unused();
        }
        return;
    }
    m_large.deallocate(p, bytes, std::max(alignment, m_table.large_alignment));
    if (m_large.live_blocks() == 0 && m_unused == unused_check::armed) [[unlikely]] {
        give_back_if_unused();
    }
}

void* size_class_heap::refill(class_list& list) {
    const std::size_t c = class_of(list);
    // The class's list is empty: its free blocks are on their spans' lists, or every block of
    // every span of the class is live, or it has not been used.
    class_state& state = used_state(c);
    const std::size_t block_size = class_size(c);
    ++m_refills;
    if (span* s = state.with_free.front()) {
        state.with_free.remove(s);
        state.others.push_front(s);
        if (s->kept_empty()) {
            s->set_kept_empty(false);
            --m_kept_spans;
        }
        // The list is empty, so room is max_uncounted, and a span holds at most that many blocks
        // (init_class): room stays at least 0.
        list.room -= static_cast<std::int32_t>(s->free_count());
        state.counted_live += s->free_count();
        list.blocks = s->take_free();
        return allocate_in(list);
    }
    if (state.carving != nullptr) {
        if (void* block = state.carving->carve(block_size, pool_mark_at)) {
            ++state.counted_live;
            return block;
        }
        state.carving = nullptr;
    }
    span* s = new_span(c);
    state.carving = s;
    ++state.counted_live;
    return s->carve(block_size, pool_mark_at);
}

template <class State, class F>
void size_class_heap::for_each_span(State& state, F f) noexcept {
    for (auto* list : {&state.with_free, &state.others}) {
        for (auto* s = list->front(); s != nullptr;) {
            auto* next = span_list::next(s);
            f(s, *list);
            s = next;
        }
    }
}

span* size_class_heap::new_span(std::size_t c) {
    class_state& state = state_of(c);
    const std::size_t level = state.next_level;
    const span_geometry& own = m_table.geometry(c);
    const span_geometry geometry =
        level == 0 ? own : size_class_policy::growth_layout(own, level, sizeof(span));
    m_owned.reserve_one_more();
    void* memory = level != 0 && geometry.span_bytes == size_class_policy::min_growth_span &&
                           m_table.shares_first_spans
                       ? cut_from_starter()
                       : nullptr;
    if (memory == nullptr) {
        memory = m_upstream->allocate(geometry.span_bytes, geometry.span_bytes);
        m_span_bytes += geometry.span_bytes;
        ++state.upstream_allocations;
    }
    span* s = span::create(memory, geometry, c);
    m_owned.add(memory, c, level);
    if (level != 0) {
        state.growing[level - 1] = s;
        ++state.growing_spans;
        --state.next_level;
    }
    m_unused = m_unused == unused_check::gave_back || m_unused == unused_check::cycles
                   ? unused_check::cycles
                   : unused_check::armed;
    state.others.push_front(s);
    state.peak_spans = std::max(state.peak_spans, state.with_free.count() + state.others.count());
    note_peak();
    return s;
}

void* size_class_heap::cut_from_starter() {
    starter* free_entry = nullptr;
    for (starter& b : m_starters) {
        if (b.block == nullptr) {
            free_entry = free_entry != nullptr ? free_entry : &b;
        } else if (b.cut != starter_spans) {
            ++b.live;
            return b.first_cut + std::size_t{b.cut++} * size_class_policy::min_growth_span;
        }
    }
    if (free_entry == nullptr) {
        return nullptr;
    }
    auto* block = static_cast<std::byte*>(m_upstream->allocate(starter_bytes, starter_alignment));
    const auto address = reinterpret_cast<std::uintptr_t>(block);
    *free_entry = {block, block + (align_up(address, size_class_policy::min_growth_span) - address),
                   1, 1};
    m_span_bytes += starter_bytes;
    ++m_starter_allocations;
    return free_entry->first_cut;
}

size_class_heap::starter* size_class_heap::starter_of(const span* s) noexcept {
    // Only first spans of the smallest size are cut from starter blocks: a larger span is never
    // compared with the blocks.
    if (s->bytes() != size_class_policy::min_growth_span) {
        return nullptr;
    }
    const auto address = reinterpret_cast<std::uintptr_t>(s);
    for (starter& b : m_starters) {
        if (b.block != nullptr &&
            address - reinterpret_cast<std::uintptr_t>(b.block) < starter_bytes) {
            return &b;
        }
    }
    return nullptr;
}

void size_class_heap::init_class(class_list& list) noexcept {
    const std::size_t c = class_of(list);
    // Default-initialized, member by member: value-initialized, 104 bytes took a rep stos, whose
    // start-up was a quarter of a class's first refill.
    class_state& state = *::new (&m_states[c * sizeof(class_state)]) class_state;
    state.next_level = m_table.first_level(c);
    // In 32 bits: a 64-bit division was a fifth of it.
    const std::uint32_t blocks =
        static_cast<std::uint32_t>(uncounted_bytes) / static_cast<std::uint32_t>(class_size(c));
    list.max_uncounted = static_cast<std::int32_t>(
        std::max({min_max_uncounted, std::size_t{blocks}, m_table.geometry(c).blocks}));
    list.room = list.max_uncounted;
    m_used[c / 64] |= std::uint64_t{1} << (c % 64);
}

void size_class_heap::note_peak() noexcept {
    m_peak_bytes = std::max(m_peak_bytes, upstream_bytes());
}

void size_class_heap::settle(class_list& list) noexcept {
    count_frees(class_of(list), static_cast<std::size_t>(list.max_uncounted / 2));
    if ((m_reported > m_options.max_empty_spans || m_reported_bytes > m_options.max_empty_bytes) &&
        m_refills - m_swept_at >= m_options.empty_span_decay) {
        give_back_empty_spans(false);
    }
}

void size_class_heap::push_and_settle(void* p, class_list& list) noexcept {
    list.blocks.push(p, m_key, pool_mark_at);
    settle(list);
}

void size_class_heap::count_frees(std::size_t c, std::size_t keep) noexcept {
    class_list& list = m_lists[c];
    class_state& state = state_of(c);
    list.blocks.remove_range(keep, list.uncounted() - keep, m_key, pool_mark_at, [&](void* block) {
        span* s = owner(block, c);
        --state.counted_live;
        if (!s->has_free()) {
            state.others.remove(s);
            state.with_free.push_front(s);
        }
        if (s->keep_free(block, m_key, pool_mark_at) && !s->carving() && !s->reported()) {
            s->set_reported(true);
            ++m_reported;
            m_reported_bytes += s->bytes();
        }
    });
    list.room = list.max_uncounted - static_cast<std::int32_t>(keep);
}

span* size_class_heap::growing_owner(const void* block, std::size_t c) const noexcept {
    // A span of level l is aligned to its size, own >> l: the block is in it if the block's and
    // the header's addresses agree above that size (nothing of the header is read).
    const auto address = reinterpret_cast<std::uintptr_t>(block);
    const std::size_t own = m_table.geometry(c).span_bytes;
    const auto& growing = state_of(c).growing;
    for (std::size_t i = 0; i < growing.size(); ++i) {
        span* s = growing[i];
        if (s != nullptr && (address ^ reinterpret_cast<std::uintptr_t>(s)) < (own >> (i + 1))) {
            return s;
        }
    }
    return nullptr;
}

void size_class_heap::give_back(span* s) noexcept {
    const std::size_t bytes = s->bytes();
    const std::size_t c = s->size_class();
    class_state& state = state_of(c);
    const std::size_t own = m_table.geometry(c).span_bytes;
    state.counted_live -= s->live();
    // A span reported empty leaves the sweep's count with it (a sweep clears the marks first).
    if (s->reported()) {
        --m_reported;
        m_reported_bytes -= bytes;
    }
    if (s->kept_empty()) {
        --m_kept_spans;
    }
    // Carved to its end, it may still be the class's carving span (refill finds that out).
    if (state.carving == s) {
        state.carving = nullptr;
    }
    const auto level = static_cast<std::size_t>(std::countr_zero(own / bytes));
    m_owned.remove(s->memory(), c, level);
    if (level != 0) {
        state.growing[level - 1] = nullptr;
        --state.growing_spans;
    }
    // A class that holds nothing starts small again.
    if (state.with_free.empty() && state.others.empty()) {
        state.next_level = m_table.first_level(c);
    }
    // Upstream may not be ASan's allocator: it must get the span back without poisoned blocks.
    asan_unpoison(s->memory(), bytes);
    starter* from = starter_of(s);
    if (from == nullptr) {
        m_span_bytes -= bytes;
        m_upstream->deallocate(s->memory(), bytes, bytes);
    } else if (--from->live == 0) {
        m_span_bytes -= starter_bytes;
        m_upstream->deallocate(from->block, starter_bytes, starter_alignment);
        from->block = nullptr;
    }
}

void size_class_heap::give_back_if_unused() noexcept {
    if (m_large.live_blocks() != 0) {
        return;
    }
    bool live = false;
    for_each_used([&](std::size_t c) { live = live || !no_block_live(c); });
    if (live) {
        return;
    }
    m_unused = unused_check::idle;
    for_each_used([&](std::size_t c) {
        class_state& state = state_of(c);
        if (!has_spare(state)) {
            return;
        }
        // Every block of the class is free: its list's go to their spans' lists, which go with
        // the spans. The largest span was the last taken: the class's next is one level up.
        count_frees(c, 0);
        const span* largest = nullptr;
        for_each_span(state, [&](span* s, span_list&) {
            if (largest == nullptr || s->bytes() > largest->bytes()) {
                largest = s;
            }
        });
        const std::size_t own = m_table.geometry(c).span_bytes;
        for_each_span(state, [&](span* s, span_list& list) {
            if (s != largest && s->bytes() != own) {
                list.remove(s);
                give_back(s);
                m_unused = unused_check::gave_back;
            }
        });
    });
}

void size_class_heap::give_back_empty_spans(bool all) noexcept {
    // A sweep counts afresh the spans it keeps empty.
    m_reported = 0;
    m_reported_bytes = 0;
    m_kept_spans = 0;
    const bool kept_only = !all && m_options.empty_span_decay != 0;
    for_each_used([&](std::size_t c) {
        // Every free block of the class is now on its span's list, which goes with the span.
        count_frees(c, 0);
        class_state& state = state_of(c);
        for_each_span(state, [&](span* s, span_list& list) {
            const bool empty = s->live() == 0 && (all || !s->carving());
            const bool kept = s->kept_empty();
            s->set_reported(false);
            s->set_kept_empty(false);
            if (empty && (!kept_only || kept)) {
                list.remove(s);
                give_back(s);
            } else if (empty) {
                s->set_reported(true);
                s->set_kept_empty(true);
                ++m_reported;
                m_reported_bytes += s->bytes();
                ++m_kept_spans;
            }
        });
    });
    m_swept_at = m_refills;
}

void size_class_heap::give_back_kept_spans() noexcept {
    for_each_used([&](std::size_t c) {
        if (m_kept_spans == 0) {
            return; // every kept span found: the other classes' spans need no walk
        }
        for_each_span(state_of(c), [&](span* s, span_list& list) {
            if (s->kept_empty()) {
                list.remove(s);
                give_back(s);
            }
        });
    });
}

void size_class_heap::trim() noexcept {
    give_back_empty_spans(true);
    m_large.trim();
}

void size_class_heap::give_back_all() noexcept {
    // No count is kept up to date span by span (as give_back does, a third of a small pool's
    // destruction): every class is left stale, and the spans cut from starter blocks go back with
    // their blocks.
    for_each_used([&](std::size_t c) {
        for_each_span(state_of(c), [&](span* s, span_list&) {
            const std::size_t bytes = s->bytes();
            // Upstream may not be ASan's allocator: it must get memory back unpoisoned.
            asan_unpoison(s->memory(), bytes);
            if (starter_of(s) == nullptr) {
                m_upstream->deallocate(s->memory(), bytes, bytes);
            }
        });
    });
    for (starter& b : m_starters) {
        if (b.block != nullptr) {
            m_upstream->deallocate(b.block, starter_bytes, starter_alignment);
            b = {};
        }
    }
    m_large.release();
}

void size_class_heap::release() noexcept {
    give_back_all();
    std::fill_n(m_lists.begin(), m_class_count, class_list{});
    m_used = {};
    m_owned.clear();
    m_reported = 0;
    m_reported_bytes = 0;
    m_swept_at = m_refills;
    m_kept_spans = 0;
    m_span_bytes = 0;
    m_peak_bytes = 0;
    m_starter_allocations = 0;
    m_unused = unused_check::armed;
}

size_class_stats size_class_heap::class_stats(std::size_t c) const noexcept {
    if (!used(c)) {
        return {class_size(c), 0, 0, 0, 0};
    }
    const class_state& state = state_of(c);
    std::size_t in_use = 0 - m_lists[c].uncounted(); // still counted by their spans
    for_each_span(state, [&](const span* s, const span_list&) { in_use += s->live(); });
    return {class_size(c), in_use, state.with_free.count() + state.others.count(), state.peak_spans,
            state.upstream_allocations};
}

resource_stats size_class_heap::stats() const noexcept {
    std::uint64_t blocks = 0;
    std::uint64_t bytes = 0;
    std::uint64_t span_calls = 0;
    for (std::size_t c = 0; c < m_class_count; ++c) {
        const size_class_stats cs = class_stats(c);
        blocks += cs.blocks_in_use;
        bytes += cs.blocks_in_use * cs.block_size;
        span_calls += cs.upstream_allocations;
    }
    resource_stats s;
    s.blocks_in_use = blocks + m_large.live_blocks();
    s.bytes_in_use = bytes + m_large.live_bytes();
    s.upstream_allocations = span_calls + m_starter_allocations + m_large.upstream_allocations();
    s.upstream_bytes = upstream_bytes();
    return s;
}

std::size_t size_class_heap::span_count() const noexcept {
    std::size_t count = 0;
    for_each_used([&](std::size_t c) {
        count += state_of(c).with_free.count() + state_of(c).others.count();
    });
    return count;
}

std::vector<size_class_utilization>
size_class_heap::utilization(const class_table& table, const size_class_options& options) {
    const size_class_options o = normalized(table, options);
    std::vector<size_class_utilization> rows;
    for (std::size_t c = 0; c <= table.index(o.max_pooled_size); ++c) {
        const span_geometry& g = table.geometry(c);
        rows.push_back({g.block_size, g.alignment(), g.span_bytes, g.blocks, g.wasted_bytes(),
                        static_cast<double>(g.used_bytes()) / static_cast<double>(g.span_bytes)});
    }
    return rows;
}

} // namespace pmrkit::detail
