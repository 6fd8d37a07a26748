"""``bale serve``: a folder remote, served over HTTP to ``dvc`` and bale.

The folder is served in DVC's http-remote protocol (dvc-http on fsspec): an
object is ``<url>/<key>`` with the keys of a folder remote, read with ``GET``
(``Range`` honoured) and ``HEAD``, uploaded with ``POST`` or ``PUT`` whose body
is the raw bytes (dvc sends it with chunked transfer encoding), removed with
``DELETE``. What a plain web server cannot promise, this one does:

- An upload lands in a hidden temp file next to its destination
  (``.bale-upload-<random>.tmp``) and is published only when the body is
  complete and, for content-addressed keys, hashes to its name; a dropped
  client or a wrong hash leaves no object. Objects are immutable: the first
  complete upload of a key wins, and it is made read-only (0444).
- Keys are a strict subset of relative paths (see :func:`parse_key`), and a
  path that resolves outside the folder through a symlink is never read,
  listed or written, so no request reaches anything but the folder's objects.
- Keys outside those layouts are stored as sent, unchecked, and at most
  ``max_unverified_size`` bytes (default 64 MiB; larger is refused with 413
  before or while the body arrives). They exist because a folder remote is
  not only objects: the run cache is kept as dvc keeps it on a folder
  remote, ``runs/<2 hex>/<key>/<value>`` (``bale push --run-cache`` sends it
  over HTTP too; dvc 3.67 pushes no run cache to an http remote), where key
  and value are sha256 digests of the stage's lock entry as sorted JSON,
  not of the file's bytes, so the server cannot check them by hash (bale
  checks an entry when it pulls one). An entry is a few KiB, so the limit
  only keeps a client from filling the disk through an unchecked name.
  Checked, with no size limit: ``files/md5/`` (dvc 3), the legacy
  ``<2 hex>/<30 hex>`` (md5 of the text with CRLF as LF), ``bale/blake3/``
  and bale's packs and pack indexes (``bale/packs/``).
- A killed server leaves its upload temps behind; the next one to start on
  the folder removes those whose server is gone (the pid and host are in
  the name) before it accepts a connection.
- ``token`` requires ``Authorization: Bearer <token>`` on every request (dvc:
  ``auth = custom``, ``custom_auth_header = Authorization``,
  ``password = Bearer <token>``); ``read_only`` refuses writes with 403.
- Idle and slow clients cannot starve the others. A connection with no
  request in progress (before its first, between two, or while its request
  headers trickle in) is closed ``timeout`` seconds (default 60) after its
  last response or its start; a request body that brings less than 64 KiB
  in ``timeout`` seconds is refused with 408. At most ``max_connections``
  are open (default 1,000, fewer if the open-file limit would not hold
  them): when a new one arrives at the limit, the connection idle the
  longest is closed to make room, and only when every one is in a request
  is the new one refused (closed at once).

Protocol ``bale-serve 1``: extensions live under ``/.bale/v1/``, a path no
key can take (key segments never start with a dot). Every response carries
``X-Bale-Serve: 1``. Bodies are JSON unless said otherwise; bad input is 400.

``GET /.bale/v1/info``
    ``{"server": "bale serve", "protocol": 1, "read_only": bool,
    "max_keys": int, "max_body": int, "max_unverified_size": int}`` — the
    capability probe (clients ignore fields they do not know).
``POST /.bale/v1/exists``
    ``{"keys": [key, ...]}`` (at most ``max_keys`` keys, ``max_body`` bytes)
    → ``{"present": [key, ...]}``, the subset the folder holds.
``GET /.bale/v1/list?prefix=P&after=K&limit=N``
    ``{"objects": [[key, size], ...], "more": bool}``: the first ``N``
    (default and at most ``max_keys``) objects under ``P`` (empty, or ending
    with ``/``) whose keys sort after ``K`` (optional), in key order (compared
    segment by segment, so a page costs a walk of only the directories on the
    way to ``K``). Ask for the next page with ``after`` = the last key while
    ``more`` is true.
``POST /.bale/v1/delete``
    ``{"keys": [key, ...]}`` (same limits) → ``{"deleted": int}``; keys
    already absent are not an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import json
import logging
import os
import re
import secrets
import signal
import socket
import stat
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from aiohttp import hdrs, web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.typedefs import Middleware
from multidict import CIMultiDict

from bale import _core
from bale.console import warn
from bale.exceptions import ConfigError, TargetNotFoundError

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_TIMEOUT",
    "MAX_BODY",
    "MAX_KEYS",
    "MAX_UNVERIFIED_SIZE",
    "PROTOCOL",
    "TOKEN_ENV",
    "make_app",
    "parse_key",
    "remove_stale_uploads",
    "resolve_token",
    "serve",
]

log = logging.getLogger(__name__)

PROTOCOL = 1
MAX_KEYS = 10_000
MAX_BODY = 2 * 1024 * 1024
MAX_UNVERIFIED_SIZE = 64 * 1024 * 1024
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_CONNECTIONS = 1000
_CHUNK = 1024 * 1024
# A request body must bring this much every `timeout` seconds (or end).
_PROGRESS = 64 * 1024
# Open files kept free of connections: the listening socket, stdio, the
# worker threads' files and a burst of accepts (asyncio accepts up to the
# backlog at once, and a closed connection frees its descriptor a loop
# iteration later).
_BACKLOG = 128
_FD_RESERVE = 64 + _BACKLOG

# At most 255 bytes: longer names fail on every common filesystem.
_SEGMENT = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,254}")

_ROOT: web.AppKey[Path] = web.AppKey("root", Path)
_READ_ONLY: web.AppKey[bool] = web.AppKey("read_only", bool)
_MAX_UNVERIFIED: web.AppKey[int] = web.AppKey("max_unverified_size", int)
_TIMEOUT: web.AppKey[float] = web.AppKey("timeout", float)

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Upload temps carry their server's pid and host, so that a server starting
# on the folder removes only those of servers that are gone. The name of a
# bale before that (16 hex digits) has neither: such a temp is always stale.
_HOST = re.sub(r"[^A-Za-z0-9.\-]", "_", socket.gethostname())[:64] or "localhost"
_TEMP = re.compile(r"\.bale-upload-(?:(\d+)-[0-9a-f]{16}-(.+)|[0-9a-f]{16})\.tmp")


def parse_key(raw: str) -> str | None:
    """The key a raw (still percent-encoded) URL path or JSON string names, else None.

    Segments are ASCII letters, digits, ``_ - .`` and never start with a dot,
    so ``..``, hidden temp files, ``/.bale/`` and anything percent-encoded
    (``%`` is not allowed at all) are rejected before any file is touched.
    """
    key = raw.removeprefix("/")
    if not key or len(key) > 1024:
        return None
    parts = key.split("/")
    return key if all(_SEGMENT.fullmatch(p) for p in parts) else None


def _inside(root: Path, path: str) -> bool:
    return path == str(root) or path.startswith(str(root) + os.sep)


class _Resolver:
    """Maps keys to files inside the root, following symlinks only while they stay inside.

    Parent directories are checked once per resolver, so a batch of 10,000
    keys costs one ``lstat`` each plus one ``realpath`` per directory.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._dirs: dict[str, bool] = {}

    def _dir_ok(self, parent: str) -> bool:
        ok = self._dirs.get(parent)
        if ok is None:
            ok = self._dirs[parent] = _inside(self.root, os.path.realpath(parent))
        return ok

    def existing(self, key: str) -> Path | None:
        """The regular file holding ``key``, or None."""
        path = os.path.join(self.root, key)
        try:
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                real = os.path.realpath(path)
                if not _inside(self.root, real):
                    return None
                st = os.stat(real)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode) or not self._dir_ok(os.path.dirname(path)):
            return None
        return Path(path)

    def make_parent(self, key: str) -> Path:
        """Creates the directories above ``key`` one by one, refusing any that leads outside."""
        current = self.root
        for part in key.split("/")[:-1]:
            nxt = current / part
            with contextlib.suppress(FileExistsError):
                nxt.mkdir()
            real = Path(os.path.realpath(nxt))
            if not _inside(self.root, str(real)) or not real.is_dir():
                raise web.HTTPBadRequest(text="key leads outside the served folder\n")
            current = real
        return current


