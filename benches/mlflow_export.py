#!/usr/bin/env python3
"""``bale exp export --mlflow`` of 100 experiments beside a hand-written
MLflow logging loop (issue 25's benchmark).

    python benches/mlflow_export.py [--experiments 100] [--repeat 3] [--keep]

The repository is ``benches/experiments.py``'s (prepare → train, params in
params.yaml, metrics in metrics.json) with ``--experiments`` experiments made
by ``bale exp run``. Each repetition starts from the same migrated SQLite
tracking store (copied: MLflow's first migration, seconds, is no one's
cost) with an artifact root of its own, and times whole processes:

    bale        bale exp export --mlflow   (params, metrics, the commit, baseline,
                                           ref and every dependency's hash as tags,
                                           each tracked dependency as a dataset input)
    hand loop   the loop a user writes: dvc's ``exp show --json`` read, then
                per experiment one run with its params, metrics and commit
                tag (``MlflowClient.create_run`` + ``log_batch``); no datasets,
                no hashes

The hand loop records less; the ratio is of time, not of what is recorded.
Then ``bale exp export`` again (every run matched: unchanged) is timed too.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import experiments
import history
import run as rb

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "mlflow-export"

HAND_LOOP = """\
import json, subprocess, sys
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

uri, root, dvc = sys.argv[1:]
shown = json.loads(subprocess.run([dvc, "exp", "show", "--json"], cwd=root,
                                  capture_output=True, text=True, check=True).stdout)
client = MlflowClient(uri)
exp_id = client.get_experiment_by_name("bench").experiment_id


def flat(d, prefix=""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from flat(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


for row in shown:
    for e in row.get("experiments") or []:
        for rev in e.get("revs") or []:
            data = rev["data"]
            run = client.create_run(exp_id, run_name=rev["name"])
            params = [Param(k, str(v)) for f in data["params"].values()
                      for k, v in flat(f.get("data", {}))]
            metrics = [Metric(k, float(v), 0, 0) for f in data["metrics"].values()
                       for k, v in flat(f.get("data", {}))]
            tags = [RunTag("mlflow.source.git.commit", rev["rev"])]
            client.log_batch(run.info.run_id, metrics=metrics, params=params, tags=tags)
            client.set_terminated(run.info.run_id)
"""


def _store(base: Path) -> Path:
    """A migrated SQLite store with an empty experiment ``bench``."""
    db = base / "template.db"
    art = (base / "template-artifacts").as_uri()
    make = (
        "import sys, mlflow; mlflow.MlflowClient(sys.argv[1])"
        ".create_experiment('bench', artifact_location=sys.argv[2])"
    )
    rb.sh([sys.executable, "-c", make, f"sqlite:///{db}", art])
    return db


def _fresh(template: Path, name: str) -> str:
    db = template.parent / f"{name}.db"
    shutil.copyfile(template, db)
    return f"sqlite:///{db}"


def _count_runs(uri: str) -> int:
    code = (
        "import sys, mlflow; c = mlflow.MlflowClient(sys.argv[1]); "
        "e = c.get_experiment_by_name('bench'); "
        "print(len(c.search_runs([e.experiment_id], max_results=5000)))"
    )
    out = subprocess.run([sys.executable, "-c", code, uri], capture_output=True, text=True)
    return int(out.stdout.strip())


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--experiments", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep benches/work/mlflow-export")
    args = ap.parse_args()
    bale, dvc = rb.find_exe("bale"), rb.find_exe("dvc")
    rb.git_identity()
    started = time.time()
    experiments.WORK = WORK
    root = experiments.build(args.experiments, bale, dvc)
    template = _store(WORK)
    export = [bale, "exp", "export", "--mlflow", "--experiment", "bench", "--tracking-uri"]
    times: dict[str, list[float]] = {"bale": [], "hand loop": [], "bale again": []}
    for rep in range(args.repeat):
        ours, theirs = _fresh(template, f"bale{rep}"), _fresh(template, f"hand{rep}")
        order = [
            ("bale", [*export, ours]),
            ("hand loop", [sys.executable, "-c", HAND_LOOP, theirs, str(root), dvc]),
        ]
        for tool, cmd in order if rep % 2 == 0 else order[::-1]:
            times[tool].append(rb.run(cmd, root).seconds)
        times["bale again"].append(rb.run([*export, ours], root).seconds)
        if _count_runs(ours) != args.experiments or _count_runs(theirs) != args.experiments:
            raise SystemExit("an export did not make one run per experiment")
        rb.log(f"repetition {rep + 1}/{args.repeat} done")
    print(f"\n{args.experiments} experiments, {args.repeat} repetitions, medians:")
    b, h = times["bale"], times["hand loop"]
    ratio = statistics.median(y / x for x, y in zip(b, h, strict=True))
    rows = [
        ["export (new store)", statistics.median(b), statistics.median(h), ratio],
        ["export again (no-op)", statistics.median(times["bale again"]), None, None],
    ]
    print(f"{'step':<22} {'bale':>9} {'hand loop':>10} {'hand/bale':>10}")
    print(f"{rows[0][0]:<22} {rows[0][1]:>8.2f}s {rows[0][2]:>9.2f}s {ratio:>9.2f}x")
    print(f"{rows[1][0]:<22} {rows[1][1]:>8.2f}s")
    samples = {"times": times}
    history.record(
        "mlflow_export.py", args, started, ["step", "bale", "hand loop", "hand/bale"], rows, samples
    )
    if not args.keep:
        shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
