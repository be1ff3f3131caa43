// SPDX-License-Identifier: MIT
// Random request sizes in three bands, as programs make them: mostly small, some medium, a few
// large.
#pragma once

#include <cstddef>
#include <random>

namespace pmrkit::test {

struct size_bands {
    int small_percent; // sizes 0 .. small_max
    std::size_t small_max;
    int medium_percent; // sizes small_max + 1 .. medium_max
    std::size_t medium_max;
    std::size_t large_max; // the rest: medium_max + 1 .. large_max
};

inline std::size_t random_size(std::mt19937_64& rng, const size_bands& bands) {
    const auto pick = std::uniform_int_distribution<int>(0, 99)(rng);
    if (pick < bands.small_percent) {
        return std::uniform_int_distribution<std::size_t>(0, bands.small_max)(rng);
    }
    if (pick < bands.small_percent + bands.medium_percent) {
        return std::uniform_int_distribution<std::size_t>(bands.small_max + 1,
                                                          bands.medium_max)(rng);
    }
    return std::uniform_int_distribution<std::size_t>(bands.medium_max + 1, bands.large_max)(rng);
}

} // namespace pmrkit::test
