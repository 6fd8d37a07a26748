"""Chunked files (DESIGN.md §13): an edit to a large bale-native file costs
the chunks around it, on every kind of remote and in the local cache."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import Run, make_repo

from .conftest import FolderRemote, RemoteUnderTest

MIB = 1 << 20


@pytest.fixture
def remote(layout_remote: RemoteUnderTest) -> RemoteUnderTest:
    """These suites test bale's layouts above the Store protocol: they run
    on the three kinds of ``LAYOUT_KINDS`` (every kind passes the Store suite)."""
    return layout_remote


def _random(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def _push(run: Run, cwd: Path | None = None) -> dict[str, int]:
    out: dict[str, int] = json.loads(run("bale", "push", "--json", cwd=cwd).stdout)
    return out


def _remote_bytes(remote: RemoteUnderTest) -> int:
    return sum(len(remote.read(k)) for k in remote.listing())


def _clone(repo: Path, tmp_path: Path, name: str = "clone") -> Path:
    clone = tmp_path / name
    shutil.copytree(repo, clone, ignore=shutil.ignore_patterns("cache", "tmp", "*.bin"))
    return clone


@pytest.fixture
def native_repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path, "--hash", "blake3")


def test_an_edit_uploads_the_chunks_around_it_and_a_pull_rebuilds_the_file(
    native_repo: Path, run: Run, remote: RemoteUnderTest, tmp_path: Path
) -> None:
    big = native_repo / "big.bin"
    big.write_bytes(_random(12 * MIB, 1))
    run("bale", "add", "big.bin")
    remote.configure(native_repo, run)
    first = _push(run)
    assert first["bytes"] > 12 * MIB
    assert first["copied"] == 1, "the file is counted once, not once per chunk"
    before = _remote_bytes(remote)

    data = bytearray(big.read_bytes())
    data[6 * MIB : 7 * MIB] = _random(MIB, 2)
    big.write_bytes(bytes(data))
    run("bale", "add", "big.bin")
    edit = _push(run)
    grown = _remote_bytes(remote) - before
    assert edit["bytes"] <= grown  # packs; their indexes come on top
    assert MIB < grown < 2 * MIB, grown

    big.write_bytes(b"!" + bytes(data))
    run("bale", "add", "big.bin")
    before = _remote_bytes(remote)
    _push(run)
    assert _remote_bytes(remote) - before < 300 << 10, "one re-cut chunk and the list"

    clone = _clone(native_repo, tmp_path)
    pulled = json.loads(run("bale", "pull", "--json", cwd=clone).stdout)
    assert pulled["copied"] == 1, "the file is counted once, not once per chunk"
    assert (clone / "big.bin").read_bytes() == b"!" + bytes(data)
    assert json.loads(run("bale", "status", "-c", "--json", cwd=clone).stdout) == {}
    staged = clone / ".dvc" / "tmp" / "bale" / "staging"
    assert not staged.exists() or not any(staged.iterdir()), "fetched chunks are not left behind"


def test_a_corrupt_chunk_on_the_remote_is_reported_and_never_written_into_a_file(
    native_repo: Path, run: Run, remote: RemoteUnderTest, tmp_path: Path
) -> None:
    payload = _random(6 * MIB, 3)
    (native_repo / "big.bin").write_bytes(payload)
    run("bale", "add", "big.bin")
    remote.configure(native_repo, run)
    _push(run)
    pack = max(
        (k for k in remote.listing() if k.endswith(".pack")), key=lambda k: len(remote.read(k))
    )
    data = bytearray(remote.read(pack))
    data[3 * MIB] ^= 0xFF
    remote.write(pack, bytes(data))

    clone = _clone(native_repo, tmp_path)
    err = run("bale", "pull", cwd=clone, ok=False).stderr
    assert err.startswith("ERROR: ") and "corrupt" in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (clone / "big.bin").exists()
    objects = clone / ".dvc" / "cache" / "bale" / "blake3"
    assert not any(p.is_file() and p.stat().st_size >= MIB for p in objects.rglob("*"))


def test_edits_are_stored_as_chunks_and_older_versions_compact_and_check_out_verified(
    native_repo: Path, run: Run
) -> None:
    run("bale", "config", "cache.type", "copy")
    big = native_repo / "big.bin"
    versions = [_random(16 * MIB, 4)]
    for i in range(1, 5):
        v = bytearray(versions[-1])
        v[i * 3 * MIB : i * 3 * MIB + MIB] = _random(MIB, 10 + i)
        versions.append(bytes(v))
    for i, v in enumerate(versions):
        big.write_bytes(v)
        run("bale", "add", "big.bin")
        run("git", "add", "-A")
        run("git", "commit", "-qm", f"v{i}")
    cache = native_repo / ".dvc" / "cache"

    def cached() -> int:
        return sum(p.stat().st_size for p in cache.rglob("*") if p.is_file())

    # The workspace keeps its own copy (cache.type reflink,copy on a file
    # system without reflinks): each edit is stored as the chunks around it.
    assert cached() < 16 * MIB + 5 * MIB, cached()
    assert len(list(cache.rglob("*.chunks"))) == 5
    # Nothing to check out: the version held as chunks is not rebuilt.
    run("bale", "checkout")
    assert cached() < 16 * MIB + 5 * MIB, cached()
    # Only the first version is whole, and the others read their chunks
    # from it: compacting it would free nothing, so it stays.
    out = json.loads(run("bale", "gc", "-A", "--compact", "-f", "--json").stdout)
    assert out["compacted"] == 0 and out["removed"] == 0
    assert cached() < 16 * MIB + 5 * MIB, cached()
    assert run("bale", "status").stdout.strip() == "Data and pipelines are up to date."

    run("git", "checkout", "-q", "HEAD~3", "--", "big.bin.dvc")
    before = cached()
    run("bale", "checkout")
    assert big.read_bytes() == versions[1]
    # The workspace gets a copy anyway: v1 was rebuilt straight into it,
    # verified, and the cache holds it as chunks still.
    assert cached() == before
    assert run("bale", "status").stdout.strip() == "Data and pipelines are up to date."
    run("bale", "gc", "-A", "--compact", "-f")
    run("git", "checkout", "-q", "HEAD", "--", "big.bin.dvc")
    run("bale", "checkout")
    assert big.read_bytes() == versions[-1]
    run("bale", "gc", "-w", "-f")
    assert cached() < 16 * MIB + MIB
    assert [p.name for p in cache.rglob("*.chunks")] != []
    # Block maps (DESIGN.md 13.7) go with the versions gc drops.
    assert len(list((cache / "bale" / "blocks").iterdir())) == 1


def test_a_version_held_as_chunks_is_rebuilt_into_the_cache_for_a_linked_checkout(
    native_repo: Path, run: Run
) -> None:
    run("bale", "config", "cache.type", "copy")
    big = native_repo / "big.bin"
    data = bytearray(_random(8 * MIB, 50))
    big.write_bytes(bytes(data))
    run("bale", "add", "big.bin")
    data[MIB : MIB + 100] = _random(100, 51)
    big.write_bytes(bytes(data))
    run("bale", "add", "big.bin")
    objects = native_repo / ".dvc" / "cache" / "bale" / "blake3"

    def whole() -> int:
        return sum(1 for p in objects.rglob("*") if p.is_file() and p.stat().st_size >= 4 * MIB)

    assert whole() == 1, "the edit is held as chunks"
    run("bale", "config", "cache.type", "hardlink")
    big.unlink()
    run("bale", "checkout")
    assert big.read_bytes() == bytes(data)
    assert whole() == 2 and big.stat().st_nlink == 2, "rebuilt into the cache, then linked"


def test_an_edit_inside_a_tracked_directory_is_stored_as_its_chunks(
    native_repo: Path, run: Run
) -> None:
    run("bale", "config", "cache.type", "copy")
    data = native_repo / "data"
    data.mkdir()
    (data / "small.txt").write_text("small")
    big = bytearray(_random(12 * MIB, 40))
    (data / "big.bin").write_bytes(bytes(big))
    run("bale", "add", "data")
    cache = native_repo / ".dvc" / "cache"

    def cached() -> int:
        return sum(p.stat().st_size for p in cache.rglob("*") if p.is_file())

    before = cached()
    big[5 * MIB : 5 * MIB + 1000] = _random(1000, 41)
    (data / "big.bin").write_bytes(bytes(big))
    # A status hashes the edited file first: the previous version still comes
    # from the directory's recorded manifest.
    assert "modified" in run("bale", "status").stdout
    run("bale", "add", "data")
    assert cached() - before < 2 * MIB, cached() - before
    shutil.rmtree(data)
    run("bale", "checkout")
    assert (data / "big.bin").read_bytes() == bytes(big)
    assert (data / "small.txt").read_text() == "small"

    # The same through an add of the file alone (dvc's granular add).
    before = cached()
    big[9 * MIB : 9 * MIB + 1000] = _random(1000, 42)
    (data / "big.bin").write_bytes(bytes(big))
    run("bale", "add", "data/big.bin")
    assert cached() - before < 2 * MIB, cached() - before
    shutil.rmtree(data)
    run("bale", "checkout")
    assert (data / "big.bin").read_bytes() == bytes(big)


def test_a_corrupt_loose_chunk_stops_checkout_and_keeps_the_workspace(
    native_repo: Path, run: Run
) -> None:
    big = native_repo / "big.bin"
    v0 = _random(6 * MIB, 5)
    big.write_bytes(v0)
    run("bale", "add", "big.bin")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "v0")
    big.write_bytes(_random(6 * MIB, 6))
    run("bale", "add", "big.bin")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "v1")
    run("bale", "gc", "-A", "--compact", "-f")
    loose = [
        p
        for p in (native_repo / ".dvc" / "cache" / "bale" / "blake3").rglob("*")
        if p.is_file() and not p.name.endswith(".chunks") and p.stat().st_size < MIB
    ]
    assert loose
    victim = loose[0]
    victim.chmod(0o644)
    data = bytearray(victim.read_bytes())
    data[0] ^= 1
    victim.write_bytes(bytes(data))
    current = big.read_bytes()
    run("git", "checkout", "-q", "HEAD~1", "--", "big.bin.dvc")
    err = run("bale", "checkout", ok=False).stderr
    assert "corrupt" in err and "chunk" in err, err
    assert big.read_bytes() == current


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    edits=st.lists(
        st.tuples(
            st.sampled_from(["overwrite", "insert", "delete", "append"]),
            st.floats(0, 1),
            st.integers(1, 300_000),
        ),
        min_size=1,
        max_size=4,
    ),
    seed=st.integers(0, 1000),
)
def test_random_edits_round_trip_through_a_remote(
    tmp_path_factory: pytest.TempPathFactory,
    run: Run,
    edits: list[tuple[str, float, int]],
    seed: int,
) -> None:
    base = tmp_path_factory.mktemp("edits")
    repo = make_repo(base, "--hash", "blake3")
    remote = FolderRemote(base / "remote")
    remote.configure(repo, run)
    data = bytearray(_random(5 * MIB, seed))
    (repo / "big.bin").write_bytes(data)
    run("bale", "add", "big.bin", cwd=repo)
    _push(run, repo)
    for i, (kind, where, n) in enumerate(edits):
        at = int(where * len(data))
        fresh = _random(n, seed + i + 1)
        if kind == "overwrite":
            data[at : at + n] = fresh[: len(data) - at]
        elif kind == "insert":
            data[at:at] = fresh
        elif kind == "delete":
            del data[at : at + n]
        else:
            data += fresh
    (repo / "big.bin").write_bytes(data)
    run("bale", "add", "big.bin", cwd=repo)
    _push(run, repo)
    clone = _clone(repo, base)
    run("bale", "pull", cwd=clone)
    assert (clone / "big.bin").read_bytes() == bytes(data)


def test_a_file_repeating_its_chunks_pulls_back_whole(
    native_repo: Path, run: Run, tmp_path: Path
) -> None:
    """Chunks used at several offsets of one file, and runs of zeros cut into
    identical chunks, placed across the fetch's 8 MiB windows."""
    block = _random(MIB + 12345, 7)
    data = block * 9 + bytes(3 * MIB) + _random(2 * MIB, 8) + block * 3 + bytes(700_000)
    (native_repo / "big.bin").write_bytes(data)
    run("bale", "add", "big.bin")
    remote = FolderRemote(tmp_path / "remote")
    remote.configure(native_repo, run)
    _push(run)
    clone = _clone(native_repo, tmp_path)
    pulled = json.loads(run("bale", "pull", "--json", cwd=clone).stdout)
    assert pulled["copied"] == 1
    assert pulled["bytes"] < len(data) // 2, "each repeated chunk is fetched once"
    assert (clone / "big.bin").read_bytes() == data


