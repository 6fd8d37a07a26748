"""WebDAVStore against a real WebDAV server (WsgiDAV): what only WebDAV has
(credentials as dvc-webdav takes them, collections, atomic uploads). What
every store promises is checked in ``test_store_conformance.py``, and dvc
both ways in ``test_conformance.py``."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TypeVar

import pytest

from bale.exceptions import CorruptObjectError
from bale.remotes.errors import RemoteAuthError, RemoteConfigError, RemoteUnreachableError
from bale.remotes.webdav import WebDAVStore
from tests.remotes.webdav_server import serving_webdav

T = TypeVar("T")


def _run(url: str, options: Mapping[str, str], body: Callable[[WebDAVStore], Awaitable[T]]) -> T:
    async def main() -> T:
        store = WebDAVStore("dav", url, options, jobs=4)
        try:
            return await body(store)
        finally:
            await store.close()

    return asyncio.run(main())


def test_basic_auth_as_dvc_webdav_takes_it(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    src = tmp_path / "f"
    src.write_bytes(b"for alice")
    with serving_webdav(root, user="alice", password="s3cret-pw") as dav:
        _run(
            f"{dav.url}/deep/er",
            {"user": "alice", "password": "s3cret-pw"},
            lambda s: s.put(src, "files/md5/ab/cd"),
        )
        assert (root / "deep" / "er" / "files" / "md5" / "ab" / "cd").read_bytes() == b"for alice"
        # the user in the URL, as dvc-webdav reads it
        host = dav.url.removeprefix("webdav://")
        got = _run(
            f"webdav://alice@{host}/deep/er",
            {"password": "s3cret-pw"},
            lambda s: s.read_small("files/md5/ab/cd", 100),
        )
        assert got == b"for alice"
        for options in ({"user": "alice", "password": "wrong-pw"}, {}):
            with pytest.raises(RemoteAuthError) as e:
                _run(f"{dav.url}/deep/er", options, lambda s: s.exists(["files/md5/ab/cd"]))
            message = str(e.value)
            assert message.startswith(f"remote 'dav': {dav.url.replace('webdav', 'http')}/deep/er")
            assert "HTTP 401" in message and "wrong-pw" not in message and "\n" not in message
        with pytest.raises(RemoteAuthError, match="refused basic auth as user 'alice'"):
            _run(
                f"{dav.url}/deep/er",
                {"user": "alice", "password": "wrong-pw"},
                lambda s: s.put(src, "k"),
            )


def test_bad_urls_and_options_are_config_errors() -> None:
    for url, options, message in [
        ("webdav://alice:pw@host/p", {}, "put the WebDAV password in the password option"),
        ("webdav:///p", {}, "is not a webdav(s):// URL"),
        ("webdav://host/p", {"user": "alice"}, "user 'alice' needs password"),
    ]:
        with pytest.raises(RemoteConfigError) as e:
            WebDAVStore("dav", url, options)
        assert message in str(e.value) and "pw@" not in str(e.value)


def test_a_failed_upload_leaves_nothing_behind(tmp_path: Path) -> None:
    """The bytes go to a temporary name and are renamed into place: an
    upload that fails (here: the cache object rotted) leaves neither the
    object nor the temporary file, and a leftover temp is never listed."""
    root = tmp_path / "root"
    root.mkdir()
    src = tmp_path / "obj"
    src.write_bytes(b"rotten bytes")
    wrong = "0" * 32
    with serving_webdav(root) as dav:
        with pytest.raises(CorruptObjectError):
            _run(
                dav.url,
                {},
                lambda s: s.put(src, f"files/md5/00/{wrong[2:]}", expect=("md5", wrong)),
            )
        assert [p.name for p in root.rglob("*") if p.is_file()] == []
        (root / "files" / "md5" / "00" / ".bale-leftover.tmp").write_bytes(b"partial")
        listed = _run(dav.url, {}, lambda s: _collect(s.list("")))
        assert listed == []
        found = _run(dav.url, {}, lambda s: s.exists([f"files/md5/00/{c * 30}" for c in "abc"]))
        assert found == set()


async def _collect(it: object) -> list[tuple[str, int]]:
    return [x async for x in it]  # type: ignore[attr-defined]


def test_an_unreachable_server_fails_fast_naming_it() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(RemoteUnreachableError, match=f"cannot reach http://127.0.0.1:{port}/p"):
        _run(
            f"webdav://127.0.0.1:{port}/p",
            {"timeout": "1", "retries": "1"},
            lambda s: s.exists(["k"]),
        )
    assert time.monotonic() - started < 5
