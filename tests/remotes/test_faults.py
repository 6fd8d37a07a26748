"""What a user sees when a remote fails: one line naming the remote and the
cause, a non-zero exit, and nothing half-done left behind."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import GIT_ENV, Run, make_repo, read_tree, write_tree

from .seaweed import SeaweedServer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_wrong_s3_credentials_name_the_remote_and_their_source(
    md5_repo: Path, run: Run, seaweed: SeaweedServer
) -> None:
    write_tree(md5_repo, {"f.txt": "x\n"})
    run("bale", "add", "f.txt")
    run("bale", "remote", "add", "-d", "team", "s3://test/p")
    for option, value in seaweed.options(secret_access_key="not-the-secret").items():
        run("bale", "remote", "modify", "--local", "team", option, value)
    proc = run("bale", "push", ok=False)
    err = proc.stderr.strip()
    assert proc.returncode != 0 and len(err.splitlines()) == 1
    assert err.startswith("ERROR: remote 'team'") and "config.local" in err
    assert "not-the-secret" not in err


def test_an_unreachable_remote_fails_fast_with_one_line(md5_repo: Path, run: Run) -> None:
    write_tree(md5_repo, {"f.txt": "x\n"})
    run("bale", "add", "f.txt")
    url = f"http://127.0.0.1:{_free_port()}/store"
    run("bale", "remote", "add", "-d", "far", url)
    run("bale", "remote", "modify", "far", "retries", "1")
    start = time.monotonic()
    err = run("bale", "push", ok=False).stderr.strip()
    assert time.monotonic() - start < 20
    assert err.startswith("ERROR: ") and "'far'" in err and len(err.splitlines()) == 1


def _serve(folder: Path, port: int) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "bale", "serve", str(folder), "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().startswith("Serving")
    return proc


def _many_on_a_web_remote(repo: Path, run: Run, tmp_path: Path) -> tuple[Path, int]:
    """600 files added in ``repo``, whose default remote ``web`` (one try
    per request) is ``bale serve`` of a folder on a free port, not yet
    started; returns the folder and the port."""
    write_tree(repo / "many", {f"f{i:04d}": f"file {i}\n" for i in range(600)})
    run("bale", "add", "many")
    folder, port = tmp_path / "served", _free_port()
    folder.mkdir()
    run("bale", "remote", "add", "-d", "web", f"http://127.0.0.1:{port}")
    run("bale", "remote", "modify", "web", "retries", "1")
    return folder, port


def _clone(repo: Path, run: Run, clone: Path) -> None:
    """A new repository with ``repo``'s config and ``many.dvc``, no data."""
    clone.mkdir()
    run("git", "init", "-q", cwd=clone)
    run("bale", "init", "-q", "--hash", "md5", cwd=clone)
    (clone / ".dvc" / "config").write_bytes((repo / ".dvc" / "config").read_bytes())
    (clone / "many.dvc").write_bytes((repo / "many.dvc").read_bytes())


def _killed_midway(
    command: str, cwd: Path, watched: Path, enough: int, server: subprocess.Popen[str]
) -> str:
    """Runs ``bale <command> -j 2`` in ``cwd``, kills the server once
    ``watched`` holds ``enough`` entries; returns the command's stderr after
    checking that it failed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bale", command, "-j", "2"],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while len(list(watched.rglob("*"))) < enough and time.monotonic() < deadline:
        time.sleep(0.01)
    server.send_signal(signal.SIGKILL)
    server.wait()
    assert proc.wait(timeout=60) != 0
    assert proc.stderr is not None
    return proc.stderr.read().strip()


def test_a_server_killed_mid_push_leaves_no_directory_claimed_and_the_push_resumes(
    md5_repo: Path, run: Run, tmp_path: Path
) -> None:
    folder, port = _many_on_a_web_remote(md5_repo, run, tmp_path)
    err = _killed_midway("push", md5_repo, folder, 40, _serve(folder, port))
    assert "ERROR: remote 'web'" in err
    objects = [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert 0 < len(objects) < 601 and not any(p.name.endswith(".dir") for p in objects)

    server = _serve(folder, port)
    try:
        resumed = json.loads(run("bale", "push", "--json").stdout)
        assert resumed["present"] >= len(objects)
        assert resumed["copied"] + resumed["present"] == 601
        clone = tmp_path / "clone"
        _clone(md5_repo, run, clone)
        run("bale", "pull", cwd=clone)
        assert read_tree(clone / "many") == read_tree(md5_repo / "many")
    finally:
        server.terminate()
        server.wait()


def test_a_server_killed_mid_pull_leaves_only_whole_objects_and_the_pull_resumes(
    md5_repo: Path, run: Run, tmp_path: Path
) -> None:
    folder, port = _many_on_a_web_remote(md5_repo, run, tmp_path)
    server = _serve(folder, port)
    try:
        run("bale", "push")
    finally:
        server.terminate()
        server.wait()
    clone = tmp_path / "clone"
    _clone(md5_repo, run, clone)
    cache = clone / ".dvc" / "cache" / "files" / "md5"

    err = _killed_midway("pull", clone, cache, 60, _serve(folder, port))
    assert err.startswith("ERROR: remote 'web'") and len(err.splitlines()) == 1
    # Whatever landed is whole and verified: every object hashes to its name.
    landed = [p for p in cache.rglob("*") if p.is_file()]
    assert 0 < len(landed) < 601
    for p in landed:
        digest = hashlib.md5(p.read_bytes()).hexdigest()
        assert p.parent.name + p.name.removesuffix(".dir") == digest, p
    assert not (clone / "many").exists() or len(list((clone / "many").iterdir())) < 600

    server = _serve(folder, port)
    try:
        resumed = json.loads(run("bale", "pull", "--json", cwd=clone).stdout)
        assert resumed["copied"] == 601 - len(landed)  # nothing that landed is sent again
        assert read_tree(clone / "many") == read_tree(md5_repo / "many")
    finally:
        server.terminate()
        server.wait()


@pytest.fixture
def full_folder(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs: a remote that fills up. Mounting needs root."""
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr!r}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


@pytest.mark.parametrize("algo", ["md5", "blake3"])
def test_a_full_remote_is_named_not_the_cache(
    tmp_path: Path, run: Run, full_folder: Path, algo: str
) -> None:
    repo = make_repo(tmp_path, "--hash", algo)
    write_tree(repo, {"big.bin": os.urandom(3 << 20)})
    run("bale", "add", "big.bin")
    run("bale", "remote", "add", "-d", "small", str(full_folder))
    err = run("bale", "push", ok=False).stderr.strip()
    assert len(err.splitlines()) == 1 and "no space left on device" in err.lower(), err
    assert str(full_folder) in err and ".dvc" not in err, err
    assert not [p for p in full_folder.rglob("*") if p.is_file()]
