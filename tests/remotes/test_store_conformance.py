"""The Store conformance suite: every kind of store (folder, S3, HTTP through
``bale serve``) passes the same tests against the :class:`~bale.remotes.store.Store`
protocol, as the sync layer uses it. The CLI-level suite (``test_conformance.py``)
checks what a user sees; this one checks what ``bale.remotes.store`` promises.

Keys are the ones bale writes: DVC 3 objects (``files/md5/``), legacy DVC 2
objects (``<2 hex>/<30 hex>``), directory objects (``.dir``) and keys that are
not a content hash (the run cache, ``runs/``), which ``bale serve`` stores
unchecked. The ``store`` fixture lists in pages of a few keys, so listing and
batched ``exists``/``delete`` cross page boundaries here.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

from bale.exceptions import CorruptObjectError
from bale.remotes.errors import ObjectNotFound, RemoteError
from bale.remotes.store import Store

from .conftest import SMALL_PAGE, StoreUnderTest

MiB = 1 << 20
# Past every store's in-memory and single-request paths: streamed over HTTP,
# a multipart upload on S3 (parts of 5 MiB), ranged parts on download.
LARGE = 6 * MiB + 7


def md5_key(data: bytes, suffix: str = "") -> str:
    h = hashlib.md5(data).hexdigest()
    return f"files/md5/{h[:2]}/{h[2:]}{suffix}"


def legacy_key(data: bytes) -> str:
    h = hashlib.md5(data).hexdigest()
    return f"{h[:2]}/{h[2:]}"


class Source:
    """Local files to upload, one per call, never reused (``consume`` may link them)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        folder.mkdir()

    def __call__(self, data: bytes) -> Path:
        self.count += 1
        path = self.folder / f"src{self.count}"
        path.write_bytes(data)
        return path


@pytest.fixture
def src(tmp_path: Path) -> Source:
    return Source(tmp_path / "src")


class RecordingSink:
    """A :class:`~bale.remotes.store.Sink` that keeps what it is told."""

    def __init__(self) -> None:
        self.pieces: dict[int, bytes] = {}
        self.closed = 0
        self.discarded = 0

    def write(self, data: bytes, offset: int) -> None:
        self.writev([data], offset)

    def writev(self, pieces: list[bytes], offset: int) -> None:
        assert not self.closed, "a write after close"
        for data in pieces:
            self.pieces[offset] = data
            offset += len(data)

    def close(self) -> None:
        self.closed += 1

    def discard(self) -> None:
        self.discarded += 1

    def data(self) -> bytes:
        out = bytearray()
        for offset in sorted(self.pieces):
            out[offset : offset + len(self.pieces[offset])] = self.pieces[offset]
        return bytes(out)


async def listed(store: Store, prefix: str = "") -> dict[str, int]:
    out: dict[str, int] = {}
    async for key, size in store.list(prefix):
        assert key not in out, f"{key} listed twice"
        out[key] = size
    return out


def test_put_then_get_gives_back_every_byte_of_empty_small_and_large_objects(
    store: StoreUnderTest, src: Source, tmp_path: Path
) -> None:
    blobs = [b"", b"x", os.urandom(300 * 1024), os.urandom(LARGE)]
    keys = [md5_key(data) for data in blobs]
    sent: list[list[int]] = [[] for _ in blobs]
    received: list[list[int]] = [[] for _ in blobs]

    async def body(s: Store) -> list[int]:
        for data, key, progress in zip(blobs, keys, sent, strict=True):
            await s.put(src(data), key, progress.append)
        assert await listed(s) == {key: len(data) for key, data in zip(keys, blobs, strict=True)}
        return [
            await s.get(key, tmp_path / f"got{i}", received[i].append) for i, key in enumerate(keys)
        ]

    assert store.run(body) == [len(data) for data in blobs]
    for i, data in enumerate(blobs):
        assert (tmp_path / f"got{i}").read_bytes() == data
        assert sum(sent[i]) == sum(received[i]) == len(data)


