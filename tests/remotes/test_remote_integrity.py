"""A packed remote stays whole, and what bale says of it is true, also after
another clone's ``gc -c`` and after damage behind bale's back: a push repairs
what the remote lacks, ``status -c`` never calls a file there whose bytes
are not, and a damaged local copy of the remote's indexes is rebuilt."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from tests.integration.conftest import Run, make_repo, read_tree, write_tree
from tests.integration.kills import killed_at

from .conftest import RemoteUnderTest

MIB = 1 << 20


def _random(n: int, seed: int) -> bytes:
    import random

    return random.Random(seed).randbytes(n)


def _repo(tmp_path: Path, run: Run, remote: RemoteUnderTest) -> Path:
    """A blake3 repository with a chunked file (6 MiB) in ``d/`` and a small
    directory ``other/``, packed small so the file's chunks fill packs of
    their own, apart from its list (in the final pack, with the trees)."""
    repo = make_repo(tmp_path, "--hash", "blake3")
    write_tree(repo, {"d/big.bin": _random(6 * MIB, 1), "other/s.txt": "small\n"})
    run("bale", "add", "d", "other", cwd=repo)
    remote.configure(repo, run)
    run("bale", "remote", "modify", remote.name, "pack_size", str(2 * MIB), cwd=repo)
    run("git", "add", "-A", cwd=repo)
    run("git", "commit", "-qm", "v1", cwd=repo)
    return repo


def _clone(repo: Path, tmp_path: Path, name: str) -> Path:
    """The repository's git history and config, none of its data."""
    clone = tmp_path / name
    ignore = shutil.ignore_patterns("cache", "tmp", "d", "other")
    shutil.copytree(repo, clone, ignore=ignore)
    return clone


def _cloud(run: Run, repo: Path) -> dict[str, str]:
    out: dict[str, str] = json.loads(run("bale", "status", "-c", "--json", cwd=repo).stdout)
    return out


def _pushed(run: Run, repo: Path) -> int:
    copied: int = json.loads(run("bale", "push", "--json", cwd=repo).stdout)["copied"]
    return copied


def _largest(remote: RemoteUnderTest, suffix: str) -> str:
    keys = [k for k in remote.listing() if k.endswith(suffix)]
    return max(keys, key=lambda k: len(remote.read(k.removesuffix(suffix) + ".pack")))


@pytest.mark.parametrize("remote", ["folder", "s3"], indirect=True)
def test_gc_of_another_clone_takes_a_versions_list_with_its_chunks(
    tmp_path: Path, run: Run, remote: RemoteUnderTest
) -> None:
    a = _repo(tmp_path, run, remote)
    v1 = (a / "d" / "big.bin").read_bytes()
    run("bale", "push", cwd=a)
    (a / "d" / "big.bin").write_bytes(_random(6 * MIB, 2))
    run("bale", "add", "d", cwd=a)
    run("git", "commit", "-qam", "v2", cwd=a)
    run("bale", "push", cwd=a)
    # Another clone, at v2 only, collects the remote: v1's chunks go. Its
    # list was in the final pack of v1's push beside other/'s tree, which
    # v2 still uses: that pack is rewritten without it, never kept with it.
    b = _clone(a, tmp_path, "b")
    run("bale", "pull", cwd=b)
    run("bale", "gc", "-w", "-c", "-f", cwd=b)
    assert (b / "d" / "big.bin").read_bytes() != v1

    run("git", "checkout", "-q", "HEAD~1", cwd=a)
    run("bale", "checkout", cwd=a)
    assert _cloud(run, a) == {"d": "new", "d/big.bin": "new"}
    assert _pushed(run, a) > 0
    assert _cloud(run, a) == {}
    c = _clone(a, tmp_path, "c")
    run("bale", "pull", cwd=c)
    assert (c / "d" / "big.bin").read_bytes() == v1
    assert read_tree(c / "other") == read_tree(a / "other")


@pytest.mark.parametrize("remote", ["folder", "s3"], indirect=True)
def test_a_pack_deleted_behind_bales_back_counts_as_absent_and_push_repairs_it(
    tmp_path: Path, run: Run, remote: RemoteUnderTest
) -> None:
    repo = _repo(tmp_path, run, remote)
    run("bale", "push", cwd=repo)
    lost = _largest(remote, ".idx")
    remote.delete(lost.removesuffix(".idx") + ".pack")  # its index stays
    status = run("bale", "status", "-c", cwd=repo)
    assert "d/big.bin" in status.stdout and "name a pack the remote does not hold" in status.stderr
    # gc -c removes the index that names the lost pack, and nothing in use.
    run("bale", "gc", "-w", "-c", "-f", cwd=repo)
    assert lost not in remote.listing()
    assert "does not hold" not in run("bale", "status", "-c", cwd=repo).stderr
    assert _pushed(run, repo) > 0
    assert _cloud(run, repo) == {}
    clone = _clone(repo, tmp_path, "clone")
    run("bale", "pull", cwd=clone)
    assert read_tree(clone / "d") == read_tree(repo / "d")


