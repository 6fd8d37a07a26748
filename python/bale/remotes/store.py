"""The contract every kind of remote store fulfils.

A store is a flat namespace of immutable objects addressed by keys such as
``files/md5/ab/cdef…``: the same relative paths a folder remote holds. Stores
move bytes and nothing else. Which objects to move, in which order, and
whether a downloaded object is what its name says are decided elsewhere
(``bale.remotes.sync`` and the Rust engine), once, for every kind of store.

Rules every implementation keeps (``tests/remotes/test_store_conformance.py``
checks them on every kind):

- ``put`` is atomic on the remote side: a reader sees the whole object or
  nothing, never a prefix. A store that cannot promise this (a plain HTTP
  server) must say so in its docstring; ``bale serve`` and S3 can.
- ``get`` writes into a :class:`Sink` (a new local file the caller names, or
  the engine's ``Landing``, which hashes a download as its parts arrive) and
  returns the number of bytes written; a missing key raises
  :class:`ObjectNotFound`. With a byte range it writes exactly those bytes
  (packs are read in ranges). A retried attempt writes its bytes again at
  the same offsets.
- Transient failures (timeouts, dropped connections, HTTP 5xx, S3 ``SlowDown``)
  are retried inside the store with :func:`retrying`; what escapes is final
  and is a :class:`~bale.remotes.errors.RemoteError` subclass whose message
  names the remote.
- Nothing is ever logged or raised with a credential in it.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import BinaryIO, Protocol, TypeVar

from bale import _core
from bale.exceptions import BaleError
from bale.remotes.errors import (
    ObjectNotFound,
    RemoteUnreachableError,
    TransientError,
    Unreachable,
)

__all__ = [
    "FileSink",
    "ObjectNotFound",
    "Progress",
    "Sink",
    "Store",
    "TransientError",
    "bounded",
    "hex_fraction",
    "is_temp",
    "part_ranges",
    "retrying",
    "sink_for",
    "temp_key",
    "whole_body",
]

T = TypeVar("T")
R = TypeVar("R")

# Called with a byte count as bytes move, so progress bars advance inside
# large objects too.
Progress = Callable[[int], None]


class Sink(Protocol):
    """Where a download lands: bytes written at offsets, in any order, from
    worker threads; closed when the download is complete, discarded (and
    removed) when it fails. Writes after :meth:`discard` are dropped (a
    cancelled part's thread may still be writing); none come after
    :meth:`close`."""

    def write(self, data: bytes, offset: int) -> None: ...

    def writev(self, pieces: list[bytes], offset: int) -> None:
        """The pieces one after another from ``offset``: a body received in
        pieces goes in one call, without joining them."""
        ...

    def close(self) -> None: ...

    def discard(self) -> None: ...


class FileSink:
    """A :class:`Sink` that is a new file, created on the first byte.

    Parts are written from worker threads, and a cancelled part's thread may
    still be writing when the download gives up; the lock makes opening,
    writing and closing exclusive, so no write ever lands on a closed (or
    reused) descriptor, and nothing is written after :meth:`discard`.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd = -1
        self._finished = False
        self._lock = threading.Lock()

    def write(self, data: bytes, offset: int) -> None:
        self.writev([data], offset)

    def writev(self, pieces: list[bytes], offset: int) -> None:
        with self._lock:
            if self._finished:
                return
            if self._fd < 0:
                # O_EXCL: the caller names a new file; never overwrite one.
                self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            for data in pieces:
                view = memoryview(data)
                while view:
                    written = os.pwrite(self._fd, view, offset)
                    view, offset = view[written:], offset + written

    def close(self) -> None:
        """Closes the file; an empty object was never written, so it is created here."""
        self.write(b"", 0)
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            self._finished = True

    def discard(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
                self._path.unlink(missing_ok=True)
            self._finished = True


#: ``(algo, oid)`` the bytes of an upload must hash to, or None for a file
#: that is not a cache object (a pack, which is verified as it is written;
#: a run-cache entry).
Expect = tuple[str, str] | None


class UploadSource:
    """The bytes one upload attempt sends, front to back.

    A cache object (``expect``) is read by the engine and hashed on the
    way: the stat cache vouches for an object only while its (inode, size,
    mtime) stay, and bytes can rot under an unchanged stat. The read that
    reaches the end raises ``CorruptObjectError`` instead of giving the last
    bytes, so a streamed upload of a rotten object never completes. Other
    files are read as they are."""

    def __init__(self, src: Path, expect: Expect) -> None:
        if expect is None:
            self._file: BinaryIO | None = open(src, "rb")  # noqa: SIM115 - closed by close()
            self._reader: _core.ObjectReader | None = None
            self.size = os.fstat(self._file.fileno()).st_size
        else:
            self._file = None
            self._reader = _core.ObjectReader(src, *expect)
            self.size = self._reader.size

    def read(self, n: int) -> bytes:
        """At most ``n`` next bytes; empty at the end (blocking: call it in a thread)."""
        if self._reader is not None:
            return self._reader.read(n)
        assert self._file is not None
        return self._file.read(n)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    @classmethod
    def whole(cls, src: Path, expect: Expect) -> bytes:
        """All of ``src`` at once (a small object), read as described above."""
        source = cls(src, expect)
        try:
            return source.read(source.size + 1)
        finally:
            source.close()

    async def chunks(self, size: int, progress: Progress | None = None) -> AsyncIterator[bytes]:
        """The bytes in pieces of at most ``size``, each read in a thread."""
        while chunk := await asyncio.to_thread(self.read, size):
            yield chunk
            if progress is not None:
                progress(len(chunk))


def raise_body_error(e: BaseException) -> None:
    """Raises the error an upload's body raised, if that is what ``e``
    (a client error) wraps: aiohttp reports a failing body as a failed
    send, which would be retried as a network error (a corrupt object would
    be read and refused again at every try, and named as a lost connection)."""
    cause = e.__cause__
    while cause is not None:
        if isinstance(cause, BaleError):
            raise cause from None
        cause = cause.__cause__


def check_object(src: Path, expect: Expect) -> None:
    """Hashes all of ``src`` and raises ``CorruptObjectError`` unless it is
    ``expect``: for uploads sent in parallel parts, whose bytes no single
    reader sees in order (blocking: call it in a thread)."""
    if expect is not None:
        _core.ObjectReader(src, *expect).verify()


def sink_for(dest: Path | Sink) -> Sink:
    """``dest`` as a :class:`Sink`: a path becomes a new file there."""
    return FileSink(dest) if isinstance(dest, Path) else dest


class Store(Protocol):
    """A remote object store; see the module docstring for the rules."""

    #: The remote's name as configured, for messages.
    name: str

    async def exists(self, keys: Iterable[str]) -> set[str]:
        """The subset of ``keys`` the store holds.

        Implementations choose between one request per key and listing,
        whichever costs fewer requests for this many keys.
        """
        ...

    def list(self, prefix: str) -> AsyncIterator[tuple[str, int]]:
        """``(key, size)`` of every object under ``prefix`` (which ends with
        ``/`` or is empty), in any order."""
        ...

    async def get(
        self,
        key: str,
        dest: Path | Sink,
        progress: Progress | None = None,
        byte_range: tuple[int, int] | None = None,
    ) -> int:
        """Writes the object ``key`` (or its bytes ``[start, end)`` of
        ``byte_range``) into ``dest`` (a path names a new file), closes it,
        and returns the bytes written; on failure ``dest`` is discarded."""
        ...

    async def read_small(self, key: str, limit: int) -> bytes | None:
        """The whole object ``key`` in memory if it is at most ``limit`` bytes,
        else None (then :meth:`get` it into a file). Small objects, most of a
        DVC-layout pull, so skip a temp file each."""
        ...

    async def put(
        self,
        src: Path,
        key: str,
        progress: Progress | None = None,
        consume: bool = False,
        expect: Expect = None,
    ) -> None:
        """Uploads the local file ``src`` as ``key``, atomically. With
        ``consume`` the caller is done with ``src`` and never changes it: a
        store on the same file system may link it instead of copying. With
        ``expect`` (``(algo, oid)``, a cache object) the bytes are read
        through the engine, hashed on the way, and the upload never
        completes if they are not what the name says (see
        :class:`UploadSource`)."""
        ...

    async def delete(self, keys: Iterable[str]) -> None:
        """Removes ``keys``; keys already gone are not an error."""
        ...

    async def close(self) -> None:
        """Releases connections. The store is unusable afterwards."""
        ...


async def retrying(
    what: Callable[[], Awaitable[T]],
    *,
    attempts: int = 5,
    base_delay: float = 0.2,
    max_delay: float = 5.0,
) -> T:
    """Runs ``what`` until it succeeds or fails with something not transient.

    Exponential backoff with full jitter (the AWS architecture blog's
    recommendation), so many clients retrying at once spread out. An
    :class:`Unreachable` endpoint, still so after the last attempt, is a
    :class:`RemoteUnreachableError`.
    """
    for attempt in range(attempts):
        try:
            return await what()
        except TransientError as e:
            if attempt == attempts - 1:
                if isinstance(e, Unreachable):
                    raise RemoteUnreachableError(str(e)) from None
                raise
            delay = min(max_delay, base_delay * 2**attempt)
            await asyncio.sleep(random.uniform(0, delay))
    raise AssertionError("unreachable")


async def bounded(items: Iterable[T], fn: Callable[[T], Awaitable[R]], limit: int) -> list[R]:
    """``fn`` over ``items`` with at most ``limit`` in flight, results in the
    items' order; the first failure cancels the rest and is raised (as
    dvc-objects' ``batch_coros`` does)."""
    indexed = enumerate(items)
    results: dict[int, R] = {}

    async def worker() -> None:
        for i, item in indexed:  # one iterator shared by all workers: each item once
            results[i] = await fn(item)

    tasks = [asyncio.ensure_future(worker()) for _ in range(max(1, limit))]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return [results[i] for i in range(len(results))]


# -- temporary names of stores that upload then rename (WebDAV, SSH) -------------

_TEMP_PREFIX, _TEMP_SUFFIX = ".bale-", ".tmp"


def temp_key(key: str) -> str:
    """A fresh temporary name beside ``key``, for its bytes to go to before
    they are renamed into place: same directory, so the rename stays on one
    file system, and a name :func:`is_temp` knows, so it is never listed."""
    parent = key.rpartition("/")[0]
    return f"{parent}/{_TEMP_PREFIX}{uuid.uuid4().hex}{_TEMP_SUFFIX}".lstrip("/")


def is_temp(name: str) -> bool:
    """Whether the last part of ``name`` is one of :func:`temp_key`'s."""
    leaf = name.rpartition("/")[2]
    return leaf.startswith(_TEMP_PREFIX) and leaf.endswith(_TEMP_SUFFIX)


# -- helpers the object stores (S3, GCS) share ----------------------------------

_BODY_CHUNK = 1 << 20


async def whole_body(src: Path, expect: Expect, progress: Progress | None) -> AsyncIterator[bytes]:
    """All of ``src`` (see :class:`UploadSource`), a chunk at a time; a new
    generator per attempt, so a retried upload starts again."""
    source = await asyncio.to_thread(UploadSource, src, expect)
    try:
        async for chunk in source.chunks(_BODY_CHUNK, progress):
            yield chunk
    finally:
        source.close()


def part_ranges(size: int, part: int, start: int = 0) -> list[tuple[int, int]]:
    """(offset, length) of each ``part``-sized piece of bytes ``start`` to ``size``."""
    return [(o, min(part, size - o)) for o in range(start, size, part)]


def hex_fraction(name: str) -> float | None:
    """Where ``name`` sits in hex key space (0 to 1), or None for names that are not hex."""
    head = name[:8]
    try:
        return (int(head, 16) + 1) / 16 ** len(head) if head else None
    except ValueError:
        return None
