"""``exp list``, ``exp save``, ``exp push/pull`` and the experiment
housekeeping commands against dvc 3.67.1 (issue 24).

Read-only commands run with both tools in one repository whose experiments
both tools made; commands that change refs or files run in twins (copies of
one repository), and each tool then reads what the other made.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.interop.conftest import copy_repo
from tests.interop.test_dvc_differential import DvcBatch, Result, Step, run_bale, snapshot
from tests.interop.test_fidelity_exp import _commit
from tests.interop.test_pipelines import _project, _stages

Sh = Any

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def two_baselines(sh: Sh, dvc_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pipeline commit (branch ``first``) with an experiment by each tool,
    then a second commit (tagged ``v2``, on ``main``) with one by bale; the
    workspace clean at the second commit."""
    root = copy_repo(dvc_template, tmp_path_factory.mktemp("exp-commands") / "repo")
    sh.git("checkout", "-q", "-b", "main", cwd=root)
    _project(root)
    _stages(sh, root, "bale")
    sh.bale("repro", "-q", cwd=root)
    _commit(sh, root, "pipeline", 1)
    sh.git("branch", "first", cwd=root)
    sh.dvc("exp", "run", "-q", "-S", "train.lr=0.5", "-n", "by-dvc", cwd=root)
    sh.git("checkout", "-q", "--", ".", cwd=root)
    sh.bale("checkout", "-q", cwd=root)
    sh.bale("exp", "run", "-q", "-S", "prepare.n=4", "-n", "by-bale", cwd=root)
    sh.git("checkout", "-q", "--", ".", cwd=root)
    sh.bale("checkout", "-q", cwd=root)
    (root / "data/raw.txt").write_text("abcd\n")
    sh.bale("repro", "-q", cwd=root)
    _commit(sh, root, "more data", 2)
    sh.git("tag", "v2", cwd=root)
    sh.bale("exp", "run", "-q", "-S", "train.epochs=3", "-n", "later", cwd=root)
    sh.git("checkout", "-q", "--", ".", cwd=root)
    sh.bale("checkout", "-q", cwd=root)
    return root


def _blocks(out: str) -> list[tuple[str, list[str]]]:
    """``exp list`` output as (baseline line, its experiment lines), both
    sorted: dvc orders baselines and experiments by a set's iteration."""
    blocks: list[tuple[str, list[str]]] = []
    for line in out.splitlines():
        if line.startswith("\t"):
            blocks[-1][1].append(line)
        else:
            blocks.append((line, []))
    if all(not lines for _, lines in blocks):  # --name-only / --sha-only
        return [(line, []) for line, _ in sorted(blocks)]
    return sorted((head, sorted(lines)) for head, lines in blocks)


def _same_listing(steps: list[Step], dvc: list[Result], bale: list[Result]) -> None:
    for step, d, b in zip(steps, dvc, bale, strict=True):
        assert d.ok == b.ok, f"{step}: dvc exit {d.rc} {d.err!r}, bale exit {b.rc} {b.err!r}"
        if d.ok:
            assert _blocks(b.out) == _blocks(d.out), f"{step}\n--- dvc\n{d.out}--- bale\n{b.out}"
        else:
            # dvc's words, one line (bale spells "git" as git does)
            said = b.err.removeprefix("ERROR: ").lower()
            assert b.err.count("\n") == 1 and said in d.err.lower(), (step, b.err, d.err)


