// SPDX-License-Identifier: MIT
#include "pmrkit/detail/owned_ranges.hpp"

#include <algorithm>

namespace pmrkit::detail {

namespace {
std::uintptr_t address(const void* p) noexcept {
    return reinterpret_cast<std::uintptr_t>(p);
}
} // namespace

std::vector<owned_ranges::range>::const_iterator
owned_ranges::after(std::uintptr_t a) const noexcept {
    return std::upper_bound(m_ranges.begin(), m_ranges.end(), a,
                            [](std::uintptr_t x, const range& r) { return x < r.end; });
}

void owned_ranges::add(const void* begin, std::size_t bytes, std::size_t stride) noexcept {
    const std::uintptr_t b = address(begin);
    m_newest = range{b, b + bytes, stride, exact_divisor(stride, bytes / stride)};
    m_ranges.insert(after(b), m_newest);
}

void owned_ranges::remove(const void* begin) noexcept {
    const auto it = after(address(begin));
    m_ranges.erase(m_ranges.begin() + (it - m_ranges.cbegin()));
    if (m_newest.begin == address(begin)) {
        m_newest = {};
    }
}

bool owned_ranges::holds_searched(std::uintptr_t a, std::size_t stride) const noexcept {
    const auto it = after(a);
    // Below begin, a - begin wraps to a huge offset, outside the bound like any past the end.
    return it != m_ranges.end() && it->stride == stride && it->blocks.below_bound(a - it->begin);
}

} // namespace pmrkit::detail
