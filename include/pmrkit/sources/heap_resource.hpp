// SPDX-License-Identifier: MIT
#pragma once

#include "pmrkit/detail/config.hpp"
#include "pmrkit/detail/math.hpp"
#include "pmrkit/resource_stats.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory_resource>
#include <new>

namespace pmrkit {

/// heap_resource: std::pmr::new_delete_resource() done right, and the recommended bottom of a
/// stack. libstdc++'s new_delete_resource() sends every request, even alignment 8 or 16, through
/// the aligned operator new, which costs glibc about 45 extra instructions per allocate/deallocate
/// pair and puts jemalloc on its slow path. heap_resource calls plain `operator new(n)` whenever
/// plain new already guarantees the alignment, and the aligned forms only otherwise, so whichever
/// malloc the program runs on serves it on its fast path.
///
/// What plain new guarantees, and no more: storage aligned for any object of the requested size
/// without new-extended alignment ([basic.stc.dynamic.allocation]). An object's size is a multiple
/// of its alignment, so new(n) promises min(plain_new_alignment, largest power of two dividing n):
/// mimalloc, jemalloc and tcmalloc do return 8-aligned blocks for n <= 8. So a request with a
/// power-of-two alignment a <= plain_new_alignment asks plain new for bytes rounded up to a
/// multiple of a (at least a): (24, 8) asks for 24 bytes, (24, 16) for 32, (0, 16) and (8, 16) for
/// 16. Larger alignments go to `operator new(bytes, std::align_val_t{a})`, and the result is
/// checked, because a malloc's aligned path can be wrong: mimalloc 2.0.9 (Debian 12) returns
/// 128-aligned blocks for power-of-two sizes from 256 to 1024 aligned to 256 or more
/// (microsoft/mimalloc#700). Such a block goes back, and one byte more is asked for, which takes
/// mimalloc's general aligned path; if that is misaligned too, allocate throws std::bad_alloc
/// rather than return misaligned memory.
///
/// Blocks are freed with unsized operator delete (aligned for over-aligned blocks). Sized delete
/// was measured slower (Debian 12, callgrind, 64-byte new/delete pairs): jemalloc 5.3 takes 143
/// instructions per pair with it against 78 without, glibc and mimalloc 3 to 4 more, tcmalloc 2
/// fewer, and computing the size again here costs 6. jemalloc 5.3 also frees a zero-byte
/// over-aligned block given back by sized aligned delete into the wrong size class, and later
/// hands out overlapping blocks.
///
/// Complexity: one call of operator new or delete (three for a misaligned answer). Requests no
/// allocator could honour (alignment not a power of two; sizes near SIZE_MAX, where size plus
/// alignment could wrap) throw std::bad_alloc before operator new is reached (libstdc++ 12's
/// aligned operator new wraps SIZE_MAX to a tiny block); exhaustion throws whatever operator new
/// throws. Never returns null. Zero-byte requests get distinct blocks.
///
/// State: none. All heap_resources compare equal, so memory from one may be given back through
/// another. pmrkit::heap() returns one that is never destroyed.
///
/// Thread safety: full (as operator new and delete).
///
/// Example:
///
///     pmrkit::fixed_block_resource pool({.block_size = 48}, pmrkit::heap());
class heap_resource final : public std::pmr::memory_resource {
public:
    constexpr heap_resource() noexcept = default;
    heap_resource(const heap_resource&) = delete;
    heap_resource& operator=(const heap_resource&) = delete;

    /// Stateless, so only the name: the malloc keeps the counts (put a stats_resource above for
    /// them).
    [[nodiscard]] resource_stats stats() const noexcept {
        resource_stats s;
        s.resource = "heap_resource";
        return s;
    }

    /// Plain operator new's alignment for sizes that are multiples of it (16 on x86-64).
    static constexpr std::size_t plain_new_alignment = __STDCPP_DEFAULT_NEW_ALIGNMENT__;

    /// The size plain operator new is asked for, for an alignment it can guarantee (a power of two
    /// up to plain_new_alignment): max(bytes, 1) rounded up to a multiple of the alignment, as
    /// ((n - 1) | (alignment - 1)) + 1, which the fast path computes in two instructions.
    [[nodiscard]] static constexpr std::size_t plain_size(std::size_t bytes,
                                                          std::size_t alignment) noexcept {
        return ((std::max<std::size_t>(bytes, 1) - 1) | (alignment - 1)) + 1;
    }

private:
    // Larger requests take the slow path; a bound that fits a 32-bit immediate keeps the test to
    // one compare, and 2 GiB blocks do not notice a function call. In 32 bits the bound is lower:
    // what the fast path takes must be satisfiable (detail::is_satisfiable) at every alignment it
    // takes, as in every other resource.
    static constexpr std::size_t max_fast_bytes =
        std::min<std::size_t>(std::numeric_limits<std::int32_t>::max(),
                              detail::max_satisfiable_size(plain_new_alignment));

    // Two tests: the size (bytes - 1 wraps for zero, which takes the slow path too) and the
    // alignment (a power of two up to plain_new_alignment).
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        if (bytes - 1 < max_fast_bytes && alignment - 1 < plain_new_alignment &&
            (alignment & (alignment - 1)) == 0) [[likely]] {
            return ::operator new(plain_size(bytes, alignment));
        }
        return allocate_slow(bytes, alignment);
    }

    // Only blocks this resource handed out come back, so an alignment up to plain_new_alignment
    // took the plain path.
    void do_deallocate(void* p, std::size_t, std::size_t alignment) override {
        if (alignment <= plain_new_alignment) [[likely]] {
            ::operator delete(p);
        } else {
            ::operator delete(p, std::align_val_t{alignment});
        }
    }

    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return dynamic_cast<const heap_resource*>(&other) != nullptr;
    }

    // Zero-byte, over-aligned and impossible requests. A member, though it uses no state, so that
    // the fast path passes its arguments on in the registers they came in.
    PMRKIT_NOINLINE void* allocate_slow(std::size_t bytes, std::size_t alignment) const;
};

/// The heap_resource to share. Never destroyed, so static destructors may still give memory back
/// through it.
[[nodiscard]] heap_resource* heap() noexcept;

} // namespace pmrkit
