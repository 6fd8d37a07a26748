"""``bale serve`` as a user runs it: where its token comes from.

Each test starts the real command on 127.0.0.1 (port 0) and talks to it over
raw sockets, where a client library would hide when a connection is closed.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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
