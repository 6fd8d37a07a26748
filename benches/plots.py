#!/usr/bin/env python3
"""`plots show` and `plots diff`: bale vs dvc (issue 24's target: ≥ 5×,
whole process).

    python benches/plots.py [--files 20] [--rows 10000] [--commits 10] [--repeat 3] [--keep]

One repository (``git init && dvc init``) whose ``dvc.yaml`` declares
``--files`` plots in its top-level ``plots:`` section, half CSV and half
JSON (a list of records), each with ``--rows`` rows of ``step`` and one
value field named as its ``x`` and ``y``; ``--commits`` commits each
changing every file. Timed, whole processes, the tools interleaved and
their order alternated each repetition:

    plots show -o DIR              the workspace, as the HTML page
    plots show --json              the workspace, dvc's JSON
    plots diff REV... -o DIR       the last ``--commits`` commits, as the HTML page
    plots diff REV... --json       the same, dvc's JSON

A check asserts that both tools print the same ``--json`` first. Medians,
and the median of the ratios dvc/bale paired within a repetition, of the
wall clock and of each process's CPU time (user + system, steadier when
the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import history
import run as rb

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "plots"


def _write(root: Path, name: str, rows: int, commit: int, k: int) -> None:
    field = "loss" if k % 2 else "acc"
    values = [
        round(math.exp(-i / (rows / 3)) * (1 + 0.01 * commit) + 0.001 * ((i * 7 + k) % 13), 6)
        for i in range(rows)
    ]
    path = root / name
    if name.endswith(".csv"):
        lines = [f"step,{field}"] + [f"{i},{v}" for i, v in enumerate(values)]
        path.write_text("\n".join(lines) + "\n")
    else:
        path.write_text(json.dumps([{"step": i, field: v} for i, v in enumerate(values)]))


def build(files: int, rows: int, commits: int, dvc: str) -> Path:
    rb.rm_rf(WORK)
    root = WORK / "repo"
    root.mkdir(parents=True)
    rb.sh(["git", "init", "-q"], root)
    rb.sh([dvc, "init", "-q"], root)
    (root / "plots").mkdir()
    names = [f"plots/p{k:02d}.{'csv' if k % 2 == 0 else 'json'}" for k in range(files)]
    lines = ["plots:"]
    for k, name in enumerate(names):
        field = "loss" if k % 2 else "acc"
        lines += [f"  - {name}:", "      x: step", f"      y: {field}"]
    (root / "dvc.yaml").write_text("\n".join(lines) + "\n")
    (root / ".gitignore").write_text("/dvc_plots\n/out-*\n")
    for c in range(commits):
        for k, name in enumerate(names):
            _write(root, name, rows, c, k)
        rb.sh(["git", "add", "-A"], root)
        rb.sh(["git", "commit", "-qm", f"c{c}"], root)
    return root


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--commits", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep benches/work/plots")
    args = ap.parse_args()
    bale, dvc = rb.find_exe("bale"), rb.find_exe("dvc")
    rb.git_identity()
    started = time.time()
    t0 = time.perf_counter()
    root = build(args.files, args.rows, args.commits, dvc)
    rb.log(f"made {args.commits} commits of {args.files} plots in {time.perf_counter() - t0:.1f} s")
    revs = [f"HEAD~{i}" for i in range(args.commits - 1, 0, -1)] + ["HEAD"]
    n = len(revs)
    steps = {
        "plots show": ["plots", "show", "-o", "out-{tool}"],
        "plots show --json": ["plots", "show", "--json"],
        f"plots diff ({n} revs)": ["plots", "diff", *revs, "-o", "out-{tool}"],
        f"plots diff ({n} revs) --json": ["plots", "diff", *revs, "--json"],
    }

    def argv(tool: str, step: str) -> list[str]:
        exe = bale if tool == "bale" else dvc
        return [exe, *(a.format(tool=tool) for a in steps[step])]

    for step in steps:
        if "--json" not in step:
            continue
        ours = json.loads(rb.run(argv("bale", step), root, capture=True).stdout)
        theirs = json.loads(rb.run(argv("dvc", step), root, capture=True).stdout)
        if ours != theirs:
            raise SystemExit(f"{step}: bale's JSON differs from dvc's")
    rb.log("both tools print the same JSON")
    # rb.interleaved's order (tools alternated each repetition), keeping
    # each process's CPU time beside its wall time
    times: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    for rep in range(args.repeat):
        for step in steps:
            order = ["bale", "dvc"] if rep % 2 == 0 else ["dvc", "bale"]
            for tool in order:
                p = rb.run(argv(tool, step), root)
                times.setdefault((step, tool), []).append(p.seconds)
                cpu.setdefault((step, tool), []).append(p.cpu)
        rb.log(f"repetition {rep + 1}/{args.repeat} done")
    print(
        f"\n{args.files} plots of {args.rows} rows, {args.commits} commits, "
        f"{args.repeat} repetitions, medians; wall clock:"
    )
    rows = rb.paired_table(list(steps), times)
    print("CPU time (user + system):")
    cpu_rows = rb.paired_table(list(steps), cpu)
    samples = {
        "times": [[*k, v] for k, v in times.items()],
        "cpu": [[*k, v] for k, v in cpu.items()],
    }
    table = [[*r, *c[1:]] for r, c in zip(rows, cpu_rows, strict=True)]
    header = ["step", "bale", "dvc", "dvc/bale", "bale cpu", "dvc cpu", "dvc/bale cpu"]
    history.record("plots.py", args, started, header, table, samples)
    if not args.keep:
        shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
