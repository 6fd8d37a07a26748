"""Pipelines against dvc 3.67.1: the same dvc.yaml reproduced by both tools
gives byte-identical dvc.lock files, each tool sees the other's results as
up to date, and the run cache is shared."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.interop.conftest import copy_repo

Sh = Any

PREP = """\
import os, sys, yaml
n = yaml.safe_load(open("params.yaml"))["prepare"]["n"]
os.makedirs("out/prep", exist_ok=True)
src = open("data/raw.txt").read()
for i in range(n):
    open(f"out/prep/part{i}.txt", "w").write(src * (i + 1))
"""
TRAIN = """\
import json, os, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
parts = sorted(os.listdir("out/prep"))
size = sum(len(open(os.path.join("out/prep", f)).read()) for f in parts)
open("model.bin", "wb").write(bytes([size % 256]) * 16)
loss = round(1 / (1 + size * p["lr"]), 4)
json.dump({"loss": loss, "epochs": p["epochs"]}, open("metrics.json", "w"))
open("loss.csv", "w").write("step,loss\\n0,1.0\\n1,0.5\\n")
"""
PARAMS = "prepare:\n  n: 3\ntrain:\n  lr: 0.1\n  epochs: 2\n"


def _project(root: Path) -> None:
    (root / "src").mkdir()
    (root / "data").mkdir()
    (root / "src/prep.py").write_text(PREP)
    (root / "src/train.py").write_text(TRAIN)
    (root / "data/raw.txt").write_text("abc\n")
    (root / "params.yaml").write_text(PARAMS)


def _stages(sh: Sh, root: Path, tool: str) -> None:
    run = sh.dvc if tool == "dvc" else sh.bale
    run(
        "stage",
        "add",
        "-n",
        "prepare",
        "-p",
        "prepare.n",
        "-d",
        "src/prep.py",
        "-d",
        "data/raw.txt",
        "-o",
        "out/prep",
        "python src/prep.py",
        cwd=root,
    )
    run(
        "stage",
        "add",
        "-n",
        "train",
        "-p",
        "train.lr,train.epochs",
        "-d",
        "src/train.py",
        "-d",
        "out/prep",
        "-o",
        "model.bin",
        "-M",
        "metrics.json",
        "--plots-no-cache",
        "loss.csv",
        "python src/train.py",
        cwd=root,
    )


@pytest.fixture(scope="module")
def twins(
    sh: Sh, dvc_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """The same project with stages added by dvc (left) and by bale (right)."""
    base = tmp_path_factory.mktemp("pipes")
    a = copy_repo(dvc_template, base / "a")
    b = copy_repo(dvc_template, base / "b")
    for root, tool in ((a, "dvc"), (b, "bale")):
        _project(root)
        _stages(sh, root, tool)
    return a, b


def test_stage_add_writes_what_dvc_writes(twins: tuple[Path, Path]) -> None:
    a, b = twins
    assert (b / "dvc.yaml").read_bytes() == (a / "dvc.yaml").read_bytes()
    # dvc ignores outputs whose directory exists already; out/ comes at repro
    assert (b / ".gitignore").read_bytes() == (a / ".gitignore").read_bytes() == b"/model.bin\n"
    assert not (b / "out").exists()


def test_repro_lock_is_byte_identical_and_each_sees_the_other_clean(
    sh: Sh, twins: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = twins
    a = copy_repo(a, tmp_path / "a")
    b = copy_repo(b, tmp_path / "b")
    sh.dvc("repro", cwd=a)
    sh.bale("repro", cwd=b)
    assert (b / "dvc.lock").read_bytes() == (a / "dvc.lock").read_bytes()
    assert (b / "out/.gitignore").read_bytes() == (a / "out/.gitignore").read_bytes()
    # each tool's result is up to date for the other
    assert json.loads(sh.dvc("status", "--json", cwd=b).stdout) == {}
    assert json.loads(sh.bale("status", "--json", cwd=a).stdout) == {}
    out = sh.bale("repro", cwd=a).stdout
    assert "didn't change" in out and "Running" not in out
    # changed params: bale's new lock is what dvc writes, and dvc agrees it is clean
    for root in (a, b):
        (root / "params.yaml").write_text(PARAMS.replace("lr: 0.1", "lr: 0.01"))
    st = json.loads(sh.bale("status", "--json", cwd=b).stdout)
    assert st == {"train": [{"changed deps": {"params.yaml": {"train.lr": "modified"}}}]}
    assert st == json.loads(sh.dvc("status", "--json", cwd=a).stdout)
    sh.dvc("repro", cwd=a)
    out = sh.bale("repro", cwd=b).stdout
    assert "Stage 'prepare' didn't change" in out
    assert (b / "dvc.lock").read_bytes() == (a / "dvc.lock").read_bytes()
    assert json.loads(sh.dvc("status", "--json", cwd=b).stdout) == {}
    # dvc's checkout reads what bale cached
    (b / "model.bin").unlink()
    sh.dvc("checkout", cwd=b)
    assert (b / "model.bin").read_bytes() == (a / "model.bin").read_bytes()


def test_run_cache_is_shared_with_dvc(sh: Sh, twins: tuple[Path, Path], tmp_path: Path) -> None:
    a, _b = twins
    a = copy_repo(a, tmp_path / "a")
    sh.dvc("repro", cwd=a)  # dvc records lr 0.1 in the run cache
    (a / "params.yaml").write_text(PARAMS.replace("lr: 0.1", "lr: 0.5"))
    sh.bale("repro", cwd=a)  # bale records lr 0.5
    runs = sorted(p.relative_to(a) for p in (a / ".dvc/cache/runs").rglob("*") if p.is_file())
    assert len(runs) == 3  # prepare, train@0.1 (dvc), train@0.5 (bale)
    model_05 = (a / "model.bin").read_bytes()
    (a / "params.yaml").write_text(PARAMS)
    out = sh.bale("repro", cwd=a).stdout
    assert "Stage 'train' is cached - skipping run" in out
    assert json.loads(sh.dvc("status", "--json", cwd=a).stdout) == {}
    (a / "params.yaml").write_text(PARAMS.replace("lr: 0.1", "lr: 0.5"))
    out = sh.dvc("repro", cwd=a).stdout
    assert "is cached" in out  # dvc restores what bale ran
    assert (a / "model.bin").read_bytes() == model_05


def test_failed_command_records_nothing(sh: Sh, dvc_repo: Path) -> None:
    (dvc_repo / "in.txt").write_text("x\n")
    sh.bale(
        "stage",
        "add",
        "-n",
        "bad",
        "-d",
        "in.txt",
        "-o",
        "out.txt",
        "echo partial > out.txt; exit 3",
        cwd=dvc_repo,
    )
    p = sh.bale("repro", cwd=dvc_repo, check=False)
    assert p.returncode == 1
    assert p.stderr.strip().splitlines()[-1] == (
        "ERROR: failed to reproduce 'bad': command 'echo partial > out.txt; exit 3' exited with 3"
    )
    assert not (dvc_repo / "dvc.lock").exists()
    assert not (dvc_repo / ".dvc/cache/files").exists()


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "stages:\n  a:\n    cmd: x\n    outs: [o]\n    deps: [p]\n"
            "  b:\n    cmd: y\n    outs: [p]\n    deps: [o]\n",
            "pipeline has a cycle",
        ),
        (
            "stages:\n  a:\n    cmd: x\n    outs: [o]\n  b:\n    cmd: y\n    outs: [o]\n",
            "output 'o' is produced by both 'a' and 'b'",
        ),
        (
            "stages:\n  a:\n    cmd: x\n    outs: [o]\n  b:\n    cmd: y\n    outs: [o/p]\n",
            "output 'o/p' of 'b' is inside the output 'o' of 'a'",
        ),
        (
            "stages:\n  a:\n    cmd: x\n    outz: [o]\n",
            "dvc.yaml: line 4, column 5: stages.a.outz: unknown key 'outz'",
        ),
        ("stages:\n  a:\n    cmd: [x\n", "dvc.yaml: line 4, column 1:"),
    ],
)
def test_bad_pipelines_give_one_line(sh: Sh, dvc_repo: Path, yaml_text: str, message: str) -> None:
    (dvc_repo / "dvc.yaml").write_text(yaml_text)
    p = sh.bale("repro", cwd=dvc_repo, check=False)
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], p.stderr


def test_missing_dependency(sh: Sh, dvc_repo: Path) -> None:
    sh.bale("stage", "add", "-n", "s", "-d", "nope.txt", "-o", "o", "touch o", cwd=dvc_repo)
    p = sh.bale("repro", cwd=dvc_repo, check=False)
    assert p.returncode == 1
    assert "dependency 'nope.txt' does not exist" in p.stderr


def test_parallel_repro_and_dag(sh: Sh, dvc_repo: Path) -> None:
    (dvc_repo / "dvc.yaml").write_text(
        "stages:\n"
        + "".join(
            f"  s{i}:\n    cmd: sleep 0.3 && echo {i} > o{i}\n    outs: [o{i}]\n" for i in range(4)
        )
        + "  join:\n    cmd: cat o0 o1 o2 o3 > all\n    deps: [o0, o1, o2, o3]\n    outs: [all]\n"
    )
    sh.bale("repro", "-j", "4", cwd=dvc_repo)
    assert (dvc_repo / "all").read_text() == "0\n1\n2\n3\n"
    assert json.loads(sh.dvc("status", "--json", cwd=dvc_repo).stdout) == {}
    dot = sh.bale("dag", "--dot", cwd=dvc_repo).stdout
    assert '"s0" -> "join";' in dot
    listed = sh.bale("stage", "list", "--name-only", cwd=dvc_repo).stdout.split()
    assert listed == ["s0", "s1", "s2", "s3", "join"]


def test_stage_outputs_checkout_push_pull_and_gc(
    sh: Sh, twins: tuple[Path, Path], tmp_path: Path
) -> None:
    _a, b = twins
    b = copy_repo(b, tmp_path / "b")
    sh.bale("repro", cwd=b)
    sh.git("add", "-A", cwd=b)
    sh.git("commit", "-qm", "v1", cwd=b)
    model_v1 = (b / "model.bin").read_bytes()
    # checkout restores a deleted stage output from the cache
    (b / "model.bin").unlink()
    shutil.rmtree(b / "out/prep")
    sh.bale("checkout", cwd=b)
    assert (b / "model.bin").read_bytes() == model_v1
    assert json.loads(sh.bale("status", "--json", cwd=b).stdout) == {}
    # a second version; gc -w drops v1's model, gc -A keeps it
    (b / "params.yaml").write_text(PARAMS.replace("n: 3", "n: 4"))
    sh.bale("repro", cwd=b)
    sh.git("commit", "-qam", "v2", cwd=b)
    old = b / ".dvc/cache/files/md5" / _lock_md5(b, "train", "model.bin", rev="HEAD~1")
    assert old.exists()
    sh.bale("gc", "-A", "-f", cwd=b)
    assert old.exists()
    sh.bale("gc", "-w", "-f", cwd=b)
    assert not old.exists()
    # push the workspace's stage outputs; dvc pulls them into a clone
    remote = tmp_path / "remote"
    sh.bale("remote", "add", "-d", "store", str(remote), cwd=b)
    sh.bale("push", cwd=b)
    sh.git("commit", "-qam", "remote", cwd=b)
    clone = tmp_path / "clone"
    sh.git("clone", "-q", str(b), str(clone), cwd=tmp_path)
    sh.dvc("pull", cwd=clone)
    assert (clone / "model.bin").read_bytes() == (b / "model.bin").read_bytes()
    assert json.loads(sh.bale("status", "--json", cwd=clone).stdout) == {}


def _lock_md5(root: Path, stage: str, out: str, rev: str) -> str:
    import subprocess

    import yaml

    text = subprocess.run(
        ["git", "show", f"{rev}:dvc.lock"], cwd=root, capture_output=True, check=True
    ).stdout
    entry = yaml.safe_load(text)["stages"][stage]
    md5 = next(o["md5"] for o in entry["outs"] if o["path"] == out)
    return f"{md5[:2]}/{md5[2:]}"


def test_commit_records_a_stage_without_running_it(sh: Sh, dvc_repo: Path) -> None:
    (dvc_repo / "in.txt").write_text("1\n")
    sh.bale(
        "stage", "add", "-n", "s", "-d", "in.txt", "-o", "o.txt", "cp in.txt o.txt", cwd=dvc_repo
    )
    sh.bale("repro", cwd=dvc_repo)
    (dvc_repo / "o.txt").unlink()
    (dvc_repo / "o.txt").write_text("hand-made\n")
    st = json.loads(sh.bale("status", "--json", cwd=dvc_repo).stdout)
    assert st == {"s": [{"changed outs": {"o.txt": "modified"}}]}
    sh.bale("commit", "s", cwd=dvc_repo)
    assert json.loads(sh.dvc("status", "--json", cwd=dvc_repo).stdout) == {}
    assert (dvc_repo / "o.txt").read_text() == "hand-made\n"


def test_templated_stages_expand_like_dvc(sh: Sh, dvc_repo: Path) -> None:
    (dvc_repo / "params.yaml").write_text("sizes: {small: 10, big: 1000}\nopt: adam\n")
    (dvc_repo / "dvc.yaml").write_text(
        "stages:\n"
        "  gen:\n"
        "    foreach: ${sizes}\n"
        "    do:\n"
        "      cmd: echo ${item} > results/${key}.txt\n"
        "      outs:\n"
        "      - results/${key}.txt\n"
        "  grid:\n"
        "    matrix:\n"
        "      lr: [0.1, 0.01]\n"
        "      opt: [adam, sgd]\n"
        "    cmd: echo ${item.lr} > grid_${item.opt}_${item.lr}.txt\n"
        "    outs:\n"
        "    - grid_${item.opt}_${item.lr}.txt\n"
        "  named:\n"
        "    cmd: echo ${opt}\n"
    )
    ours = sh.bale("stage", "list", cwd=dvc_repo).stdout
    theirs = sh.dvc("stage", "list", cwd=dvc_repo).stdout
    assert ours.split() == theirs.split()
    (dvc_repo / "results").mkdir()
    sh.bale("repro", cwd=dvc_repo)
    assert (dvc_repo / "results/big.txt").read_text() == "1000\n"
    # a stage that reads nothing is always changed, for both tools
    expected = {"named": ["always changed"]}
    assert json.loads(sh.dvc("status", "--json", cwd=dvc_repo).stdout) == expected
    assert json.loads(sh.bale("status", "--json", cwd=dvc_repo).stdout) == expected


def test_lineage_answers_where_a_model_came_from(
    sh: Sh, twins: tuple[Path, Path], tmp_path: Path
) -> None:
    _a, b = twins
    b = copy_repo(b, tmp_path / "b")
    sh.bale("add", "data/raw.txt", cwd=b)
    sh.bale("remote", "add", "-d", "store", str(tmp_path / "remote"), cwd=b)
    sh.bale("repro", cwd=b)
    sh.git("add", "-A", cwd=b)
    sh.git("commit", "-qm", "trained", cwd=b)
    got = json.loads(sh.bale("lineage", "model.bin", "--json", cwd=b).stdout)
    lock = yaml_load(b / "dvc.lock")["stages"]
    assert got["path"] == "model.bin"
    assert got["md5"] == next(o["md5"] for o in lock["train"]["outs"] if o["path"] == "model.bin")
    train = got["produced_by"]
    assert train["stage"] == "train" and train["cmd"] == "python src/train.py"
    assert train["params"] == {"params.yaml": {"train.epochs": 2, "train.lr": 0.1}}
    assert train["commit"]["subject"] == "trained" and train["up_to_date"]
    assert set(train["metrics"]["metrics.json"]) == {"loss", "epochs"}
    prep_in = next(i for i in train["inputs"] if i["path"] == "out/prep")
    assert prep_in["produced_by"] == "prepare" and prep_in["in_cache"]
    assert [u["stage"] for u in got["upstream"]] == ["prepare"]
    raw = next(i for i in got["upstream"][0]["inputs"] if i["path"] == "data/raw.txt")
    assert raw["tracked_by"] == "data/raw.txt.dvc" and raw["remote"]["name"] == "store"
    assert got["up_to_date"]
    # a changed input shows up as not up to date, with dvc's words for it
    (b / "data/raw.txt").write_text("changed\n")
    got = json.loads(sh.bale("lineage", "model.bin", "--json", cwd=b).stdout)
    assert not got["up_to_date"]
    assert got["upstream"][0]["changes"] == [{"changed deps": {"data/raw.txt": "modified"}}]
    text = sh.bale("lineage", "model.bin", cwd=b).stdout
    assert "produced by stage 'train'" in text and "upstream stage 'prepare'" in text


def yaml_load(path: Path) -> Any:
    import yaml

    return yaml.safe_load(path.read_text())


def test_review_findings_stay_fixed(sh: Sh, dvc_repo: Path) -> None:
    """A dep inside its own stage's output is refused before anything is
    deleted; -f forces the whole plan; a missing dep fails before the command
    runs; `add` refuses a stage output; parallel runs keep every .gitignore line."""
    (dvc_repo / "src").mkdir()
    (dvc_repo / "src/a.py").write_text("edit\n")
    (dvc_repo / "dvc.yaml").write_text(
        "stages:\n  x:\n    cmd: echo hi\n    deps: [src/a.py]\n    outs: [src]\n"
    )
    p = sh.bale("repro", cwd=dvc_repo, check=False)
    assert p.returncode == 1 and "also its output" in p.stderr
    assert (dvc_repo / "src/a.py").read_text() == "edit\n"
    # -f runs upstream stages too, as dvc's does
    (dvc_repo / "in.txt").write_text("1\n")
    (dvc_repo / "dvc.yaml").write_text(
        "stages:\n"
        "  a:\n    cmd: cp in.txt a.txt\n    deps: [in.txt]\n    outs: [a.txt]\n"
        "  b:\n    cmd: cp a.txt b.txt\n    deps: [a.txt]\n    outs: [b.txt]\n"
        "  c:\n    cmd: touch ran-c && cp in.txt c.txt\n    deps: [nope.txt]\n    outs: [c.txt]\n"
    )
    sh.bale("repro", "b", cwd=dvc_repo)
    out = sh.bale("repro", "-f", "b", cwd=dvc_repo).stdout
    assert "Running stage 'a'" in out and "Running stage 'b'" in out
    p = sh.bale("repro", "c", cwd=dvc_repo, check=False)
    assert "dependency 'nope.txt' does not exist" in p.stderr
    assert not (dvc_repo / "ran-c").exists()
    p = sh.bale("add", "b.txt", cwd=dvc_repo, check=False)
    assert p.returncode == 1 and "output 'b.txt' of stage 'b'" in p.stderr
    # sixteen stages writing one .gitignore at once
    (dvc_repo / "dvc.yaml").write_text(
        "stages:\n"
        + "".join(
            f"  s{i}:\n    cmd: echo {i} > o{i}.txt\n    deps: [in.txt]\n    outs: [o{i}.txt]\n"
            for i in range(16)
        )
    )
    sh.bale("repro", "-j", "8", cwd=dvc_repo)
    lines = set((dvc_repo / ".gitignore").read_text().split())
    assert {f"/o{i}.txt" for i in range(16)} <= lines


@pytest.mark.parametrize("pusher", ["bale", "dvc"])
def test_run_cache_travels_through_a_remote(
    sh: Sh, twins: tuple[Path, Path], tmp_path: Path, pusher: str
) -> None:
    """`push --run-cache` and `pull --run-cache` agree with dvc's layout: a
    clone that never ran the pipeline restores it from the remote's run cache."""
    _a, b = twins
    b = copy_repo(b, tmp_path / "b")
    remote = tmp_path / "remote"
    sh.bale("remote", "add", "-d", "store", str(remote), cwd=b)
    sh.bale("repro", cwd=b)
    push = sh.bale if pusher == "bale" else sh.dvc
    push("push", "--run-cache", cwd=b)
    assert len([p for p in (remote / "runs").rglob("*") if p.is_file()]) == 2
    sh.git("add", "-A", cwd=b)
    sh.git("commit", "-qm", "ran", cwd=b)
    clone = tmp_path / "clone"
    sh.git("clone", "-q", str(b), str(clone), cwd=tmp_path)
    (clone / "dvc.lock").unlink()  # nothing recorded: only the run cache can help
    sh.bale("pull", "--run-cache", cwd=clone, check=False)
    out = sh.bale("repro", cwd=clone).stdout
    assert "Stage 'prepare' is cached - skipping run" in out
    if pusher == "bale":
        # bale also sends the uncached metrics and plots a run-cache entry
        # needs; dvc does not, so with dvc's push train runs again
        assert "Running stage" not in out
    assert (clone / "model.bin").read_bytes() == (b / "model.bin").read_bytes()
    # an entry whose content does not match its name is refused
    entry = next(p for p in (remote / "runs").rglob("*") if p.is_file())
    entry.write_text(entry.read_text().replace("python", "pithon"))
    shutil.rmtree(clone / ".dvc/cache/runs")
    p = sh.bale("fetch", "--run-cache", cwd=clone, check=False)
    assert p.returncode == 1 and "not what its name says" in p.stderr


