"""``bale import`` and ``bale update`` between bale repositories, md5 and blake3."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import Run, read_tree, write_tree
from tests.integration.kills import assert_settled, killed_at
from tests.integration.test_get import make_source


@pytest.fixture(autouse=True)
def _clones_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def make_dest(tmp_path: Path, run: Run) -> Path:
    dest = tmp_path / "dest"
    dest.mkdir()
    run("git", "init", "-q", cwd=dest)
    run("bale", "init", "-q", "--hash", "md5", cwd=dest)
    return dest


@pytest.mark.parametrize("hash", ["md5", "blake3"])
def test_import_tracks_the_source_output_and_update_fetches_only_what_changed(
    tmp_path: Path, run: Run, hash: str
) -> None:
    src = make_source(tmp_path, run, hash)
    dest = make_dest(tmp_path, run)
    url = f"file://{src}"
    run("bale", "import", url, "data/dir", "-o", "d", cwd=dest)
    run("bale", "import", url, "data/README", cwd=dest)
    assert read_tree(dest / "d") == {"a": b"1\n", "sub/b": b"2\n"}
    assert (dest / "README").read_text() == "r\n"
    assert (dest / ".gitignore").read_text() == "/d\n/README\n"
    assert "Data and pipelines are up to date." in run("bale", "status", cwd=dest).stdout
    before = (dest / "d.dvc").read_text()
    commit = run("git", "rev-parse", "HEAD", cwd=src).stdout.strip()
    lineage = json.loads(run("bale", "lineage", "--json", "d/a", cwd=dest).stdout)
    assert lineage["imported_from"] == {
        "url": url,
        "rev": None,
        "rev_lock": commit,
        "path": "data/dir",
    }
    assert lineage["remote"] is None
    text = run("bale", "lineage", "d", cwd=dest).stdout
    assert f"tracked by: d.dvc (imported from data/dir in {url} at {commit})" in text
    record = yaml.safe_load(before)
    assert record["frozen"] is True and record["deps"][0]["repo"]["url"] == url
    # native data is hashed again for this dvc-format repository, as dvc would
    assert record["outs"][0]["hash"] == "md5" and len(record["outs"][0]["md5"]) == 36

    # Nothing new: update leaves the file alone.
    out = run("bale", "update", "d.dvc", cwd=dest)
    assert "'d.dvc' didn't change, skipping" in out.stderr + out.stdout
    assert (dest / "d.dvc").read_text() == before

    # One file changes in the source: update fetches that file and the new tree.
    write_tree(src, {"data/dir/a": "one\n"})
    run("bale", "add", "data/dir", cwd=src)
    run("bale", "push", cwd=src)
    run("git", "commit", "-qam", "two", cwd=src)
    cache = dest / ".dvc" / "cache"
    objects = {p for p in cache.rglob("*") if p.is_file()}
    untouched = (dest / "d" / "sub" / "b").stat().st_ino
    run("bale", "update", "d", cwd=dest)
    # Only the changed file was rewritten in the workspace.
    assert (dest / "d" / "sub" / "b").stat().st_ino == untouched
    new = {p for p in cache.rglob("*") if p.is_file()} - objects
    assert len(new) == 2  # the new file, the new tree
    assert read_tree(dest / "d") == {"a": b"one\n", "sub/b": b"2\n"}
    commit = run("git", "rev-parse", "HEAD", cwd=src).stdout.strip()
    assert yaml.safe_load((dest / "d.dvc").read_text())["deps"][0]["repo"]["rev_lock"] == commit
    assert "Data and pipelines are up to date." in run("bale", "status", "d.dvc", cwd=dest).stdout
    # README.dvc was not updated: its source moved on (as dvc status says).
    status = run("bale", "status", "README.dvc", cwd=dest).stdout
    assert f"update available:   data/README ({url})" in status

    # --rev moves back, and is recorded.
    run("bale", "update", "--rev", "HEAD~1", "d.dvc", cwd=dest)
    assert yaml.safe_load((dest / "d.dvc").read_text())["deps"][0]["repo"]["rev"] == "HEAD~1"
    assert read_tree(dest / "d") == {"a": b"1\n", "sub/b": b"2\n"}


def test_import_refuses_to_overwrite_and_no_exec_writes_only_the_file(
    tmp_path: Path, run: Run
) -> None:
    src = make_source(tmp_path, run, "md5")
    dest = make_dest(tmp_path, run)
    (dest / "file.txt").write_text("mine\n")
    err = run("bale", "import", str(src), "data/file.txt", cwd=dest, ok=False).stderr
    assert "file.txt: already exists here; use -f to overwrite it" in err
    assert not (dest / "file.txt.dvc").exists()
    run("bale", "import", str(src), "data/file.txt", "-f", cwd=dest)
    assert (dest / "file.txt").read_text() == "hello\n"

    run("bale", "import", str(src), "data/dir", "-o", "later", "--no-exec", cwd=dest)
    assert yaml.safe_load((dest / "later.dvc").read_text()) == {
        "frozen": True,
        "deps": [{"path": "data/dir", "repo": {"url": str(src)}}],
        "outs": [{"hash": "md5", "path": "later"}],
    }
    assert not (dest / "later").exists()


@pytest.mark.parametrize("hash", ["md5", "blake3"])
def test_pull_fetches_imports_from_their_source_remote_not_ours(
    tmp_path: Path, run: Run, hash: str
) -> None:
    src = make_source(tmp_path, run, hash)
    dest = make_dest(tmp_path, run)
    url = f"file://{src}"
    run("bale", "import", url, "data/dir", "-o", "d", cwd=dest)
    run("bale", "import", url, "data/dir/sub", "-o", "sub", cwd=dest)
    run("bale", "import", url, "data/README", cwd=dest)
    run("git", "add", "-A", cwd=dest)
    run("git", "commit", "-qm", "imports", cwd=dest)
    clone = tmp_path / "clone"
    run("git", "clone", "-q", str(dest), str(clone), cwd=tmp_path)
    run("bale", "pull", cwd=clone)
    assert read_tree(clone / "d") == {"a": b"1\n", "sub/b": b"2\n"}
    assert read_tree(clone / "sub") == {"b": b"2\n"}
    assert (clone / "README").read_text() == "r\n"
    assert "Data and pipelines are up to date." in run("bale", "status", cwd=clone).stdout

    # The source's remote lost the data: pull names the .dvc file and the source.
    for p in [clone / ".dvc" / "cache", clone / "d"]:
        shutil.rmtree(p)
    shutil.rmtree(tmp_path / "remote")
    (tmp_path / "remote").mkdir()
    err = run("bale", "fetch", "d.dvc", cwd=clone, ok=False).stderr
    assert "d.dvc: cannot fetch from its source: " in err and "'r'" in err


@pytest.mark.parametrize(("point", "n"), [("upload", 2), ("temp", 4), ("temp", 5)])
def test_a_killed_import_leaves_nothing_and_the_rerun_completes(
    tmp_path: Path, run: Run, point: str, n: int
) -> None:
    src = make_source(tmp_path, run, "md5")
    dest = make_dest(tmp_path, run)
    # Killed while objects come from the source's remote (upload, and the
    # temp files of the 3 objects), or while the output is checked out
    # (temp 4 and 5: its files).
    killed_at(point, n, dest, "import", f"file://{src}", "data/dir", "-o", "d")
    assert not (dest / "d").exists() and not (dest / "d.dvc").exists()
    run("bale", "import", f"file://{src}", "data/dir", "-o", "d", cwd=dest)
    assert read_tree(dest / "d") == {"a": b"1\n", "sub/b": b"2\n"}
    assert_settled(dest, run)


def test_update_recursive_moves_every_import_below_and_leaves_other_files(
    tmp_path: Path, run: Run
) -> None:
    src = make_source(tmp_path, run, "md5")
    dest = make_dest(tmp_path, run)
    (dest / "in").mkdir()
    run("bale", "import", str(src), "data/README", "-o", "in/readme", cwd=dest)
    run("bale", "import", str(src), "data/dir/a", "-o", "in/a", cwd=dest)
    write_tree(dest, {"in/mine.txt": "mine\n"})
    run("bale", "add", "in/mine.txt", cwd=dest)
    write_tree(src, {"data/README": "new readme\n", "data/dir/a": "new a\n"})
    run("bale", "add", "data/dir", cwd=src)
    run("git", "add", "-A", cwd=src)
    run("git", "commit", "-qm", "two", cwd=src)
    run("bale", "update", "-R", "in", cwd=dest)
    assert (dest / "in" / "readme").read_text() == "new readme\n"
    assert (dest / "in" / "a").read_text() == "new a\n"
    assert "up to date" in run("bale", "status", cwd=dest).stdout
    err = run("bale", "update", "in/mine.txt.dvc", cwd=dest, ok=False).stderr
    assert "in/mine.txt.dvc: not an import" in err
