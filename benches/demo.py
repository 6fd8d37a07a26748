"""`make demo`: the main job, end to end, on a generated dataset.

Versions a dataset with bale in a DVC-compatible (md5) repository, pushes it
to the default local remote, clones the repository and pulls the data back,
verifies every byte, and checks that `dvc` (if installed) reads the same
remote. Then shows the native (blake3) mode on the same data. Everything
happens in a temporary directory that is removed at the end.
"""

from __future__ import annotations

import hashlib
import json
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


PREPARE = """\
import json, os, yaml
p = yaml.safe_load(open("params.yaml"))["prepare"]
files = sorted(os.path.join(d, f) for d, _, fs in os.walk("data") for f in fs)
cut = int(len(files) * p["split"])
os.makedirs("prepared", exist_ok=True)
for name, part in (("train", files[:cut]), ("test", files[cut:])):
    sizes = [os.path.getsize(f) for f in part]
    json.dump({"files": len(part), "bytes": sum(sizes)}, open(f"prepared/{name}.json", "w"))
"""

TRAIN = """\
import json, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
train = json.load(open("prepared/train.json"))
open("model.txt", "w").write(f"weights {train['bytes'] * p['lr']:.3f} x{p['epochs']}\\n")
"""

EVALUATE = """\
import json
test = json.load(open("prepared/test.json"))
weights = float(open("model.txt").read().split()[1])
json.dump({"loss": round(1 / (1 + weights / max(test["bytes"], 1)), 4)}, open("metrics.json", "w"))
"""

STAGES = [
    ["-n", "prepare", "-d", "data", "-d", "prepare.py", "-p", "prepare.split", "-o", "prepared"],
    [
        "-n",
        "train",
        "-d",
        "prepared",
        "-d",
        "train.py",
        "-p",
        "train.lr,train.epochs",
        "-o",
        "model.txt",
    ],
    [
        "-n",
        "evaluate",
        "-d",
        "prepared",
        "-d",
        "model.txt",
        "-d",
        "evaluate.py",
        "-M",
        "metrics.json",
    ],
]


def pipeline_demo(repo: Path) -> None:
    """The lecture's pipeline (prepare, train, evaluate, with params.yaml) on
    the md5 repository's dataset, run by bale, read as up to date by dvc,
    tried with another learning rate as an experiment."""
    for name, code in (("prepare", PREPARE), ("train", TRAIN), ("evaluate", EVALUATE)):
        (repo / f"{name}.py").write_text(code)
    (repo / "params.yaml").write_text("prepare:\n  split: 0.8\ntrain:\n  lr: 0.1\n  epochs: 3\n")
    for stage, cmd in zip(STAGES, ("prepare", "train", "evaluate"), strict=True):
        sh("bale", "stage", "add", *stage, f"python {cmd}.py", cwd=repo)
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


def registry_demo(repo: Path) -> None:
    """The trained model registered, promoted to prod, and its lineage."""
    with (repo / "dvc.yaml").open("a") as f:
        f.write("artifacts:\n  model:\n    path: model.txt\n    type: model\n")
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-qm", "Keep experiment lr03, declare the model", cwd=repo)
    out = subprocess.run(
        [sys.executable, "-m", "bale", "model", "register", "model"],
        cwd=repo,
        env=ENV,
        capture_output=True,
        text=True,
    )
    if out.returncode == 0 or "not on remote" not in out.stderr:
        raise SystemExit(f"demo failed: an unpushed model was registered: {out.stderr}")
    print(f"  refused, as it should be: {out.stderr.strip()}")
    sh("bale", "push", cwd=repo)
    sh("bale", "model", "register", "model", cwd=repo)
    sh("bale", "model", "assign", "model", "prod", "--version", "v0.0.1", cwd=repo)
    print(sh("bale", "model", "show", cwd=repo).rstrip())
    if shutil.which("gto"):
        shown = json.loads(sh("gto", "show", "--json", cwd=repo))
        if shown["model"]["stage"].get("prod") != "v0.0.1":
            raise SystemExit(f"demo failed: gto does not read bale's registry: {shown}")
        print("  verified: gto show reads v0.0.1 in prod")
    print(sh("bale", "model", "show", "model#prod", "--lineage", cwd=repo).rstrip())


READ_BACK = """\
import sys
import mlflow
uri, exp, run_id, dest = sys.argv[1:]
run = mlflow.MlflowClient(uri).get_run(run_id)
data = next(d for d in run.inputs.dataset_inputs if d.dataset.name == "data")
print(mlflow.data.get_source(data.dataset).load(dest))
"""


def mlflow_demo(repo: Path, work: Path, want: str) -> None:
    """The experiments exported to a local MLflow store; the training data
    read back through the MLflow run's dataset source; the run's lineage."""
    uri = f"sqlite:///{work / 'mlflow.db'}"
    make = (
        "import sys, mlflow; mlflow.MlflowClient(sys.argv[1])"
        ".create_experiment('demo', artifact_location=sys.argv[2])"
    )
    sh(sys.executable, "-c", make, uri, (work / "mlartifacts").as_uri(), cwd=work)
    export = ["bale", "exp", "export", "--mlflow", "--tracking-uri", uri, "--experiment", "demo"]
    runs = json.loads(sh(*export, "--json", cwd=repo))
    again = json.loads(sh(*export, "--json", cwd=repo))
    if [r["status"] for r in again.values()] != ["unchanged"] * len(runs):
        raise SystemExit(f"demo failed: a second export was not a no-op: {again}")
    run_id = runs["lr03"]["run_id"]
    print(f"  experiment lr03 is MLflow run {run_id}; exported again: unchanged")
    dest = work / "from-mlflow"
    got = sh(sys.executable, "-c", READ_BACK, uri, "demo", run_id, str(dest), cwd=work).strip()
    if digest_tree(Path(got)) != want:
        raise SystemExit("demo failed: the data read back through MLflow differs")
    print("  verified: the run's training data, loaded through MLflow, is the original")
    print(sh("bale", "lineage", "--mlflow", run_id, "--tracking-uri", uri, cwd=repo).rstrip())


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

        print("\n9. The model registry: lr03's model committed, registered, promoted to prod")
        registry_demo(repo)

        print("\n10. MLflow: experiments exported as runs, the data read back from a run")
        mlflow_demo(repo, work, want)
        print("\ndemo passed")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
