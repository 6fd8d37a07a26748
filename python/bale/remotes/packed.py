"""bale's packed remote layout (DESIGN.md §11) on any :class:`Store`.

The engine decides what goes in which pack and which byte ranges a fetch
reads, and verifies every object that arrives; this module moves files:

- Index copies. A pack index never changes under its name, so each is
  downloaded once into a local folder (checked by the engine first) and
  the union of the copies answers every existence question.
- Push. Packs are written and uploaded in parallel, each just before its
  upload and followed by its index; the pack that holds the trees goes
  last, after every other index, so a tree on the remote always has its
  members there too.
- Fetch. Rounds of ranged reads: the files of a tree are known only once
  the tree is in the cache, so each round fetches what the trees fetched so
  far reveal, until nothing is left. Each read downloads into the engine's
  ``ReadArrival``, which verifies and stores every object as its last byte
  arrives: nothing is staged on disk and read back. A chunked file
  (DESIGN.md §13) takes two: its list (kept in the staging folder), then
  the chunks the cache lacks, each written, verified, straight into the
  file, which is hashed as it fills and published when the round's reads
  are in.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bale import _core
from bale.console import warn
from bale.remotes.sync import Moved, for_each
from bale.staging import sweep_dead

if TYPE_CHECKING:
    from bale.progress import Bar
    from bale.remotes import Remote
    from bale.remotes.store import Store

PACKS_PREFIX = _core.PACKS_DIR + "/"
# About 32 MiB per pack: large enough that 100k small files are a dozen
# uploads, small enough that several upload in parallel.
DEFAULT_PACK_SIZE = 32 << 20


@dataclass(frozen=True)
class PackedPaths:
    """Where a repository keeps its copies of one remote's indexes, and its staged packs."""

    indexes: Path
    staging: Path

    @classmethod
    def for_remote(cls, tmp_dir: Path, remote: Remote) -> PackedPaths:
        # By URL, not name: a name can be reused for another remote.
        url = remote.url if remote.path is None else str(remote.path)
        tag = hashlib.sha256(url.encode()).hexdigest()[:16]
        base = tmp_dir / "bale" / "remotes" / tag
        staging_root = tmp_dir / "bale" / "staging"
        sweep_dead(staging_root)
        # One per caller, not per process: threads of one process (a push
        # beside a reader of bale.api) each stage in their own.
        staging = staging_root / f"{os.getpid()}-{secrets.token_hex(4)}"
        return cls(indexes=base / "indexes", staging=staging)


