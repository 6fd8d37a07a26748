"""WebDAV remotes (``webdav://host/path``, ``webdavs://`` for TLS), as dvc-webdav has them.

The layout is the folder remote's (``files/md5/ab/cdef…``, bale's packs for
blake3) under the URL's path. dvc-webdav's options mean what they mean
there: ``user`` (or the URL's ``user@``) with ``password`` or
``ask_password`` is basic auth; ``token`` is a bearer token, and
``bearer_token_command`` prints one; ``custom_auth_header`` carries
``password``; ``cert_path`` / ``key_path`` are a client certificate;
``ssl_verify`` is a bool or a CA bundle; ``timeout`` is seconds (30).

Reading is plain HTTP (``GET`` with ranges, ``HEAD``), so this store is an
:class:`~bale.remotes.http.HTTPStore` that adds what WebDAV has beyond it:

- ``put`` is atomic: the bytes go to a temporary name beside the object
  (``.bale-<token>.tmp``), which ``MOVE`` renames into place. dvc-webdav
  PUTs straight to the name, so a dropped upload there can leave a
  truncated object that a later push takes for a complete one.
- Collections are made with ``MKCOL`` before the first upload into them,
  once per process.
- ``list`` and ``exists`` read collections with ``PROPFIND`` (``Depth: 1``,
  which every server allows; ``infinity`` is often refused), so checking
  many objects of one directory costs one request.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import os
import shlex
import ssl
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import yarl

from bale.redact import mask_url
from bale.remotes.errors import RemoteConfigError, RemoteError, TransientError
from bale.remotes.http import HTTPStore, _Auth, _bool
from bale.remotes.listing import DirectoryStore
from bale.remotes.store import Expect, Progress, is_temp, temp_key
from bale.remotes.support import option_setter

__all__ = ["WebDAVStore", "http_url"]

_DAV = "{DAV:}"
_PROPFIND = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<propfind xmlns="DAV:"><prop><resourcetype/><getcontentlength/></prop></propfind>'
)
# What import-url reads of a source: the entity tag dvc records too.
_PROPFIND_ETAG = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<propfind xmlns="DAV:"><prop><resourcetype/><getcontentlength/><getetag/></prop></propfind>'
)
# Fewer wanted keys than this in one collection are HEADed; more, and one
# PROPFIND of the collection answers for all of them.
_LIST_MIN_KEYS = 3
_DEFAULT_TIMEOUT = "30"  # dvc-webdav's


def http_url(name: str, url: str) -> tuple[str, str | None]:
    """``webdav[s]://[user@]host/path`` → (``http[s]://host/path``, user)."""
    parts = urlsplit(url)
    scheme = {"webdav": "http", "webdavs": "https"}.get(parts.scheme.lower())
    if scheme is None or not parts.hostname:
        raise RemoteConfigError(f"remote '{name}': '{mask_url(url)}' is not a webdav(s):// URL")
    if parts.password:
        raise RemoteConfigError(
            f"remote '{name}': put the WebDAV password in the password option "
            f"({option_setter(name)}), not in the URL"
        )
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit((scheme, host, parts.path.rstrip("/"), "", "")), parts.username


