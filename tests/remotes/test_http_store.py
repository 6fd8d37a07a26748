"""HTTPStore against ``bale serve`` and plain servers, and ``bale serve``'s safety.

What every store promises (put, get, ranges, exists, list, delete, atomicity)
is checked once for all of them in ``test_store_conformance.py``; here, what
only HTTP has: auth, TLS, plain servers, retries, and the server's own rules.

Safety tests speak raw HTTP over a socket where a client library would
normalise the request line (``..``, percent-escapes) before it is sent.
"""

# The fixture imported from http_server is taken as a parameter (F811).
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bale.remotes import serve as serve_mod
from bale.remotes.errors import (
    ObjectNotFound,
    RemoteAuthError,
    RemoteError,
    RemoteUnreachableError,
)
from bale.remotes.http import HTTPStore
from tests.remotes.http_server import (
    HTTPRemote,
    http_remote,  # noqa: F401
    running,
    serving,
)


def md5_key(data: bytes) -> str:
    h = hashlib.md5(data).hexdigest()
    return f"files/md5/{h[:2]}/{h[2:]}"


def local_file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "local" / hashlib.md5(data).hexdigest()
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return path


async def with_store(url: str, options: dict[str, str], body: Any, **kw: Any) -> Any:
    store = HTTPStore("r", url, options, **kw)
    try:
        return await body(store)
    finally:
        await store.close()


async def collect(listing: AsyncIterator[tuple[str, int]]) -> list[tuple[str, int]]:
    return [entry async for entry in listing]