def test_du_shows_versions_stored_once_locally_and_on_the_remote(
    native_repo: Path, run: Run, remote: RemoteUnderTest
) -> None:
    big = native_repo / "big.bin"
    data = bytearray(_random(8 * MIB, 7))
    remote.configure(native_repo, run)
    for i in range(3):
        data[i * 2 * MIB : i * 2 * MIB + 1000] = _random(1000, 20 + i)
        big.write_bytes(bytes(data))
        run("bale", "add", "big.bin")
        run("git", "add", "-A")
        run("git", "commit", "-qm", f"v{i}")
        _push(run)
    run("bale", "gc", "-A", "--compact", "-f")
    out = json.loads(run("bale", "du", "-A", "-c", "--json").stdout)
    assert out["outputs"] == 3 and out["logical"] == 3 * 8 * MIB
    assert 8 * MIB < out["local"] < 9 * MIB, out
    assert out["local_ratio"] > 2.5
    assert out["remote"]["name"] == remote.name
    assert 8 * MIB < out["remote"]["bytes"] < 9 * MIB, out
    text = run("bale", "du").stdout
    assert "logical" in text and "1 output" in text


def test_a_killed_transfer_leaves_no_staging_behind_the_next_one(
    native_repo: Path, run: Run, tmp_path: Path
) -> None:
    import subprocess
    import sys

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    staging = native_repo / ".dvc" / "tmp" / "bale" / "staging"
    left = staging / dead.stdout.strip() / "chunks"
    left.mkdir(parents=True)
    (left / "range").write_bytes(b"x" * 1000)
    (native_repo / "big.bin").write_bytes(_random(5 * MIB, 8))
    run("bale", "add", "big.bin")
    FolderRemote(tmp_path / "remote").configure(native_repo, run)
    _push(run)
    assert not (staging / dead.stdout.strip()).exists()