def test_exp_list_prints_what_dvc_prints(sh: Sh, two_baselines: Path, tmp_path: Path) -> None:
    root = copy_repo(two_baselines, tmp_path / "repo")
    # a git remote that holds the first baseline's experiments only
    bare = tmp_path / "remote.git"
    sh.git("init", "-q", "--bare", str(bare), cwd=tmp_path)
    first = sh.git("rev-parse", "first", cwd=root).stdout.strip()
    sh.git("push", "-q", str(bare), f"refs/exps/{first[:2]}/*:refs/exps/{first[:2]}/*", cwd=root)
    sh.git("remote", "add", "origin", str(bare), cwd=root)
    steps: list[Step] = [
        ("exp", "list"),
        ("exp", "ls", "--name-only"),
        ("exp", "ls", "--sha-only"),
        ("exp", "ls", "-A"),
        ("exp", "ls", "--rev", "first"),
        ("exp", "ls", "--rev", "HEAD~1", "--rev", "v2"),
        ("exp", "ls", "-n", "2"),
        ("exp", "ls", "-n", "-1", "--names-only"),
        ("exp", "ls", "--rev", "nope"),
        ("exp", "ls", "origin"),
        ("exp", "ls", "-A", str(bare)),
        ("exp", "ls", "origin", "--name-only"),
        ("exp", "ls", "--sha-only", "origin"),
        ("exp", "ls", "no-such-remote"),
        "git checkout -q --detach first",
        ("exp", "ls"),  # a detached HEAD is named by its branch
        ("exp", "ls", "--rev", "main"),  # ... or tag
    ]
    twin = copy_repo(root, tmp_path / "twin")  # the last steps move HEAD
    batch = DvcBatch(sh, root, steps)  # in the background, while bale runs
    bale = run_bale(sh, twin, steps)
    dvc = batch.results()
    _same_listing(steps, dvc, bale)
    assert bale[3].out.count("\n") == 5 and "\tby-dvc\n" in bale[10].out
    assert "v2:\n" in bale[16].out and bale[16].out == dvc[16].out


def _exp_tree(sh: Sh, root: Path, name: str) -> tuple[str, list[str]]:
    """An experiment's commit message and the files it holds (with their
    blob ids), less dvc's ``.dvc/tmp/repro.dat`` (the arguments dvc packs
    for a queued run, which its ``exp save`` commits too)."""
    ref = next(
        r
        for r in sh.git("for-each-ref", "--format=%(refname)", "refs/exps", cwd=root).stdout.split()
        if r.endswith("/" + name)
    )
    msg = sh.git("log", "-1", "--format=%B", ref, cwd=root).stdout.strip()
    tree = sh.git("ls-tree", "-r", ref, cwd=root).stdout.splitlines()
    return msg, [t for t in tree if not t.endswith("\t.dvc/tmp/repro.dat")]


def test_exp_save_keeps_what_dvc_keeps(sh: Sh, two_baselines: Path, tmp_path: Path) -> None:
    steps: list[Step] = [
        "sed -i 's/lr: 0.1/lr: 0.7/' params.yaml && echo new > new.txt && echo x > data/x.txt"
        " && echo '*.log' >> .gitignore && echo log > run.log",
        ("exp", "save", "-n", "s1"),
        ("exp", "save", "-n", "s1"),  # the name is taken: refused
        ("exp", "save", "-n", "s1", "-f", "-m", "mine", "-I", "new.txt", "-I", "run.log"),
        "echo abcde > data/raw.txt",  # a dependency changed, not reproduced
        ("exp", "save", "-n", "s2", "--json"),
        ("exp", "save", "-n", "bad/name"),
        "git status --porcelain && git stash list",
        ("exp", "ls", "--name-only"),
    ]
    d_root = copy_repo(two_baselines, tmp_path / "dvc")
    b_root = copy_repo(two_baselines, tmp_path / "bale")
    batch = DvcBatch(sh, d_root, steps)
    bale = run_bale(sh, b_root, steps)
    dvc = batch.results()
    for step, d, b in zip(steps, dvc, bale, strict=True):
        assert d.ok == b.ok, f"{step}: dvc exit {d.rc} {d.err!r}, bale exit {b.rc} {b.err!r}"
        if "--json" in step:
            # dvc prints "Updating lock file" first, on stdout: not JSON
            assert set(b.json()) == set(json.loads(d.out.splitlines()[-1])) == {"ref"}
        elif step[:2] == ("exp", "save") and d.ok:
            assert b.out in d.out.splitlines(keepends=True), (b.out, d.out)
            # dvc's warning names the untracked files in no fixed order
            warned = [sorted(r.err.split("\t", 1)[-1].strip().split(", ")) for r in (d, b)]
            assert warned[0] == warned[1], (d.err, b.err)
        elif d.ok:
            assert b.out == d.out, step
        else:
            assert b.err.count("\n") == 1, b.err
    assert "already exists" in bale[2].err
    for name in ("s1", "s2"):
        assert _exp_tree(sh, b_root, name) == _exp_tree(sh, d_root, name), name
    # the second save committed the changed dependency to the cache
    assert snapshot(sh, b_root)["cache"] == snapshot(sh, d_root)["cache"]
    # each tool shows and applies the other's saved experiment
    assert "s2" in sh.bale("exp", "show", "--csv", cwd=d_root).stdout
    sh.bale("exp", "apply", "-f", "s1", cwd=d_root)
    sh.dvc("exp", "apply", "s1", cwd=b_root)
    for root in (d_root, b_root):
        assert "lr: 0.7" in (root / "params.yaml").read_text()


