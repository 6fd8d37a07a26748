"""Server-side encryption, ACLs and grants on S3 remotes, as dvc-s3 sends
them: checked against SeaweedFS (SSE-C objects unreadable without the key,
SSE-S3 objects stored encrypted), both ways with dvc, and which request
carries which header against a recording stand-in (SeaweedFS has no KMS)."""

# The fixtures imported from conftest modules are taken as parameters (F811).
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from aiohttp import web
from botocore.exceptions import ClientError

from bale.remotes.s3 import S3Store
from tests.integration.conftest import Run, md5_repo, read_tree, run, write_tree  # noqa: F401
from tests.remotes.http_server import running
from tests.remotes.seaweed import SeaweedServer, seaweed  # noqa: F401

MiB = 1 << 20
KEY = os.urandom(32)
KEY_B64 = base64.b64encode(KEY).decode()


def _client(server: SeaweedServer) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=server.region,
    )


def _put_all(options: dict[str, str], url: str, files: dict[str, Path]) -> None:
    async def main() -> None:
        store = S3Store("enc", url, options, jobs=4)
        try:
            for key, src in files.items():
                await store.put(src, key, expect=None)
        finally:
            await store.close()

    asyncio.run(main())


def test_sse_c_objects_cannot_be_read_without_the_key(
    seaweed: SeaweedServer, tmp_path: Path
) -> None:
    small, large = os.urandom(1000), os.urandom(11 * MiB)  # large: a multipart upload
    (tmp_path / "small").write_bytes(small)
    (tmp_path / "large").write_bytes(large)
    prefix = f"enc-{uuid.uuid4().hex[:8]}"
    options = seaweed.options(sse_customer_key=KEY_B64, part_size=str(5 * MiB))
    _put_all(options, f"s3://test/{prefix}", {"s": tmp_path / "small", "l": tmp_path / "large"})
    client = _client(seaweed)
    for key, data in (("s", small), ("l", large)):
        with pytest.raises(ClientError):
            client.get_object(Bucket="test", Key=f"{prefix}/{key}")
        with pytest.raises(ClientError):
            client.get_object(
                Bucket="test",
                Key=f"{prefix}/{key}",
                SSECustomerKey=os.urandom(32),
                SSECustomerAlgorithm="AES256",
            )
        got = client.get_object(
            Bucket="test",
            Key=f"{prefix}/{key}",
            SSECustomerKey=KEY,
            SSECustomerAlgorithm="AES256",
        )
        assert got["Body"].read() == data
    volumes = b"".join(p.read_bytes() for p in seaweed.data_dir.rglob("*.dat"))
    assert small[:64] not in volumes and large[:64] not in volumes


def test_sse_s3_objects_are_stored_encrypted(seaweed: SeaweedServer, tmp_path: Path) -> None:
    marker = b"plain-marker-" + uuid.uuid4().hex.encode()
    # incompressible: SeaweedFS compresses what it can before storing it
    small = marker + os.urandom(2000)
    large = marker + os.urandom(6 * MiB)
    (tmp_path / "small").write_bytes(small)
    (tmp_path / "large").write_bytes(large)
    prefix = f"sse-{uuid.uuid4().hex[:8]}"
    options = seaweed.options(sse="AES256", acl="private", part_size=str(5 * MiB))
    _put_all(options, f"s3://test/{prefix}", {"s": tmp_path / "small", "l": tmp_path / "large"})
    client = _client(seaweed)
    for key, data in (("s", small), ("l", large)):
        head = client.head_object(Bucket="test", Key=f"{prefix}/{key}")
        assert head["ServerSideEncryption"] == "AES256"
        assert client.get_object(Bucket="test", Key=f"{prefix}/{key}")["Body"].read() == data
    # the volume files hold no plaintext of them, and would hold it unencrypted
    control = marker.replace(b"plain", b"clear") + os.urandom(2000)
    client.put_object(Bucket="test", Key=f"{prefix}/plain", Body=control)
    volumes = b"".join(p.read_bytes() for p in seaweed.data_dir.rglob("*.dat"))
    assert marker not in volumes
    assert control[:60] in volumes


def _recorder(seen: list[tuple[str, str, dict[str, str]]]) -> web.Application:
    """An S3 stand-in that records each request's headers and answers as
    S3 does for a small PUT, a multipart upload and a GET."""

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        seen.append((request.method, request.query_string, headers))
        if request.method == "POST" and "uploads" in request.query:
            body = "<InitiateMultipartUploadResult><UploadId>u1</UploadId>"
            return web.Response(text=body + "</InitiateMultipartUploadResult>")
        if request.method == "POST":
            return web.Response(text="<CompleteMultipartUploadResult/>")
        if request.method == "GET":
            return web.Response(status=206, body=b"abc", headers={"Content-Range": "bytes 0-2/3"})
        return web.Response(headers={"ETag": '"e"'})

    app = web.Application(client_max_size=64 * MiB)
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


