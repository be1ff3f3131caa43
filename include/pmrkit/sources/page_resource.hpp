// SPDX-License-Identifier: MIT
#pragma once

#include "pmrkit/resource_stats.hpp"

#include <atomic>
#include <cstddef>
#include <memory_resource>

namespace pmrkit {

/// Options of page_resource, for designated initializers.
struct page_options {
    /// Ask for huge pages (Linux: transparent huge pages, madvise(MADV_HUGEPAGE); Windows: large
    /// pages, see the class comment); mappings of at least huge_page_size() are then also aligned
    /// to it, so that whole huge pages fit. A request only: without THP in the kernel, with THP
    /// set to "never", or without the Windows privilege, small pages serve.
    bool huge_pages = false;
    /// Fault every page in before allocate returns (after any huge-page advice), so that first use
    /// does not page-fault.
    bool prefault = false;
};

/// page_resource: memory straight from the operating system, the bottom of a stack whose pools take
/// large chunks (e.g. fixed_block_resource -> page_resource). Not for small blocks: every call is a
/// system call and takes at least a page; put a pool on top.
///
/// How (Linux): each allocate is one private anonymous mmap of the size rounded up to whole pages
/// (a zero-byte request takes one page); deallocate munmaps it, so the memory goes back to the OS
/// at once. An alignment above the page size (any power of two, 2 MiB included) is honoured by
/// mapping size + alignment - page bytes and unmapping the misaligned head and tail before
/// returning: the excess never exceeds the alignment and lasts only during the call (a 2 MiB
/// request aligned to 2 MiB maps 4 MiB - 4 KiB, then keeps 2 MiB).
/// Windows: each allocate is one VirtualAlloc (reserve and commit) of whole pages; deallocate
/// releases it. An alignment above the allocation granularity (64 KiB) reserves size + alignment to
/// find an aligned address, releases it and maps exactly there (again if another thread took it
/// meanwhile), so nothing beyond the block stays mapped. With huge_pages, a mapping of whole large
/// pages (huge_page_size(): GetLargePageMinimum) is asked for as large pages (MEM_LARGE_PAGES)
/// first; that needs SeLockMemoryPrivilege enabled in the process's token (the program enables
/// it, if its account holds it), and without it small pages serve, as on Linux without THP.
/// Elsewhere: aligned operator new of whole pages, aligned to at least a page; huge_pages is
/// ignored.
///
/// Complexity: at most one mmap, two munmap and one madvise per allocate, one munmap per
/// deallocate, plus one page fault per page with prefault.
/// Never returns null: a failed mmap, an alignment that is not a power of two, or a size that
/// could not be mapped throws std::bad_alloc, and the resource stays usable.
/// mapped_bytes() counts the bytes mapped now, peak_mapped_bytes() the most mapped at once,
/// including the excess mapped for alignment. There is no record of live blocks: like
/// new_delete_resource, the destructor does not unmap blocks still allocated.
///
/// Thread safety: full (system calls and atomic counters).
///
/// Example:
///
///     pmrkit::page_resource pages({.huge_pages = true});
///     pmrkit::fixed_block_resource pool({.block_size = 256, .initial_blocks = 8192}, &pages);
class page_resource final : public std::pmr::memory_resource {
public:
    /// Takes no memory.
    explicit page_resource(const page_options& options = {}) noexcept;

    page_resource(const page_resource&) = delete;
    page_resource& operator=(const page_resource&) = delete;
    ~page_resource() override = default;

    /// The options given to the constructor.
    [[nodiscard]] const page_options& options() const noexcept { return m_options; }
    /// The granularity of every mapping (sysconf(_SC_PAGESIZE); on Windows GetSystemInfo), read at
    /// construction: 4 KiB on x86-64, 4, 16 or 64 KiB on AArch64 kernels.
    [[nodiscard]] std::size_t page_size() const noexcept { return m_page_size; }
    /// The transparent huge page size, read at construction: the kernel's (Linux:
    /// transparent_hugepage/hpage_pmd_size; Windows: the large page size, GetLargePageMinimum),
    /// else what one page table of this page size maps
    /// (page_size() / 8 pages: 2 MiB at 4 KiB pages, 32 MiB at 16 KiB, 512 MiB at 64 KiB).
    [[nodiscard]] std::size_t huge_page_size() const noexcept { return m_huge_page_size; }
    /// Bytes currently mapped by this resource.
    [[nodiscard]] std::size_t mapped_bytes() const noexcept {
        return m_mapped.load(std::memory_order_relaxed);
    }
    /// The most bytes mapped at once since construction, including the excess mapped for
    /// alignment for the duration of an allocate.
    [[nodiscard]] std::size_t peak_mapped_bytes() const noexcept {
        return m_peak.load(std::memory_order_relaxed);
    }

    /// bytes_in_use and upstream_bytes (held from the OS) are mapped_bytes(); requests are not
    /// counted (put a stats_resource above for them).
    [[nodiscard]] resource_stats stats() const noexcept;

private:
    struct shape {
        std::size_t bytes;     // whole pages
        std::size_t alignment; // at least a page
    };
    [[nodiscard]] shape shape_of(std::size_t bytes, std::size_t alignment) const noexcept;

    void* do_allocate(std::size_t bytes, std::size_t alignment) override;
    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override;
    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

    // The operating system's side: take and give back `s.bytes` aligned to `s.alignment`,
    // counting every byte mapped and unmapped.
    [[nodiscard]] void* map(shape s);
    void unmap(void* p, shape s) noexcept;
    void count_mapped(std::size_t bytes) noexcept;
    void count_unmapped(std::size_t bytes) noexcept;

    page_options m_options;
    std::size_t m_page_size;
    std::size_t m_huge_page_size;
    std::atomic<std::size_t> m_mapped{0};
    std::atomic<std::size_t> m_peak{0};
};

} // namespace pmrkit