def _key_of(request: web.Request) -> str:
    key = parse_key(request.rel_url.raw_path)
    if key is None:
        raise web.HTTPNotFound()
    return key


def _check_writable(request: web.Request) -> None:
    if request.app[_READ_ONLY]:
        raise web.HTTPForbidden(text="this bale serve is read-only\n")


class _ObjectResponse(web.FileResponse):
    """A FileResponse (Range, HEAD, conditional requests) that serves only the file itself.

    FileResponse answers with a pre-compressed sibling (``<key>.gz``) when the
    client accepts gzip; an uploaded ``<key>.gz`` must never stand in for
    ``<key>``, so the request it sees accepts no encoding.
    """

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        headers = CIMultiDict(request.headers)
        headers.popall(hdrs.ACCEPT_ENCODING, None)
        return await super().prepare(request.clone(headers=headers))


async def _get(request: web.Request) -> web.StreamResponse:
    key = _key_of(request)
    path = await asyncio.to_thread(_Resolver(request.app[_ROOT]).existing, key)
    if path is None:
        raise web.HTTPNotFound()
    return _ObjectResponse(path)


class _Upload:
    """One upload: buffered in memory up to a chunk, then spilled to a hidden temp file.

    Nothing touches the disk before the first spill, so a small object costs
    one worker-thread call (temp file, write, hash, publish) in all.
    """

    def __init__(self, root: Path, key: str) -> None:
        self.root = root
        self.key = key
        self.buffer = bytearray()
        self.path: Path | None = None
        self.file: BinaryIO | None = None

    async def add(self, chunk: bytes) -> None:
        self.buffer += chunk
        if len(self.buffer) >= _CHUNK:
            await asyncio.to_thread(self._spill)

    def _spill(self) -> BinaryIO:
        if self.file is None:
            parent = _Resolver(self.root).make_parent(self.key)
            name = f".bale-upload-{os.getpid()}-{secrets.token_hex(8)}-{_HOST}.tmp"
            self.path = parent / name
            self.file = open(self.path, "xb")  # noqa: SIM115 - closed by discard()
        self.file.write(self.buffer)
        self.buffer.clear()
        return self.file

    def publish(self, named: _core.StoreKey | None) -> bool:
        """Verifies and publishes; False if the bytes are not what the key names."""
        self._spill().close()
        assert self.path is not None
        if named is not None and not named.verify(self.path):
            return False
        os.chmod(self.path, 0o444)
        dest = self.path.with_name(self.key.rsplit("/", 1)[-1])
        try:
            # link() fails if the name exists, so an object is never replaced.
            os.link(self.path, dest)
        except FileExistsError:
            pass
        except OSError:  # no hard links on this filesystem
            if not dest.exists():
                os.replace(self.path, dest)
        self.discard()  # here, in the worker thread, rather than on the event loop
        return True

    def discard(self) -> None:
        if self.file is not None and self.path is not None:
            self.file.close()
            self.path.unlink(missing_ok=True)
            self.file = self.path = None


