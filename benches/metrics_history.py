#!/usr/bin/env python3
"""`metrics show` across history: bale vs dvc (issue 24's target: -A over
200 commits ≥ 10×).

    python benches/metrics_history.py [--commits 200] [--repeat 5] [--keep]

One repository (``git init && dvc init``) whose ``dvc.yaml`` declares a
metrics file and a params file, with ``--commits`` commits each changing
both, a branch and two tags. Timed, whole processes, the tools interleaved
and their order alternated each repetition:

    metrics show -A --json     every commit
    metrics show -a -T --json  branch heads and tags

A check asserts that both tools print the same JSON. Medians, and the
median of the ratios dvc/bale paired within a repetition.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import history
import run as rb

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "metrics-history"


def build(commits: int, dvc: str) -> Path:
    rb.rm_rf(WORK)
    root = WORK / "repo"
    root.mkdir(parents=True)
    rb.sh(["git", "init", "-q"], root)
    rb.sh([dvc, "init", "-q"], root)
    (root / "dvc.yaml").write_text("metrics: [eval/metrics.json]\nparams: [params.yaml]\n")
    (root / "eval").mkdir()
    (root / "src").mkdir()
    for i in range(20):  # files git tracks beside them, as a project has
        (root / "src" / f"m{i}.py").write_text(f"# module {i}\n")
    for i in range(commits):
        metrics = {"acc": round(0.5 + i / (2 * commits), 4), "loss": round(1 / (i + 1), 4)}
        (root / "eval/metrics.json").write_text(json.dumps(metrics))
        (root / "params.yaml").write_text(f"lr: {0.001 * (i + 1):.4f}\nepochs: {i % 7 + 1}\n")
        rb.sh(["git", "add", "-A"], root)
        rb.sh(["git", "commit", "-qm", f"c{i}"], root)
        if i == commits // 2:
            rb.sh(["git", "tag", "v1"], root)
            rb.sh(["git", "branch", "old"], root)
    rb.sh(["git", "tag", "-a", "v2", "-m", "release"], root)
    return root


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--commits", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="keep benches/work/metrics-history")
    args = ap.parse_args()
    bale, dvc = rb.find_exe("bale"), rb.find_exe("dvc")
    rb.git_identity()
    started = time.time()
    t0 = time.perf_counter()
    root = build(args.commits, dvc)
    rb.log(f"made {args.commits} commits in {time.perf_counter() - t0:.1f} s")
    steps = {
        "metrics show -A": ["metrics", "show", "-A", "--json"],
        "metrics show -a -T": ["metrics", "show", "-a", "-T", "--json"],
    }
    for step, argv in steps.items():
        ours = json.loads(rb.run([bale, *argv], root, capture=True).stdout)
        theirs = json.loads(rb.run([dvc, *argv], root, capture=True).stdout)
        if ours != theirs:
            raise SystemExit(f"{step}: bale's JSON differs from dvc's")
    pairs = {step: ([bale, *argv], [dvc, *argv]) for step, argv in steps.items()}
    times = rb.interleaved(pairs, root, args.repeat)
    print(f"\n{args.commits} commits, {args.repeat} repetitions, medians:")
    rows = rb.paired_table(list(steps), times)
    samples = {"times": [[*k, v] for k, v in times.items()]}
    history.record(
        "metrics_history.py", args, started, ["step", "bale", "dvc", "dvc/bale"], rows, samples
    )
    if not args.keep:
        shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
