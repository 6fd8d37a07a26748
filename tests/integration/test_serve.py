"""``bale serve`` as a user runs it: where its token comes from, idle and slow
clients, and what a killed server left in its folder.

Each test starts the real command on 127.0.0.1 (port 0) and talks to it over
raw sockets, where a client library would hide when a connection is closed.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

TOKEN = "tok-7d2a91"


@dataclass
class Server:
    port: int
    proc: subprocess.Popen[str]

    def stop(self) -> str:
        """SIGTERM; returns what the server wrote on stderr."""
        self.proc.send_signal(signal.SIGTERM)
        _out, err = self.proc.communicate(timeout=15)
        assert self.proc.returncode == 0, err
        return err


def bale_serve(folder: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "bale", "serve", str(folder), "--port", "0", *args]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "BALE_SERVE_TOKEN"}
    return env | extra


@contextmanager
def serving(
    folder: Path,
    *args: str,
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> Iterator[Server]:
    """``bale serve folder args`` until the block ends (SIGKILL if the test
    did not stop it)."""
    proc = subprocess.Popen(
        bale_serve(folder, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env if env is not None else clean_env(),
        preexec_fn=preexec_fn,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert m, line + proc.stderr.read()
        yield Server(int(m.group(1)), proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def request(port: int, head: str, body: bytes = b"", timeout: float = 5.0) -> tuple[int, bytes]:
    """Sends one request (``head``: request line and headers) and reads the answer to EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head.encode() + b"\r\nHost: x\r\nConnection: close\r\n\r\n" + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), data.split(b"\r\n\r\n", 1)[1]


def authorized(port: int, token: str | None) -> int:
    auth = f"\r\nAuthorization: Bearer {token}" if token else ""
    return request(port, f"GET /.bale/v1/info HTTP/1.1{auth}")[0]


def closed_within(s: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed ``s`` (EOF or reset), reading and
    dropping whatever it sent; None if it was still open after ``seconds``."""
    start = time.monotonic()
    while (left := start + seconds - time.monotonic()) > 0:
        s.settimeout(left)
        try:
            if not s.recv(65536):
                return time.monotonic() - start
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start
        except TimeoutError:
            return None
    return None


# ------------------------------------------------------------------ token


def test_the_token_can_come_from_a_file_or_the_environment(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    for args, env in (
        (("--token-file", str(token_file)), clean_env()),
        ((), clean_env(BALE_SERVE_TOKEN=TOKEN)),
    ):
        with serving(tmp_path, *args, env=env) as server:
            assert authorized(server.port, None) == 401
            assert authorized(server.port, "wrong") == 401
            assert authorized(server.port, TOKEN) == 200
            assert server.stop() == ""  # no warning: nothing showed the token


def test_a_token_file_others_can_read_is_used_with_a_warning(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o644)
    with serving(tmp_path, "--token-file", str(token_file)) as server:
        assert authorized(server.port, TOKEN) == 200
        err = server.stop()
    assert err == f"WARNING: {token_file} is readable by other users (chmod 600 it)\n"


def test_token_on_the_command_line_works_but_warns(tmp_path: Path) -> None:
    with serving(tmp_path, "--token", TOKEN) as server:
        assert authorized(server.port, TOKEN) == 200
        err = server.stop()
    assert err.count("\n") == 1 and err.startswith("WARNING: --token is visible")
    assert "--token-file" in err and "BALE_SERVE_TOKEN" in err and TOKEN not in err


def test_token_sources_that_conflict_or_are_empty_are_one_line_errors(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    empty = tmp_path / "empty"
    empty.write_text("\n")
    cases = [
        (("--token", TOKEN, "--token-file", str(token_file)), {}, "--token and --token-file"),
        (("--token-file", str(token_file)), {"BALE_SERVE_TOKEN": TOKEN}, "BALE_SERVE_TOKEN"),
        (("--token", TOKEN), {"BALE_SERVE_TOKEN": TOKEN}, "--token and BALE_SERVE_TOKEN"),
        (("--token-file", str(empty)), {}, f"{empty}: the token is empty"),
        (("--token-file", str(tmp_path / "none")), {}, f"{tmp_path / 'none'}: cannot read"),
        (("--token-file", str(tmp_path)), {}, f"{tmp_path}: cannot read"),
        ((), {"BALE_SERVE_TOKEN": ""}, "BALE_SERVE_TOKEN: the token is empty"),
    ]
    for args, env, message in cases:
        proc = subprocess.run(
            bale_serve(tmp_path, *args),
            capture_output=True,
            text=True,
            env=clean_env(**env),
            timeout=10,
        )
        assert proc.returncode == 1, (args, proc.stderr)
        assert proc.stderr.startswith("ERROR: ") and proc.stderr.count("\n") == 1, proc.stderr
        assert message in proc.stderr
        assert proc.stdout == ""  # never started serving


# ------------------------------------------------------- idle and slow clients


def limit_open_files() -> None:
    """In the server: the open-file limit of a default Linux account, lower."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def test_idle_connections_do_not_starve_a_get(tmp_path: Path) -> None:
    """More idle connections than the server has file descriptors (1,146 made
    a GET time out in the report): the longest idle ones make room."""
    key = "files/md5/ab/" + "c" * 30
    (tmp_path / key).parent.mkdir(parents=True)
    (tmp_path / key).write_bytes(b"payload")
    idle: list[socket.socket] = []
    with serving(tmp_path, preexec_fn=limit_open_files) as server:
        try:
            for _ in range(300):
                try:
                    idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=2))
                except OSError:
                    break  # the old server stopped accepting and its backlog filled up
            # The burst overflowed the listen backlog for a moment (the kernel
            # drops a SYN then, and the client sends it again a second later):
            # the GET comes once the connections are held open, not during it.
            time.sleep(0.5)
            start = time.monotonic()
            try:
                status, body = request(server.port, f"GET /{key} HTTP/1.1", timeout=5)
            except OSError as e:
                pytest.fail(f"GET failed with {len(idle)} idle connections open: {e!r}")
            assert (status, body) == (200, b"payload")
            assert time.monotonic() - start < 2
            assert len(idle) == 300
            server.stop()
        finally:
            for s in idle:
                s.close()


