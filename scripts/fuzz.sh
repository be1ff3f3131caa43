#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Long fuzzing runs: builds the fuzz preset (clang 14, libFuzzer, ASan + UBSan) and runs each fuzz
# target for SECONDS (default 600) from its seed corpus, keeping what it finds in
# build/fuzz/long/<target> (resumed on the next run). Prints the executions reached per target.
# A crash leaves its input in build/fuzz/long/crash-*; replay it with
# build/fuzz/fuzz/fuzz_<target> <file>.
#   scripts/fuzz.sh [SECONDS [TARGET...]]       e.g. scripts/fuzz.sh 3600 size_class
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j2
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=($(ls fuzz/corpus))
fi
mkdir -p build/fuzz/long
for target in "${targets[@]}"; do
    corpus="build/fuzz/long/${target}"
    mkdir -p "${corpus}"
    log="build/fuzz/long/${target}.log"
    status=0
    ASAN_OPTIONS=abort_on_error=1 "build/fuzz/fuzz/fuzz_${target}" -max_total_time="${seconds}" \
        -max_len=4096 -timeout=30 -print_final_stats=1 -artifact_prefix=build/fuzz/long/ \
        "${corpus}" "fuzz/corpus/${target}" >"${log}" 2>&1 || status=$?
    executions=$(grep -o 'number_of_executed_units: [0-9]*' "${log}" | grep -o '[0-9]*$' || echo "?")
    echo "${target}: ${executions} executions in ${seconds} s, exit ${status} (log ${log})"
    [ "${status}" -eq 0 ] || exit "${status}"
done
