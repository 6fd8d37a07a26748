"""`make demo`: the main job, end to end, on a generated dataset.

Versions a dataset with bale in a DVC-compatible (md5) repository, pushes it
to the default local remote, clones the repository and pulls the data back,
verifies every byte, and checks that `dvc` (if installed) reads the same
remote. Then shows the native (blake3) mode on the same data. Everything
happens in a temporary directory that is removed at the end.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "demo",
    "GIT_AUTHOR_EMAIL": "demo@example.invalid",
    "GIT_COMMITTER_NAME": "demo",
    "GIT_COMMITTER_EMAIL": "demo@example.invalid",
}


def sh(*cmd: str, cwd: Path) -> str:
    if cmd[0] == "bale":
        cmd = (sys.executable, "-m", "bale", *cmd[1:])
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True)
    took = time.perf_counter() - t
    shown = " ".join(cmd[2:] if cmd[0] == sys.executable else cmd)
    if proc.returncode != 0:
        print(f"  $ {shown}\n{proc.stdout}{proc.stderr}")
        raise SystemExit(f"demo failed at: {shown}")
    first = (proc.stdout.strip().splitlines() or [""])[0]
    print(f"  $ {shown:<44} {took:6.2f} s  {first}")
    return proc.stdout


def generate(root: Path, files: int = 3000, dirs: int = 30) -> None:
    """Deterministic: many small files in sub-directories, plus one larger file."""
    rng = random.Random(1234)
    for i in range(files):
        p = root / f"part{i % dirs:02}" / f"sample{i:05}.bin"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(rng.randbytes(rng.randint(1024, 8192)))
    (root / "labels.csv").write_bytes(rng.randbytes(32 << 20))


def digest_tree(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


TRAIN = """\
import json, os, sys, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk("data") for f in fs)
open("model.txt", "w").write(f"weights {size * p['lr']:.3f}\\n")
json.dump({"loss": round(1 / (1 + p["lr"] * p["epochs"]), 4)}, open("metrics.json", "w"))
"""


def pipeline_demo(repo: Path) -> None:
    """A training stage on the md5 repository's dataset, run by bale, read
    as up to date by dvc, tried with another learning rate as an experiment."""
    (repo / "train.py").write_text(TRAIN)
    (repo / "params.yaml").write_text("train:\n  lr: 0.1\n  epochs: 3\n")
    sh(
        "bale",
        "stage",
        "add",
        "-n",
        "train",
        "-d",
        "data",
        "-d",
        "train.py",
        "-p",
        "train.lr,train.epochs",
        "-o",
        "model.txt",
        "-M",
        "metrics.json",
        "python train.py",
        cwd=repo,
    )
    sh("bale", "repro", cwd=repo)
    sh("bale", "repro", cwd=repo)
    if shutil.which("dvc"):
        out = sh("dvc", "status", cwd=repo)
        if "up to date" not in out:
            raise SystemExit("demo failed: dvc does not see bale's run as up to date")
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-qm", "Train", cwd=repo)
    sh("bale", "exp", "run", "-S", "train.lr=0.3", "-n", "lr03", cwd=repo)
    print(sh("bale", "exp", "show", cwd=repo).rstrip())
    print(sh("bale", "lineage", "model.txt", cwd=repo).rstrip())


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="bale-demo-"))
    try:
        repo, remote, clone = work / "project", work / "remote", work / "clone"
        repo.mkdir()
        print(f"bale demo in {work}\n\n1. Version a generated dataset (DVC-compatible md5 mode)")
        sh("git", "init", "-q", cwd=repo)
        sh("bale", "init", "--hash", "md5", cwd=repo)
        generate(repo / "data")
        want = digest_tree(repo / "data")
        sh("bale", "add", "data", cwd=repo)
        sh("bale", "status", cwd=repo)
        sh("git", "add", "-A", cwd=repo)
        sh("git", "commit", "-qm", "Add dataset", cwd=repo)

        print("\n2. Push to the default local remote")
        sh("bale", "remote", "add", "-d", "local", str(remote), cwd=repo)
        sh("git", "commit", "-qam", "Add remote", cwd=repo)
        sh("bale", "push", cwd=repo)
        sh("bale", "push", cwd=repo)

        print("\n3. Clone and pull it back, then verify every byte")
        sh("git", "clone", "-q", str(repo), str(clone), cwd=work)
        sh("bale", "pull", cwd=clone)
        sh("bale", "status", cwd=clone)
        got = digest_tree(clone / "data")
        if got != want:
            raise SystemExit("demo failed: the pulled data differs from the original")
        count = sum(1 for p in (clone / "data").rglob("*") if p.is_file())
        print(f"  verified: {count} files identical")

        if shutil.which("dvc"):
            print("\n4. dvc reads what bale wrote")
            shutil.rmtree(clone / "data")
            shutil.rmtree(clone / ".dvc" / "cache")
            sh("dvc", "pull", "-q", cwd=clone)
            sh("dvc", "status", cwd=clone)
            if digest_tree(clone / "data") != want:
                raise SystemExit("demo failed: dvc pulled different data")
            print("  verified: dvc pulled the same bytes")

        print("\n5. Native mode (blake3): an edit costs what changed")
        native = work / "native"
        native.mkdir()
        sh("git", "init", "-q", cwd=native)
        sh("bale", "init", cwd=native)
        shutil.copytree(repo / "data", native / "data")
        sh("bale", "add", "data", cwd=native)
        (native / "data" / "part07" / "sample00007.bin").write_bytes(b"edited")
        sh("bale", "status", cwd=native)
        sh("bale", "add", "data", cwd=native)
        shutil.rmtree(native / "data")
        sh("bale", "checkout", cwd=native)
        sh("bale", "status", cwd=native)

        print("\n6. Native data syncs in packs: a few uploads, not one per file")
        packs = work / "packs-remote"
        sh("bale", "remote", "add", "-d", "packs", str(packs), cwd=native)
        sh("bale", "push", cwd=native)
        print(f"  the remote holds {len(list(packs.rglob('*.pack')))} packs")
        (native / "data" / "part03" / "sample00003.bin").write_bytes(b"edited again")
        sh("bale", "add", "data", cwd=native)
        sh("bale", "push", cwd=native)
        shutil.rmtree(native / "data")
        shutil.rmtree(native / ".dvc" / "cache")
        sh("bale", "pull", cwd=native)
        sh("bale", "status", cwd=native)

        print("\n7. Large files are chunked: an edit uploads its chunks, not the file")
        model = native / "model.bin"
        model.write_bytes(random.Random(7).randbytes(64 << 20))
        sh("bale", "add", "model.bin", cwd=native)
        sh("git", "add", "-A", cwd=native)
        sh("git", "commit", "-qm", "model v1", cwd=native)
        sh("bale", "push", cwd=native)
        with model.open("r+b") as f:
            f.seek(32 << 20)
            f.write(random.Random(8).randbytes(1 << 20))
        sh("bale", "add", "model.bin", cwd=native)
        sh("git", "add", "-A", cwd=native)
        sh("git", "commit", "-qm", "model v2", cwd=native)
        sh("bale", "push", cwd=native)
        sh("bale", "gc", "-A", "--compact", "-f", cwd=native)
        print(sh("bale", "du", "model.bin", "-A", "-c", cwd=native).rstrip())
        want_model = model.read_bytes()
        model.unlink()
        shutil.rmtree(native / ".dvc" / "cache")
        sh("bale", "pull", "model.bin", cwd=native)
        if model.read_bytes() != want_model:
            raise SystemExit("demo failed: the rebuilt model differs")
        print("  verified: the pulled model is rebuilt from its chunks, byte for byte")

        print("\n8. A pipeline on the dataset: repro, an experiment, and where the model came from")
        pipeline_demo(repo)
        print("\ndemo passed")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