async def _body(request: web.Request) -> AsyncIterator[bytes]:
    """The request body in chunks, refused with 408 if it stalls.

    Every ``timeout`` seconds must bring ``_PROGRESS`` bytes or the end of
    the body, so a client trickling a body cannot hold its connection (and
    an upload's temp file) for ever. Time the caller spends on a chunk does
    not count against the client. The timer is armed only when no data is
    buffered: a fast upload costs no timer per chunk.
    """
    content = request.content
    timeout = request.app[_TIMEOUT]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    progress = 0
    while True:
        chunk = content.read_nowait(_CHUNK)
        if not chunk:
            if content.at_eof():
                return
            try:
                chunk = await asyncio.wait_for(
                    content.read(_CHUNK), max(deadline - loop.time(), 0.0)
                )
            except asyncio.TimeoutError:
                log.debug("%s %s: the body stalled", request.method, request.rel_url.raw_path)
                raise web.HTTPRequestTimeout(
                    text=f"the body brought less than {_PROGRESS} bytes in {timeout:g} s\n"
                ) from None
            if not chunk:
                return
        handed = loop.time()
        yield chunk
        progress += len(chunk)
        if progress >= _PROGRESS:
            progress = 0
            deadline = loop.time() + timeout
        else:
            deadline += loop.time() - handed


