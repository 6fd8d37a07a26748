"""HTTP remotes: DVC's ``http``/``https`` remote protocol, plus ``bale serve``'s extensions.

What dvc-http (3.67.1's plugin, on fsspec and aiohttp) does and this store
matches: an object is ``<url>/<key>``; downloads are ``GET``; uploads send the
file's bytes as the body with ``POST``, or ``PUT`` when the remote's
``method`` option says so; ``auth`` is ``basic`` (``user`` + ``password``) or
``custom`` (the header named ``custom_auth_header`` carries ``password``), and
``ask_password`` prompts when no password is configured; ``ssl_verify`` is a
bool or a CA bundle path; ``connect_timeout`` and ``read_timeout`` are
seconds (default 60). dvc's config accepts ``auth = digest`` but dvc-http
raises NotImplementedError for it; bale supports it with aiohttp's
``DigestAuthMiddleware``.

Where they differ: dvc checks existence with a ``GET`` per object (and counts
any error as "absent"); this store sends ``HEAD`` and reports errors. Against
``bale serve`` (detected by one probe, ``GET /.bale/v1/info``) existence,
listing and deletion use its batch endpoints (``bale.remotes.serve`` documents
them), so 100,000 existence checks cost ten requests. A plain HTTP server
cannot list, and whether its uploads are atomic is up to it: most servers
that accept uploads at all write the file as the body arrives.

``retries`` (bale only; dvc rejects unknown remote options, so set it in a
config only bale reads) is how many times a transient failure is retried;
default 4.
"""

from __future__ import annotations

import asyncio
import functools
import getpass
import os
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import yarl
from aiohttp.helpers import basicauth_from_netrc, netrc_from_env
from multidict import CIMultiDict

from bale.redact import mask_url
from bale.remotes.body import receive
from bale.remotes.errors import (
    ObjectNotFound,
    RemoteAuthError,
    RemoteConfigError,
    RemoteError,
    RemoteUnreachableError,
    TransientError,
    Unreachable,
)
from bale.remotes.proxies import proxy_for
from bale.remotes.store import (
    Expect,
    Progress,
    Sink,
    UploadSource,
    bounded,
    raise_body_error,
    retrying,
    sink_for,
)

__all__ = ["HTTPStore"]

T = TypeVar("T")
R = TypeVar("R")

_CHUNK = 1024 * 1024
# A large object is read in ranges of this size, this many at once (as S3's
# store reads its parts): one connection's reads are bound by one core.
_PART = 32 * 1024 * 1024
_PART_JOBS = 4
_DEFAULT_TIMEOUT = 60.0  # dvc-http's REQUEST_TIMEOUT
_TRANSIENT_STATUS = frozenset({408, 425, 429})
_EXT = ".bale/v1"  # bale serve's extension endpoints, relative to the base URL

# HTTPStore.list shadows the builtin inside the class body.
_Keys = list[str]
_Objects = list[tuple[str, int]]


@dataclass(frozen=True)
class _Auth:
    """The credentials of one remote, read from dvc's option names."""

    kind: str | None  # None, "basic", "digest", "custom" or "bearer" (WebDAV)
    user: str | None
    password: str | None
    header: str | None
    ask: bool

    def describe(self) -> str:
        """Says which credentials were used, never what they are."""
        if self.kind is None:
            return "no credentials (set the remote's auth option)"
        if self.kind == "custom":
            return f"custom auth (header '{self.header}')"
        if self.kind == "bearer":
            return "a bearer token"
        return f"{self.kind} auth as user '{self.user}'"


