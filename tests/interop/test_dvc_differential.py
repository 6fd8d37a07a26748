"""Differential tests of the everyday data commands against dvc 3.67.1.

Each test runs one command sequence with ``dvc`` in one repository and with
``bale`` in a twin (or, for read-only commands, both tools in the same
repository) and compares what a user or a script can see: exit status,
``--json`` output, plain output that scripts parse, ``.dvc`` and ``.gitignore``
bytes, ``git status``, the cache and the workspace.

dvc takes a second or more to start, so a test's dvc commands run in a single
Python process (``DVC_BATCH`` below calls ``dvc.cli.main`` once per command,
with stdout and stderr captured at the file-descriptor level); bale runs as
its users run it, one ``python -m bale`` per command.

Tests marked ``xfail(strict=True)`` pin a known bale bug: they start passing
(and so failing the run) once bale behaves like dvc.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.interop.conftest import copy_repo

Sh = Any  # the `sh` fixture of conftest.py: .bale(), .dvc(), .git(), .run()

pytestmark = pytest.mark.interop

# --------------------------------------------------------------------------
# The harness: a step is a shell snippet (str) or a tool command (tuple of
# arguments, the first one "@sub" to run it in a sub-directory).

Step = str | tuple[str, ...]

DVC_BATCH = r"""
import json, os, subprocess, sys, tempfile
from dvc.cli import main

root, steps, report = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
results = []
keep = os.dup(1), os.dup(2)
for step in steps:
    os.chdir(root)
    if isinstance(step, str):
        p = subprocess.run(step, shell=True, capture_output=True, text=True)
        results.append([p.returncode, p.stdout, p.stderr])
        continue
    if step and step[0].startswith("@"):
        os.chdir(step[0][1:])
        step = step[1:]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        sys.stdout.flush(), sys.stderr.flush()
        os.dup2(out.fileno(), 1), os.dup2(err.fileno(), 2)
        try:
            rc = main(list(step))
        finally:
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(keep[0], 1), os.dup2(keep[1], 2)
        out.seek(0), err.seek(0)
        results.append([rc, out.read(), err.read()])
with open(report, "w") as f:
    json.dump(results, f)
