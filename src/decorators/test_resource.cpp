// SPDX-License-Identifier: MIT
#include "pmrkit/decorators/test_resource.hpp"

#include "pmrkit/detail/math.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <sstream>

namespace pmrkit {

namespace {

// The block as deallocate's caller and the reports name it.
std::string describe(const void* p, std::size_t bytes, std::size_t alignment) {
    std::ostringstream out;
    out << p << " (" << bytes << " bytes, alignment " << alignment << ')';
    return std::move(out).str();
}

std::string describe_allocation(const void* p, std::size_t bytes, std::size_t alignment,
                                std::size_t serial) {
    std::ostringstream out;
    out << describe(p, bytes, alignment) << ", allocation #" << serial;
    return std::move(out).str();
}

// Offset of the first byte in [begin, begin + n) that is not `fill`, or n.
std::size_t first_changed(const std::byte* begin, std::size_t n, std::byte fill) {
    return static_cast<std::size_t>(
        std::find_if(begin, begin + n, [fill](std::byte b) { return b != fill; }) - begin);
}

} // namespace

test_resource::test_resource(test_resource_options options, std::pmr::memory_resource* upstream)
    : m_options(std::move(options)), m_upstream(upstream), m_blocks(upstream), m_ring(upstream) {}

test_resource::~test_resource() {
    error_list errors;
    {
        const std::lock_guard lock(m_mutex);
        for (auto it = m_blocks.begin(); it != m_blocks.end();) {
            const auto next = std::next(it);
            if (it->second.freed) {
                evict(it, errors);
            }
            it = next;
        }
        report_live_since(1, allocation_error_kind::leak, "test_resource destroyed with", errors);
        for (const auto& [p, r] : m_blocks) {
            m_upstream->deallocate(r.outer, r.outer_bytes, r.alignment);
        }
        m_blocks.clear();
    }
    dispatch(errors, true);
}

std::size_t test_resource::front_bytes(std::size_t alignment) const noexcept {
    return detail::align_up(m_options.guard_bytes, alignment);
}

void test_resource::fail_allocation(std::size_t n, std::size_t times) noexcept {
    const std::lock_guard lock(m_mutex);
    m_fail_in = times == 0 ? 0 : n;
    m_fail_left = times;
}

void* test_resource::do_allocate(std::size_t bytes, std::size_t alignment) {
    const std::lock_guard lock(m_mutex);
    if (m_fail_in != 0 && --m_fail_in == 0) {
        if (--m_fail_left != 0) {
            m_fail_in = 1;
        }
        ++m_failed;
        throw injected_bad_alloc();
    }
    // Sizes are checked before any arithmetic, so upstream never sees a wrapped size.
    constexpr std::size_t max_size = std::numeric_limits<std::size_t>::max() / 4;
    if (!detail::is_power_of_two(alignment) || bytes > max_size || alignment > max_size ||
        m_options.guard_bytes > max_size) {
        ++m_failed;
        detail::throw_bad_alloc();
    }
    const std::size_t front = front_bytes(alignment);
    const std::size_t outer_bytes = front + bytes + m_options.guard_bytes;
    std::byte* outer = nullptr;
    try {
        // Reserved here, so that deallocate never allocates.
        m_ring.reserve(m_options.quarantine_blocks);
        outer = static_cast<std::byte*>(m_upstream->allocate(outer_bytes, alignment));
        m_blocks.emplace(outer + front,
                         record{outer, outer_bytes, bytes, alignment, m_serial + 1, false});
    } catch (...) {
        if (outer != nullptr) {
            m_upstream->deallocate(outer, outer_bytes, alignment);
        }
        ++m_failed;
        throw;
    }
    std::byte* p = outer + front;
    ++m_serial;
    std::memset(outer, static_cast<int>(guard_fill), front);
    std::memset(p, static_cast<int>(allocated_fill), bytes);
    std::memset(p + bytes, static_cast<int>(guard_fill), m_options.guard_bytes);
    ++m_live_blocks;
    m_live_bytes += bytes;
    m_peak_bytes = std::max(m_peak_bytes, m_live_bytes);
    m_total_bytes += bytes;
    m_outer_bytes += outer_bytes;
    m_last_bytes = bytes;
    m_last_alignment = alignment;
    return p;
}

void test_resource::do_deallocate(void* p, std::size_t bytes, std::size_t alignment) {
    error_list errors;
    {
        const std::lock_guard lock(m_mutex);
        const auto it = m_blocks.find(p);
        if (it == m_blocks.end()) {
            errors.emplace_back(allocation_error_kind::unknown_pointer, p,
                                "deallocate of " + describe(p, bytes, alignment) +
                                    ": pointer never allocated by this test_resource (a foreign "
                                    "pointer, or a block freed long ago)");
        } else if (it->second.freed) {
            const record& r = it->second;
            errors.emplace_back(allocation_error_kind::double_free, p,
                                "double free: deallocate of " + describe(p, bytes, alignment) +
                                    ", already freed (" +
                                    describe_allocation(p, r.bytes, r.alignment, r.serial) + ')');
        } else {
            const record& r = it->second;
            const std::string allocated = describe_allocation(p, r.bytes, r.alignment, r.serial);
            if (r.bytes != bytes) {
                errors.emplace_back(allocation_error_kind::size_mismatch, p,
                                    "size mismatch: deallocate of " +
                                        describe(p, bytes, alignment) + ", allocated as " +
                                        allocated);
            }
            if (r.alignment != alignment) {
                errors.emplace_back(allocation_error_kind::alignment_mismatch, p,
                                    "alignment mismatch: deallocate of " +
                                        describe(p, bytes, alignment) + ", allocated as " +
                                        allocated);
            }
            check_guards(p, r, errors);
            // The block is freed as it was allocated, whatever the caller said.
            --m_live_blocks;
            m_live_bytes -= r.bytes;
            ++m_deallocations;
            quarantine(it, errors);
        }
    }
    dispatch(errors, false);
}

void test_resource::check_guards(const void* p, const record& r, error_list& errors) const {
    const auto* block = static_cast<const std::byte*>(p);
    const std::size_t front = front_bytes(r.alignment);
    const std::size_t before = first_changed(r.outer, front, guard_fill);
    if (before != front) {
        std::ostringstream out;
        out << "overrun before block " << describe_allocation(p, r.bytes, r.alignment, r.serial)
            << ": guard byte at offset -" << (front - before) << " overwritten";
        errors.emplace_back(allocation_error_kind::overrun_before, p, std::move(out).str());
    }
    const std::size_t after = first_changed(block + r.bytes, m_options.guard_bytes, guard_fill);
    if (after != m_options.guard_bytes) {
        std::ostringstream out;
        out << "overrun after block " << describe_allocation(p, r.bytes, r.alignment, r.serial)
            << ": guard byte at offset " << (r.bytes + after) << " overwritten";
        errors.emplace_back(allocation_error_kind::overrun_after, p, std::move(out).str());
    }
}

void test_resource::quarantine(record_map::iterator it, error_list& errors) {
    const void* p = it->first;
    std::memset(const_cast<void*>(p), static_cast<int>(freed_fill), it->second.bytes);
    it->second.freed = true;
    if (m_options.quarantine_blocks == 0) {
        evict(it, errors);
        return;
    }
    if (m_ring.size() < m_options.quarantine_blocks) {
        m_ring.push_back(p);
        return;
    }
    evict(m_blocks.find(m_ring[m_ring_next]), errors);
    m_ring[m_ring_next] = p;
    m_ring_next = (m_ring_next + 1) % m_ring.size();
}

void test_resource::check_scribble(const void* p, const record& r, error_list& errors) const {
    const std::size_t changed =
        first_changed(static_cast<const std::byte*>(p), r.bytes, freed_fill);
    if (changed != r.bytes) {
        std::ostringstream out;
        out << "write after free into block "
            << describe_allocation(p, r.bytes, r.alignment, r.serial) << ": byte at offset "
            << changed << " changed after deallocate";
        errors.emplace_back(allocation_error_kind::write_after_free, p, std::move(out).str());
    }
}

void test_resource::evict(record_map::iterator it, error_list& errors) {
    const record r = it->second;
    check_scribble(it->first, r, errors);
    m_blocks.erase(it);
    m_outer_bytes -= r.outer_bytes;
    m_upstream->deallocate(r.outer, r.outer_bytes, r.alignment);
}

std::size_t test_resource::check() {
    error_list errors;
    {
        const std::lock_guard lock(m_mutex);
        for (const auto& [p, r] : m_blocks) {
            if (r.freed) {
                check_scribble(p, r, errors);
            } else {
                check_guards(p, r, errors);
            }
        }
    }
    dispatch(errors, false);
    return errors.size();
}

void test_resource::report_live_since(std::size_t first_serial, allocation_error_kind kind,
                                      const std::string& headline, error_list& errors) const {
    std::vector<std::pair<const void*, const record*>> live;
    std::size_t bytes = 0;
    for (const auto& [p, r] : m_blocks) {
        if (!r.freed && r.serial >= first_serial) {
            live.emplace_back(p, &r);
            bytes += r.bytes;
        }
    }
    if (live.empty()) {
        return;
    }
    std::sort(live.begin(), live.end(),
              [](const auto& a, const auto& b) { return a.second->serial < b.second->serial; });
    std::ostringstream out;
    out << headline << ' ' << live.size() << (live.size() == 1 ? " block" : " blocks") << " ("
        << bytes << " bytes) leaked:";
    const std::size_t listed = std::min(live.size(), m_options.leaks_listed);
    for (std::size_t i = 0; i < listed; ++i) {
        const record& r = *live[i].second;
        out << "\n  " << describe_allocation(live[i].first, r.bytes, r.alignment, r.serial);
    }
    if (listed < live.size()) {
        out << "\n  ... and " << (live.size() - listed) << " more";
    }
    errors.emplace_back(kind, live.front().first, std::move(out).str());
}

void test_resource::dispatch(const error_list& errors, bool from_destructor) {
    if (errors.empty()) {
        return;
    }
    {
        const std::lock_guard lock(m_mutex);
        m_errors += errors.size();
    }
    for (const allocation_error& e : errors) {
        const bool abort = m_options.on_error == error_action::abort ||
                           (m_options.on_error == error_action::throw_error && from_destructor) ||
                           (m_options.on_error == error_action::call_handler && !m_options.handler);
        if (abort) {
            std::fprintf(stderr, "pmrkit::test_resource: %s\n", e.what());
            std::abort();
        }
        if (m_options.on_error == error_action::throw_error) {
            throw e;
        }
        m_options.handler(e);
    }
}

std::size_t test_resource::locked_read(const std::size_t& field) const {
    const std::lock_guard lock(m_mutex);
    return field;
}

resource_stats test_resource::stats() const {
    const std::lock_guard lock(m_mutex);
    resource_stats s;
    s.resource = "test_resource";
    s.allocations = m_serial;
    s.deallocations = m_deallocations;
    s.failed_allocations = m_failed;
    s.blocks_in_use = m_live_blocks;
    s.bytes_in_use = m_live_bytes;
    s.peak_bytes_in_use = m_peak_bytes;
    s.total_bytes = m_total_bytes;
    s.served_locally = 0;
    s.upstream_allocations = m_serial;
    s.upstream_deallocations = m_serial - m_blocks.size();
    s.upstream_bytes = m_outer_bytes;
    return s;
}

void test_resource::report_exception_leaks(std::size_t first_serial,
                                           std::size_t failed_allocation) {
    error_list errors;
    {
        const std::lock_guard lock(m_mutex);
        std::ostringstream headline;
        headline << "exception_test: after the injected failure of allocation " << failed_allocation
                 << " of the run,";
        report_live_since(first_serial, allocation_error_kind::exception_leak, headline.str(),
                          errors);
    }
    dispatch(errors, false);
}

namespace detail {

std::size_t run_exception_test(test_resource& resource, void (*call)(void*), void* f) {
    for (std::size_t n = 1;; ++n) {
        const std::size_t first_serial = resource.next_serial();
        resource.fail_allocation(n);
        try {
            call(f);
        } catch (const injected_bad_alloc&) {
            resource.fail_allocation(0);
            resource.report_exception_leaks(first_serial, n);
            continue;
        } catch (...) {
            resource.fail_allocation(0);
            throw;
        }
        resource.fail_allocation(0);
        return n;
    }
}

} // namespace detail

} // namespace pmrkit