def test_each_request_carries_the_headers_dvc_sends(tmp_path: Path) -> None:
    (tmp_path / "small").write_bytes(b"x" * 100)
    (tmp_path / "large").write_bytes(os.urandom(6 * MiB))
    seen: list[tuple[str, str, dict[str, str]]] = []
    with running(_recorder(seen)) as url:
        base = {"endpointurl": url, "access_key_id": "a", "secret_access_key": "b"}
        base |= {"region": "us-east-1", "part_size": str(5 * MiB)}
        kms = {**base, "sse": "aws:kms", "sse_kms_key_id": "alias/data", "grant_read": "id=r"}
        _put_all(kms, "s3://b/p", {"s": tmp_path / "small", "l": tmp_path / "large"})
        creates = [h for m, q, h in seen if (m, q) in (("PUT", ""), ("POST", "uploads="))]
        parts = [h for m, q, h in seen if m == "PUT" and "partNumber" in q]
        assert len(creates) == 2 and len(parts) == 2
        for headers in creates:
            assert headers["x-amz-server-side-encryption"] == "aws:kms"
            assert headers["x-amz-server-side-encryption-aws-kms-key-id"] == "alias/data"
            assert headers["x-amz-grant-read"] == "id=r"
            # signed, as S3 requires of every x-amz- header
            signed = headers["authorization"].partition("SignedHeaders=")[2]
            assert "x-amz-server-side-encryption-aws-kms-key-id" in signed
        for headers in parts:  # a part inherits the upload's settings
            assert not any(k.startswith(("x-amz-server-side", "x-amz-grant")) for k in headers)

        seen.clear()
        ssec = {**base, "sse_customer_key": KEY_B64}

        async def reads() -> None:
            store = S3Store("enc", "s3://b/p", ssec)
            try:
                await store.put(tmp_path / "large", "l")
                await store.get("k", tmp_path / "got")
                await store.read_small("k", 10)
                await store.exists(["k"])  # one key: a HEAD
            finally:
                await store.close()

        asyncio.run(reads())
    md5 = base64.b64encode(__import__("hashlib").md5(KEY).digest()).decode()
    by_kind = {}
    for method, query, headers in seen:
        by_kind.setdefault((method, query.split("=")[0]), []).append(headers)
    for kind in [("POST", "uploads"), ("PUT", "partNumber"), ("GET", ""), ("HEAD", "")]:
        for headers in by_kind[kind]:
            assert headers["x-amz-server-side-encryption-customer-algorithm"] == "AES256", kind
            assert headers["x-amz-server-side-encryption-customer-key"] == KEY_B64, kind
            assert headers["x-amz-server-side-encryption-customer-key-md5"] == md5, kind


def _configure(repo: Path, run: Run, server: SeaweedServer, url: str, tool: str) -> None:
    run(tool, "remote", "add", "-d", "s", url, cwd=repo)
    for option, value in server.options(sse_customer_key=KEY_B64).items():
        run(tool, "remote", "modify", "--local", "s", option, value, cwd=repo)


@pytest.mark.interop
def test_sse_c_data_crosses_between_bale_and_dvc(
    seaweed: SeaweedServer, md5_repo: Path, run: Run
) -> None:
    url = f"s3://test/x-{uuid.uuid4().hex[:8]}/data"
    data = {"a.txt": "alpha\n", "d/b.bin": b"\x00\x01" * 5000}
    write_tree(md5_repo / "data", data)
    run("bale", "add", "data")
    _configure(md5_repo, run, seaweed, url, "bale")
    run("bale", "push")
    shutil.rmtree(md5_repo / ".dvc" / "cache")
    shutil.rmtree(md5_repo / "data")
    run("dvc", "pull", "-q")
    assert read_tree(md5_repo / "data")["d/b.bin"] == b"\x00\x01" * 5000
    assert json.loads(run("dvc", "status", "-c", "--json").stdout) == {}

    write_tree(md5_repo, {"new.txt": "pushed by dvc\n"})
    run("dvc", "add", "-q", "new.txt")
    run("dvc", "push", "-q")
    client = _client(seaweed)
    listed = client.list_objects_v2(Bucket="test", Prefix=url.removeprefix("s3://test/"))
    keys = [o["Key"] for o in listed["Contents"]]
    for key in keys:  # dvc encrypted with the key too: nothing reads without it
        with pytest.raises(ClientError):
            client.get_object(Bucket="test", Key=key)
    shutil.rmtree(md5_repo / ".dvc" / "cache")
    (md5_repo / "new.txt").unlink()
    run("bale", "pull")
    assert (md5_repo / "new.txt").read_text() == "pushed by dvc\n"
