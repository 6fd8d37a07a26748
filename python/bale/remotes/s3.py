"""S3 remotes (``s3://bucket/prefix``) on plain aiohttp.

Why not aiobotocore: its per-request Python cost (about 3 ms of CPU) caps a
push of small objects near 250 objects/s on one core. Here a request is a
handful of string operations, one SigV4 signature (microseconds, see
:mod:`bale.remotes.sigv4`) and aiohttp's own work, so small-object transfers
are bound by the HTTP client, not by S3 plumbing.

Choices, and why:

- Path-style URLs (``endpoint/bucket/key``) whenever ``endpointurl`` is set:
  S3-compatible servers (SeaweedFS, MinIO, Ceph) need or prefer them. On AWS
  itself, virtual-hosted URLs (``bucket.s3.region.amazonaws.com``), which AWS
  recommends, except for bucket names with dots (TLS wildcards do not cover
  them).
- Object bodies are sent as ``UNSIGNED-PAYLOAD`` and streamed from the file;
  small control bodies (DeleteObjects, CompleteMultipartUpload) are hashed.
- A GET asks for the first ``part_size`` bytes; the answer's Content-Range
  gives the size, and the rest of a large object comes as parallel ranged
  GETs written at their offsets. Small objects cost one request, like a
  plain GET, and large ones need no HEAD first.
- Files and bodies up to :data:`_INLINE_MAX` are read and written in the event
  loop: a page-cache copy of a few KiB is far cheaper than a thread hop.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import contextlib
import hashlib
import os
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote_plus
from xml.sax.saxutils import escape

import aiohttp
import yarl

from bale.exceptions import one_line
from bale.remotes.aws import AwsCredentials, resolve_aws
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
from bale.remotes.listing import PagedStore
from bale.remotes.proxies import proxy_for
from bale.remotes.s3_settings import MiB, endpoint, parse_settings, parse_url
from bale.remotes.sigv4 import (
    EMPTY_SHA256,
    UNSIGNED_PAYLOAD,
    quote_path,
    quote_query,
)
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

__all__ = ["S3Store"]

T = TypeVar("T")

_MAX_PARTS = 10_000  # S3's most parts per upload
_INLINE_MAX = 256 * 1024
_CHUNK = MiB
_LIST_PAGE = 1000
_AUTH_CODES = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}
)
_TRANSIENT_CODES = frozenset(
    {"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling"}
)


class S3Store(PagedStore):
    """The objects under ``s3://bucket/prefix``; see the module docstring.

    Built inside the running event loop's task; the HTTP session is made on
    first use so that it binds to that loop.
    """

    def __init__(self, name: str, url: str, options: Mapping[str, str], *, jobs: int = 16) -> None:
        self.name = name
        self._jobs = jobs
        bucket, prefix = parse_url(name, url)
        self._bucket = bucket
        self._prefix = prefix
        # resolve_remote has checked these against the config files already; a
        # store made directly (tests, the API) gets the same refusal
        refuse_options(name, "s3", options)
        self._settings = parse_settings(name, options)
        # blocking, once per process: the chain may ask instance metadata or STS
        aws = resolve_aws(name, options)
        self._aws: AwsCredentials = aws
        origin, bucket_path = endpoint(options, bucket, aws.region)
        self._origin = origin
        self._host = yarl.URL(origin).host_port_subcomponent or ""
        self._bucket_path = bucket_path
        self._key_base = bucket_path.rstrip("/") + "/" + quote_path(prefix)
        self._bucket_ok = False
        self._bucket_lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"S3Store({self.name!r}, s3://{self._bucket}/{self._prefix})"

    # -- the Store protocol -------------------------------------------------

    # -- beyond the Store protocol: what import-url records of an S3 source --

    async def head(self, key: str) -> tuple[int, str] | None:
        """``(size, etag)`` of the object ``key``, None if there is none."""
        path = self._key_base + quote_path(key)

        async def once() -> tuple[int, str] | None:
            resp = await self._send(
                "HEAD", path, key=key, headers=self._settings.object_headers, ok=(200, 404)
            )
            resp.release()
            if resp.status == 404:
                return None
            return resp.content_length or 0, resp.headers.get("ETag", "").strip('"')

        found = await self._retry(once)
        if found is None:
            await self._check_bucket()
        return found

    async def get(
        self,
        key: str,
        dest: Path | Sink,
        progress: Progress | None = None,
        byte_range: tuple[int, int] | None = None,
    ) -> int:
        path = self._key_base + quote_path(key)
        out = sink_for(dest)
        try:
            if byte_range is None:
                origin = 0
                size, received = await self._retry(
                    lambda: self._get_range(path, key, out, 0, progress)
                )
            else:
                origin, received = byte_range[0], 0
                size = byte_range[1] - origin
            ranges = part_ranges(size, self._part_size(size), start=received)
            if ranges:
                await _bounded(
                    [
                        partial(self._get_part, path, key, out, off, n, progress, origin)
                        for off, n in ranges
                    ],
                    self._settings.part_jobs,
                )
        except BaseException:
            out.discard()
            raise
        out.close()
        return size

    async def read_small(self, key: str, limit: int) -> bytes | None:
        path = self._key_base + quote_path(key)

        async def once() -> bytes | None:
            headers = {"range": f"bytes=0-{limit - 1}", **self._settings.object_headers}
            resp = await self._send("GET", path, key=key, headers=headers, ok=(200, 206, 416))
            try:
                size = _object_size(resp)
                if resp.status == 416:
                    return b""
                if size > limit:
                    return None
                try:
                    data = await resp.read()
                except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                    raise self._transport_error(e) from e
            finally:
                resp.release()
            if len(data) != size:
                raise TransientError(f"remote '{self.name}': {key}: short read")
            return data

        return await self._retry(once)

    async def put(
        self,
        src: Path,
        key: str,
        progress: Progress | None = None,
        consume: bool = False,
        expect: Expect = None,
    ) -> None:
        path = self._key_base + quote_path(key)
        size = os.stat(src).st_size
        if size > self._settings.part_size:
            await self._put_multipart(src, path, key, size, progress, expect)
        elif size > _INLINE_MAX:
            await self._retry(
                lambda: self._call(
                    "PUT",
                    path,
                    key=key,
                    headers=self._settings.create_headers,
                    data=whole_body(src, expect, progress),
                    size=size,
                )
            )
        else:
            # At most 256 KiB: read (and hashed) on the loop, as a thread
            # hop would cost more than the read.
            data = UploadSource.whole(src, expect)
            headers = self._settings.create_headers
            await self._retry(lambda: self._call("PUT", path, key=key, headers=headers, data=data))
            if progress is not None:
                progress(size)

    async def delete(self, keys: Iterable[str]) -> None:
        names = sorted({self._prefix + key for key in keys})
        batches = [names[i : i + 1000] for i in range(0, len(names), 1000)]
        await _bounded([partial(self._delete_batch, b) for b in batches], self._jobs)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- exists -------------------------------------------------------------

    def _page_limit(self) -> int:
        return _LIST_PAGE

    async def _exists_one(self, key: str) -> set[str]:
        path = self._key_base + quote_path(key)
        status = await self._retry(
            lambda: self._status(
                "HEAD", path, key=key, headers=self._settings.object_headers, ok=(200, 404)
            )
        )
        if status == 200:
            return {key}
        await self._check_bucket()
        return set()

    async def _check_bucket(self) -> None:
        """Raises RemoteNotFoundError if the bucket is missing (a HEAD's 404 cannot tell)."""
        async with self._bucket_lock:  # one check, however many HEADs found nothing
            if self._bucket_ok:
                return
            status = await self._retry(
                lambda: self._status("HEAD", self._bucket_path, ok=(200, 404))
            )
            if status == 404:
                raise self._no_bucket()
            self._bucket_ok = True

    async def _list_page(
        self, prefix: str, token: str | None, max_keys: int
    ) -> tuple[builtins.list[tuple[str, int, str]], str | None]:
        """One listing page: (full key, size, etag) triples, and the next
        page's token if any: ListObjectsV2's continuation token, or with
        ``listobjects`` ListObjects' marker, the last key listed (v1 sends
        NextMarker only with a delimiter)."""
        params = {"prefix": prefix, "encoding-type": "url", "max-keys": str(max_keys)}
        if not self._settings.list_v1:
            params["list-type"] = "2"
        if token:
            params["marker" if self._settings.list_v1 else "continuation-token"] = token
        query = quote_query(params)
        body = await self._retry(lambda: self._call("GET", self._bucket_path, query))
        root = ET.fromstring(body)
        ns = _namespace(root)
        tags = (f"{ns}Key", f"{ns}Size", f"{ns}ETag")
        objects = [_entry(c, *tags) for c in root.iterfind(f"{ns}Contents")]
        if root.findtext(f"{ns}IsTruncated") != "true":
            return objects, None
        if self._settings.list_v1:
            return objects, objects[-1][0] if objects else None
        return objects, root.findtext(f"{ns}NextContinuationToken") or None

    # -- get and put ----------------------------------------------------------

    def _part_size(self, size: int) -> int:
        return max(self._settings.part_size, -(-size // _MAX_PARTS))

    async def _get_range(
        self,
        path: str,
        key: str,
        out: Sink,
        offset: int,
        progress: Progress | None,
        length: int | None = None,
        origin: int = 0,
    ) -> tuple[int, int]:
        """GETs the object's bytes from ``origin + offset`` into ``out`` at ``offset``.

        Returns (the object's size, bytes received). Without ``length``, asks
        for the first part (see the module docstring); a server that ignores
        Range then sends the whole object, which is fine too. A part must come
        as asked (206).
        """
        start = origin + offset
        end = start + (length or self._settings.part_size) - 1
        resp = await self._send(
            "GET",
            path,
            key=key,
            headers={"range": f"bytes={start}-{end}", **self._settings.object_headers},
            ok=(206, 416) if length else (200, 206, 416),
        )
        try:
            size = _object_size(resp)
            if resp.status == 416:
                return size, 0
            received = await self._receive(resp, out, offset, progress)
        finally:
            resp.release()
        return size, received

    async def _get_part(
        self,
        path: str,
        key: str,
        out: Sink,
        offset: int,
        length: int,
        progress: Progress | None,
        origin: int,
    ) -> None:
        _, received = await self._retry(
            lambda: self._get_range(path, key, out, offset, progress, length, origin)
        )
        if received != length:
            raise RemoteError(
                f"remote '{self.name}': object {key} ends before byte {origin + offset + length}"
            )

    async def _receive(
        self, resp: aiohttp.ClientResponse, out: Sink, offset: int, progress: Progress | None
    ) -> int:
        """Writes the answer's body at ``offset``; returns its length."""
        try:
            if (resp.content_length or 0) <= _INLINE_MAX:
                data = await resp.read()
                # In a thread: a sink may do real work per write (the
                # engine verifies and stores a pack read's objects).
                await asyncio.to_thread(out.write, data, offset)
                if progress is not None:
                    progress(len(data))
                return len(data)
            return await receive(resp.content, out, offset, progress)
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            raise self._transport_error(e) from e

    async def _put_multipart(
        self,
        src: Path,
        path: str,
        key: str,
        size: int,
        progress: Progress | None,
        expect: Expect,
    ) -> None:
        """Create, upload the parts in parallel, Complete; Abort on any failure
        or cancellation. The parts read ranges, so no reader sees the bytes in
        order: a cache object is hashed whole beside them, and Complete (the
        moment the object exists) waits for the hash to match."""
        headers = self._settings.create_headers
        body = await self._retry(
            lambda: self._call("POST", path, "uploads=", key=key, headers=headers)
        )
        root = ET.fromstring(body)
        upload_id = root.findtext(f"{_namespace(root)}UploadId") or ""
        checked = asyncio.ensure_future(asyncio.to_thread(check_object, src, expect))
        parts = part_ranges(size, self._part_size(size))
        uploads = asyncio.ensure_future(
            _bounded(
                [
                    partial(self._put_part, src, path, key, upload_id, n, o, ln, progress)
                    for n, (o, ln) in enumerate(parts, start=1)
                ],
                self._settings.part_jobs,
            )
        )
        try:
            # A corrupt object stops the parts at once, not after the last.
            await asyncio.wait({checked, uploads}, return_when=asyncio.FIRST_EXCEPTION)
            if checked.done():
                checked.result()
            etags = await uploads
            etags.sort()
            xml = "".join(
                f"<Part><PartNumber>{n}</PartNumber><ETag>{escape(tag)}</ETag></Part>"
                for n, tag in etags
            )
            data = f"<CompleteMultipartUpload>{xml}</CompleteMultipartUpload>".encode()
            query = quote_query({"uploadId": upload_id})
            await checked
            await self._retry(lambda: self._complete(path, key, query, data))
        except BaseException:
            for task in (checked, uploads):
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            await self._abort(path, upload_id)
            raise

    async def _put_part(
        self,
        src: Path,
        path: str,
        key: str,
        upload_id: str,
        number: int,
        offset: int,
        length: int,
        progress: Progress | None,
    ) -> tuple[int, str]:
        query = quote_query({"partNumber": str(number), "uploadId": upload_id})

        async def attempt() -> str:
            resp = await self._send(
                "PUT",
                path,
                query,
                key=key,
                headers=self._settings.object_headers,
                data=_file_body(src, offset, length, progress),
                size=length,
            )
            resp.release()
            return resp.headers.get("ETag", "")

        return number, await self._retry(attempt)

    async def _complete(self, path: str, key: str, query: str, data: bytes) -> None:
        """CompleteMultipartUpload, whose failure may come as a 200 with an Error body."""
        body = await self._call("POST", path, query, key=key, data=data, payload_hash=_sha256(data))
        root = ET.fromstring(body)
        if root.tag.endswith("Error"):
            raise self._error("POST", 500, body, None, key)

    async def _abort(self, path: str, upload_id: str) -> None:
        """Best effort: a failed abort leaves parts that a bucket lifecycle rule reclaims."""
        query = quote_query({"uploadId": upload_id})
        with contextlib.suppress(RemoteError):
            await self._retry(lambda: self._status("DELETE", path, query, ok=(204, 200, 404)))

    async def _delete_batch(self, names: builtins.list[str]) -> None:
        objects = "".join(f"<Object><Key>{escape(n)}</Key></Object>" for n in names)
        data = f"<Delete><Quiet>true</Quiet>{objects}</Delete>".encode()
        headers = {"content-md5": base64.b64encode(hashlib.md5(data).digest()).decode()}
        body = await self._retry(
            lambda: self._call(
                "POST",
                self._bucket_path,
                "delete=",
                headers=headers,
                data=data,
                payload_hash=_sha256(data),
            )
        )
        root = ET.fromstring(body)
        ns = _namespace(root)
        for error in root.iterfind(f"{ns}Error"):
            code = error.findtext(f"{ns}Code") or ""
            if code != "NoSuchKey":
                key = (error.findtext(f"{ns}Key") or "")[len(self._prefix) :]
                raise self._error_for(code, error.findtext(f"{ns}Message") or "", 0, key, "POST")

    # -- one request ----------------------------------------------------------

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            s = self._settings
            connector = aiohttp.TCPConnector(
                limit=max(self._jobs, s.part_jobs), ssl=s.ssl, keepalive_timeout=30
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=s.connect_timeout, sock_read=s.read_timeout
                ),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
                # HTTP(S)_PROXY and NO_PROXY, as botocore (so dvc) honours them
                **proxy_for(self._origin),
            )
        return self._session

    async def _send(
        self,
        method: str,
        path: str,
        query: str = "",
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        data: object = None,
        size: int | None = None,
        payload_hash: str | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> aiohttp.ClientResponse:
        """Signs and sends one request; the caller releases the response.

        A status outside ``ok`` raises the matching error; transport failures
        raise TransientError.
        """
        headers = {"host": self._host, **headers} if headers else {"host": self._host}
        signer = await self._aws.signer()
        if signer is not None:
            if payload_hash is None:
                payload_hash = EMPTY_SHA256 if data is None else UNSIGNED_PAYLOAD
            signer.sign(method, path, query, headers, payload_hash)
        if size is not None:
            headers["content-length"] = str(size)
        url = yarl.URL(
            f"{self._origin}{path}?{query}" if query else self._origin + path, encoded=True
        )
        try:
            resp = await self._http().request(method, url, headers=headers, data=data)
            if resp.status in ok:
                return resp
            # An unexpected 2xx (a whole object where a range was asked) is not read.
            body = await resp.read() if resp.status >= 300 else b""
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            raise_body_error(e)
            raise self._transport_error(e) from e
        resp.release()
        raise self._error(method, resp.status, body, resp.headers, key)

    async def _status(
        self,
        method: str,
        path: str,
        query: str = "",
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        ok: tuple[int, ...],
    ) -> int:
        """One request without a body either way; only its status is wanted."""
        resp = await self._send(method, path, query, key=key, headers=headers, ok=ok)
        resp.release()
        return resp.status

    async def _call(
        self,
        method: str,
        path: str,
        query: str = "",
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        data: object = None,
        size: int | None = None,
        payload_hash: str | None = None,
    ) -> bytes:
        """One request whose whole answer body is wanted."""
        resp = await self._send(
            method,
            path,
            query,
            key=key,
            headers=headers,
            data=data,
            size=size,
            payload_hash=payload_hash,
            ok=(200, 204),
        )
        try:
            return await resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            raise self._transport_error(e) from e
        finally:
            resp.release()

    async def _retry(self, what: Callable[[], Awaitable[T]]) -> T:
        return await retrying(what, attempts=self._settings.attempts)

    # -- errors ---------------------------------------------------------------

    def _transport_error(self, e: BaseException) -> RemoteError:
        return transport_error(self.name, self._origin, e)

    def _error(
        self,
        method: str,
        status: int,
        body: bytes,
        headers: Mapping[str, str] | None,
        key: str | None,
    ) -> RemoteError:
        region = headers.get("x-amz-bucket-region") if headers else None
        if region and region != self._aws.region:
            return RemoteConfigError(
                f"remote '{self.name}': bucket '{self._bucket}' is in region {region}, "
                f"not {self._aws.region}; set the remote's region option"
            )
        code, message = _error_code(body)
        return self._error_for(code, message, status, key, method)

    def _error_for(
        self, code: str, message: str, status: int, key: str | None, method: str
    ) -> RemoteError:
        if code == "NoSuchBucket":
            return self._no_bucket()
        if code == "NoSuchKey" or (status == 404 and not code and key is not None):
            return ObjectNotFound(f"remote '{self.name}': no object {key}")
        if code == "RequestTimeTooSkewed":
            return RemoteError(f"remote '{self.name}': S3 says this machine's clock is wrong")
        what = f"{method} {key}" if key is not None else method
        if code in _AUTH_CODES or status == 403:
            # the operation and object too: access may be denied to one object only
            return RemoteAuthError(
                f"remote '{self.name}': S3 refused the credentials ({self._aws.source}) "
                f"for {what}: {code or f'HTTP {status}'}"
            )
        detail = one_line(f"{code or f'HTTP {status}'} {message}".strip())
        if code in _TRANSIENT_CODES or status >= 500:
            return TransientError(f"remote '{self.name}': S3 {what} failed: {detail}")
        return RemoteError(f"remote '{self.name}': S3 {what} failed: {detail}")

    def _no_bucket(self) -> RemoteNotFoundError:
        return RemoteNotFoundError(
            f"remote '{self.name}': bucket '{self._bucket}' does not exist at {self._origin}"
        )


async def _bounded(jobs: Sequence[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    """Runs ``jobs`` with at most ``limit`` at once (see :func:`bounded`)."""
    return await bounded(jobs, lambda job: job(), limit)


async def _file_body(
    src: Path, offset: int, length: int, progress: Progress | None
) -> AsyncIterator[bytes]:
    """``length`` bytes of ``src`` from ``offset``, read in a thread a chunk at a time.

    A new generator per attempt, so a retried upload starts again at ``offset``.
    """
    fd = await asyncio.to_thread(os.open, src, os.O_RDONLY)
    try:
        end = offset + length
        while offset < end:
            data = await asyncio.to_thread(os.pread, fd, min(_CHUNK, end - offset), offset)
            if not data:
                raise RemoteError(f"{src} shrank while it was being uploaded")
            offset += len(data)
            yield data
            if progress is not None:
                progress(len(data))
    finally:
        os.close(fd)


def _object_size(resp: aiohttp.ClientResponse) -> int:
    """The whole object's size from a ranged GET's answer."""
    content_range = resp.headers.get("Content-Range", "")
    total = content_range.rpartition("/")[2]
    if total.isdigit():
        return int(total)
    if resp.status == 416:  # a range of an empty object: "bytes */0", or nothing at all
        return 0
    return resp.content_length or 0


def _entry(
    contents: ET.Element, key_tag: str, size_tag: str, etag_tag: str
) -> tuple[str, int, str]:
    """(key, size, etag without quotes) of a listing's ``Contents``; one
    pass, twice as fast as a findtext each."""
    key, size, etag = "", 0, ""
    for child in contents:
        if child.tag == key_tag:
            key = child.text or ""
            if "%" in key or "+" in key:  # encoding-type=url
                key = unquote_plus(key)
        elif child.tag == size_tag:
            size = int(child.text or 0)
        elif child.tag == etag_tag:
            etag = (child.text or "").strip('"')
    return key, size, etag


def _namespace(root: ET.Element) -> str:
    return root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""


def _error_code(body: bytes) -> tuple[str, str]:
    if not body.lstrip().startswith(b"<"):
        return "", ""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return "", ""
    ns = _namespace(root)
    return root.findtext(f"{ns}Code") or "", root.findtext(f"{ns}Message") or ""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
