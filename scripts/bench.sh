#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The benchmark comparison, from a fresh clone: installs missing Debian packages, builds the
# release preset (build/release), runs rounds of the interleaved benchmarks and the callgrind
# instruction counts, and prints the report (also in build/release/bench-report.md, per-round
# ratios in build/release/bench-ratios.csv).
#   scripts/bench.sh           full run, about 8 minutes on 2 cores
#   scripts/bench.sh --quick   a couple of minutes (same as PMRKIT_BENCH_QUICK=1)
# Progress goes to stderr, the report to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=()
if [ "${PMRKIT_BENCH_QUICK:-0}" != 0 ]; then
    quick=(--quick)
fi
for arg in "$@"; do
    case "$arg" in
    --quick) quick=(--quick) ;;
    -h | --help)
        sed -n '3,9p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "usage: $0 [--quick]" >&2
        exit 2
        ;;
    esac
done

scripts/install-deps.sh >&2
cmake --preset release >&2
cmake --build --preset release >&2
python3 bench/compare.py --build-dir build/release "${quick[@]}"