def _store(path: Path) -> str:
    """A ``config.local`` whose default remote is the folder ``path``."""
    return f"[core]\n    remote = store\n['remote \"store\"']\n    url = {path}\n"


def _cached(root: Path) -> set[str]:
    return {p.name for p in (root / ".dvc/cache").rglob("*") if p.is_file()}


def test_exp_push_and_pull_share_refs_and_data_with_dvc(
    sh: Sh, two_baselines: Path, tmp_path: Path
) -> None:
    """Each tool pushes to a bare git repository and a folder dvc remote of
    its own; the other pulls from them into a fresh clone, data included."""
    steps: list[Step] = [
        "git init -q --bare ../remote.git && git remote add origin ../remote.git"
        " && git push -q origin main first",
        ("exp", "push", "origin", "--no-cache"),
        ("exp", "push", "origin", "later"),  # up to date, its data now
        ("exp", "push", "origin", "-A"),
        ("exp", "push", "origin", "nope"),
        ("exp", "push", "no-such-remote"),
        ("exp", "ls", "-A", "origin"),
        ("exp", "save", "-f", "-n", "later", "-m", "again"),  # a new commit, same name
        ("exp", "push", "origin", "later"),  # diverged: left alone
        "git ls-remote origin | grep -c /later && git -C ../remote.git log -1 --format=%s"
        " $(git ls-remote origin | grep /later | cut -f1)",
        ("exp", "push", "-f", "origin", "later"),
        ("exp", "pull", "origin", "-A"),  # all up to date
        ("exp", "pull", "origin", "by-dvc", "--no-cache"),
    ]
    roots = {}
    for tool in ("dvc", "bale"):
        (tmp_path / tool).mkdir()
        roots[tool] = copy_repo(two_baselines, tmp_path / tool / "repo")
        # not committed: dvc reads a relative remote of a commit's config
        # from the root of the file system
        (roots[tool] / ".dvc/config.local").write_text(_store(tmp_path / tool / "store"))
    batch = DvcBatch(sh, roots["dvc"], steps)
    bale = run_bale(sh, roots["bale"], steps)
    dvc = batch.results()
    for step, d, b in zip(steps, dvc, bale, strict=True):
        assert d.ok == b.ok, f"{step}: dvc exit {d.rc} {d.err!r}, bale exit {b.rc} {b.err!r}"
        if not d.ok:
            assert b.err.count("\n") == 1, b.err
        elif step[:2] in (("exp", "pull"), ("exp", "push")):
            # the same words (dvc lists experiments in a set's order, pulled
            # ones as a Python list, and misses spaces in its --no-cache hints)
            theirs = d.out.replace("'['", "'").replace("']'", "'").replace(",re-", ", re-")
            theirs = theirs.replace("experimentfrom", "experiment from")
            assert sorted(b.out.split()) == sorted(theirs.split()), (step, b.out, d.out)
        elif step[:2] == ("exp", "ls"):
            assert _blocks(b.out) == _blocks(d.out), step
    assert "has diverged" in bale[8].err and "has diverged" in dvc[8].err
    # the remote kept the first 'later' (exp run's commit), not the saved one
    assert bale[9].out == dvc[9].out and bale[9].out.startswith("1\ndvc: commit experiment ")
    # each tool pulls, from a fresh clone, what the other pushed: refs and data
    for pusher, puller in (("bale", sh.dvc), ("dvc", sh.bale)):
        clone = tmp_path / pusher / "clone"
        sh.git("clone", "-q", "-b", "main", str(tmp_path / pusher / "remote.git"), str(clone),
               cwd=tmp_path)  # fmt: skip
        (clone / ".dvc/config.local").write_text(_store(tmp_path / pusher / "store"))
        puller("exp", "pull", "origin", "by-bale", "by-dvc", cwd=clone)
        listed = sh.bale("exp", "ls", "-A", "--name-only", cwd=clone).stdout.split()
        assert sorted(listed) == ["by-bale", "by-dvc"], listed
        pushed = _cached(roots[pusher])
        assert _cached(clone) and _cached(clone) <= pushed
        for name, param in (("by-bale", "n: 4"), ("by-dvc", "lr: 0.5")):
            # the experiment's checkout finds its data in the cache (else it fails)
            puller("exp", "apply", name, cwd=clone)
            assert param in (clone / "params.yaml").read_text()


