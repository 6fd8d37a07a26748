"""The conformance suite: every kind of remote (folder, S3, HTTP) passes the
same tests, through the CLI, as a user would see them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import GIT_ENV, Run, make_repo, read_tree, write_tree
from tests.integration.kills import assert_settled, killed_at

from .conftest import FolderRemote, RemoteUnderTest, S3Remote

DATA = {"a.txt": "alpha\n", "s/b.bin": b"\x00\x01" * 1000, "s/t/c": "c\n", "s/t/same": "c\n"}


def _push_json(run: Run, *args: str) -> dict[str, object]:
    out: dict[str, object] = json.loads(run("bale", "push", "--json", *args).stdout)
    return out


def _setup(repo: Path, run: Run, remote: RemoteUnderTest) -> None:
    write_tree(repo / "data", DATA)
    write_tree(repo, {"one.txt": "1\n"})
    run("bale", "add", "data", "one.txt")
    remote.configure(repo, run)


def _clone(repo: Path, tmp_path: Path) -> Path:
    """A second checkout: the same metafiles and config, no cache, no data."""
    clone = tmp_path / "clone"
    ignore = shutil.ignore_patterns("cache", "tmp", "data", "one.txt", "big.bin")
    shutil.copytree(repo, clone, ignore=ignore)
    return clone


def test_push_then_pull_into_an_empty_clone_restores_every_byte(
    md5_repo: Path, run: Run, remote: RemoteUnderTest, tmp_path: Path
) -> None:
    _setup(md5_repo, run, remote)
    big = bytes(range(256)) * (6 << 10)  # 1.5 MiB: downloaded into a file, not memory
    write_tree(md5_repo, {"big.bin": big})
    run("bale", "add", "big.bin")
    pushed = _push_json(run)
    assert pushed["copied"] == 6  # 4 distinct files + 1 .dir + big.bin
    assert any(k.endswith(".dir") for k in remote.listing())
    assert all(k.startswith("files/md5/") for k in remote.listing())

    clone = _clone(md5_repo, tmp_path)
    run("bale", "pull", cwd=clone)
    assert read_tree(clone / "data") == read_tree(md5_repo / "data")
    assert (clone / "one.txt").read_text() == "1\n"
    assert (clone / "big.bin").read_bytes() == big
    run("bale", "status", cwd=clone)


def test_a_second_push_moves_nothing_and_an_edit_moves_only_what_changed(
    md5_repo: Path, run: Run, remote: RemoteUnderTest
) -> None:
    _setup(md5_repo, run, remote)
    _push_json(run)
    again = _push_json(run)
    # The remote's .dir vouches for the directory (as dvc trusts it): its
    # four files count as present without asking for each.
    assert again["copied"] == 0 and again["present"] == 1 + 4 + 1
    # Without its .dir, the directory is checked file by file again.
    listing = remote.listing()
    alpha = next(k for k in listing if not k.endswith(".dir") and remote.read(k) == b"alpha\n")
    remote.delete(next(k for k in listing if k.endswith(".dir")))
    remote.delete(alpha)
    assert _push_json(run)["copied"] == 2

    (md5_repo / "data" / "a.txt").write_text("changed\n")
    run("bale", "add", "data")
    edit = _push_json(run)
    assert edit["copied"] == 2  # the new file and the new .dir


def test_status_cloud_names_new_deleted_and_in_sync(
    md5_repo: Path, run: Run, remote: RemoteUnderTest
) -> None:
    _setup(md5_repo, run, remote)
    before = json.loads(run("bale", "status", "-c", "--json").stdout)
    assert before == {
        "data": "new",
        "data/a.txt": "new",
        "data/s/b.bin": "new",
        "data/s/t/c": "new",
        "data/s/t/same": "new",
        "one.txt": "new",
    }
    run("bale", "push")
    assert json.loads(run("bale", "status", "-c", "--json").stdout) == {}
    assert "in sync" in run("bale", "status", "-c").stdout

    shutil.rmtree(md5_repo / ".dvc" / "cache")
    after = json.loads(run("bale", "status", "-c", "--json").stdout)
    assert after == {"data": "deleted", "one.txt": "deleted"}


def test_a_directory_missing_a_file_is_never_marked_complete_on_the_remote(
    md5_repo: Path, run: Run, remote: RemoteUnderTest
) -> None:
    _setup(md5_repo, run, remote)
    cache = md5_repo / ".dvc" / "cache"
    alpha = next(p for p in cache.rglob("*") if p.is_file() and p.read_bytes() == b"alpha\n")
    alpha.unlink()
    err = run("bale", "push", ok=False).stderr
    assert err.startswith("ERROR: ") and "not in the cache" in err
    assert not any(k.endswith(".dir") for k in remote.listing())
    assert len(remote.listing()) == 3  # the other files did go


def test_a_corrupt_object_on_the_remote_never_enters_the_cache(
    md5_repo: Path, run: Run, remote: RemoteUnderTest
) -> None:
    _setup(md5_repo, run, remote)
    run("bale", "push")
    key = next(k for k in remote.listing() if remote.read(k) == b"alpha\n")
    remote.write(key, b"bit rot\n")
    shutil.rmtree(md5_repo / ".dvc" / "cache")
    shutil.rmtree(md5_repo / "data")
    err = run("bale", "pull", ok=False).stderr
    assert err.startswith("ERROR: ") and "corrupt" in err and remote.name in err
    cached = [p.read_bytes() for p in (md5_repo / ".dvc" / "cache").rglob("*") if p.is_file()]
    assert b"bit rot\n" not in cached
    assert not [p for p in (md5_repo / ".dvc" / "cache").rglob("*.tmp")]


def test_an_object_missing_on_the_remote_is_reported_and_the_rest_arrive(
    md5_repo: Path, run: Run, remote: RemoteUnderTest
) -> None:
    _setup(md5_repo, run, remote)
    run("bale", "push")
    key = next(k for k in remote.listing() if remote.read(k) == b"alpha\n")
    remote.delete(key)
    shutil.rmtree(md5_repo / ".dvc" / "cache")
    err = run("bale", "fetch", ok=False).stderr
    assert "on no remote" in err
    status = json.loads(run("bale", "status", "-c", "--json").stdout)
    assert status == {"data/a.txt": "missing"}


@pytest.mark.interop
def test_dvc_pulls_what_bale_pushed(md5_repo: Path, run: Run, remote: RemoteUnderTest) -> None:
    _setup(md5_repo, run, remote)
    run("bale", "push")
    shutil.rmtree(md5_repo / ".dvc" / "cache")
    shutil.rmtree(md5_repo / "data")
    run("dvc", "pull", "-q")
    assert read_tree(md5_repo / "data") == {
        k: v.encode() if isinstance(v, str) else v for k, v in DATA.items()
    }
    assert json.loads(run("dvc", "status", "-c", "--json").stdout) == {}


@pytest.mark.interop
def test_bale_pulls_what_dvc_pushed(md5_repo: Path, run: Run, remote: RemoteUnderTest) -> None:
    _setup(md5_repo, run, remote)
    run("dvc", "push", "-q")
    assert json.loads(run("bale", "status", "-c", "--json").stdout) == {}
    shutil.rmtree(md5_repo / ".dvc" / "cache")
    shutil.rmtree(md5_repo / "data")
    run("bale", "pull")
    assert (md5_repo / "data" / "s" / "b.bin").read_bytes() == b"\x00\x01" * 1000


def test_gc_cloud_deletes_only_unreferenced_objects_and_only_when_forced(
    md5_repo: Path, run: Run, remote: RemoteUnderTest
) -> None:
    _setup(md5_repo, run, remote)
    run("bale", "push")
    old_dir = next(k for k in remote.listing() if k.endswith(".dir"))
    old_file = next(k for k in remote.listing() if remote.read(k) == b"alpha\n")
    (md5_repo / "data" / "a.txt").write_text("changed\n")
    run("bale", "add", "data")
    run("bale", "push")
    before = remote.listing()
    err = run("bale", "gc", "-w", "-c", ok=False).stderr
    assert "-f" in err and remote.listing() == before

    dry = json.loads(run("bale", "gc", "-w", "-c", "--dry", "--json").stdout)
    size = len(remote.read(old_dir)) + len(b"alpha\n")
    assert dry["remotes"]["store"] == {"removed": 2, "bytes": size}
    assert remote.listing() == before

    run("bale", "gc", "-w", "-c", "-f")
    assert before - remote.listing() == {old_dir, old_file}
    assert json.loads(run("bale", "status", "-c", "--json").stdout) == {}


def _kill_half_way(
    cwd: Path, command: str, landed: Callable[[], int], total: int, undo: Callable[[], None]
) -> int:
    """Runs ``bale <command> -j 1`` and kills it (SIGKILL) once ``landed``
    counts its first object; returns how many had landed. A transfer that
    ends before the kill reaches it (on a loaded machine the poller may not
    run in time) is undone and run again."""
    env = {**os.environ, **GIT_ENV}
    for _ in range(5):
        cmd = [sys.executable, "-m", "bale", command, "-j", "1"]
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while landed() == 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.kill()
        proc.wait()
        got = landed()
        if 0 < got < total:
            return got
        undo()
    pytest.fail(f"five runs of bale {command} ended before they could be killed half-way")


def test_a_killed_push_leaves_no_directory_claimed_and_resumes(
    md5_repo: Path, run: Run, remote: RemoteUnderTest, tmp_path: Path
) -> None:
    write_tree(md5_repo / "many", {f"f{i:04d}": f"file {i}\n" for i in range(600)})
    run("bale", "add", "many")
    remote.configure(md5_repo, run)

    def undo() -> None:
        for key in remote.listing():
            remote.delete(key)

    _kill_half_way(md5_repo, "push", lambda: len(remote.listing()), 601, undo)
    partial = remote.listing()
    assert not any(k.endswith(".dir") for k in partial)

    resumed = _push_json(run)
    assert resumed["present"] >= len(partial) and resumed["copied"] == 601 - resumed["present"]
    clone = _clone(md5_repo, tmp_path)
    run("bale", "pull", cwd=clone)
    assert read_tree(clone / "many") == read_tree(md5_repo / "many")


def test_a_killed_pull_resumes_and_leaves_nothing_half_written(
    md5_repo: Path, run: Run, remote: RemoteUnderTest, tmp_path: Path
) -> None:
    write_tree(md5_repo / "many", {f"f{i:04d}": f"file {i}\n" for i in range(600)})
    run("bale", "add", "many")
    remote.configure(md5_repo, run)
    run("bale", "push")
    clone = _clone(md5_repo, tmp_path)
    shutil.rmtree(clone / "many", ignore_errors=True)
    cache = clone / ".dvc" / "cache"

    def cached() -> int:
        return sum(1 for p in cache.rglob("*") if p.is_file() and not p.name.startswith("."))

    def undo() -> None:
        for p in [p for p in cache.rglob("*") if p.is_file()]:
            p.unlink()

    got = _kill_half_way(clone, "fetch", cached, 601, undo)

    resumed = json.loads(run("bale", "fetch", "--json", cwd=clone).stdout)
    assert resumed["copied"] == 601 - got
    run("bale", "checkout", cwd=clone)
    assert read_tree(clone / "many") == read_tree(md5_repo / "many")
    run("bale", "gc", "-w", "-f", cwd=clone)  # collects a killed writer's temp files
    assert not [p for p in cache.rglob("*") if p.name.startswith(".") and p.is_file()]


def test_a_corrupt_cache_object_is_never_pushed(
    md5_repo: Path, run: Run, remote: RemoteUnderTest
) -> None:
    _setup(md5_repo, run, remote)
    cache = md5_repo / ".dvc" / "cache"
    alpha = next(p for p in cache.rglob("*") if p.is_file() and p.read_bytes() == b"alpha\n")
    alpha.chmod(0o644)
    alpha.write_bytes(b"bit rot\n")  # a new mtime: the stat cache no longer vouches for it
    err = run("bale", "push", ok=False).stderr
    assert err.startswith("ERROR: ") and "corrupt" in err
    assert all(remote.read(k) != b"bit rot\n" for k in remote.listing())


@pytest.mark.parametrize("algo", ["md5", "blake3"])
def test_push_and_pull_killed_at_their_fragile_moments_finish_on_the_rerun(
    tmp_path: Path, run: Run, remote: RemoteUnderTest, algo: str
) -> None:
    repo = make_repo(tmp_path, "--hash", algo)
    files = {f"d{i % 4}/f{i:02}": f"{algo} file {i}\n" for i in range(40)}
    write_tree(repo / "data", files)
    write_tree(repo, {"one.txt": "1\n"})
    run("bale", "add", "data", "one.txt")
    remote.configure(repo, run)
    # md5: a quarter of the objects sent; blake3: the first pack sent, its
    # index not (a pack the remote holds but nothing names).
    killed_at("upload", 10 if algo == "md5" else 1, repo, "push")
    run("bale", "push")
    assert json.loads(run("bale", "status", "-c", "--json").stdout) == {}

    clone = _clone(repo, tmp_path)
    # Among the downloads, then again (now among the rest, or the checkout).
    killed_at("temp", 5, clone, "pull")
    killed_at("temp", 20, clone, "pull")
    run("bale", "pull", cwd=clone)
    assert_settled(clone, run)
    assert read_tree(clone / "data") == read_tree(repo / "data")
    assert (clone / "one.txt").read_text() == "1\n"


@pytest.mark.parametrize(
    "size",
    [1000, 600_000, 11 << 20],
    ids=["sent-from-memory", "streamed", "in-parts-on-s3"],
)
def test_bytes_that_rotted_under_an_unchanged_stat_are_never_pushed(
    md5_repo: Path, run: Run, remote: RemoteUnderTest, size: int
) -> None:
    write_tree(md5_repo, {"f.bin": os.urandom(size)})
    run("bale", "add", "f.bin")
    remote.configure(md5_repo, run)
    if isinstance(remote, S3Remote):
        run("bale", "remote", "modify", remote.name, "part_size", str(5 << 20))
    run("bale", "remote", "modify", remote.name, "retries", "3")
    (obj,) = [p for p in (md5_repo / ".dvc" / "cache" / "files" / "md5").rglob("*") if p.is_file()]
    # The stat cache knows the object verified by (inode, size, mtime): one
    # byte flips in place and the mtime is put back.
    st = obj.stat()
    obj.chmod(0o644)
    with open(obj, "r+b") as f:
        f.seek(size - 1)
        last = f.read(1)
        f.seek(size - 1)
        f.write(bytes([last[0] ^ 1]))
    os.utime(obj, ns=(st.st_atime_ns, st.st_mtime_ns))
    obj.chmod(0o444)
    err = run("bale", "push", ok=False).stderr.strip()
    # Refused as corrupt, at once: not retried as a lost connection.
    assert len(err.splitlines()) == 1 and "corrupt cache object" in err, err
    assert remote.listing() == set()


@pytest.mark.parametrize("algo", ["md5", "blake3"])
def test_a_corrupt_cache_object_is_moved_aside_and_fetched_again(
    tmp_path: Path, run: Run, remote: RemoteUnderTest, algo: str
) -> None:
    repo = make_repo(tmp_path, "--hash", algo)
    _setup(repo, run, remote)
    run("bale", "push")
    cache = repo / ".dvc" / "cache"
    alpha = next(p for p in cache.rglob("*") if p.is_file() and p.read_bytes() == b"alpha\n")
    alpha.chmod(0o644)
    alpha.write_bytes(b"bit rot\n")
    (repo / "data" / "a.txt").unlink()
    # checkout finds it, moves it aside and says how to recover.
    err = run("bale", "checkout", ok=False).stderr.strip()
    assert "corrupt" in err and "bale pull data" in err and len(err.splitlines()) == 1, err
    assert not alpha.exists()
    run("bale", "pull")
    assert (repo / "data" / "a.txt").read_text() == "alpha\n"
    assert alpha.read_bytes() == b"alpha\n"

    # A fetch replaces what it would otherwise skip as cached.
    alpha.chmod(0o644)
    alpha.write_bytes(b"bit rot\n")
    fetched = run("bale", "fetch")
    assert "did not match its hash" in fetched.stderr
    assert alpha.read_bytes() == b"alpha\n"
    assert_settled(repo, run)
    # gc collects what was moved aside.
    assert len(list((cache / "bale" / "corrupt").iterdir())) == 1
    run("bale", "gc", "-w", "-f")
    assert not list((cache / "bale" / "corrupt").iterdir())


def test_a_corrupt_directory_object_and_files_linked_to_a_corrupt_object_are_repaired_by_pull(
    md5_repo: Path, run: Run, tmp_path: Path
) -> None:
    run("bale", "config", "cache.type", "hardlink")
    remote = FolderRemote(tmp_path / "store")
    _setup(md5_repo, run, remote)
    run("bale", "push")
    before = read_tree(md5_repo / "data")
    cache = md5_repo / ".dvc" / "cache" / "files" / "md5"
    # The workspace file is the cache object (a hard link): rot hits both.
    alpha = md5_repo / "data" / "a.txt"
    alpha.chmod(0o644)
    alpha.write_bytes(b"bit rot")
    (manifest,) = [p for p in cache.rglob("*.dir")]
    manifest.chmod(0o644)
    manifest.write_text("not a manifest")
    run("bale", "pull")
    assert read_tree(md5_repo / "data") == before
    assert_settled(md5_repo, run)
