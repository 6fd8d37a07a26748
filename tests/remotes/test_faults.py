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
from pathlib import Path

from tests.integration.conftest import GIT_ENV, Run, read_tree, write_tree

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


def test_a_server_killed_mid_push_leaves_no_directory_claimed_and_the_push_resumes(
    md5_repo: Path, run: Run, tmp_path: Path
) -> None:
    write_tree(md5_repo / "many", {f"f{i:04d}": f"file {i}\n" for i in range(600)})
    run("bale", "add", "many")
    folder, port = tmp_path / "served", _free_port()
    folder.mkdir()
    run("bale", "remote", "add", "-d", "web", f"http://127.0.0.1:{port}")
    run("bale", "remote", "modify", "web", "retries", "1")
    server = _serve(folder, port)
    env = {**os.environ, **GIT_ENV}
    push = subprocess.Popen(
        [sys.executable, "-m", "bale", "push", "-j", "2"],
        cwd=md5_repo,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while len(list(folder.rglob("*"))) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.send_signal(signal.SIGKILL)
    server.wait()
    assert push.wait(timeout=60) != 0
    assert push.stderr is not None and "ERROR: remote 'web'" in push.stderr.read()
    objects = [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert 0 < len(objects) < 601 and not any(p.name.endswith(".dir") for p in objects)

    server = _serve(folder, port)
    try:
        resumed = json.loads(run("bale", "push", "--json").stdout)
        assert resumed["present"] >= len(objects)
        assert resumed["copied"] + resumed["present"] == 601
        clone = tmp_path / "clone"
        clone.mkdir()
        run("git", "init", "-q", cwd=clone)
        run("bale", "init", "-q", "--hash", "md5", cwd=clone)
        (clone / ".dvc" / "config").write_bytes((md5_repo / ".dvc" / "config").read_bytes())
        (clone / "many.dvc").write_bytes((md5_repo / "many.dvc").read_bytes())
        run("bale", "pull", cwd=clone)
        assert read_tree(clone / "many") == read_tree(md5_repo / "many")
    finally:
        server.terminate()
        server.wait()


def test_a_server_killed_mid_pull_leaves_only_whole_objects_and_the_pull_resumes(
    md5_repo: Path, run: Run, tmp_path: Path
) -> None:
    write_tree(md5_repo / "many", {f"f{i:04d}": f"file {i}\n" for i in range(600)})
    run("bale", "add", "many")
    folder, port = tmp_path / "served", _free_port()
    folder.mkdir()
    run("bale", "remote", "add", "-d", "web", f"http://127.0.0.1:{port}")
    run("bale", "remote", "modify", "web", "retries", "1")
    server = _serve(folder, port)
    try:
        run("bale", "push")
    finally:
        server.terminate()
        server.wait()
    clone = tmp_path / "clone"
    clone.mkdir()
    run("git", "init", "-q", cwd=clone)
    run("bale", "init", "-q", "--hash", "md5", cwd=clone)
    (clone / ".dvc" / "config").write_bytes((md5_repo / ".dvc" / "config").read_bytes())
    (clone / "many.dvc").write_bytes((md5_repo / "many.dvc").read_bytes())
    cache = clone / ".dvc" / "cache" / "files" / "md5"

    server = _serve(folder, port)
    pull = subprocess.Popen(
        [sys.executable, "-m", "bale", "pull", "-j", "2"],
        cwd=clone,
        env={**os.environ, **GIT_ENV},
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while len(list(cache.rglob("*"))) < 60 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.send_signal(signal.SIGKILL)
    server.wait()
    assert pull.wait(timeout=60) != 0
    assert pull.stderr is not None
    err = pull.stderr.read().strip()
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
