// SPDX-License-Identifier: MIT
#include "pmrkit/size_class_resource.hpp"

#include <algorithm>
#include <iomanip>
#include <ostream>

namespace pmrkit {

namespace {

template <class classes>
size_class_options normalized(size_class_options o) {
    o.max_pooled_size = classes::size(classes::index(
        std::clamp(o.max_pooled_size, size_class_min_pooled_size, classes::max_size)));
    return o;
}

} // namespace

template <class Classes>
basic_size_class_resource<Classes>::basic_size_class_resource(const size_class_options& options,
                                                              std::pmr::memory_resource* upstream)
    : m_key(Classes::granularity), m_class_count(0), m_max_pooled(0), m_upstream(upstream),
      m_options(normalized<Classes>(options)),
      m_large(upstream, m_options.large_cache_bytes, m_options.large_cache_per_bucket) {
    m_max_pooled = m_options.max_pooled_size;
    m_class_count = classes::index(m_max_pooled) + 1;
    set_mark_offsets();
    for (std::size_t r = 0; r < routes; ++r) {
        m_routes[r] = &m_lists[classes::index_above(r * classes::granularity)];
    }
}

template <class Classes>
std::size_t basic_size_class_resource<Classes>::pooled_class(std::size_t bytes,
                                                             std::size_t alignment) const noexcept {
    // Sizes are checked before the rounding, so that it cannot wrap. Zero bytes take one.
    if (bytes <= m_max_pooled && alignment <= m_max_pooled && detail::is_power_of_two(alignment)) {
        const std::size_t last = last_byte(std::max<std::size_t>(bytes, 1), alignment);
        if (last < m_max_pooled) {
            return classes::index(last + 1);
        }
    }
    return classes::count;
}

template <class Classes>
void* basic_size_class_resource<Classes>::allocate_slow(std::size_t bytes, std::size_t alignment) {
    const std::size_t c = pooled_class(bytes, alignment);
    if (c != classes::count) {
        return allocate_in(m_lists[c]);
    }
    // Raised as the classes are aligned: aligned_pool_resource's granularity is its alignment.
    void* p = m_large.allocate(bytes, std::max(alignment, classes::granularity));
    note_peak();
    return p;
}

template <class Classes>
void basic_size_class_resource<Classes>::deallocate_slow(void* p, std::size_t bytes,
                                                         std::size_t alignment) noexcept {
    const std::size_t c = pooled_class(bytes, alignment);
    if (c != classes::count) {
        deallocate_in(p, m_lists[c]);
        return;
    }
    m_large.deallocate(p, bytes, std::max(alignment, classes::granularity));
}

template <class Classes>
void* basic_size_class_resource<Classes>::refill(std::size_t c) {
    // The class's list is empty: its free blocks are on their spans' lists, or every block of
    // every span of the class is live.
    class_state& state = m_classes[c];
    const std::size_t block_size = classes::size(c);
    if (detail::span* s = state.with_free.front()) {
        state.with_free.remove(s);
        state.others.push_front(s);
        // The list's blocks are all counted free (none uncounted): the fast path takes one of
        // them, unpoisoned and counted, as it takes any.
        m_lists[c].blocks = s->take_free();
        return allocate_in(m_lists[c]);
    }
    if (state.carving != nullptr) {
        if (void* block = state.carving->carve(block_size)) {
            return block;
        }
        state.carving = nullptr;
    }
    detail::span* s = new_span(c);
    state.carving = s;
    return s->carve(block_size);
}

template <class Classes>
template <class State, class F>
void basic_size_class_resource<Classes>::for_each_span(State& state, F f) noexcept {
    for (auto* list : {&state.with_free, &state.others}) {
        for (auto* s = list->front(); s != nullptr;) {
            auto* next = detail::span_list::next(s);
            f(s, *list);
            s = next;
        }
    }
}

template <class Classes>
detail::span* basic_size_class_resource<Classes>::new_span(std::size_t c) {
    const detail::span_geometry& geometry = classes::geometry(c);
    m_owned.reserve_one_more();
    void* memory = m_upstream->allocate(geometry.span_bytes, geometry.span_bytes);
    m_owned.add(memory, geometry.used_bytes(), geometry.block_size);
    detail::span* s = detail::span::create(memory, geometry, c);
    class_state& state = m_classes[c];
    state.others.push_front(s);
    state.peak_spans = std::max(state.peak_spans, state.with_free.count() + state.others.count());
    ++state.upstream_calls;
    m_span_bytes += geometry.span_bytes;
    note_peak();
    return s;
}

template <class Classes>
void basic_size_class_resource<Classes>::set_mark_offsets() noexcept {
    for (std::size_t c = 0; c < classes::count; ++c) {
        m_lists[c].mark_at =
            static_cast<std::uint32_t>(detail::free_list::mark_offset(classes::size(c)));
    }
}

template <class Classes>
void basic_size_class_resource<Classes>::note_peak() noexcept {
    m_peak_bytes = std::max(m_peak_bytes, upstream_bytes());
}

template <class Classes>
void basic_size_class_resource<Classes>::settle(std::size_t c, std::size_t keep) noexcept {
    count_frees(c, keep);
    if (m_reported > m_options.max_empty_spans || m_reported_bytes > m_options.max_empty_bytes) {
        give_back_empty_spans(false);
    }
}

template <class Classes>
void basic_size_class_resource<Classes>::push_and_settle(void* p, std::size_t c) noexcept {
    m_lists[c].blocks.push(p, m_key, m_lists[c].mark_at);
    settle(c, max_uncounted / 2);
}

template <class Classes>
void basic_size_class_resource<Classes>::count_frees(std::size_t c, std::size_t keep) noexcept {
    class_list& list = m_lists[c];
    class_state& state = m_classes[c];
    list.blocks.remove_range(keep, list.uncounted - keep, m_key, list.mark_at, [&](void* block) {
        detail::span* s = owner(block, c);
        if (!s->has_free()) {
            state.others.remove(s);
            state.with_free.push_front(s);
        }
        s->keep_free(block, m_key, list.mark_at);
        if (s->count_freed() && !s->carving() && !s->reported()) {
            s->set_reported(true);
            ++m_reported;
            m_reported_bytes += s->bytes();
        }
    });
    list.uncounted = static_cast<std::uint32_t>(keep);
}

template <class Classes>
void basic_size_class_resource<Classes>::give_back(detail::span* s) noexcept {
    const std::size_t bytes = s->bytes();
    m_span_bytes -= bytes;
    m_owned.remove(s->memory());
    // Upstream may not be ASan's allocator: it must get the span back without poisoned blocks.
    detail::asan_unpoison(s->memory(), bytes);
    m_upstream->deallocate(s->memory(), bytes, bytes);
}

template <class Classes>
void basic_size_class_resource<Classes>::give_back_empty_spans(bool with_carving) noexcept {
    for (std::size_t c = 0; c < m_class_count; ++c) {
        count_frees(c, 0);
    }
    for (std::size_t c = 0; c < m_class_count; ++c) {
        class_state& state = m_classes[c];
        bool any = false;
        for_each_span(state, [&](detail::span* s, detail::span_list&) {
            s->set_reported(false);
            const bool doomed = s->live() == 0 && (with_carving || !s->carving());
            s->set_doomed(doomed);
            any = any || doomed;
        });
        if (!any) {
            continue;
        }
        // The class's list now holds only blocks taken from one span's list (counted free); one
        // pass takes the doomed spans' blocks off it. Their own lists go with them.
        detail::free_list kept;
        const std::size_t mark_at = m_lists[c].mark_at;
        while (void* block = m_lists[c].blocks.pop(m_key, mark_at)) {
            if (!owner(block, c)->doomed()) {
                kept.push(block, m_key, mark_at);
            }
        }
        m_lists[c].blocks = kept;
        for_each_span(state, [&](detail::span* s, detail::span_list& list) {
            if (s->doomed()) {
                list.remove(s);
                if (state.carving == s) {
                    state.carving = nullptr;
                }
                give_back(s);
            }
        });
    }
    m_reported = 0;
    m_reported_bytes = 0;
}

template <class Classes>
void basic_size_class_resource<Classes>::trim() noexcept {
    give_back_empty_spans(true);
    m_large.trim();
}

template <class Classes>
void basic_size_class_resource<Classes>::release() noexcept {
    for (std::size_t c = 0; c < m_class_count; ++c) {
        class_state& state = m_classes[c];
        for_each_span(state, [&](detail::span* s, detail::span_list&) { give_back(s); });
        state = class_state{};
        m_lists[c] = class_list{};
    }
    set_mark_offsets();
    m_large.release();
    m_owned.clear();
    m_reported = 0;
    m_reported_bytes = 0;
    m_span_bytes = 0;
    m_peak_bytes = 0;
}

template <class Classes>
size_class_stats basic_size_class_resource<Classes>::class_stats(std::size_t c) const noexcept {
    const class_state& state = m_classes[c];
    std::size_t in_use = 0 - std::size_t{m_lists[c].uncounted}; // still counted by their spans
    for_each_span(state,
                  [&](const detail::span* s, const detail::span_list&) { in_use += s->live(); });
    return {classes::size(c), in_use, state.with_free.count() + state.others.count(),
            state.peak_spans, state.upstream_calls};
}

template <class Classes>
resource_stats basic_size_class_resource<Classes>::stats() const noexcept {
    std::uint64_t blocks = 0;
    std::uint64_t bytes = 0;
    std::uint64_t span_calls = 0;
    for (std::size_t c = 0; c < m_class_count; ++c) {
        const size_class_stats cs = class_stats(c);
        blocks += cs.blocks_in_use;
        bytes += cs.blocks_in_use * cs.block_size;
        span_calls += cs.upstream_calls;
    }
    resource_stats s;
    s.resource = "size_class_resource";
    s.blocks_in_use = blocks + m_large.live_blocks();
    s.bytes_in_use = bytes + m_large.live_bytes();
    s.upstream_allocations = span_calls + m_large.upstream_allocations();
    s.upstream_bytes = upstream_bytes();
    return s;
}

template <class Classes>
std::size_t basic_size_class_resource<Classes>::span_count() const noexcept {
    std::size_t count = 0;
    for (std::size_t c = 0; c < m_class_count; ++c) {
        count += m_classes[c].with_free.count() + m_classes[c].others.count();
    }
    return count;
}

template <class Classes>
std::vector<size_class_utilization>
basic_size_class_resource<Classes>::utilization(const size_class_options& options) {
    const size_class_options o = normalized<Classes>(options);
    std::vector<size_class_utilization> rows;
    for (std::size_t c = 0; c <= classes::index(o.max_pooled_size); ++c) {
        const detail::span_geometry& g = classes::geometry(c);
        rows.push_back({g.block_size, g.alignment(), g.span_bytes, g.blocks, g.wasted_bytes(),
                        static_cast<double>(g.used_bytes()) / static_cast<double>(g.span_bytes)});
    }
    return rows;
}

template <class Classes>
void basic_size_class_resource<Classes>::print_utilization(std::ostream& out,
                                                           const size_class_options& options) {
    const std::vector<size_class_utilization> rows = utilization(options);
    out << "| class | block | alignment | span | blocks/span | wasted/span | utilization |\n"
        << "|---:|---:|---:|---:|---:|---:|---:|\n";
    double sum = 0;
    const size_class_utilization* worst = &rows.front();
    double worst_waste = 0;
    std::size_t previous = 0;
    for (std::size_t c = 0; c < rows.size(); ++c) {
        const size_class_utilization& r = rows[c];
        out << "| " << c << " | " << r.block_size << " | " << r.alignment << " | "
            << r.span_bytes / 1024 << " KiB | " << r.blocks_per_span << " | " << r.wasted_bytes
            << " | " << std::fixed << std::setprecision(1) << 100 * r.utilization << "% |\n";
        sum += r.utilization;
        if (r.utilization < worst->utilization) {
            worst = &r;
        }
        // Worst internal waste: a request one byte above the previous class.
        if (previous >= classes::linear_limit) {
            worst_waste = std::max(worst_waste, static_cast<double>(r.block_size - previous - 1) /
                                                    static_cast<double>(r.block_size));
        }
        previous = r.block_size;
    }
    out << "\nclasses: " << rows.size() << ", span utilization average "
        << 100 * sum / static_cast<double>(rows.size()) << "%, worst " << 100 * worst->utilization
        << "% (" << worst->block_size << "-byte class)\n"
        << "internal waste: under " << classes::granularity << " bytes up to "
        << classes::linear_limit << " bytes, at most " << std::setprecision(3) << 100 * worst_waste
        << "% of the block above\n";
}

template class basic_size_class_resource<detail::default_size_classes>;
template class basic_size_class_resource<detail::aligned_size_classes<16>>;
template class basic_size_class_resource<detail::aligned_size_classes<32>>;
template class basic_size_class_resource<detail::aligned_size_classes<64>>;
template class basic_size_class_resource<detail::aligned_size_classes<128>>;
template class basic_size_class_resource<detail::aligned_size_classes<256>>;
template class basic_size_class_resource<detail::aligned_size_classes<512>>;
template class basic_size_class_resource<detail::aligned_size_classes<1024>>;
template class basic_size_class_resource<detail::aligned_size_classes<2048>>;
template class basic_size_class_resource<detail::aligned_size_classes<4096>>;

} // namespace pmrkit
