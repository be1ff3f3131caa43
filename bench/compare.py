#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs the comparison and prints the report (report.py).

Each round runs pmrkit_bench once with every row (glibc malloc) on the workloads of the mode; then
the fresh-pool and large-block workloads (W5f and W5s, small blocks from a fresh resource per
request; W7 from a warm pool, W7f from fresh pools) once per glibc state (its thresholds pinned
at a fresh process's defaults, as M_MMAP_THRESHOLD or MALLOC_MMAP_THRESHOLD_ pin them, so that
every large block is mapped and unmapped and the heap top is trimmed once 128 KiB of it is free;
a warmed glibc whose thresholds have risen, as a default glibc's do after its first large frees);
then once per preloaded malloc (LD_PRELOAD of the Debian library) with only the rows that depend
on the malloc: new_delete on every workload, heap on W1, every row on W7 and W7f.
Benchmarks are interleaved at random with several repetitions inside each process. Ratios are
later taken within a round, so drift of the shared machine between rounds does not enter them.

The default mode answers in about two minutes on 2 cores: the headline workloads, fewer rounds
and repetitions, the best mallocs; a summary table is printed after each round. --full is the
publishable run: every workload (W6 up to 16 threads), every preloaded malloc, callgrind's
instruction counts per allocate+deallocate pair (pmrkit_instructions) and object_pool against
std::make_unique (pmrkit_object_bench); with --docs-dir it also writes benchmarks.md, the chart and
the per-round ratios there. --threads is the many-core run: W6 at 1 to 16 threads under every
malloc, nothing else (benchmarks-threads.md with --docs-dir). Progress goes to stderr, the report
to stdout.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import chart
import headline
import report

# label -> library file; the Debian packages from scripts/install-deps.sh.
PRELOADS = {
    "mimalloc": "libmimalloc.so.2",
    "jemalloc": "libjemalloc.so.2",
    "tcmalloc": "libtcmalloc_minimal.so.4",
}

# label -> PMRKIT_BENCH_GLIBC (see set_glibc_state in workloads.cpp): processes that run only the
# workloads whose cost depends on what glibc does with the memory given back (STATE_FILTER), in a
# glibc state set at their start.
GLIBC_STATES = {"glibc_mapped": "mapped", "glibc_warm": "warm"}
LARGE_FILTER = "^W7f?/"
STATE_FILTER = "^W(5[fs]|7f?)/"


def glibc_filter(workloads):
    """The --benchmark_filter of the glibc process: every row on these workloads."""
    return f"^({'|'.join(workloads)})/"


def preloaded_filter(mode):
    """The rows whose speed is the malloc's: new_delete on the mode's workloads, heap on W1, every
    row on the large blocks (where the mode has W1 and the large blocks)."""
    parts = [f"^({'|'.join(mode['workloads'])})/new_delete(/real_time)?$"]
    parts += ["^W1/heap$"] if "W1" in mode["workloads"] else []
    parts += [LARGE_FILTER] if mode["large_blocks"] else []
    return "|".join(parts)


# Rows whose 64 B allocate+deallocate pair is counted under callgrind; virtual_call is the two
# calls alone, into a resource that does nothing; stats_over_fixed_block minus fixed_block is what
# stats_resource adds over its upstream. PRELOADED_INSTRUCTION_ROWS are counted again under each
# preloaded malloc.
INSTRUCTION_ROWS = ["virtual_call", "limit_free_list", "fixed_block", "size_class",
                    "stats_over_fixed_block", "arena", "foonathan_memory_pool",
                    "boost_unsync_pool", "new_delete", "heap", "std_unsync_pool",
                    "limit_per_thread", "concurrent_pool"]
PRELOADED_INSTRUCTION_ROWS = ["new_delete", "heap"]

# The short mode's workloads in the glibc process: the README's headline rows and the holes of
# issue 20 (W2, W4c, W5; W7 runs in the large-block processes).
SHORT_WORKLOADS = ["W1", "W2", "W3", "W4c", "W5", "W5f", "W5s", "W8", "W6a_t1", "W6a_t2"]
THREADED_WORKLOADS = [f"W6{w}_t{t}" for w in "abc" for t in (1, 2, 4, 8, 16)]
FULL_WORKLOADS = (["W1", "W2", "W3", "W4a", "W4b", "W4c", "W5", "W5f", "W5s", "W8", "W9"]
                  + THREADED_WORKLOADS)

# Sized for <= 2 minutes of benchmarking (short) and about 10 (full) on the 2-core reference
# machine, and about 4 (threads, the many-core run) on 16 cores. On a loaded machine rounds take
# longer, so no round starts that would end past budget_seconds, once min_rounds are done.
MODES = {
    "full": {"rounds": 5, "min_rounds": 3, "budget_seconds": 540, "repetitions": 3,
             "min_time": 0.2, "workloads": FULL_WORKLOADS, "preloads": list(PRELOADS),
             "instruction_pairs": 200_000, "object_repetitions": 7, "large_blocks": True},
    "threads": {"rounds": 3, "min_rounds": 2, "budget_seconds": 300, "repetitions": 3,
                "min_time": 0.1, "workloads": THREADED_WORKLOADS, "preloads": list(PRELOADS),
                "instruction_pairs": 0, "object_repetitions": 0, "large_blocks": False},
    "short": {"rounds": 3, "min_rounds": 1, "budget_seconds": 100, "repetitions": 2,
              "min_time": 0.05, "workloads": SHORT_WORKLOADS, "preloads": ["mimalloc", "tcmalloc"],
              "instruction_pairs": 0, "object_repetitions": 0, "large_blocks": True},
}


def progress(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def find_library(name):
    for directory in sorted(glob.glob("/usr/lib/*-linux-gnu")) + ["/usr/lib64", "/usr/lib"]:
        path = Path(directory) / name
        if path.exists():
            return str(path)
    return name  # let the loader fail; the process's malloc check then refuses the row


def preload_env(library, glibc_state=None):
    # The caller's malloc settings would change every state measured (the default one included).
    env = {k: v for k, v in os.environ.items()
           if k != "GLIBC_TUNABLES" and not k.startswith("MALLOC_")}
    env.pop("PMRKIT_BENCH_GLIBC", None)
    if library is not None:
        env["LD_PRELOAD"] = library
        env["PMRKIT_BENCH_MALLOC"] = library
    if glibc_state is not None:
        env["PMRKIT_BENCH_GLIBC"] = glibc_state
    return env


def object_table(program, mode):
    """The summary table of pmrkit_object_bench, as a markdown section ("" without the program)."""
    if not Path(program).exists():
        return ""
    progress("object_pool vs make_unique vs fixed_block (pmrkit_object_bench)")
    out = subprocess.run([program, f"--benchmark_repetitions={mode['object_repetitions']}",
                          f"--benchmark_min_time={mode['min_time']}", "--benchmark_color=false"],
                         capture_output=True, text=True, check=True).stdout
    table = out[out.index("Objects:"):].rstrip()
    return f"\n## Objects\n\n```\n{table}\n```\n"


def print_summary(results, what):
    """The summary table of what is measured so far, to stderr (the report goes to stdout)."""
    print(f"\nSummary of {what}:\n\n{report.summary(results)}\n", file=sys.stderr, flush=True)


def run_round(bench, results, round_number, rounds, mode):
    # (label, preloaded library, glibc state, filter)
    processes = [("glibc", None, None, glibc_filter(mode["workloads"]))]
    if mode["large_blocks"]:
        processes += [(label, None, state, STATE_FILTER)
                      for label, state in GLIBC_STATES.items()]
    processes += [(label, find_library(PRELOADS[label]), None, preloaded_filter(mode))
                  for label in mode["preloads"]]
    for label, library, glibc_state, benchmark_filter in processes:
        out = results / f"round{round_number}-{label}.json"
        command = [
            bench,
            f"--benchmark_out={out}",
            "--benchmark_out_format=json",
            "--benchmark_enable_random_interleaving=true",
            f"--benchmark_repetitions={mode['repetitions']}",
            f"--benchmark_min_time={mode['min_time']}",
            f"--benchmark_filter={benchmark_filter}",
        ]
        started = time.monotonic()
        what = ("all rows" if label == "glibc" else "fresh pools, large blocks" if glibc_state
                else "malloc-bound rows")
        progress(f"round {round_number}/{rounds}: {label} ({what})")
        with open(results / f"round{round_number}-{label}.log", "w") as log:
            status = subprocess.run(command, env=preload_env(library, glibc_state), stdout=log,
                                    stderr=subprocess.STDOUT).returncode
        progress(f"round {round_number}/{rounds}: {label} done in "
                 f"{time.monotonic() - started:.0f} s" + (f", exit {status}" if status else ""))
        if status != 0:
            raise SystemExit(f"pmrkit_bench failed (exit {status}); see {out.with_suffix('.log')}")
        if round_number == 1 and label == "glibc":
            print_summary(results, "the glibc rows of round 1")


def callgrind_ir(instructions, function, args, env):
    """Instructions (Ir) executed inside `function`, callees included."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        command = ["valgrind", "--tool=callgrind", f"--toggle-collect={function}",
                   f"--callgrind-out-file={out}", instructions, *args]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            return None, done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        match = re.search(r"^totals:\s+(\d+)", out.read_text(), re.MULTILINE)
        return int(match.group(1)), None


def count_instructions(instructions, pairs):
    """(Ir(pair loop) - Ir(empty loop)) / pairs per row, or the reason it is missing."""
    if subprocess.run(["sh", "-c", "command -v valgrind"], capture_output=True).returncode:
        return {"error": "valgrind not found"}
    empty, error = callgrind_ir(instructions, "pmrkit_empty_loop", ["empty", str(pairs)],
                                preload_env(None))
    if error:
        return {"error": f"empty loop: {error}"}
    jobs = [(row, row, None) for row in INSTRUCTION_ROWS]
    jobs += [(f"{row}+{label}", row, find_library(lib))
             for label, lib in PRELOADS.items() for row in PRELOADED_INSTRUCTION_ROWS]
    counts = {}
    for label, row, library in jobs:
        progress(f"callgrind: {label}")
        ir, error = callgrind_ir(instructions, "pmrkit_pair_loop", [row, str(pairs)],
                                 preload_env(library))
        counts[label] = {"error": " ".join(error)} if error else {
            "per_pair": (ir - empty) / pairs}
    return {"pairs": pairs, "empty_loop_ir": empty, "rows": counts}


def source_revision():
    """The commit this script (and, as scripts/bench.sh builds it, the program) came from, with
    -dirty for a modified working tree, or "?" outside a git checkout: a report names the code it
    measured."""
    try:
        done = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"],
                              cwd=Path(__file__).resolve().parent, capture_output=True,
                              text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return "?"
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "?"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default="build/release",
                        help="where the programs are and the report goes (default %(default)s)")
    parser.add_argument("--bench", help="pmrkit_bench (default BUILD_DIR/bench/pmrkit_bench)")
    parser.add_argument("--instructions",
                        help="pmrkit_instructions (default BUILD_DIR/bench/pmrkit_instructions)")
    parser.add_argument("--out-dir", help="report directory (default BUILD_DIR)")
    parser.add_argument("--full", action="store_true", help="the publishable run (about 10 min)")
    parser.add_argument("--quick", action="store_true", help="the default, short run (an alias)")
    parser.add_argument("--threads", action="store_true",
                        help="the many-core run: only the threaded workloads (W6, 1 to 16 "
                             "threads), every malloc (about 4 min on 16 cores)")
    parser.add_argument("--docs-dir",
                        help="with --full, also write benchmarks.md, bench-chart.svg and "
                             "bench-ratios.csv there; with --threads, benchmarks-threads.md")
    parser.add_argument("--readme",
                        help="with --full and --docs-dir, also rewrite this README's headline "
                             "table from the run (bench/headline.py)")
    parser.add_argument("--rounds", type=int, help="override the mode's number of rounds")
    parser.add_argument("--budget", type=int, help="override the mode's time budget in seconds")
    args = parser.parse_args()
    if args.full + args.quick + args.threads > 1:
        parser.error("--full, --quick and --threads exclude each other")
    if args.docs_dir and not (args.full or args.threads):
        parser.error("--docs-dir needs --full or --threads: the docs come from those runs")
    if args.readme and not (args.docs_dir and args.full):
        parser.error("--readme needs --full and --docs-dir: the headline comes from the docs' run")

    build = Path(args.build_dir)
    bench = args.bench or str(build / "bench" / "pmrkit_bench")
    instructions = args.instructions or str(build / "bench" / "pmrkit_instructions")
    out_dir = Path(args.out_dir or build)
    results = out_dir / "bench-results"
    results.mkdir(parents=True, exist_ok=True)
    for stale in results.glob("*"):
        stale.unlink()

    name = "full" if args.full else "threads" if args.threads else "short"
    mode = dict(MODES[name], name=name)
    if args.rounds:
        mode["rounds"] = mode["min_rounds"] = args.rounds
    if args.budget:
        mode["budget_seconds"] = args.budget
    started = time.monotonic()
    for round_number in range(1, mode["rounds"] + 1):
        elapsed = time.monotonic() - started
        if (round_number > mode["min_rounds"]
                and elapsed * round_number / (round_number - 1) > mode["budget_seconds"]):
            progress(f"stopping after {round_number - 1} rounds: the next would end past the "
                     f"{mode['budget_seconds']} s budget (machine busy?)")
            break
        run_round(bench, results, round_number, mode["rounds"], mode)
        # The summary so far, as soon as a round is measured (the full report comes at the end).
        print_summary(results, f"rounds 1 to {round_number} of {mode['rounds']}, "
                               f"{time.monotonic() - started:.0f} s")
    if mode["instruction_pairs"]:
        counts = count_instructions(instructions, mode["instruction_pairs"])
        (results / "instructions.json").write_text(json.dumps(counts, indent=2))
    mode["wall_seconds"] = round(time.monotonic() - started)
    mode["source"] = source_revision()
    (results / "mode.json").write_text(json.dumps(mode, indent=2))

    objects = (object_table(str(build / "bench" / "pmrkit_object_bench"), mode)
               if mode["object_repetitions"] else "")

    markdown, csv_text = report.build(results)
    markdown += objects
    context = json.loads((results / "round1-glibc.json").read_text())["context"]
    title = (f"pmrkit vs new_delete_resource: {report.cpu_model()}, {os.cpu_count()} cores, "
             f"{context.get('compiler', '?')}, {context.get('date', '?')[:10]}")
    (out_dir / "bench-ratios.csv").write_text(csv_text)
    svg = chart.render(*chart.load(out_dir / "bench-ratios.csv"), title)
    written = []
    for directory, report_name in [(out_dir, "bench-report.md")] + (
            [(Path(args.docs_dir), "benchmarks.md")] if args.docs_dir and args.full else []):
        directory.mkdir(parents=True, exist_ok=True)
        (directory / report_name).write_text(
            markdown + "\n![ratios to new_delete_resource per workload](bench-chart.svg)\n")
        (directory / "bench-ratios.csv").write_text(csv_text)
        (directory / "bench-chart.svg").write_text(svg)
        written.append(str(directory / report_name))
    if args.docs_dir and args.threads:
        # The chart and the ratios in the docs are the full run's; this run adds its own report.
        threads_report = Path(args.docs_dir) / "benchmarks-threads.md"
        threads_report.write_text(markdown)
        written.append(str(threads_report))
    if args.readme:
        docs = Path(args.docs_dir)
        headline.update(docs / "bench-ratios.csv", docs / "benchmarks.md", args.readme)
        written.append(f"{args.readme} (headline table)")
    print(markdown)
    progress(f"done in {mode['wall_seconds']} s; report, chart (bench-chart.svg) and per-round "
             f"ratios (bench-ratios.csv): {', '.join(written)}")


if __name__ == "__main__":
    main()
