"""Google Cloud Storage remotes (``gs://bucket/prefix``) on plain aiohttp.

The GCS JSON API, as gcsfs (dvc-gs's file system) speaks it, without
google-cloud-storage (whose per-request cost would bound small-object
transfers, as aiobotocore's does for S3). Options are dvc-gs's:
``credentialpath`` and ``allow_anonymous_login`` choose the credentials
(:mod:`bale.remotes.gcs_auth`), ``endpointurl`` replaces
``https://storage.googleapis.com``, and ``STORAGE_EMULATOR_HOST`` points
at an emulator (then no credentials), as it does for gcsfs. bale's own
``part_size``, ``part_jobs`` and ``retries`` apply as on S3.

Requests, and why:

- Listing: ``GET /storage/v1/b/{bucket}/o`` with ``prefix``, ``pageToken``
  and ``fields`` (only names and sizes come back).
- Existence: one listing of a parent prefix when several wanted keys share
  it, else one metadata ``GET .../o/{name}?fields=size`` per key (as
  S3Store weighs listing against HEADs).
- Downloads: ``GET /download/storage/v1/b/{bucket}/o/{name}?alt=media``
  with a Range for the first ``part_size`` bytes; the answer's
  Content-Range gives the size, and the rest of a large object comes as
  parallel ranged GETs.
- Uploads up to 64 MiB (``part_size`` when set): one ``uploadType=media``
  request, sent again whole after a failure. Larger ones: a resumable
  upload session, sent in chunks of that size rounded down to a multiple
  of 256 KiB (GCS's rule); after a failed chunk the
  session is asked how many bytes it holds (``Content-Range: bytes */size``)
  and the upload goes on from there.
- Deletion: ``DELETE`` per object, ``jobs`` in flight (the batch endpoint
  would save requests, not time, at bale's concurrency).

GCS uploads are atomic: an object appears whole when its upload (the one
request, or a session's last chunk) completes, and never in part; a
session abandoned half-way leaves nothing readable (GCS drops it after a
week; bale cancels it when it gives up). The last chunk of a cache object
is sent only once the whole file has hashed to its name, so a rotten
object never completes. Object names are percent-encoded whole in URL
paths (``/`` too), as the JSON API requires.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import yarl

from bale.exceptions import one_line
from bale.redact import mask_url
from bale.remotes.body import receive
from bale.remotes.errors import (
    ObjectNotFound,
    RemoteAuthError,
    RemoteConfigError,
    RemoteError,
    RemoteNotFoundError,
    TransientError,
    transport_error,
)
from bale.remotes.gcs_auth import GcsCredentials, emulator_host, resolve_gcs
from bale.remotes.listing import PagedStore
from bale.remotes.proxies import proxy_for
from bale.remotes.store import (
    Expect,
    Progress,
    Sink,
    UploadSource,
    bounded,
    check_object,
    part_ranges,
    raise_body_error,
    retrying,
    sink_for,
    whole_body,
)
from bale.remotes.support import refuse_options

__all__ = ["GCSStore", "parse_url"]

T = TypeVar("T")

MiB = 1024 * 1024
_GOOGLE = "https://storage.googleapis.com"
#: A resumable upload's chunks are multiples of this (GCS's rule).
CHUNK_QUANTUM = 256 * 1024
#: The size of a download's ranged parts; the remote's ``part_size``
#: replaces it, and :data:`UPLOAD_CHUNK` too.
PART_SIZE = 16 * MiB
#: Objects larger than this go up in a resumable session, in chunks of
#: this size. A session's chunks go one after another, each waiting for
#: its answer, so larger chunks waste fewer round trips; and
#: fake-gcs-server takes longer for each chunk as the object grows: a
#: 256 MiB object took 6.6-16 s in 16 MiB chunks, 6.4-9.9 s in 64 MiB
#: chunks, and google-cloud-storage (100 MiB chunks) 4.8-10.5 s, on a
#: loaded 2-core machine; google-cloud-storage's default is 100 MiB.
UPLOAD_CHUNK = 64 * MiB
_INLINE_MAX = 256 * 1024
_LIST_PAGE = 1000
_TRANSIENT_STATUS = frozenset({408, 429})
_TIMEOUT = 60.0


class _SessionGone(RemoteError):
    """A resumable session the server no longer knows (expired, or cancelled)."""


def parse_url(name: str, url: str) -> tuple[str, str]:
    """``gs://bucket/some/prefix`` → (``bucket``, ``some/prefix/``)."""
    rest = url[5:] if url[:5].lower() == "gs://" else ""
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise RemoteConfigError(
            f"remote '{name}': '{mask_url(url)}' is not a gs://bucket/prefix URL"
        )
    prefix = prefix.strip("/")
    return bucket, prefix + "/" if prefix else ""


