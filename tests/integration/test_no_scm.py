"""``core.no_scm``: with it set, bale neither reads git revisions nor
touches git (no ``.gitignore`` entries, no staging), even inside a git work
tree, as dvc 3.67.1 does (checked against dvc here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import dvcfork

from .conftest import GIT_ENV, Run, write_tree

pytestmark = pytest.mark.usefixtures("isolated_config")


PIPELINE = {
    "dvc.yaml": (
        "stages:\n  s:\n    cmd: echo 1 > out\n    outs: [out]\n    params: [p]\n"
        "    metrics: [{m.json: {cache: false}}]\n"
    ),
    "params.yaml": "p: 1\n",
    "m.json": '{"a": 1}\n',
}


def _committed_repo(root: Path, tool: list[str]) -> None:
    """A git repository with one commit holding an added file and a
    pipeline, then ``core.no_scm`` set: git revisions exist, but the
    repository says not to use git."""
    root.mkdir()
    env = {**os.environ, **GIT_ENV}

    def sh(*cmd: str) -> None:
        if cmd[0] == "dvc":  # forked from a process that has imported dvc
            p = dvcfork.run(cmd[1:], root, env)
            assert p.returncode == 0, (cmd, p.stderr)
            return
        subprocess.run(cmd, cwd=root, env=env, check=True, capture_output=True)

    sh("git", "init", "-q")
    sh(*tool, "init", "-q")
    write_tree(root, {"f": "hi\n", **PIPELINE})
    sh(*tool, "add", "-q", "f")
    sh("git", "add", "-A")
    sh("git", "commit", "-qm", "init")
    sh(*tool, "config", "core.no_scm", "true")


BALE = [sys.executable, "-m", "bale"]


REVISION_COMMANDS = [
    ["diff"],
    ["diff", "HEAD"],
    ["metrics", "diff"],
    ["params", "diff"],
    ["exp", "show"],
    ["exp", "run"],
    ["exp", "diff"],
    ["exp", "apply", "x"],
    ["exp", "branch", "x", "y"],
    ["exp", "remove", "x"],
]


def test_commands_that_read_git_revisions_refuse_like_dvc(tmp_path: Path, run: Run) -> None:
    repo = tmp_path / "repo"
    _committed_repo(repo, BALE)
    for argv in REVISION_COMMANDS:
        err = run("bale", *argv, ok=False).stderr
        command = " ".join(argv[:1] if argv[0] == "diff" else argv[:2])
        assert err.startswith(f"ERROR: {command}: only supported with git"), err
        assert err.count("\n") == 1 and "core.no_scm is set in .dvc/config" in err
    # the model registry is git's tags: refused before anything else is asked
    for argv in (["model", "register", "m"], ["model", "assign", "m", "prod"], ["model", "show"]):
        err = run("bale", *argv, ok=False).stderr
        assert err == (
            "ERROR: the model registry: only supported with git, and core.no_scm is set in "
            ".dvc/config (to use git: bale config core.no_scm false)\n"
        ), argv
    # what needs no revision still works, and lineage does not ask git
    run("bale", "metrics", "show")
    run("bale", "dag")
    assert json.loads(run("bale", "lineage", "f", "--json").stdout)["commit"] is None
    # the oracle: dvc refuses them in the same state (a few: dvc starts slowly)
    dvc_repo = tmp_path / "dvc-repo"
    _committed_repo(dvc_repo, ["dvc"])
    for argv in (["diff"], ["metrics", "diff"], ["params", "diff"], ["exp", "show"]):
        proc = run("dvc", *argv, cwd=dvc_repo, ok=False)
        assert "Only supported for Git repositories" in proc.stderr, argv


def test_revision_scopes_refuse_with_no_scm(tmp_path: Path, run: Run) -> None:
    # dvc quietly narrows -a/-T/-A to the workspace here; bale refuses: a
    # `gc -a` that kept only the workspace's data would delete what every
    # other commit needs, and bale refuses these outside git already.
    repo = tmp_path / "repo"
    _committed_repo(repo, BALE)
    remote = tmp_path / "remote"
    remote.mkdir()
    run("bale", "remote", "add", "-d", "r", str(remote))
    scopes = [
        ["push", "-a"],
        ["fetch", "-T"],
        ["pull", "-A"],
        ["push", "--rev", "HEAD"],
        ["status", "-c", "-a"],
        ["gc", "-a", "-f"],
        ["du", "-T"],
    ]
    for argv in scopes:
        err = run("bale", *argv, ok=False).stderr
        assert err.startswith("ERROR: -a, -T, -A and --rev: only supported with git"), argv
        assert err.count("\n") == 1 and "core.no_scm is set in .dvc/config" in err
    assert list(remote.iterdir()) == []
    # the workspace alone still works
    run("bale", "push", "-q")
    assert run("bale", "status", "-c").stdout.startswith("Cache and remote 'r' are in sync")


def _git_state(root: Path) -> tuple[list[str], list[str]]:
    """The ``.gitignore`` files under ``root`` and what git's index holds."""
    ignores = sorted(p.relative_to(root).as_posix() for p in root.rglob(".gitignore"))
    ignores = [p for p in ignores if not p.startswith(".git/")]
    index = subprocess.run(
        ["git", "ls-files", "--cached"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split()
    return ignores, index


def _touch_everything(root: Path, tool: list[str]) -> None:
    """init --no-scm in a git work tree, autostage on, then every command
    that writes .gitignore entries or stages files with git."""
    root.mkdir()
    env = {**os.environ, **GIT_ENV}

    def sh(*cmd: str) -> None:
        if cmd[0] == "dvc":  # forked from a process that has imported dvc
            p = dvcfork.run(cmd[1:], root, env)
            assert p.returncode == 0, (cmd, p.stderr)
            return
        subprocess.run(cmd, cwd=root, env=env, check=True, capture_output=True)

    sh("git", "init", "-q")
    sh(*tool, "init", "-q", "--no-scm")
    sh(*tool, "config", "core.autostage", "true")
    write_tree(root, {"f": "hi\n", "sub/g": "g\n", "params.yaml": "p: 1\n"})
    sh(*tool, "add", "-q", "f", "sub/g")
    sh(*tool, "stage", "add", "-q", "-n", "s", "-o", "out", "echo 1 > out")
    sh(*tool, "repro", "-q")
    sh(*tool, "remove", "-q", "f.dvc")


def test_no_scm_writes_no_gitignore_and_stages_nothing_like_dvc(tmp_path: Path) -> None:
    _touch_everything(tmp_path / "dvc", ["dvc"])
    assert _git_state(tmp_path / "dvc") == ([], [])  # the oracle
    _touch_everything(tmp_path / "bale", BALE)
    assert _git_state(tmp_path / "bale") == ([], [])
    assert not (tmp_path / "bale" / ".dvc" / ".gitignore").exists()


def test_remove_leaves_gitignore_entries_alone_with_no_scm(tmp_path: Path, run: Run) -> None:
    # added while git was in use, removed after core.no_scm was set: dvc
    # leaves the .gitignore as it is (it is no longer dvc's to edit)
    for name, tool in (("dvc-repo", ["dvc"]), ("repo", BALE)):
        root = tmp_path / name
        _committed_repo(root, tool)
        assert (root / ".gitignore").read_text() == "/f\n"
        run(*(["bale"] if tool == BALE else tool), "remove", "f.dvc", cwd=root)
        assert (root / ".gitignore").read_text() == "/f\n", name
        assert not (root / "f.dvc").exists()