def test_read_small_gives_an_object_up_to_the_limit_and_none_past_it(
    store: StoreUnderTest, src: Source
) -> None:
    small, large = b"small object\n", os.urandom(LARGE)

    async def body(s: Store) -> list[bytes | None]:
        for data in (small, large, b""):
            await s.put(src(data), md5_key(data))
        return [
            await s.read_small(md5_key(small), len(small)),
            await s.read_small(md5_key(small), len(small) - 1),
            await s.read_small(md5_key(b""), 1024),
            await s.read_small(md5_key(large), 1024),
        ]

    assert store.run(body) == [small, None, b"", None]


def test_get_writes_into_a_sink_and_closes_it_once(store: StoreUnderTest, src: Source) -> None:
    data = os.urandom(LARGE)
    whole, part = RecordingSink(), RecordingSink()

    async def body(s: Store) -> tuple[int, int]:
        await s.put(src(data), md5_key(data))
        return await s.get(md5_key(data), whole), await s.get(
            md5_key(data), part, byte_range=(MiB - 3, 5 * MiB + 11)
        )

    assert store.run(body) == (len(data), 4 * MiB + 14)
    assert whole.data() == data and part.data() == data[MiB - 3 : 5 * MiB + 11]
    assert (whole.closed, whole.discarded, part.closed, part.discarded) == (1, 0, 1, 0)


def test_a_byte_range_is_exactly_the_bytes_asked_for(
    store: StoreUnderTest, src: Source, tmp_path: Path
) -> None:
    data = os.urandom(LARGE)
    end = len(data)
    ranges = [(0, 10), (end - 1, end), (5 * MiB - 10, end), (7, 7), (0, end)]

    async def body(s: Store) -> list[int]:
        await s.put(src(data), md5_key(data))
        return [
            await s.get(md5_key(data), tmp_path / f"r{i}", byte_range=r)
            for i, r in enumerate(ranges)
        ]

    assert store.run(body) == [b - a for a, b in ranges]
    for i, (start, stop) in enumerate(ranges):
        assert (tmp_path / f"r{i}").read_bytes() == data[start:stop]


def test_a_range_past_the_end_is_an_error_and_leaves_no_file(
    store: StoreUnderTest, src: Source, tmp_path: Path
) -> None:
    data = b"0123456789"
    dest = tmp_path / "beyond"

    async def body(s: Store) -> None:
        await s.put(src(data), md5_key(data))
        await s.get(md5_key(data), dest, byte_range=(5, 15))

    with pytest.raises(RemoteError, match=r"^remote 'conf': "):
        store.run(body)
    assert not dest.exists()


def test_a_missing_object_is_object_not_found_naming_the_remote_and_the_key(
    store: StoreUnderTest, tmp_path: Path
) -> None:
    key = md5_key(b"never stored")
    dest, sink = tmp_path / "dest", RecordingSink()

    async def get(s: Store) -> int:
        return await s.get(key, dest)

    async def get_into_sink(s: Store) -> int:
        return await s.get(key, sink)

    async def read_small(s: Store) -> bytes | None:
        return await s.read_small(key, 1024)

    for body in (get, get_into_sink, read_small):
        with pytest.raises(ObjectNotFound) as e:
            store.run(body)
        assert isinstance(e.value, RemoteError) and isinstance(e.value, FileNotFoundError)
        assert str(e.value).startswith("remote 'conf': ") and key in str(e.value)
        assert "\n" not in str(e.value)
    assert not dest.exists()
    assert (sink.pieces, sink.closed, sink.discarded) == ({}, 0, 1)


