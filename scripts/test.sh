#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds pmrkit and runs the whole test suite: release (g++), clang 14, ASan+UBSan, TSan and
# hardened (PMRKIT_HARDENED) builds, each with the conformance suite, the consumer test and the
# examples; the whole suite again under valgrind memcheck; then every fuzz target for 20 seconds
# (clang 14, libFuzzer, ASan+UBSan). Installs missing Debian packages first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
for preset in release clang asan tsan hardened memcheck fuzz; do
    echo "=== pmrkit: ${preset} ==="
    cmake --workflow --preset "${preset}"
done