def test_exp_rename_and_remove_as_dvc_does(sh: Sh, two_baselines: Path, tmp_path: Path) -> None:
    steps: list[Step] = [
        "git init -q --bare ../remote.git && git remote add origin ../remote.git"
        " && git push -q origin 'refs/exps/*:refs/exps/*'",
        ("exp", "rename", "by-dvc", "renamed"),
        ("exp", "rename", "renamed", "by-bale"),  # taken: refused
        ("exp", "rename", "nope", "x"),
        ("exp", "rename", "later", "later"),
        ("exp", "rename", "-f", "later", "bad/name"),
        ("exp", "ls", "-A"),
        ("exp", "remove"),  # nothing named
        ("exp", "remove", "later", "--rev", "HEAD"),  # both
        ("exp", "remove", "nope", "later"),
        ("exp", "remove", "-g", "origin", "later"),
        ("exp", "ls", "-A", "origin"),
        ("exp", "rm", "--rev", "first", "--keep"),
        ("exp", "ls", "-A", "--name-only"),
        ("exp", "remove", "-A", "-g", "origin"),
        ("exp", "ls", "-A", "origin"),
        ("exp", "remove", "-n", "2", "--rev", "HEAD"),
        ("exp", "remove", "-A"),
        "git for-each-ref refs/exps | grep -v /exec/ || true",
    ]
    # each in a folder of its own: ../remote.git is each one's
    d_root = copy_repo(two_baselines, tmp_path / "dvc" / "repo")
    b_root = copy_repo(two_baselines, tmp_path / "bale" / "repo")
    batch = DvcBatch(sh, d_root, steps)
    bale = run_bale(sh, b_root, steps)
    dvc = batch.results()
    for step, d, b in zip(steps, dvc, bale, strict=True):
        assert d.ok == b.ok, f"{step}: dvc exit {d.rc} {d.err!r}, bale exit {b.rc} {b.err!r}"
        if not d.ok:
            assert b.err.count("\n") == 1, b.err
        elif step[:2] == ("exp", "ls"):
            assert _blocks(b.out) == _blocks(d.out), (step, b.out, d.out)
        else:
            # dvc lists what -A and --rev remove in a set's order
            words = [sorted(w.strip(",") for w in r.out.split() if w != "and") for r in (b, d)]
            assert words[0] == words[1], (step, b.out, d.out)
    assert bale[1].out == "Renamed experiments: 'by-dvc'\n"
    assert bale[-1].out == ""


def test_exp_clean_removes_only_what_gone_processes_left(
    sh: Sh, two_baselines: Path, tmp_path: Path
) -> None:
    """A killed ``exp run --run-all`` leaves its worktree, a killed commit its
    private index file; those of a running process stay."""
    root = copy_repo(two_baselines, tmp_path / "repo")
    gone = subprocess.Popen(["true"])
    gone.wait()
    exps = root / ".dvc/tmp/bale/exps"
    for name, pid in (("111", gone.pid), ("222", os.getpid())):
        sh.git("worktree", "add", "-q", "--detach", str(exps / name), "HEAD", cwd=root)
        (exps / f"{name}.pid").write_text(f"{pid}\n")
        (root / ".git" / f"bale-exp-index-{pid}-x1").write_bytes(b"")
    p = sh.bale("exp", "clean", cwd=root)
    assert p.stdout == "Cleaning up experiments' temporary files...\nDone!\n"
    assert not (exps / "111").exists() and not (exps / "111.pid").exists()
    assert (exps / "222/dvc.yaml").exists()
    assert sorted(f.name for f in (root / ".git").glob("bale-exp-index-*")) == [
        f"bale-exp-index-{os.getpid()}-x1"
    ]
    listed = sh.git("worktree", "list", "--porcelain", cwd=root).stdout
    assert "exps/222\n" in listed and "exps/111" not in listed


