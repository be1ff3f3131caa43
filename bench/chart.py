#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Renders the per-round ratios of one benchmark run (bench-ratios.csv) as an SVG bar chart.

Usage: chart.py RATIOS.csv OUT.svg [--title TEXT]

One panel per workload, one bar per row: the median of its per-round ratios to new_delete
(glibc) from the same run, on a log scale, with the min-max of the rounds as a whisker. Bars
left of the 1.0 line are faster than new_delete. Standard library only, so the chart needs
nothing beyond python3.
"""
import argparse
import csv
import math
import statistics
from collections import defaultdict
from pathlib import Path
from xml.sax.saxutils import escape

LOW, HIGH = 0.01, 4.0  # ratio axis limits (log scale)
LABEL_WIDTH, PLOT_WIDTH, BAR_HEIGHT, GAP = 230, 520, 14, 4
# pmrkit's rows by prefix; a row run under a preloaded malloc (`heap+tcmalloc`) shows that malloc.
PMRKIT_ROWS = ("fixed_block", "size_class", "arena", "aligned_pool", "heap", "concurrent_pool",
               "stats", "dropin_", "synchronized_size_class")


def x_of(ratio):
    clamped = min(max(ratio, LOW), HIGH)
    return LABEL_WIDTH + PLOT_WIDTH * math.log(clamped / LOW) / math.log(HIGH / LOW)


def colour(row):
    if row == "new_delete":
        return "#888888"
    if row.startswith(PMRKIT_ROWS) and "+" not in row:
        return "#1f77b4"
    if row.startswith("limit_"):
        return "#2ca02c"
    return "#ff7f0e"


def load(path):
    ratios = defaultdict(list)  # (workload, row) -> [per-round ratio]
    workloads, rows = [], defaultdict(list)
    with open(path, newline="") as f:
        for rec in csv.DictReader(f):
            key = (rec["workload"], rec["row"])
            ratios[key].append(float(rec["ratio"]))
            if rec["workload"] not in workloads:
                workloads.append(rec["workload"])
            if rec["row"] not in rows[rec["workload"]]:
                rows[rec["workload"]].append(rec["row"])
    return ratios, workloads, rows


LEGEND = [("#1f77b4", "pmrkit"), ("#ff7f0e", "std, Boost, foonathan, mallocs"),
          ("#2ca02c", "hand-written limit"), ("#888888", "new_delete (baseline)")]


def render(ratios, workloads, rows, title):
    out, y = [], 40
    x = LABEL_WIDTH
    for fill, name in LEGEND:
        out.append(f'<rect x="{x}" y="{y - 10}" width="10" height="10" fill="{fill}"/>'
                   f'<text x="{x + 14}" y="{y - 1}">{escape(name)}</text>')
        x += 30 + 6 * len(name)
    y += 8
    for workload in workloads:
        out.append(f'<text x="8" y="{y + 12}" font-weight="bold">{escape(workload)}</text>')
        y += 18
        top = y
        for row in rows[workload]:
            values = ratios[(workload, row)]
            median = statistics.median(values)
            x0, x1 = x_of(LOW), x_of(median)
            mid = y + BAR_HEIGHT / 2
            out.append(f'<text x="{LABEL_WIDTH - 6}" y="{mid + 4}" text-anchor="end">'
                       f'{escape(row)}</text>')
            out.append(f'<rect x="{x0:.1f}" y="{y}" width="{x1 - x0:.1f}" height="{BAR_HEIGHT}" '
                       f'fill="{colour(row)}"/>')
            out.append(f'<line x1="{x_of(min(values)):.1f}" x2="{x_of(max(values)):.1f}" '
                       f'y1="{mid}" y2="{mid}" stroke="black"/>')
            out.append(f'<text x="{x_of(HIGH) + 6:.1f}" y="{mid + 4}">{median:.2f}</text>')
            y += BAR_HEIGHT + GAP
        one = x_of(1.0)
        out.append(f'<line x1="{one:.1f}" x2="{one:.1f}" y1="{top - 2}" y2="{y}" stroke="#444" '
                   f'stroke-dasharray="3,2"/>')
        y += 10
    ticks = [0.01, 0.03, 0.1, 0.3, 1, 3]
    for tick in ticks:
        out.append(f'<text x="{x_of(tick):.1f}" y="{y + 12}" text-anchor="middle">{tick:g}'
                   f'</text>')
    y += 20
    out.append(f'<text x="{LABEL_WIDTH}" y="{y + 10}">time ÷ new_delete (glibc) time, same run; '
               f'log scale; lower is faster; whisker = min–max over rounds</text>')
    height, width = y + 24, LABEL_WIDTH + PLOT_WIDTH + 60
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'font-family="sans-serif" font-size="11">'
            f'<rect width="100%" height="100%" fill="white"/>'
            f'<text x="8" y="20" font-size="14" font-weight="bold">{escape(title)}</text>')
    return head + "".join(out) + "</svg>\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("svg", type=Path)
    parser.add_argument("--title", default="pmrkit: time relative to new_delete_resource")
    args = parser.parse_args()
    args.svg.write_text(render(*load(args.csv), args.title))


if __name__ == "__main__":
    main()