def test_exists_answers_the_subset_held_for_one_key_and_for_many(
    store: StoreUnderTest, src: Source
) -> None:
    blobs = [f"object {i}\n".encode() for i in range(3 * SMALL_PAGE)]
    objects = {md5_key(d): d for d in blobs[:-4]}
    objects |= {legacy_key(blobs[-4]): blobs[-4], md5_key(blobs[-3], ".dir"): blobs[-3]}
    objects |= {legacy_key(blobs[-2]) + ".dir": blobs[-2]}
    objects |= {"runs/ab/" + "ab" * 32 + "/" + "cd" * 32: blobs[-1]}
    held = list(objects)
    # Absent keys next to held ones (same prefix) and in prefixes holding nothing.
    absent = [k[:-3] + "000" for k in held[: 2 * SMALL_PAGE]] + [
        md5_key(f"absent {i}".encode()) for i in range(SMALL_PAGE)
    ]

    async def body(s: Store) -> list[set[str]]:
        await asyncio.gather(*(s.put(src(data), key) for key, data in objects.items()))
        return [
            await s.exists([]),
            await s.exists([held[0]]),
            await s.exists([absent[0]]),
            await s.exists(held[:2]),
            await s.exists(held + absent + held[:3]),  # duplicates are one key
            await s.exists(iter(absent)),
        ]

    got = store.run(body)
    assert got == [set(), {held[0]}, set(), set(held[:2]), set(held), set()]


def test_list_gives_every_key_and_size_under_a_prefix_and_nothing_beside_it(
    store: StoreUnderTest, src: Source
) -> None:
    keys = {
        **{f"runs/ab/{i:064x}/{'e' * 64}": i for i in range(SMALL_PAGE + 2)},
        f"runs/abc/{'1' * 64}/{'f' * 64}": 3,  # a sibling whose name starts the same
        f"runs/a/{'2' * 64}/{'f' * 64}": 4,
        f"runs/ab{'3' * 62}": 5,  # a file beside the prefix, named like it
        legacy_key(b"\0\0") + ".dir": 2,  # DVC 2's layout, at the top
        md5_key(b""): 0,
    }

    async def body(s: Store) -> list[dict[str, int]]:
        assert await listed(s) == {}
        for key, size in keys.items():
            await s.put(src(b"\0" * size), key)
        return [
            await listed(s),
            await listed(s, "runs/ab/"),
            await listed(s, "runs/"),
            await listed(s, "files/md5/"),
            await listed(s, "nothing/"),
        ]

    everything, ab, runs, files, nothing = store.run(body)
    assert everything == keys
    assert ab == {k: n for k, n in keys.items() if k.startswith("runs/ab/")}
    assert len(ab) == SMALL_PAGE + 2
    assert runs == {k: n for k, n in keys.items() if k.startswith("runs/")}
    assert files == {md5_key(b""): 0}
    assert nothing == {}


def test_delete_removes_keys_and_ignores_ones_already_gone(
    store: StoreUnderTest, src: Source, tmp_path: Path
) -> None:
    blobs = [f"doomed {i}\n".encode() for i in range(2 * SMALL_PAGE)]
    keys = [md5_key(d) for d in blobs]
    doomed = [*keys[1:], md5_key(b"never there"), keys[2]]

    async def body(s: Store) -> tuple[set[str], dict[str, int], int]:
        for data, key in zip(blobs, keys, strict=True):
            await s.put(src(data), key)
        await s.delete(doomed)
        await s.delete([])
        await s.delete(doomed)  # all gone already
        present, remaining = await s.exists(keys), await listed(s)
        with pytest.raises(ObjectNotFound):
            await s.get(keys[1], tmp_path / "deleted")
        # A deleted key can be written again (a push after another clone's gc).
        await s.put(src(blobs[1]), keys[1])
        return present, remaining, await s.get(keys[1], tmp_path / "again")

    present, remaining, size = store.run(body)
    assert present == {keys[0]}
    assert remaining == {keys[0]: len(blobs[0])}
    assert size == len(blobs[1]) and (tmp_path / "again").read_bytes() == blobs[1]
    assert not (tmp_path / "deleted").exists()


def test_a_reader_sees_a_whole_object_or_none_while_it_is_put(
    store: StoreUnderTest, src: Source, tmp_path: Path
) -> None:
    data = os.urandom(LARGE)
    key = md5_key(data)
    path = src(data)

    async def body(s: Store) -> tuple[set[int], int]:
        put = asyncio.ensure_future(s.put(path, key))
        seen: set[int] = set()
        looks = 0
        while not put.done() or looks == 0:
            looks += 1
            sizes = await listed(s, "files/")
            seen.add(sizes.get(key, 0))
            if key in await s.exists([key]):
                seen.add(len(data))
                assert sizes.get(key, len(data)) == len(data)
            await asyncio.sleep(0)
        await put
        return seen, await s.get(key, tmp_path / "got")

    seen, size = store.run(body)
    assert seen <= {0, len(data)}
    assert size == len(data) and (tmp_path / "got").read_bytes() == data


