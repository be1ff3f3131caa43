#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turns the JSON files of compare.py into markdown tables and a CSV of per-round ratios.

Usage: report.py RESULTS_DIR [--out REPORT.md] [--csv RATIOS.csv]   (prints the report too)
"""
import argparse
import csv
import io
import json
import os
import platform
import re
import statistics
from collections import defaultdict
from pathlib import Path

BASELINE = "new_delete"
THREADED = ["W6a", "W6b", "W6c"]
THREAD_COUNTS = [1, 2, 4]  # in the main tables; 8 and 16 only in the throughput table
ALL_THREAD_COUNTS = [1, 2, 4, 8, 16]
ALL_THREADED = [f"{w}_t{t}" for w in THREADED for t in ALL_THREAD_COUNTS]
# The main tables' columns, all from the glibc process (a run of the threaded workloads alone shows
# every thread count there, see main_workloads). The large blocks (W7 from a warm pool, W7f
# from fresh pools) run in processes of their own, one per state of the malloc (LARGE_STATES and
# the preloaded mallocs), and have their own table.
WORKLOADS = (["W1", "W2", "W3", "W4a", "W4b", "W4c", "W5", "W5f", "W5s", "W8", "W9"]
             + [f"{w}_t{t}" for w in THREADED for t in THREAD_COUNTS])
LARGE = ["W7", "W7f"]
# Small blocks from a fresh resource per request: also run in the glibc state processes, since what
# a fresh pool costs depends on what glibc does with the memory the last one gave back.
FRESH = ["W5f", "W5s"]
LARGE_STATES = {"glibc_mapped": "glibc, mmap threshold pinned at 128 KiB: every large block "
                                "mapped and unmapped",
                "glibc_warm": "glibc warmed: mmap threshold risen to 16 MiB"}
NS_PER_UNIT = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def is_state_row(row):
    """Whether the row ran in a glibc state process (row+glibc_mapped, row+glibc_warm)."""
    return row.partition("+")[2] in LARGE_STATES


class Results:
    def __init__(self):
        self.samples = defaultdict(lambda: defaultdict(list))  # (w, row) -> round -> [ns/op]
        self.calls = defaultdict(list)  # (w, row) -> [upstream calls per op]
        self.peak = defaultdict(list)  # (w, row) -> [peak upstream bytes]
        self.live = defaultdict(list)  # (w, row) -> [peak live bytes] (live-set workloads)
        self.errors = {}  # (w, row) -> message
        self.misaligned = set()  # (w, row) known to get under-aligned blocks
        self.refused = {}  # row -> why
        self.rows = []  # in report order
        self.contexts = {}  # process label -> context of its first file
        self.rounds = set()

    def add_row(self, row):
        if row not in self.rows:
            self.rows.append(row)


def load(results_dir):
    res = Results()
    files = sorted(results_dir.glob("round*-*.json"),
                   key=lambda f: (int(re.match(r"round(\d+)", f.name).group(1)), f.name))
    for path in files:
        round_number, label = re.match(r"round(\d+)-(\w+)\.json", path.name).groups()
        data = json.loads(path.read_text())
        context = data["context"]
        res.contexts.setdefault(label, context)
        res.rounds.add(int(round_number))
        if label == "glibc":
            for row in filter(None, context.get("rows", "").split(",")):
                res.add_row(row)
        for bench in data["benchmarks"]:
            if bench.get("run_type") != "iteration":
                continue
            # Threaded benchmarks are timed in real time, which Google Benchmark notes in the name.
            workload, row = bench["name"].removesuffix("/real_time").split("/", 1)
            row = row if label == "glibc" else f"{row}+{label}"
            res.add_row(row)
            key = (workload, row)
            if context.get("malloc_check") != "ok":
                res.refused[row] = (f"malloc check failed: malloc resolved to "
                                    f"{context.get('malloc_resolved')}, expected "
                                    f"{context.get('malloc_expected')}")
                continue
            wanted_state = label.removeprefix("glibc_") if label in LARGE_STATES else "default"
            if context.get("glibc_state", "default") != wanted_state:
                res.refused[row] = (f"glibc state {context.get('glibc_state')!r}, expected "
                                    f"{wanted_state!r}")
                continue
            if bench.get("error_occurred"):
                res.errors[key] = bench.get("error_message", "error")
                continue
            # W6 (UseRealTime, hence the name's suffix): the main thread only waits for the
            # workers, so the time is the wall clock's and ops_per_iter counts the operations of all
            # threads: ns per operation of the total. Every other row: the thread's CPU time.
            timed_by_wall_clock = bench["name"].endswith("/real_time")
            seconds = bench["real_time"] if timed_by_wall_clock else bench["cpu_time"]
            ns = seconds * NS_PER_UNIT[bench["time_unit"]] / bench["ops_per_iter"]
            res.samples[key][int(round_number)].append(ns)
            res.calls[key].append(bench["upstream_calls_per_op"])
            if "upstream_peak_bytes" in bench:  # not measured for new_delete on W6
                res.peak[key].append(bench["upstream_peak_bytes"])
            if "peak_live_bytes" in bench:
                res.live[key].append(bench["peak_live_bytes"])
            if bench.get("misaligned"):
                res.misaligned.add(key)
    # Every row followed by its preloaded variants (row+malloc), the baseline first.
    plain = [r for r in res.rows if "+" not in r]
    plain.sort(key=lambda r: r != BASELINE)
    res.rows = [v for r in plain for v in [r] + [p for p in res.rows if p.startswith(r + "+")]]
    return res


def round_ratios(res, workload, row, base_row=BASELINE):
    """{round: median ns/op of row / median ns/op of base_row in the same round}."""
    base = res.samples.get((workload, base_row), {})
    mine = res.samples.get((workload, row), {})
    return {r: statistics.median(mine[r]) / statistics.median(base[r])
            for r in sorted(mine) if base.get(r)}


def fmt_ns(ns):
    return f"{ns:,.0f}" if ns >= 100 else f"{ns:.3g}"


def fmt_ratio(x):
    return f"{x:.2f}" if x >= 0.095 else f"{x:.3f}"


def fmt_bytes(n):
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"


def fmt_calls(x):
    if x == 0:
        return "0"
    return f"{x:.3g}" if x >= 0.01 else f"{x:.1e}"


def time_cell(res, workload, row):
    key = (workload, row)
    if row in res.refused:
        return "refused †"
    if key in res.errors:
        return f"error: {res.errors[key]}"
    if key not in res.samples:
        return "—"
    ns = statistics.median(x for xs in res.samples[key].values() for x in xs)
    mark = " ‡" if key in res.misaligned else ""
    if row == BASELINE:
        return f"{fmt_ns(ns)} / 1{mark}"
    ratios = list(round_ratios(res, workload, row).values())
    if not ratios:
        return f"{fmt_ns(ns)} / ?{mark}"
    spread = f" ({fmt_ratio(min(ratios))}–{fmt_ratio(max(ratios))})" if len(ratios) > 1 else ""
    return f"{fmt_ns(ns)} / **{fmt_ratio(statistics.median(ratios))}**{spread}{mark}"


def malloc_sections(res):
    """Rows also run under preloaded mallocs, against new_delete under the same malloc: the ratio
    is taken within one process and round (new_delete+X and row+X run side by side)."""
    out = []
    labels = sorted({r.split("+", 1)[1] for r in res.rows if "+" in r})
    for row in [r for r in res.rows if "+" not in r and r != BASELINE]:
        for workload in WORKLOADS:
            pairs = [("glibc", row, BASELINE)] + [(label, f"{row}+{label}", f"{BASELINE}+{label}")
                                                  for label in labels]
            pairs = [p for p in pairs if (workload, p[1]) in res.samples]
            if len(pairs) < 2:
                continue
            lines = []
            for label, mine, base in pairs:
                ratios = list(round_ratios(res, workload, mine, base).values())
                if not ratios:  # refused rows have no samples
                    lines.append([label, "—", "—", "—"])
                    continue
                medians = [fmt_ns(statistics.median(x for xs in res.samples[(workload, r)].values()
                                                    for x in xs)) for r in (base, mine)]
                spread = (f" ({fmt_ratio(min(ratios))}–{fmt_ratio(max(ratios))})"
                          if len(ratios) > 1 else "")
                lines.append([label] + medians
                             + [f"**{fmt_ratio(statistics.median(ratios))}**{spread}"])
            out += [f"## `{row}` against `{BASELINE}` under each malloc, {workload}", "",
                    f"Same process, same round: `{row}+X` and `{BASELINE}+X` run side by side with "
                    f"X preloaded as malloc. Median ns per operation; the ratio is the median of "
                    f"the per-round ratios (min–max); below 1, `{row}` is faster.", "",
                    table(["malloc", f"`{BASELINE}` ns", f"`{row}` ns", f"`{row}` / `{BASELINE}`"],
                          lines), ""]
    return out


def traffic_cell(res, workload, row):
    key = (workload, row)
    if not res.calls.get(key):
        return "—"
    peak = fmt_bytes(max(res.peak[key])) if res.peak.get(key) else "—"
    return f"{fmt_calls(statistics.median(res.calls[key]))} · {peak}"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |",
             "|---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def cpu_topology():
    """The CPUs as cores and threads per core, as the kernel tells them (a VM's CPUs may be
    hyperthreads: 16 CPUs are then 8 cores)."""
    cpus = sorted(Path("/sys/devices/system/cpu").glob("cpu[0-9]*/topology/thread_siblings_list"))
    if not cpus:
        return f"{os.cpu_count()} CPUs"
    siblings = {p.read_text().strip() for p in cpus}
    threads = len(cpus) // len(siblings)
    return (f"{len(cpus)} CPUs: {len(siblings)} cores × {threads} "
            f"thread{'s' if threads > 1 else ''} (kernel topology)")


def os_name():
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def median_ns(res, workload, row):
    xs = [x for xs in res.samples.get((workload, row), {}).values() for x in xs]
    return statistics.median(xs) if xs else None


def throughput_section(res):
    """W6 as total throughput (all threads) in millions of operations per second, and scaling up to
    the machine's cores."""
    columns = [c for c in ALL_THREADED if any((c, r) in res.samples for r in res.rows)]
    if not columns:
        return []
    cores = res.contexts.get("glibc", {}).get("num_cpus") or os.cpu_count() or 1
    oversubscribed = [c for c in columns if int(c.rsplit("_t", 1)[1]) > cores]
    # Scaling is read at the most threads measured that the machine runs at once.
    most = max([int(c.rsplit("_t", 1)[1]) for c in columns if c not in oversubscribed] or [1])
    header = (["row"] + [c.replace("_t", " ×") + (" §" if c in oversubscribed else "")
                         for c in columns]
              + [f"{w} {most}×/1× · of linear" for w in THREADED])
    rows = []
    for r in res.rows:
        if not any((c, r) in res.samples for c in columns):
            continue
        cells = [f"`{r}`"]
        for c in columns:
            ns = median_ns(res, c, r)
            cells.append("—" if ns is None else f"{1e3 / ns:.1f}")
        for w in THREADED:
            one, top = median_ns(res, f"{w}_t1", r), median_ns(res, f"{w}_t{most}", r)
            cells.append("—" if one is None or top is None
                         else f"{one / top:.2f} · {one / top / most:.2f}")
        rows.append(cells)
    return ["## Threads (W6): total throughput", "",
            "Each cell: millions of operations per second, all threads together (median over "
            "all repetitions of all rounds; wall-clock time of a round in which every thread runs "
            "its part, between two wake-ups). `×n`: n threads sharing one resource. "
            f"`{most}×/1×`: throughput with {most} threads over throughput with 1 thread of the "
            f"same row, and that speed-up over {most} (1.00 = linear scaling). Ratios to "
            "`new_delete` at the same thread count are in the table above."
            + (f" § more threads than this machine's {cores} cores: oversubscribed, a contention "
               f"and correctness check (every block checked for alignment, every row must "
               f"finish), no scaling claim." if oversubscribed else ""), "",
            table(header, rows), ""]


