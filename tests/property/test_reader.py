"""Property tests of ``bale.reader``: random reads (seeks from every origin,
reads of every length, ``readinto``) of md5 objects and chunked blake3 files
give exactly the bytes on disk, from the cache (also after ``gc --compact``
kept versions as chunks only) and from a folder remote. Plus the faults: a
corrupt object or chunk is an error before any of its bytes are handed
over, and a small read deep in a chunked file transfers about its size.

The repository is built once per module with the engine (``Workspace.build``
stores what ``bale add`` stores, ``Workspace.gc`` compacts as ``bale gc
--compact``, ``packed.push`` pushes as ``bale push``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import os
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bale import _core
from bale.exceptions import CorruptObjectError
from bale.progress import Bar
from bale.reader import ObjectStream, RemoteReader, open_cached, open_remote
from bale.remotes import packed
from bale.remotes.folder import FolderStore
from bale.remotes.store import Progress, Sink

# Small windows, so that a few MiB cross many windows and read-aheads.
WINDOW = 300 << 10
AHEAD = 2


@dataclass
class Tracked:
    """The repository of the module: every file's bytes by ``(algo, oid)``."""

    ws: _core.Workspace
    files: dict[tuple[str, str], bytes]
    compacted: list[str]  # blake3 versions held as chunks only
    remote: Path
    tmp: Path

    def fresh_ws(self, name: str) -> _core.Workspace:
        """An empty cache, for reads from the remote only."""
        root = self.tmp / name
        shutil.rmtree(root, ignore_errors=True)
        (root / "repo").mkdir(parents=True)
        return _core.Workspace(root / "repo", root / "cache")


def _versions(rng: random.Random) -> list[bytes]:
    """Three versions of a chunked file: an edit, then an insertion. The
    first holds a run of zeros, so some chunk appears twice in it."""
    v1 = bytearray(rng.randbytes(5 << 20))
    v1[1 << 20 : (1 << 20) + (700 << 10)] = bytes(700 << 10)
    v2 = bytearray(v1)
    v2[3 << 20 : (3 << 20) + 30_000] = rng.randbytes(30_000)
    v3 = v2[:100] + rng.randbytes(5000) + v2[100:]
    return [bytes(v1), bytes(v2), bytes(v3)]


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> Tracked:
    tmp = tmp_path_factory.mktemp("reader")
    root = tmp / "repo"
    root.mkdir()
    ws = _core.Workspace(root, tmp / "cache")
    rng = random.Random(22)
    contents = {
        ("blake3", "small"): rng.randbytes(300_000),
        ("blake3", "one-byte"): b"x",
        ("md5", "md5-big"): rng.randbytes(3 << 20),
        ("md5", "md5-small"): rng.randbytes(1000),
        ("md5", "empty"): b"",
        ("blake3", "empty-b3"): b"",
    }
    for i, v in enumerate(_versions(rng)):
        contents[("blake3", f"v{i + 1}")] = v
    files: dict[tuple[str, str], bytes] = {}
    names: dict[str, str] = {}
    for (algo, name), data in contents.items():
        path = root / name
        path.write_bytes(data)
        built = ws.build(path, algo, True)
        files[(algo, built.oid)] = data
        names[name] = built.oid
    # gc --compact with every version kept and v3 in the workspace: v1 and
    # v2 keep only their lists and the chunks v3 lacks.
    ws.gc(list(files), compact=True, whole=[("blake3", names["v3"])])
    compacted = [names["v1"], names["v2"]]
    for oid in compacted:
        assert not ws.object_path("blake3", oid).exists(), "compacted"
    remote = tmp / "remote"
    _push(ws, files, remote, tmp / "push")
    return Tracked(ws, files, compacted, remote, tmp)


def _push(
    ws: _core.Workspace, files: dict[tuple[str, str], bytes], remote: Path, tmp: Path
) -> None:
    """What ``bale push`` sends to a folder remote: md5 objects in DVC's
    layout, blake3 files in packs."""
    store = FolderStore("r", remote)
    paths = packed.PackedPaths(indexes=tmp / "indexes", staging=tmp / "staging")
    blake3 = [k for k in files if k[0] == "blake3"]

    async def main() -> None:
        await packed.push(store, ws, blake3, paths, 2, Bar("push", enabled=False), 1 << 20)
        for algo, oid in files:
            if algo == "md5":
                await store.put(ws.object_path(algo, oid), ws.object_key(algo, oid))

    asyncio.run(main())


