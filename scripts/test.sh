#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds pmrkit and runs the whole test suite: release (g++), clang 14, ASan+UBSan and TSan builds,
# each with the conformance suite, the consumer test and the examples. Installs missing Debian
# packages first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
for preset in release clang asan tsan; do
    echo "=== pmrkit: ${preset} ==="
    cmake --workflow --preset "${preset}"
done
