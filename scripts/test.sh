#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds pmrkit and runs the whole test suite: first the API reference (Doxygen, a few seconds;
# an undocumented public member or any other warning fails it), then release (g++), clang 14,
# ASan+UBSan, TSan and hardened (PMRKIT_HARDENED) builds, each with the conformance suite, the
# consumer test and the examples; the whole suite again under valgrind memcheck; then every fuzz
# target for 20 seconds (clang 14, libFuzzer, ASan+UBSan). Installs missing Debian packages first.
# The other platforms' presets (libcxx, mingw, aarch64: docs/platforms.md) join this list once
# each passes whole here: PMRKIT_PLATFORMS="libcxx mingw aarch64" runs them now, each installing
# its own packages.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
for preset in docs release clang asan tsan hardened memcheck fuzz ${PMRKIT_PLATFORMS:-}; do
    case "$preset" in
        docs | libcxx | mingw | aarch64) scripts/install-deps.sh "$preset" ;;
    esac
    echo "=== pmrkit: ${preset} ==="
    cmake --workflow --preset "${preset}"
done