def ratio_text(res, workload, row, base):
    ratios = list(round_ratios(res, workload, row, base).values())
    if not ratios:
        return None
    spread = f" ({fmt_ratio(min(ratios))}–{fmt_ratio(max(ratios))})" if len(ratios) > 1 else ""
    return f"**{fmt_ratio(statistics.median(ratios))}**{spread}"


def held_cell(res, workload, row):
    """Peak bytes held from upstream over the peak bytes live (the workload's live set)."""
    key = (workload, row)
    if row.split("+", 1)[0] == BASELINE:
        return "1 (a malloc per block)"
    if not res.peak.get(key) or not res.live.get(key):
        return "—"
    peak, live = max(res.peak[key]), max(res.live[key])
    if peak == 0:
        return "— (no upstream)"
    return f"{fmt_bytes(peak)} / {fmt_bytes(live)} = **{peak / live:.2f}**"


def large_section(res):
    """W7 and W7f per state of the malloc below: time per step against new_delete in the same
    process and round, and what the resource holds against what is live."""
    states = [s for s in list(LARGE_STATES) + sorted({r.split("+", 1)[1] for r in res.rows
                                                      if "+" in r} - set(LARGE_STATES))
              if any((w, f"{BASELINE}+{s}") in res.samples for w in LARGE)]
    if not states:
        return []
    plain = [r for r in res.rows if "+" not in r]
    lines = []
    for state in states:
        base = f"{BASELINE}+{state}"
        for row in plain:
            mine = f"{row}+{state}"
            if not any((w, mine) in res.samples or (w, mine) in res.errors for w in LARGE):
                continue
            cells = [LARGE_STATES.get(state, f"{state} preloaded"), f"`{row}`"]
            for w in LARGE:
                if (w, mine) in res.errors:
                    cells += [f"error: {res.errors[(w, mine)]}", "—"]
                    continue
                ns = median_ns(res, w, mine)
                ratio = "1" if row == BASELINE else ratio_text(res, w, mine, base)
                cells += ["—" if ns is None else fmt_ns(ns), ratio or "—"]
            cells += [held_cell(res, w, mine) for w in LARGE]
            lines.append(cells)
    return ["## Large blocks (W7 warm pool, W7f fresh pools) in each state of the malloc", "",
            f"4 live slots; each step frees a random slot and allocates 256 KiB × 2^u (u uniform "
            f"in [0, 4)) rounded to 4 KiB, alignment 16, writing one byte per page. W7 times the "
            f"steps of a warm pool (after 256 untimed steps); W7f builds a fresh resource every "
            f"100 steps (its construction, first blocks and release included). Each state is its "
            f"own process, its state read back from glibc: `glibc_mapped` pins glibc's mmap "
            f"threshold at its default of 128 KiB with mallopt (as `MALLOC_MMAP_THRESHOLD_` does; "
            f"a default glibc instead raises it at its first frees of mapped blocks), so every "
            f"block is mapped and unmapped; `glibc_warm` allocates and frees one 16 MiB block at "
            f"the start, which raises the dynamic mmap threshold to 16 MiB (trim threshold 32 "
            f"MiB), as a long-running process's frees do, so the blocks come from the heap, then "
            f"grows the "
            f"heap by 24 MiB, touched and freed, as a long-running process's is; the others run "
            f"with that malloc preloaded, its heap grown the same way. ns per step (median), "
            f"ratio to `{BASELINE}` in the same process and round (median of the rounds, "
            f"min–max), and peak bytes held from "
            f"upstream / peak bytes live.", "",
            table(["malloc", "row", "W7 ns", f"W7 / `{BASELINE}`", "W7f ns",
                   f"W7f / `{BASELINE}`", "W7 held / live", "W7f held / live"], lines), ""]


