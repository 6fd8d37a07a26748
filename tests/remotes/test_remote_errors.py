"""The errors a user meets on each kind of remote, as the CLI shows them:
wrong credentials, an unreachable endpoint, a missing bucket: one line
naming the remote and the cause, a non-zero exit, and no secret anywhere in
the output, ``-v`` debug lines included. (Each store's own tests check the
finer causes: expired tokens, host keys, one object denied.)"""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from tests.integration.conftest import Run, write_tree
from tests.remotes.conftest import use_sshd
from tests.remotes.gcs_server import GcsServer
from tests.remotes.seaweed import SeaweedServer
from tests.remotes.sshd import SSHServer
from tests.remotes.webdav_server import serving_webdav

SECRET = "wr0ng-s3cret-Zq"
NAME = "team"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _push_and_pull(run: Run, repo: Path) -> list[tuple[str, str]]:
    """(command, its whole output) of a failing ``-v push``, then, with the
    cache gone, ``-v fetch`` and ``-v status -c``."""
    outputs = []
    for argv in (["push"], ["fetch"], ["status", "-c"]):
        if argv == ["fetch"]:
            shutil.rmtree(repo / ".dvc" / "cache")
        proc = run("bale", "-v", *argv, ok=False, cwd=repo)
        assert proc.returncode != 0, argv
        outputs.append((argv[0], proc.stdout + proc.stderr))
    return outputs


def _error_line(output: str) -> str:
    errors = [line for line in output.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, output
    return errors[0]


def _repo_with_data(repo: Path, run: Run) -> None:
    write_tree(repo, {"data/a.txt": "a\n", "data/b.txt": "b\n", "f.txt": "f\n"})
    run("bale", "add", "data", "f.txt", cwd=repo)


# -- wrong credentials ------------------------------------------------------


@contextmanager
def _s3_wrong_secret(
    request: pytest.FixtureRequest, run: Run, repo: Path
) -> Iterator[tuple[str, ...]]:
    server: SeaweedServer = request.getfixturevalue("seaweed")
    run("bale", "remote", "add", "-d", NAME, f"s3://{server.bucket}/errs", cwd=repo)
    for option, value in server.options(secret_access_key=SECRET).items():
        run("bale", "remote", "modify", "--local", NAME, option, value, cwd=repo)
    yield ("config.local",)


@contextmanager
def _webdav_wrong_password(
    request: pytest.FixtureRequest, run: Run, repo: Path
) -> Iterator[tuple[str, ...]]:
    root = repo.parent / "dav"
    root.mkdir()
    with serving_webdav(root, user="alice", password="the-right-one") as dav:
        run("bale", "remote", "add", "-d", NAME, f"{dav.url}/store", cwd=repo)
        run("bale", "remote", "modify", NAME, "user", "alice", cwd=repo)
        run("bale", "remote", "modify", "--local", NAME, "password", SECRET, cwd=repo)
        yield ("refused basic auth as user 'alice' (HTTP 401: Not Authorized)",)


@contextmanager
def _ssh_wrong_password(
    request: pytest.FixtureRequest, run: Run, repo: Path
) -> Iterator[tuple[str, ...]]:
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    server: SSHServer = use_sshd(request, monkeypatch)
    # with a password set, only password logins are offered (as dvc-ssh)
    run("bale", "remote", "add", "-d", NAME, server.url(repo.parent / "sftp"), cwd=repo)
    run("bale", "remote", "modify", "--local", NAME, "password", SECRET, cwd=repo)
    yield ("refused",)


WRONG_CREDENTIALS: dict[str, Callable[..., AbstractContextManager[tuple[str, ...]]]] = {
    "s3": _s3_wrong_secret,
    "webdav": _webdav_wrong_password,
    "ssh": _ssh_wrong_password,
}


@pytest.mark.parametrize("kind", sorted(WRONG_CREDENTIALS))
def test_wrong_credentials_are_one_line_naming_the_remote_and_never_the_secret(
    kind: str, request: pytest.FixtureRequest, md5_repo: Path, run: Run
) -> None:
    _repo_with_data(md5_repo, run)
    with WRONG_CREDENTIALS[kind](request, run, md5_repo) as causes:
        for command, output in _push_and_pull(run, md5_repo):
            assert SECRET not in output, (command, output)
            line = _error_line(output)
            assert line.startswith(f"ERROR: remote '{NAME}'"), (command, line)
            assert all(cause in line for cause in causes), (command, line)
            # the debug log (-v) said something, and no secret with it
            assert "DEBUG" in output, (command, output)


# -- unreachable endpoints ----------------------------------------------------


def _unreachable_url(kind: str, port: int) -> tuple[str, dict[str, str]]:
    """(URL, options) of a remote of ``kind`` on a port nobody listens on."""
    if kind == "s3":
        options = {
            "endpointurl": f"http://127.0.0.1:{port}",
            "access_key_id": "AKIAEXAMPLE",
            "secret_access_key": SECRET,
        }
        return "s3://bucket/p", options
    if kind == "gcs":
        return "gs://bucket/p", {}
    if kind == "ssh":
        return f"ssh://tester@127.0.0.1:{port}/srv/p", {"password": SECRET}
    if kind == "webdav":
        return f"webdav://127.0.0.1:{port}/p", {"user": "u", "password": SECRET}
    return f"http://127.0.0.1:{port}/p", {"user": "u", "password": SECRET, "auth": "basic"}


@pytest.mark.parametrize("kind", ["s3", "gcs", "ssh", "webdav", "http"])
def test_an_unreachable_endpoint_fails_fast_with_one_line_naming_the_remote(
    kind: str, md5_repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    _repo_with_data(md5_repo, run)
    port = _free_port()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
    url, options = _unreachable_url(kind, port)
    run("bale", "remote", "add", "-d", NAME, url)
    for option, value in options.items():
        run("bale", "remote", "modify", "--local", NAME, option, value)
    start = time.monotonic()
    for command, output in _push_and_pull(run, md5_repo):
        assert SECRET not in output, (command, output)
        line = _error_line(output)
        assert line.startswith(f"ERROR: remote '{NAME}'"), (command, line)
        assert f"127.0.0.1:{port}" in line, (command, line)
    # three commands, each giving up after its retries, none hanging
    assert time.monotonic() - start < 90


# -- a missing bucket ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["s3", "gcs"])
def test_a_missing_bucket_is_named(
    kind: str,
    request: pytest.FixtureRequest,
    md5_repo: Path,
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _repo_with_data(md5_repo, run)
    bucket = "no-such-bucket-here"
    if kind == "s3":
        server: SeaweedServer = request.getfixturevalue("seaweed")
        run("bale", "remote", "add", "-d", NAME, f"s3://{bucket}/p")
        for option, value in server.options().items():
            run("bale", "remote", "modify", "--local", NAME, option, value)
        secret = server.secret_key
    else:
        emulator: GcsServer = request.getfixturevalue("gcs_server")
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator.endpoint)
        run("bale", "remote", "add", "-d", NAME, f"gs://{bucket}/p")
        secret = SECRET
    for command, output in _push_and_pull(run, md5_repo):
        assert secret not in output, (command, output)
        line = _error_line(output)
        assert line.startswith(f"ERROR: remote '{NAME}'"), (command, line)
        assert bucket in line and ("not found" in line or "does not exist" in line), line
