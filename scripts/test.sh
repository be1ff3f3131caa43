#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds pmrkit and runs the whole test suite: release (g++), clang 14, ASan+UBSan, TSan and
# hardened (PMRKIT_HARDENED) builds, each with the conformance suite, the consumer test and the
# examples; the whole suite again under valgrind memcheck; then every fuzz target for 20 seconds
# (clang 14, libFuzzer, ASan+UBSan). Then the other platforms: clang 16 with libc++ 16, a
# MinGW-w64 Windows build with its tests under Wine, and an AArch64 build with its tests under
# qemu-user at 4 KiB and 16 KiB pages (docs/platforms.md). Installs missing Debian packages first,
# each platform job its own.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
for preset in release clang asan tsan hardened memcheck fuzz libcxx mingw aarch64; do
    case "$preset" in
        libcxx | mingw | aarch64) scripts/install-deps.sh "$preset" ;;
    esac
    echo "=== pmrkit: ${preset} ==="
    cmake --workflow --preset "${preset}"
done
