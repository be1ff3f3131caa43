#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds pmrkit and runs the whole test suite: first the API reference (Doxygen, a few seconds;
# an undocumented public member or any other warning fails it), then release (g++), clang 14,
# ASan+UBSan, TSan and hardened (PMRKIT_HARDENED) builds, each with the conformance suite, the
# consumer test and the examples; the whole suite again under valgrind memcheck; then every fuzz
# target for 20 seconds (clang 14, libFuzzer, ASan+UBSan); then the other platforms
# (docs/platforms.md): clang 16 with libc++ 16, MinGW-w64 with the tests under Wine, AArch64 with
# the tests under qemu-user at 4 KiB and 16 KiB pages, 32-bit ARM (armhf) with the tests under
# qemu-user. Installs missing Debian packages first, each job its own.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
for preset in docs release clang asan tsan hardened memcheck fuzz libcxx mingw aarch64 armhf; do
    case "$preset" in
        docs | libcxx | mingw | aarch64 | armhf) scripts/install-deps.sh "$preset" ;;
    esac
    echo "=== pmrkit: ${preset} ==="
    cmake --workflow --preset "${preset}"
done