def fresh_section(res):
    """W5f and W5s per state of glibc: the main process's, and the state processes' (where the rows
    ran), each against new_delete in the same process and round."""
    states = [s for s in LARGE_STATES if any((w, f"{BASELINE}+{s}") in res.samples
                                             for w in FRESH)]
    if not states:
        return []
    columns = [(w, "", "default") for w in FRESH] + [
        (w, f"+{s}", s.removeprefix("glibc_")) for w in FRESH for s in states]
    columns.sort(key=lambda c: FRESH.index(c[0]))
    lines = []
    for row in [r for r in res.rows if "+" not in r]:
        cells = [f"`{row}`"]
        for w, suffix, _ in columns:
            mine = row + suffix
            if row == BASELINE:
                ns = median_ns(res, w, mine)
                cells.append("—" if ns is None else f"{fmt_ns(ns)} ns")
            else:
                cells.append(ratio_text(res, w, mine, BASELINE + suffix) or "")
        if any(cells[1:]):
            lines.append(cells)
    return ["## Fresh pools (W5f, W5s) in each state of glibc", "",
            "A fresh resource per request, its construction, first blocks and destruction "
            "included: W5f the request of W5 (200 strings, a map of 100), W5s a small one (8 "
            "strings, a map of 4). `default`: the main process, after whatever the other workloads "
            "did to glibc's thresholds (freeing a mapped block raises them); `mapped`: "
            "glibc's thresholds fixed at a fresh process's defaults, so the heap top is trimmed "
            "once 128 KiB of it is free, and a pool that takes more than the top has spare "
            "faults its pages in again at every request; `warm`: as for the large blocks below. "
            f"Ratio to `{BASELINE}` in the same process and round (median of the rounds, "
            f"min–max); the `{BASELINE}` row gives its ns per request.", "",
            table(["row"] + [f"{w} {state}" for w, _, state in columns], lines), ""]


