// SPDX-License-Identifier: MIT
#include "pmrkit/sources/page_resource.hpp"

#include "pmrkit/detail/math.hpp"

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace pmrkit {

namespace {

std::size_t system_page_size() noexcept {
#if defined(__linux__)
    return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
#else
    return 4096;
#endif
}

} // namespace

page_resource::page_resource(const page_options& options) noexcept
    : m_options(options), m_page_size(system_page_size()) {}

page_resource::shape page_resource::shape_of(std::size_t bytes,
                                             std::size_t alignment) const noexcept {
    shape s{detail::align_up(std::max<std::size_t>(bytes, 1), m_page_size),
            std::max(alignment, m_page_size)};
    if (m_options.huge_pages && s.bytes >= huge_page_size) {
        s.alignment = std::max(s.alignment, huge_page_size);
    }
    return s;
}

void* page_resource::do_allocate(std::size_t bytes, std::size_t alignment) {
    // Checked first, so that neither the rounding to pages nor the excess for alignment can wrap.
    if (!detail::is_satisfiable(bytes, alignment)) {
        detail::throw_bad_alloc();
    }
    const shape s = shape_of(bytes, alignment);
    void* p = map(s);
    if (m_options.prefault) {
        auto* page = static_cast<volatile unsigned char*>(p);
        for (std::size_t offset = 0; offset < s.bytes; offset += m_page_size) {
            page[offset] = 0;
        }
    }
    return p;
}

void page_resource::do_deallocate(void* p, std::size_t bytes, std::size_t alignment) {
    unmap(p, shape_of(bytes, alignment));
}

resource_stats page_resource::stats() const noexcept {
    resource_stats s;
    s.resource = "page_resource";
    s.bytes_in_use = mapped_bytes();
    s.upstream_bytes = mapped_bytes();
    return s;
}

void page_resource::count_mapped(std::size_t bytes) noexcept {
    const std::size_t now = m_mapped.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    std::size_t peak = m_peak.load(std::memory_order_relaxed);
    while (peak < now && !m_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
}

void page_resource::count_unmapped(std::size_t bytes) noexcept {
    m_mapped.fetch_sub(bytes, std::memory_order_relaxed);
}

#if defined(__linux__)

void* page_resource::map(shape s) {
    const std::size_t excess = s.alignment - m_page_size;
    void* const mapping = ::mmap(nullptr, s.bytes + excess, PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) {
        detail::throw_bad_alloc();
    }
    count_mapped(s.bytes + excess);
    auto* const begin = static_cast<std::byte*>(mapping);
    const auto address = reinterpret_cast<std::uintptr_t>(begin);
    const std::size_t head = detail::align_up(address, s.alignment) - address;
    std::byte* const p = begin + head;
    if (head != 0) {
        unmap(begin, {head, m_page_size});
    }
    if (excess != head) {
        unmap(p + s.bytes, {excess - head, m_page_size});
    }
    if (m_options.huge_pages) {
        // Advice: where the kernel cannot give huge pages, small ones serve as before.
        static_cast<void>(::madvise(p, s.bytes, MADV_HUGEPAGE));
    }
    return p;
}

void page_resource::unmap(void* p, shape s) noexcept {
    [[maybe_unused]] const int result = ::munmap(p, s.bytes);
    assert(result == 0 && "deallocate of a block this resource did not map");
    count_unmapped(s.bytes);
}

#else

void* page_resource::map(shape s) {
    void* p = ::operator new(s.bytes, std::align_val_t{s.alignment});
    count_mapped(s.bytes);
    return p;
}

void page_resource::unmap(void* p, shape s) noexcept {
    ::operator delete(p, std::align_val_t{s.alignment});
    count_unmapped(s.bytes);
}

#endif

} // namespace pmrkit
