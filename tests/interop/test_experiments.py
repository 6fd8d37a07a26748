"""Experiments against dvc 3.67.1: bale's experiments are dvc's git refs, so
each tool lists, compares and applies the other's."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from bale.pipeline.lockfile import loads_lock
from tests.interop.conftest import copy_repo
from tests.interop.test_pipelines import PARAMS, TRAIN, _project, _stages

Sh = Any


@pytest.fixture(scope="module")
def baseline(sh: Sh, dvc_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two-stage project, reproduced and committed: the experiments' baseline."""
    root = copy_repo(dvc_template, tmp_path_factory.mktemp("exps") / "repo")
    _project(root)
    _stages(sh, root, "bale")
    sh.bale("repro", cwd=root)
    sh.git("add", "-A", cwd=root)
    sh.git("commit", "-qm", "baseline", cwd=root)
    return root


def _names(rows: list[dict[str, Any]]) -> set[str]:
    """Experiment names in ``dvc exp show --json``'s output."""
    return set(_exps(rows))


def _exps(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each experiment's state in ``exp show --json``'s output, by name."""
    return {e["name"]: e["revs"][0] for row in rows for e in row.get("experiments") or []}


def test_exp_run_is_listed_by_dvc_and_compared(sh: Sh, baseline: Path, tmp_path: Path) -> None:
    root = copy_repo(baseline, tmp_path / "repo")
    sh.bale("exp", "run", "-S", "train.lr=0.5", "-n", "lr05", cwd=root)
    # lineage names the experiment that left the workspace as it is
    got = json.loads(sh.bale("lineage", "model.bin", "--json", cwd=root).stdout)
    assert got["produced_by"]["commit"]["note"].startswith("then run as experiment 'lr05'")
    # the workspace holds the experiment's results, HEAD has not moved
    assert "lr: 0.5" in (root / "params.yaml").read_text()
    assert sh.git("log", "--oneline", cwd=root).stdout.count("\n") == 1
    refs = sh.git("for-each-ref", "--format=%(refname)", "refs/exps", cwd=root).stdout.split()
    head = sh.git("rev-parse", "HEAD", cwd=root).stdout.strip()
    assert refs == [f"refs/exps/{head[:2]}/{head[2:]}/lr05"]
    # dvc lists bale's experiment, with its params
    shown = json.loads(sh.dvc("exp", "show", "--json", cwd=root).stdout)
    assert "lr05" in _names(shown)
    # and bale lists dvc's
    sh.git("checkout", "-q", "--", "params.yaml", cwd=root)
    sh.dvc("exp", "run", "-S", "train.lr=0.2", "-n", "lr02", cwd=root)
    rows = json.loads(sh.bale("exp", "show", "--json", cwd=root).stdout)
    exps = _exps(rows)
    assert set(exps) == {"lr05", "lr02"}
    assert exps["lr05"]["data"]["params"]["params.yaml"]["data"]["train"]["lr"] == 0.5
    assert exps["lr02"]["data"]["params"]["params.yaml"]["data"]["train"]["lr"] == 0.2
    loss = {n: e["data"]["metrics"]["metrics.json"]["data"]["loss"] for n, e in exps.items()}
    assert loss["lr05"] < loss["lr02"]
    table = sh.bale("exp", "show", cwd=root).stdout
    assert "── " in table and "[lr05]" in table and "train.lr" in table and "loss" in table
    csv = sh.bale("exp", "show", "--csv", cwd=root).stdout.splitlines()
    assert csv[0].startswith("Experiment,rev,typ,Created,parent,")
    # diff of an experiment against its baseline
    d = json.loads(sh.bale("exp", "diff", "HEAD", "lr05", "--json", cwd=root).stdout)
    assert d["params"]["params.yaml"]["train.lr"] == {"old": 0.1, "new": 0.5, "diff": 0.4}
    assert "loss" in d["metrics"]["metrics.json"]


def test_queue_run_all_in_parallel_apply_branch_remove(
    sh: Sh, baseline: Path, tmp_path: Path
) -> None:
    root = copy_repo(baseline, tmp_path / "repo")
    for lr in ("0.3", "0.4"):
        sh.bale("exp", "run", "--queue", "-S", f"train.lr={lr}", "-n", f"q{lr[-1]}", cwd=root)
    # queueing leaves the workspace alone
    assert (root / "params.yaml").read_text() == PARAMS
    sh.bale("exp", "run", "--run-all", "-j", "2", cwd=root)
    assert (root / "params.yaml").read_text() == PARAMS
    rows = json.loads(sh.bale("exp", "show", "--json", cwd=root).stdout)
    exps = _exps(rows)
    assert set(exps) == {"q3", "q4"}
    assert exps["q4"]["data"]["params"]["params.yaml"]["data"]["train"]["lr"] == 0.4
    assert "q4" in _names(json.loads(sh.dvc("exp", "show", "--json", cwd=root).stdout))
    assert sh.git("worktree", "list", cwd=root).stdout.count("\n") == 1
    # apply refuses to overwrite uncommitted edits, then puts the results
    # (and their data) into the workspace
    (root / "params.yaml").write_text(PARAMS + "# mine\n")
    p = sh.bale("exp", "apply", "q4", cwd=root, check=False)
    assert p.returncode == 1 and "params.yaml: has uncommitted changes" in p.stderr
    assert (root / "params.yaml").read_text().endswith("# mine\n")
    sh.bale("exp", "apply", "-f", "q4", cwd=root)
    assert "lr: 0.4" in (root / "params.yaml").read_text()
    # The applied metrics are the ones the applied dvc.lock records (checked
    # directly, so that a failure of the status below says which side is wrong).
    lock = loads_lock((root / "dvc.lock").read_text(), "dvc.lock")
    recorded = {o["path"]: o["md5"] for o in lock["train"]["outs"]}
    assert hashlib.md5((root / "metrics.json").read_bytes()).hexdigest() == recorded["metrics.json"]
    assert json.loads(sh.dvc("status", "--json", cwd=root).stdout) == {}
    sh.bale("exp", "branch", "q3", "try-q3", cwd=root)
    assert sh.git("rev-parse", "try-q3", cwd=root).stdout.strip() == exps["q3"]["rev"]
    sh.bale("exp", "remove", "q3", cwd=root)
    rows = json.loads(sh.bale("exp", "show", "--json", cwd=root).stdout)
    assert set(_exps(rows)) == {"q4"}


def test_queued_runs_see_their_name_hide_output_under_q_and_failures_stay_queued(
    sh: Sh, baseline: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bale.ops import exp
    from bale.repo import Repo

    root = copy_repo(baseline, tmp_path / "repo")
    (root / "src/train.py").write_text(
        TRAIN + 'import os, sys\nprint("as", os.environ["BALE_EXP_NAME"])\n'
        'sys.exit(3 if p["lr"] == 0.9 else 0)\n'
    )
    sh.git("commit", "-qam", "names", cwd=root)
    # queued from a subdirectory: the run names its target from the root
    for lr, name in (("0.9", "bad"), ("0.3", "ok")):
        sh.bale("exp", "run", "--queue", "-S", f"../params.yaml:train.lr={lr}", "-n", name,
                "train", cwd=root / "data")  # fmt: skip
    p = sh.bale("exp", "run", "--run-all", cwd=root, check=False)
    assert p.returncode == 1
    assert "as bad\n" in p.stdout and "as ok\n" in p.stdout
    assert "Ran experiment 'ok'" in p.stdout
    assert (
        "queued experiment 'bad' failed at 'repro train': failed to reproduce 'train': "
        "command 'python src/train.py' exited with 3" in p.stdout
    )
    queue = sh.git("for-each-ref", "refs/bale/exp-queue", cwd=root).stdout.splitlines()
    assert len(queue) == 1  # the failed one, to run again
    assert sh.git("worktree", "list", cwd=root).stdout.count("\n") == 1
    # -q: nothing but the failure, the command's own output included
    p = sh.bale("exp", "run", "--run-all", "-q", cwd=root, check=False)
    assert p.returncode == 1 and p.stderr == ""
    assert p.stdout.startswith("FAILED refs/bale/exp-queue/") and p.stdout.count("\n") == 1
    # in-process, the caller's directory is the same after the runs
    monkeypatch.chdir(root / "data")
    result = exp.run_all(Repo(), echo=False)
    assert list(result.failed) == [queue[0].split()[-1]] and os.getcwd() == str(root / "data")


def test_exp_run_rejects_unknown_params(sh: Sh, baseline: Path, tmp_path: Path) -> None:
    root = copy_repo(baseline, tmp_path / "repo")
    p = sh.bale("exp", "run", "-S", "train.nope=1", cwd=root, check=False)
    assert p.returncode == 1
    assert "has no param 'train.nope'" in p.stderr
    assert (root / "params.yaml").read_text() == PARAMS


def test_metrics_and_params_commands_print_what_dvc_prints(
    sh: Sh, baseline: Path, tmp_path: Path
) -> None:
    root = copy_repo(baseline, tmp_path / "repo")
    (root / "params.yaml").write_text(PARAMS.replace("lr: 0.1", "lr: 0.05"))
    sh.bale("repro", cwd=root)
    for args in (
        ["metrics", "show"],
        ["metrics", "show", "--md"],
        ["metrics", "diff"],
        ["metrics", "diff", "--md"],
        ["metrics", "diff", "--all"],
        ["params", "diff"],
        ["params", "diff", "--md"],
    ):
        assert sh.bale(*args, cwd=root).stdout == sh.dvc(*args, cwd=root).stdout, args
    for args in (["metrics", "diff", "--json"], ["params", "diff", "--json"]):
        ours = json.loads(sh.bale(*args, cwd=root).stdout)
        assert ours == json.loads(sh.dvc(*args, cwd=root).stdout), args


def test_frozen_stage_cuts_its_upstream_off(sh: Sh, baseline: Path, tmp_path: Path) -> None:
    root = copy_repo(baseline, tmp_path / "repo")
    text = (root / "dvc.yaml").read_text()
    (root / "dvc.yaml").write_text(
        text.replace(
            "    cmd: python src/train.py\n", "    cmd: python src/train.py\n    frozen: true\n"
        )
    )
    (root / "data/raw.txt").write_text("changed\n")
    for tool in (sh.dvc, sh.bale):
        out = tool("repro", "train", cwd=root).stdout
        assert "Running stage 'prepare'" not in out, out
    assert json.loads(sh.bale("status", "--json", cwd=root).stdout) == json.loads(
        sh.dvc("status", "--json", cwd=root).stdout
    )


def test_exp_run_with_an_unreadable_params_file_is_one_line(
    sh: Sh, baseline: Path, tmp_path: Path
) -> None:
    root = copy_repo(baseline, tmp_path / "repo")
    (root / "params.yaml").write_text("train: [\n")
    p = sh.bale("exp", "run", "-S", "train.lr=1", cwd=root, check=False)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 1 and len(lines) == 1 and lines[0].startswith("ERROR: params.yaml:")