def test_at_the_limit_the_longest_idle_connection_makes_room(tmp_path: Path) -> None:
    with serving(tmp_path, "--max-connections", "2") as server:
        addr = ("127.0.0.1", server.port)
        with socket.create_connection(addr) as first, socket.create_connection(addr) as second:
            time.sleep(0.2)  # both accepted, first the longest idle
            assert request(server.port, "GET /.bale/v1/info HTTP/1.1")[0] == 200
            assert closed_within(first, 2) is not None
            assert closed_within(second, 0.5) is None
        server.stop()


def test_at_the_limit_with_every_connection_in_a_request_a_new_one_is_refused(
    tmp_path: Path,
) -> None:
    key = "notes/a"
    with serving(tmp_path, "--max-connections", "2") as server:
        addr = ("127.0.0.1", server.port)
        with socket.create_connection(addr) as a, socket.create_connection(addr) as b:
            for s in (a, b):  # two uploads in progress
                s.sendall(
                    f"POST /{key} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab".encode()
                )
            time.sleep(0.2)
            with socket.create_connection(addr) as refused:
                assert closed_within(refused, 2) is not None
            a.sendall(b"cd")  # one upload ends: its connection is idle, so it can make room
            a.settimeout(5)
            assert a.recv(65536).startswith(b"HTTP/1.1 201 ")
            assert request(server.port, "GET /.bale/v1/info HTTP/1.1")[0] == 200
            assert closed_within(a, 2) is not None
            b.sendall(b"cd")
            b.settimeout(5)
            assert b.recv(65536).startswith(b"HTTP/1.1 201 ")
        err = server.stop()
    assert "all in a request" in err and err.count("\n") == 1
    assert (tmp_path / key).read_bytes() == b"abcd"