def _number(name: str, options: Mapping[str, str], option: str, default: int, least: int) -> int:
    raw = options.get(option)
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        value = least - 1
    if value < least:
        raise RemoteConfigError(
            f"remote '{name}': {option} must be a whole number of at least {least}, not {raw!r}"
        )
    return value


def _name(key: str) -> str:
    """An object name as one URL path segment (or query value)."""
    return quote(key, safe="")


class GCSStore(PagedStore):
    """The objects under ``gs://bucket/prefix``; see the module docstring.

    The HTTP session is made on first use, inside the event loop that uses it.
    """

    def __init__(self, name: str, url: str, options: Mapping[str, str], *, jobs: int = 16) -> None:
        self.name = name
        self._jobs = max(1, jobs)
        # resolve_remote checked the config files; a store made directly gets the same refusal
        refuse_options(name, "gs", options)
        self._bucket, self._prefix = parse_url(name, url)
        endpoint = options.get("endpointurl") or emulator_host() or _GOOGLE
        if "://" not in endpoint:
            endpoint = f"https://{endpoint}"
        self._base = endpoint.rstrip("/")
        self._origin = str(yarl.URL(self._base).origin())
        self._shown = mask_url(self._base)
        part = _number(name, options, "part_size", PART_SIZE, CHUNK_QUANTUM)
        self._part_size = part
        upload = part if "part_size" in options else UPLOAD_CHUNK
        self._upload_max = upload
        self._chunk = upload - upload % CHUNK_QUANTUM
        self._part_jobs = _number(name, options, "part_jobs", 4, 1)
        self._attempts = _number(name, options, "retries", 5, 1)
        # blocking, once per process: may read a key file or ask the metadata server
        self._creds: GcsCredentials = resolve_gcs(name, options)
        bucket = _name(self._bucket)
        self._bucket_url = f"{self._base}/storage/v1/b/{bucket}"
        self._objects_url = f"{self._bucket_url}/o"
        self._download_url = f"{self._base}/download/storage/v1/b/{bucket}/o"
        self._upload_url = f"{self._base}/upload/storage/v1/b/{bucket}/o"
        self._bucket_ok = False
        self._bucket_lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"GCSStore({self.name!r}, gs://{self._bucket}/{self._prefix})"

    # -- the Store protocol -------------------------------------------------

    async def get(
        self,
        key: str,
        dest: Path | Sink,
        progress: Progress | None = None,
        byte_range: tuple[int, int] | None = None,
    ) -> int:
        url = f"{self._download_url}/{_name(self._prefix + key)}?alt=media"
        out = sink_for(dest)
        try:
            if byte_range is None:
                origin = 0
                size, received = await self._retry(
                    lambda: self._get_range(url, key, out, 0, progress)
                )
            else:
                origin, received = byte_range[0], 0
                size = byte_range[1] - origin
            parts = part_ranges(size, self._part_size, start=received)
            await bounded(
                parts,
                lambda part: self._get_part(url, key, out, part, progress, origin),
                self._part_jobs,
            )
        except BaseException as e:
            out.discard()
            if isinstance(e, ObjectNotFound):
                await self._check_bucket()  # a missing bucket answers 404 too
            raise
        out.close()
        return size

    async def read_small(self, key: str, limit: int) -> bytes | None:
        url = f"{self._download_url}/{_name(self._prefix + key)}?alt=media"

        async def once() -> bytes | None:
            headers = {"range": f"bytes=0-{limit - 1}"}
            async with self._request("GET", url, key, headers=headers, ok=(200, 206, 416)) as resp:
                size = _object_size(resp)
                if resp.status == 416:
                    return b""
                if size > limit:
                    return None
                data = await self._body(resp)
            if len(data) != size:
                raise TransientError(f"remote '{self.name}': {key}: short read")
            return data

        try:
            return await self._retry(once)
        except ObjectNotFound:
            await self._check_bucket()  # a missing bucket answers 404 too
            raise

    async def put(
        self,
        src: Path,
        key: str,
        progress: Progress | None = None,
        consume: bool = False,
        expect: Expect = None,
    ) -> None:
        size = os.stat(src).st_size
        if size > self._upload_max:
            try:
                await self._put_resumable(src, key, size, progress, expect)
            except _SessionGone:
                # expired or lost by GCS (sessions live a week): once more, anew
                await self._put_resumable(src, key, size, progress, expect)
            return
        url = f"{self._upload_url}?uploadType=media&name={_name(self._prefix + key)}"
        headers = {"content-type": "application/octet-stream"}
        if size > _INLINE_MAX:

            async def streamed() -> None:
                body = whole_body(src, expect, progress)
                headers["content-length"] = str(size)
                async with self._request("POST", url, key, headers=headers, data=body):
                    pass

            await self._retry(streamed)
            return
        # At most 256 KiB: read (and hashed) on the loop, as a thread hop
        # would cost more than the read.
        data = UploadSource.whole(src, expect)

        async def small() -> None:
            async with self._request("POST", url, key, headers=headers, data=data):
                pass

        await self._retry(small)
        if progress is not None:
            progress(size)

    async def delete(self, keys: Iterable[str]) -> None:
        await bounded(sorted(set(keys)), self._delete_one, self._jobs)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- beyond the Store protocol: what import-url records of a GCS source ----

    async def object_meta(self, key: str) -> tuple[int, str, str] | None:
        """``(size, etag, generation)`` of the object ``key``, None if there is none."""
        url = f"{self._objects_url}/{_name(self._prefix + key)}?fields=size,etag,generation"

        async def once() -> Any:
            async with self._request("GET", url, key, ok=(200, 404)) as resp:
                return None if resp.status == 404 else await self._json(resp)

        meta = await self._retry(once)
        if meta is None:
            await self._check_bucket()
            return None
        return int(meta.get("size", 0)), str(meta.get("etag", "")), str(meta.get("generation", ""))

    # -- exists and list ------------------------------------------------------

    def _page_limit(self) -> int:
        return _LIST_PAGE

    async def _exists_one(self, key: str) -> set[str]:
        url = f"{self._objects_url}/{_name(self._prefix + key)}?fields=size"

        async def once() -> int:
            async with self._request("GET", url, key, ok=(200, 404)) as resp:
                return resp.status

        if await self._retry(once) == 200:
            return {key}
        await self._check_bucket()
        return set()

    async def _list_page(
        self, prefix: str, token: str | None, size: int
    ) -> tuple[builtins.list[tuple[str, int, str]], str | None]:
        """One page of (full name, size, etag) under ``prefix``, and the next
        page's token (the etag is what import-url records, a few bytes more
        per entry for every other listing)."""
        params = {
            "prefix": prefix,
            "maxResults": str(size),
            "projection": "noAcl",
            "fields": "items(name,size,etag),nextPageToken",
        }
        if token:
            params["pageToken"] = token
        url = yarl.URL(self._objects_url, encoded=True).update_query(params)

        async def once() -> Any:
            async with self._request("GET", url, None, ok=(200, 404)) as resp:
                if resp.status == 404:
                    raise self._no_bucket()
                return await self._json(resp)

        page = await self._retry(once)
        objects = [
            (o["name"], int(o.get("size", 0)), o.get("etag", "")) for o in page.get("items", ())
        ]
        return objects, page.get("nextPageToken") or None

    async def _check_bucket(self) -> None:
        """Raises RemoteNotFoundError if the bucket is missing (an object's 404 cannot tell)."""
        async with self._bucket_lock:  # one check, however many lookups found nothing
            if self._bucket_ok:
                return

            async def once() -> int:
                url = f"{self._bucket_url}?fields=name"
                async with self._request("GET", url, None, ok=(200, 404)) as resp:
                    return resp.status

            if await self._retry(once) == 404:
                raise self._no_bucket()
            self._bucket_ok = True

    # -- get ------------------------------------------------------------------

    async def _get_range(
        self,
        url: str,
        key: str,
        out: Sink,
        offset: int,
        progress: Progress | None,
        length: int | None = None,
        origin: int = 0,
    ) -> tuple[int, int]:
        """GETs the object's bytes from ``origin + offset`` into ``out`` at ``offset``.

        Returns (the object's size, bytes received). Without ``length``, asks
        for the first part; a part asked for must come as asked (206).
        """
        start = origin + offset
        end = start + (length or self._part_size) - 1
        headers = {"range": f"bytes={start}-{end}"}
        ok = (206, 416) if length else (200, 206, 416)
        async with self._request("GET", url, key, headers=headers, ok=ok) as resp:
            size = _object_size(resp)
            if resp.status == 416:
                return size, 0
            try:
                received = await receive(resp.content, out, offset, progress)
            except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                raise self._transport_error(e) from e
        return size, received

    async def _get_part(
        self,
        url: str,
        key: str,
        out: Sink,
        part: tuple[int, int],
        progress: Progress | None,
        origin: int,
    ) -> None:
        offset, length = part
        _, received = await self._retry(
            lambda: self._get_range(url, key, out, offset, progress, length, origin)
        )
        if received != length:
            raise RemoteError(
                f"remote '{self.name}': object {key} ends before byte {origin + offset + length}"
            )

    # -- resumable uploads ----------------------------------------------------

    async def _put_resumable(
        self, src: Path, key: str, size: int, progress: Progress | None, expect: Expect
    ) -> None:
        """Start a session, send the chunks in order, resuming from the
        server's offset after a failure; cancel the session on any failure
        or cancellation. A cache object is hashed beside the upload, and its
        last chunk (the one that makes the object) waits for the hash."""
        checked = asyncio.ensure_future(asyncio.to_thread(check_object, src, expect))
        session: str | None = None
        try:
            session = await self._retry(lambda: self._start_session(key, size))
            offset = reported = stalls = 0
            lost = False  # a chunk failed: ask the session what it holds first

            async def step(sent: int, n: int) -> int:
                nonlocal lost
                assert session is not None
                if lost:
                    held = await self._session_offset(session, key, size)
                    lost = False
                    if held != sent:
                        return held
                try:
                    return await self._send_chunk(session, src, key, sent, n, size)
                except TransientError:
                    lost = True
                    raise

            while offset < size:
                length = min(self._chunk, size - offset)
                if offset + length == size:
                    await checked  # the last chunk makes the object
                held = await self._retry(partial(step, offset, length))
                # GCS may keep less than a chunk it was sent: go on from what it holds.
                stalls = stalls + 1 if held <= offset else 0
                if stalls > self._attempts:
                    raise RemoteError(
                        f"remote '{self.name}': GCS keeps no bytes of {key} past {offset}"
                    )
                offset = held
                if progress is not None and offset > reported:
                    progress(offset - reported)
                    reported = offset
        except BaseException:
            checked.cancel()
            with contextlib.suppress(BaseException):
                await checked
            if session is not None:
                await asyncio.shield(self._cancel_session(session))
            raise

    async def _start_session(self, key: str, size: int) -> str:
        url = f"{self._upload_url}?uploadType=resumable&name={_name(self._prefix + key)}"
        headers = {
            "content-type": "application/json; charset=UTF-8",
            "x-upload-content-type": "application/octet-stream",
            "x-upload-content-length": str(size),
        }
        async with self._request("POST", url, key, headers=headers, data=b"{}", ok=(200, 201)) as r:
            location = r.headers.get("Location")
        if not location:
            raise RemoteError(f"remote '{self.name}': GCS started no upload session for {key}")
        return location

    async def _send_chunk(
        self, session: str, src: Path, key: str, offset: int, length: int, size: int
    ) -> int:
        """Sends ``length`` bytes of ``src`` from ``offset``; returns how many
        bytes the session holds now (``size`` once the object exists)."""
        headers = {
            "content-range": f"bytes {offset}-{offset + length - 1}/{size}",
            "content-length": str(length),
        }
        body = _file_body(src, offset, length)
        return await self._session_request(session, key, size, headers, body)

    async def _session_offset(self, session: str, key: str, size: int) -> int:
        """How many bytes the session holds (``size`` once the object exists)."""
        headers = {"content-range": f"bytes */{size}", "content-length": "0"}
        return await self._session_request(session, key, size, headers, None)

    async def _session_request(
        self, session: str, key: str, size: int, headers: dict[str, str], body: object
    ) -> int:
        ok = (200, 201, 308, 404, 410)
        url = yarl.URL(session, encoded=True)
        async with self._request("PUT", url, key, headers=headers, data=body, ok=ok) as resp:
            if resp.status in (404, 410):
                raise _SessionGone(f"remote '{self.name}': GCS dropped the upload session of {key}")
            if resp.status in (200, 201):
                return size
            held = resp.headers.get("Range", "")  # "bytes=0-N": N + 1 bytes held
            end = held.rpartition("-")[2]
            return int(end) + 1 if held.startswith("bytes=0-") and end.isdigit() else 0

    async def _cancel_session(self, session: str) -> None:
        """Best effort: an abandoned session is dropped by GCS after a week anyway."""
        with contextlib.suppress(Exception):
            url = yarl.URL(session, encoded=True)
            ok = (204, 200, 404, 410, 499)
            async with self._request("DELETE", url, None, ok=ok):
                pass

    # -- delete ---------------------------------------------------------------

    async def _delete_one(self, key: str) -> None:
        url = f"{self._objects_url}/{_name(self._prefix + key)}"

        async def once() -> None:
            async with self._request("DELETE", url, key, ok=(200, 204, 404)) as resp:
                status = resp.status
            if status == 404:
                await self._check_bucket()

        await self._retry(once)

    # -- one request ------------------------------------------------------------

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=max(self._jobs, self._part_jobs), keepalive_timeout=30
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=_TIMEOUT, sock_read=_TIMEOUT
                ),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
                # HTTP(S)_PROXY and NO_PROXY, as gcsfs (trust_env) honours them
                **proxy_for(self._origin),
            )
        return self._session

    @contextlib.asynccontextmanager
    async def _request(
        self,
        method: str,
        url: str | yarl.URL,
        key: str | None,
        *,
        headers: dict[str, str] | None = None,
        data: object = None,
        ok: tuple[int, ...] = (200,),
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """One request with the credentials' headers; a status outside ``ok``
        raises the matching error, transport failures a TransientError."""
        auth = await self._creds.headers()
        all_headers = {**auth, **headers} if headers else auth
        target = url if isinstance(url, yarl.URL) else yarl.URL(url, encoded=True)
        try:
            async with self._http().request(
                # a resumable session answers 308 for "go on", not as a redirect
                method,
                target,
                headers=all_headers,
                data=data,
                allow_redirects=False,
            ) as resp:
                if resp.status not in ok:
                    body = await resp.read() if resp.status >= 300 else b""
                    raise self._error(method, resp.status, body, key)
                yield resp
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            raise_body_error(e)
            raise self._transport_error(e) from e

    async def _body(self, resp: aiohttp.ClientResponse) -> bytes:
        try:
            return await resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            raise self._transport_error(e) from e

    async def _json(self, resp: aiohttp.ClientResponse) -> Any:
        body = await self._body(resp)
        try:
            return json.loads(body)
        except ValueError:
            raise RemoteError(
                f"remote '{self.name}': {self._shown} did not answer as the GCS JSON API"
            ) from None

    async def _retry(self, what: Callable[[], Awaitable[T]]) -> T:
        return await retrying(what, attempts=self._attempts)

    # -- errors -----------------------------------------------------------------

    def _transport_error(self, e: BaseException) -> RemoteError:
        return transport_error(self.name, self._shown, e)

    def _error(self, method: str, status: int, body: bytes, key: str | None) -> RemoteError:
        message = _error_message(body)
        if status in (401, 403):
            return RemoteAuthError(
                f"remote '{self.name}': GCS refused the credentials ({self._creds.source}): "
                f"HTTP {status}{': ' + message if message else ''}"
            )
        if status == 404 and key is not None and method == "GET":
            return ObjectNotFound(f"remote '{self.name}': no object {key}")
        if status == 404:
            return self._no_bucket()
        what = f"{method} {key}" if key is not None else method
        detail = f"HTTP {status}{': ' + message if message else ''}"
        if status >= 500 or status in _TRANSIENT_STATUS:
            return TransientError(f"remote '{self.name}': GCS {what} failed: {detail}")
        return RemoteError(f"remote '{self.name}': GCS {what} failed: {detail}")

    def _no_bucket(self) -> RemoteNotFoundError:
        return RemoteNotFoundError(
            f"remote '{self.name}': bucket '{self._bucket}' does not exist at {self._shown}"
        )


def _error_message(body: bytes) -> str:
    """The message of a JSON API error body, on one line (empty if there is none)."""
    try:
        error = json.loads(body).get("error", {})
        text = error.get("message", "") if isinstance(error, dict) else str(error)
    except (ValueError, AttributeError):
        text = body[:200].decode("utf-8", "replace") if body.lstrip()[:1] not in (b"<",) else ""
    return one_line(text)[:300]


def _object_size(resp: aiohttp.ClientResponse) -> int:
    """The whole object's size from a ranged GET's answer."""
    total = resp.headers.get("Content-Range", "").rpartition("/")[2]
    if total.isdigit():
        return int(total)
    if resp.status == 416:  # a range of an empty object
        return 0
    return resp.content_length or 0


async def _file_body(src: Path, offset: int, length: int) -> AsyncIterator[bytes]:
    """``length`` bytes of ``src`` from ``offset``, read in a thread a MiB at a
    time; a new generator per attempt, so a retried chunk starts again."""
    fd = await asyncio.to_thread(os.open, src, os.O_RDONLY)
    try:
        end = offset + length
        while offset < end:
            data = await asyncio.to_thread(os.pread, fd, min(MiB, end - offset), offset)
            if not data:
                raise RemoteError(f"{src} shrank while it was being uploaded")
            offset += len(data)
            yield data
    finally:
        os.close(fd)