@pytest.mark.parametrize("size", [100, 300 * 1024, LARGE])
def test_an_upload_whose_bytes_are_not_what_its_name_says_leaves_nothing(
    store: StoreUnderTest, src: Source, size: int
) -> None:
    """With ``expect`` a cache object is hashed as it is read: bytes that
    rotted under an unchanged name never complete an upload, whichever path
    (in memory, streamed, in parts) the store sends them by."""
    data = os.urandom(size)
    named = hashlib.md5(data[:-1] + bytes([data[-1] ^ 1])).hexdigest()
    key = f"files/md5/{named[:2]}/{named[2:]}"

    async def body(s: Store) -> tuple[set[str], dict[str, int]]:
        with pytest.raises(CorruptObjectError):
            await s.put(src(data), key, expect=("md5", named))
        return await s.exists([key]), await listed(s)

    assert store.run(body) == (set(), {})


def test_an_upload_checked_against_its_name_or_consumed_is_stored_whole(
    store: StoreUnderTest, src: Source, tmp_path: Path
) -> None:
    data = [os.urandom(1000), os.urandom(LARGE)]

    async def body(s: Store) -> None:
        for i, blob in enumerate(data):
            oid = hashlib.md5(blob).hexdigest()
            await s.put(src(blob), md5_key(blob), expect=("md5", oid), consume=i == 0)
            await s.put(src(blob), f"bale/staged/{i}", consume=True)
            await s.get(md5_key(blob), tmp_path / f"checked{i}")
            await s.get(f"bale/staged/{i}", tmp_path / f"consumed{i}")

    store.run(body)
    for i, blob in enumerate(data):
        assert (tmp_path / f"checked{i}").read_bytes() == blob
        assert (tmp_path / f"consumed{i}").read_bytes() == blob


def test_a_cancelled_put_leaves_the_whole_object_or_nothing(
    store: StoreUnderTest, src: Source, tmp_path: Path
) -> None:
    data = os.urandom(LARGE)
    key = md5_key(data)

    async def cancelled(s: Store) -> None:
        started = asyncio.Event()
        put = asyncio.ensure_future(s.put(src(data), key, lambda n: started.set()))
        await asyncio.wait(
            [put, asyncio.ensure_future(started.wait())], return_when=asyncio.FIRST_COMPLETED
        )
        put.cancel()
        await asyncio.gather(put, return_exceptions=True)

    store.run(cancelled)
    # One look: a server may still publish a body it had whole when the
    # client gave up, so two looks may differ, each whole or nothing.
    remaining = store.run(listed)
    assert remaining in ({}, {key: len(data)})
    if remaining:
        store.run(lambda s: s.get(key, tmp_path / "got"))
        assert (tmp_path / "got").read_bytes() == data


def test_concurrent_writers_of_one_key_leave_one_whole_object(
    store: StoreUnderTest, src: Source, tmp_path: Path
) -> None:
    """Two clones pushing the same object at once both succeed; writers of
    different bytes under one unchecked key leave one of them, never a mix."""
    same = os.urandom(2 * MiB + 1)
    rivals = [bytes([i]) * (2 * MiB + i) for i in range(4)]
    shared, unchecked = md5_key(same), "runs/ab/" + "cd" * 32 + "/" + "ef" * 32

    async def body(s: Store) -> tuple[int, int]:
        writes = [s.put(src(same), shared) for _ in range(4)]
        writes += [s.put(src(data), unchecked) for data in rivals]
        await asyncio.gather(*writes)
        return (
            await s.get(shared, tmp_path / "shared"),
            await s.get(unchecked, tmp_path / "unchecked"),
        )

    sizes = store.run(body)
    assert (tmp_path / "shared").read_bytes() == same and sizes[0] == len(same)
    assert (tmp_path / "unchecked").read_bytes() in rivals
    assert sizes[1] == (tmp_path / "unchecked").stat().st_size