def test_run_cache_hits_across_branches(sh: Sh, twins: tuple[Path, Path], tmp_path: Path) -> None:
    _a, b = twins
    b = copy_repo(b, tmp_path / "b")
    sh.bale("repro", cwd=b)
    sh.git("add", "-A", cwd=b)
    sh.git("commit", "-qm", "lr 0.1", cwd=b)
    sh.git("checkout", "-qb", "try-lr", cwd=b)
    (b / "params.yaml").write_text(PARAMS.replace("lr: 0.1", "lr: 0.7"))
    sh.bale("repro", cwd=b)
    sh.git("commit", "-qam", "lr 0.7", cwd=b)
    model = (b / "model.bin").read_bytes()
    sh.git("checkout", "-q", "-", cwd=b)
    sh.bale("checkout", cwd=b)
    assert json.loads(sh.bale("status", "--json", cwd=b).stdout) == {}
    # on the other branch, the same params again: nothing runs
    (b / "params.yaml").write_text(PARAMS.replace("lr: 0.1", "lr: 0.7"))
    out = sh.bale("repro", cwd=b).stdout
    assert "Stage 'train' is cached - skipping run" in out and "Running" not in out
    assert (b / "model.bin").read_bytes() == model
    assert (b / "dvc.lock").read_bytes() == sh.git("show", "try-lr:dvc.lock", cwd=b).stdout.encode()


def test_outputs_outside_the_workspace_are_refused_before_anything_is_deleted(
    sh: Sh, dvc_repo: Path, tmp_path: Path
) -> None:
    outside = dvc_repo.parent / "keep.txt"
    outside.write_text("mine\n")
    (dvc_repo / "in.txt").write_text("1\n")
    (dvc_repo / "dvc.yaml").write_text(
        "stages:\n  s:\n    cmd: cp in.txt ../keep.txt\n"
        "    deps: [in.txt]\n    outs: [../keep.txt]\n"
    )
    p = sh.bale("repro", cwd=dvc_repo, check=False)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 1 and len(lines) == 1 and "outside the repository" in lines[0]
    assert outside.read_text() == "mine\n"
