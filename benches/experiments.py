#!/usr/bin/env python3
"""`exp show` with many experiments: bale vs dvc (issue 5's target: ≥ 5×).

    python benches/experiments.py [--experiments 100] [--repeat 5] [--keep]

One repository (``git init && dvc init``) with a two-stage pipeline
(prepare → train, params in params.yaml, metrics in metrics.json), reproduced
and committed; then ``--experiments`` experiments are made with ``bale exp
run -S train.lr=… -n eNNN`` (they are dvc's ``refs/exps`` refs, so both tools
list the same ones; a check asserts that dvc lists every one). Timed, with
the tools interleaved and their order alternated each repetition:

    exp show --json        (dvc: ``dvc exp show --json``)
    exp show               (the table; dvc: ``dvc exp show --no-pager``)

Medians, and the median of the ratios dvc/bale paired within a repetition.
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
WORK = HERE / "work" / "experiments"

PREP = """\
import os, yaml
n = yaml.safe_load(open("params.yaml"))["prepare"]["n"]
os.makedirs("out", exist_ok=True)
open("out/prep.txt", "w").write("x" * n)
"""
TRAIN = """\
import json, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
n = len(open("out/prep.txt").read())
open("model.bin", "w").write(str(n * p["lr"]))
json.dump({"loss": 1 / (1 + n * p["lr"]), "acc": min(1.0, p["lr"] * 3)}, open("metrics.json", "w"))
"""
PARAMS = "prepare:\n  n: 100\ntrain:\n  lr: 0.1\n  epochs: 2\n"


def build(n: int, bale: str, dvc: str) -> Path:
    rb.rm_rf(WORK)
    root = WORK / "repo"
    (root / "src").mkdir(parents=True)
    rb.sh(["git", "init", "-q"], root)
    rb.sh([dvc, "init", "-q"], root)
    (root / "src/prep.py").write_text(PREP)
    (root / "src/train.py").write_text(TRAIN)
    (root / "params.yaml").write_text(PARAMS)
    rb.sh(
        [
            dvc,
            "stage",
            "add",
            "-q",
            "-n",
            "prepare",
            "-p",
            "prepare.n",
            "-d",
            "src/prep.py",
            "-o",
            "out",
            "python src/prep.py",
        ],
        root,
    )
    rb.sh(
        [
            dvc,
            "stage",
            "add",
            "-q",
            "-n",
            "train",
            "-p",
            "train.lr,train.epochs",
            "-d",
            "src/train.py",
            "-d",
            "out",
            "-o",
            "model.bin",
            "-M",
            "metrics.json",
            "python src/train.py",
        ],
        root,
    )
    rb.sh([bale, "repro", "-q"], root)
    rb.sh(["git", "add", "-A"], root)
    rb.sh(["git", "commit", "-qm", "baseline"], root)
    t0 = time.perf_counter()
    for i in range(n):
        rb.sh(
            [bale, "exp", "run", "-q", "-S", f"train.lr={0.001 * (i + 1):.3f}", "-n", f"e{i:03d}"],
            root,
        )
    rb.log(f"made {n} experiments with bale exp run in {time.perf_counter() - t0:.1f} s")
    shown = json.loads(rb.run([dvc, "exp", "show", "--json"], root, capture=True).stdout)
    names = {e["name"] for row in shown for e in row.get("experiments") or []}
    missing = {f"e{i:03d}" for i in range(n)} - names
    if missing:
        raise SystemExit(f"dvc exp show does not list {len(missing)} of bale's experiments")
    return root


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--experiments", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="keep benches/work/experiments")
    args = ap.parse_args()
    bale, dvc = rb.find_exe("bale"), rb.find_exe("dvc")
    rb.git_identity()
    started = time.time()
    root = build(args.experiments, bale, dvc)
    steps = {
        "exp show --json": ([bale, "exp", "show", "--json"], [dvc, "exp", "show", "--json"]),
        "exp show (table)": ([bale, "exp", "show"], [dvc, "exp", "show", "--no-pager"]),
    }
    times = rb.interleaved(steps, root, args.repeat)
    print(f"\n{args.experiments} experiments, {args.repeat} repetitions, medians:")
    rows = rb.paired_table(list(steps), times)
    samples = {"times": [[*k, v] for k, v in times.items()]}
    history.record(
        "experiments.py", args, started, ["step", "bale", "dvc", "dvc/bale"], rows, samples
    )
    if not args.keep:
        shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
