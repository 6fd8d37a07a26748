"""Folder remotes: push, fetch, pull, in DVC's layout, verified both ways."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import Run, read_tree, write_tree

DATA = {"a.txt": "alpha\n", "s/b.bin": b"\x00\x01", "s/t/c": "c\n"}


def _setup(md5_repo: Path, run: Run, tmp_path: Path) -> Path:
    write_tree(md5_repo / "data", DATA)
    write_tree(md5_repo, {"one.txt": "1\n"})
    run("bale", "add", "data", "one.txt")
    remote = tmp_path / "store"
    run("bale", "remote", "add", "-d", "store", str(remote))
    return remote


@pytest.mark.interop
def test_remote_add_writes_what_dvc_writes(md5_repo: Path, run: Run) -> None:
    run("bale", "remote", "add", "-d", "r", "../remote1")
    text = (md5_repo / ".dvc" / "config").read_text()
    assert text == "[core]\n    remote = r\n['remote \"r\"']\n    url = ../../remote1\n"
    assert (
        run("bale", "remote", "list").stdout.split() == run("dvc", "remote", "list").stdout.split()
    )
    run("bale", "remote", "remove", "r")
    assert (md5_repo / ".dvc" / "config").read_text().strip() == ""


def test_push_then_pull_into_a_clone_restores_every_byte(
    md5_repo: Path, run: Run, tmp_path: Path
) -> None:
    remote = _setup(md5_repo, run, tmp_path)
    out = json.loads(run("bale", "push", "--json").stdout)
    assert out["copied"] == 5  # 4 files + 1 .dir
    assert json.loads(run("bale", "push", "--json").stdout)["copied"] == 0
    objs = sorted(p.relative_to(remote).as_posix() for p in remote.rglob("*") if p.is_file())
    assert all(o.startswith("files/md5/") for o in objs) and len(objs) == 5
    run("git", "add", "-A")
    run("git", "commit", "-qm", "data")
    clone = tmp_path / "clone"
    run("git", "clone", "-q", str(md5_repo), str(clone))
    run("bale", "pull", cwd=clone)
    assert read_tree(clone / "data") == read_tree(md5_repo / "data")
    assert json.loads(run("bale", "status", "--json", cwd=clone).stdout) == {}


@pytest.mark.interop
def test_dvc_pulls_what_bale_pushed_and_bale_pulls_what_dvc_pushed(
    md5_repo: Path, run: Run, tmp_path: Path
) -> None:
    remote = _setup(md5_repo, run, tmp_path)
    run("bale", "push")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "data")
    clone = tmp_path / "clone"
    run("git", "clone", "-q", str(md5_repo), str(clone))
    run("dvc", "pull", "-q", cwd=clone)
    assert read_tree(clone / "data") == read_tree(md5_repo / "data")
    assert "in sync" in run("dvc", "status", "-c", cwd=clone).stdout
    # The other way: dvc pushes a new version, bale pulls it.
    write_tree(clone / "data", {"a.txt": "from dvc\n"})
    run("dvc", "add", "-q", "data", cwd=clone)
    run("dvc", "push", "-q", cwd=clone)
    shutil.copy(clone / "data.dvc", md5_repo / "data.dvc")
    run("bale", "pull", "--force")
    assert (md5_repo / "data" / "a.txt").read_text() == "from dvc\n"
    assert remote.exists()


def test_a_directory_is_marked_complete_only_when_all_its_files_are_there(
    md5_repo: Path, run: Run, tmp_path: Path
) -> None:
    remote = _setup(md5_repo, run, tmp_path)
    cache = md5_repo / ".dvc" / "cache" / "files" / "md5"
    victim = next(p for p in cache.rglob("*") if p.is_file() and p.read_bytes() == b"c\n")
    victim.chmod(0o644)
    victim.unlink()
    err = run("bale", "push", ok=False).stderr
    assert err.startswith("ERROR: ") and "not in the cache" in err
    assert not list(remote.rglob("*.dir")), "no .dir on the remote while a member is missing"


def test_an_older_dir_on_the_remote_vouches_for_the_files_it_shares(
    md5_repo: Path, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bale import Repo
    from bale.ops import transfer

    monkeypatch.setattr(transfer, "_VOUCH_MIN_FILES", 1)  # it takes 1,000 files otherwise
    remote = _setup(md5_repo, run, tmp_path)
    run("bale", "push")
    # Removed behind the old .dir's back (which a user must not do): the old
    # .dir still vouches for it, so the push does not ask about it.
    gone = next(p for p in remote.rglob("*") if p.is_file() and p.read_bytes() == b"c\n")
    gone.chmod(0o644)
    gone.unlink()
    write_tree(md5_repo / "data", {"a.txt": "edited\n"})
    run("bale", "add", "data")
    pushed = Repo(md5_repo).push()
    assert pushed.copied == 2  # the edited file and the new .dir
    assert not gone.exists()
    # With no older .dir on the remote, every file is checked: the lost one is sent.
    for d in remote.rglob("*.dir"):
        d.chmod(0o644)
        d.unlink()
    pushed = Repo(md5_repo).push()
    assert pushed.copied == 2  # the lost file and the new .dir again
    assert gone.read_bytes() == b"c\n"


def test_a_corrupt_remote_object_never_enters_the_cache(
    md5_repo: Path, run: Run, tmp_path: Path
) -> None:
    remote = _setup(md5_repo, run, tmp_path)
    run("bale", "push")
    bad = next(p for p in remote.rglob("*") if p.is_file() and p.read_bytes() == b"alpha\n")
    bad.chmod(0o644)
    bad.write_bytes(b"bit rot\n")
    shutil.rmtree(md5_repo / ".dvc" / "cache")
    shutil.rmtree(md5_repo / "data")
    err = run("bale", "pull", ok=False).stderr
    assert "corrupt" in err
    cached = [p.read_bytes() for p in (md5_repo / ".dvc").rglob("*") if p.is_file()]
    assert b"bit rot\n" not in cached


def test_blake3_data_and_unknown_remote_kinds_are_clear_errors(repo: Path, run: Run) -> None:
    write_tree(repo, {"f.txt": "x"})
    run("bale", "add", "f.txt")
    run("bale", "remote", "add", "-d", "oss", "oss://bucket/prefix")
    err = run("bale", "push", ok=False).stderr
    assert err.startswith("ERROR: ")
    assert "oss://" in err or "blake3" in err


def test_scopes_reach_the_data_of_other_revisions(md5_repo: Path, run: Run, tmp_path: Path) -> None:
    remote = tmp_path / "store"
    run("bale", "remote", "add", "-d", "store", str(remote))
    for version in ("v1\n", "v2\n", "v3\n"):
        write_tree(md5_repo, {"f.txt": version})
        run("bale", "add", "f.txt")
        run("git", "add", "-A")
        run("git", "commit", "-qm", version)
    run("git", "tag", "first", "HEAD~2")
    assert json.loads(run("bale", "push", "--json").stdout)["copied"] == 1
    assert json.loads(run("bale", "status", "-c", "-T", "--json").stdout) == {"f.txt": "new"}
    assert json.loads(run("bale", "push", "-T", "--json").stdout)["copied"] == 1
    assert json.loads(run("bale", "push", "-A", "--json").stdout)["copied"] == 1
    assert json.loads(run("bale", "status", "-c", "-A", "--json").stdout) == {}

    shutil.rmtree(md5_repo / ".dvc" / "cache")
    fetched = json.loads(run("bale", "fetch", "--rev", "HEAD~1", "--json").stdout)
    assert fetched["copied"] == 2  # the workspace's version and HEAD~1's
    run("git", "checkout", "-q", "HEAD~1")
    run("bale", "checkout", "--force")
    assert (md5_repo / "f.txt").read_text() == "v2\n"
    err = run("bale", "push", "--rev", "nope", ok=False).stderr
    assert "unknown git revision 'nope'" in err


def test_the_python_api_pushes_pulls_and_compares_with_the_remote(
    md5_repo: Path, run: Run, tmp_path: Path
) -> None:
    import bale

    remote = _setup(md5_repo, run, tmp_path)
    repo = bale.Repo(md5_repo)
    assert repo.status(cloud=True).states["one.txt"] == "new"
    pushed = repo.push()
    assert (pushed.copied, pushed.remotes) == (5, ["store"])
    assert repo.status(cloud=True, scope=bale.Scope()).clean
    shutil.rmtree(md5_repo / ".dvc" / "cache")
    shutil.rmtree(md5_repo / "data")
    assert bale.Repo(md5_repo).pull().copied == 5
    assert read_tree(md5_repo / "data")["s/t/c"] == b"c\n"
    assert remote.is_dir()


def test_bale_serve_serves_a_folder_until_terminated(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import urllib.request

    folder = tmp_path / "served"
    (folder / "files" / "md5" / "ab").mkdir(parents=True)
    (folder / "files" / "md5" / "ab" / ("c" * 30)).write_bytes(b"payload")
    cmd = [sys.executable, "-m", "bale", "serve", str(folder), "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith(f"Serving {folder} at http://127.0.0.1:")
        url = line.split(" at ")[1].split()[0]
        with urllib.request.urlopen(f"{url}files/md5/ab/{'c' * 30}") as resp:
            assert resp.read() == b"payload"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