class WebDAVStore(DirectoryStore, HTTPStore):
    """The objects under a WebDAV collection; see the module docstring."""

    _list_min_keys = _LIST_MIN_KEYS

    def __init__(self, name: str, url: str, options: Mapping[str, str], *, jobs: int = 16) -> None:
        base, url_user = http_url(name, url)
        timeout = options.get("timeout", _DEFAULT_TIMEOUT)
        http_options = {"connect_timeout": timeout, "read_timeout": timeout, "method": "PUT"}
        for option in ("ssl_verify", "retries"):
            if option in options:
                http_options[option] = options[option]
        super().__init__(name, base, http_options, jobs=jobs)
        self._auth = _dav_auth(name, options, url_user)
        self._token = options.get("token")
        self._token_command = options.get("bearer_token_command")
        self._cert = options.get("cert_path")
        self._key = options.get("key_path")
        self._root = yarl.URL(base).path.rstrip("/") + "/"
        self._collections: dict[str, asyncio.Future[None]] = {}

    def __repr__(self) -> str:
        return f"WebDAVStore({self.name!r}, {self._shown!r})"

    # -- the Store protocol ------------------------------------------------

    async def put(
        self,
        src: Path,
        key: str,
        progress: Progress | None = None,
        consume: bool = False,
        expect: Expect = None,
    ) -> None:
        parent = key.rpartition("/")[0]
        await self._collection((self._root + parent).rstrip("/"))
        temp = temp_key(key)
        try:
            await self._retry(lambda: self._put_once(src, temp, progress, expect))
            if not await self._retry(lambda: self._move(temp, key)):
                await self._forget(temp)
        except BaseException:
            await asyncio.shield(self._forget(temp))
            raise

    # -- WebDAV beyond HTTP ----------------------------------------------------

    async def _bale_serve(self) -> None:
        return None  # a WebDAV server is not bale serve: no probe

    async def _holds(self, key: str) -> bool:
        """PROPFIND, not HEAD: WsgiDAV answers a HEAD it refuses (401) with
        a body, which aiohttp, reading the body's bytes as the next answer's
        status line, turns into a garbled error."""

        async def once() -> bool:
            headers = {"Depth": "0", "Content-Type": "application/xml"}
            async with self._request("PROPFIND", key, data=_PROPFIND, headers=headers) as resp:
                if resp.status == 404:
                    return False
                if resp.status != 207:
                    raise self._unexpected("PROPFIND", key, resp.status)
                await resp.read()
                return True

        return await self._retry(once)

    async def _children(self, collection: str) -> builtins.list[tuple[str, int | None]]:
        """(key, size) of what ``collection`` holds, size None for a
        collection; empty when it does not exist. Temporary uploads are left out."""

        async def once() -> builtins.list[tuple[str, int | None]]:
            path = f"{collection}/" if collection else ""
            headers = {"Depth": "1", "Content-Type": "application/xml"}
            async with self._request("PROPFIND", path, data=_PROPFIND, headers=headers) as resp:
                if resp.status == 404:
                    return []
                if resp.status != 207:
                    raise self._unexpected("PROPFIND", path, resp.status)
                body = await resp.read()
            return self._parse(body, collection)

        return await self._retry(once)

    def _parse(self, body: bytes, collection: str) -> builtins.list[tuple[str, int | None]]:
        return [
            (key, None if isdir else size)
            for key, isdir, size, _ in self._responses(body, collection, itself=False)
        ]

    def _responses(
        self, body: bytes, collection: str, itself: bool
    ) -> builtins.list[tuple[str, bool, int, str | None]]:
        """(key, is a collection, size, etag) of each resource a PROPFIND
        answered, in the server's order; the collection asked about only
        with ``itself``. Temporary uploads are left out."""
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            raise RemoteError(
                f"remote '{self.name}': PROPFIND {collection or '/'}: not a WebDAV answer"
            ) from None
        out: builtins.list[tuple[str, bool, int, str | None]] = []
        own = (self._root + collection).rstrip("/")
        for response in root.iter(f"{_DAV}response"):
            href = response.findtext(f"{_DAV}href") or ""
            path = unquote(urlsplit(href).path).rstrip("/")
            if (path == own and not itself) or not (path + "/").startswith(self._root):
                continue
            key = path[len(self._root) :]
            if is_temp(key):
                continue
            prop = response.find(f"{_DAV}propstat/{_DAV}prop")
            kind = prop.find(f"{_DAV}resourcetype/{_DAV}collection") if prop is not None else None
            length = prop.findtext(f"{_DAV}getcontentlength") if prop is not None else None
            etag = prop.findtext(f"{_DAV}getetag") if prop is not None else None
            size = int(length) if length and length.isdigit() else 0
            out.append((key, kind is not None, size, etag or None))
        return out

    # -- beyond the Store protocol: reading a webdav:// URL for import-url --

    async def props(
        self, key: str, depth: str
    ) -> builtins.list[tuple[str, bool, int, str | None]] | None:
        """(key, is a collection, size, etag) of ``key`` itself (``depth``
        ``0``) or of what the collection ``key`` holds (``1``), in the
        server's order; None if there is no such resource."""

        async def once() -> builtins.list[tuple[str, bool, int, str | None]] | None:
            headers = {"Depth": depth, "Content-Type": "application/xml"}
            path = f"{key}/" if depth == "1" and key else key
            async with self._request(
                "PROPFIND", path, data=_PROPFIND_ETAG, headers=headers
            ) as resp:
                if resp.status == 404:
                    return None
                if resp.status != 207:
                    raise self._unexpected("PROPFIND", path, resp.status)
                body = await resp.read()
            return self._responses(body, key, itself=depth == "0")

        return await self._retry(once)

    async def _collection(self, path: str) -> None:
        """Makes the collection ``path`` (from the server's root, ending
        without a slash) and those above it, once per process each (MKCOL)."""
        if not path:
            return
        pending = self._collections.get(path)
        if pending is None:
            pending = asyncio.ensure_future(self._make_collection(path))
            self._collections[path] = pending
        try:
            await asyncio.shield(pending)
        except BaseException:
            if pending.done():
                self._collections.pop(path, None)  # a failure is tried again next time
            raise

    async def _make_collection(self, path: str) -> None:
        await self._collection(path.rpartition("/")[0])

        async def once() -> None:
            async with self._request("MKCOL", quote(path) + "/") as resp:
                # 405: it exists already; 301: some servers redirect to the slash form
                if resp.status not in (200, 201, 301, 405):
                    raise self._unexpected("MKCOL", path, resp.status)

        await self._retry(once)

    async def _move(self, temp: str, key: str) -> bool:
        """Renames ``temp`` to ``key``; False when a concurrent writer's
        object took the name instead (``temp`` is then still to delete)."""
        destination = str(yarl.URL(f"{self._base}/{key}"))
        headers = {"Destination": destination, "Overwrite": "T"}
        async with self._request("MOVE", temp, headers=headers) as resp:
            status = resp.status
        if status in (200, 201, 204):
            return True
        if status not in (404, 409, 412, 423):
            raise self._unexpected("MOVE", key, status)
        # Servers replace a destination by deleting it, then moving: a
        # concurrent writer of the same key (a second clone pushing the same
        # object) can fail the move in between. Every writer moves whole
        # files only, so an object under the name now is a whole one.
        if await self._holds(key):
            return False
        raise TransientError(f"remote '{self.name}': MOVE {key}: HTTP {status}")

    async def _forget(self, temp: str) -> None:
        """Best effort: a temporary upload left behind is never listed."""
        # the failure being raised is the one that matters
        with contextlib.suppress(Exception):
            await self._delete_one(temp)

    # -- the session ---------------------------------------------------------

    async def _open(self) -> Any:
        session = await super()._open()
        if self._token or self._token_command:
            token = self._token or await asyncio.to_thread(self._run_token_command)
            session.headers["Authorization"] = f"Bearer {token}"
        return session

    def _run_token_command(self) -> str:
        assert self._token_command is not None
        try:
            done = subprocess.run(
                shlex.split(self._token_command),
                capture_output=True,
                text=True,
                timeout=float(self._read_timeout or 30),
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise RemoteConfigError(
                f"remote '{self.name}': bearer_token_command failed: {e}"
            ) from None
        token = done.stdout.strip()
        if done.returncode != 0 or not token:
            why = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
            raise RemoteConfigError(
                f"remote '{self.name}': bearer_token_command printed no token ({why[0]})"
            )
        return token

    def _ssl(self) -> ssl.SSLContext | bool:
        verify = super()._ssl()
        if not self._cert:
            return verify
        context = verify if isinstance(verify, ssl.SSLContext) else ssl.create_default_context()
        if verify is False:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            context.load_cert_chain(
                os.path.expanduser(self._cert),
                os.path.expanduser(self._key) if self._key else None,
            )
        except (OSError, ssl.SSLError) as e:
            raise RemoteConfigError(
                f"remote '{self.name}': cert_path: cannot load the client certificate ({e})"
            ) from None
        return context


def _dav_auth(name: str, options: Mapping[str, str], url_user: str | None) -> _Auth:
    """dvc-webdav's precedence: a token, else user (basic), else a custom header."""
    ask = _bool(name, "ask_password", options.get("ask_password", "false"))
    password = options.get("password")
    if options.get("token") or options.get("bearer_token_command"):
        return _Auth("bearer", None, None, None, False)
    user = options.get("user") or url_user
    if user:
        if password is None and not ask:
            raise RemoteConfigError(
                f"remote '{name}': user '{user}' needs password (in .dvc/config.local) "
                "or ask_password"
            )
        return _Auth("basic", user, password, None, ask)
    header = options.get("custom_auth_header")
    if header:
        return _Auth("custom", None, password, header, ask)
    return _Auth(None, None, None, None, False)
