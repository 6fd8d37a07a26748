"""Moving objects between the cache and a :class:`~bale.remotes.store.Store`.

The plan (which objects, in which order) comes from the engine
(``Workspace.sync_plan``); this module only moves bytes, with a fixed number
of requests in flight and the rest cancelled on the first final error, and
hands every download to the engine, which verifies its hash before it enters
the cache (``Workspace.ingest_landed``, ``ingest_bytes_many``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from bale import _core
from bale.remotes.errors import ObjectNotFound
from bale.remotes.store import bounded

if TYPE_CHECKING:
    from bale.progress import Bar
    from bale.remotes import Remote
    from bale.remotes.store import Store

T = TypeVar("T")

# Objects up to this size are downloaded into memory, not a temp file; they
# go to the engine in batches of _BATCH objects or _BATCH_BYTES bytes.
_SMALL = 1 << 20
_BATCH = 64
_BATCH_BYTES = 16 << 20


@dataclass
class Moved:
    """What one batch of transfers did."""

    copied: int = 0
    bytes: int = 0
    present: int = 0
    #: Keys the source does not hold.
    missing: list[str] = field(default_factory=list)

    def add(self, other: Moved) -> None:
        """Counts what ``other`` moved too."""
        self.copied += other.copied
        self.bytes += other.bytes
        self.present += other.present
        self.missing += other.missing


async def for_each(items: Iterable[T], fn: Callable[[T], Awaitable[None]], jobs: int) -> None:
    """Runs ``fn`` over ``items`` with at most ``jobs`` in flight; the first
    error cancels the rest and is raised."""
    await bounded(items, fn, jobs)


async def _ticking(bar: Bar, work: Awaitable[T]) -> T:
    async def tick() -> None:
        while True:
            bar.tick()
            await asyncio.sleep(0.1)

    ticker = asyncio.ensure_future(tick())
    try:
        return await work
    finally:
        ticker.cancel()


async def send(
    store: Store, ws: _core.Workspace, items: Sequence[_core.PlannedObject], jobs: int, bar: Bar
) -> Moved:
    """Uploads the cache objects the store lacks, each hashed as it leaves."""
    moved = Moved()
    present = await store.exists(i.key for i in items)
    todo = [i for i in items if i.key not in present]
    moved.present = len(items) - len(todo)
    bar.add_total(len(todo))

    async def put(item: _core.PlannedObject) -> None:
        path = ws.object_path(item.algo, item.oid)
        expect = (item.algo, item.oid)
        await store.put(path, item.key, lambda n: bar.step(n, files=0), expect=expect)
        _core.failpoint("upload")
        moved.copied += 1
        moved.bytes += path.stat().st_size
        bar.step(files=1)

    await _ticking(bar, for_each(todo, put, jobs))
    return moved


async def receive(
    store: Store, ws: _core.Workspace, items: Sequence[_core.PlannedObject], jobs: int, bar: Bar
) -> Moved:
    """Downloads the items (which the plan found the cache lacking), each
    verified by the engine before it is published; keys the store lacks are
    reported, not raised.

    Small objects are held in memory and go to the engine in batches; large
    ones land in the engine's ``Landing`` files, hashed while their parts
    arrive. Either way they are verified and published in parallel off the
    event loop, so the loop keeps requests in flight."""
    moved = Moved()
    bar.add_total(len(items))
    loop = asyncio.get_running_loop()
    small: list[tuple[str, str, bytes, str]] = []
    small_bytes = 0

    def done(sizes: list[int]) -> None:
        moved.copied += len(sizes)
        moved.bytes += sum(sizes)
        bar.step(files=len(sizes))

    async def flush_small() -> None:
        nonlocal small, small_bytes
        todo, small, small_bytes = small, [], 0
        if todo:
            done(await loop.run_in_executor(None, ws.ingest_bytes_many, todo))

    async def land(item: _core.PlannedObject, source: str) -> None:
        """A large object, into the engine's landing, published once whole."""
        landing = ws.landing(item.algo, item.oid)
        try:
            await store.get(item.key, landing, lambda n: bar.step(n, files=0))
            done([await loop.run_in_executor(None, ws.ingest_landed, landing, source)])
        finally:
            landing.discard()  # nothing is left to discard once published

    async def get(item: _core.PlannedObject) -> None:
        nonlocal small_bytes
        source = f"remote '{store.name}': {item.key}"
        try:
            data = await store.read_small(item.key, _SMALL)
            if data is None:
                await land(item, source)
                return
        except ObjectNotFound:
            moved.missing.append(item.key)
            bar.step(files=1)
            return
        bar.step(len(data), files=0)
        small.append((item.algo, item.oid, data, source))
        small_bytes += len(data)
        if len(small) >= _BATCH or small_bytes > _BATCH_BYTES:
            await flush_small()

    await _ticking(bar, for_each(items, get, jobs))
    await flush_small()
    return moved


def store_jobs(remote: Remote, jobs: int | None, per_core: int = 16) -> int:
    """Requests in flight for a remote: ``-j``, else the remote's ``jobs``,
    else ``per_core`` per core.

    Most requests move one small object, a round trip each, and a server
    answers many at once: pushing 10,000 objects of 1-8 KiB to SeaweedFS on
    loopback (2 cores) took 14-15 s with 8 in flight, 12-13 s with 16 and
    10.6-11.3 s with 32. Packed transfers move tens of MiB per request and
    keep 4 per core: more in flight would only stage more bytes."""
    return jobs or int(remote.options.get("jobs", 0)) or per_core * (os.cpu_count() or 1)


class Session:
    """One event loop and one open store for the span of a command.

    Usage::

        with Session(remote, jobs) as s:
            s.run(send(s.store, items, jobs, bar))
    """

    def __init__(self, remote: Remote, jobs: int) -> None:
        self._remote = remote
        self._jobs = jobs
        self._loop = asyncio.new_event_loop()
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            # Stores open their connections lazily, inside the loop.
            self._store = self._remote.open_store(self._jobs)
        return self._store

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return self._loop.run_until_complete(work)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._store is not None:
                self._loop.run_until_complete(self._store.close())
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        finally:
            self._loop.close()