def main_workloads(res):
    """The main tables' workloads that were measured; every thread count where only the threaded
    workloads were (the many-core run)."""
    measured = {w for w, _ in list(res.samples) + list(res.errors)}
    wanted = ALL_THREADED if measured <= set(ALL_THREADED) else WORKLOADS
    return [w for w in wanted if w in measured]


def summary_columns(res):
    """(title, workload, process suffix) of the summary: the main workloads, then the large blocks
    per glibc state."""
    columns = [(w, w, "") for w in main_workloads(res)]
    columns += [(f"{w} {state.removeprefix('glibc_')}", w, f"+{state}")
                for state in LARGE_STATES for w in FRESH + LARGE
                if (w, f"{BASELINE}+{state}") in res.samples]
    return columns


def summary_table(res):
    columns = summary_columns(res)
    lines = []
    for row in [r for r in res.rows if not is_state_row(r)]:
        cells = [f"`{row}`"]
        for _, w, suffix in columns:
            if suffix and "+" in row:
                cells.append("")
                continue
            mine, base = row + suffix, BASELINE + suffix
            if (w, mine) in res.errors:
                cells.append("error")
            elif row == BASELINE:
                ns = median_ns(res, w, mine)
                cells.append("—" if ns is None else f"{fmt_ns(ns)} ns")
            else:
                ratios = list(round_ratios(res, w, mine, base).values())
                mark = " ‡" if (w, mine) in res.misaligned else ""
                cells.append(f"{fmt_ratio(statistics.median(ratios))}{mark}" if ratios else "")
        if any(c for c in cells[1:]):
            lines.append(cells)
    return table(["row"] + [title for title, _, _ in columns], lines)


