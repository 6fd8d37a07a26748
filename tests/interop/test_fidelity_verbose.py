"""What ``pull`` and ``checkout`` say they changed, and what ``-v`` tells of
every data command, against dvc 3.67.1 on twin repositories with a folder
remote each (issue 24, item 6).

The summaries are compared byte for byte with dvc's: an ``A``/``M``/``D``
line per changed output, then dvc's counts ("4 files fetched and 3 files
added", "1 file modified"), and "Everything is up to date." only when
nothing was fetched or changed. ``-v`` is bale's own words, on stderr; the
tests check its substance: the remote and its URL, what was moved and what
skipped, which revisions were read, and the time the command took.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.interop.conftest import copy_repo
from tests.interop.test_dvc_differential import (
    Result,
    Sh,
    Step,
    commit_all,
    differential,
    run_bale,
)
from tests.interop.test_fidelity_report import SETUP

pytestmark = pytest.mark.interop

# The last -v line of every command.
FINISHED = re.compile(r"^DEBUG: [\w-]+ finished in \d+\.\d{3} s, exit status \d+$")


def test_pull_names_each_change_and_counts_them_like_dvc(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    steps: list[Step] = [
        ("add", "-q", "data", "model.pkl"),
        commit_all("v1"),
        ("push", "-q"),
        # a fresh clone: no data, no cache
        "rm -rf data model.pkl .dvc/cache .dvc/tmp",
        ("pull",),
        # nothing to do
        ("pull",),
        # one file deleted
        "rm model.pkl",
        ("pull",),
        # one file modified: refused without --force, restored with it
        "echo changed > model.pkl",
        ("pull",),
        ("pull", "--force"),
        # a directory output with one file changed, then with one file added
        "echo changed > data/b",
        ("pull", "-f"),
        "echo new > data/new",
        ("pull", "-f"),
        # fetched but nothing to check out: only the count
        "rm -rf .dvc/cache",
        ("pull",),
    ]
    dvc, bale, _d, _b = differential(sh, dvc_template, tmp_path, steps, SETUP)
    for i, step in enumerate(steps):
        if isinstance(step, str):
            assert dvc[i].ok and bale[i].ok, (step, dvc[i].err, bale[i].err)
            continue
        assert (bale[i].ok, bale[i].out) == (dvc[i].ok, dvc[i].out), (i, step, dvc[i], bale[i])
    # What dvc says, spelled out (the comparison above would pass if both were silent).
    assert [dvc[i].out for i in (4, 5, 7, 9, 10, 12, 14, 16)] == [
        "A       data/\nA       model.pkl\n4 files fetched and 3 files added\n",
        "Everything is up to date.\n",
        "A       model.pkl\n1 file added\n",
        "",  # dvc fails before changing anything, and says nothing on stdout
        "M       model.pkl\n1 file modified\n",
        "M       data/\n1 file modified\n",
        "M       data/\n1 file deleted\n",
        "4 files fetched\n",
    ]
    # bale's refusal names the file
    assert "model.pkl" in bale[9].err and "--force" in bale[9].err


def test_push_and_fetch_report_what_moved_before_naming_what_is_missing(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    # model.pkl's object is in neither the cache nor the remote.
    steps: list[Step] = [
        ("add", "-q", "data", "model.pkl"),
        "rm -rf .dvc/cache/files/md5/$(md5sum model.pkl | cut -c1-2)",
        ("push",),
        ("push",),
        "rm -rf .dvc/cache",
        ("fetch",),
        ("fetch",),
    ]
    dvc, bale, _d, _b = differential(sh, dvc_template, tmp_path, steps, SETUP)
    for i in (2, 3, 5, 6):
        assert bale[i].out == dvc[i].out, (steps[i], dvc[i], bale[i])
        # dvc warns and exits 0; bale fails, naming what is missing (README)
        assert dvc[i].ok and not bale[i].ok
        assert "model.pkl" in bale[i].err or "files/md5/" in bale[i].err
    assert [dvc[i].out for i in (2, 3, 5, 6)] == [
        "3 files pushed\n",
        "Everything is up to date.\n",
        "3 files fetched\n",
        "Everything is up to date.\n",
    ]


def test_checkout_counts_like_dvc(sh: Sh, dvc_template: Path, tmp_path: Path) -> None:
    steps: list[Step] = [
        ("add", "-q", "data", "model.pkl"),
        commit_all("v1"),
        "rm data/a model.pkl",
        ("checkout", "--summary"),
        "echo changed > data/b && echo new > data/new",
        ("checkout", "-f", "--summary"),
        ("checkout", "--summary"),
        "rm -rf data",
        ("checkout",),
        ("checkout",),
        # an empty directory made again: named, though no file changed
        "mkdir empty",
        ("add", "-q", "empty"),
        "rmdir empty",
        ("checkout",),
        "rmdir empty",
        ("checkout", "--summary"),
    ]
    dvc, bale, _d, _b = differential(sh, dvc_template, tmp_path, steps, SETUP)
    for i, step in enumerate(steps):
        if not isinstance(step, str):
            assert (bale[i].ok, bale[i].out) == (dvc[i].ok, dvc[i].out), (i, step)
    assert [dvc[i].out for i in (3, 5, 6, 8, 9, 13, 15)] == [
        "2 files added\n",
        "1 file modified and 1 file deleted\n",
        "No changes.\n",
        "A       data/\n",
        "",
        "A       empty/\n",
        "No changes.\n",
    ]


def _debug(r: Result) -> list[str]:
    """bale's -v lines, which open with which bale and the command line and
    end with the time the command took."""
    lines = [ln for ln in r.err.splitlines() if ln.startswith("DEBUG: ")]
    assert lines and FINISHED.match(lines[-1]), r.err
    assert lines[0].startswith("DEBUG: bale ") and lines[1].startswith("DEBUG: command: bale ")
    return lines


def test_verbose_tells_what_each_data_command_read_moved_and_skipped(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    root = copy_repo(dvc_template, tmp_path / "repo")
    sh.run(["sh", "-c", SETUP], root)
    steps: list[Step] = [
        ("add", "-v", "data", "model.pkl"),  # 0
        commit_all("v1"),
        ("push", "-v"),  # 2
        ("push", "-v"),  # 3: nothing to send
        "rm -rf .dvc/cache data/a",
        ("fetch", "-v"),  # 5
        ("pull", "-v"),  # 6: fetched already, checks out data/a
        ("status", "-c", "-v"),  # 7
        ("status", "-v"),  # 8
        "echo a2 > data/a",
        ("commit", "-v"),  # 10
        ("diff", "-v", "HEAD"),  # 11
        commit_all("v2"),
        ("push", "-A", "-v"),  # 13
        ("gc", "-w", "-f", "-v"),  # 14
        ("move", "-v", "model.pkl", "model.bin"),  # 15
        ("remove", "-v", "model.bin.dvc"),  # 16
        ("checkout", "-v", "--relink"),  # 17
    ]
    r = run_bale(sh, root, steps)
    for i, step in enumerate(steps):
        assert r[i].ok, (step, r[i].err)
    remote = f"remote 'r' ({root}.remote)"
    cache = str(root / ".dvc" / "cache")
    said = {i: "\n".join(_debug(r[i])) for i, step in enumerate(steps) if not isinstance(step, str)}

    # add/commit: what was read and hashed, what the stat cache gave, what was stored
    assert "data: md5 " in said[0] and "2 file(s), 2 read and hashed, 0 taken from" in said[0]
    assert f"2 newly stored in {cache}" in said[0]
    assert "saved data.dvc" in said[0] and "added /model.pkl to .gitignore" in said[0]
    assert "1 read and hashed, 1 taken from the stat cache" in said[10]
    assert "0 read and hashed" in said[10]  # model.pkl: unchanged, not read again
    # push/fetch/pull: the remote and its URL, what moved and what was skipped
    for i in (2, 3, 5, 6, 13):
        assert remote in said[i] and cache in said[i], said[i]
    assert re.search(r"pushed 4 objects, \d+ B in [\d.]+ s; 0 were on the remote already", said[2])
    assert re.search(r"pushed 0 objects, 0 B in [\d.]+ s; 4 were on the remote already", said[3])
    assert re.search(r"fetched 4 objects, .*; 0 were in the cache already \(skipped\)", said[5])
    assert re.search(r"fetched 0 objects, .*; 4 were in the cache already \(skipped\)", said[6])
    assert "data: 1 added, 0 modified, 0 deleted, 1 unchanged" in said[6]
    # the fetch's summary comes before the checkout's lines
    assert said[6].index("fetched 0 objects") < said[6].index("checking out data")
    # status -c: the remote, and how many objects it was asked about
    assert f"with {remote}" in said[7]
    assert "asked about 4 objects: 4 there, 0 not; 4 in the cache" in said[7]
    assert "data: up to date with data.dvc" in said[8]
    # status: how many files it read against what the stat cache answered
    assert re.search(r"data: [0-2] of 2 file\(s\) read and hashed, the rest answered", said[8])
    assert "1 of 1 file(s) read and hashed" not in said[8]  # model.pkl: its stat is known
    # diff: which commit, and what was read from the cache
    assert re.search(r"HEAD is commit [0-9a-f]{12}: 2 output\(s\) recorded there", said[11])
    assert "1 directory listing(s) read from the cache" in said[11]
    # -A: which revisions were read (SETUP's commit, v1, v2)
    assert re.search(r"read 3 git revision\(s\) \(([0-9a-f]{7}(, )?){3}\)", said[13])
    # gc: what it keeps, and where
    assert f"in the cache {cache}" in said[14]
    # move/remove: the files renamed, saved, deleted, and the .gitignore edits
    assert "renamed model.pkl to model.bin" in said[15]
    assert "saved model.bin.dvc" in said[15] and "deleted model.pkl.dvc" in said[15]
    assert "removed /model.pkl from .gitignore" in said[15]
    assert "deleted model.bin.dvc" in said[16] and "model.bin: left in the workspace" in said[16]
    assert f"from the cache {cache}" in said[17]
    # -v changes nothing on stdout: what a script reads is the same
    assert r[3].out == "Everything is up to date.\n"
    assert r[6].out == "M       data/\n1 file added\n"


def test_verbose_tells_where_imports_come_from_and_why_update_downloads(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    source = tmp_path / "source.txt"
    source.write_text("one\n")
    root = copy_repo(dvc_template, tmp_path / "repo")
    sh.run(["sh", "-c", SETUP], root)
    steps: list[Step] = [
        ("import-url", "-v", str(source), "f.txt"),  # 0
        ("update", "-v", "f.txt.dvc"),  # 1
        f"echo two > {source}",
        ("update", "-v", "f.txt.dvc"),  # 3
        ("add", "-q", "data"),
        commit_all("data"),
        ("get", "-v", ".", "data", "-o", "copy"),  # 6
        ("repro", "-v"),  # 7: no dvc.yaml: fails, and -v still ends with the time
    ]
    r = run_bale(sh, root, steps)
    for i, step in enumerate(steps[:-1]):
        assert r[i].ok, (step, r[i].err)
    assert not r[7].ok and r[7].err.endswith(", exit status 1\n")
    said = {
        i: "\n".join(_debug(r[i]))
        for i, s in enumerate(steps)
        if isinstance(s, tuple) and "-v" in s
    }
    assert f"{source}: read where it lies and stored in the cache" in said[0]
    assert f"{source}: recorded as md5 " in said[0]
    assert ": unchanged; the output matches its record" in said[1]
    assert ": changed; the output matches its record" in said[3]
    assert f"{source}: read where it lies" in said[3]
    assert re.search(r"source \.: HEAD is commit [0-9a-f]{40}, read in place", said[6])
    assert f"2 file(s) read from its cache {root / '.dvc' / 'cache'}" in said[6]
    assert "ERROR: " in r[7].err
