"""Reading git objects through one long-lived ``cat-file --batch``: the same
answers as fresh git processes, and never a stale one."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bale import scm

ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def _git(root: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", *args], cwd=root, env={**os.environ, **ENV}, capture_output=True, check=True
    )
    return out.stdout.decode()


def _repo(root: Path, files: dict[str, str]) -> str:
    root.mkdir(parents=True, exist_ok=True)
    _git(root, "init", "-q")
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "c")
    return _git(root, "rev-parse", "HEAD").strip()


def _ls_tree(root: Path, rev: str) -> list[tuple[str, str]]:
    found = []
    for line in _git(root, "ls-tree", "-r", "-z", "--full-tree", rev).split("\0"):
        meta, _tab, name = line.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == "blob":
            found.append((name, parts[2]))
    return found


def test_a_listing_equals_ls_tree_with_symlinks_odd_names_and_a_submodule(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    files = {"a.txt": "a", "d/e/f.yaml": "f", "d/g h.json": "g", "é/ü.csv": "u", "z": "z"}
    _repo(root, files)
    (root / "link").symlink_to("a.txt")
    _repo(tmp_path / "sub", {"s": "s"})
    _git(root, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(tmp_path / "sub"))
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "more")
    head = _git(root, "rev-parse", "HEAD").strip()
    for rev in (head, "HEAD", "HEAD~1"):
        assert sorted(scm.files_at(root, rev, "")) == sorted(_ls_tree(root, rev)), rev
    names = [name for name, _b in scm.files_at(root, head, "")]
    assert "link" in names and "sub" not in names  # a symlink is a blob, a submodule is not


def test_blobs_and_missing_paths_read_as_a_fresh_cat_file_reads_them(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    head = _repo(root, {"a.txt": "one\n", "d/b.txt": "two\n"})
    got = scm.read_paths_at(root, [(head, "a.txt"), (head, "d/b.txt"), (head, "nope"), (head, "d")])
    assert got == {
        (head, "a.txt"): b"one\n",
        (head, "d/b.txt"): b"two\n",
        (head, "nope"): None,
        (head, "d"): None,  # a tree is no file
    }
    many = [(head, "a.txt")] * 3 + [(head, f"missing-{i}") for i in range(2000)]
    assert scm.read_paths_at(root, many)[(head, "a.txt")] == b"one\n"


def test_a_repository_made_again_at_the_same_path_is_read_afresh(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    first = _repo(root, {"a.txt": "first\n"})
    assert scm.read_paths_at(root, [(first, "a.txt")])[(first, "a.txt")] == b"first\n"
    shutil.rmtree(root)
    second = _repo(root, {"a.txt": "second\n"})
    assert scm.read_paths_at(root, [(second, "a.txt")])[(second, "a.txt")] == b"second\n"
    assert scm.read_paths_at(root, [(first, "a.txt")])[(first, "a.txt")] is None


def test_a_commit_made_after_the_reader_started_is_seen(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    first = _repo(root, {"a.txt": "1\n"})
    assert scm.read_paths_at(root, [(first, "a.txt")])[(first, "a.txt")] == b"1\n"
    (root / "a.txt").write_text("2\n")
    _git(root, "commit", "-qam", "two")
    second = _git(root, "rev-parse", "HEAD").strip()
    assert scm.read_paths_at(root, [(second, "a.txt")])[(second, "a.txt")] == b"2\n"
    _git(root, "gc", "-q")  # the objects move into a pack the reader has not seen
    assert scm.read_paths_at(root, [(first, "a.txt")])[(first, "a.txt")] == b"1\n"


@pytest.mark.parametrize("repos", [6])
def test_readers_are_kept_for_a_few_repositories_only(tmp_path: Path, repos: int) -> None:
    for i in range(repos):
        root = tmp_path / f"r{i}"
        head = _repo(root, {"f": f"{i}\n"})
        assert scm.read_paths_at(root, [(head, "f")])[(head, "f")] == f"{i}\n".encode()
    open_ = scm._ObjectReader._open
    assert len(open_) <= scm._ObjectReader._KEEP
    assert all(r._proc.poll() is None for r in open_.values())


def test_prefetched_trees_and_blobs_are_not_asked_of_git_again(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    commits = []
    for i in range(5):
        commits.append(_repo(root, {"dvc.yaml": "metrics: [m.json]\n", f"d/e/{i}.json": str(i)}))
    reader = scm._ObjectReader.of(root)
    asked: list[list[str]] = []
    real_ask = reader._ask

    def counting(names: list[str]) -> list[tuple[bytes, bytes] | None]:
        asked.append(names)
        return real_ask(names)

    reader._ask = counting  # type: ignore[method-assign]
    scm.prefetch_trees(root, commits)
    # the root trees, then d for each commit, then d/e for each: one round trip a level
    assert len(asked) == 3
    blobs = [b for c in commits for n, b in scm.files_under(root, c) if n == "dvc.yaml"]
    scm.prefetch_blobs(root, blobs)
    asked.clear()
    for c in commits:
        assert scm.files_under(root, c) == _ls_tree(root, c)
        assert scm.read_blobs(root, blobs[:1]) == {blobs[0]: b"metrics: [m.json]\n"}
    assert asked == []


def test_the_blob_cache_stays_within_its_budget(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _repo(root, {f"f{i:02d}": f"{i:02d}" * 500 for i in range(20)})
    reader = scm._ObjectReader.of(root)
    reader._BLOB_BYTES = 5000  # type: ignore[misc]
    blobs = [b for _n, b in scm.files_at(root, "HEAD", "")]
    got = scm.read_blobs(root, blobs)
    assert all(len(v) == 1000 for v in got.values())
    assert reader._blob_bytes <= 5000 and len(reader._blobs) == 5
    assert list(reader._blobs) == blobs[-5:]  # the most recently read kept


def test_reading_ahead_stops_when_the_cache_is_full(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _repo(root, {f"f{i:03d}": f"{i:03d}" * 400 for i in range(200)})  # 1,200 B each
    reader = scm._ObjectReader.of(root)
    reader._BLOB_BYTES = 100_000  # type: ignore[misc]
    blobs = [b for _n, b in scm.files_at(root, "HEAD", "")]
    scm.prefetch_blobs(root, blobs)
    # the first ones, while they fit: none evicted to make room for a later one
    assert list(reader._blobs) == blobs[: 100_000 // 1200]
