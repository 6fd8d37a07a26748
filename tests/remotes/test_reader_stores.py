"""``bale.reader`` on every kind of store (folder, S3 on SeaweedFS, HTTP
through ``bale serve``): an md5 object and a chunked blake3 file pushed as
``bale push`` pushes them read back byte for byte through random seeks and
reads, and a sequential read of the chunked file through its read-ahead."""

from __future__ import annotations

import io
import random
from pathlib import Path

from bale import _core
from bale.progress import Bar
from bale.reader import RemoteReader
from bale.remotes import packed
from bale.remotes.store import Store
from tests.remotes.conftest import StoreUnderTest


def _stored(tmp_path: Path) -> tuple[_core.Workspace, dict[tuple[str, str], bytes]]:
    root = tmp_path / "repo"
    root.mkdir()
    ws = _core.Workspace(root, tmp_path / "cache")
    rng = random.Random(7)
    files = {}
    for algo, data in [("md5", rng.randbytes(2 << 20)), ("blake3", rng.randbytes(6 << 20))]:
        path = root / algo
        path.write_bytes(data)
        files[(algo, ws.build(path, algo, True).oid)] = data
    return ws, files


def test_random_reads_from_every_kind_of_store(store: StoreUnderTest, tmp_path: Path) -> None:
    ws, files = _stored(tmp_path)
    paths = packed.PackedPaths(indexes=tmp_path / "push-indexes", staging=tmp_path / "staging")

    async def push(s: Store) -> None:
        blake3 = [k for k in files if k[0] == "blake3"]
        await packed.push(s, ws, blake3, paths, 2, Bar("push", enabled=False), 2 << 20)
        for algo, oid in files:
            if algo == "md5":
                await s.put(ws.object_path(algo, oid), ws.object_key(algo, oid))

    store.run(push)
    (tmp_path / "reader").mkdir()
    fresh = _core.Workspace(tmp_path / "reader", tmp_path / "reader-cache")
    rng = random.Random(8)
    reader = RemoteReader(
        store.remote.open_store(4), fresh, tmp_path / "indexes", window=512 << 10, ahead=3
    )
    with reader:
        for (algo, oid), data in sorted(files.items()):
            with reader.open(algo, oid, len(data)) as stream:
                assert stream.read() == data, "sequential, through the read-ahead"
                model = io.BytesIO(data)
                for _ in range(25):
                    whence = rng.choice([io.SEEK_SET, io.SEEK_END])
                    if whence == io.SEEK_SET:
                        offset = rng.randrange(0, len(data) + 100)
                    else:
                        offset = -rng.randrange(0, len(data) + 1)
                    n = rng.choice([1, 1000, 70_000, 1 << 20, -1])
                    assert stream.seek(offset, whence) == model.seek(offset, whence)
                    assert stream.read(n) == model.read(n)


def test_a_refresh_of_shared_index_copies_leaves_others_downloads_alone(tmp_path: Path) -> None:
    """bale.api's index copies are shared by every process reading a remote:
    one process's refresh must not delete another's download in flight
    (a temp name beside the copies), only copies the remote dropped."""
    import asyncio

    from bale.remotes.folder import FolderStore

    ws, files = _stored(tmp_path)
    store = FolderStore("r", tmp_path / "remote")
    (tmp_path / "remote").mkdir()
    paths = packed.PackedPaths(indexes=tmp_path / "push-indexes", staging=tmp_path / "staging")
    blake3 = [k for k in files if k[0] == "blake3"]
    asyncio.run(packed.push(store, ws, blake3, paths, 2, Bar("push", enabled=False), 2 << 20))
    shared = packed.PackedPaths(indexes=tmp_path / "shared", staging=tmp_path / "staging2")
    shared.indexes.mkdir()
    in_flight = shared.indexes / ".bale4242x0.tmp"
    in_flight.write_bytes(b"part of another process's download")
    dropped = shared.indexes / ("0" * 64 + ".idx")
    dropped.write_bytes(b"")
    asyncio.run(packed.refresh_indexes(store, shared, 2))
    assert in_flight.exists()
    assert not dropped.exists()
    assert sorted(p.name for p in shared.indexes.glob("*.idx"))
