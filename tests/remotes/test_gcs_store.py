"""GCS beyond the conformance suites: credentials (a service account key
through a token endpoint on loopback, key files that are not), a missing
bucket, an unreachable endpoint, resumable uploads that resume.

fake-gcs-server ignores credentials and cannot answer a resumable
session's status query (it completes the object instead), so some tests put
a small :class:`Front` between bale and the emulator: it forwards every
request, records what came, answers status queries from what the emulator
reported, and fails the requests a test asks it to.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

import pytest

import bale.remotes.gcs_auth as gcs_auth
from bale.remotes.errors import (
    RemoteConfigError,
    RemoteNotFoundError,
    RemoteUnreachableError,
)
from bale.remotes.gcs import CHUNK_QUANTUM, GCSStore
from tests.integration.conftest import Run, md5_repo, run  # noqa: F401
from tests.remotes.gcs_server import GcsServer, gcs_server  # noqa: F401

T = TypeVar("T")


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class Front:
    """A recording, fault-injecting front of the emulator (see the module docstring)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.seen: list[tuple[str, str, dict[str, str]]] = []  # method, path, headers
        self.forwarded_ranges: list[str] = []  # Content-Range of chunks the emulator got
        self.status_queries = 0
        # the nth chunk PUT -> "drop" (a 503, not forwarded), "lose" (forwarded,
        # its answer replaced by a 503) or "gone" (410: the session expired)
        self.faults: dict[int, str] = {}
        self._chunk_count = 0
        self._held: dict[str, str] = {}  # upload_id -> the emulator's last Range
        self._lock = threading.Lock()
        front = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                front.handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = _any

        self.server, self.url = _serve(Handler)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in h.headers.items()}
        with self._lock:
            self.seen.append((h.command, h.path, headers))
        upload_id = parse_qs(urlsplit(h.path).query).get("upload_id", [""])[0]
        content_range = headers.get("content-range", "")
        if upload_id and content_range.startswith("bytes */"):
            # GCS's status query, which the emulator would take for the last chunk
            self.status_queries += 1
            held = self._held.get(upload_id)
            self._reply(h, 308, {"Range": held} if held else {}, b"")
            return
        fault = None
        if upload_id and h.command == "PUT":
            self._chunk_count += 1
            fault = self.faults.get(self._chunk_count)
        if fault in ("drop", "gone"):
            self._reply(h, 503 if fault == "drop" else 410, {}, b"")
            return
        status, out_headers, out = self._forward(h.command, h.path, headers, body)
        if upload_id and h.command == "PUT":
            self.forwarded_ranges.append(content_range)
            if "Range" in out_headers:
                self._held[upload_id] = out_headers["Range"]
        if fault == "lose":
            self._reply(h, 503, {}, b"")
            return
        self._reply(h, status, out_headers, out)

    def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=10)
        try:
            keep = {k: v for k, v in headers.items() if k not in ("host", "connection")}
            conn.request(method, path, body=body or None, headers=keep)
            resp = conn.getresponse()
            out = resp.read()
            kept = {"Content-Type", "Content-Range", "Range", "Location"}
            out_headers = {k: v for k, v in resp.getheaders() if k in kept}
        finally:
            conn.close()
        if "Location" in out_headers:  # sessions come back through the front
            upstream = f"{self.upstream.scheme}://{self.upstream.netloc}"
            out_headers["Location"] = out_headers["Location"].replace(upstream, self.url)
        return resp.status, out_headers, out

    @staticmethod
    def _reply(
        h: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)


@pytest.fixture
def front(gcs_server: GcsServer) -> Iterator[Front]:  # noqa: F811
    f = Front(gcs_server.endpoint)
    try:
        yield f
    finally:
        f.close()


