"""S3Store against a real S3 server (SeaweedFS), cross-checked with boto3.

What every store promises (put, get, ranges, exists, list, delete, atomicity)
is checked once for all of them in ``test_store_conformance.py``; here, what
only S3 has: multipart uploads, credentials, buckets, listing strategies.
"""

# The fixture imported from seaweed is taken as a parameter (F811).
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest
from aiohttp import web

import bale.remotes.listing as listing
import bale.remotes.s3 as s3
from bale.remotes.errors import (
    RemoteAuthError,
    RemoteConfigError,
    RemoteNotFoundError,
    RemoteUnreachableError,
)
from bale.remotes.s3 import S3Store
from tests.remotes.seaweed import SeaweedServer, seaweed, start_seaweed  # noqa: F401

T = TypeVar("T")
MiB = 1024 * 1024


def _run(server_options: Mapping[str, str], url: str, body: Callable[[S3Store], Awaitable[T]]) -> T:
    """Runs ``body`` with a store made inside the event loop, as bale does."""

    async def main() -> T:
        store = S3Store("store", url, server_options, jobs=8)
        try:
            return await body(store)
        finally:
            await store.close()

    return asyncio.run(main())


def _boto(server: SeaweedServer) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=server.region,
    )


@pytest.fixture
def url() -> str:
    """A fresh prefix in the server's bucket, so tests never see each other's objects."""
    return f"s3://test/t-{uuid.uuid4().hex[:10]}/data"


def _prefix(url: str) -> str:
    return url.removeprefix("s3://test/") + "/"


def test_a_key_that_needs_escaping_round_trips(
    seaweed: SeaweedServer, url: str, tmp_path: Path
) -> None:
    """Keys are percent-encoded into the path and signed as S3 encodes them;
    a folder remote holds any file name, so its keys may be anything."""
    key = "odd/a b+c~é(1)&<x>.txt"
    (tmp_path / "src").write_bytes(b"special")

    async def body(store: S3Store) -> tuple[set[str], list[tuple[str, int]], int]:
        await store.put(tmp_path / "src", key)
        found = await store.exists([key, "odd/a b"])
        listed = [entry async for entry in store.list("odd/")]
        size = await store.get(key, tmp_path / "back")
        await store.delete([key])
        return found, listed, size

    assert _run(seaweed.options(), url, body) == ({key}, [(key, 7)], 7)
    assert (tmp_path / "back").read_bytes() == b"special"
    left = _boto(seaweed).list_objects_v2(Bucket="test", Prefix=_prefix(url))
    assert left.get("Contents", []) == []


def _md5_names(parent: str, count: int, salt: str = "") -> list[str]:
    """Keys spread over their prefix like real object names."""
    return [f"{parent}/{hashlib.md5(f'{salt}{i}'.encode()).hexdigest()[2:]}" for i in range(count)]


