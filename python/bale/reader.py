"""Verified, seekable streams of one tracked object (DESIGN.md §13.8).

:func:`open_cached` reads an object from the local cache, :class:`RemoteReader`
(or :func:`open_remote`, for one object) from a remote. Either gives an
:class:`ObjectStream`: a binary file object (``read``, ``readinto``, ``seek``,
``tell``, a context manager) whose every byte was verified before the caller
sees it:

- A chunked blake3 file (DESIGN.md §13) is read chunk by chunk: only the
  chunks that hold the bytes asked for are read (from the cache, or by ranged
  reads of the remote's packs), and each is hashed against its id first. A
  sequential read keeps a few windows of chunks in flight ahead of the
  reader (``ahead`` × ``window`` bytes: the memory bound), so it runs at
  about the transport's speed; a seek drops them and reads just what the
  next ``read`` needs.
- Any other object (md5, a small blake3 file) cannot be checked in part: it
  is read from the cache once the whole object is known good (the stat cache
  vouches for it, or it is hashed at open). From a remote it is first
  downloaded into the cache, hashed as it lands, and published only if it
  matches; so its first byte comes after its last one arrived.

A mismatch raises :class:`~bale.exceptions.CorruptObjectError` naming the
object (and the remote) before any of its bytes reach the caller. A stream is
for one thread at a time, like a file.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import io
import os
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from bale import _core
from bale.exceptions import BaleError, ObjectMissingError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

    from bale.remotes.store import Store

__all__ = [
    "AHEAD",
    "LINE_BUFFER",
    "WINDOW",
    "ObjectStream",
    "RemoteReader",
    "open_cached",
    "open_remote",
]

T = TypeVar("T")

#: Bytes of chunks fetched (and verified) together by a sequential read.
WINDOW = 8 << 20
#: Windows a sequential read keeps in flight ahead of the reader.
AHEAD = 4
#: Bytes ``readline`` and ``peek`` take from the source at a time.
LINE_BUFFER = 64 << 10


class _Source(Protocol):
    """Verified bytes of one object, by position."""

    size: int

    def read_at(self, pos: int, n: int) -> bytes:
        """At most ``n`` bytes from ``pos`` (at least one before the end)."""
        ...

    def close(self) -> None: ...


class ObjectStream(io.BufferedIOBase):
    """A read-only, seekable binary stream of one object's verified bytes."""

    def __init__(
        self, source: _Source, name: str, on_close: Callable[[], None] | None = None
    ) -> None:
        super().__init__()
        self._source = source
        self._pos = 0
        self._buf, self._buf_start = b"", 0
        self._on_close = on_close
        #: What the stream reads (for messages and ``repr``).
        self.name = name

    def __repr__(self) -> str:
        return f"<ObjectStream {self.name!r} size={self.size}>"

    @property
    def size(self) -> int:
        """The object's size in bytes."""
        return self._source.size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on a closed stream")

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self.size + offset
        else:
            raise ValueError(f"invalid whence ({whence})")
        if pos < 0:
            raise ValueError(f"negative seek position {pos}")
        self._pos = pos
        return pos

    def _buffered(self) -> tuple[bytes, int]:
        """Bytes from the source that hold the position (read ahead by up
        to :data:`LINE_BUFFER`), and the position's index in them: lines
        and peeks are served from here, not a source call per byte."""
        if not self._buf_start <= self._pos < self._buf_start + len(self._buf):
            self._buf = self._source.read_at(self._pos, LINE_BUFFER)
            self._buf_start = self._pos
        return self._buf, self._pos - self._buf_start

    def peek(self, size: int = 0) -> bytes:
        """Bytes from the position on (at least one before the end; how
        many is the stream's choice), without moving it."""
        self._check_open()
        if self._pos >= self.size:
            return b""
        buf, at = self._buffered()
        return buf[at:]

    def readline(self, size: int | None = -1) -> bytes:
        self._check_open()
        want = self.size if size is None or size < 0 else size
        parts: list[bytes] = []
        while want > 0 and self._pos < self.size:
            buf, at = self._buffered()
            stop = min(len(buf), at + want)
            newline = buf.find(b"\n", at, stop)
            if newline >= 0:
                stop = newline + 1
            parts.append(buf[at:stop])
            self._pos += stop - at
            want -= stop - at
            if newline >= 0:
                break
        return b"".join(parts)

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        want = self.size - self._pos if size is None or size < 0 else size
        parts: list[bytes] = []
        while want > 0 and self._pos < self.size:
            data = self._source.read_at(self._pos, want)
            if not data:
                break
            parts.append(data)
            self._pos += len(data)
            want -= len(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def read1(self, size: int = -1) -> bytes:
        self._check_open()
        if self._pos >= self.size:
            return b""
        want = self.size - self._pos if size < 0 else size
        data = self._source.read_at(self._pos, want) if want else b""
        self._pos += len(data)
        return data

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def readinto1(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read1(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self.closed:
            return
        self._buf = b""
        try:
            self._source.close()
            if self._on_close is not None:
                self._on_close()
        finally:
            super().close()


class _FileSource:
    """A file known good, read where asked (the page cache reads ahead)."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        self.size = os.fstat(self._fd).st_size

    def read_at(self, pos: int, n: int) -> bytes:
        return os.pread(self._fd, min(n, WINDOW), pos)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class _Chunks(Protocol):
    """What both kinds of chunked file say of their chunks."""

    @property
    def size(self) -> int: ...
    @property
    def count(self) -> int: ...
    def span(self, start: int, end: int) -> tuple[int, int]: ...
    def offset(self, i: int) -> int: ...


@dataclass
class _Window:
    first: int
    last: int
    data: concurrent.futures.Future[bytes]


class _ChunkSource:
    """A chunked file read by windows of chunks, each verified by ``fetch``
    (``prepare(start, end)``, if given, first makes the chunks of those bytes
    known: a remote list's segments are loaded as reads need them).

    Holds the window being read and, while reads are sequential, up to
    ``ahead`` windows in flight after it. A read elsewhere (a seek) drops
    them and fetches only the chunks that hold what it asks for: a 1 MiB read
    deep in a large file reads about 1 MiB."""

    def __init__(
        self,
        chunks: _Chunks,
        fetch: Callable[[int, int], concurrent.futures.Future[bytes]],
        window: int = WINDOW,
        ahead: int = AHEAD,
        prepare: Callable[[int, int], None] | None = None,
    ) -> None:
        self.size = chunks.size
        self._chunks = chunks
        self._fetch = fetch
        self._prepare = prepare
        self._window = window
        self._ahead_n = ahead
        self._ahead: collections.deque[_Window] = collections.deque()
        # Bytes of the current window (none yet: the first read is read
        # exactly; read-ahead starts with the second read that follows on).
        self._start, self._end = 0, -1
        self._last = 0  # the chunk after it
        self._data = b""

    def read_at(self, pos: int, n: int) -> bytes:
        if not self._start <= pos < self._end:
            self._move(pos, n)
        at = pos - self._start
        return self._data[at : at + n]

    def _move(self, pos: int, n: int) -> None:
        if self._prepare is not None:
            self._prepare(pos, pos + max(n, 1))
        first = self._chunks.span(pos, pos + 1)[0]
        sequential = pos == self._end and first == self._last
        if sequential and self._prepare is not None:
            # The windows about to be planned (each may pass its end by a chunk).
            self._prepare(pos, pos + (self._ahead_n + 1) * (self._window + (1 << 20)))
        # The chunks this read needs (at most a window of them).
        exact = self._chunks.span(pos, pos + min(max(n, 1), self._window))[1]
        ahead = self._ahead.popleft() if sequential and self._ahead else None
        if ahead is None or ahead.first != first:
            if ahead is not None:
                ahead.data.cancel()
            self._drop_ahead()
            last = self._window_end(first) if sequential else exact
            pending = self._fetch(first, last)
        else:
            last, pending = ahead.last, ahead.data
        try:
            data = pending.result()
        except BaleError:
            # A bad chunk somewhere in the window: the read fails only if
            # it needs that chunk; the good chunks before it are handed over.
            self._drop_ahead()
            if last == exact:
                raise
            last, sequential = exact, False
            data = self._fetch(first, last).result()
        self._start, self._data, self._last = self._chunks.offset(first), data, last
        self._end = self._start + len(data)
        if sequential:
            self._fill_ahead()

    def _window_end(self, first: int) -> int:
        start = self._chunks.offset(first)
        return self._chunks.span(start, start + self._window)[1]

    def _fill_ahead(self) -> None:
        nxt = self._ahead[-1].last if self._ahead else self._last
        while len(self._ahead) < self._ahead_n and nxt < self._chunks.count:
            last = self._window_end(nxt)
            self._ahead.append(_Window(nxt, last, self._fetch(nxt, last)))
            nxt = last

    def _drop_ahead(self) -> None:
        while self._ahead:
            self._ahead.popleft().data.cancel()

    def close(self) -> None:
        self._drop_ahead()
        self._data = b""


def _file_stream(ws: _core.Workspace, algo: str, oid: str, name: str) -> ObjectStream:
    return ObjectStream(_FileSource(ws.object_path(algo, oid)), name)


def open_cached(
    ws: _core.Workspace,
    algo: str,
    oid: str,
    *,
    name: str | None = None,
    window: int = WINDOW,
    ahead: int = AHEAD,
) -> ObjectStream | None:
    """The file object ``oid`` (``algo``) from the cache, or ``None`` when the
    cache cannot give it (neither its object nor, for a chunked file, its
    list).

    A whole object the stat cache does not vouch for is hashed here, at open
    (and remembered); a chunked blake3 file is verified chunk by chunk as it
    is read instead, also after ``gc --compact`` kept it as chunks only.
    ``CorruptObjectError`` when a byte read does not match. A verification
    is remembered in ``ws``'s stat cache; ``ws.save()`` keeps it for later
    processes (once, after many opens: saving rewrites the whole file)."""
    label = name or f"{algo}:{oid}"
    if algo == "blake3" and not _core.is_tree(oid):
        # Vouched for whole: plain reads, nothing to hash.
        if ws.verified_object(algo, oid, False) is not None:
            return _file_stream(ws, algo, oid, label)
        try:
            chunks = ws.cached_chunks(oid)
        except BaleError:
            # A damaged list costs the whole object nothing: hash it instead.
            if ws.verified_object(algo, oid, True) is None:
                raise
            return _file_stream(ws, algo, oid, label)
        if chunks is not None:
            pool = concurrent.futures.ThreadPoolExecutor(max(1, ahead), "bale-reader")
            source = _ChunkSource(
                chunks, lambda a, b: pool.submit(chunks.read, a, b), window, ahead
            )
            return ObjectStream(source, label, lambda: pool.shutdown(cancel_futures=True))
    if ws.verified_object(algo, oid, True) is None:
        return None
    return _file_stream(ws, algo, oid, label)


class _Loop:
    """An event loop on a thread of its own: the stores are asyncio, the
    streams are not. A store's connections belong to the loop they were
    opened on, so a store is used from this loop only."""

    def __init__(self) -> None:
        # asyncio here, not at the top: reading from a cache needs no loop
        # (importing it is a good part of a one-file read's start-up).
        import asyncio

        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="bale-reader", daemon=True
        )
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.submit(coro).result()

    def stop(self) -> None:
        """Cancels what is in flight (a stream waiting on it gets
        ``CancelledError``, not a hang), then ends the loop."""

        import asyncio

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(RuntimeError):  # the loop is already gone
            self.run(cancel_all())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class _MemorySink:
    """A ranged read held in memory (a window: a few MiB). The pieces are
    kept as they come and joined once at the end: one copy, or none for a
    read that came in one piece."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._pieces: list[tuple[int, bytes]] = []

    def write(self, data: bytes, offset: int) -> None:
        self._pieces.append((offset, bytes(data)))

    def writev(self, pieces: list[bytes], offset: int) -> None:
        for piece in pieces:
            self.write(piece, offset)
            offset += len(piece)

    def close(self) -> None:
        pass

    def discard(self) -> None:
        self._pieces = []

    def data(self) -> bytes:
        """The bytes, in order."""
        at = 0
        for offset, piece in sorted(self._pieces, key=lambda p: p[0]):
            if offset != at:
                break
            at += len(piece)
        else:
            if at == self._size:
                return b"".join(piece for _, piece in sorted(self._pieces, key=lambda p: p[0]))
        # Parts out of order or written twice (a retried part): in the
        # order they were written, later over earlier.
        buf = bytearray(self._size)
        for offset, piece in self._pieces:
            buf[offset : offset + len(piece)] = piece
        return bytes(buf)


class RemoteReader:
    """Opens objects of one remote as :class:`ObjectStream`\\ s.

    ``store`` is used from a loop of the reader's own and closed with the
    reader (give it a store no other loop has used). ``ws`` is a workspace
    whose cache receives whole objects (md5, small blake3 files), verified
    as they land; give a temporary one to leave no trace. ``index_dir`` holds
    the local copies of the remote's pack indexes (needed for blake3), made
    current with one listing of the remote at the first blake3 open unless
    ``refresh`` is false (the caller keeps them current). Use it as a
    context manager, or :meth:`close` it when done. ``ws.save()`` keeps the
    verifications of what landed for later processes.
    """

    def __init__(
        self,
        store: Store,
        ws: _core.Workspace,
        index_dir: Path | None = None,
        *,
        refresh: bool = True,
        jobs: int = 4,
        window: int = WINDOW,
        ahead: int = AHEAD,
    ) -> None:
        self.store = store
        self._ws = ws
        self._index_dir = index_dir
        self._refresh = refresh
        self._jobs = jobs
        self._window = window
        self._ahead = ahead
        self._indexes: _core.RemoteIndexes | None = None
        self._indexes_lock = threading.Lock()  # opens may come from several threads
        self._loop = _Loop()
        self._closed = False

    def __enter__(self) -> RemoteReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the store and stops the loop; open streams stop working."""
        if self._closed:
            return
        self._closed = True
        try:
            self._loop.run(self.store.close())
        finally:
            self._loop.stop()

    @property
    def _source(self) -> str:
        return f"remote '{self.store.name}'"

    def open(
        self, algo: str, oid: str, size: int | None = None, *, name: str | None = None
    ) -> ObjectStream:
        """The file object ``oid`` (``algo``) of the remote, verified as
        described in the module docstring. ``ObjectMissingError`` when the
        remote does not hold it; ``CorruptObjectError`` (naming the object
        and the remote) when what it holds is not what the id says. ``size``,
        when known, is checked against what the remote holds."""
        if self._closed:
            raise ValueError("the reader is closed")
        label = name or f"{algo}:{oid}"
        if algo != "blake3":
            key = self._ws.object_key(algo, oid)
            self._land(algo, oid, key, None)
            return self._sized(_file_stream(self._ws, algo, oid, label), size)
        found = self._remote_indexes().locate(oid)
        if found is None:
            raise ObjectMissingError(f"{self._source}: {oid} is in none of its packs")
        kind, key, start, end = found
        if kind == "whole":
            self._land(algo, oid, key, (start, end))
            return self._sized(_file_stream(self._ws, algo, oid, label), size)
        chunks = self._loop.run(self._open_chunks(oid, key, start, end))
        source = _ChunkSource(
            chunks,
            lambda a, b: self._submit_read(chunks, a, b),
            self._window,
            self._ahead,
            lambda a, b: self._load_segments(chunks, a, b),
        )
        return self._sized(ObjectStream(source, label), size)

    def _sized(self, stream: ObjectStream, size: int | None) -> ObjectStream:
        if size is not None and stream.size != size:
            stream.close()
            raise BaleError(
                f"{self._source}: {stream.name} holds {stream.size} bytes, {size} were recorded"
            )
        return stream

    def _remote_indexes(self) -> _core.RemoteIndexes:
        with self._indexes_lock:
            return self._load_indexes()

    def indexes(self) -> _core.RemoteIndexes:
        """The remote's pack indexes (its local copies, made to match the
        remote once per reader): where its blake3 objects are."""
        return self._remote_indexes()

    def _load_indexes(self) -> _core.RemoteIndexes:
        if self._indexes is None:
            if self._index_dir is None:
                raise BaleError(
                    f"{self._source}: reading blake3 data needs a folder for copies of its "
                    "pack indexes"
                )
            if self._refresh:
                from bale.remotes.packed import PackedPaths, refresh_indexes

                paths = PackedPaths(indexes=self._index_dir, staging=self._index_dir / "staging")
                self._loop.run(refresh_indexes(self.store, paths, self._jobs))
            self._indexes = _core.RemoteIndexes(self._index_dir)
        return self._indexes

    def _land(self, algo: str, oid: str, key: str, byte_range: tuple[int, int] | None) -> None:
        """Makes sure the cache holds the whole object good: downloaded,
        hashed as it lands and published only if it matches, unless the
        cache holds it (hashed now if the stat cache does not vouch for it;
        a corrupt copy there is an error naming it, as it would be
        neither replaced nor repaired by a download)."""
        if self._ws.verified_object(algo, oid, True) is not None:
            return
        landing = self._ws.landing(algo, oid)
        try:
            self._loop.run(self.store.get(key, landing, None, byte_range))
        except BaseException:
            landing.discard()
            raise
        self._ws.ingest_landed(landing, f"{self._source} {key}")
        # Another process may have stored it first: that copy is checked too.
        if self._ws.verified_object(algo, oid, True) is None:
            raise ObjectMissingError(f"{self._source}: {key} did not reach the cache")

    async def _get(self, key: str, start: int, end: int) -> bytes:
        sink = _MemorySink(end - start)
        await self.store.get(key, sink, None, (start, end))
        return sink.data()

    async def _get_all(self, reads: list[tuple[str, int, int]]) -> list[bytes]:
        from bale.remotes.store import bounded

        return await bounded(reads, lambda r: self._get(*r), self._jobs)

    async def _open_chunks(self, oid: str, key: str, start: int, end: int) -> _core.RemoteChunks:
        indexes = self._indexes
        assert indexes is not None  # loaded by open(), outside the loop
        listed = await self._get(key, start, end)
        import asyncio

        return await asyncio.to_thread(indexes.open_chunks, oid, listed, self._source)

    def _load_segments(self, chunks: _core.RemoteChunks, start: int, end: int) -> None:
        """Loads the segments of the list that cover ``start..end`` (each
        checked by the engine), unless they are loaded."""
        missing = chunks.missing(start, end)
        if missing:
            if self._closed:
                raise ValueError(f"the reader of {self._source} is closed")
            data = self._loop.run(self._get_all(chunks.segment_reads(missing)))
            chunks.add_segments(missing, data)

    def _submit_read(
        self, chunks: _core.RemoteChunks, first: int, last: int
    ) -> concurrent.futures.Future[bytes]:
        if self._closed:
            raise ValueError(f"the reader of {self._source} is closed")
        return self._loop.submit(self._read_chunks(chunks, first, last))

    async def _read_chunks(self, chunks: _core.RemoteChunks, first: int, last: int) -> bytes:
        data = await self._get_all(chunks.reads(first, last))
        import asyncio

        return await asyncio.to_thread(chunks.verify, first, last, data)


def open_remote(
    store: Store,
    ws: _core.Workspace,
    algo: str,
    oid: str,
    size: int | None = None,
    index_dir: Path | None = None,
    *,
    name: str | None = None,
) -> ObjectStream:
    """One object of a remote (see :class:`RemoteReader`); closing the
    stream closes ``store``."""
    reader = RemoteReader(store, ws, index_dir)
    try:
        stream = reader.open(algo, oid, size, name=name)
    except BaseException:
        reader.close()
        raise
    stream._on_close = reader.close
    return stream