class TokenEndpoint:
    """Google's OAuth token endpoint as a service account's key file names
    it (``token_uri``): takes a signed JWT assertion, gives an access token."""

    def __init__(self, expires_in: int = 3600) -> None:
        self.assertions: list[str] = []
        self.expires_in = expires_in
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                endpoint.assertions.append(form["assertion"][0])
                token = f"tok-{len(endpoint.assertions)}"
                answer = {"access_token": token, "expires_in": endpoint.expires_in}
                body = json.dumps({**answer, "token_type": "Bearer"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server, self.url = _serve(Handler)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def token_endpoint() -> Iterator[TokenEndpoint]:
    t = TokenEndpoint()
    try:
        yield t
    finally:
        t.close()


def service_account_key(path: Path, token_uri: str) -> Path:
    """Writes a service account key file with a new RSA key, as
    ``gcloud iam service-accounts keys create`` does."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "proj",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "bale-test@proj.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }
    path.write_text(json.dumps(info))
    return path


def run_store(store: GCSStore, body: Callable[[GCSStore], Awaitable[T]]) -> T:
    async def main() -> T:
        try:
            return await body(store)
        finally:
            await store.close()

    return asyncio.run(main())


@pytest.fixture(autouse=True)
def _no_ambient_google(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials come from the test, never from the machine."""
    for name in ("STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "true")


def test_a_service_account_key_gets_a_token_once_and_every_request_carries_it(
    gcs_server: GcsServer,  # noqa: F811
    front: Front,
    token_endpoint: TokenEndpoint,
    tmp_path: Path,
) -> None:
    key = service_account_key(tmp_path / "sa.json", token_endpoint.url + "/token")
    options = {"endpointurl": front.url, "credentialpath": str(key)}
    store = GCSStore("g", f"gs://{gcs_server.new_bucket()}/p", options)
    src = tmp_path / "src"
    src.write_bytes(b"hello")

    async def body(s: GCSStore) -> bytes | None:
        await s.put(src, "files/md5/ab/cd")
        assert await s.exists(["files/md5/ab/cd", "files/md5/ab/ef"]) == {"files/md5/ab/cd"}
        return await s.read_small("files/md5/ab/cd", 100)

    assert run_store(store, body) == b"hello"
    assert len(token_endpoint.assertions) == 1  # a JWT signed with the key, once
    assert {h.get("authorization") for _, _, h in front.seen} == {"Bearer tok-1"}
    assert "tok-1" not in repr(store) and "PRIVATE" not in repr(store._creds)
    assert "bale-test@proj" in store._creds.source


def test_a_token_near_its_expiry_is_refreshed_while_requests_go_on(
    gcs_server: GcsServer,  # noqa: F811
    front: Front,
    token_endpoint: TokenEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every token is "due" at once, yet far from expiry: requests start a
    # refresh in the background and go on with the token they have.
    monkeypatch.setattr(gcs_auth, "_REFRESH_BEFORE", 3600.0)
    key = service_account_key(tmp_path / "sa.json", token_endpoint.url + "/token")
    options = {"endpointurl": front.url, "credentialpath": str(key), "part_size": "262144"}
    store = GCSStore("g", f"gs://{gcs_server.new_bucket()}/p", options)

    async def body(s: GCSStore) -> None:
        for i in range(5):
            await s.exists([f"k{i}"])
            await asyncio.sleep(0.05)

    run_store(store, body)
    assert len(token_endpoint.assertions) >= 2
    tokens = [h.get("authorization") for _, _, h in front.seen]
    assert tokens[0] == "Bearer tok-1" and tokens[-1] != "Bearer tok-1"


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "no such file"),
        ("{not json", "not a JSON key file"),
        ('{"type": "external_account"}', "not a service account key or user credentials file"),
        (
            '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\nU0VDUkVU\\n'
            '-----END PRIVATE KEY-----\\n", "client_email": "a@b", "token_uri": "http://x"}',
            "not a usable service account key",
        ),
    ],
    ids=["missing", "not-json", "other-kind", "bad-key"],
)
def test_a_key_file_that_is_missing_or_not_one_is_a_one_line_config_error_naming_it(
    tmp_path: Path, content: str | None, said: str
) -> None:
    key = tmp_path / "key.json"
    if content is not None:
        key.write_text(content)
    with pytest.raises(RemoteConfigError) as info:
        GCSStore("g", "gs://bucket/p", {"credentialpath": str(key)})
    message = str(info.value)
    assert message.startswith(f"remote 'g': credentialpath {key}: {said}"), message
    assert "\n" not in message and "U0VDUkVU" not in message


def test_a_missing_bucket_is_named_whatever_the_operation(
    gcs_server: GcsServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    options = {"endpointurl": gcs_server.endpoint, "allow_anonymous_login": "true"}
    src = tmp_path / "src"
    src.write_bytes(b"x")
    operations: list[Callable[[GCSStore], Awaitable[object]]] = [
        lambda s: s.exists(["files/md5/ab/cd"]),
        lambda s: s.exists(["files/md5/ab/cd", "files/md5/ab/ef"]),
        lambda s: s.get("files/md5/ab/cd", tmp_path / "got"),
        lambda s: s.read_small("files/md5/ab/cd", 10),
        lambda s: s.put(src, "files/md5/ab/cd"),
        lambda s: s.delete(["files/md5/ab/cd"]),
    ]
    for operation in operations:
        store = GCSStore("g", "gs://no-such-bucket/p", options)
        with pytest.raises(RemoteNotFoundError) as info:
            run_store(store, operation)
        assert str(info.value) == (
            f"remote 'g': bucket 'no-such-bucket' does not exist at {gcs_server.endpoint}"
        )


def test_an_unreachable_endpoint_fails_fast_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: connections are refused
    options = {"endpointurl": f"http://127.0.0.1:{port}", "allow_anonymous_login": "true"}
    store = GCSStore("g", "gs://bucket/p", options)
    started = time.monotonic()
    with pytest.raises(RemoteUnreachableError) as info:
        run_store(store, lambda s: s.exists(["files/md5/ab/cd"]))
    assert time.monotonic() - started < 10
    assert str(info.value).startswith(f"remote 'g': cannot reach http://127.0.0.1:{port}")
    assert "\n" not in str(info.value)


def _resumable_store(gcs_server: GcsServer, front: Front) -> GCSStore:  # noqa: F811
    options = {
        "endpointurl": front.url,
        "allow_anonymous_login": "true",
        "part_size": str(CHUNK_QUANTUM),  # 256 KiB chunks
    }
    return GCSStore("g", f"gs://{gcs_server.new_bucket()}/p", options)


def test_a_large_object_goes_up_in_a_resumable_session_in_chunks_and_round_trips(
    gcs_server: GcsServer,  # noqa: F811
    front: Front,
    tmp_path: Path,
) -> None:
    data = os.urandom(4 * CHUNK_QUANTUM + 5)
    src = tmp_path / "big"
    src.write_bytes(data)
    progress: list[int] = []

    async def body(s: GCSStore) -> int:
        await s.put(src, "files/md5/ab/cd", progress.append)
        return await s.get("files/md5/ab/cd", tmp_path / "got")

    assert run_store(_resumable_store(gcs_server, front), body) == len(data)
    assert (tmp_path / "got").read_bytes() == data
    assert sum(progress) == len(data)
    q = CHUNK_QUANTUM
    assert front.forwarded_ranges == [
        f"bytes {i * q}-{min((i + 1) * q, len(data)) - 1}/{len(data)}" for i in range(5)
    ]


@pytest.mark.parametrize("fault", ["drop", "lose"], ids=["chunk-lost", "answer-lost"])
def test_an_interrupted_resumable_upload_resumes_from_what_the_session_holds(
    gcs_server: GcsServer,  # noqa: F811
    front: Front,
    tmp_path: Path,
    fault: str,
) -> None:
    # The second chunk fails: never arriving ("drop"), or arriving with its
    # answer lost ("lose"). bale asks the session what it holds and sends
    # on from there: the chunk again, or the next one.
    front.faults[2] = fault
    data = os.urandom(4 * CHUNK_QUANTUM + 5)
    src = tmp_path / "big"
    src.write_bytes(data)

    async def body(s: GCSStore) -> int:
        await s.put(src, "files/md5/ab/cd")
        return await s.get("files/md5/ab/cd", tmp_path / "got")

    assert run_store(_resumable_store(gcs_server, front), body) == len(data)
    assert (tmp_path / "got").read_bytes() == data
    assert front.status_queries == 1
    q = CHUNK_QUANTUM
    # each chunk reached the emulator once (it would append a second copy)
    assert front.forwarded_ranges == [
        f"bytes {i * q}-{min((i + 1) * q, len(data)) - 1}/{len(data)}" for i in range(5)
    ]


def test_an_upload_whose_session_expired_starts_again_in_a_new_one(
    gcs_server: GcsServer,  # noqa: F811
    front: Front,
    tmp_path: Path,
) -> None:
    front.faults[2] = "gone"
    data = os.urandom(3 * CHUNK_QUANTUM)
    src = tmp_path / "big"
    src.write_bytes(data)

    async def body(s: GCSStore) -> int:
        await s.put(src, "files/md5/ab/cd")
        return await s.get("files/md5/ab/cd", tmp_path / "got")

    assert run_store(_resumable_store(gcs_server, front), body) == len(data)
    assert (tmp_path / "got").read_bytes() == data
    sessions = {parse_qs(urlsplit(p).query).get("upload_id", [""])[0] for _, p, _ in front.seen}
    assert len(sessions - {""}) == 2


def test_a_corrupt_large_object_never_completes_its_session(
    gcs_server: GcsServer,  # noqa: F811
    front: Front,
    tmp_path: Path,
) -> None:
    from bale.exceptions import CorruptObjectError

    data = os.urandom(3 * CHUNK_QUANTUM)
    src = tmp_path / "big"
    src.write_bytes(data)
    wrong = ("md5", "0" * 32)  # the name says other bytes

    async def body(s: GCSStore) -> set[str]:
        with pytest.raises(CorruptObjectError):
            await s.put(src, "files/md5/00/" + "0" * 30, expect=wrong)
        return await s.exists(["files/md5/00/" + "0" * 30])

    assert run_store(_resumable_store(gcs_server, front), body) == set()
    # the last chunk (the one that makes the object) was never sent; the session was cancelled
    assert len(front.forwarded_ranges) < 3
    assert any(method == "DELETE" and "upload_id" in path for method, path, _ in front.seen)


def test_without_credentials_a_push_fails_naming_what_was_looked_at(
    md5_repo: Path,  # noqa: F811
    run: Run,  # noqa: F811
) -> None:
    (md5_repo / "f").write_text("hi\n")
    run("bale", "add", "f")
    assert run("bale", "remote", "add", "-d", "g", "gs://bucket/p").stderr == ""
    err = run("bale", "push", ok=False).stderr
    assert err.startswith("ERROR: remote 'g': no Google credentials found"), err
    assert len(err.strip().splitlines()) == 1 and "allow_anonymous_login" in err


def test_projectname_is_accepted_with_a_warning_and_version_aware_refused(
    md5_repo: Path,  # noqa: F811
    run: Run,  # noqa: F811
) -> None:
    run("bale", "remote", "add", "g", "gs://bucket/p")
    err = run("bale", "remote", "modify", "g", "projectname", "proj").stderr
    assert err == (
        "WARNING: remote 'g': bale ignores option 'projectname' "
        "(bale never creates or lists buckets, the only use of it)\n"
    )
    err = run("bale", "remote", "modify", "g", "version_aware", "true", ok=False).stderr
    assert "option 'version_aware' is not supported by bale yet" in err