async def refresh_indexes(store: Store, paths: PackedPaths, jobs: int) -> list[str]:
    """Makes the local copies match the remote's indexes, and returns the
    keys of the indexes whose pack the remote lacks.

    One listing of ``bale/packs/`` is all it costs, and it is taken by every
    command that reads the packed layout, so nothing is trusted that the
    remote no longer holds: copies of indexes the remote dropped (another
    clone's ``gc -c``) go; an index whose pack is gone (deleted behind
    bale's back) is ignored, so what it lists counts as absent and a push
    sends it again; a damaged local copy is fetched again. New indexes are
    downloaded, each checked by the engine before it joins the copies."""
    paths.indexes.mkdir(parents=True, exist_ok=True)
    damaged = await asyncio.to_thread(_core.check_index_copies, paths.indexes)
    for name in damaged:
        warn(f"{paths.indexes / name}: a damaged copy of a remote index; fetched again")
    # Index copies only: another process sharing these copies (bale.api's
    # user-level ones) may have a download in flight here under a temp name.
    have = {n for n in os.listdir(paths.indexes) if n.endswith(".idx")}
    listed: dict[str, str] = {}
    packs: set[str] = set()
    async for key, _size in store.list(PACKS_PREFIX):
        name = key.rsplit("/", 1)[-1]
        if name.endswith(".idx"):
            listed[name] = key
        elif name.endswith(".pack"):
            packs.add(name.removesuffix(".pack"))
    orphans = sorted(key for name, key in listed.items() if name.removesuffix(".idx") not in packs)
    if orphans:
        warn(
            f"remote '{store.name}': {len(orphans)} pack index(es) name a pack the remote does "
            f"not hold (first: {orphans[0]}); what they list counts as absent, and push sends "
            "it again (gc -c removes such indexes)"
        )
    remote = {name: key for name, key in listed.items() if key not in orphans}
    for name in have - remote.keys():
        with contextlib.suppress(FileNotFoundError):
            (paths.indexes / name).unlink()
    new = [key for name, key in remote.items() if name not in have]

    async def fetch(key: str) -> None:
        name = key.rsplit("/", 1)[-1]
        tmp = _core.temp_path(paths.indexes)
        try:
            await store.get(key, tmp)
            await asyncio.to_thread(_core.check_pack_index, tmp, name.removesuffix(".idx"))
            os.replace(tmp, paths.indexes / name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    await for_each(new, fetch, jobs)
    return orphans


def _keep_copy(index: Path, dest: Path) -> None:
    """Keeps a local copy of an index just uploaded, atomically: a torn copy
    would poison every later load of the copies."""
    tmp = _core.temp_path(dest.parent)
    shutil.copyfile(index, tmp)
    os.replace(tmp, dest)


async def push(
    store: Store,
    ws: _core.Workspace,
    roots: list[tuple[str, str]],
    paths: PackedPaths,
    jobs: int,
    bar: Bar,
    pack_size: int = DEFAULT_PACK_SIZE,
) -> Moved:
    """Uploads, as packs, every object ``roots`` reach that the remote lacks.

    Each pack is written just before its upload and removed after it, so
    writing one overlaps sending others and the staging folder holds about
    ``jobs`` packs at a time."""
    await refresh_indexes(store, paths, jobs)
    plan = await asyncio.to_thread(ws.pack_push, roots, paths.indexes, paths.staging, pack_size)
    moved = Moved(present=plan.present, missing=list(plan.missing))
    packs = plan.packs
    bar.add_total(sum(objects for _trees, objects in packs))
    # A cancelled upload leaves its pack's writing thread running: this stops
    # it at its next object, before staging is removed.
    writing = _core.Progress()
    try:

        async def upload(i: int) -> None:
            written = await asyncio.to_thread(ws.pack_write, plan, i, writing)
            pack_path, index_path, pack_key, index_key, nbytes, objects, files = written
            try:
                await store.put(pack_path, pack_key, lambda n: bar.step(n, files=0), consume=True)
                _core.failpoint("upload")  # a pack on the remote, its index not yet
                await store.put(index_path, index_key)
                _keep_copy(index_path, paths.indexes / Path(index_key).name)
            finally:
                # Sent (or failed): its bytes need not reach the disk.
                pack_path.unlink(missing_ok=True)
                index_path.unlink(missing_ok=True)
            # Files as the summary counts them: a chunked file once, not
            # once per chunk.
            moved.copied += files
            moved.bytes += nbytes
            bar.step(files=objects)

        await for_each([i for i, (trees, _) in enumerate(packs) if not trees], upload, jobs)
        await for_each([i for i, (trees, _) in enumerate(packs) if trees], upload, 1)
    finally:
        writing.cancel()
        shutil.rmtree(paths.staging, ignore_errors=True)
    return moved


async def repack(
    store: Store,
    ws: _core.Workspace,
    roots: list[tuple[str, str]],
    paths: PackedPaths,
    packs: list[tuple[str, str]],
    jobs: int,
) -> None:
    """Rewrites each of ``packs`` (``(pack key, index key)``) with only the
    objects ``roots`` use (``Workspace.pack_repack``, which works out what
    is used once for all of them): downloaded, rewritten and verified by the
    engine, uploaded with its index. The old packs and indexes stay: the
    caller deletes them once every rewrite is up."""
    paths.staging.mkdir(parents=True, exist_ok=True)
    try:
        downloaded = [(paths.staging / key.rsplit("/", 1)[-1], key) for key, _index in packs]

        async def download(item: tuple[Path, str]) -> None:
            await store.get(item[1], item[0])

        await for_each(downloaded, download, jobs)
        rows = await asyncio.to_thread(
            ws.pack_repack, roots, paths.indexes, downloaded, paths.staging
        )
        for old, _key in downloaded:
            old.unlink(missing_ok=True)

        async def upload(row: tuple[Path, Path, str, str, int, int, int]) -> None:
            pack_path, index_path, pack_key, index_key, _n, _objects, _files = row
            try:
                await store.put(pack_path, pack_key, consume=True)
                await store.put(index_path, index_key)
                _keep_copy(index_path, paths.indexes / Path(index_key).name)
            finally:
                pack_path.unlink(missing_ok=True)
                index_path.unlink(missing_ok=True)

        await for_each(rows, upload, jobs)
    finally:
        shutil.rmtree(paths.staging, ignore_errors=True)


async def fetch(
    store: Store,
    ws: _core.Workspace,
    targets: list[tuple[str, str | None]],
    paths: PackedPaths,
    jobs: int,
    bar: Bar,
) -> Moved:
    """Downloads every object the ``targets`` reach that the cache lacks, in
    ranged reads of the packs that hold them; each object is verified as it
    lands. A target is ``(root id, path inside it or None)``: for a path, only
    the trees on the way to it and what it holds are fetched."""
    await refresh_indexes(store, paths, jobs)
    moved = Moved()
    paths.staging.mkdir(parents=True, exist_ok=True)
    try:
        roots: list[tuple[str, str]] = []
        for root, sub in targets:
            oid: str | None = root
            for name in sub.split("/") if sub else ():
                assert oid is not None
                if not ws.exists("blake3", oid):
                    await _rounds(store, ws, [("blake3", oid)], paths, jobs, bar, moved, True)
                if not ws.exists("blake3", oid):
                    break  # on no remote: reported by the round below
                # None where the output records nothing at this path (a
                # name it lacks, or a file on the way): nothing to fetch.
                oid = ws.tree_entry(oid, name)
                if oid is None:
                    break
            if oid is not None:
                roots.append(("blake3", oid))
        await _rounds(store, ws, roots, paths, jobs, bar, moved, False)
        return moved
    finally:
        shutil.rmtree(paths.staging, ignore_errors=True)


async def fetch_shallow(
    store: Store,
    ws: _core.Workspace,
    oids: list[tuple[str, str]],
    paths: PackedPaths,
    jobs: int,
    bar: Bar,
) -> Moved:
    """Fetches just these objects (trees, say), not what they reach."""
    moved = Moved()
    try:
        await _rounds(store, ws, oids, paths, jobs, bar, moved, True)
    finally:
        shutil.rmtree(paths.staging, ignore_errors=True)
    return moved


async def _rounds(
    store: Store,
    ws: _core.Workspace,
    roots: list[tuple[str, str]],
    paths: PackedPaths,
    jobs: int,
    bar: Bar,
    moved: Moved,
    shallow: bool,
) -> None:
    """Fetch rounds until the roots (and, unless ``shallow``, all they reach)
    are cached or on no remote; missing ids are set on ``moved``."""
    paths.staging.mkdir(parents=True, exist_ok=True)
    while True:
        plan = await asyncio.to_thread(
            ws.pack_fetch_plan, roots, paths.indexes, paths.staging, shallow=shallow
        )
        moved.copied += plan.rebuilt
        reads = plan.reads
        if not reads:
            moved.missing = list(plan.missing)
            return
        bar.add_total(len(reads))
        landed = 0

        async def read(item: tuple[_core.FetchPlan, int, tuple[str, int, int]]) -> None:
            nonlocal landed
            plan, i, (key, start, end) = item
            arrival = ws.read_arrival(plan, i)
            await store.get(key, arrival, lambda n: bar.step(n, files=0), (start, end))
            stored, files, nbytes = await asyncio.to_thread(ws.ingest_arrival, arrival)
            # Chunks and lists land too, but the summary counts files.
            landed += stored
            moved.copied += files
            moved.bytes += nbytes
            bar.step(files=1)

        try:
            await for_each([(plan, i, r) for i, r in enumerate(reads)], read, jobs)
        except BaseException:
            plan.discard()
            raise
        assembled = await asyncio.to_thread(ws.pack_fetch_finish, plan)
        moved.copied += assembled
        if landed + assembled == 0 or shallow:
            # Every read landed objects already here: nothing new can
            # be revealed, and the rest is on no remote.
            moved.missing = list(plan.missing)
            return
