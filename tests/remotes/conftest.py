"""Two fixtures that are each kind of remote in turn: a folder, S3 on a real
SeaweedFS server, GCS on fake-gcs-server, HTTP through ``bale serve``,
WebDAV on WsgiDAV, and SSH on OpenSSH's sshd. ``remote`` is configured
into a repository by the CLI and offers raw access to what the remote holds,
to inspect and to tamper with; ``store`` is the same remote as a
:class:`~bale.remotes.store.Store`, for the Store-level conformance suite.
A new kind of remote is added to both."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import pytest

import bale.remotes.gcs as gcs
import bale.remotes.http as http
import bale.remotes.s3 as s3
from bale.remotes import Remote, serve
from bale.remotes.store import Store
from tests.integration.conftest import Run, md5_repo, run  # noqa: F401
from tests.remotes.gcs_server import GcsServer, gcs_server  # noqa: F401
from tests.remotes.http_server import serving
from tests.remotes.seaweed import SeaweedServer, seaweed  # noqa: F401
from tests.remotes.sshd import SSHServer, sshd  # noqa: F401
from tests.remotes.webdav_server import serving_webdav


class RemoteUnderTest(ABC):
    """A remote as the suite sees it: configured into a repository by the
    CLI, and inspected behind bale's back."""

    name = "store"

    @abstractmethod
    def configure(self, repo: Path, cli: Run) -> None: ...

    @abstractmethod
    def listing(self) -> set[str]: ...

    @abstractmethod
    def read(self, key: str) -> bytes: ...

    @abstractmethod
    def write(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def delete(self, key: str) -> None: ...


class FolderRemote(RemoteUnderTest):
    def __init__(self, root: Path, url: str | None = None) -> None:
        self.root = root
        self.url = url or str(root)

    def configure(self, repo: Path, cli: Run) -> None:
        cli("bale", "remote", "add", "-d", self.name, self.url, cwd=repo)

    def listing(self) -> set[str]:
        return {
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        }

    def read(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def write(self, key: str, data: bytes) -> None:
        path = self.root / key
        if path.exists():
            path.chmod(0o644)
        path.write_bytes(data)

    def delete(self, key: str) -> None:
        (self.root / key).unlink()


class SSHRemote(FolderRemote):
    """A folder on this machine, reached over SFTP: as bale and dvc-ssh
    see it, with the key as ``keyfile`` and ``HOME`` pointing at the test
    server's (its ``known_hosts``)."""

    def __init__(self, server: SSHServer, root: Path) -> None:
        super().__init__(root, server.url(root))
        self.server = server

    def configure(self, repo: Path, cli: Run) -> None:
        super().configure(repo, cli)
        cli("bale", "remote", "modify", self.name, "keyfile", str(self.server.keyfile), cwd=repo)


def use_sshd(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> SSHServer:
    """The session's sshd, with ``HOME`` (so ``~/.ssh``) the one that knows it."""
    server: SSHServer = request.getfixturevalue("sshd")
    monkeypatch.setenv("HOME", str(server.home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return server


class S3Remote(RemoteUnderTest):
    def __init__(self, server: SeaweedServer) -> None:
        import boto3

        self.server = server
        self.bucket = f"conf-{uuid.uuid4().hex[:12]}"
        self.prefix = "team/data"
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            aws_access_key_id=server.access_key,
            aws_secret_access_key=server.secret_key,
            region_name=server.region,
        )
        self.client.create_bucket(Bucket=self.bucket)

    def configure(self, repo: Path, cli: Run) -> None:
        url = f"s3://{self.bucket}/{self.prefix}"
        cli("bale", "remote", "add", "-d", self.name, url, cwd=repo)
        for option, value in self.server.options().items():
            cli("bale", "remote", "modify", "--local", self.name, option, value, cwd=repo)

    def listing(self) -> set[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + "/"
        )
        start = len(self.prefix) + 1
        return {o["Key"][start:] for page in pages for o in page.get("Contents", [])}

    def read(self, key: str) -> bytes:
        body = self.client.get_object(Bucket=self.bucket, Key=f"{self.prefix}/{key}")["Body"]
        data: bytes = body.read()
        return data

    def write(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=f"{self.prefix}/{key}", Body=data)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=f"{self.prefix}/{key}")


class GcsRemote(RemoteUnderTest):
    """A bucket of its own on fake-gcs-server, reached (by bale, by dvc-gs and
    by the CLI's subprocesses) through ``STORAGE_EMULATOR_HOST``; inspected
    through the JSON API."""

    def __init__(self, server: GcsServer) -> None:
        self.server = server
        self.bucket = server.new_bucket()
        self.prefix = "team/data"

    def configure(self, repo: Path, cli: Run) -> None:
        cli("bale", "remote", "add", "-d", self.name, f"gs://{self.bucket}/{self.prefix}", cwd=repo)

    def _object(self, key: str) -> str:
        return f"/storage/v1/b/{self.bucket}/o/{quote(f'{self.prefix}/{key}', safe='')}"

    def listing(self) -> set[str]:
        keys: set[str] = set()
        token = ""
        while True:
            query = f"prefix={quote(self.prefix + '/')}&pageToken={quote(token)}"
            page = json.loads(self.server.call("GET", f"/storage/v1/b/{self.bucket}/o?{query}"))
            start = len(self.prefix) + 1
            keys.update(item["name"][start:] for item in page.get("items", []))
            token = page.get("nextPageToken", "")
            if not token:
                return keys

    def read(self, key: str) -> bytes:
        path = f"/download{self._object(key)}?alt=media"
        return self.server.call("GET", path)

    def write(self, key: str, data: bytes) -> None:
        name = quote(f"{self.prefix}/{key}", safe="")
        path = f"/upload/storage/v1/b/{self.bucket}/o?uploadType=media&name={name}"
        self.server.call("POST", path, data)

    def delete(self, key: str) -> None:
        self.server.call("DELETE", self._object(key))


#: Every kind of remote: the CLI conformance and integrity suites run on each.
KINDS = ["folder", "s3", "gcs", "http", "webdav", "ssh"]
#: The kinds the suites of bale's layouts above the Store protocol (packs,
#: chunks, get) run on: one local, one object store, one HTTP server. Every
#: other kind passes the same Store suite, so these suites would only repeat
#: themselves on it, at a minute of the test budget each.
LAYOUT_KINDS = ["folder", "s3", "http"]


def remote_of(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RemoteUnderTest]:
    """The remote of one kind, empty, for one test (a fixture's body)."""
    if kind == "folder":
        yield FolderRemote(tmp_path / "store")
    elif kind == "s3":
        server: SeaweedServer = request.getfixturevalue("seaweed")
        yield S3Remote(server)
    elif kind == "gcs":
        emulator: GcsServer = request.getfixturevalue("gcs_server")
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator.endpoint)
        yield GcsRemote(emulator)
    elif kind == "webdav":
        served = tmp_path / "dav"
        (served / "team" / "data").mkdir(parents=True)
        with serving_webdav(served) as dav:
            yield FolderRemote(served / "team" / "data", f"{dav.url}/team/data")
    elif kind == "ssh":
        yield SSHRemote(use_sshd(request, monkeypatch), tmp_path / "sftp" / "team" / "data")
    else:
        folder = tmp_path / "served"
        folder.mkdir()
        with serving(folder) as url:
            yield FolderRemote(folder, url)


@pytest.fixture(params=KINDS)
def remote(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RemoteUnderTest]:
    """Each kind of remote, empty, for one test."""
    yield from remote_of(request.param, request, tmp_path, monkeypatch)


@pytest.fixture(params=LAYOUT_KINDS)
def layout_remote(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RemoteUnderTest]:
    """A local, an object-store and an HTTP remote, empty, for one test."""
    yield from remote_of(request.param, request, tmp_path, monkeypatch)


@pytest.fixture(autouse=True)
def _no_ambient_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials come from the remote's config, never from the machine."""
    for name in list(os.environ):
        # (instance metadata stays off: see tests/conftest.py)
        if name.startswith("AWS_") and name != "AWS_EC2_METADATA_DISABLED":
            monkeypatch.delenv(name)


T = TypeVar("T")

#: An SSE-C key, base64 as dvc's sse_customer_key takes it.
SSE_C_KEY = base64.b64encode(bytes(range(32))).decode()

# Listings and batches in pages of this many keys, so that every test of the
# Store suite crosses page boundaries with a handful of objects.
SMALL_PAGE = 7


class StoreUnderTest:
    """One kind of store, empty, opened afresh inside each event loop as bale
    opens it (``Remote.open_store``): its sessions belong to one loop."""

    def __init__(self, kind: str, remote: Remote) -> None:
        self.kind = kind
        self.remote = remote

    def run(self, body: Callable[[Store], Awaitable[T]]) -> T:
        """``body`` with the store open, in a new event loop; the store is closed after."""

        async def main() -> T:
            store = self.remote.open_store(jobs=8)
            try:
                return await body(store)
            finally:
                await store.close()

        return asyncio.run(main())


@pytest.fixture(params=["folder", "s3", "s3-sse-c", "gcs", "http", "webdav", "ssh"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StoreUnderTest]:
    """Each kind of store, empty, for one test, listing in small pages."""
    name = "conf"
    if request.param == "folder":
        root = tmp_path / "store"
        yield StoreUnderTest("folder", Remote(name, str(root), "folder", path=root))
    elif request.param.startswith("s3"):
        server: SeaweedServer = request.getfixturevalue("seaweed")
        monkeypatch.setattr(s3, "_LIST_PAGE", SMALL_PAGE)
        url = f"s3://{server.bucket}/c-{uuid.uuid4().hex[:12]}/data"
        # The smallest part S3 allows, so a large object is a multipart upload.
        options = server.options(part_size=str(5 << 20))
        if request.param == "s3-sse-c":
            # every request that reads or writes bytes must carry the key
            options["sse_customer_key"] = SSE_C_KEY
        yield StoreUnderTest("s3", Remote(name, url, "s3", options=options))
    elif request.param == "gcs":
        emulator: GcsServer = request.getfixturevalue("gcs_server")
        monkeypatch.setattr(gcs, "_LIST_PAGE", SMALL_PAGE)
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator.endpoint)
        url = f"gs://{emulator.new_bucket()}/c/data"
        # parts of 5 MiB, as on S3: a large object is a resumable upload in
        # two chunks, and comes back as parallel ranged GETs
        options = {"part_size": str(5 << 20)}
        yield StoreUnderTest("gs", Remote(name, url, "gs", options=options))
    elif request.param == "webdav":
        monkeypatch.setattr(http, "_PART", 1 << 20)  # large objects in parallel ranges
        served = tmp_path / "dav"
        served.mkdir()
        with serving_webdav(served) as dav:
            url = f"{dav.url}/store"
            yield StoreUnderTest("webdav", Remote(name, url, "webdav"))
    elif request.param == "ssh":
        server = use_sshd(request, monkeypatch)
        options = {"keyfile": str(server.keyfile)}
        url = server.url(tmp_path / "sftp" / "store")
        yield StoreUnderTest("ssh", Remote(name, url, "ssh", options=options))
    else:
        monkeypatch.setattr(serve, "MAX_KEYS", SMALL_PAGE)
        monkeypatch.setattr(http, "_PART", 1 << 20)
        folder = tmp_path / "served"
        folder.mkdir()
        with serving(folder) as url:
            yield StoreUnderTest("http", Remote(name, url, "http"))