"""


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def json(self) -> Any:
        try:
            return json.loads(self.out)
        except json.JSONDecodeError:
            raise AssertionError(f"not JSON: {self.out!r} (stderr {self.err!r})") from None


class DvcBatch:
    """All ``steps`` in one dvc process (shell steps through ``sh -c``), started
    in the background so that bale can run its twin sequence meanwhile."""

    def __init__(self, sh: Sh, root: Path, steps: Sequence[Step]) -> None:
        self.report = root.parent / f".{root.name}-dvc-report.json"
        payload = json.dumps([s if isinstance(s, str) else list(s) for s in steps])
        argv = [sys.executable, "-c", DVC_BATCH, str(root), payload, str(self.report)]
        self.proc = subprocess.Popen(
            argv, cwd=root, env=sh.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def results(self) -> list[Result]:
        out, _ = self.proc.communicate()
        assert self.proc.returncode == 0, f"the dvc batch failed:\n{out}"
        results = [Result(*r) for r in json.loads(self.report.read_text(encoding="utf-8"))]
        self.report.unlink()
        return results


def run_dvc(sh: Sh, root: Path, steps: Sequence[Step]) -> list[Result]:
    return DvcBatch(sh, root, steps).results()


def run_bale(sh: Sh, root: Path, steps: Sequence[Step]) -> list[Result]:
    results = []
    for step in steps:
        if isinstance(step, str):
            p = sh.run(["sh", "-c", step], root, check=False)
        else:
            cwd, args = root, step
            if args and args[0].startswith("@"):
                cwd, args = root / args[0][1:], args[1:]
            p = sh.bale(*args, cwd=cwd, check=False)
        results.append(Result(p.returncode, p.stdout, p.stderr))
    return results


def snapshot(sh: Sh, root: Path) -> dict[str, Any]:
    """What a user sees after a command: metafiles, git's view, cache, data."""
    meta: dict[str, bytes] = {}
    data: dict[str, tuple[bytes, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here == root:
            dirnames[:] = [d for d in dirnames if d not in (".git", ".dvc")]
        for name in filenames:
            p = here / name
            rel = p.relative_to(root).as_posix()
            if name.endswith(".dvc") or name in (".gitignore", ".dvcignore"):
                meta[rel] = p.read_bytes()
            else:
                data[rel] = (p.read_bytes(), stat.S_IMODE(p.lstat().st_mode))
    cache_dir = root / ".dvc/cache"
    cache = {
        p.relative_to(cache_dir).as_posix(): stat.S_IMODE(p.stat().st_mode)
        for p in cache_dir.rglob("*")
        if p.is_file()
    }
    git = sorted(sh.git("status", "--porcelain", "-uall", cwd=root).stdout.splitlines())
    return {"meta": meta, "git": git, "cache": cache, "data": data}


def twins(sh: Sh, template: Path, base: Path, setup: str = "") -> tuple[Path, Path]:
    """Two copies of ``template`` (dvc's, bale's), each with ``setup`` run in it."""
    pair = []
    for name in ("dvc", "bale"):
        root = copy_repo(template, base / name)
        if setup:
            sh.run(["sh", "-c", setup], root)
        pair.append(root)
    return pair[0], pair[1]


def differential(
    sh: Sh, template: Path, base: Path, steps: Sequence[Step], setup: str = ""
) -> tuple[list[Result], list[Result], Path, Path]:
    d, b = twins(sh, template, base, setup)
    batch = DvcBatch(sh, d, steps)
    bale = run_bale(sh, b, steps)
    return batch.results(), bale, d, b


def assert_same_outcomes(steps: Sequence[Step], dvc: list[Result], bale: list[Result]) -> None:
    for step, d, b in zip(steps, dvc, bale, strict=True):
        assert d.ok == b.ok, f"{step}: dvc exit {d.rc} {d.err!r}, bale exit {b.rc} {b.err!r}"


def assert_same_state(sh: Sh, d: Path, b: Path) -> None:
    sd, sb = snapshot(sh, d), snapshot(sh, b)
    for key in ("meta", "git", "cache", "data"):
        assert sb[key] == sd[key], f"{key} differs from dvc's"


def commit_all(msg: str) -> str:
    return f"git add -A && git commit -qm {shlex.quote(msg)}"


def git_add_hint(out: str) -> list[str]:
    """The paths of the ``git add ...`` line that ``add`` suggests, as a shell reads them."""
    lines = [ln.strip() for ln in out.splitlines() if ln.strip().startswith("git add ")]
    assert len(lines) == 1, out
    return sorted(shlex.split(lines[0])[2:])


# --------------------------------------------------------------------------
# add, re-add, status, commit, remove: the same sequence in both tools

SETUP = (
    "mkdir -p d/sub sub && echo hello > a.txt && echo b > b.txt && echo 1 > d/x"
    " && echo 2 > d/y && echo 3 > d/sub/z && echo s > sub/s.txt && printf keep > .gitignore"
)


def test_add_readd_status_commit_remove_match_dvc(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    steps: list[Step] = [
        ("add", "a.txt", "b.txt", "d", "sub/s.txt"),
        commit_all("v1"),
        "rm a.txt && echo changed > a.txt && rm b.txt && echo 4 > d/new && rm d/x",
        ("status", "--json"),
        ("status", "--json", "d/new"),
        ("add", "a.txt", "d"),
        "echo b2 > b.txt",
        ("commit", "-f", "b.txt.dvc"),
        ("status", "--json"),
        ("remove", "sub/s.txt.dvc", "a.txt.dvc"),
    ]
    dvc, bale, d, b = differential(sh, dvc_template, tmp_path, steps, SETUP)
    assert_same_outcomes(steps, dvc, bale)
    assert dvc[3].json() == {
        "a.txt.dvc": [{"changed outs": {"a.txt": "modified"}}],
        "b.txt.dvc": [{"changed outs": {"b.txt": "deleted"}}],
        "d.dvc": [{"changed outs": {"d": "modified"}}],
    }
    for i in (3, 4, 8):
        assert bale[i].json() == dvc[i].json(), steps[i]
    assert_same_state(sh, d, b)


def test_checkout_matches_dvc(sh: Sh, dvc_template: Path, tmp_path: Path) -> None:
    steps: list[Step] = [
        ("add", "a.txt", "b.txt", "d"),
        "rm a.txt d/x",
        ("checkout",),
        # Unsaved changes are not overwritten without --force, by either tool.
        "rm b.txt && echo unsaved > b.txt && echo unsaved > d/extra",
        ("checkout", "b.txt"),
        ("checkout", "d"),
        ("checkout", "--force"),
        # A target inside a tracked directory restores only that part.
        "rm -rf d",
        ("checkout", "d/sub"),
        ("checkout", "@d", "y"),
    ]
    dvc, bale, d, b = differential(sh, dvc_template, tmp_path, steps, SETUP)
    assert_same_outcomes(steps, dvc, bale)
    assert [r.ok for r in dvc[4:6]] == [False, False]
    assert_same_state(sh, d, b)


def test_gc_workspace_keeps_what_dvc_keeps(sh: Sh, dvc_template: Path, tmp_path: Path) -> None:
    steps: list[Step] = [
        ("add", "a.txt", "d", "sub/s.txt"),
        "rm a.txt && echo v2 > a.txt && rm d/y && echo 22 > d/y && rm sub/s.txt.dvc sub/s.txt",
        ("add", "a.txt", "d"),
        ("gc", "-w", "-f"),
        "rm -rf a.txt d",
        ("checkout",),
    ]
    dvc, bale, d, b = differential(sh, dvc_template, tmp_path, steps, SETUP)
    assert_same_outcomes(steps, dvc, bale)
    assert_same_state(sh, d, b)


# --------------------------------------------------------------------------
# add: the errors dvc raises, and its granular form


def test_add_of_a_file_inside_a_tracked_directory_updates_it_like_dvc(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    steps: list[Step] = [
        ("add", "d"),
        commit_all("v1"),
        "echo new > d/new && echo other > d/other",
        ("add", "d/new"),
    ]
    dvc, bale, d, b = differential(sh, dvc_template, tmp_path, steps, SETUP)
    assert dvc[3].ok
    assert_same_outcomes(steps, dvc, bale)
    assert_same_state(sh, d, b)


def test_add_inside_a_tracked_directory_of_a_changed_file_and_a_new_subdirectory_like_dvc(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    steps: list[Step] = [
        ("add", "d"),
        commit_all("v1"),
        "echo changed >> d/x && mkdir -p d/sub/deep && echo s > d/sub/s && echo t > d/sub/deep/t",
        ("add", "d/x", "d/sub"),
        ("status",),
        "echo again > d/sub/s",
        ("add", "d/sub/s"),
        ("status",),
    ]
    dvc, bale, d, b = differential(sh, dvc_template, tmp_path, steps, SETUP)
    assert dvc[3].ok and dvc[6].ok
    assert_same_outcomes(steps, dvc, bale)
    assert_same_state(sh, d, b)


def test_add_of_a_directory_holding_a_tracked_file_fails_like_dvc(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    steps: list[Step] = [("add", "d/x"), ("add", "d")]
    dvc, bale, d, b = differential(sh, dvc_template, tmp_path, steps, SETUP)
    assert not dvc[1].ok
    assert_same_outcomes(steps, dvc, bale)
    assert_same_state(sh, d, b)


def test_add_refuses_a_dvc_file_that_git_ignores(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    steps: list[Step] = [("add", "sub/s.txt")]
    setup = SETUP + " && printf 'sub/\\n' > .gitignore"
    dvc, bale, d, b = differential(sh, dvc_template, tmp_path, steps, setup)
    assert not dvc[0].ok and "git-ignored" in dvc[0].err
    assert_same_outcomes(steps, dvc, bale)
    assert_same_state(sh, d, b)


def test_add_prints_a_git_add_hint_that_works_when_pasted(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    setup = SETUP + " && echo s > 'sub/sp ace.txt' && echo h > 'sub/#h.txt'"
    steps: list[Step] = [("@sub", "add", "sp ace.txt", "#h.txt", "../b.txt")]
    dvc, bale, _d, _b = differential(sh, dvc_template, tmp_path, steps, setup)
    assert git_add_hint(dvc[0].out) == sorted(
        ["sp ace.txt.dvc", "#h.txt.dvc", ".gitignore", "../b.txt.dvc", "../.gitignore"]
    )
    assert git_add_hint(bale[0].out) == git_add_hint(dvc[0].out)


# --------------------------------------------------------------------------
# status when the cache lacks the recorded data (a fresh clone, a wiped cache)


@pytest.fixture(scope="module")
def history(sh: Sh, dvc_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository whose commits, tagged c1..c6, each exercise one kind of
    change; written by bale (whose .dvc files and cache equal dvc's)."""
    root = copy_repo(dvc_template, tmp_path_factory.mktemp("history") / "repo")
    run_bale(
        sh,
        root,
        [
            SETUP,
            ("add", "a.txt", "b.txt", "d"),
            commit_all("c1") + " && git tag c1",
            # file changes inside a directory, and outside one
            "echo changed > a.txt && mv d/x d/x_renamed && rm d/y && echo new > d/new"
            " && echo 33 > d/sub/z && echo c > c.txt",
            ("remove", "b.txt.dvc"),
            ("add", "a.txt", "d", "c.txt"),
            commit_all("c2") + " && git tag c2",
            # a new directory
            "mkdir e && echo q > e/q && echo r > e/r",
            ("add", "e"),
            commit_all("c3") + " && git tag c3",
            # the directory renamed
            ("remove", "e.dvc"),
            "mv e e2",
            ("add", "e2"),
            commit_all("c4") + " && git tag c4",
            # two files with the same content
            "mkdir p && echo same > p/one && echo same > p/two",
            ("add", "p"),
            commit_all("c5") + " && git tag c5",
            # both renamed
            "mv p/one p/uno && mv p/two p/dos",
            ("add", "p"),
            commit_all("c6") + " && git tag c6",
        ],
    )
    assert sh.git("status", "--porcelain", cwd=root).stdout == ""
    return root


@pytest.fixture(scope="module")
def cacheless(history: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``history`` at c6 with no cache: one output deleted, one modified, the
    rest unchanged, as after a clone whose data was copied in by hand."""
    root = copy_repo(history, tmp_path_factory.mktemp("cacheless") / "repo")
    shutil.rmtree(root / ".dvc/cache")
    (root / "a.txt").unlink()
    (root / "c.txt").write_text("c2\n")
    return root


def test_status_reports_not_in_cache_first_like_dvc(sh: Sh, cacheless: Path) -> None:
    steps: list[Step] = [("status", "--json")]
    dvc = run_dvc(sh, cacheless, steps)
    assert dvc[0].json()["a.txt.dvc"] == [{"changed outs": {"a.txt": "not in cache"}}]
    assert run_bale(sh, cacheless, steps)[0].json() == dvc[0].json()


def test_diff_without_cache_reports_not_in_cache_like_dvc(sh: Sh, cacheless: Path) -> None:
    steps: list[Step] = [("diff", "--json")]
    dvc = run_dvc(sh, cacheless, steps)
    assert dvc[0].json()["added"] == []
    assert run_bale(sh, cacheless, steps)[0].json() == dvc[0].json()


# --------------------------------------------------------------------------
# diff between commits and against the workspace

DIFFS: list[Step] = [
    ("diff", "--json"),  # 0: clean workspace
    ("diff", "--json", "HEAD", "HEAD"),  # 1
    ("diff", "--json", "c1", "c2"),  # 2: changes inside a directory
    ("diff", "--json", "c1"),  # 3: c1 against the workspace
    ("diff", "--json", "c2", "c3"),  # 4: a new directory
    ("diff", "--json", "c3", "c4"),  # 5: a renamed directory
    ("diff", "--json", "c5", "c6"),  # 6: two renames of identical files
    ("diff", "c1", "c2"),  # 7: plain text
]


@pytest.fixture(scope="module")
def diffs(
    sh: Sh, history: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[Result]]:
    # dvc reads a copy: the two tools run at the same time, and dvc locks the repository.
    twin = copy_repo(history, tmp_path_factory.mktemp("history-dvc") / "repo")
    batch = DvcBatch(sh, twin, DIFFS)
    bale = run_bale(sh, history, DIFFS)
    return {"dvc": batch.results(), "bale": bale}


def _unordered(diff: dict[str, list[Any]]) -> dict[str, list[str]]:
    return {k: sorted(json.dumps(e, sort_keys=True) for e in v) for k, v in diff.items()}


def test_diff_json_lists_the_same_changes_as_dvc(diffs: dict[str, list[Result]]) -> None:
    dvc, bale = diffs["dvc"], diffs["bale"]
    assert all(r.ok for r in dvc + bale)
    expected = dvc[2].json()
    assert expected["renamed"] == [{"path": {"old": "d/x", "new": "d/x_renamed"}}]
    got = bale[2].json()
    got.pop("not in cache", None)  # see test_diff_json_between_commits_has_no_not_in_cache
    assert _unordered(got) == _unordered(expected)
    assert _unordered(bale[3].json()) == _unordered(dvc[3].json())


def test_diff_json_without_changes_is_an_empty_object(diffs: dict[str, list[Result]]) -> None:
    assert [r.json() for r in diffs["dvc"][:2]] == [{}, {}]
    assert [r.json() for r in diffs["bale"][:2]] == [{}, {}]


def test_diff_json_between_commits_has_no_not_in_cache(diffs: dict[str, list[Result]]) -> None:
    assert "not in cache" not in diffs["dvc"][2].json()
    assert "not in cache" not in diffs["bale"][2].json()


def test_diff_json_entries_are_sorted_by_path(diffs: dict[str, list[Result]]) -> None:
    expected = [{"path": "e/"}, {"path": "e/q"}, {"path": "e/r"}]
    assert diffs["dvc"][4].json()["added"] == expected
    assert diffs["bale"][4].json()["added"] == expected


def test_diff_reports_a_renamed_directory(diffs: dict[str, list[Result]]) -> None:
    dvc = diffs["dvc"][5].json()
    assert {"path": {"old": "e/", "new": "e2/"}} in dvc["renamed"]
    bale = diffs["bale"][5].json()
    bale.pop("not in cache", None)  # see test_diff_json_between_commits_has_no_not_in_cache
    assert _unordered(bale) == _unordered(dvc)


def test_diff_pairs_every_rename_of_identical_files(diffs: dict[str, list[Result]]) -> None:
    dvc, bale = diffs["dvc"][6].json(), diffs["bale"][6].json()
    assert (dvc["added"], dvc["deleted"], len(dvc["renamed"])) == ([], [], 2)
    assert (bale["added"], bale["deleted"], len(bale["renamed"])) == ([], [], 2)


def test_diff_plain_output_matches_dvc(diffs: dict[str, list[Result]]) -> None:
    dvc = diffs["dvc"][7].out
    assert "files summary: 2 added, 2 deleted, 1 renamed, 2 modified" in dvc
    assert diffs["bale"][7].out == dvc


# --------------------------------------------------------------------------
# gc's scopes: what each keeps, against dvc's gc on twin copies of one history


@pytest.fixture(scope="module")
def gc_history(sh: Sh, dvc_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five versions of ``a.txt`` in the cache: v1 (an old commit), v2 (tag
    t2, with a side branch on it), v3 (HEAD), an experiment of v3 (a ref
    under ``refs/exps``, the commit on no branch) and v4 (the workspace,
    uncommitted). Written by bale, whose .dvc files and cache equal dvc's."""
    root = copy_repo(dvc_template, tmp_path_factory.mktemp("gc-history") / "repo")
    run_bale(
        sh,
        root,
        [
            "echo v1 > a.txt",
            ("add", "a.txt"),
            commit_all("v1"),
            "echo v2 > a.txt",
            ("add", "a.txt"),
            commit_all("v2") + " && git tag t2 && git branch side",
            "echo v3 > a.txt",
            ("add", "a.txt"),
            commit_all("v3"),
            "git checkout -q -b tmp && echo exp > a.txt",
            ("add", "a.txt"),
            commit_all("exp") + " && b=$(git rev-parse HEAD~1)"
            " && git update-ref refs/exps/$(echo $b | cut -c1-2)/$(echo $b | cut -c3-)/trial HEAD"
            " && git checkout -q - && git branch -qD tmp",
            "echo v4 > a.txt",
            ("add", "a.txt"),
        ],
    )
    assert len(list((root / ".dvc/cache/files/md5").rglob("*"))) == 5 + 5  # 5 dirs, 5 files
    return root


GC_SCOPES = [
    ("-w",),
    ("--rev", "HEAD"),
    ("--rev", "HEAD", "-n", "2"),
    ("-a",),
    ("-a", "-n", "2"),
    ("-T",),
    ("-A",),
    ("--all-experiments",),
    ("--date", "2000-01-01"),
    ("--date", "2999-01-01"),
]


@pytest.mark.parametrize("scope", GC_SCOPES, ids=" ".join)
def test_gc_scopes_keep_what_dvcs_keep(
    sh: Sh, gc_history: Path, tmp_path: Path, scope: tuple[str, ...]
) -> None:
    steps: list[Step] = [("gc", "-f", *scope)]
    dvc, bale, d, b = differential(sh, gc_history, tmp_path, steps)
    assert_same_outcomes(steps, dvc, bale)
    assert_same_state(sh, d, b)


@pytest.mark.parametrize(
    "args",
    [("-n", "2"), ("-w", "-n", "2"), ("-w", "--not-in-remote", "-c")],
    ids=" ".join,
)
def test_gc_refuses_what_dvc_refuses(
    sh: Sh, gc_history: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    steps: list[Step] = [("gc", "-f", *args)]
    dvc, bale, d, b = differential(sh, gc_history, tmp_path, steps)
    assert not dvc[0].ok and not bale[0].ok, (dvc[0], bale[0])
    assert bale[0].err.startswith("ERROR: gc") and len(bale[0].err.splitlines()) == 1
    assert_same_state(sh, d, b)


def test_gc_not_in_remote_keeps_only_what_the_remote_lacks_like_dvc(
    sh: Sh, gc_history: Path, tmp_path: Path
) -> None:
    """v3 and v4 pushed (from their commits); then gc --not-in-remote -A
    keeps v1, v2 and the experiment, and drops what the remote holds."""
    d, b = twins(sh, gc_history, tmp_path)
    for root in (d, b):
        store = tmp_path / f"{root.name}-store"
        store.mkdir()
        sh.dvc("remote", "add", "--local", "-d", "store", str(store), cwd=root)
        sh.dvc("push", "-q", cwd=root)  # v4, the workspace
        sh.git("stash", "-q", cwd=root)
        sh.dvc("push", "-q", cwd=root)  # v3
        sh.git("stash", "pop", "-q", cwd=root)
    gc: list[Step] = [("gc", "-f", "-A", "--not-in-remote")]
    batch = DvcBatch(sh, d, gc)
    bale = run_bale(sh, b, gc)
    dvc = batch.results()
    assert_same_outcomes(gc, dvc, bale)
    assert_same_state(sh, d, b)
    cached = {p.read_text() for p in (b / ".dvc/cache/files/md5").rglob("*") if p.is_file()}
    assert cached == {"v1\n", "v2\n"}


def test_gc_skip_failed_passes_over_an_unreadable_revision_like_dvc(
    sh: Sh, gc_history: Path, tmp_path: Path
) -> None:
    broken = (
        "git stash -q && printf 'outs: [\\n' > b.dvc && git add b.dvc && git commit -qm broken"
        " && git rm -q b.dvc && git commit -qm fixed && git stash pop -q"
    )
    steps: list[Step] = [("gc", "-f", "-A"), ("gc", "-f", "-A", "--skip-failed")]
    dvc, bale, d, b = differential(sh, gc_history, tmp_path, steps, broken)
    assert_same_outcomes(steps, dvc, bale)
    assert [r.ok for r in bale] == [False, True]
    assert "b.dvc" in bale[0].err and "b.dvc" in bale[1].err
    assert_same_state(sh, d, b)


def test_gc_projects_keep_what_another_repository_sharing_the_cache_uses(
    sh: Sh, gc_history: Path, tmp_path: Path
) -> None:
    """A second repository whose cache is this one's, using v1: ``-p`` keeps v1."""
    d, b = twins(sh, gc_history, tmp_path)
    for root in (d, b):
        other = copy_repo(gc_history, tmp_path / f"{root.name}-other")
        sh.git("checkout", "-q", "HEAD~2", "--", "a.txt.dvc", cwd=other)  # v1
        sh.dvc("cache", "dir", "--local", str(root / ".dvc/cache"), cwd=other)
    steps: list[Step] = [("gc", "-f", "-w", "-p", "../dvc-other")]
    batch = DvcBatch(sh, d, steps)
    bale = run_bale(sh, b, [("gc", "-f", "-w", "-p", "../bale-other")])
    dvc = batch.results()
    assert_same_outcomes(steps, dvc, bale)
    assert_same_state(sh, d, b)
    cached = {p.read_text() for p in (b / ".dvc/cache/files/md5").rglob("*") if p.is_file()}
    assert cached == {"v1\n", "v4\n"}
