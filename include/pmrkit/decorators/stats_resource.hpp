// SPDX-License-Identifier: MIT
#pragma once

#include "pmrkit/resource_stats.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <type_traits>

namespace pmrkit {

namespace detail {

// Counter policies of basic_stats_resource: the arithmetic is written once, the policy decides
// whether it is plain (one thread) or a relaxed atomic (any threads, no ordering needed since
// every counter is read on its own).
class plain_counter {
public:
    void add(std::uint64_t n) noexcept { m_value += n; }
    void subtract(std::uint64_t n) noexcept { m_value -= n; }
    [[nodiscard]] std::uint64_t add_fetch(std::uint64_t n) noexcept { return m_value += n; }
    void raise_to(std::uint64_t v) noexcept {
        if (v > m_value) {
            m_value = v;
        }
    }
    [[nodiscard]] std::uint64_t load() const noexcept { return m_value; }
    void store(std::uint64_t v) noexcept { m_value = v; }

private:
    std::uint64_t m_value = 0;
};

class relaxed_counter {
public:
    void add(std::uint64_t n) noexcept { m_value.fetch_add(n, std::memory_order_relaxed); }
    void subtract(std::uint64_t n) noexcept { m_value.fetch_sub(n, std::memory_order_relaxed); }
    [[nodiscard]] std::uint64_t add_fetch(std::uint64_t n) noexcept {
        return m_value.fetch_add(n, std::memory_order_relaxed) + n;
    }
    void raise_to(std::uint64_t v) noexcept {
        std::uint64_t current = m_value.load(std::memory_order_relaxed);
        while (v > current &&
               !m_value.compare_exchange_weak(current, v, std::memory_order_relaxed)) {
        }
    }
    [[nodiscard]] std::uint64_t load() const noexcept {
        return m_value.load(std::memory_order_relaxed);
    }
    void store(std::uint64_t v) noexcept { m_value.store(v, std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> m_value{0};
};

} // namespace detail

/// stats_resource: a pass-through that counts what goes through it: allocations, deallocations,
/// bytes in use, peak bytes in use, total bytes, and power-of-two histograms of request sizes and
/// alignments. Put one wherever a stack needs measuring (above a pool to size it, below it to see
/// its upstream traffic); stats() gives a snapshot in the common shape and to_json() a report.
///
/// Two versions, one implementation:
///   stats_resource              plain counters. Thread safety: none, one thread at a time.
///   concurrent_stats_resource   relaxed atomic counters. Thread safety: allocate and deallocate
///                               from any threads; each counter is exact, a snapshot taken while
///                               other threads allocate may mix counters from different instants.
///
/// Cost: counting happens after upstream returns, so a failed allocation is counted in
/// failed_allocations only. The number of allocations is the sum of the size histogram rather
/// than a counter of its own. Complexity O(1); never allocates.
///
/// Errors: upstream exceptions propagate unchanged. Bytes are the requested bytes, so deallocate
/// must be given the size of the allocation (as every memory_resource requires).
///
/// Example:
///
///     pmrkit::stats_resource stats(&pool);
///     std::pmr::vector<int> v(&stats);
///     ...
///     std::cout << pmrkit::to_json(stats.stats()) << '\n';
template <class Counter>
class basic_stats_resource final : public std::pmr::memory_resource {
public:
    /// Counts what passes to `upstream`. Takes no memory.
    explicit basic_stats_resource(
        std::pmr::memory_resource* upstream = std::pmr::get_default_resource()) noexcept
        : m_upstream(upstream) {}

    basic_stats_resource(const basic_stats_resource&) = delete;
    basic_stats_resource& operator=(const basic_stats_resource&) = delete;
    ~basic_stats_resource() override = default;

    /// The resource every call passes to.
    [[nodiscard]] std::pmr::memory_resource* upstream_resource() const noexcept {
        return m_upstream;
    }