def test_a_silent_or_trickling_client_is_dropped(tmp_path: Path) -> None:
    with serving(tmp_path, "--timeout", "1") as server:
        addr = ("127.0.0.1", server.port)
        with socket.create_connection(addr) as silent:
            took = closed_within(silent, 4)
            assert took is not None and took > 0.8

        with socket.create_connection(addr) as trickler:
            trickler.sendall(b"GET /.bale/v1/info HTTP/1.1\r\nHost: x\r\n")
            trickler.settimeout(0.2)
            start = time.monotonic()
            try:
                while time.monotonic() - start < 4:
                    trickler.sendall(b"X")  # a header that never ends
                    try:
                        if trickler.recv(65536) == b"":
                            break
                    except TimeoutError:
                        pass
            except OSError:
                pass  # reset: closed too
            assert time.monotonic() - start < 3

        # a keep-alive connection is answered, then closed once idle
        with socket.create_connection(addr) as keep:
            keep.sendall(b"GET /.bale/v1/info HTTP/1.1\r\nHost: x\r\n\r\n")
            took = closed_within(keep, 4)
            assert took is not None and took > 0.8
        server.stop()


def test_a_stalled_upload_body_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    key = "files/md5/ab/" + "d" * 30
    size = 2 * 1024 * 1024
    with serving(tmp_path, "--timeout", "1") as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(f"POST /{key} HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode())
            s.sendall(b"x" * (size * 3 // 4))  # past the memory buffer: in a temp file
            s.settimeout(0.2)
            start = time.monotonic()
            answer = b""
            while not answer and time.monotonic() - start < 4:
                s.sendall(b"x")  # then a byte every 0.2 s: far less than 64 KiB a second
                with suppress(TimeoutError):
                    answer = s.recv(65536)
            took = time.monotonic() - start
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert 0.8 < took < 3
        # still serving
        assert request(server.port, "GET /.bale/v1/info HTTP/1.1")[0] == 200
        server.stop()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


# ------------------------------------------------------------ upload temps


def test_upload_temps_of_a_killed_server_are_removed_at_start(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    data = os.urandom(3 * 1024 * 1024)
    key = "files/md5/ab/" + "e" * 30
    with (
        serving(store) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as s,
    ):
        head = f"POST /{key} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n\r\n"
        s.sendall(head.encode() + data[: 2 * 1024 * 1024])  # spilled to a temp file
        deadline = time.monotonic() + 5
        while not list(store.rglob(".bale-upload-*.tmp")) and time.monotonic() < deadline:
            time.sleep(0.02)
        server.proc.kill()
        server.proc.wait()
    [left] = store.rglob(".bale-upload-*.tmp")
    m = re.fullmatch(r"\.bale-upload-(\d+)-([0-9a-f]+)-(.+)\.tmp", left.name)
    assert m, left.name
    # Temps that are not a dead server's of this machine stay: a live process's
    # (another server uploading to the same folder) and another host's.
    live = left.with_name(f".bale-upload-{os.getpid()}-{m.group(2)}-{m.group(3)}.tmp")
    other_host = left.with_name(f".bale-upload-{m.group(1)}-{m.group(2)}-elsewhere.tmp")
    legacy = store / "files" / ".bale-upload-0123456789abcdef.tmp"  # an older bale's
    unrelated = [store / ".bale-upload-notes.txt", store / "files" / "md5" / "x.tmp"]
    for path in [live, other_host, legacy, *unrelated]:
        path.write_bytes(b"partial")
    with serving(store) as server:
        assert request(server.port, "GET /.bale/v1/info HTTP/1.1")[0] == 200
        server.stop()
    remaining = {p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file()}
    expected = {p.relative_to(store).as_posix() for p in [live, other_host, *unrelated]}
    assert remaining == expected


# ------------------------------------------------------------ unverified keys


def test_max_unverified_size_bounds_keys_the_server_cannot_check(tmp_path: Path) -> None:
    run_key = "runs/ab/" + "ab" + "0" * 62 + "/" + "1" * 64
    with serving(tmp_path, "--max-unverified-size", "1K") as server:
        post = f"POST /{run_key} HTTP/1.1\r\nContent-Length: %d"
        assert request(server.port, post % 1025, b"x" * 1025)[0] == 413
        assert request(server.port, post % 1024, b"x" * 1024)[0] == 201
        server.stop()
    assert (tmp_path / run_key).read_bytes() == b"x" * 1024