def test_queue_status_and_remove_as_dvc_shows_them(
    sh: Sh, two_baselines: Path, tmp_path: Path
) -> None:
    steps: list[Step] = [
        ("exp", "run", "--queue", "-S", "train.lr=0.3", "-n", "q3"),
        ("exp", "run", "--queue", "-S", "train.lr=0.4", "-n", "q4"),
        ("queue", "status"),
        ("queue", "remove", "q3"),
        ("queue", "status"),
        ("queue", "remove", "nope"),
        ("queue", "remove"),  # neither tasks nor a flag
        ("queue", "remove", "--all"),
        ("queue", "status"),
    ]
    d_root = copy_repo(two_baselines, tmp_path / "dvc")
    b_root = copy_repo(two_baselines, tmp_path / "bale")
    batch = DvcBatch(sh, d_root, steps)
    bale = run_bale(sh, b_root, steps)
    dvc = batch.results()
    for step, d, b in zip(steps, dvc, bale, strict=True):
        assert d.ok == b.ok, f"{step}: dvc exit {d.rc} {d.err!r}, bale exit {b.rc} {b.err!r}"
        if step[0] != "queue" or not d.ok:
            continue
        # task ids are the queue entries' commits, which each tool makes its own
        # way, and each queues its entry at its own moment (a minute apart, across
        # a minute's turn): the Created time is compared as a time, not its value
        ours, theirs = (
            [
                re.sub(r"\b\d\d:\d\d [AP]M\b", "<time>", ln[7:])
                if ln[:7].isalnum() and ln[:4] != "Task"
                else ln
                for ln in out.split("\n")
            ]
            for out in (b.out, d.out)
        )
        assert ours == theirs, (step, b.out, d.out)
    assert "q3" in bale[2].out and "q3" not in bale[4].out and "q4" in bale[4].out
    assert not sh.git("for-each-ref", "refs/bale/exp-queue", cwd=b_root).stdout


def test_exp_save_recursive_and_rename_from_a_git_remote_as_dvc_does(
    sh: Sh, two_baselines: Path, tmp_path: Path
) -> None:
    steps: list[Step] = [
        "mkdir -p sub/deep && echo a > sub/deep/a.txt",
        ("add", "-q", "sub/deep/a.txt"),
        "git add -A && git commit -qm sub",
        "echo b > sub/deep/a.txt && echo abcdef > data/raw.txt",
        # only what is inside sub: a.txt's new version, not raw.txt's
        ("exp", "save", "-R", "sub", "-n", "r1", "-M", "old spelling"),
        ("exp", "save", "-R", "-n", "r2"),  # no targets: everything
        "git init -q --bare ../remote.git && git remote add origin ../remote.git"
        " && git push -q origin 'refs/exps/*:refs/exps/*'",
        ("exp", "rename", "-g", "origin", "r1", "renamed"),
        ("exp", "rename", "-g", "origin", "nope", "x"),
        ("exp", "rename", "r2"),  # no new name
        "git for-each-ref --format='%(refname)' refs/exps | grep -v celery | sed 's,.*/,,' | sort",
        "git --git-dir=../remote.git for-each-ref --format='%(refname)' refs/exps"
        " | sed 's,.*/,,' | sort",
    ]
    d_root = copy_repo(two_baselines, tmp_path / "dvc" / "repo")
    b_root = copy_repo(two_baselines, tmp_path / "bale" / "repo")
    batch = DvcBatch(sh, d_root, steps)
    bale = run_bale(sh, b_root, steps)
    dvc = batch.results()
    for step, d, b in zip(steps, dvc, bale, strict=True):
        assert d.ok == b.ok, f"{step}: dvc exit {d.rc} {d.err!r}, bale exit {b.rc} {b.err!r}"
        if not d.ok:
            assert b.err.removeprefix("ERROR: ") in d.err, (step, b.err, d.err)
        elif step[:2] == ("exp", "save"):
            assert b.out in d.out.splitlines(keepends=True), (b.out, d.out)
        elif step[0] != "add":
            assert b.out == d.out, (step, b.out, d.out)
    assert bale[7].out == "Renamed experiments: 'r1'\n"
    # the local one renamed, the remote's kept
    assert "renamed\n" in bale[-2].out and "r1\n" in bale[-1].out
    for name in ("renamed", "r2"):
        assert _exp_tree(sh, b_root, name) == _exp_tree(sh, d_root, name), name
    assert snapshot(sh, b_root)["cache"] == snapshot(sh, d_root)["cache"]
    # a name only the remote has: dvc 3.67.1 crashes, bale says what to do
    sh.bale("exp", "rename", "renamed", "again", cwd=b_root)
    p = sh.bale("exp", "rename", "-g", "origin", "r1", "x", cwd=b_root, check=False)
    assert p.returncode == 1 and "exp pull origin r1" in p.stderr, p.stderr