# --------------------------------------------------------------------------
# Random reads

# (whence, offset as a fraction of the size, plus bytes) then a read length;
# length -1 reads to the end, None uses readinto, ("line", n) readline(n).
OPS = st.lists(
    st.tuples(
        st.sampled_from([io.SEEK_SET, io.SEEK_CUR, io.SEEK_END]),
        st.floats(min_value=-1.0, max_value=1.1),
        st.integers(min_value=-3, max_value=3),
        st.one_of(
            st.integers(min_value=0, max_value=3 << 20),
            st.integers(min_value=0, max_value=70_000),
            st.just(-1),
            st.none(),
            st.tuples(st.just("line"), st.integers(min_value=-1, max_value=200_000)),
        ),
    ),
    min_size=1,
    max_size=8,
)


def _check_reads(stream: ObjectStream, data: bytes, ops: list[Any]) -> None:
    """Replays ``ops`` on ``stream`` and on a plain BytesIO of ``data``."""
    model = io.BytesIO(data)
    assert stream.size == len(data)
    with stream:
        for whence, fraction, delta, length in ops:
            base = {io.SEEK_SET: 0, io.SEEK_CUR: model.tell(), io.SEEK_END: len(data)}[whence]
            offset = int(fraction * len(data)) + delta
            if base + offset < 0:
                with pytest.raises(ValueError):
                    stream.seek(offset, whence)
                continue
            assert stream.seek(offset, whence) == model.seek(offset, whence)
            if isinstance(length, tuple):
                assert stream.readline(length[1]) == model.readline(length[1])
            elif length is None:
                buf = bytearray(50_000)
                n = stream.readinto(buf)
                assert buf[:n] == model.read(n)
                assert n == min(len(buf), max(0, len(data) - base - offset))
            else:
                assert stream.read(length) == model.read(length)
            assert stream.tell() == model.tell()
    assert stream.closed


PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _keys(tracked: Tracked) -> list[tuple[str, str]]:
    return sorted(tracked.files)


@PROPERTY
@given(which=st.integers(min_value=0), ops=OPS)
def test_random_reads_of_the_cache_match_the_bytes(
    tracked: Tracked, which: int, ops: list[Any]
) -> None:
    algo, oid = _keys(tracked)[which % len(tracked.files)]
    stream = open_cached(tracked.ws, algo, oid, window=WINDOW, ahead=AHEAD)
    assert stream is not None
    _check_reads(stream, tracked.files[(algo, oid)], ops)


@pytest.fixture(scope="module")
def remote_reader(tracked: Tracked) -> Iterator[RemoteReader]:
    ws = tracked.fresh_ws("remote-reads")
    with RemoteReader(
        FolderStore("r", tracked.remote),
        ws,
        tracked.tmp / "remote-reads" / "indexes",
        window=WINDOW,
        ahead=AHEAD,
    ) as reader:
        yield reader


@PROPERTY
@given(which=st.integers(min_value=0), ops=OPS)
def test_random_reads_of_a_folder_remote_match_the_bytes(
    tracked: Tracked, remote_reader: RemoteReader, which: int, ops: list[Any]
) -> None:
    algo, oid = _keys(tracked)[which % len(tracked.files)]
    data = tracked.files[(algo, oid)]
    _check_reads(remote_reader.open(algo, oid, len(data)), data, ops)


def test_a_compacted_version_reads_whole_from_the_cache(tracked: Tracked) -> None:
    for oid in tracked.compacted:
        stream = open_cached(tracked.ws, "blake3", oid)
        assert stream is not None
        with stream:
            assert stream.read() == tracked.files[("blake3", oid)]


def test_an_object_the_cache_lacks_opens_as_none(tracked: Tracked) -> None:
    assert open_cached(tracked.ws, "md5", "0" * 32) is None
    assert open_cached(tracked.ws, "blake3", "0" * 64) is None


# --------------------------------------------------------------------------
# What moves, and faults


class CountingStore:
    """A folder store that counts the bytes its ``get`` moves."""

    def __init__(self, root: Path) -> None:
        self._store = FolderStore("r", root)
        self.name = "r"
        self.moved = 0

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._store, attr)

    async def get(
        self,
        key: str,
        dest: Path | Sink,
        progress: Progress | None = None,
        byte_range: tuple[int, int] | None = None,
    ) -> int:
        n = await self._store.get(key, dest, progress, byte_range)
        self.moved += n
        return n


