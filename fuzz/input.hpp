// SPDX-License-Identifier: MIT
// The fuzzer's input as a stream of choices. Once the bytes run out every choice is 0, so any
// input is a complete run.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pmrkit::fuzz {

class input {
public:
    input(const std::uint8_t* data, std::size_t size) noexcept : m_data(data), m_size(size) {}

    [[nodiscard]] bool done() const noexcept { return m_size == 0; }

    [[nodiscard]] std::uint8_t byte() noexcept {
        if (m_size == 0) {
            return 0;
        }
        --m_size;
        return *m_data++;
    }

    [[nodiscard]] bool boolean() noexcept { return (byte() & 1) != 0; }

    // A value in [0, bound), from as few bytes as the bound needs; bound > 0.
    [[nodiscard]] std::size_t below(std::size_t bound) noexcept {
        std::size_t value = 0;
        for (std::size_t range = 1; range < bound && range != 0; range <<= 8) {
            value = (value << 8) | byte();
        }
        return value % bound;
    }

private:
    const std::uint8_t* m_data;
    std::size_t m_size;
};

} // namespace pmrkit::fuzz