def test_exists_by_listing_and_by_head_agree_across_pages(
    seaweed: SeaweedServer, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small pages make continuation tokens, and the switch from listing to
    # HEADs, happen with few objects.
    monkeypatch.setattr(s3, "_LIST_PAGE", 7)
    pages: list[str] = []
    heads: list[str] = []
    list_page, exists_one = S3Store._list_page, S3Store._exists_one

    async def counted_list(self: S3Store, prefix: str, token: str | None, size: int) -> Any:
        pages.append(prefix.rsplit("/", 2)[-2])
        return await list_page(self, prefix, token, size)

    async def counted_head(self: S3Store, key: str) -> set[str]:
        heads.append(key)
        return await exists_one(self, key)

    src = tmp_path / "src"
    src.write_bytes(b"x")
    held = [k for p in ("00", "7f", "ff") for k in _md5_names(f"files/md5/{p}", 20)]
    missing = [k for p in ("00", "aa") for k in _md5_names(f"files/md5/{p}", 6, "missing")]
    # A prefix with many objects, of which only its last few are wanted: after
    # one page, HEADs cost fewer requests than the pages still to come.
    crowded = [f"files/md5/cc/{i:02x}{'0' * 28}" for i in range(0, 256, 8)]
    wanted_crowded = [*crowded[-3:], "files/md5/cc/ff" + "0" * 28]
    expected = set(held) | set(crowded[-3:])

    async def body(store: S3Store) -> tuple[set[str], set[str]]:
        await asyncio.gather(*(store.put(src, key) for key in held + crowded))
        assert sorted([k async for k, _ in store.list("files/")]) == sorted(held + crowded)
        monkeypatch.setattr(S3Store, "_list_page", counted_list)
        monkeypatch.setattr(S3Store, "_exists_one", counted_head)
        asked = held + missing + wanted_crowded
        by_listing = await store.exists(asked)
        assert sorted(pages) == ["00"] * 3 + ["7f"] * 3 + ["aa", "cc"] + ["ff"] * 3
        assert sorted(heads) == sorted(wanted_crowded)
        monkeypatch.setattr(listing, "LIST_MIN_KEYS", 10**9)
        return by_listing, await store.exists(asked)

    by_listing, by_head = _run(seaweed.options(), url, body)
    assert by_listing == by_head == expected


def test_a_large_object_is_a_multipart_upload_and_comes_back_byte_identical(
    seaweed: SeaweedServer, url: str, tmp_path: Path
) -> None:
    data = os.urandom(12 * MiB + 123)
    src, dest = tmp_path / "big", tmp_path / "back"
    src.write_bytes(data)
    options = seaweed.options(part_size=str(5 * MiB), part_jobs="3")

    async def body(store: S3Store) -> int:
        await store.put(src, "big/object")
        return await store.get("big/object", dest)

    assert _run(options, url, body) == len(data)
    assert dest.read_bytes() == data
    head = _boto(seaweed).head_object(Bucket="test", Key=_prefix(url) + "big/object")
    assert head["ETag"].strip('"').endswith("-3")  # three parts: a real multipart upload


def test_parallel_parts_land_hashed_and_a_corrupt_object_never_enters_the_cache(
    seaweed: SeaweedServer, url: str, tmp_path: Path
) -> None:
    """A multi-part GET into the engine's landing: parts arrive out of order
    from several connections, the hash follows them, and the object is
    published only if it is what its name says."""
    import bale
    from bale.exceptions import CorruptObjectError

    repo = bale.Repo.init(tmp_path / "repo", no_scm=True, hash="md5")
    ws = repo.workspace
    data = os.urandom(17 * MiB + 5)
    good = hashlib.md5(data).hexdigest()
    bad = bytearray(data)
    bad[11 * MiB] ^= 1  # the same size, one bit off, in the third part
    options = seaweed.options(part_size=str(5 * MiB), part_jobs="4")
    client = _boto(seaweed)
    client.put_object(Bucket="test", Key=_prefix(url) + "good", Body=data)
    client.put_object(Bucket="test", Key=_prefix(url) + "bad", Body=bytes(bad))

    async def body(store: S3Store) -> tuple[bale._core.Landing, bale._core.Landing]:
        corrupt, landed = ws.landing("md5", good), ws.landing("md5", good)
        assert await store.get("bad", corrupt) == len(data)
        assert await store.get("good", landed) == len(data)
        return corrupt, landed

    corrupt, landed = _run(options, url, body)
    tmp = corrupt.path
    with pytest.raises(CorruptObjectError, match="remote 'store': bad"):
        ws.ingest_landed(corrupt, "remote 'store': bad")
    assert tmp is not None and not tmp.exists()
    cached = repo.cache_dir / "files" / "md5" / good[:2] / good[2:]
    assert not cached.exists()
    assert ws.ingest_landed(landed, "remote 'store': good") == len(data)
    assert cached.read_bytes() == data
    assert not list(cached.parent.glob("*.tmp"))


def test_a_cancelled_multipart_put_leaves_no_object_and_no_upload(
    seaweed: SeaweedServer, url: str, tmp_path: Path
) -> None:
    src = tmp_path / "big"
    src.write_bytes(os.urandom(20 * MiB))
    options = seaweed.options(part_size=str(5 * MiB), part_jobs="1")

    async def body(store: S3Store) -> None:
        started = asyncio.Event()
        task = asyncio.ensure_future(store.put(src, "big/cancelled", lambda n: started.set()))
        await asyncio.wait_for(started.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    _run(options, url, body)
    client = _boto(seaweed)
    uploads = client.list_multipart_uploads(Bucket="test", Prefix=_prefix(url))
    assert uploads.get("Uploads", []) == []
    listed = client.list_objects_v2(Bucket="test", Prefix=_prefix(url))
    assert listed.get("Contents", []) == []


def test_a_wrong_secret_is_an_auth_error_naming_the_source_not_the_secret(
    seaweed: SeaweedServer, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "f"
    src.write_bytes(b"x")
    secret = "not-the-right-secret"
    options = seaweed.options(secret_access_key=secret)
    with pytest.raises(RemoteAuthError) as put_error:
        _run(options, url, lambda store: store.put(src, "k"))
    with pytest.raises(RemoteAuthError) as exists_error:
        _run(options, url, lambda store: store.exists(["k"]))
    for error in (put_error, exists_error):
        message = str(error.value)
        assert message.startswith("remote 'store': S3 refused the credentials (access_key_id in")
        assert secret not in message and "\n" not in message

    env_options = {k: v for k, v in options.items() if "access_key" not in k}
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweed.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    with pytest.raises(RemoteAuthError, match=r"\(environment AWS_ACCESS_KEY_ID\)") as env_error:
        _run(env_options, url, lambda store: store.get("k", tmp_path / "d"))
    assert secret not in str(env_error.value)
    assert not (tmp_path / "d").exists()


def test_anonymous_only_when_allowed_and_then_unsigned(
    seaweed: SeaweedServer, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dvc (botocore) fails with "Unable to locate credentials" when it finds
    none; it goes unsigned only with allow_anonymous_login."""
    for name in ("AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"):
        monkeypatch.setenv(name, str(tmp_path / "absent"))
    options = {"endpointurl": seaweed.endpoint}
    with pytest.raises(RemoteAuthError, match=r"^remote 'store': no AWS credentials found"):
        _run(options, url, lambda store: store.exists(["k"]))
    options["allow_anonymous_login"] = "true"
    # SeaweedFS with keys refuses unsigned requests: the refusal names the cause
    with pytest.raises(RemoteAuthError, match=r"\(no credentials: anonymous \(allow_anon"):
        _run(options, url, lambda store: store.exists(["k"]))


def test_a_missing_bucket_is_remote_not_found(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    server = start_seaweed(tmp_path_factory, auto_create_bucket=False)
    try:
        src = tmp_path / "f"
        src.write_bytes(b"x")
        url = "s3://no-such-bucket/p"
        for action in (
            lambda store: store.put(src, "k"),
            lambda store: store.exists(["k"]),  # a HEAD's bare 404 is told apart
            lambda store: store.exists([f"d/{i}" for i in range(10)]),  # by listing
            lambda store: store.get("k", tmp_path / "d"),
        ):
            with pytest.raises(RemoteNotFoundError, match="bucket 'no-such-bucket' does not exist"):
                _run(server.options(), url, action)
    finally:
        server.stop()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_endpoint_fails_fast_naming_it(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    options = {"endpointurl": endpoint, "access_key_id": "a", "secret_access_key": "b"}
    options |= {"retries": "2", "connect_timeout": "1"}
    started = time.monotonic()
    with pytest.raises(RemoteUnreachableError, match=f"cannot reach {endpoint}"):
        _run(options, "s3://b/p", lambda store: store.exists(["k"]))
    assert time.monotonic() - started < 5


def test_objects_cross_between_s3store_and_boto3(
    seaweed: SeaweedServer, url: str, tmp_path: Path
) -> None:
    client = _boto(seaweed)
    ours, theirs = os.urandom(100_000), os.urandom(7 * MiB)
    (tmp_path / "ours").write_bytes(ours)
    client.put_object(Bucket="test", Key=_prefix(url) + "files/theirs", Body=theirs)

    async def body(store: S3Store) -> None:
        await store.put(tmp_path / "ours", "files/ours")
        await store.get("files/theirs", tmp_path / "theirs")

    _run(seaweed.options(part_size=str(5 * MiB)), url, body)
    got = client.get_object(Bucket="test", Key=_prefix(url) + "files/ours")["Body"].read()
    assert got == ours
    assert (tmp_path / "theirs").read_bytes() == theirs


def _flaky_app(calls: dict[str, int], bodies: list[bytes]) -> web.Application:
    """An S3 stand-in that answers each PUT first with 503 SlowDown, then 200."""

    async def handler(request: web.Request) -> web.Response:
        data = await request.read()
        calls[request.path] = calls.get(request.path, 0) + 1
        if calls[request.path] == 1:
            error = b"<Error><Code>SlowDown</Code><Message>Reduce your rate</Message></Error>"
            return web.Response(status=503, body=error)
        bodies.append(data)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_route("PUT", "/{tail:.*}", handler)
    return app


def test_a_slowdown_is_retried_and_the_retried_put_resends_the_whole_body(tmp_path: Path) -> None:
    calls: dict[str, int] = {}
    bodies: list[bytes] = []
    small, large = b"small", os.urandom(s3._INLINE_MAX * 3)  # sent from memory, streamed
    (tmp_path / "small").write_bytes(small)
    (tmp_path / "large").write_bytes(large)

    async def main() -> None:
        runner = web.AppRunner(_flaky_app(calls, bodies), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        options = {"endpointurl": f"http://127.0.0.1:{port}", "access_key_id": "a"}
        options |= {"secret_access_key": "b"}
        store = S3Store("flaky", "s3://b/p", options)
        try:
            await store.put(tmp_path / "small", "small")
            await store.put(tmp_path / "large", "large")
        finally:
            await store.close()
            await runner.cleanup()

    asyncio.run(main())
    assert calls == {"/b/p/small": 2, "/b/p/large": 2}
    assert bodies == [small, large]


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        ("s3:/bucket", {}, "is not an s3://bucket/prefix URL"),
        ("s3://b/p", {"part_size": "1000"}, "part_size must be a number of at least 5.24288e"),
        ("s3://b/p", {"retries": "many"}, "retries must be a number"),
        ("s3://b/p", {"version_aware": "true"}, "option 'version_aware' is not supported by bale"),
        ("s3://b/p", {"acl": "private", "grant_read": "id=x"}, "acl and grant_read exclude"),
        ("s3://b/p", {"access_key_id": "a"}, "secret_access_key is missing"),
    ],
)
def test_bad_configuration_is_a_config_error_naming_the_remote(
    url: str, options: dict[str, str], message: str
) -> None:
    with pytest.raises(RemoteConfigError, match=f"^remote 'store': .*{message}"):
        S3Store("store", url, options)


def _forward_proxy(seen: list[str]) -> web.Application:
    """A forward HTTP proxy: records each request line's absolute URL and
    passes the request on unchanged (signed headers included)."""
    import aiohttp

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(f"{request.method} {request.url}")
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() != "proxy-connection"}
        async with (
            aiohttp.ClientSession(auto_decompress=False) as session,
            session.request(
                request.method, str(request.url), headers=headers, data=body or None
            ) as resp,
        ):
            data = await resp.read()
            out = {k: v for k, v in resp.headers.items() if k.lower() not in _HOP}
            return web.Response(status=resp.status, body=data, headers=out)

    app = web.Application(client_max_size=64 * MiB)
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


_HOP = {"transfer-encoding", "connection", "content-length", "keep-alive"}


def test_proxies_come_from_the_environment(
    seaweed: SeaweedServer, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY is used, as botocore (so dvc) uses it, and NO_PROXY skips it."""
    from tests.remotes.http_server import running

    src = tmp_path / "f"
    src.write_bytes(b"through the proxy")
    seen: list[str] = []
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    with running(_forward_proxy(seen)) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy)
        _run(seaweed.options(), url, lambda store: store.put(src, "k"))
        assert seen == [f"PUT {seaweed.endpoint}/test/{_prefix(url)}k"]
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        got = _run(seaweed.options(), url, lambda store: store.read_small("k", 100))
    assert got == b"through the proxy"
    assert len(seen) == 1


@pytest.mark.parametrize("listobjects", ["true", "false"])
def test_listobjects_lists_with_v1_markers_across_pages(
    seaweed: SeaweedServer,
    url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    listobjects: str,
) -> None:
    """dvc's ``listobjects`` asks for ListObjects (v1), paged by marker, for
    servers without v2; every listing request is seen through a proxy."""
    from tests.remotes.http_server import running

    monkeypatch.setattr(s3, "_LIST_PAGE", 4)
    src = tmp_path / "f"
    src.write_bytes(b"x")
    keys = sorted(_md5_names("files/md5/ab", 10))
    seen: list[str] = []
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)

    async def body(store: S3Store) -> tuple[list[str], set[str]]:
        await asyncio.gather(*(store.put(src, key) for key in keys))
        seen.clear()
        listed = [k async for k, _ in store.list("files/")]
        return listed, await store.exists([*keys, "files/md5/ab/" + "0" * 30])

    with running(_forward_proxy(seen)) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy)
        options = seaweed.options(listobjects=listobjects)
        listed, found = _run(options, url, body)
    assert sorted(listed) == keys and found == set(keys)
    lists = [u for u in seen if u.startswith("GET ") and "prefix=" in u]
    assert len(lists) >= 3 + 3  # three pages for list, three for exists
    if listobjects == "true":
        assert all("list-type" not in u and "continuation-token" not in u for u in lists)
        assert sum("marker=" in u for u in lists) >= 4
    else:
        assert all("list-type=2" in u for u in lists)


def test_access_denied_names_the_operation_and_the_object(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """A key that may read and list but not write: the refusal names the
    object and what was asked, and where the keys came from."""
    reader = {"READER": ("reader-secret", ["Read", "List"])}
    server = start_seaweed(tmp_path_factory, identities=reader)
    try:
        src = tmp_path / "f"
        src.write_bytes(b"x")
        options = server.options(access_key_id="READER", secret_access_key="reader-secret")
        with pytest.raises(RemoteAuthError) as e:
            _run(options, "s3://test/ro", lambda store: store.put(src, "files/md5/ab/cd"))
        message = str(e.value)
        assert message.startswith("remote 'store': S3 refused the credentials (access_key_id in")
        assert message.endswith("for PUT files/md5/ab/cd: AccessDenied")
        assert "reader-secret" not in message
        assert _run(options, "s3://test/ro", lambda store: store.exists(["k"])) == set()
    finally:
        server.stop()
