"""The local workflow end to end through the CLI, in both hash modes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from .conftest import Run, read_tree, write_tree

DATA = {
    "a.txt": "alpha\n",
    "sub/b.bin": b"\x00\x01\x02",
    "sub/deeper/c": "",
    "é 日本.txt": "unicode\n",
}


def test_init_creates_what_dvc_init_creates_and_stages_it(repo: Path, run: Run) -> None:
    assert (repo / ".dvc" / "config").read_bytes() == b""
    assert (repo / ".dvc" / ".gitignore").read_text().startswith("/config.local\n/tmp\n/cache\n")
    assert (repo / ".dvcignore").read_text().startswith("# Add patterns")
    staged = run("git", "diff", "--cached", "--name-only").stdout.split()
    assert {".dvc/.gitignore", ".dvc/config", ".dvcignore", ".dvc/bale.conf"} <= set(staged)


def test_init_outside_git_needs_no_scm(tmp_path: Path, run: Run) -> None:
    d = tmp_path / "repo"
    d.mkdir()
    err = run("bale", "init", ok=False).stderr
    assert "git" in err and "--no-scm" in err
    run("bale", "init", "--no-scm")
    assert "no_scm = True" in (d / ".dvc" / "config").read_text()


def test_add_status_checkout_round_trip(repo: Path, run: Run) -> None:
    write_tree(repo / "data", DATA)
    write_tree(repo, {"model.bin": b"weights"})
    run("bale", "add", "data", "model.bin")
    assert (repo / "data.dvc").exists() and (repo / "model.bin.dvc").exists()
    assert (repo / ".gitignore").read_text().splitlines() == ["/data", "/model.bin"]
    assert json.loads(run("bale", "status", "--json").stdout) == {}
    before = read_tree(repo / "data")
    import shutil

    shutil.rmtree(repo / "data")
    (repo / "model.bin").unlink()
    status = json.loads(run("bale", "status", "--json").stdout)
    assert status["data.dvc"] == [{"changed outs": {"data": "deleted"}}]
    run("bale", "checkout")
    assert read_tree(repo / "data") == before
    assert (repo / "model.bin").read_bytes() == b"weights"
    assert json.loads(run("bale", "status", "--json").stdout) == {}


def test_status_reports_modified_files_granularly(repo: Path, run: Run) -> None:
    write_tree(repo / "data", DATA)
    run("bale", "add", "data")
    write_tree(repo / "data", {"a.txt": "changed\n", "new.txt": "n"})
    (repo / "data" / "sub" / "b.bin").unlink()
    out = json.loads(run("bale", "status", "--granular", "--json").stdout)
    files = out["data.dvc"][0]["files"]
    assert files["modified"] == ["a.txt"]
    assert files["added"] == ["new.txt"]
    assert files["deleted"] == ["sub/b.bin"]
    run("bale", "commit")
    assert json.loads(run("bale", "status", "--json").stdout) == {}


def test_checkout_refuses_to_lose_uncommitted_work(repo: Path, run: Run) -> None:
    write_tree(repo / "data", DATA)
    run("bale", "add", "data")
    (repo / "data" / "a.txt").write_text("precious uncommitted work\n")
    err = run("bale", "checkout", ok=False).stderr
    assert err.startswith("ERROR: ") and "--force" in err and "a.txt" in err
    assert (repo / "data" / "a.txt").read_text() == "precious uncommitted work\n"
    run("bale", "checkout", "--force")
    assert (repo / "data" / "a.txt").read_text() == "alpha\n"


def test_checkout_removes_files_the_directory_no_longer_holds(repo: Path, run: Run) -> None:
    write_tree(repo / "data", DATA)
    run("bale", "add", "data")
    write_tree(repo / "data", {"extra.txt": "x"})
    run("bale", "add", "data")  # now in the cache
    run("git", "add", "-A")
    run("git", "commit", "-qm", "with extra")
    run("git", "checkout", "-q", "HEAD", "--", "data.dvc")
    (repo / "data" / "extra.txt").unlink()
    run("bale", "add", "data")
    write_tree(repo / "data", {"extra.txt": "x"})  # content is cached: safe to remove
    run("bale", "checkout")
    assert not (repo / "data" / "extra.txt").exists()


def test_checkout_of_a_path_inside_a_tracked_directory(repo: Path, run: Run) -> None:
    write_tree(repo / "data", DATA)
    run("bale", "add", "data")
    import shutil

    shutil.rmtree(repo / "data" / "sub")
    (repo / "data" / "a.txt").unlink()
    run("bale", "checkout", "data/sub")
    assert (repo / "data" / "sub" / "b.bin").read_bytes() == b"\x00\x01\x02"
    assert not (repo / "data" / "a.txt").exists(), "only the named sub-directory"
    run("bale", "checkout", "data/a.txt")
    assert (repo / "data" / "a.txt").read_text() == "alpha\n"


def test_exec_bit_of_a_single_file_survives(repo: Path, run: Run) -> None:
    script = repo / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    run("bale", "add", "run.sh")
    assert "isexec: true" in (repo / "run.sh.dvc").read_text()
    script.unlink()
    run("bale", "checkout")
    assert script.stat().st_mode & stat.S_IXUSR


def test_dvcignore_excludes_files_from_directories(repo: Path, run: Run) -> None:
    write_tree(repo / "data", {"keep.txt": "k", "skip.tmp": "s", "sub/also.tmp": "s"})
    (repo / ".dvcignore").write_text("*.tmp\n")
    out = json.loads(run("bale", "add", "data", "--json").stdout)
    assert out[0]["nfiles"] == 1
    err = run("bale", "add", "data/skip.tmp", ok=False).stderr
    assert "ignored" in err


def test_gc_deletes_only_unreferenced_objects(repo: Path, run: Run) -> None:
    write_tree(repo / "data", DATA)
    run("bale", "add", "data")
    write_tree(repo / "data", {"a.txt": "second version\n"})
    run("bale", "add", "data")
    dry = json.loads(run("bale", "gc", "-w", "--dry", "--json").stdout)
    assert dry["removed"] >= 2  # the old a.txt and the old manifest
    err = run("bale", "gc", "-w", ok=False).stderr
    assert "-f" in err
    run("bale", "gc", "-w", "-f")
    assert json.loads(run("bale", "gc", "-w", "--dry", "--json").stdout)["removed"] == 0
    import shutil

    shutil.rmtree(repo / "data")
    run("bale", "checkout")
    assert (repo / "data" / "a.txt").read_text() == "second version\n"


def test_remove_deletes_dvcfile_and_gitignore_line(repo: Path, run: Run) -> None:
    write_tree(repo, {"f.txt": "x"})
    run("bale", "add", "f.txt")
    run("bale", "remove", "f.txt.dvc")
    assert not (repo / "f.txt.dvc").exists()
    assert not (repo / ".gitignore").exists()
    assert (repo / "f.txt").read_text() == "x"


def test_diff_between_revisions_and_workspace(repo: Path, run: Run) -> None:
    write_tree(repo / "data", DATA)
    run("bale", "add", "data")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "v1")
    write_tree(repo / "data", {"a.txt": "v2\n", "new.txt": "n"})
    os.rename(repo / "data" / "sub" / "b.bin", repo / "data" / "moved.bin")
    d = json.loads(run("bale", "diff", "--json").stdout)
    assert [x["path"] for x in d["added"]] == ["data/new.txt"]
    assert {x["path"] for x in d["modified"]} == {"data/", "data/a.txt"}
    assert d["renamed"] == [{"path": {"old": "data/sub/b.bin", "new": "data/moved.bin"}}]
    run("bale", "add", "data")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "v2")
    d2 = json.loads(run("bale", "diff", "HEAD~1", "HEAD", "--json").stdout)
    assert d2["renamed"] == d["renamed"]
    assert json.loads(run("bale", "diff", "--json").stdout) == {}  # nothing changed, as dvc


@pytest.mark.interop
def test_diff_before_the_first_commit_is_empty_as_in_dvc(md5_repo: Path, run: Run) -> None:
    write_tree(md5_repo / "data", DATA)
    run("bale", "add", "data")
    for tool in ("bale", "dvc"):
        assert json.loads(run(tool, "diff", "--json").stdout) == {}, tool
        assert run(tool, "diff").stdout == "", tool


def test_commands_work_from_a_subdirectory(repo: Path, run: Run) -> None:
    write_tree(repo / "p" / "q", {"f.bin": "x"})
    run("bale", "add", "f.bin", cwd=repo / "p" / "q")
    assert "  path: f.bin\n" in (repo / "p" / "q" / "f.bin.dvc").read_text()
    assert (repo / "p" / "q" / ".gitignore").read_text() == "/f.bin\n"
    assert "up to date" in run("bale", "status", cwd=repo / "p").stdout


def test_config_routes_bale_keys_to_bales_own_file(repo: Path, run: Run) -> None:
    run("bale", "config", "core.hash", "md5")
    assert "hash = md5" in (repo / ".dvc" / "bale.conf").read_text()
    assert "hash" not in (repo / ".dvc" / "config").read_text()
    run("bale", "config", "cache.type", "hardlink,copy")
    assert run("bale", "config", "cache.type").stdout.strip() == "hardlink,copy"
    err = run("bale", "config", "core.bogus", "1", ok=False).stderr
    assert "bogus" in err
    assert run("bale", "cache", "dir").stdout.strip() == str(repo / ".dvc" / "cache")


def test_shared_cache_directories_are_group_writable(repo: Path, run: Run) -> None:
    run("bale", "config", "cache.shared", "group")
    write_tree(repo / "data", DATA)
    run("bale", "add", "data")
    dirs = [p for p in (repo / ".dvc" / "cache").rglob("*") if p.is_dir()]
    assert dirs and all(stat.S_IMODE(d.stat().st_mode) == 0o2775 for d in dirs)


def _backdate(root: Path, seconds: int) -> None:
    """Older mtimes, so the stat cache and tree memos may trust the files."""
    when = os.stat(root).st_mtime - seconds
    for p in [root, *root.rglob("*")]:
        os.utime(p, (when, when), follow_symlinks=False)


def test_status_of_a_remembered_tree_still_sees_every_change(repo: Path, run: Run) -> None:
    write_tree(repo / "data", DATA)
    _backdate(repo / "data", 100)
    run("bale", "add", "data")
    for _ in range(2):  # the first status remembers the tree, the second uses it
        assert json.loads(run("bale", "status", "--json").stdout) == {}
    assert (repo / ".dvc" / "tmp" / "bale" / "parsed.json").exists()

    # Same size, and an mtime older than the remembered one.
    (repo / "data" / "a.txt").write_text("ALPHA\n")
    _backdate(repo / "data", 200)
    out = json.loads(run("bale", "status", "--granular", "--json").stdout)
    files = out["data.dvc"][0]["files"]
    assert files["modified"] == ["a.txt"] and not files["added"] and not files["deleted"]
    run("bale", "checkout", "--force")
    _backdate(repo / "data", 100)
    assert json.loads(run("bale", "status", "--json").stdout) == {}

    # A cache object lost after the tree was remembered.
    objects = [p for p in (repo / ".dvc" / "cache").rglob("*") if p.is_file()]
    victim = next(p for p in objects if p.read_bytes() == b"\x00\x01\x02")
    victim.chmod(0o644)
    victim.unlink()
    out = json.loads(run("bale", "status", "--json").stdout)
    assert out["data.dvc"] == [{"changed outs": {"data": "not in cache"}}]

    # The .dvc file edited by hand: its new text is parsed, not remembered.
    dvcfile = repo / "data.dvc"
    dvcfile.write_text(dvcfile.read_text().replace("path: data", "path: other"))
    out = json.loads(run("bale", "status", "--json").stdout)
    # (still "not in cache" first, as dvc says it, for the object lost above)
    assert out["data.dvc"] == [{"changed outs": {"other": "not in cache"}}]