def _bool(name: str, key: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise RemoteConfigError(f"remote '{name}': {key} must be true or false, not '{value}'")


def _number(name: str, options: Mapping[str, str], key: str, default: float) -> float:
    value = options.get(key)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if number < 0:
        raise RemoteConfigError(f"remote '{name}': {key} must be a number >= 0, not '{value}'")
    return number


def _read_auth(name: str, options: Mapping[str, str]) -> _Auth:
    kind = options.get("auth", "").strip().lower() or None
    auth = _Auth(
        kind=kind,
        user=options.get("user"),
        password=options.get("password"),
        header=options.get("custom_auth_header"),
        ask=_bool(name, "ask_password", options.get("ask_password", "false")),
    )
    has_password = auth.password is not None or auth.ask
    if kind in ("basic", "digest") and (auth.user is None or not has_password):
        raise RemoteConfigError(f"remote '{name}': {kind} auth needs user and password")
    if kind == "custom" and (auth.header is None or not has_password):
        raise RemoteConfigError(
            f"remote '{name}': custom auth needs custom_auth_header and password"
        )
    if kind not in (None, "basic", "digest", "custom"):
        raise RemoteConfigError(f"remote '{name}': unknown auth '{kind}' (basic, digest, custom)")
    return auth


@dataclass(frozen=True)
class _BaleServe:
    """What ``bale serve``'s probe said about its limits."""

    max_keys: int
    max_body: int


def _batches(keys: list[str], server: _BaleServe) -> Iterator[list[str]]:
    """Splits keys into request bodies within the server's key and byte limits."""
    batch: list[str] = []
    size = 64  # JSON framing, generously
    for key in keys:
        cost = len(key) + 4
        if batch and (len(batch) == server.max_keys or size + cost > server.max_body):
            yield batch
            batch, size = [], 64
        batch.append(key)
        size += cost
    if batch:
        yield batch


class HTTPStore:
    """A DVC http(s) remote, and ``bale serve``; see the module docstring.

    ``put`` is atomic against ``bale serve`` (it publishes only complete,
    verified uploads) and only as atomic as the server makes it otherwise.
    """

    def __init__(self, name: str, url: str, options: Mapping[str, str], *, jobs: int = 16) -> None:
        self.name = name
        self._base = url.rstrip("/")
        self._origin = str(yarl.URL(self._base).origin())
        # For messages: a password in the URL is never shown (bale.redact).
        self._shown = mask_url(self._base)
        self._jobs = max(1, jobs)
        self._auth = _read_auth(name, options)
        self._method = options.get("method", "POST").strip().upper()
        if self._method not in ("POST", "PUT"):
            raise RemoteConfigError(f"remote '{name}': method must be POST or PUT")
        self._ssl_verify = options.get("ssl_verify", "true")
        self._connect_timeout = _number(name, options, "connect_timeout", _DEFAULT_TIMEOUT)
        self._read_timeout = _number(name, options, "read_timeout", _DEFAULT_TIMEOUT)
        self._attempts = int(_number(name, options, "retries", 4)) + 1
        self._session: aiohttp.ClientSession | None = None
        self._server: _BaleServe | None = None
        self._probed = False
        self._session_lock = asyncio.Lock()
        self._probe_lock = asyncio.Lock()  # separate: probing opens the session

    # -- the Store protocol ------------------------------------------------

    async def exists(self, keys: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return set()
        server = await self._bale_serve()
        if server is None:
            found = await bounded(wanted, self._head, self._jobs)
            return {k for k in found if k is not None}
        pages = await bounded(_batches(wanted, server), self._exists_batch, self._jobs)
        return {k for page in pages for k in page}

    async def list(self, prefix: str) -> AsyncIterator[tuple[str, int]]:
        if await self._bale_serve() is None:
            raise RemoteError(
                f"remote '{self.name}': listing {self._shown} needs bale serve; "
                "a plain HTTP server cannot list"
            )
        after: str | None = None
        more = True
        while more:
            page, more = await self._retry(functools.partial(self._list_page, prefix, after))
            for key, size in page:
                yield key, size
            after = page[-1][0] if page else None

    async def get(
        self,
        key: str,
        dest: Path | Sink,
        progress: Progress | None = None,
        byte_range: tuple[int, int] | None = None,
    ) -> int:
        out = sink_for(dest)
        if byte_range is not None and byte_range[0] == byte_range[1]:
            # No request: HTTP has no empty range ("bytes=7-6" is answered
            # 416), and a pack read of an empty file asks for one.
            out.close()
            return 0
        try:
            # A retried attempt writes from the start again, over the same offsets.
            if byte_range is not None:
                size = await self._retry(lambda: self._get_once(key, out, progress, byte_range))
            else:
                size = await self._get_whole(key, out, progress)
        except BaseException:
            out.discard()
            raise
        out.close()
        return size

    async def _get_whole(self, key: str, out: Sink, progress: Progress | None) -> int:
        """The first part asked as a range: a small object (most) comes whole
        in that one answer, whose Content-Range gives a large one's size; the
        rest then comes as parallel ranged GETs. A server that ignores Range
        sends the whole object at once, which is fine too."""
        size, received = await self._retry(lambda: self._get_first(key, out, progress))
        parts = [(o, min(o + _PART, size)) for o in range(received, size, _PART)]
        await bounded(
            parts,
            lambda part: self._retry(lambda: self._get_once(key, out, progress, part, at=part[0])),
            _PART_JOBS,
        )
        return size

    async def _get_first(self, key: str, out: Sink, progress: Progress | None) -> tuple[int, int]:
        """(the object's size, bytes received) of a GET of its first part."""
        headers = {"Range": f"bytes=0-{_PART - 1}"}
        async with self._request("GET", key, headers=headers) as resp:
            if resp.status == 404:
                raise ObjectNotFound(f"remote '{self.name}': {key} not found")
            if resp.status == 416:  # an empty object has no byte 0
                return 0, 0
            if resp.status not in (200, 206):
                raise self._unexpected("GET", key, resp.status)
            received = await self._receive(resp, out, 0, progress)
            if resp.status == 200:
                return received, received
            total = resp.headers.get("Content-Range", "").rpartition("/")[2]
            if not total.isdigit():
                raise RemoteError(
                    f"remote '{self.name}': GET {key}: a partial answer without the size"
                )
            return int(total), received

    async def read_small(self, key: str, limit: int) -> bytes | None:
        return await self._retry(lambda: self._read_small_once(key, limit))

    async def put(
        self,
        src: Path,
        key: str,
        progress: Progress | None = None,
        consume: bool = False,
        expect: Expect = None,
    ) -> None:
        if self._auth.kind == "digest":
            # A streamed body cannot be sent twice, so the digest challenge is
            # fetched with the cheap probe before the first upload.
            await self._bale_serve()
        await self._retry(lambda: self._put_once(src, key, progress, expect))

    async def delete(self, keys: Iterable[str]) -> None:
        doomed = list(dict.fromkeys(keys))
        if not doomed:
            return
        server = await self._bale_serve()
        if server is None:
            await bounded(doomed, self._delete_one, self._jobs)
        else:
            await bounded(_batches(doomed, server), self._delete_batch, self._jobs)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- requests ------------------------------------------------------------

    async def _retry(self, what: Callable[[], Awaitable[T]]) -> T:
        return await retrying(what, attempts=self._attempts)

    @asynccontextmanager
    async def _request(self, method: str, path: str, **kwargs: Any) -> AsyncIterator[Any]:
        """One request; maps auth failures, 5xx and connection errors to bale's errors."""
        session = await self._client()
        where = f"remote '{self.name}'"
        try:
            # a path from "/" is on the server, outside the remote's URL (WebDAV
            # makes the collections above it)
            url = self._origin + path if path.startswith("/") else f"{self._base}/{path}"
            async with session.request(method, url, **kwargs) as resp:
                if resp.status in (401, 403):
                    said = await _first_line(resp) if method != "HEAD" else ""
                    # Not back into the pool: some servers (WsgiDAV) send a
                    # body even with a HEAD's refusal, which a later request
                    # on the connection would read as its answer.
                    resp.close()
                    raise RemoteAuthError(
                        f"{where}: {self._shown} refused {self._auth.describe()} "
                        f"(HTTP {resp.status}{': ' + said if said else ''})"
                    )
                if resp.status >= 500 or resp.status in _TRANSIENT_STATUS:
                    raise TransientError(f"{where}: {method} {path}: HTTP {resp.status}")
                yield resp
        except aiohttp.ClientConnectorCertificateError as e:
            raise RemoteUnreachableError(
                f"{where}: {self._shown}: TLS certificate not trusted ({e.certificate_error}); "
                "set ssl_verify to a CA bundle"
            ) from None
        except (aiohttp.ClientConnectorError, aiohttp.ServerTimeoutError, TimeoutError) as e:
            raise Unreachable(f"{where}: cannot reach {self._shown} ({_reason(e)})") from None
        except aiohttp.ClientError as e:
            raise_body_error(e)
            raise TransientError(f"{where}: {method} {path}: {_reason(e)}") from None

    def _unexpected(self, method: str, path: str, status: int) -> RemoteError:
        return RemoteError(f"remote '{self.name}': {method} {path}: unexpected HTTP {status}")

    async def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            async with self._session_lock:
                if self._session is None:
                    self._session = await self._open()
        return self._session

    async def _open(self) -> aiohttp.ClientSession:
        """The session, made inside the running loop as aiohttp requires."""
        auth = self._auth
        password = auth.password
        if password is None and auth.ask:
            prompt = f"Enter a password for host '{self._shown}' user '{auth.user or 'custom'}':\n"
            password = await asyncio.to_thread(getpass.getpass, prompt)
        kwargs: dict[str, Any] = {}
        if auth.kind == "basic":
            basic = aiohttp.encode_basic_auth(auth.user or "", password or "")
            kwargs["headers"] = {"Authorization": basic}
        elif auth.kind == "digest":
            kwargs["middlewares"] = (aiohttp.DigestAuthMiddleware(auth.user or "", password or ""),)
        elif auth.kind == "custom":
            kwargs["headers"] = {auth.header or "": password or ""}
        if auth.kind in (None, "custom"):
            # Where no Authorization is configured, ~/.netrc's entry for the
            # host is sent, as dvc-http's aiohttp (trust_env) and
            # dvc-webdav's httpx send it.
            netrc = await asyncio.to_thread(_netrc_auth, yarl.URL(self._base).host)
            if netrc is not None:
                kwargs["headers"] = {**kwargs.get("headers", {}), "Authorization": netrc}
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._jobs, ssl=self._ssl()),
            timeout=aiohttp.ClientTimeout(
                total=None,
                sock_connect=self._connect_timeout or None,
                sock_read=self._read_timeout or None,
            ),
            # Proxies from the environment, as dvc honours them, looked up
            # once (bale.remotes.proxies): aiohttp's trust_env looks them
            # and ~/.netrc up in two worker-thread hops for every request,
            # and sends a .netrc entry beside a configured Authorization,
            # which aiohttp then refuses with a ValueError.
            **proxy_for(self._origin),
            **kwargs,
        )

    def _ssl(self) -> ssl.SSLContext | bool:
        value = self._ssl_verify
        if value.strip().lower() in ("true", "false", "yes", "no", "1", "0", "on", "off"):
            return _bool(self.name, "ssl_verify", value)
        try:
            return ssl.create_default_context(cafile=os.path.expanduser(value))
        except (OSError, ssl.SSLError) as e:
            raise RemoteConfigError(
                f"remote '{self.name}': ssl_verify: cannot load CA bundle {value} ({e})"
            ) from None

    async def _bale_serve(self) -> _BaleServe | None:
        """bale serve's limits if the remote is one (asked once), else None."""
        if not self._probed:
            async with self._probe_lock:
                if not self._probed:
                    self._server = await self._retry(self._probe)
                    self._probed = True
        return self._server

    async def _probe(self) -> _BaleServe | None:
        async with self._request("GET", f"{_EXT}/info") as resp:
            if resp.status != 200 or "X-Bale-Serve" not in resp.headers:
                return None
            try:
                info = await resp.json()
                return _BaleServe(max_keys=int(info["max_keys"]), max_body=int(info["max_body"]))
            except (ValueError, KeyError, TypeError, aiohttp.ContentTypeError):
                return None

    async def _head(self, key: str) -> str | None:
        async def once() -> str | None:
            async with self._request("HEAD", key) as resp:
                if resp.status == 404:
                    return None
                if resp.status != 200:
                    raise self._unexpected("HEAD", key, resp.status)
                return key

        return await self._retry(once)

    async def head_info(self, key: str) -> Mapping[str, str] | None:
        """The headers a HEAD of ``key`` answers (its ETag, Content-MD5,
        Content-Length: what import-url records of an HTTP source), None
        if the server has no such file."""

        async def once() -> Mapping[str, str] | None:
            async with self._request("HEAD", key) as resp:
                if resp.status == 404:
                    return None
                if resp.status != 200:
                    raise self._unexpected("HEAD", key, resp.status)
                return CIMultiDict(resp.headers)  # names stay case-insensitive

        return await self._retry(once)

    async def _post_json(self, endpoint: str, body: object) -> Any:
        async def once() -> Any:
            async with self._request("POST", f"{_EXT}/{endpoint}", json=body) as resp:
                if resp.status != 200:
                    raise self._unexpected("POST", endpoint, resp.status)
                return await resp.json()

        return await self._retry(once)

    async def _exists_batch(self, keys: _Keys) -> _Keys:
        present: _Keys = (await self._post_json("exists", {"keys": keys}))["present"]
        return present

    async def _delete_batch(self, keys: _Keys) -> None:
        await self._post_json("delete", {"keys": keys})

    async def _delete_one(self, key: str) -> None:
        async def once() -> None:
            async with self._request("DELETE", key) as resp:
                if resp.status not in (200, 202, 204, 404):
                    raise self._unexpected("DELETE", key, resp.status)

        await self._retry(once)

    async def _list_page(self, prefix: str, after: str | None) -> tuple[_Objects, bool]:
        params = {"prefix": prefix} | ({"after": after} if after else {})
        async with self._request("GET", f"{_EXT}/list", params=params) as resp:
            if resp.status != 200:
                raise self._unexpected("GET", "list", resp.status)
            page = await resp.json()
            return [(str(k), int(n)) for k, n in page["objects"]], bool(page["more"])

    async def _get_once(
        self,
        key: str,
        out: Sink,
        progress: Progress | None,
        byte_range: tuple[int, int],
        at: int = 0,
    ) -> int:
        """The bytes ``byte_range`` of ``key``, written into ``out`` from ``at``."""
        headers = {"Range": f"bytes={byte_range[0]}-{byte_range[1] - 1}"}
        async with self._request("GET", key, headers=headers) as resp:
            if resp.status == 404:
                raise ObjectNotFound(f"remote '{self.name}': {key} not found")
            if resp.status != 206:
                raise self._unexpected("GET", key, resp.status)
            received = await self._receive(resp, out, at, progress)
        # A server answers a range past the end with the bytes it has.
        if byte_range is not None and received != byte_range[1] - byte_range[0]:
            raise RemoteError(
                f"remote '{self.name}': object {key} ends before byte {byte_range[1]}"
            )
        return received

    async def _receive(
        self, resp: aiohttp.ClientResponse, out: Sink, at: int, progress: Progress | None
    ) -> int:
        """Writes the answer's body into ``out`` from ``at``; returns its length."""
        if resp.content_length is not None and resp.content_length <= _CHUNK:
            # Small objects (most of them): one worker-thread call, not three.
            data = await resp.read()
            await asyncio.to_thread(out.write, data, at)
            if progress is not None:
                progress(len(data))
            return len(data)
        return await receive(resp.content, out, at, progress)

    async def _read_small_once(self, key: str, limit: int) -> bytes | None:
        async with self._request("GET", key) as resp:
            if resp.status == 404:
                raise ObjectNotFound(f"remote '{self.name}': {key} not found")
            if resp.status != 200:
                raise self._unexpected("GET", key, resp.status)
            if resp.content_length is None or resp.content_length > limit:
                return None  # dropping the unread body closes this connection
            data: bytes = await resp.read()
            return data

    async def _put_once(
        self, src: Path, key: str, progress: Progress | None, expect: Expect
    ) -> None:
        """One attempt: a body of at most a chunk is sent from memory, a
        larger one streamed (see :class:`UploadSource`: a rotten cache object
        never gives its last bytes, so its upload never completes)."""
        source = await asyncio.to_thread(UploadSource, src, expect)
        try:
            size = source.size
            # An explicit length, so servers that refuse chunked uploads accept it.
            headers = {"Content-Length": str(size)}
            small = size <= _CHUNK
            body: bytes | AsyncIterator[bytes] = (
                await asyncio.to_thread(source.read, size + 1)
                if small
                else source.chunks(_CHUNK, progress)
            )
            async with self._request(self._method, key, data=body, headers=headers) as resp:
                if resp.status not in (200, 201, 204):
                    raise self._unexpected(self._method, key, resp.status)
        finally:
            source.close()
        if small and progress is not None:
            progress(size)


async def _first_line(resp: aiohttp.ClientResponse) -> str:
    """The start of an error body (bale serve says why it refused), for a one-line message."""
    try:
        text = (await resp.content.read(200)).decode("utf-8", "replace")
    except aiohttp.ClientError:
        return ""
    # an HTML page (WsgiDAV's, a proxy's) says nothing in its first line:
    # the status's reason phrase does
    if not text.strip() or text.lstrip().startswith("<"):
        return resp.reason or ""
    return text.strip().splitlines()[0]


def _netrc_auth(host: str | None) -> str | None:
    """The Authorization header of ~/.netrc's (or $NETRC's) entry for
    ``host``, None without one (blocking: it reads the file)."""
    if host is None:
        return None
    try:
        return basicauth_from_netrc(netrc_from_env(), host).encode()
    except LookupError:
        return None


def _reason(e: BaseException) -> str:
    """A one-line reason for a network error."""
    if isinstance(e, aiohttp.ClientConnectorError):
        return str(e.os_error.strerror or e.os_error)
    text = str(e).splitlines()[0] if str(e) else ""
    return text or type(e).__name__