def _largest_chunked(tracked: Tracked) -> tuple[str, bytes]:
    algo, oid = max(
        (k for k in tracked.files if k[0] == "blake3"), key=lambda k: len(tracked.files[k])
    )
    return oid, tracked.files[(algo, oid)]


def test_a_small_read_deep_in_a_chunked_file_moves_about_its_size(tracked: Tracked) -> None:
    oid, data = _largest_chunked(tracked)
    store = CountingStore(tracked.remote)
    ws = tracked.fresh_ws("counted")
    reader = RemoteReader(store, ws, tracked.tmp / "counted" / "indexes")  # type: ignore[arg-type]
    with reader, reader.open("blake3", oid) as stream:
        opened = store.moved  # the indexes, the list and its segments
        stream.seek(len(data) - (1 << 20) - 12_345)
        assert stream.read(1 << 20) == data[len(data) - (1 << 20) - 12_345 :][: 1 << 20]
    moved = store.moved - opened
    # The range plus at most one chunk (256 KiB) beyond each end.
    assert 1 << 20 <= moved <= (1 << 20) + (512 << 10), moved
    assert opened < 100_000, opened


def _writable(path: Path) -> None:
    path.chmod(0o644)


def test_a_corrupt_chunk_on_the_remote_fails_before_its_bytes_are_handed_over(
    tracked: Tracked, tmp_path: Path
) -> None:
    oid, data = _largest_chunked(tracked)
    remote = tmp_path / "remote"
    shutil.copytree(tracked.remote, remote)
    # Find chunk 40 of the file through the engine, and flip a byte of it.
    indexes = tmp_path / "indexes"
    shutil.copytree(tracked.tmp / "push" / "indexes", indexes)
    found = _core.RemoteIndexes(indexes)
    located = found.locate(oid)
    assert located is not None and located[0] == "list"
    _, key, start, end = located
    listed = (remote / key).read_bytes()[start:end]
    chunks = found.open_chunks(oid, listed, "r")
    parts = chunks.missing(0, chunks.size)
    segments = [(remote / k).read_bytes()[s:e] for k, s, e in chunks.segment_reads(parts)]
    chunks.add_segments(parts, segments)
    [(pack, at, _end)] = chunks.reads(40, 41)
    _writable(remote / pack)
    with open(remote / pack, "r+b") as f:
        f.seek(at + 100)
        byte = f.read(1)
        f.seek(at + 100)
        f.write(bytes([byte[0] ^ 1]))

    ws = tracked.fresh_ws("corrupt-chunk")
    reader = RemoteReader(FolderStore("r", remote), ws, tmp_path / "copies")
    with reader, reader.open("blake3", oid) as stream:
        assert stream.read(chunks.offset(40)) == data[: chunks.offset(40)]
        with pytest.raises(CorruptObjectError) as e:
            stream.read(10)
        assert "remote 'r'" in str(e.value) and f"chunk 40 of {oid}" in str(e.value)
        assert stream.tell() == chunks.offset(40), "no byte of the chunk was handed over"
        # Past it, the file reads on.
        stream.seek(chunks.offset(41))
        assert stream.read(1000) == data[chunks.offset(41) :][:1000]


@pytest.mark.parametrize("algo", ["md5", "blake3"])
def test_a_corrupt_whole_object_on_the_remote_fails_at_open(
    tracked: Tracked, tmp_path: Path, algo: str
) -> None:
    """A whole object (md5, or a blake3 file too small to chunk) lands in
    the cache only if it hashes to its id: no byte of a bad one is read."""
    oid = next(
        o for (a, o), d in sorted(tracked.files.items()) if a == algo and 1000 <= len(d) < 4 << 20
    )
    remote = tmp_path / "remote"
    shutil.copytree(tracked.remote, remote)
    indexes = tmp_path / "indexes"
    shutil.copytree(tracked.tmp / "push" / "indexes", indexes)
    if algo == "md5":
        key, at = tracked.ws.object_key(algo, oid), 10
    else:
        located = _core.RemoteIndexes(indexes).locate(oid)
        assert located is not None and located[0] == "whole"
        key, at = located[1], located[2] + 10
    _writable(remote / key)
    with open(remote / key, "r+b") as f:
        f.seek(at)
        byte = f.read(1)
        f.seek(at)
        f.write(bytes([byte[0] ^ 1]))
    ws = tracked.fresh_ws(f"corrupt-{algo}")
    with RemoteReader(FolderStore("r", remote), ws, indexes, refresh=False) as reader:
        with pytest.raises(CorruptObjectError) as e:
            reader.open(algo, oid)
        assert "remote 'r'" in str(e.value) and key in str(e.value)
    assert not ws.exists(algo, oid), "nothing published"