def objects(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


# ---------------------------------------------------------------- HTTPStore


def test_bale_serve_publishes_an_upload_read_only_and_leaves_no_temp_file(
    http_remote: HTTPRemote, tmp_path: Path
) -> None:
    blobs = [b"hello\n", os.urandom(3 * 1024 * 1024 + 5)]  # the large one streams

    async def body(store: HTTPStore) -> None:
        for data in blobs:
            await store.put(local_file(tmp_path, data), md5_key(data))

    asyncio.run(with_store(http_remote.url, {}, body))
    for data in blobs:
        assert (http_remote.folder / md5_key(data)).stat().st_mode & 0o777 == 0o444
    assert objects(http_remote.folder) == {md5_key(d) for d in blobs}  # no temp file left


def test_put_with_method_put_option(http_remote: HTTPRemote, tmp_path: Path) -> None:
    data = b"put me\n"
    asyncio.run(
        with_store(
            http_remote.url,
            {"method": "PUT"},
            lambda s: s.put(local_file(tmp_path, data), md5_key(data)),
        )
    )
    assert (http_remote.folder / md5_key(data)).read_bytes() == data


def seed(folder: Path, keys: list[str]) -> None:
    for key in keys:
        (folder / key).parent.mkdir(parents=True, exist_ok=True)
        (folder / key).write_bytes(key.encode())


@pytest.fixture
def plain_server(tmp_path: Path) -> Iterator[HTTPRemote]:
    """A plain static file server (GET and HEAD only), as a dvc http remote may be."""
    folder = tmp_path / "plain"
    folder.mkdir()
    app = web.Application()
    app.router.add_static("/", folder)
    with running(app) as url:
        yield HTTPRemote(url=url, folder=folder)


def test_batch_exists_and_head_per_key_give_the_same_answer(
    http_remote: HTTPRemote, plain_server: HTTPRemote
) -> None:
    present = [f"files/md5/{i:02x}/{i:030x}" for i in range(40)] + ["ab/" + "c" * 30]
    absent = [f"files/md5/{i:02x}/{i + 1:030x}" for i in range(40)] + ["files/md5/zz"]
    seed(http_remote.folder, present)
    seed(plain_server.folder, present)
    asked = present + absent
    via_batch = asyncio.run(with_store(http_remote.url, {}, lambda s: s.exists(asked)))
    via_head = asyncio.run(with_store(plain_server.url, {}, lambda s: s.exists(asked), jobs=4))
    assert via_batch == via_head == set(present)


def test_list_needs_bale_serve(plain_server: HTTPRemote) -> None:
    async def body(store: HTTPStore) -> None:
        async for _ in store.list(""):
            pass

    with pytest.raises(RemoteError, match="needs bale serve"):
        asyncio.run(with_store(plain_server.url, {}, body))


TOKEN = "s3cr3t-t0ken"


def test_token_protected_server_accepts_the_custom_header_and_refuses_others(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "served"
    folder.mkdir()
    data = b"guarded\n"
    good = {"auth": "custom", "custom_auth_header": "Authorization", "password": f"Bearer {TOKEN}"}
    bad = good | {"password": "Bearer wrong-one"}
    with serving(folder, token=TOKEN) as url:
        asyncio.run(
            with_store(url, good, lambda s: s.put(local_file(tmp_path, data), md5_key(data)))
        )
        assert asyncio.run(with_store(url, good, lambda s: s.exists([md5_key(data)]))) == {
            md5_key(data)
        }
        for options in (bad, {}):
            with pytest.raises(RemoteAuthError) as e:
                asyncio.run(with_store(url, options, lambda s: s.exists([md5_key(data)])))
            assert "wrong-one" not in str(e.value) and TOKEN not in str(e.value)
            assert "'r'" in str(e.value) and "\n" not in str(e.value)
        with pytest.raises(RemoteAuthError, match="custom auth"):
            asyncio.run(with_store(url, bad, lambda s: s.get(md5_key(data), tmp_path / "x")))


def test_basic_auth_is_sent_and_a_refusal_names_the_user_not_the_password(
    tmp_path: Path,
) -> None:
    expected = aiohttp.encode_basic_auth("alice", "pw-123")

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != expected:
            raise web.HTTPUnauthorized(headers={"WWW-Authenticate": 'Basic realm="t"'})
        return web.Response(body=b"payload")

    app = web.Application()
    app.router.add_get("/{key:.*}", handler)
    with running(app) as url:
        ok = {"auth": "basic", "user": "alice", "password": "pw-123"}
        got = asyncio.run(with_store(url, ok, lambda s: s.get("ab/" + "c" * 30, tmp_path / "got")))
        assert got == 7
        with pytest.raises(RemoteAuthError, match="basic auth as user 'alice'") as e:
            asyncio.run(with_store(url, ok | {"password": "nope"}, lambda s: s.exists(["ab/cd"])))
        assert "nope" not in str(e.value)


def test_netrc_gives_credentials_only_where_the_remote_configures_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As dvc's HTTP clients do: a ~/.netrc entry for the host is sent when
    the remote has no auth of its own, and never beside configured basic
    auth (aiohttp's trust_env sent both, and refused its own request)."""
    seen: list[str | None] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(request.headers.get("Authorization"))
        return web.Response(body=b"payload")

    app = web.Application()
    app.router.add_get("/{key:.*}", handler)
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login mallory password from-netrc\n")
    monkeypatch.setenv("NETRC", str(netrc))
    key = "ab/" + "c" * 30
    with running(app) as url:
        basic = {"auth": "basic", "user": "alice", "password": "pw-123"}
        asyncio.run(with_store(url, basic, lambda s: s.get(key, tmp_path / "a")))
        asyncio.run(with_store(url, {}, lambda s: s.get(key, tmp_path / "b")))
    assert seen == [
        aiohttp.encode_basic_auth("alice", "pw-123"),
        aiohttp.encode_basic_auth("mallory", "from-netrc"),
    ]


def test_proxies_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY is used, as dvc-http's aiohttp (trust_env) uses it, and
    NO_PROXY skips it."""
    from tests.remotes.test_s3_store import _forward_proxy

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"payload")

    app = web.Application()
    app.router.add_get("/{key:.*}", handler)
    seen: list[str] = []
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    key = "ab/" + "c" * 30
    with running(app) as url, running(_forward_proxy(seen)) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy)
        asyncio.run(with_store(url, {}, lambda s: s.get(key, tmp_path / "a")))
        assert seen == [f"GET {url}/{key}"]
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        asyncio.run(with_store(url, {}, lambda s: s.get(key, tmp_path / "b")))
    assert len(seen) == 1
    assert (tmp_path / "b").read_bytes() == b"payload"


def digest_app(user: str, password: str, stored: dict[str, bytes]) -> web.Application:
    """A tiny RFC 7616 (MD5, qop=auth) server that stores uploads in ``stored``."""
    realm, nonce = "t", "n0nce"

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    def authorized(request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Digest "):
            return False
        fields = dict(
            (k.strip(), v.strip().strip('"'))
            for k, _, v in (p.partition("=") for p in header[7:].split(","))
        )
        ha1 = md5(f"{user}:{realm}:{password}")
        ha2 = md5(f"{request.method}:{fields.get('uri')}")
        want = md5(f"{ha1}:{nonce}:{fields.get('nc')}:{fields.get('cnonce')}:auth:{ha2}")
        return fields.get("username") == user and fields.get("response") == want

    async def handler(request: web.Request) -> web.StreamResponse:
        if not authorized(request):
            challenge = f'Digest realm="{realm}", nonce="{nonce}", qop="auth", algorithm=MD5'
            raise web.HTTPUnauthorized(headers={"WWW-Authenticate": challenge})
        if request.method == "POST":
            stored[request.path] = await request.read()
            return web.Response(status=201)
        if request.path not in stored:
            raise web.HTTPNotFound()
        return web.Response(body=stored[request.path])

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_route("*", "/{key:.*}", handler)
    return app


def test_digest_auth_uploads_and_downloads(tmp_path: Path) -> None:
    stored: dict[str, bytes] = {}
    data = os.urandom(3 * 1024 * 1024)  # streamed, so it must not need a second send
    options = {"auth": "digest", "user": "bob", "password": "pw-456"}

    async def body(store: HTTPStore) -> int:
        await store.put(local_file(tmp_path, data), md5_key(data))
        return await store.get(md5_key(data), tmp_path / "back")

    with running(digest_app("bob", "pw-456", stored)) as url:
        assert asyncio.run(with_store(url, options, body)) == len(data)
        with pytest.raises(RemoteAuthError, match="digest auth as user 'bob'") as e:
            asyncio.run(with_store(url, options | {"password": "x"}, lambda s: s.exists(["ab"])))
        assert "pw-456" not in str(e.value)
    assert stored == {f"/{md5_key(data)}": data}
    assert (tmp_path / "back").read_bytes() == data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_server_fails_quickly_with_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    start = time.monotonic()
    with pytest.raises(RemoteUnreachableError, match=url) as e:
        asyncio.run(
            with_store(url, {"retries": "1", "connect_timeout": "1"}, lambda s: s.exists(["a"]))
        )
    assert time.monotonic() - start < 3
    assert "\n" not in str(e.value)


def test_server_errors_are_retried(tmp_path: Path) -> None:
    calls = 0

    async def flaky(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise web.HTTPServiceUnavailable()
        return web.Response(body=b"finally")

    app = web.Application()
    app.router.add_get("/{key:.*}", flaky)
    with running(app) as url:
        assert asyncio.run(with_store(url, {}, lambda s: s.get("ab/cd", tmp_path / "f"))) == 7
    assert (tmp_path / "f").read_bytes() == b"finally"
    assert calls == 3


def test_a_read_that_times_out_is_retried(tmp_path: Path) -> None:
    calls = 0

    async def slow_once(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(3)
        return web.Response(body=b"in time")

    app = web.Application()
    app.router.add_get("/{key:.*}", slow_once)
    with running(app) as url:
        got = asyncio.run(
            with_store(url, {"read_timeout": "0.3"}, lambda s: s.get("ab/cd", tmp_path / "f"))
        )
    assert got == 7
    assert (tmp_path / "f").read_bytes() == b"in time"
    assert calls == 2


# ------------------------------------------------------------------ https


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (PEM paths)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bale test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return d / "cert.pem", d / "key.pem"


@pytest.fixture
def https_url(tmp_path: Path, tls_cert: tuple[Path, Path]) -> Iterator[str]:
    """``bale serve`` over TLS with the self-signed certificate; holds one object."""
    import ssl

    folder = tmp_path / "served"
    (folder / "ab").mkdir(parents=True)
    (folder / "ab" / "cd").write_bytes(b"over tls")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(*tls_cert)
    with running(serve_mod.make_app(folder), tls) as url:
        yield url


def test_https_with_an_untrusted_certificate_is_refused_in_one_line(
    tmp_path: Path, https_url: str
) -> None:
    with pytest.raises(RemoteUnreachableError) as e:
        asyncio.run(with_store(https_url, {}, lambda s: s.get("ab/cd", tmp_path / "f")))
    assert "certificate" in str(e.value)
    assert "ssl_verify" in str(e.value)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "f").exists()


@pytest.mark.parametrize("verify", ["false", "bundle"])
def test_https_trusts_what_ssl_verify_says(
    tmp_path: Path, https_url: str, tls_cert: tuple[Path, Path], verify: str
) -> None:
    option = str(tls_cert[0]) if verify == "bundle" else verify
    got = asyncio.run(
        with_store(https_url, {"ssl_verify": option}, lambda s: s.get("ab/cd", tmp_path / "f"))
    )
    assert got == 8
    assert (tmp_path / "f").read_bytes() == b"over tls"


def test_a_ca_bundle_that_cannot_be_read_is_a_config_error(tmp_path: Path, https_url: str) -> None:
    with pytest.raises(RemoteError, match="ssl_verify: cannot load CA bundle"):
        asyncio.run(
            with_store(
                https_url,
                {"ssl_verify": str(tmp_path / "none.pem")},
                lambda s: s.get("ab/cd", tmp_path / "f"),
            )
        )


# -------------------------------------------------------- bale serve safety


def raw_request(url: str, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Sends ``head`` (request line and headers, no final blank line) exactly as written."""
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(head.encode("latin-1") + b"\r\nHost: x\r\nConnection: close\r\n\r\n" + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


TRAVERSALS = [
    "/../etc/passwd",
    "/files/../../etc/passwd",
    "/%2e%2e/etc/passwd",
    "/%2E%2E%2Fetc%2Fpasswd",
    "/files%2f..%2f..%2fetc%2fpasswd",
    "/..%5c..%5cetc%5cpasswd",
    "/files\\..\\..\\etc\\passwd",
    "//etc/passwd",
    "/etc/passwd%00",
    "/.bale-upload-x.tmp",
    "/%2ebale/v1/info/../../../etc/passwd",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_attempts_are_refused(http_remote: HTTPRemote, path: str) -> None:
    for method in ("GET", "HEAD", "DELETE"):
        status, body = raw_request(http_remote.url, f"{method} {path} HTTP/1.1")
        assert status in (400, 404), (method, path, status)
        assert b"root:" not in body
    status, _ = raw_request(http_remote.url, f"POST {path} HTTP/1.1\r\nContent-Length: 5", b"owned")
    assert status in (400, 404)
    assert objects(http_remote.folder) == set()


def test_symlinks_leading_outside_are_neither_served_listed_nor_written_through(
    http_remote: HTTPRemote, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    (outside / "md5" / "ab").mkdir(parents=True)
    (outside / "md5" / "ab" / ("c" * 30)).write_bytes(b"secret")
    (outside / "leaf").write_bytes(b"secret")
    os.symlink(outside, http_remote.folder / "files")
    os.symlink(outside / "leaf", http_remote.folder / "leak")
    data = b"new\n"

    async def body(store: HTTPStore) -> tuple[set[str], list[tuple[str, int]]]:
        with pytest.raises(ObjectNotFound):
            await store.get("files/md5/ab/" + "c" * 30, tmp_path / "g1")
        with pytest.raises(ObjectNotFound):
            await store.get("leak", tmp_path / "g2")
        with pytest.raises(RemoteError):
            await store.put(local_file(tmp_path, data), md5_key(data))
        present = await store.exists(["files/md5/ab/" + "c" * 30, "leak"])
        return present, await collect(store.list(""))

    present, listed = asyncio.run(with_store(http_remote.url, {"retries": "0"}, body))
    assert present == set() and listed == []
    assert sorted(p.name for p in outside.rglob("*")) == ["ab", "c" * 30, "leaf", "md5"]


async def upload(url: str, key: str, data: Any, **kw: Any) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.post(f"{url}/{key}", data=data, **kw) as r:
        return r.status, await r.text()


def test_an_upload_that_does_not_hash_to_its_key_is_refused(http_remote: HTTPRemote) -> None:
    keys = (
        md5_key(b"the real one"),
        "ab/" + "0" * 30,
        "bale/blake3/ab/" + "0" * 62,
        "bale/packs/" + "0" * 64 + ".pack",
        "bale/packs/" + "0" * 64 + ".idx",  # not an index, so not that pack's
    )
    for key in keys:
        status, text = asyncio.run(upload(http_remote.url, key, b"something else"))
        assert status == 400 and "hash" in text
    assert list(http_remote.folder.rglob("*.tmp")) == []
    assert objects(http_remote.folder) == set()


def wait_for(condition: Any, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_client_that_disconnects_mid_body_leaves_nothing(http_remote: HTTPRemote) -> None:
    data = os.urandom(3 * 1024 * 1024)
    key = md5_key(data)
    port = int(http_remote.url.rsplit(":", 1)[1])

    def temp_files() -> list[Path]:
        return list(http_remote.folder.rglob(".bale-upload-*.tmp"))

    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(
            f"POST /{key} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n\r\n".encode()
        )
        s.sendall(data[: 2 * 1024 * 1024])  # past the in-memory buffer: a temp file exists
        assert wait_for(lambda: temp_files() != [])
    assert wait_for(lambda: temp_files() == [])
    assert objects(http_remote.folder) == set()


def test_chunked_upload_like_dvc_works(http_remote: HTTPRemote) -> None:
    data = os.urandom(2 * 1024 * 1024 + 3)

    async def chunks() -> Any:
        for i in range(0, len(data), 100_000):
            yield data[i : i + 100_000]

    assert asyncio.run(upload(http_remote.url, md5_key(data), chunks()))[0] == 201
    assert (http_remote.folder / md5_key(data)).read_bytes() == data


def test_an_existing_object_is_never_overwritten(http_remote: HTTPRemote) -> None:
    key = "notes/readme"  # not content-addressed, so not verified
    assert asyncio.run(upload(http_remote.url, key, b"first"))[0] == 201
    assert asyncio.run(upload(http_remote.url, key, b"second"))[0] == 201
    assert (http_remote.folder / key).read_bytes() == b"first"


def test_uploads_under_keys_the_server_cannot_check_are_bounded(tmp_path: Path) -> None:
    """Run-cache entries and other keys that are not a content hash are stored
    unchecked, so at most ``max_unverified_size`` bytes; checked keys are not bounded."""
    folder = tmp_path / "served"
    folder.mkdir()
    limit = 1_500_000  # past the 1 MiB memory buffer: the refusal must remove a temp file
    runs = [f"runs/ab/ab{i:062x}/{i:064x}" for i in range(4)]
    big = os.urandom(limit + 1)

    async def chunked(data: bytes) -> Any:
        for i in range(0, len(data), 100_000):
            yield data[i : i + 100_000]

    app = serve_mod.make_app(folder, max_unverified_size=limit)
    with running(app) as url:
        assert asyncio.run(upload(url, runs[0], big[:limit]))[0] == 201
        status, text = asyncio.run(upload(url, runs[1], big))  # Content-Length: refused at once
        assert status == 413 and runs[1] in text and str(limit) in text
        assert asyncio.run(upload(url, runs[2], chunked(big)))[0] == 413  # refused mid-body
        assert asyncio.run(upload(url, md5_key(big), chunked(big)))[0] == 201
        status, body = raw_request(url, "GET /.bale/v1/info HTTP/1.1")
        assert status == 200 and f'"max_unverified_size": {limit}'.encode() in body
    assert objects(folder) == {runs[0], md5_key(big)}
    assert list(folder.rglob(".*")) == []


def test_temp_files_and_precompressed_siblings_are_never_served(
    http_remote: HTTPRemote,
) -> None:
    key = md5_key(b"plain\n")
    seed(http_remote.folder, [key, key + ".gz"])
    (http_remote.folder / key).write_bytes(b"plain\n")
    tmp = http_remote.folder / "files/md5/ab/.bale-upload-0123.tmp"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_bytes(b"partial")
    status, body = raw_request(http_remote.url, f"GET /{key} HTTP/1.1\r\nAccept-Encoding: gzip, br")
    assert (status, body) == (200, b"plain\n")
    status, _ = raw_request(http_remote.url, "GET /files/md5/ab/.bale-upload-0123.tmp HTTP/1.1")
    assert status == 404
    listed = asyncio.run(with_store(http_remote.url, {}, lambda s: collect(s.list("files/"))))
    assert sorted(k for k, _ in listed) == sorted([key, key + ".gz"])


def test_range_requests_are_honoured(http_remote: HTTPRemote) -> None:
    key = "ab/" + "1" * 30
    seed(http_remote.folder, [key])
    status, body = raw_request(http_remote.url, f"GET /{key} HTTP/1.1\r\nRange: bytes=3-6")
    assert (status, body) == (206, key.encode()[3:7])


def test_read_only_refuses_writes(tmp_path: Path) -> None:
    folder = tmp_path / "served"
    key = "ab/" + "2" * 30
    seed(folder, [key])
    with serving(folder, read_only=True) as url:
        assert raw_request(url, f"GET /{key} HTTP/1.1")[0] == 200
        assert asyncio.run(upload(url, md5_key(b"x"), b"x"))[0] == 403
        assert raw_request(url, f"DELETE /{key} HTTP/1.1")[0] == 403
        with pytest.raises(RemoteError, match="403"):
            asyncio.run(with_store(url, {}, lambda s: s.delete([key])))
    assert objects(folder) == {key}


def test_only_the_protocol_methods_are_allowed(http_remote: HTTPRemote) -> None:
    for method in ("PATCH", "OPTIONS", "PROPFIND", "TRACE"):
        assert raw_request(http_remote.url, f"{method} /ab/cd HTTP/1.1")[0] == 405


def test_batch_endpoints_check_their_input(http_remote: HTTPRemote) -> None:
    async def post(endpoint: str, body: Any) -> int:
        async with (
            aiohttp.ClientSession() as s,
            s.post(f"{http_remote.url}/.bale/v1/{endpoint}", json=body) as r,
        ):
            return r.status

    too_many = {"keys": [f"ab/{i}" for i in range(serve_mod.MAX_KEYS + 1)]}
    bodies: list[Any] = [too_many, {"keys": ["../x"]}, {"keys": [1]}, ["ab"], {"nokeys": []}]
    for body in bodies:
        assert asyncio.run(post("exists", body)) == 400
        assert asyncio.run(post("delete", body)) == 400


def test_serve_reports_its_port_and_stops_on_sigterm(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from bale.remotes.serve import serve; "
        "serve(Path(sys.argv[1]), port=0, ready=lambda p: print(p, flush=True))"
    )
    python_dir = Path(__file__).resolve().parents[2] / "python"
    env = os.environ | {"PYTHONPATH": str(python_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        status, body = raw_request(f"http://127.0.0.1:{port}", "GET /.bale/v1/info HTTP/1.1")
        assert status == 200 and b'"protocol": 1' in body
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        proc.kill()
