#!/usr/bin/env python3
"""The model registry: ``bale model show/history`` vs GTO's ``gto show/history``
on a registry of 100 versions (issue 25's benchmark).

    python benches/registry.py [--versions 100] [--repeat 5] [--keep]

One repository (``git init && bale init --hash md5``) with one commit per
version of artifact ``clf`` (v1.0.0, v1.1.0, ...), every fifth assigned to
``staging`` and every tenth to ``prod`` (some assigned twice), every seventh
deregistered, and ten more artifacts of three versions each, one deprecated:
the tags written as GTO writes them, one second apart. Both tools' JSON is
checked equal first, then each is timed whole-process, interleaved, order
alternated each repetition.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import history
import run as rb

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "registry"
T0 = 1_750_000_000


def _git(root: Path, *args: str, when: int | None = None) -> str:
    env = {**os.environ, **({"GIT_COMMITTER_DATE": f"{when} +0000"} if when else {})}
    out = subprocess.run(
        ["git", *args], cwd=root, env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def build(versions: int) -> Path:
    rb.rm_rf(WORK)
    root = WORK / "repo"
    root.mkdir(parents=True)
    rb.sh(["git", "init", "-q"], root)
    rb.sh([sys.executable, "-m", "bale", "init", "-q", "--hash", "md5"], root)
    clock = iter(range(T0, T0 + 10_000_000))
    commits = []
    for n in range(versions):
        (root / "model.txt").write_text(f"model {n}\n")
        _git(root, "add", "-A")
        _git(root, "commit", "-qm", f"model {n}", when=next(clock))
        commits.append(_git(root, "rev-parse", "HEAD"))
    counter = 0

    def tag(name: str, commit: str, message: str) -> None:
        _git(root, "tag", "-a", name, "-m", message, commit, when=next(clock))

    def counted(base: str) -> str:
        nonlocal counter
        counter += 1
        return f"{base}#{counter}"

    for n, commit in enumerate(commits):
        v = f"v1.{n}.0"
        tag(f"clf@{v}", commit, f"Registering artifact clf version {v}")
        for stage, every in (("staging", 5), ("prod", 10)):
            if n % every == 0:
                tag(
                    counted(f"clf#{stage}"),
                    commit,
                    f"Assigning stage {stage} to artifact clf version {v}",
                )
        if n % 7 == 3:
            tag(f"clf@{v}!", commit, f"Deregistering artifact clf version {v}")
    for a in range(10):
        for n in range(3):
            tag(f"other{a}@v0.{n}.0", commits[n], f"Registering artifact other{a} version v0.{n}.0")
    tag("other0@deprecated", commits[2], "Deprecating artifact 'other0'")
    return root


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--versions", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="keep benches/work/registry")
    args = ap.parse_args()
    bale, gto = rb.find_exe("bale"), rb.find_exe("gto")
    rb.git_identity()
    started = time.time()
    root = build(args.versions)
    steps = {
        "show --json": ["show", "--json"],
        "show clf --json": ["show", "clf", "--json"],
        "history --json": ["history", "--json"],
    }
    for step, argv in steps.items():
        ours = json.loads(rb.run([bale, "model", *argv], root, capture=True).stdout)
        theirs = json.loads(rb.run([gto, *argv], root, capture=True).stdout)
        if ours != theirs:
            raise SystemExit(f"{step}: bale's JSON differs from gto's")
    times: dict[tuple[str, str], list[float]] = {}
    for rep in range(args.repeat):
        for step, argv in steps.items():
            order = [("bale", [bale, "model", *argv]), ("gto", [gto, *argv])]
            for tool, cmd in order if rep % 2 == 0 else order[::-1]:
                times.setdefault((step, tool), []).append(rb.run(cmd, root).seconds)
        rb.log(f"repetition {rep + 1}/{args.repeat} done")
    print(f"\n{args.versions} versions of clf + 10 artifacts, {args.repeat} repetitions, medians:")
    print(f"{'step':<18} {'bale':>9} {'gto':>9} {'gto/bale':>9}")
    rows = []
    for step in steps:
        b, g = times[(step, "bale")], times[(step, "gto")]
        ratio = statistics.median(x / y for x, y in zip(g, b, strict=True))
        rows.append([step, statistics.median(b), statistics.median(g), ratio])
        print(f"{step:<18} {rows[-1][1]:>8.3f}s {rows[-1][2]:>8.3f}s {ratio:>8.1f}x")
    samples = {"times": [[*k, v] for k, v in times.items()]}
    history.record("registry.py", args, started, ["step", "bale", "gto", "gto/bale"], rows, samples)
    if not args.keep:
        shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