def test_a_corrupt_chunk_in_the_cache_fails_the_read_that_needs_it(
    tracked: Tracked, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(tracked.ws.cache_dir, cache)
    ws = _core.Workspace(tmp_path, cache)
    oid = tracked.compacted[0]
    data = tracked.files[("blake3", oid)]
    chunks = ws.cached_chunks(oid)
    assert chunks is not None
    # Spoil a chunk that is loose (not a slice of the whole v3).
    loose = [
        p
        for p in (cache / "bale" / "blake3").rglob("*")
        if p.is_file() and "." not in p.name and p.stat().st_size <= 256 << 10
    ]
    assert loose
    by_bytes = {p.read_bytes(): p for p in loose}
    for i in range(chunks.count):
        start, end = chunks.offset(i), chunks.offset(i + 1)
        victim = by_bytes.get(data[start:end])
        if victim is not None:
            break
    else:
        raise AssertionError("a compacted version has loose chunks")
    _writable(victim)
    victim.write_bytes(bytes([data[start] ^ 1]) + data[start + 1 : end])
    with open_cached(ws, "blake3", oid) as stream:  # type: ignore[union-attr]
        assert stream.read(start) == data[:start]
        with pytest.raises(CorruptObjectError) as e:
            stream.read(1)
        assert f"chunk {i}" in str(e.value)
        assert stream.tell() == start
    assert os.path.exists(victim)


def _spoil_cached_md5(tracked: Tracked, tmp_path: Path) -> tuple[_core.Workspace, str, Path]:
    """A copy of the cache whose large md5 object has one byte flipped."""
    cache = tmp_path / "cache"
    shutil.copytree(tracked.ws.cache_dir, cache)
    (tmp_path / "repo").mkdir()
    ws = _core.Workspace(tmp_path / "repo", cache)
    oid = next(o for (a, o), d in sorted(tracked.files.items()) if a == "md5" and len(d) > 1 << 20)
    path = ws.object_path("md5", oid)
    _writable(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(data)
    return ws, oid, path


def test_a_corrupt_whole_object_in_the_cache_fails_at_open(
    tracked: Tracked, tmp_path: Path
) -> None:
    ws, oid, path = _spoil_cached_md5(tracked, tmp_path)
    with pytest.raises(CorruptObjectError) as e:
        open_cached(ws, "md5", oid)
    assert str(path) in str(e.value)


def test_a_remote_read_does_not_trust_a_corrupt_copy_in_the_cache(
    tracked: Tracked, tmp_path: Path
) -> None:
    """The remote's good copy would not replace the cache's (objects are
    written once), so the reader must not take the cache's on its word."""
    ws, oid, path = _spoil_cached_md5(tracked, tmp_path)
    reader = RemoteReader(FolderStore("r", tracked.remote), ws)
    with reader, pytest.raises(CorruptObjectError) as e:
        reader.open("md5", oid)
    assert str(path) in str(e.value)


def test_a_stream_is_a_file_for_text_and_line_readers(tracked: Tracked, tmp_path: Path) -> None:
    """``io.TextIOWrapper`` (what ``bale.api.open(mode="r")`` hands out) and
    line iteration work on a stream of a remote object, and ``open_remote``
    closes its store with the stream."""
    text = "".join(f"row {i},{i * i}\n" for i in range(300_000)).encode()
    root = tmp_path / "repo"
    root.mkdir()
    (root / "t.csv").write_bytes(text)
    ws = _core.Workspace(root, tmp_path / "cache")
    oid = ws.build(root / "t.csv", "blake3", True).oid
    remote = tmp_path / "remote"
    _push(ws, {("blake3", oid): text}, remote, tmp_path / "push")
    (tmp_path / "fresh").mkdir()
    fresh = _core.Workspace(tmp_path / "fresh", tmp_path / "fresh-cache")
    store = FolderStore("r", remote)
    stream = open_remote(store, fresh, "blake3", oid, len(text), tmp_path / "indexes")
    with io.TextIOWrapper(stream, encoding="utf-8") as f:
        lines = list(f)
    assert len(lines) == 300_000 and lines[12345] == "row 12345,152399025\n"
    assert stream.closed
    located = _core.RemoteIndexes(tmp_path / "indexes").locate(oid)
    assert located is not None and located[0] == "list", "read as a chunked file"


def test_lines_of_a_binary_stream_are_read_from_a_buffer(tracked: Tracked) -> None:
    """``for line in stream`` and ``peek`` on a chunked file: the lines are
    the file's, and the source is asked for a buffer at a time, not a byte."""
    oid, data = _largest_chunked(tracked)
    stream = open_cached(tracked.ws, "blake3", oid)
    assert stream is not None
    calls = 0
    read_at = stream._source.read_at

    def counted(pos: int, n: int) -> bytes:
        nonlocal calls
        calls += 1
        return read_at(pos, n)

    stream._source.read_at = counted  # type: ignore[method-assign]
    with stream:
        assert stream.peek()[:10] == data[:10] and stream.tell() == 0
        assert list(stream) == io.BytesIO(data).readlines()
    assert calls <= len(data) // (32 << 10), calls


def test_a_stream_whose_reader_closed_fails_instead_of_hanging(tracked: Tracked) -> None:
    oid, data = _largest_chunked(tracked)
    ws = tracked.fresh_ws("closed")
    reader = RemoteReader(
        FolderStore("r", tracked.remote), ws, tracked.tmp / "closed" / "indexes", window=WINDOW
    )
    stream = reader.open("blake3", oid)
    assert stream.read(1000) == data[:1000]
    assert stream.read(1000) == data[1000:2000]  # sequential: windows now in flight
    reader.close()
    with pytest.raises((ValueError, concurrent.futures.CancelledError)):
        stream.read()
    stream.close()


def test_a_long_list_is_read_by_the_segments_a_read_needs(tmp_path: Path) -> None:
    """A 40 MiB file's list has several segments (DESIGN.md §13.6): a 1 MiB
    read deep inside loads the one or two that cover it, not the whole list,
    and a sequential read loads them all on its way, each read once."""
    data = random.Random(5).randbytes(40 << 20)
    root = tmp_path / "repo"
    root.mkdir()
    (root / "big").write_bytes(data)
    ws = _core.Workspace(root, tmp_path / "cache")
    oid = ws.build(root / "big", "blake3", True).oid
    remote = tmp_path / "remote"
    _push(ws, {("blake3", oid): data}, remote, tmp_path / "push")
    (tmp_path / "fresh").mkdir()
    fresh = _core.Workspace(tmp_path / "fresh", tmp_path / "fresh-cache")
    store = CountingStore(remote)
    reader = RemoteReader(store, fresh, tmp_path / "indexes")  # type: ignore[arg-type]
    with reader, reader.open("blake3", oid) as stream:
        opened = store.moved
        copies = sum(p.stat().st_size for p in (tmp_path / "indexes").iterdir())
        assert opened - copies < 1000, "at open: the index copies and the top list only"
        at = 29 << 20
        stream.seek(at)
        assert stream.read(1 << 20) == data[at : at + (1 << 20)]
        moved = store.moved - opened
        # The range, at most a chunk beyond each end, and its segments.
        assert 1 << 20 <= moved <= (1 << 20) + (512 << 10) + (40 << 10), moved
        stream.seek(0)
        assert stream.read() == data
    sequential = store.moved - opened - moved
    assert len(data) <= sequential < len(data) + 100_000, "every segment and chunk once"


def test_a_whole_object_with_a_damaged_list_is_read_whole(tracked: Tracked, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(tracked.ws.cache_dir, cache)
    (tmp_path / "repo").mkdir()
    ws = _core.Workspace(tmp_path / "repo", cache)
    oid, data = _largest_chunked(tracked)  # v3, kept whole by gc
    listed = Path(f"{ws.object_path('blake3', oid)}.chunks")
    _writable(listed)
    damaged = bytearray(listed.read_bytes())
    damaged[80] ^= 1
    listed.write_bytes(damaged)
    with pytest.raises(CorruptObjectError):
        ws.cached_chunks(oid)
    stream = open_cached(ws, "blake3", oid)
    assert stream is not None
    with stream:
        assert stream.read() == data