def _too_large(key: str, limit: int) -> web.HTTPRequestEntityTooLarge:
    return web.HTTPRequestEntityTooLarge(
        limit,
        limit + 1,
        text=f"{key}: not a content-addressed key, so at most {limit} bytes are accepted\n",
    )


async def _put(request: web.Request) -> web.StreamResponse:
    key = _key_of(request)
    _check_writable(request)
    # Content-addressed keys: an object, a pack (named by the blake3 of its
    # bytes) or a pack index (which must parse and belong to the pack of its
    # name, DESIGN.md §11). What the server cannot check by hash, it bounds
    # (see the module docstring).
    named = _core.parse_key(key)
    limit = request.app[_MAX_UNVERIFIED] if named is None else None
    if limit is not None and (request.content_length or 0) > limit:
        raise _too_large(key, limit)
    upload = _Upload(request.app[_ROOT], key)
    size = 0
    try:
        async for chunk in _body(request):
            size += len(chunk)
            if limit is not None and size > limit:
                raise _too_large(key, limit)
            await upload.add(chunk)
        ok = await asyncio.to_thread(upload.publish, named)
    except ConnectionResetError:  # the client went away mid-body: nothing to answer
        log.debug("%s %s: client disconnected mid-body", request.method, key)
        raise web.HTTPBadRequest(text="incomplete body\n") from None
    finally:
        upload.discard()  # after a failure; quick, and runs even if the handler is cancelled
    if not ok:
        raise web.HTTPBadRequest(text="the body does not hash to the key\n")
    return web.Response(status=201)


def _delete_keys(root: Path, keys: list[str]) -> int:
    resolver = _Resolver(root)
    deleted = 0
    for key in keys:
        path = resolver.existing(key)
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                deleted += 1
    return deleted


async def _delete(request: web.Request) -> web.StreamResponse:
    key = _key_of(request)
    _check_writable(request)
    deleted = await asyncio.to_thread(_delete_keys, request.app[_ROOT], [key])
    if not deleted:
        raise web.HTTPNotFound()
    return web.Response(status=204)


async def _info(request: web.Request) -> web.StreamResponse:
    return web.json_response(
        {
            "server": "bale serve",
            "protocol": PROTOCOL,
            "read_only": request.app[_READ_ONLY],
            "max_keys": MAX_KEYS,
            "max_body": MAX_BODY,
            "max_unverified_size": request.app[_MAX_UNVERIFIED],
        }
    )