def _versions(repo: Path, run: Run, n: int, size: int, seed: int) -> list[bytes]:
    """Commits ``n`` versions of big.bin, each a 1 MiB overwrite of the last."""
    data = bytearray(_random(size, seed))
    out = []
    for i in range(n):
        if i:
            at = (i * 3 * MIB) % (size - MIB)
            data[at : at + MIB] = _random(MIB, seed + i)
        (repo / "big.bin").write_bytes(bytes(data))
        run("bale", "add", "big.bin", cwd=repo)
        run("git", "add", "-A", cwd=repo)
        run("git", "commit", "-qm", f"v{i}", cwd=repo)
        out.append(bytes(data))
    return out


def test_compacted_versions_push_from_slices_and_pull_back(
    native_repo: Path, run: Run, tmp_path: Path
) -> None:
    versions = _versions(native_repo, run, 3, 8 * MIB, 30)
    run("bale", "gc", "-A", "--compact", "-f")
    FolderRemote(tmp_path / "remote").configure(native_repo, run)
    pushed = _push_all(run, native_repo)
    assert pushed["copied"]
    clone = _clone(native_repo, tmp_path)
    run("git", "checkout", "-q", "HEAD~2", "--", "big.bin.dvc", cwd=clone)
    run("bale", "pull", cwd=clone)
    assert (clone / "big.bin").read_bytes() == versions[0]


