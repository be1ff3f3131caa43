// SPDX-License-Identifier: MIT
// page_resource beyond the conformance suite, checked against what the kernel reports: page
// rounding, alignment without waste, the 2 MiB case, prefaulting (mincore), transparent huge
// pages (/proc/self/smaps), failure, threads, and fixed_block_resource stacked on it.
#include "pmrkit/sources/page_resource.hpp"

#include "pmrkit/detail/math.hpp"
#include "pmrkit/fixed_block_resource.hpp"
#include "support/live_blocks.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/mman.h>
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <list>
#include <memory_resource>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace pmrkit::test {
namespace {

constexpr std::size_t mib = std::size_t{1} << 20;

std::size_t os_page_size() {
    return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

// Whether each page (of sysconf's size) of [p, p + bytes) is resident, per mincore; nullopt when
// part of the range is not mapped (ENOMEM). The kernel writes one byte per page of its own, which
// can be smaller than the program's: under qemu-user with QEMU_PAGESIZE=16384 on a 4 KiB host
// (the aarch64-16k test preset) it writes four per page. So the vector has room for the smallest
// page Linux has, and a page is resident when any of the kernel's pages in it is (touching one
// byte, as prefaulting does, brings in one kernel page).
std::optional<std::vector<bool>> residency(const void* p, std::size_t bytes) {
    constexpr std::size_t smallest_kernel_page = 4096;
    constexpr unsigned char unwritten = 0xfe; // the kernel writes 0 or 1
    std::vector<unsigned char> entries((bytes + smallest_kernel_page - 1) / smallest_kernel_page,
                                       unwritten);
    if (::mincore(const_cast<void*>(p), bytes, entries.data()) != 0) {
        return std::nullopt;
    }
    const auto written = static_cast<std::size_t>(
        std::find(entries.begin(), entries.end(), unwritten) - entries.begin());
    std::vector<bool> resident((bytes + os_page_size() - 1) / os_page_size());
    REQUIRE(written % resident.size() == 0);
    const std::size_t kernel_pages_per_page = written / resident.size();
    for (std::size_t i = 0; i < written; ++i) {
        if ((entries[i] & 1u) != 0) {
            resident[i / kernel_pages_per_page] = true;
        }
    }
    return resident;
}

bool is_mapped(const void* p, std::size_t bytes) {
    return residency(p, bytes).has_value();
}

std::size_t resident_pages(const void* p, std::size_t bytes) {
    const auto resident = residency(p, bytes);
    REQUIRE(resident.has_value());
    return static_cast<std::size_t>(std::count(resident->begin(), resident->end(), true));
}

// The process's total mapped address space (VmSize), read without allocating so that reading it
// does not change it.
std::size_t vm_size_bytes() {
    char text[4096];
    const int fd = ::open("/proc/self/status", O_RDONLY);
    REQUIRE(fd >= 0);
    const ssize_t length = ::read(fd, text, sizeof(text) - 1);
    ::close(fd);
    REQUIRE(length > 0);
    text[length] = '\0';
    const char* line = std::strstr(text, "VmSize:");
    REQUIRE(line != nullptr);
    return static_cast<std::size_t>(std::strtoull(line + 7, nullptr, 10) * 1024);
}

// Under valgrind or an emulator (qemu-user: test/CMakeLists.txt defines PMRKIT_TEST_EMULATED),
// VmSize also counts the tool's own mappings, which grow while a test runs.
bool vm_size_is_the_tools() {
#if defined(PMRKIT_TEST_EMULATED)
    return true;
#elif defined(RUNNING_ON_VALGRIND)
    return RUNNING_ON_VALGRIND != 0;
#else
    return false;
#endif
}

// The transparent huge page mode in brackets in /sys/kernel/mm/transparent_hugepage/enabled
// ("always", "madvise" or "never"), or "" where the kernel has no THP.
std::string thp_mode() {
    std::ifstream file("/sys/kernel/mm/transparent_hugepage/enabled");
    std::string text;
    std::getline(file, text);
    const auto open = text.find('[');
    const auto close = text.find(']');
    return open == std::string::npos || close == std::string::npos
               ? std::string()
               : text.substr(open + 1, close - open - 1);
}

// AnonHugePages, in bytes, of the mapping that contains p, from /proc/self/smaps.
std::size_t anon_huge_bytes(const void* p) {
    const auto address = reinterpret_cast<std::uintptr_t>(p);
    std::ifstream smaps("/proc/self/smaps");
    std::string line;
    bool inside = false;
    while (std::getline(smaps, line)) {
        std::uintptr_t begin = 0;
        std::uintptr_t end = 0;
        char dash = 0;
        std::istringstream header(line);
        if (header >> std::hex >> begin >> dash >> end && dash == '-') {
            inside = begin <= address && address < end;
        } else if (inside && line.starts_with("AnonHugePages:")) {
            return static_cast<std::size_t>(std::stoull(line.substr(14)) * 1024);
        }
    }
    FAIL("no mapping with AnonHugePages contains " << p);
    return 0;
}

} // namespace

static_assert(std::is_final_v<page_resource>);
static_assert(!std::is_copy_constructible_v<page_resource>);
static_assert(!std::is_move_constructible_v<page_resource>);

TEST_CASE("page_resource: options and page size readable back; takes no memory") {
    const page_resource plain;
    CHECK(plain.page_size() == os_page_size());
    // The kernel's THP size where it says, else one page table's reach (page_size / 8 pages).
    std::ifstream pmd("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size");
    std::size_t huge_page = 0;
    if (!(pmd >> huge_page)) {
        huge_page = os_page_size() * (os_page_size() / 8);
    }
    CHECK(plain.huge_page_size() == huge_page);
    CHECK(detail::is_power_of_two(plain.huge_page_size()));
    CHECK_FALSE(plain.options().huge_pages);
    CHECK_FALSE(plain.options().prefault);
    CHECK(plain.mapped_bytes() == 0);
    CHECK(plain.peak_mapped_bytes() == 0);

    const page_resource huge({.huge_pages = true, .prefault = true});
    CHECK(huge.options().huge_pages);
    CHECK(huge.options().prefault);
    CHECK(huge.mapped_bytes() == 0);
}

TEST_CASE("page_resource: whole pages, given back to the OS on deallocate") {
    page_resource pages;
    const std::size_t page = pages.page_size();
    struct request {
        std::size_t bytes;
        std::size_t mapped;
    };
    for (const request r : {request{0, page},
                            {1, page},
                            {page, page},
                            {page + 1, 2 * page},
                            {5 * mib + 3, 5 * mib + page}}) {
        CAPTURE(r.bytes);
        void* p = pages.allocate(r.bytes, 8);
        CHECK(pages.mapped_bytes() == r.mapped);
        CHECK(detail::is_aligned(p, page));
        CHECK(is_mapped(p, r.mapped));
        std::memset(p, 0x5A, r.bytes);
        pages.deallocate(p, r.bytes, 8);
        CHECK(pages.mapped_bytes() == 0);
        CHECK_FALSE(is_mapped(p, r.mapped));
    }
    void* a = pages.allocate(0, 1);
    void* b = pages.allocate(0, 1);
    CHECK(a != b);
    pages.deallocate(a, 0, 1);
    pages.deallocate(b, 0, 1);
}

TEST_CASE("page_resource: stats() reports the mapped bytes") {
    page_resource pages;
    void* p = pages.allocate(3 * pages.page_size() - 1, 8);
    const resource_stats s = pages.stats();
    CHECK(s.resource == "page_resource");
    CHECK(s.bytes_in_use == 3 * pages.page_size());
    CHECK(s.upstream_bytes == 3 * pages.page_size());
    CHECK_FALSE(s.allocations.has_value());
    pages.deallocate(p, 3 * pages.page_size() - 1, 8);
    CHECK(pages.stats().bytes_in_use == 0);
}

TEST_CASE("page_resource: a 2 MiB-aligned 2 MiB request maps at most 4 MiB and unmaps it all") {
    page_resource pages;
    const std::size_t vm_before = vm_size_bytes();
    void* p = pages.allocate(2 * mib, 2 * mib);
    const std::size_t vm_allocated = vm_size_bytes();
    CHECK(detail::is_aligned(p, 2 * mib));
    CHECK(pages.peak_mapped_bytes() <= 4 * mib);
    CHECK(pages.peak_mapped_bytes() == 4 * mib - pages.page_size()); // excess below the alignment
    CHECK(pages.mapped_bytes() == 2 * mib);
    std::memset(p, 1, 2 * mib);

    pages.deallocate(p, 2 * mib, 2 * mib);
    const std::size_t vm_freed = vm_size_bytes();
    CHECK(pages.mapped_bytes() == 0);
    CHECK_FALSE(is_mapped(p, 2 * mib));
    if (vm_size_is_the_tools()) {
        MESSAGE("under valgrind or qemu-user: the VmSize checks are skipped (VmSize counts the "
                "tool's mappings)");
    } else {
        CHECK(vm_allocated - vm_before == 2 * mib); // the excess really was unmapped
        CHECK(vm_freed == vm_before);
    }
}

TEST_CASE("page_resource: any power-of-two alignment, the excess mapped below the alignment") {
    const std::size_t page = os_page_size();
    for (std::size_t alignment = 1; alignment <= 8 * mib; alignment *= 2) {
        for (const std::size_t bytes : {std::size_t{1}, page, 3 * page + 5, mib}) {
            CAPTURE(alignment);
            CAPTURE(bytes);
            page_resource pages;
            const std::size_t mapped = detail::align_up(bytes, page);
            void* p = pages.allocate(bytes, alignment);
            CHECK(detail::is_aligned(p, alignment));
            CHECK(pages.mapped_bytes() == mapped);
            CHECK(pages.peak_mapped_bytes() - mapped < std::max(alignment, page));
            std::memset(p, 7, bytes);
            pages.deallocate(p, bytes, alignment);
            CHECK(pages.mapped_bytes() == 0);
        }
    }
}

TEST_CASE("page_resource: prefault makes every page resident; without it none is") {
    constexpr std::size_t pages_wanted = 64;
    for (const bool prefault : {false, true}) {
        CAPTURE(prefault);
        page_resource pages({.prefault = prefault});
        const std::size_t bytes = pages_wanted * pages.page_size();
        void* p = pages.allocate(bytes, 64 * 1024);
        CHECK(resident_pages(p, bytes) == (prefault ? pages_wanted : 0));
        pages.deallocate(p, bytes, 64 * 1024);
    }
}

// Skipped where transparent huge pages are off (/sys/kernel/mm/transparent_hugepage/enabled is
// absent or [never]).
TEST_CASE("page_resource: transparent huge pages when asked and the kernel allows" *
          doctest::skip(thp_mode().empty() || thp_mode() == "never")) {
    const std::string mode = thp_mode();
    page_resource huge({.huge_pages = true, .prefault = true});
    const std::size_t bytes = 4 * huge.huge_page_size();
    void* p = huge.allocate(bytes, 8);
    CHECK(detail::is_aligned(p, huge.huge_page_size())); // so whole huge pages fit
    const std::size_t huge_bytes = anon_huge_bytes(p);
    MESSAGE("THP mode [" << mode << "]: AnonHugePages " << huge_bytes / 1024 << " kB of the "
                         << bytes / 1024 << " kB mapping with huge_pages (/proc/self/smaps)");
    CHECK(huge_bytes > 0);
    huge.deallocate(p, bytes, 8);

    if (mode == "madvise") {
        // Only advised mappings get huge pages in this mode: the option is what makes them.
        page_resource small({.prefault = true});
        void* q = small.allocate(bytes, small.huge_page_size());
        CHECK(anon_huge_bytes(q) == 0);
        small.deallocate(q, bytes, small.huge_page_size());
    }
}

TEST_CASE("page_resource: std::bad_alloc when the OS refuses, and the resource stays usable") {
    page_resource pages;
    void* kept = pages.allocate(100, 8);
    if constexpr (sizeof(void*) == 8) {
        // 2^48 bytes, and an alignment of 2^48, where user addresses have 47 bits.
        volatile std::size_t beyond_address_space =
            static_cast<std::size_t>(std::uint64_t{1} << 48);
        CHECK_THROWS_AS((void)pages.allocate(beyond_address_space, 8), std::bad_alloc);
        CHECK_THROWS_AS((void)pages.allocate(4096, beyond_address_space), std::bad_alloc);
    } else {
        // In 32 bits a request past half the address space is refused before the OS is asked
        // (detail::is_satisfiable), and one below may fit: blocks of 1 GiB until the OS refuses
        // one, as it must by the fourth beside the program's own mappings.
        constexpr std::size_t gib = std::size_t{1} << 30;
        std::vector<void*> mapped;
        mapped.reserve(4);
        bool refused = false;
        while (!refused && mapped.size() < 4) {
            try {
                mapped.push_back(pages.allocate(gib, 8));
            } catch (const std::bad_alloc&) {
                refused = true;
            }
        }
        CHECK(refused);
        for (void* p : mapped) {
            pages.deallocate(p, gib, 8);
        }
    }
    // volatile, here and above: these requests are meant to fail, which compilers would warn
    // about.
    volatile std::size_t not_power_of_two = 3 * 4096;
    CHECK_THROWS_AS((void)pages.allocate(4096, not_power_of_two), std::bad_alloc);
    CHECK(pages.mapped_bytes() == pages.page_size());
    void* more = pages.allocate(100, 8);
    pages.deallocate(more, 100, 8);
    pages.deallocate(kept, 100, 8);
    CHECK(pages.mapped_bytes() == 0);
}

TEST_CASE("page_resource: threads share one resource and the counters stay exact") {
    page_resource pages;
    const auto churn = [&pages](std::size_t salt) {
        std::vector<std::pair<void*, std::size_t>> live;
        for (std::size_t i = 0; i < 3000; ++i) {
            const std::size_t bytes = (i * 7919 + salt) % 20000;
            live.emplace_back(pages.allocate(bytes, 64), bytes);
            std::memset(live.back().first, static_cast<int>(salt), bytes);
            if (i % 3 == 2) {
                pages.deallocate(live.front().first, live.front().second, 64);
                live.erase(live.begin());
            }
        }
        for (const auto& [p, bytes] : live) {
            pages.deallocate(p, bytes, 64);
        }
    };
    std::thread other(churn, 1);
    churn(2);
    other.join();
    CHECK(pages.mapped_bytes() == 0);
    CHECK(pages.peak_mapped_bytes() > 0);
}

TEST_CASE("page_resource: fixed_block_resource on top takes its chunks as mapped pages") {
    page_resource pages;
    {
        fixed_block_resource pool({.block_size = 64, .initial_blocks = 1000}, &pages);
        live_blocks live(pool);
        for (int i = 0; i < 10000; ++i) {
            live.allocate(48, 16);
        }
        live.allocate(100000, 4096); // passed through to the pages with its alignment
        live.check_all();
        // Each chunk is one mapping, rounded up to whole pages.
        CHECK(pages.mapped_bytes() >= pool.upstream_bytes());
        CHECK(pages.mapped_bytes() - pool.upstream_bytes() <
              (pool.chunk_count() + pool.oversize_blocks() + 1) * pages.page_size());
        std::pmr::list<std::pmr::string> strings(&pool);
        for (int i = 0; i < 1000; ++i) {
            strings.emplace_back(std::to_string(i) + " and a string too long for SSO");
        }
        CHECK(strings.back().starts_with("999"));
        strings.clear();
        live.free_all();
        pool.release();
        CHECK(pages.mapped_bytes() == 0);
    }
    CHECK(pages.mapped_bytes() == 0);
}

} // namespace pmrkit::test
