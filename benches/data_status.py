#!/usr/bin/env python3
"""`data status` on W1: bale vs dvc (issue 24's target: ≤ 1 s and ≥ 10×).

    python benches/data_status.py [--scale 1.0] [--repeat 3] [--keep]

One repository (``git init && dvc init``, md5) holding W1 (100,000 files of
1-8 KiB in 100 directories, ``workloads.py``) added by dvc and committed;
then 10 files are changed and one added, so there is something to report.
Both tools run in the same repository (``data status`` only reads), their
outputs are checked equal first, then timed whole-process, interleaved,
order alternated each repetition:

    data status --json               the changes
    data status --json --granular    per file inside the directory
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import history
import run as rb
import workloads as wl

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "data-status"


def build(w: wl.Workload, dvc: str) -> Path:
    src = wl.generate(w, HERE / "work" / "src")
    rb.rm_rf(WORK)
    root = WORK / "repo"
    root.mkdir(parents=True)
    rb.sh(["git", "init", "-q"], root)
    rb.sh([dvc, "init", "-q"], root)
    subprocess.run(["cp", "-r", str(src), str(root / "data")], check=True)
    t0 = time.perf_counter()
    rb.sh([dvc, "add", "-q", "data"], root)
    rb.log(f"dvc add of {w.nfiles:,} files: {time.perf_counter() - t0:.1f} s")
    rb.sh(["git", "add", "-A"], root)
    rb.sh(["git", "commit", "-qm", "data"], root)
    for rel in wl.relpaths(w)[:10]:
        path = root / "data" / rel
        path.chmod(0o644)
        path.write_bytes(path.read_bytes()[::-1] + b"!")
    (root / "data" / "new-file").write_text("new\n")
    return root


def _sorted(status: dict) -> dict:
    """dvc lists a category's paths in set order, bale sorted: compare as sets."""
    return {k: {c: sorted(v) for c, v in cats.items()} for k, cats in status.items()}


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--scale", type=float, default=1.0, help="W1's size (default: 1.0)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep benches/work/data-status")
    args = ap.parse_args()
    bale, dvc = rb.find_exe("bale"), rb.find_exe("dvc")
    rb.git_identity()
    started = time.time()
    w = wl.workloads(args.scale)["W1"]
    root = build(w, dvc)
    steps = {
        "data status --json": ["data", "status", "--json"],
        "data status --granular": ["data", "status", "--json", "--granular"],
    }
    for step, argv in steps.items():
        ours = json.loads(rb.run([bale, *argv], root, capture=True).stdout)
        theirs = json.loads(rb.run([dvc, *argv], root, capture=True).stdout)
        if _sorted(ours) != _sorted(theirs):
            raise SystemExit(f"{step}: bale's JSON differs from dvc's")
    pairs = {step: ([bale, *argv], [dvc, *argv]) for step, argv in steps.items()}
    times = rb.interleaved(pairs, root, args.repeat)
    print(f"\nW1 x {args.scale} ({w.nfiles:,} files), {args.repeat} repetitions, medians:")
    rows = rb.paired_table(list(steps), times)
    samples = {"times": [[*k, v] for k, v in times.items()]}
    history.record(
        "data_status.py", args, started, ["step", "bale", "dvc", "dvc/bale"], rows, samples
    )
    if not args.keep:
        shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