def summary(results_dir):
    """The compact table printed after each round: new_delete's ns per operation, every other
    row's median ratio to it (lower is faster)."""
    res = load(Path(results_dir))
    return (f"Time / `{BASELINE}` time, same process and round (`row+X`: glibc's "
            f"`{BASELINE}`, same round; lower is faster; `{BASELINE}` "
            f"row: ns per operation; columns named with a state: that glibc state's process, "
            f"W5f/W5s fresh pools of small blocks, W7/W7f large blocks from warm and fresh "
            f"pools):\n\n" + summary_table(res))


def instruction_section(results_dir):
    path = results_dir / "instructions.json"
    if not path.exists():
        return []
    counts = json.loads(path.read_text())
    out = ["## Instructions per allocate+deallocate pair (callgrind)", ""]
    if "error" in counts:
        return out + [f"Not measured: {counts['error']}.", ""]
    out += [f"Callgrind (`--toggle-collect`) counts the instructions executed inside a "
            f"`[[gnu::noinline]]` loop of {counts['pairs']:,} `allocate(64, 8)` + one-word write "
            f"+ `deallocate` calls through `std::pmr::memory_resource*` (after 1000 warm-up "
            f"pairs), minus those of the same loop writing to a fixed block "
            f"({counts['empty_loop_ir'] / counts['pairs']:.1f} per iteration), divided by the "
            f"number of pairs. `virtual_call` is a resource that returns one static block and "
            f"frees nothing: what the two virtual calls cost by themselves (the caller's part "
            f"is in every row).", ""]
    rows = [[f"`{row}`", f"error: {c['error']}" if "error" in c else f"{c['per_pair']:.1f}"]
            for row, c in counts["rows"].items()]
    return out + [table(["row", "instructions per pair beyond the empty loop"], rows), ""]


