"""``bale lineage --rev``: the lineage of an output as a git revision records
it, read from git and the cache without checking the revision out.

One history, built once by bale itself: a ``.dvc``-tracked raw dataset and
prepare -> train -> evaluate stages, re-run as params and data change, one
commit each; a branch whose ``dvc.lock`` was edited by hand; an experiment.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bale.exceptions import BaleError
from bale.ops.lineage import lineage, lineage_at
from bale.repo import Repo
from tests.integration.conftest import GIT_ENV, write_tree

PREPARE = """\
import os, yaml
p = yaml.safe_load(open("params.yaml"))["prepare"]
rows = open("data/raw.csv").read().splitlines()
n = int(len(rows) * p["split"])
os.makedirs("data/prepared", exist_ok=True)
open("data/prepared/train.csv", "w").write("\\n".join(rows[:n]) + "\\n")
open("data/prepared/test.csv", "w").write("\\n".join(rows[n:]) + "\\n")
"""
TRAIN = """\
import json, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
rows = open("data/prepared/train.csv").read().splitlines()
open("model.bin", "w").write(f"model lr={p['lr']} epochs={p['epochs']} rows={len(rows)}\\n")
json.dump({"loss": round(1 / (1 + p["lr"] * p["epochs"]), 4)}, open("train_metrics.json", "w"))
"""
EVALUATE = """\
import json
model = open("model.bin").read()
rows = open("data/prepared/test.csv").read().splitlines()
json.dump({"acc": round(len(model) / 100, 3), "n": len(rows)}, open("metrics.json", "w"))
"""
# train's metrics are cached (read from the cache at a revision), evaluate's
# are kept in git; evaluate depends on a file inside prepare's directory output.
DVC_YAML = """\
stages:
  prepare:
    cmd: python src/prepare.py
    deps:
    - data/raw.csv
    - src/prepare.py
    params:
    - prepare.split
    outs:
    - data/prepared
  train:
    cmd: python src/train.py
    deps:
    - data/prepared
    - src/train.py
    params:
    - train
    outs:
    - model.bin
    metrics:
    - train_metrics.json
  evaluate:
    cmd: python src/evaluate.py
    deps:
    - model.bin
    - data/prepared/test.csv
    - src/evaluate.py
    metrics:
    - metrics.json:
        cache: false
