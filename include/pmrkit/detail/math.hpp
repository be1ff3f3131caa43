// SPDX-License-Identifier: MIT
// Overflow-checked size arithmetic and power-of-two alignment helpers shared by every resource.
// Sizes are checked before any arithmetic: a wrapped size is a heap overflow waiting to happen
// (libstdc++ 12's aligned operator new turns SIZE_MAX into a tiny block).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>

namespace pmrkit::detail {

// Not std::has_single_bit: g++ 12 computes that as a population count, which without a -march
// that has POPCNT is a call into libgcc, on arena_resource's allocate path among others. Four
// instructions, no branch: x - 1 wraps for 0, and only a power of two flips every bit below it.
[[nodiscard]] constexpr bool is_power_of_two(std::size_t x) noexcept {
    return (x ^ (x - 1)) > x - 1;
}

// Precondition: alignment is a power of two. Wraps on overflow; use checked_align_up for sizes
// that come from a caller.
[[nodiscard]] constexpr std::size_t align_up(std::size_t n, std::size_t alignment) noexcept {
    return (n + alignment - 1) & ~(alignment - 1);
}

[[nodiscard]] inline bool is_aligned(const void* p, std::size_t alignment) noexcept {
    return (reinterpret_cast<std::uintptr_t>(p) & (alignment - 1)) == 0;
}

[[noreturn]] inline void throw_bad_alloc() {
    throw std::bad_alloc();
}

// a + b and a * b into r; true when they overflowed (r then holds the wrapped value). GCC and Clang
// have builtins (one flag test); the plain-C++ forms are for the others (MSVC) and are tested on
// every build.
[[nodiscard]] constexpr bool add_overflows_portable(std::size_t a, std::size_t b,
                                                    std::size_t& r) noexcept {
    r = a + b;
    return r < a;
}
[[nodiscard]] constexpr bool mul_overflows_portable(std::size_t a, std::size_t b,
                                                    std::size_t& r) noexcept {
    r = a * b;
    return a != 0 && r / a != b;
}
[[nodiscard]] constexpr bool add_overflows(std::size_t a, std::size_t b, std::size_t& r) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_add_overflow(a, b, &r);
#else
    return add_overflows_portable(a, b, r);
#endif
}
[[nodiscard]] constexpr bool mul_overflows(std::size_t a, std::size_t b, std::size_t& r) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_mul_overflow(a, b, &r);
#else
    return mul_overflows_portable(a, b, r);
#endif
}

[[nodiscard]] inline std::size_t checked_add(std::size_t a, std::size_t b) {
    std::size_t sum = 0;
    if (add_overflows(a, b, sum)) {
        throw_bad_alloc();
    }
    return sum;
}

[[nodiscard]] inline std::size_t checked_mul(std::size_t a, std::size_t b) {
    std::size_t product = 0;
    if (mul_overflows(a, b, product)) {
        throw_bad_alloc();
    }
    return product;
}

// Precondition: alignment is a power of two.
[[nodiscard]] inline std::size_t checked_align_up(std::size_t n, std::size_t alignment) {
    return checked_add(n, alignment - 1) & ~(alignment - 1);
}

// Whether a request could ever be honoured: a power-of-two alignment, and a size small enough that
// no allocator's padding arithmetic can wrap (std's aligned operator new rounds the size up to the
// alignment). Resources refuse anything else with std::bad_alloc before any arithmetic.
// The largest size is_satisfiable accepts at an alignment it accepts.
[[nodiscard]] constexpr std::size_t max_satisfiable_size(std::size_t alignment) noexcept {
    return std::numeric_limits<std::size_t>::max() / 2 - alignment;
}
[[nodiscard]] constexpr bool is_satisfiable(std::size_t bytes, std::size_t alignment) noexcept {
    // Alignments of 2^62 (2^30 in 32 bits) and above are refused outright: no allocator can
    // place such a block, and the bound keeps max_satisfiable_size far from wrapping.
    return is_power_of_two(alignment) && alignment <= std::numeric_limits<std::size_t>::max() / 4 &&
           bytes <= max_satisfiable_size(alignment);
}

// Largest power of two dividing n (n > 0).
[[nodiscard]] constexpr std::size_t natural_alignment(std::size_t n) noexcept {
    return n & (~n + 1);
}

// Whether x is q * divisor for a q below a bound, in a multiplication, a rotation and a compare:
// for divisor = m * 2^k (m odd), x * m^-1 (mod 2^w) rotated right by k is x / divisor when the
// division is exact, and above (2^w - 1) / divisor otherwise (Granlund and Montgomery 1994).
class exact_divisor {
public:
    constexpr exact_divisor() noexcept = default;
    // Precondition: divisor > 0, bound <= (2^w - 1) / divisor.
    constexpr exact_divisor(std::uintptr_t divisor, std::uintptr_t bound) noexcept
        : m_shift(std::countr_zero(divisor)), m_bound(bound) {
        const std::uintptr_t odd = divisor >> m_shift;
        std::uintptr_t inverse = odd; // correct to 3 bits; each step doubles the correct bits
        for (int i = 0; i < 5; ++i) {
            inverse *= 2 - odd * inverse;
        }
        m_inverse = inverse;
    }
    [[nodiscard]] constexpr bool below_bound(std::uintptr_t x) const noexcept {
        return below_bound(x, m_bound);
    }
    // The same test against another bound (the same divisor).
    [[nodiscard]] constexpr bool below_bound(std::uintptr_t x,
                                             std::uintptr_t bound) const noexcept {
        // std::rotr(y, m_shift), spelled out: its count is int in the standard but unsigned int in
        // libc++ 16, so a call converts with a warning under one library or the other.
        constexpr int width = std::numeric_limits<std::uintptr_t>::digits;
        const std::uintptr_t y = x * m_inverse;
        return ((y >> m_shift) | (y << (-m_shift & (width - 1)))) < bound;
    }

private:
    std::uintptr_t m_inverse = 1;
    int m_shift = 0;
    std::uintptr_t m_bound = 0;
};

} // namespace pmrkit::detail
