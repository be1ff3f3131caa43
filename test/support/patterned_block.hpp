// SPDX-License-Identifier: MIT
// A block a test holds, filled with a pattern unique to it, so that a resource that hands out the
// same memory twice or writes into a live block is caught when the pattern is checked. Free of
// any test framework: the fuzz targets use it too.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pmrkit::test {

struct patterned_block {
    std::byte* p;
    std::size_t bytes;
    std::size_t alignment;
    std::uint64_t tag;

    void fill() const noexcept {
        for (std::size_t i = 0; i < bytes; ++i) {
            p[i] = pattern(i);
        }
    }
    // The offset of the first byte that changed, or bytes if none did.
    [[nodiscard]] std::size_t first_change() const noexcept {
        std::size_t i = 0;
        while (i < bytes && p[i] == pattern(i)) {
            ++i;
        }
        return i;
    }

private:
    [[nodiscard]] std::byte pattern(std::size_t offset) const noexcept {
        return static_cast<std::byte>((tag * 131 + offset * 7) | 1);
    }
};

} // namespace pmrkit::test