async def _keys_body(request: web.Request) -> list[str]:
    """The validated ``{"keys": [...]}`` of a batch request."""
    if (request.content_length or 0) > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(MAX_BODY, request.content_length or 0)
    data = bytearray()
    async for chunk in _body(request):
        data += chunk
        if len(data) > MAX_BODY:
            raise web.HTTPRequestEntityTooLarge(MAX_BODY, len(data))
    try:
        body: Any = json.loads(data)
    except ValueError:
        raise web.HTTPBadRequest(text="body is not JSON\n") from None
    keys = body.get("keys") if isinstance(body, dict) else None
    if not isinstance(keys, list) or len(keys) > MAX_KEYS:
        raise web.HTTPBadRequest(text=f'expected {{"keys": [...]}} with at most {MAX_KEYS}\n')
    if not all(isinstance(k, str) and parse_key(k) == k for k in keys):
        raise web.HTTPBadRequest(text="invalid key\n")
    return keys


def _present(root: Path, keys: list[str]) -> list[str]:
    resolver = _Resolver(root)
    return [k for k in keys if resolver.existing(k) is not None]


async def _exists_batch(request: web.Request) -> web.StreamResponse:
    keys = await _keys_body(request)
    present = await asyncio.to_thread(_present, request.app[_ROOT], keys)
    return web.json_response({"present": present})


async def _delete_batch(request: web.Request) -> web.StreamResponse:
    _check_writable(request)
    keys = await _keys_body(request)
    deleted = await asyncio.to_thread(_delete_keys, request.app[_ROOT], keys)
    return web.json_response({"deleted": deleted})


def _walk(root: Path, rel: list[str], after: list[str] | None) -> Iterator[tuple[str, int]]:
    """(key, size) below ``rel``, sorted segment by segment, skipping keys up to ``after``.

    Symlinks and dot names (temp files) are never listed. ``after`` holds the
    remaining segments of the resume point while the walk is on its path.
    """
    try:
        with os.scandir(root.joinpath(*rel)) as it:
            entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if parse_key(entry.name) is None:
            continue
        below: list[str] | None = None
        if after:
            if entry.name < after[0]:
                continue
            if entry.name == after[0]:
                below = after[1:]
                if not below:
                    continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(root, [*rel, entry.name], below)
        elif entry.is_file(follow_symlinks=False) and below is None:
            yield "/".join([*rel, entry.name]), entry.stat(follow_symlinks=False).st_size


async def _list(request: web.Request) -> web.StreamResponse:
    prefix = request.query.get("prefix", "")
    after = request.query.get("after")
    try:
        limit = max(1, min(int(request.query.get("limit", MAX_KEYS)), MAX_KEYS))
    except ValueError:
        raise web.HTTPBadRequest(text="limit must be a number\n") from None
    if prefix and (not prefix.endswith("/") or parse_key(prefix[:-1]) is None):
        raise web.HTTPBadRequest(text="prefix must be empty or a key path ending with '/'\n")
    if after is not None and (parse_key(after) is None or not after.startswith(prefix)):
        raise web.HTTPBadRequest(text="after must be a key under the prefix\n")
    walk = _listing(request.app[_ROOT], prefix, after)
    objects = await asyncio.to_thread(_take, walk, limit + 1)
    return web.json_response({"objects": objects[:limit], "more": len(objects) > limit})


def _listing(root: Path, prefix: str, after: str | None) -> Iterator[tuple[str, int]]:
    rel = prefix.split("/")[:-1]
    if rel and not _inside(root, os.path.realpath(root.joinpath(*rel))):
        return
    yield from _walk(root, rel, after.split("/")[len(rel) :] if after else None)


def _take(it: Iterator[tuple[str, int]], n: int) -> list[tuple[str, int]]:
    return list(itertools.islice(it, n))


