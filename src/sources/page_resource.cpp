// SPDX-License-Identifier: MIT
#include "pmrkit/sources/page_resource.hpp"

#include "pmrkit/detail/math.hpp"

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstdio>
#include <new>

#if defined(__linux__)
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#elif defined(_WIN32)
#include "../detail/windows.hpp"
#endif

namespace pmrkit {

namespace {

std::size_t system_page_size() noexcept {
#if defined(__linux__)
    return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
#elif defined(_WIN32)
    SYSTEM_INFO info;
    ::GetSystemInfo(&info);
    return info.dwPageSize;
#else
    return 4096; // no portable query: the smallest page of the platforms pmrkit knows
#endif
}

// One page table of page_size / 8 entries maps a huge page (a PMD on x86-64 and AArch64).
std::size_t system_huge_page_size(std::size_t page_size) noexcept {
#if defined(_WIN32)
    if (const SIZE_T large = ::GetLargePageMinimum(); detail::is_power_of_two(large)) {
        return large;
    }
#elif defined(__linux__)
    // Absent without THP in the kernel; without fopen's buffer: no allocation in a constructor.
    if (const int fd = ::open("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", O_RDONLY);
        fd >= 0) {
        char text[32] = {};
        const ssize_t length = ::read(fd, text, sizeof(text) - 1);
        ::close(fd);
        unsigned long long bytes = 0;
        if (length > 0 && std::sscanf(text, "%llu", &bytes) == 1 &&
            detail::is_power_of_two(static_cast<std::size_t>(bytes)) && bytes > page_size) {
            return static_cast<std::size_t>(bytes);
        }
    }
#endif
    return page_size * (page_size / 8);
}

} // namespace

page_resource::page_resource(const page_options& options) noexcept
    : m_options(options), m_page_size(system_page_size()),
      m_huge_page_size(system_huge_page_size(m_page_size)) {}

page_resource::shape page_resource::shape_of(std::size_t bytes,
                                             std::size_t alignment) const noexcept {
    shape s{detail::align_up(std::max<std::size_t>(bytes, 1), m_page_size),
            std::max(alignment, m_page_size)};
    if (m_options.huge_pages && s.bytes >= m_huge_page_size) {
        s.alignment = std::max(s.alignment, m_huge_page_size);
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

#elif defined(_WIN32)

void* page_resource::map(shape s) {
    // Large pages need SeLockMemoryPrivilege enabled in the process's token, which the program
    // grants itself if its account holds it; without it the call fails and small pages serve.
    // They are aligned to their size, and sizes must be whole large pages.
    if (m_options.huge_pages && s.bytes % m_huge_page_size == 0 &&
        s.alignment <= m_huge_page_size) {
        if (void* large = ::VirtualAlloc(
                nullptr, s.bytes, MEM_RESERVE | MEM_COMMIT | MEM_LARGE_PAGES, PAGE_READWRITE)) {
            count_mapped(s.bytes);
            return large;
        }
    }
    void* p = ::VirtualAlloc(nullptr, s.bytes, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    // VirtualAlloc places at the allocation granularity (64 KiB); beyond it, find an aligned
    // address in a reservation large enough, give it back and map there. Another thread may map
    // at that address in between: then try again.
    if (p != nullptr && !detail::is_aligned(p, s.alignment)) {
        ::VirtualFree(p, 0, MEM_RELEASE);
        p = nullptr;
        for (int attempt = 0; p == nullptr && attempt < 16; ++attempt) {
            void* const reserved =
                ::VirtualAlloc(nullptr, s.bytes + s.alignment, MEM_RESERVE, PAGE_NOACCESS);
            if (reserved == nullptr) {
                break;
            }
            const auto address = reinterpret_cast<std::uintptr_t>(reserved);
            auto* const aligned = reinterpret_cast<void*>(detail::align_up(address, s.alignment));
            ::VirtualFree(reserved, 0, MEM_RELEASE);
            p = ::VirtualAlloc(aligned, s.bytes, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        }
    }
    if (p == nullptr) {
        detail::throw_bad_alloc();
    }
    count_mapped(s.bytes);
    return p;
}

void page_resource::unmap(void* p, shape s) noexcept {
    [[maybe_unused]] const BOOL released = ::VirtualFree(p, 0, MEM_RELEASE);
    assert(released != FALSE && "deallocate of a block this resource did not map");
    count_unmapped(s.bytes);
}

#else

void* page_resource::map(shape s) {
    void* p = ::operator new (s.bytes, std::align_val_t{s.alignment});
    count_mapped(s.bytes);
    return p;
}

void page_resource::unmap(void* p, shape s) noexcept {
    ::operator delete (p, std::align_val_t{s.alignment});
    count_unmapped(s.bytes);
}

#endif

} // namespace pmrkit