    /// Allocations that upstream served (the sum of the size histogram).
    [[nodiscard]] std::uint64_t allocations() const noexcept { return histogram(m_sizes).total(); }
    /// Deallocations passed to upstream.
    [[nodiscard]] std::uint64_t deallocations() const noexcept { return m_deallocations.load(); }
    /// Allocations whose upstream call threw.
    [[nodiscard]] std::uint64_t failed_allocations() const noexcept { return m_failed.load(); }
    /// Deallocations are read first, so that blocks allocated and freed while this runs do not
    /// make the difference negative.
    [[nodiscard]] std::uint64_t blocks_in_use() const noexcept {
        const std::uint64_t freed = deallocations();
        return m_blocks_at_reset.load() + allocations() - freed;
    }
    /// Requested bytes allocated and not yet deallocated.
    [[nodiscard]] std::uint64_t bytes_in_use() const noexcept { return m_bytes_in_use.load(); }
    /// Most bytes in use at once since construction or reset().
    [[nodiscard]] std::uint64_t peak_bytes_in_use() const noexcept { return m_peak_bytes.load(); }
    /// Requested bytes of every allocation since construction or reset().
    [[nodiscard]] std::uint64_t total_bytes() const noexcept { return m_total_bytes.load(); }
    /// Allocations by requested size, per power of two.
    [[nodiscard]] pow2_histogram sizes() const noexcept { return histogram(m_sizes); }
    /// Allocations by requested alignment.
    [[nodiscard]] pow2_histogram alignments() const noexcept { return histogram(m_alignments); }

    /// The snapshot in the common shape (resource "stats_resource" or "concurrent_stats_resource").
    [[nodiscard]] resource_stats stats() const noexcept {
        resource_stats s;
        s.resource = is_concurrent ? "concurrent_stats_resource" : "stats_resource";
        s.deallocations = deallocations(); // first, as in blocks_in_use()
        s.sizes = sizes();
        s.alignments = alignments();
        s.allocations = s.sizes->total();
        s.failed_allocations = failed_allocations();
        s.blocks_in_use = m_blocks_at_reset.load() + *s.allocations - *s.deallocations;
        s.bytes_in_use = bytes_in_use();
        s.peak_bytes_in_use = peak_bytes_in_use();
        s.total_bytes = total_bytes();
        return s;
    }

    /// Zeroes the counts and histograms; what is in use stays counted as in use (so later
    /// deallocations balance), and the peak restarts from it. Not atomic with respect to
    /// concurrent allocations.
    void reset() noexcept {
        m_blocks_at_reset.store(blocks_in_use());
        m_peak_bytes.store(bytes_in_use());
        for (Counter& c : m_sizes) {
            c.store(0);
        }
        for (Counter& c : m_alignments) {
            c.store(0);
        }
        m_deallocations.store(0);
        m_failed.store(0);
        m_total_bytes.store(0);
    }

private:
    static constexpr bool is_concurrent = !std::is_same_v<Counter, detail::plain_counter>;

    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        void* p = nullptr;
        try {
            p = m_upstream->allocate(bytes, alignment);
        } catch (...) {
            m_failed.add(1);
            throw;
        }
        m_sizes[pow2_histogram::bucket(bytes)].add(1);
        m_alignments[pow2_histogram::bucket(alignment)].add(1);
        m_total_bytes.add(bytes);
        m_peak_bytes.raise_to(m_bytes_in_use.add_fetch(bytes));
        return p;
    }

    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        m_bytes_in_use.subtract(bytes);
        m_deallocations.add(1);
        m_upstream->deallocate(p, bytes, alignment);
    }

    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

    static pow2_histogram histogram(const std::array<Counter, pow2_histogram::buckets>& counters) {
        pow2_histogram h;
        for (std::size_t k = 0; k < pow2_histogram::buckets; ++k) {
            h.counts[k] = counters[k].load();
        }
        return h;
    }

    // Touched on every call first, so that they share the first cache line.
    std::pmr::memory_resource* m_upstream;
    Counter m_bytes_in_use;
    Counter m_peak_bytes;
    Counter m_total_bytes;
    Counter m_deallocations;
    Counter m_failed;
    Counter m_blocks_at_reset;
    std::array<Counter, pow2_histogram::buckets> m_sizes{};
    std::array<Counter, pow2_histogram::buckets> m_alignments{};
};

/// The stats_resource for one thread at a time: plain counters.
using stats_resource = basic_stats_resource<detail::plain_counter>;
/// The stats_resource any threads may share: relaxed atomic counters.
using concurrent_stats_resource = basic_stats_resource<detail::relaxed_counter>;

extern template class basic_stats_resource<detail::plain_counter>;
extern template class basic_stats_resource<detail::relaxed_counter>;

} // namespace pmrkit