def _auth_middleware(expected: bytes) -> Middleware:
    @web.middleware
    async def check(request: web.Request, handler: _Handler) -> web.StreamResponse:
        got = request.headers.get(hdrs.AUTHORIZATION, "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(got, expected):
            raise web.HTTPUnauthorized(
                headers={hdrs.WWW_AUTHENTICATE: 'Bearer realm="bale"'}, text="unauthorized\n"
            )
        return await handler(request)

    return check


@web.middleware
async def _log_requests(request: web.Request, handler: _Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as e:
        log.debug("%s %s %d", request.method, request.rel_url.raw_path, e.status)
        raise
    log.debug("%s %s %d", request.method, request.rel_url.raw_path, response.status)
    return response


async def _advertise(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["X-Bale-Serve"] = str(PROTOCOL)


class _Connection(asyncio.Protocol):
    """One accepted connection: admitted (or refused) by the registry, then
    handed to aiohttp's protocol, which sees every event as if it were alone."""

    def __init__(self, conns: _Connections, make_handler: Callable[[], asyncio.Protocol]) -> None:
        self._conns = conns
        self._make_handler = make_handler
        self._handler: asyncio.Protocol | None = None
        self.transport: asyncio.Transport | None = None
        self.requests = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if not self._conns.admit(self):
            transport.abort()
            return
        self._handler = self._make_handler()
        self._handler.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._conns.forget(self)
        if self._handler is not None:
            self._handler.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._handler is not None:
            self._handler.data_received(data)

    def eof_received(self) -> bool | None:
        return self._handler.eof_received() if self._handler is not None else None

    def pause_writing(self) -> None:
        if self._handler is not None:
            self._handler.pause_writing()

    def resume_writing(self) -> None:
        if self._handler is not None:
            self._handler.resume_writing()


class _Connections:
    """The open connections of one server: at most ``limit``, none idle for
    longer than ``timeout`` (see the module docstring).

    A connection is in a request from the moment its handler starts to the
    moment its response is written (the end of the task aiohttp runs each
    request in), and idle otherwise, which includes the time its request
    headers take to arrive: a client that sends nothing, or trickles its
    headers, is closed ``timeout`` seconds after it connected.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.limit = DEFAULT_MAX_CONNECTIONS
        self._open: dict[asyncio.BaseTransport, _Connection] = {}
        # The idle ones and their timers, the longest idle first.
        self._idle: dict[_Connection, asyncio.TimerHandle] = {}
        self._warned = -float("inf")

    def admit(self, conn: _Connection) -> bool:
        """Registers a new connection, closing the longest idle one at the
        limit; False (refuse it) if every open one is in a request."""
        assert conn.transport is not None
        if len(self._open) >= self.limit:
            if not self._idle:
                self._warn_refusal()
                return False
            self.close(next(iter(self._idle)))
        self._open[conn.transport] = conn
        self._set_idle(conn)
        return True

    def _warn_refusal(self) -> None:
        now = time.monotonic()
        if now - self._warned >= 60:  # once a minute at most: a flood must not flood the log
            self._warned = now
            log.warning(
                "bale serve: %d connections, all in a request (the limit): "
                "refusing new ones until one ends",
                len(self._open),
            )

    def _set_idle(self, conn: _Connection) -> None:
        loop = asyncio.get_running_loop()
        self._idle[conn] = loop.call_later(self.timeout, self.close, conn)

    def close(self, conn: _Connection) -> None:
        """Closes a connection; it no longer counts against the limit."""
        self.forget(conn)
        if conn.transport is not None:
            conn.transport.close()

    def forget(self, conn: _Connection) -> None:
        timer = self._idle.pop(conn, None)
        if timer is not None:
            timer.cancel()
        if conn.transport is not None:
            self._open.pop(conn.transport, None)

    def request_started(self, transport: asyncio.BaseTransport | None) -> _Connection | None:
        """The registered connection a request arrived on, now in a request."""
        conn = self._open.get(transport) if transport is not None else None
        if conn is not None:
            conn.requests += 1
            timer = self._idle.pop(conn, None)
            if timer is not None:
                timer.cancel()
        return conn

    def request_done(self, conn: _Connection) -> None:
        conn.requests -= 1
        if conn.requests == 0 and conn.transport in self._open:
            self._set_idle(conn)


_CONNECTIONS: web.AppKey[_Connections] = web.AppKey("connections", _Connections)


@web.middleware
async def _track_requests(request: web.Request, handler: _Handler) -> web.StreamResponse:
    conns = request.app[_CONNECTIONS]
    conn = conns.request_started(request.transport)
    if conn is not None:
        task = asyncio.current_task()
        assert task is not None
        # aiohttp runs each request in a task of its own, which ends once the
        # response is written: then the connection is idle again.
        task.add_done_callback(lambda _: conns.request_done(conn))
    return await handler(request)


TOKEN_ENV = "BALE_SERVE_TOKEN"


def resolve_token(token: str | None, token_file: str | Path | None) -> str | None:
    """The token from ``token_file``, ``$BALE_SERVE_TOKEN`` or ``token`` (at
    most one of them): a token given on the command line is visible to every
    user of the machine (``ps``, ``/proc``), so it is warned about."""
    env = os.environ.get(TOKEN_ENV)
    given = [
        name
        for name, value in (("--token", token), ("--token-file", token_file), (TOKEN_ENV, env))
        if value is not None
    ]
    if len(given) > 1:
        raise ConfigError(f"serve: the token comes from one place only; got {' and '.join(given)}")
    if token_file is not None:
        path = Path(token_file)
        try:
            text = path.read_text(encoding="utf-8")
            mode = path.stat().st_mode
        except (OSError, UnicodeDecodeError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else "not UTF-8 text"
            raise ConfigError(f"{path}: cannot read the token: {why}") from None
        checked = _checked_token(text.strip(), str(path))
        if mode & 0o077:
            warn(f"{path} is readable by other users (chmod 600 it)")
        return checked
    if env is not None:
        return _checked_token(env, TOKEN_ENV)
    if token is not None:
        warn(
            "--token is visible to every user of this machine (ps, /proc); "
            f"use --token-file PATH or {TOKEN_ENV} instead"
        )
        return _checked_token(token, "--token")
    return None


def _checked_token(token: str, source: str) -> str:
    if not token:
        raise ConfigError(f"{source}: the token is empty")
    if not token.isprintable() or not token.isascii():
        raise ConfigError(f"{source}: the token must be one line of printable ASCII")
    return token


def make_app(
    folder: Path,
    *,
    token: str | None = None,
    read_only: bool = False,
    max_unverified_size: int = MAX_UNVERIFIED_SIZE,
    timeout: float = DEFAULT_TIMEOUT,
) -> web.Application:
    """The aiohttp application serving ``folder``; see the module docstring.

    The connection limits apply only when it runs under :func:`serve`.
    """
    root = Path(os.path.realpath(folder))
    if not root.is_dir():
        raise TargetNotFoundError(f"{folder}: no such directory")
    middlewares: list[Middleware] = [_track_requests, _log_requests]
    if token is not None:
        middlewares.append(_auth_middleware(f"Bearer {token}".encode()))
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY)
    app[_ROOT] = root
    app[_READ_ONLY] = read_only
    app[_MAX_UNVERIFIED] = max_unverified_size
    app[_TIMEOUT] = timeout
    app[_CONNECTIONS] = _Connections(timeout)
    app.on_response_prepare.append(_advertise)
    app.router.add_get("/.bale/v1/info", _info)
    app.router.add_post("/.bale/v1/exists", _exists_batch)
    app.router.add_get("/.bale/v1/list", _list)
    app.router.add_post("/.bale/v1/delete", _delete_batch)
    app.router.add_get("/{key:.*}", _get)  # HEAD too
    app.router.add_post("/{key:.*}", _put)
    app.router.add_put("/{key:.*}", _put)
    app.router.add_delete("/{key:.*}", _delete)
    return app


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's
    return True


def _writer_gone(pid: int, host: str) -> bool:
    if host != _HOST:
        return False  # another machine's (a shared filesystem): it may be uploading
    return pid == os.getpid() or not _alive(pid)


def remove_stale_uploads(folder: Path) -> int:
    """Removes the upload temps that servers now gone left in ``folder``; returns how many.

    Only ``.bale-upload-*.tmp`` files are touched, and of those only the ones
    of an earlier bale, of a process that no longer exists on this host, or
    of this process's pid (it has created none yet: call this before
    serving). Symlinked directories are not followed.
    """
    removed = 0
    for parent, _dirs, names in os.walk(folder):
        for name in names:
            m = _TEMP.fullmatch(name)
            if m is None:
                continue
            pid, host = m.group(1), m.group(2)
            if pid is not None and not _writer_gone(int(pid), host):
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(parent, name))
                removed += 1
    return removed


def _connection_limit(wanted: int | None) -> int:
    """``wanted`` (default :data:`DEFAULT_MAX_CONNECTIONS`) connections, or
    fewer if the open-file limit cannot hold them (raised to the hard limit
    first). Running out of descriptors is what starves a server: accept()
    fails, asyncio stops accepting for a second, and every new client waits
    behind the idle ones. A connection in a request may hold a file open
    too, so each counts twice.
    """
    limit = DEFAULT_MAX_CONNECTIONS if wanted is None else wanted
    try:
        import resource
    except ImportError:  # not POSIX: no limit to read
        return limit
    infinity = resource.RLIM_INFINITY
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    goal = hard if hard != infinity else 1 << 16
    if soft != infinity and soft < goal:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (goal, hard))
            soft = goal
    if soft == infinity:
        return limit
    budget = max((soft - min(_FD_RESERVE, soft // 2)) // 2, 1)
    if limit <= budget:
        return limit
    say = log.info if wanted is None else log.warning
    say(
        "bale serve: at most %d connections, not %d: the open-file limit is %d (ulimit -n)",
        budget,
        limit,
        soft,
    )
    return budget


async def _run(
    app: web.Application,
    host: str,
    port: int,
    ready: Callable[[int], None] | None,
    max_connections: int,
) -> None:
    conns = app[_CONNECTIONS]
    conns.limit = max_connections
    runner = web.AppRunner(
        app, access_log=None, shutdown_timeout=5.0, keepalive_timeout=conns.timeout
    )
    await runner.setup()
    loop = asyncio.get_running_loop()
    server = runner.server
    assert server is not None
    listening: asyncio.Server | None = None
    try:
        # Not a TCPSite: every connection goes through the registry first.
        listening = await loop.create_server(
            lambda: _Connection(conns, server), host, port, backlog=_BACKLOG
        )
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if ready is not None:
            ready(listening.sockets[0].getsockname()[1])
        await stop.wait()
    finally:
        if listening is not None:
            listening.close()
        await runner.cleanup()


def serve(
    folder: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    token: str | None = None,
    read_only: bool = False,
    ready: Callable[[int], None] | None = None,
    max_connections: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_unverified_size: int = MAX_UNVERIFIED_SIZE,
) -> None:
    """Serves ``folder`` on ``host:port`` until SIGINT or SIGTERM.

    First removes the upload temps a killed server left behind
    (:func:`remove_stale_uploads`). ``ready`` is called with the bound port
    (useful with ``port=0``) once requests are accepted. ``max_connections``
    (default :data:`DEFAULT_MAX_CONNECTIONS`, fewer if the open-file limit
    cannot hold them), ``timeout`` and ``max_unverified_size`` are described
    in the module docstring.
    """
    app = make_app(
        folder,
        token=token,
        read_only=read_only,
        max_unverified_size=max_unverified_size,
        timeout=timeout,
    )
    removed = remove_stale_uploads(app[_ROOT])
    if removed:
        log.info("bale serve: removed %d upload temp files left by a stopped server", removed)
    limit = _connection_limit(max_connections)
    asyncio.run(_run(app, host, port, ready, limit))