def test_remote_gc_keeps_every_chunk_a_kept_version_needs(
    native_repo: Path, run: Run, tmp_path: Path
) -> None:
    versions = _versions(native_repo, run, 3, 8 * MIB, 40)
    remote = FolderRemote(tmp_path / "remote")
    remote.configure(native_repo, run)
    _push_all(run, native_repo)
    # A clone that only ever fetched the newest version does not know which
    # chunks the older ones use: its gc -A -c must keep them all.
    partial = _clone(native_repo, tmp_path, "partial")
    run("bale", "pull", cwd=partial)
    run("bale", "gc", "-A", "-c", "-f", cwd=partial)
    # Keeping only the newest version from the full repository frees
    # nothing still needed by it.
    run("bale", "gc", "-w", "-c", "-f")
    clone = _clone(native_repo, tmp_path, "check")
    run("bale", "pull", cwd=clone)
    assert (clone / "big.bin").read_bytes() == versions[2]
    old = _clone(partial, tmp_path, "old")
    run("git", "checkout", "-q", "HEAD~2", "--", "big.bin.dvc", cwd=old)
    # The oldest version went whole, its list with its chunks (a list left
    # behind would claim chunks that are gone): a pull says it is on no
    # remote, never "up to date".
    result = run("bale", "pull", cwd=old, ok=False)
    assert "on no remote" in result.stderr, result.stderr


def _push_all(run: Run, repo: Path) -> dict[str, object]:
    out: dict[str, object] = json.loads(run("bale", "push", "-A", "--json", cwd=repo).stdout)
    return out


def test_an_unreadable_list_on_the_remote_means_the_file_is_not_there(
    native_repo: Path, run: Run, tmp_path: Path
) -> None:
    (native_repo / "big.bin").write_bytes(_random(5 * MIB, 9))
    run("bale", "add", "big.bin")
    remote = FolderRemote(tmp_path / "remote")
    remote.configure(native_repo, run)
    _push(run)
    # The final pack holds the top list alone: damage it (as another list
    # version would look to this bale).
    final = min(
        (k for k in remote.listing() if k.endswith(".pack")), key=lambda k: len(remote.read(k))
    )
    data = bytearray(remote.read(final))
    data[8 + 20] ^= 0xFF
    remote.write(final, bytes(data))
    clone = _clone(native_repo, tmp_path)
    result = run("bale", "pull", cwd=clone, ok=False)
    assert "big.bin" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (clone / "big.bin").exists()