@pytest.mark.parametrize("remote", ["folder", "s3"], indirect=True)
def test_with_the_index_of_its_chunks_lost_a_chunked_file_is_pushed_again(
    tmp_path: Path, run: Run, remote: RemoteUnderTest
) -> None:
    repo = _repo(tmp_path, run, remote)
    run("bale", "push", cwd=repo)
    for key in [k for k in remote.listing() if k.endswith(".idx")]:
        if len(remote.read(key.removesuffix(".idx") + ".pack")) > MIB:
            remote.delete(key)  # the chunks' indexes; the list's stays
    # The tree is there; the file is not, whatever its list claims.
    assert _cloud(run, repo) == {"d/big.bin": "new"}
    assert _pushed(run, repo) > 0
    assert _cloud(run, repo) == {}
    clone = _clone(repo, tmp_path, "clone")
    run("bale", "pull", cwd=clone)
    assert read_tree(clone / "d") == read_tree(repo / "d")


def test_a_damaged_local_copy_of_a_remote_index_is_fetched_again(
    tmp_path: Path, run: Run, remote: RemoteUnderTest
) -> None:
    repo = _repo(tmp_path, run, remote)
    run("bale", "push", cwd=repo)
    copies = sorted((repo / ".dvc" / "tmp" / "bale" / "remotes").rglob("*.idx"))
    assert copies
    for copy in copies:
        data = bytearray(copy.read_bytes())
        data[20] ^= 0x01
        copy.write_bytes(bytes(data))
    pushed = run("bale", "push", "--json", cwd=repo)
    assert json.loads(pushed.stdout)["copied"] == 0
    assert "damaged copy of a remote index" in pushed.stderr
    clone = _clone(repo, tmp_path, "clone")
    os.makedirs(clone / ".dvc" / "tmp" / "bale", exist_ok=True)
    shutil.copytree(repo / ".dvc" / "tmp" / "bale" / "remotes", clone / ".dvc/tmp/bale/remotes")
    copy = next((clone / ".dvc" / "tmp" / "bale" / "remotes").rglob("*.idx"))
    copy.write_bytes(copy.read_bytes()[:-1])
    run("bale", "pull", cwd=clone)
    assert read_tree(clone / "d") == read_tree(repo / "d")


@pytest.mark.parametrize("remote", ["folder", "s3"], indirect=True)
def test_after_another_clones_gc_a_push_of_the_old_version_sends_it_again_md5(
    tmp_path: Path, run: Run, remote: RemoteUnderTest
) -> None:
    a = make_repo(tmp_path, "--hash", "md5")
    write_tree(a / "d", {f"f{i}": f"v1 {i}\n" for i in range(5)})
    run("bale", "add", "d", cwd=a)
    remote.configure(a, run)
    run("git", "add", "-A", cwd=a)
    run("git", "commit", "-qm", "v1", cwd=a)
    run("bale", "push", cwd=a)
    write_tree(a / "d", {f"f{i}": f"v2 {i}\n" for i in range(2)})
    run("bale", "add", "d", cwd=a)
    run("git", "commit", "-qam", "v2", cwd=a)
    run("bale", "push", cwd=a)
    b = _clone(a, tmp_path, "b")
    run("bale", "pull", cwd=b)
    run("bale", "gc", "-w", "-c", "-f", cwd=b)

    run("git", "checkout", "-q", "HEAD~1", cwd=a)
    run("bale", "checkout", cwd=a)
    assert _cloud(run, a) == {"d": "new", "d/f0": "new", "d/f1": "new"}
    assert _pushed(run, a) == 3
    c = _clone(a, tmp_path, "c")
    run("bale", "pull", cwd=c)
    assert read_tree(c / "d") == read_tree(a / "d")


@pytest.mark.parametrize("algo", ["md5", "blake3"])
def test_gc_c_removes_what_a_killed_push_left_on_a_folder_remote(
    tmp_path: Path, run: Run, algo: str
) -> None:
    repo = make_repo(tmp_path, "--hash", algo)
    write_tree(repo / "d", {f"f{i}": f"{i}\n" * 100 for i in range(6)})
    run("bale", "add", "d", cwd=repo)
    store = tmp_path / "store"
    run("bale", "remote", "add", "-d", "store", str(store), cwd=repo)
    # md5: the engine's copies go straight to the remote; blake3: a pack and
    # its index are staged first, then copied.
    killed_at("temp", 3, repo, "push")
    # One temp, or two when both copying threads had one open.
    left = list(store.rglob(".bale*.tmp"))
    assert left
    # Another host's push may be writing: only a temp left alone an hour goes.
    run("bale", "gc", "-w", "-c", "-f", cwd=repo)
    assert all(p.exists() for p in left)
    hours_ago = time.time() - 2 * 3600
    for p in left:
        os.utime(p, (hours_ago, hours_ago))
    run("bale", "gc", "-w", "-c", "-f", cwd=repo)
    assert not list(store.rglob(".bale*.tmp"))
    run("bale", "push", cwd=repo)
    clone = _clone(repo, tmp_path, "clone")
    run("bale", "pull", cwd=clone)
    assert read_tree(clone / "d") == read_tree(repo / "d")
