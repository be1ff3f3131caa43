#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The "real programs" table: allocation traces of programs nobody here wrote, replayed through
every pmrkit resource and new_delete_resource under glibc, mimalloc, jemalloc and tcmalloc.

    bench/real_programs.py [--build-dir build/release] [--rounds 3] [--repetitions 5]
    bench/real_programs.py capture [--build-dir build/release]   # re-record bench/traces/

The traces are committed (bench/traces/*.trace.xz, about 3 MiB), not regenerated on each run: the
same input before and after a change to pmrkit, whatever the machine's python, g++, sqlite3, perl
and git versions. `capture` records them again with libpmrkit_capture.so (python3, g++, sqlite3,
perl and git must be installed) and compresses them with xz; the replay reads them uncompressed
from a temporary folder.

Each round runs pmrkit_replay once per trace under glibc (every resource, ratios to new_delete
within the process), then once per preloaded malloc with new_delete alone (--malloc-only); a
malloc's time ratio is its new_delete time over glibc's in the same round, and the median over
rounds is printed, for the warm replays and for the first (fresh) ones, and the first replays'
page faults over glibc's new_delete's. Bytes held: a pool's upstream bytes at their peak; a
malloc's peak resident set growth during the replay (pmrkit_replay's header says how). Progress
goes to stderr, the tables to stdout (Markdown).
"""
import argparse
import json
import lzma
import math
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from compare import PRELOADS, find_library

SOURCE = Path(__file__).resolve().parent.parent
TRACES = SOURCE / "bench" / "traces"

# A fixed C++ translation unit (pmrkit's own sources change; this does not).
CXX_UNIT = r"""
#include <algorithm>
#include <map>
#include <memory_resource>
#include <string>
#include <unordered_map>
#include <vector>
std::pmr::map<std::pmr::string, int> count_words(const std::vector<std::string>& lines) {
    std::pmr::map<std::pmr::string, int> counts;
    for (const auto& line : lines) {
        std::size_t start = 0;
        for (std::size_t i = 0; i <= line.size(); ++i)
            if (i == line.size() || line[i] == ' ') {
                if (i > start) ++counts[std::pmr::string(line.substr(start, i - start))];
                start = i + 1;
            }
    }
    return counts;
}
std::vector<std::pair<int, std::string>> top(const std::unordered_map<std::string, int>& m) {
    std::vector<std::pair<int, std::string>> v;
    for (const auto& [k, n] : m) v.emplace_back(n, k);
    std::sort(v.begin(), v.end());
    return v;
}
"""

SQL = """
create table t(id integer primary key, name text, grp integer, payload text);
with recursive n(i) as (select 1 union all select i+1 from n where i < 30000)
insert into t select i, 'name' || i, i % 97, hex(randomblob(40 + i % 200)) from n;
create index t_grp on t(grp, name);
select grp, count(*), sum(length(payload)) from t group by grp order by 3 desc limit 5;
select count(*) from t a join t b on a.grp = b.grp and a.id < b.id and b.id < a.id + 5;
update t set payload = upper(payload) where id % 3 = 0;
delete from t where id % 5 = 0;
select name from t where name like 'name1%' order by payload limit 10;
"""

PYTHON_JSON = """
import json, sys
for path in sys.argv[1:]:
    doc = json.load(open(path))
    text = json.dumps(doc, indent=1, sort_keys=True)
    json.loads(text)
"""

PERL_WORDS = (r'for (split /\W+/) { $c{lc $_}++ } END { for (sort { $c{$b} <=> $c{$a} '
              r'or $a cmp $b } keys %c) { print "$_ $c{$_}\n" } }')

# A commit of this repository, so that `git log -p` walks the same history on every capture.
GIT_TIP = "d900f47"


def workloads(work, json_dir):
    """name -> (command, extra environment, stdin). Every process of a command is recorded; the
    trace kept is the largest (for g++, its cc1plus)."""
    unit = work / "unit.cpp"
    unit.write_text(CXX_UNIT)
    documents = [str(json_dir / "twitter.json"), str(json_dir / "citm_catalog.json")]
    return {
        # PYTHONMALLOC=malloc: every object through malloc (pymalloc would hide small ones).
        "python-json": (["python3", "-c", PYTHON_JSON, *documents],
                        {"PYTHONMALLOC": "malloc", "PYTHONHASHSEED": "0"}, None),
        "g++-cc1plus": (["g++", "-std=c++20", "-O1", "-c", str(unit), "-o", os.devnull], {},
                        None),
        "sqlite3": (["sqlite3", "-init", os.devnull, ":memory:"], {}, SQL),
        "perl-words": (["perl", "-ne", PERL_WORDS, *documents], {}, None),
        "git-log-p": (["git", "-C", str(SOURCE), "--no-pager", "log", "-p", "-n", "300", GIT_TIP],
                      {}, None),
    }


def progress(message):
    print(message, file=sys.stderr, flush=True)


def capture(build_dir, json_dir):
    library = build_dir / "tools" / "trace" / "libpmrkit_capture.so"
    TRACES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, (command, extra, stdin) in workloads(work, json_dir).items():
            out = work / name
            out.mkdir()
            env = dict(os.environ, LD_PRELOAD=str(library), PMRKIT_TRACE=str(out / "%p.trace"),
                       **extra)
            progress(f"capture: {name}")
            subprocess.run(command, env=env, input=stdin, text=True, check=True,
                           stdout=subprocess.DEVNULL)
            largest = max(out.glob("*.trace"), key=lambda p: p.stat().st_size)
            data = largest.read_bytes()
            (TRACES / f"{name}.trace.xz").write_bytes(lzma.compress(data, preset=9))
            progress(f"  {len(data)} bytes, {(TRACES / f'{name}.trace.xz').stat().st_size} "
                     "compressed")


def replay(program, trace, repetitions, library=None):
    env = dict(os.environ)
    command = [str(program), "--json", "--repetitions", str(repetitions), str(trace)]
    if library is not None:
        env["LD_PRELOAD"] = library
        command.insert(1, "--malloc-only")
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def table(title, names, cells):
    """cells: row label -> {trace: value}; adds geometric mean and worst columns."""
    lines = [f"| {title} | " + " | ".join(names) + " | geometric mean | worst |",
             "|---|" + "---:|" * (len(names) + 2)]
    for label, values in cells.items():
        row = [values.get(n) for n in names]
        present = [v for v in row if v is not None]
        text = ["—" if v is None else f"{v:.2f}" for v in row]
        text += [f"{geomean(present):.2f}", f"{max(present):.2f}"] if present else ["—", "—"]
        lines.append(f"| {label} | " + " | ".join(text) + " |")
    return "\n".join(lines)


def report(build_dir, rounds, repetitions):
    program = build_dir / "tools" / "trace" / "pmrkit_replay"
    traces = sorted(TRACES.glob("*.trace.xz"))
    names = [t.name.removesuffix(".trace.xz") for t in traces]
    time = {}   # row -> trace -> ratio
    fresh = {}  # row -> trace -> ratio of the first replays
    faults = {}  # row -> trace -> ratio of the first replays' page faults
    held = {}   # row -> trace -> held / live
    recommendations = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, packed in zip(names, traces):
            trace = Path(tmp) / f"{name}.trace"
            trace.write_bytes(lzma.decompress(packed.read_bytes()))
            per_round = {}  # row -> ratios
            fresh_per_round = {}  # row -> ratios of the first replays
            faults_per_round = {}  # row -> ratios of their page faults
            for round_number in range(rounds):
                progress(f"replay: {name}, round {round_number + 1}/{rounds}")
                glibc = replay(program, trace, repetitions)
                live = glibc["peak_live_bytes"]
                reference = glibc["rows"][0]["ns_per_op"]
                fresh_reference = glibc["rows"][0]["fresh_ns_per_op"]
                faults_reference = max(glibc["rows"][0]["fresh_faults"], 1)
                for row in glibc["rows"]:
                    label = "new_delete (glibc)" if row["name"] == "new_delete_resource" \
                        else row["name"]
                    if row["error"]:
                        continue
                    per_round.setdefault(label, []).append(row["ratio"])
                    fresh_per_round.setdefault(label, []).append(row["fresh_ratio"])
                    faults_per_round.setdefault(label, []).append(
                        row["fresh_faults"] / faults_reference)
                    if row["held"] is not None and round_number == 0:
                        held.setdefault(label, {})[name] = row["held"] / live
                recommendations[name] = glibc["recommendation"]
                for label, lib in PRELOADS.items():
                    other = replay(program, trace, repetitions, find_library(lib))
                    row = other["rows"][0]
                    per_round.setdefault(f"new_delete ({label})", []).append(
                        row["ns_per_op"] / reference)
                    fresh_per_round.setdefault(f"new_delete ({label})", []).append(
                        row["fresh_ns_per_op"] / fresh_reference)
                    faults_per_round.setdefault(f"new_delete ({label})", []).append(
                        row["fresh_faults"] / faults_reference)
                    if round_number == 0 and row["held"] is not None:
                        held.setdefault(f"new_delete ({label})", {})[name] = row["held"] / live
            for label, ratios in per_round.items():
                time.setdefault(label, {})[name] = statistics.median(ratios)
            for label, ratios in fresh_per_round.items():
                fresh.setdefault(label, {})[name] = statistics.median(ratios)
            for label, ratios in faults_per_round.items():
                faults.setdefault(label, {})[name] = statistics.median(ratios)
    out = ["## Real programs", "",
           f"Allocation traces of {len(names)} programs (bench/traces, bench/real_programs.py), "
           "replayed on one thread through std::pmr::memory_resource*. Time, warm: the second "
           "of two replays on one instance, ratio to new_delete on glibc; medians of "
           f"{rounds} rounds x {repetitions} repetitions. Time, fresh: the first replay, from the "
           "resource's construction, each resource in a process of its own on a fresh malloc "
           "(page faults and upstream calls included, as a program's start pays them), one "
           f"sample per round, median of {rounds}. Page faults: the minor faults of the process "
           "during its first replay (getrusage), ratio to new_delete's on glibc: a first replay's "
           "cost beyond a warm one is mostly these (memory first touched). Bytes: during the "
           "first replay.", "",
           table("time vs new_delete (glibc), warm", names, time), "",
           table("time vs new_delete (glibc), fresh", names, fresh), "",
           table("page faults vs new_delete (glibc), fresh", names, faults), "",
           table("bytes held at peak / peak bytes live", names, held), "",
           "Pools: upstream bytes at their peak. new_delete: peak resident set growth during a "
           "first replay in a fresh process (heap_resource has no row here: it is the malloc's).",
           "", "pmrkit_replay's recommendation per trace: " +
           ", ".join(f"{n}: {r}" for n, r in recommendations.items()) + "."]
    print("\n".join(out))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="report", choices=["report", "capture"])
    parser.add_argument("--build-dir", type=Path, default=SOURCE / "build" / "release")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--json-dir", type=Path, help="the JSON documents (capture; default: "
                        "shared/data/json beside or inside the source tree)")
    args = parser.parse_args()
    if args.command == "capture":
        json_dir = args.json_dir or next(
            (d for d in (SOURCE.parent / "shared" / "data" / "json",
                         SOURCE / "shared" / "data" / "json") if d.is_dir()), None)
        if json_dir is None:
            parser.error("no shared/data/json beside the source tree: pass --json-dir")
        capture(args.build_dir, json_dir)
    else:
        report(args.build_dir, args.rounds, args.repetitions)


if __name__ == "__main__":
    main()
