"""Moving the run cache to and from a remote, as ``dvc push/pull --run-cache``
does: ``runs/<key[:2]>/<key>/<value>``, the same names as in the cache (whose
format is :mod:`bale.pipeline.runcache`'s).

A pulled entry that is not what its name says is skipped, never written to
the cache.
"""

from __future__ import annotations

from pathlib import Path

from bale.metafiles._fs import atomic_write
from bale.pipeline.runcache import entry_files, is_entry_named
from bale.remotes.store import Store, bounded

PREFIX = "runs/"
_LIMIT = 1 << 20  # a lock entry is a few KiB; anything this big is not one


def _local(runs: Path) -> dict[str, Path]:
    return {PREFIX + p.relative_to(runs).as_posix(): p for p in entry_files(runs)}


async def push(store: Store, runs: Path, jobs: int) -> tuple[int, int]:
    """Uploads the entries the remote lacks; returns (entries, bytes)."""
    local = _local(runs)
    remote = {k async for k, _size in store.list(PREFIX)}
    todo = [(k, p) for k, p in sorted(local.items()) if k not in remote]
    await bounded(todo, lambda kp: store.put(kp[1], kp[0]), jobs)
    return len(todo), sum(p.stat().st_size for _k, p in todo)


async def pull(store: Store, runs: Path, jobs: int) -> tuple[int, int, list[str]]:
    """Downloads the entries the cache lacks; returns (entries, bytes, the
    keys skipped because they are not what their name says)."""
    local = _local(runs)
    keys = sorted([k async for k, _size in store.list(PREFIX) if k not in local])
    bad: list[str] = []
    got = [0, 0]

    async def one(key: str) -> None:
        data = await store.read_small(key, _LIMIT)
        name = key.removeprefix(PREFIX)
        if data is None or not is_entry_named(name, data):
            bad.append(key)
            return
        dest = runs / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(dest, data)
        got[0] += 1
        got[1] += len(data)

    await bounded(keys, one, jobs)
    return got[0], got[1], bad