def build(results_dir):
    """Returns (markdown, csv text)."""
    results_dir = Path(results_dir)
    res = load(results_dir)
    mode_path = results_dir / "mode.json"
    mode = json.loads(mode_path.read_text()) if mode_path.exists() else {}
    glibc = res.contexts.get("glibc", {})
    workloads = main_workloads(res)

    summary_text = summary_table(res)
    fresh = fresh_section(res)
    large = large_section(res)
    res.rows = [r for r in res.rows if r in res.refused or not is_state_row(r) and any(
        (w, r) in res.samples or (w, r) in res.errors for w in workloads)]

    out = ["# pmrkit benchmark report", ""]
    mode_name = mode.get("name", "?")
    out += [f"Generated by `scripts/bench.sh"
            f"{f' --{mode_name}' if mode_name in ('full', 'threads') else ''}` "
            f"({mode_name} mode); nothing in it is copied by hand.", ""]
    out += ["## Machine", ""]
    out.append(f"- CPU: {cpu_model()}, {cpu_topology()}"
               f" ({glibc.get('mhz_per_cpu', '?')} MHz reported), load average at start "
               f"{', '.join(f'{x:.2f}' for x in glibc.get('load_avg', []))}")
    out.append(f"- System: {os_name()}, Linux {platform.release()}, "
               f"{' '.join(platform.libc_ver())}")
    out.append(f"- Compiler: {glibc.get('compiler', '?')}; pmrkit build: "
               f"{glibc.get('pmrkit_build', '?')}, instruction set "
               f"{glibc.get('target_isa', '?')}; Google Benchmark library built as "
               f"{glibc.get('library_build_type', '?')} (its timers only; the timed loop is "
               f"compiled with the benchmark)")
    out.append(f"- Date: {glibc.get('date', '?')}")
    out.append(f"- Source: pmrkit commit {mode.get('source', '?')}")
    planned = (f" (of {mode['rounds']} planned; stopped by the {mode['budget_seconds']} s time "
               f"budget)" if mode and len(res.rounds) < mode.get("rounds", 0) else "")
    out.append(f"- Rounds: {len(res.rounds)}{planned}"
               + (f" × {mode['repetitions']} repetitions, min time {mode['min_time']} s per "
                  f"repetition, {mode.get('wall_seconds', '?')} s wall" if mode else ""))
    out.append("")
    out += ["## Method", ""]
    out.append(
        "Every resource is reached through `std::pmr::memory_resource*`, hidden from the "
        "optimizer. A round runs the benchmark program once per process: the main one on glibc "
        "(every row, every workload of the mode), one per glibc state for the fresh pools and "
        "large blocks, and one per preloaded malloc (the rows whose speed is the malloc's). "
        "Inside a process the "
        "benchmarks run interleaved at random, each repeated; a row's time in a round is the "
        "median of its repetitions, its ratio in that round divides it by the median of "
        f"`{BASELINE}` in the same process and round, and the tables give the median of those "
        "per-round ratios with their min–max; a row run under a preloaded malloc (`row+X`) is "
        f"divided by glibc's `{BASELINE}` of the same round, from the main process: how that "
        "malloc compares with glibc's, across processes (the sections per malloc below compare "
        f"`row+X` with `{BASELINE}+X` within one process). Single-threaded rows are timed in the "
        "thread's CPU time, W6 in wall-clock time. Every row runs an untimed warm-up first (one "
        "iteration; 256 steps on W7), and upstream traffic is counted after it, through a "
        "counting decorator over `new_delete_resource()` (steady state). Differences under ~15% "
        "are within the noise of a shared machine.")
    out.append("")
    out += ["## Summary", "", "Median ratio to `new_delete` in the same process and round "
            "(`row+X`: glibc's, in the same round) "
            "(lower is faster); the `new_delete` row gives its ns per operation; ‡: "
            "under-aligned blocks. The tables below give the spreads, the traffic and the notes.",
            "", summary_text, ""]
    out.append("## Time per operation")
    out.append("")
    out.append(
        "Each cell: median CPU time per operation in ns (W6: wall-clock time per operation of all "
        "threads together) (over all repetitions of all rounds) / "
        "**median ratio** to `new_delete` on glibc (lower is faster; 0.25 = 4× faster), "
        "(min–max of the per-round ratios). A round's ratio divides the row's median by "
        "`new_delete`'s median in the same round; `new_delete+X` is the same program run as a "
        "separate process with X preloaded as malloc. Benchmarks run interleaved at random. "
        "Operations: "
        + "; ".join(f"{w}: {glibc.get('unit:' + w, '?')}" for w in workloads) + ".")
    out.append("")
    out.append(table(["row"] + workloads,
                     [[f"`{r}`"] + [time_cell(res, w, r) for w in workloads] for r in res.rows]))
    out.append("")
    notes = []
    if res.misaligned:
        notes.append("‡ the resource returned blocks less aligned than requested on this "
                     "workload (see its note); its time is shown for reference only.")
    for row, why in res.refused.items():
        notes.append(f"† `{row}` refused: {why}.")
    for row in res.rows:
        if "+" in row:
            plain_row, label = row.split("+", 1)
            ctx = res.contexts.get(label, {})
            notes.append(f"`{row}`: `{plain_row}`, with malloc from "
                         f"`{ctx.get('malloc_resolved', '?')}` (checked in the process by "
                         f"dladdr(dlsym(RTLD_DEFAULT, \"malloc\")): "
                         f"{ctx.get('malloc_check', '?')}).")
        elif glibc.get("note:" + row):
            notes.append(f"`{row}`: {glibc['note:' + row]}.")
    out += [f"- {n}" for n in notes] + [""]

    out.append("## Upstream traffic")
    out.append("")
    out.append("Each cell: upstream allocate calls per operation · peak bytes held from upstream "
               "(through a counting decorator over `new_delete_resource()`; for `new_delete` "
               "itself, counted in one untimed iteration, since every operation is an upstream "
               "call). The preloaded rows run the same calls as the rows they are named after.")
    out.append("")
    out.append(table(["row"] + workloads,
                     [[f"`{r}`"] + [traffic_cell(res, w, r) for w in workloads]
                      for r in res.rows if "+" not in r]))
    out.append("")
    out += malloc_sections(res)
    out += fresh
    out += large
    out += throughput_section(res)
    out += instruction_section(results_dir)

    csv_out = io.StringIO()
    writer = csv.writer(csv_out, lineterminator="\n")
    # misaligned: 1 where the row's blocks were less aligned than asked (the README's headline
    # table marks them, bench/headline.py).
    writer.writerow(["round", "workload", "row", "ns_per_op", "baseline_ns_per_op", "ratio",
                     "misaligned"])
    for w in workloads:
        for row in res.rows:
            for r, ratio in round_ratios(res, w, row).items():
                # Full precision: bench/headline.py recomputes the report's medians from these.
                writer.writerow([r, w, row,
                                 f"{statistics.median(res.samples[(w, row)][r]):.4g}",
                                 f"{statistics.median(res.samples[(w, BASELINE)][r]):.4g}",
                                 repr(ratio), int((w, row) in res.misaligned)])
    return "\n".join(out), csv_out.getvalue()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results_dir", type=Path)
    parser.add_argument("--out", type=Path, help="also write the markdown here")
    parser.add_argument("--csv", type=Path, help="write the per-round ratios here")
    args = parser.parse_args()
    markdown, csv_text = build(args.results_dir)
    if args.out:
        args.out.write_text(markdown)
    if args.csv:
        args.csv.write_text(csv_text)
    print(markdown)


if __name__ == "__main__":
    main()
