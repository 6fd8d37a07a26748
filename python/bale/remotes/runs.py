"""The run cache on a remote, as ``dvc push/pull --run-cache`` keeps it:
``runs/<key[:2]>/<key>/<value>``, the same names as in the cache.

Entries are small and named by their content, so a pulled entry is trusted
only when its YAML is a valid lock entry whose own key and value are the
names it came under; anything else is skipped, never written to the cache.
"""

from __future__ import annotations

from pathlib import Path

from bale.metafiles import atomic_write
from bale.remotes.store import Store, bounded

PREFIX = "runs/"
_LIMIT = 1 << 20  # a lock entry is a few KiB; anything this big is not one


def _local(runs: Path) -> dict[str, Path]:
    from bale.pipeline.runcache import entry_files

    return {PREFIX + p.relative_to(runs).as_posix(): p for p in entry_files(runs)}


async def push(store: Store, runs: Path, jobs: int) -> tuple[int, int]:
    """Uploads the entries the remote lacks; returns (entries, bytes)."""
    local = _local(runs)
    remote = {k async for k, _size in store.list(PREFIX)}
    todo = [(k, p) for k, p in sorted(local.items()) if k not in remote]
    await bounded(todo, lambda kp: store.put(kp[1], kp[0]), jobs)
    return len(todo), sum(p.stat().st_size for _k, p in todo)


def _verified(key: str, data: bytes) -> bool:
    from bale.pipeline.runcache import key_of, loads_entry, value_of

    parts = key.split("/")
    if len(parts) != 4 or parts[2][:2] != parts[1]:
        return False
    try:
        entry = loads_entry(data.decode("utf-8"), key)
    except UnicodeDecodeError:
        return False
    return entry is not None and key_of(entry) == parts[2] and value_of(entry) == parts[3]


async def pull(store: Store, runs: Path, jobs: int) -> tuple[int, int, list[str]]:
    """Downloads the entries the cache lacks; returns (entries, bytes, the
    keys skipped because they are not what their name says)."""
    local = _local(runs)
    keys = sorted([k async for k, _size in store.list(PREFIX) if k not in local])
    bad: list[str] = []
    got = [0, 0]

    async def one(key: str) -> None:
        data = await store.read_small(key, _LIMIT)
        if data is None or not _verified(key, data):
            bad.append(key)
            return
        dest = runs / key.removeprefix(PREFIX)
        dest.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(dest, data)
        got[0] += 1
        got[1] += len(data)

    await bounded(keys, one, jobs)
    return got[0], got[1], bad
