// SPDX-License-Identifier: MIT
// Seeds for randomised tests: PMRKIT_TEST_SEED in the environment overrides the fixed default,
// and PMRKIT_SEEDED prints the seed with any failure of the test, so a failure reproduces.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace pmrkit::test {

inline std::uint64_t test_seed(std::uint64_t fallback = 20261122) {
    const char* env = std::getenv("PMRKIT_TEST_SEED");
    return env != nullptr ? std::stoull(env) : fallback;
}

} // namespace pmrkit::test

#define PMRKIT_SEEDED(name)                                                                        \
    const std::uint64_t name = ::pmrkit::test::test_seed();                                       \
    INFO("seed " << name << " (set PMRKIT_TEST_SEED=" << name << " to reproduce)")
