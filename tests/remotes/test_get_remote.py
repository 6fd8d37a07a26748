"""``bale get`` and ``bale import`` take a source's data from its default
remote, on every kind of remote (folder, S3, HTTP) and in both hash modes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration.conftest import Run, make_repo, read_tree, write_tree

from .conftest import RemoteUnderTest

DATA = {"dir/a": "1\n", "dir/sub/b": b"\x00\x01" * 1000, "file.txt": "hello\n"}


@pytest.fixture
def remote(layout_remote: RemoteUnderTest) -> RemoteUnderTest:
    """These suites test bale's layouts above the Store protocol: they run
    on the three kinds of ``LAYOUT_KINDS`` (every kind passes the Store suite)."""
    return layout_remote


@pytest.fixture(autouse=True)
def _clones_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


@pytest.mark.parametrize("hash", ["md5", "blake3"])
def test_get_and_import_from_a_source_whose_data_is_only_on_its_remote(
    tmp_path: Path, run: Run, remote: RemoteUnderTest, hash: str
) -> None:
    src = make_repo(tmp_path, "--hash", hash)
    write_tree(src / "data", DATA)
    run("bale", "add", "data")
    remote.configure(src, run)
    run("bale", "push")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "data")
    # The source is opened in place (its local config has the remote's
    # credentials), but its cache is gone: everything comes from the remote.
    shutil.rmtree(src / ".dvc" / "cache")
    out = tmp_path / "out"
    out.mkdir()
    run("bale", "get", str(src), "data", cwd=out)
    run("bale", "get", str(src), "data/dir/sub/b", "-o", "b", cwd=out)
    assert read_tree(out / "data") == read_tree(src / "data")
    assert (out / "b").read_bytes() == b"\x00\x01" * 1000

    dest = tmp_path / "dest"
    dest.mkdir()
    run("git", "init", "-q", cwd=dest)
    run("bale", "init", "-q", cwd=dest)
    run("bale", "import", str(src), "data/dir", "-o", "d", cwd=dest)
    assert read_tree(dest / "d") == read_tree(src / "data" / "dir")
    assert "up to date" in run("bale", "status", cwd=dest).stdout
