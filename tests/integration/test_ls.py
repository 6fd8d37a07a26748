"""``bale ls`` of bale repositories in both hash modes, from manifests only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.conftest import Run
from tests.integration.test_get import make_source


@pytest.fixture(autouse=True)
def _clones_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


@pytest.mark.parametrize("hash", ["md5", "blake3"])
def test_ls_lists_a_directory_output_from_its_manifest(tmp_path: Path, run: Run, hash: str) -> None:
    src = make_source(tmp_path, run, hash)
    url = f"file://{src}"
    got = json.loads(run("bale", "ls", url, "data/dir", "-R", "--json", cwd=tmp_path).stdout)
    assert [(e["path"], e["isout"], e["isdir"]) for e in got] == [
        ("a", True, False),
        ("sub/b", True, False),
    ]
    # blake3 trees record sizes; DVC's manifests do not.
    assert [e["size"] for e in got] == ([2, 2] if hash == "blake3" else [None, None])
    top = run("bale", "ls", url, "data", cwd=tmp_path).stdout.split()
    assert top == [".gitignore", "README", "dir", "dir.dvc", "file.txt", "file.txt.dvc"]
    # Only the manifest was fetched (for blake3: the tree and its subtree
    # data/dir/sub), no file of the directory.
    cached = [p.name for p in (tmp_path / "xdg" / "bale" / "cache").rglob("*") if p.is_file()]
    if hash == "md5":
        assert len(cached) == 1 and cached[0].endswith(".dir")
    else:
        assert len(cached) == 2 and all(n.endswith(".tree") for n in cached), cached