"""
PARAMS = "prepare:\n  split: 0.5\ntrain:\n  lr: 0.1\n  epochs: 2\n"
OUTPUTS = [
    "data/raw.csv",
    "data/prepared",
    "data/prepared/test.csv",
    "model.bin",
    "train_metrics.json",
    "metrics.json",
]


def _env(base: Path) -> dict[str, str]:
    """No user or system config leaks in; dvc-compatible config dirs of our own."""
    env = {**os.environ, **GIT_ENV, "DVC_NO_ANALYTICS": "1", "CI": "1"}
    for level in ("GLOBAL", "SYSTEM"):
        env[f"DVC_{level}_CONFIG_DIR"] = str(base / f"{level.lower()}-config")
    env["DVC_SITE_CACHE_DIR"] = str(base / "site-cache")
    return env


def _run(env: dict[str, str], cwd: Path, *args: str, ok: bool = True) -> str:
    cmd = [sys.executable, "-m", "bale", *args[1:]] if args[0] == "bale" else list(args)
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if ok and p.returncode != 0:
        raise AssertionError(f"{args} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    if not ok and p.returncode == 0:
        raise AssertionError(f"{args} should have failed:\n{p.stdout}")
    return p.stdout if ok else p.stderr


@dataclass
class History:
    root: Path
    env: dict[str, str]
    commits: list[str]  # oldest first; the last is HEAD (main)
    broken_params: str  # params.yaml edited and committed without a run
    broken_lock: str  # dvc.lock's dep hashes edited by hand on top of it

    def run(self, *args: str, cwd: Path | None = None, ok: bool = True) -> str:
        return _run(self.env, cwd or self.root, *args, ok=ok)

    def git(self, *args: str, cwd: Path | None = None) -> str:
        return self.run("git", *args, cwd=cwd).strip()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    base = tmp_path_factory.mktemp("lineage-rev")
    env = _env(base)
    root = base / "repo"
    root.mkdir()
    h = History(root, env, [], "", "")
    h.git("init", "-q", "-b", "main")
    h.run("bale", "init", "-q")
    h.run("bale", "remote", "add", "-d", "store", str(base / "remote"))
    write_tree(
        root,
        {
            "data/raw.csv": "a,1\nb,2\nc,3\nd,4\n",
            "params.yaml": PARAMS,
            "src/prepare.py": PREPARE,
            "src/train.py": TRAIN,
            "src/evaluate.py": EVALUATE,
            "dvc.yaml": DVC_YAML,
        },
    )

    def run_and_commit(message: str) -> None:
        h.run("bale", "repro", "-q")
        h.run("bale", "push", "-q")
        h.git("add", "-A")
        h.git("commit", "-qm", message)
        h.commits.append(h.git("rev-parse", "HEAD"))

    h.run("bale", "add", "-q", "data/raw.csv")
    run_and_commit("first run")
    (root / "params.yaml").write_text(PARAMS.replace("lr: 0.1", "lr: 0.3"))
    run_and_commit("lr 0.3")
    h.git("tag", "model@v1.2.0")
    write_tree(root, {"data/raw.csv": "a,1\nb,2\nc,3\nd,4\ne,5\nf,6\n", "data/labels.csv": "x\n"})
    h.run("bale", "add", "-q", "data/raw.csv", "data/labels.csv")
    later = PARAMS.replace("lr: 0.1", "lr: 0.3").replace("epochs: 2", "epochs: 3")
    (root / "params.yaml").write_text(later)
    run_and_commit("more data, labels, 3 epochs")
    # an experiment, then the workspace as HEAD has it again
    h.run("bale", "exp", "run", "-q", "-n", "lr09", "-S", "train.lr=0.9")
    h.git("reset", "-q", "--hard")
    h.run("bale", "checkout", "-q", "--force")
    # a branch whose records disagree: params changed and committed without
    # a run, then dep hashes edited by hand in dvc.lock
    h.git("checkout", "-q", "-b", "broken")
    params = (root / "params.yaml").read_text()
    (root / "params.yaml").write_text(params.replace("lr: 0.3", "lr: 0.7"))
    h.git("commit", "-qam", "params without a run")
    h.broken_params = h.git("rev-parse", "HEAD")
    lock = (root / "dvc.lock").read_text()
    test_md5 = _lock_dep(lock, "evaluate", "data/prepared/test.csv")
    (root / "dvc.lock").write_text(lock.replace(test_md5, "0" * 32))
    h.git("commit", "-qam", "lock edited by hand")
    h.broken_lock = h.git("rev-parse", "HEAD")
    h.git("checkout", "-q", "main")
    assert "up to date" in h.run("bale", "status")
    return h


def _lock_dep(lock_text: str, stage: str, path: str) -> str:
    import yaml

    entry = yaml.safe_load(lock_text)["stages"][stage]
    return str(next(d["md5"] for d in entry["deps"] if d["path"] == path))


@pytest.fixture
def at_root(history: History, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """The repository, opened in-process from its root (dvc's words for
    changes name paths from the current directory), with the fixture's
    config isolation."""
    for key in ("DVC_GLOBAL_CONFIG_DIR", "DVC_SYSTEM_CONFIG_DIR", "DVC_SITE_CACHE_DIR"):
        monkeypatch.setenv(key, history.env[key])
    monkeypatch.chdir(history.root)
    return Repo(history.root)


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _snapshot(h: History) -> dict[str, Any]:
    """Every file of the working tree with its bytes and mtime, and HEAD.
    Left out: ``.git`` (git's own store, read through ``git cat-file``) and
    bale's parse memo (parsed metafiles by content, which any command that
    reads a new metafile extends, the workspace lineage too). The cache and
    the stat cache are in."""
    files = {}
    for p in sorted(h.root.rglob("*")):
        rel = p.relative_to(h.root).as_posix()
        if rel.split("/")[0] == ".git" or rel == ".dvc/tmp/bale/parsed.json" or not p.is_file():
            continue
        files[rel] = (p.read_bytes(), p.stat().st_mtime_ns)
    head = (h.git("rev-parse", "HEAD"), h.git("symbolic-ref", "HEAD"))
    return {"files": files, "head": head, "status": h.git("status", "--porcelain")}


def test_each_old_commit_reads_as_its_checkout_does(history: History, at_root: Repo) -> None:
    """For each commit C and each output: ``lineage(rev=C)`` equals the
    workspace lineage of a clone checked out at C with its data pulled.

    Left out of the comparison, being about one side by nature:
    - ``rev``: names the revision read; a workspace answer has none.
    Everything else is compared, ``up_to_date``/``changes`` included: at a
    fresh checkout of a commit whose records agree, the workspace matches
    its locks exactly when the commit's locks agree with each other, so
    both say up to date. ``in_cache`` is compared too: the clone's cache is
    what it pulled of C, which holds every object C records, as the
    original's cache (which ran every commit) does. The commits' ``remote``
    is the absolute path both configs name.
    """
    clone = history.root.parent / "clone"
    history.git("clone", "-q", str(history.root), str(clone), cwd=history.root.parent)
    for commit in history.commits[:-1]:
        history.git("checkout", "-q", commit, cwd=clone)
        history.run("bale", "pull", "-q", cwd=clone)
        for out in OUTPUTS:
            there = json.loads(history.run("bale", "lineage", out, "--json", cwd=clone))
            here = _json(lineage(at_root, history.root / out, rev=commit).to_json())
            assert here.pop("rev") == {"name": commit, "commit": commit}
            assert here == there, (commit[:7], out)
            assert there["up_to_date"]


def test_what_a_revision_records(history: History, at_root: Repo) -> None:
    first, tagged, last = history.commits
    old = lineage(at_root, "model.bin", rev="model@v1.2.0")
    assert old.rev == {"name": "model@v1.2.0", "commit": tagged}
    assert old.produced_by is not None
    assert old.produced_by.params == {"params.yaml": {"train": {"lr": 0.3, "epochs": 2}}}
    assert old.produced_by.commit is not None and old.produced_by.commit["commit"] == tagged
    # train's metrics are cached: read from the cache, as that commit's lock records them
    assert old.produced_by.metrics == {"train_metrics.json": {"loss": 0.625}}
    prepare = next(u for u in old.upstream if u.stage == "prepare")
    # the commit that last changed prepare's dvc.lock (as in the workspace:
    # the file's, not the entry's), at or before the tag, not HEAD's
    assert prepare.commit is not None and prepare.commit["commit"] == tagged
    raw = next(i for i in prepare.inputs if i.path == "data/raw.csv")
    assert raw.tracked_by == "data/raw.csv.dvc" and raw.remote is not None
    assert old.up_to_date
    # the core, as the model registry calls it: a commit and a repository path
    assert lineage_at(at_root, tagged, "model.bin", "model@v1.2.0") == old
    # a stage names its first output there too
    assert lineage(at_root, "train", rev="model@v1.2.0") == old
    # a commit id and an experiment name are revisions too
    assert lineage(at_root, "model.bin", rev=first[:10]).md5 != old.md5
    exp = lineage(at_root, "model.bin", rev="lr09")
    assert exp.produced_by is not None and exp.up_to_date
    assert exp.produced_by.params["params.yaml"]["train"]["lr"] == 0.9
    # the workspace answer is unchanged: no rev, HEAD's records
    now = lineage(at_root, "model.bin")
    assert now.rev is None and "rev" not in now.to_json()
    assert now.commit is not None and now.commit["commit"] == last


def test_the_workspace_and_head_are_untouched(history: History, at_root: Repo) -> None:
    before = _snapshot(history)
    for rev in [*history.commits, "model@v1.2.0", "lr09", history.broken_lock]:
        for out in OUTPUTS:
            lineage(at_root, out, rev=rev)
    history.run("bale", "lineage", "--rev", "model@v1.2.0", "metrics.json")
    assert _snapshot(history) == before


def test_inconsistent_records_are_not_up_to_date(history: History, at_root: Repo) -> None:
    # params.yaml says lr 0.7, train's lock entry 0.3
    got = lineage(at_root, "model.bin", rev=history.broken_params)
    assert got.produced_by is not None and not got.up_to_date
    assert got.produced_by.changes == [{"changed deps": {"params.yaml": {"train": "modified"}}}]
    # and evaluate's lock says test.csv was 000..., which prepare's output does not hold
    got = lineage(at_root, "metrics.json", rev=history.broken_lock)
    assert got.produced_by is not None and not got.up_to_date
    assert got.produced_by.changes == [{"changed deps": {"data/prepared/test.csv": "modified"}}]
    assert [(u.stage, u.up_to_date) for u in got.upstream] == [
        ("prepare", True),
        ("train", False),
    ]
    # the workspace (main) is consistent
    assert lineage(at_root, "metrics.json").up_to_date


def test_bad_revision_or_path(history: History, at_root: Repo) -> None:
    with pytest.raises(BaleError, match=r"^model\.bin: unknown git revision or experiment 'nope'$"):
        lineage(at_root, "model.bin", rev="nope")
    first = history.commits[0]
    # data/labels.csv came in the last commit
    with pytest.raises(BaleError, match=rf"^data/labels\.csv: .* at {first}$"):
        lineage(at_root, "data/labels.csv", rev=first)
    assert lineage(at_root, "data/labels.csv", rev="main").tracked_by == "data/labels.csv.dvc"
    err = history.run("bale", "lineage", "--rev", "nope", "model.bin", ok=False)
    assert "nope" in err and "model.bin" in err and len(err.strip().splitlines()) == 1


def test_cli_json_and_text(history: History, at_root: Repo) -> None:
    got = json.loads(history.run("bale", "lineage", "--rev", "model@v1.2.0", "model.bin", "--json"))
    assert got == _json(lineage(at_root, "model.bin", rev="model@v1.2.0").to_json())
    text = history.run("bale", "lineage", "--rev", "model@v1.2.0", "model.bin")
    first, *rest = text.splitlines()
    assert re.fullmatch(rf"at model@v1\.2\.0 \({history.commits[1][:8]}\)", first)
    assert rest[0].startswith("model.bin  md5 ")
    assert "produced by stage 'train'" in text and "params:     params.yaml: train=" in text
    assert "up to date: yes" in text
