#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The benchmark comparison, from a fresh clone: installs missing Debian packages, builds the
# benchmark programs of the release preset (build/release; not the tests), runs rounds of the
# interleaved benchmarks, prints a summary table after each round and the report at the end (also
# in build/release/bench-report.md, per-round ratios in build/release/bench-ratios.csv).
#   scripts/bench.sh          about 2 minutes of benchmarking on 2 cores: the headline workloads,
#                             every pmrkit resource against new_delete, the std and Boost pools,
#                             mimalloc and tcmalloc (--quick is the same)
#   scripts/bench.sh --full   the publishable run, about 25 minutes: every workload, every malloc,
#                             callgrind instruction counts, the real programs' traces replayed
#                             (bench/real_programs.py); writes docs/benchmarks.md, the chart,
#                             the per-round ratios and the README's headline table
#   scripts/bench.sh --threads   the many-core run, about 4 minutes on 16 cores: the threaded
#                             workloads (W6) at 1 to 16 threads under every malloc; writes
#                             docs/benchmarks-threads.md
# Progress goes to stderr, the report to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=()
full=false
targets=(pmrkit_bench)
for arg in "$@"; do
    case "$arg" in
    --quick) mode=() full=false ;;
    --full)
        mode=(--full --docs-dir docs --readme README.md)
        full=true
        targets=(pmrkit_bench pmrkit_instructions pmrkit_object_bench pmrkit_replay)
        ;;
    --threads) mode=(--threads --docs-dir docs) full=false ;;
    -h | --help)
        sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "usage: $0 [--full | --threads]" >&2
        exit 2
        ;;
    esac
done

scripts/install-deps.sh >&2
# The release preset's -march=x86-64-v2 names an x86-64 level: elsewhere, the compiler's default.
flags=()
if [ "$(uname -m)" != x86_64 ]; then flags=(-DCMAKE_CXX_FLAGS=); fi
cmake --preset release "${flags[@]}" >&2
cmake --build --preset release --target "${targets[@]}" >&2
if $full; then
    # First, so that a failure leaves docs/ as it was; appended to the report once it is written.
    real_programs=$(python3 bench/real_programs.py --build-dir build/release)
fi
python3 bench/compare.py --build-dir build/release "${mode[@]}"
if $full; then
    printf '\n%s\n' "$real_programs" | tee -a docs/benchmarks.md build/release/bench-report.md
fi
