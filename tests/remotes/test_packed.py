"""bale-native (blake3) data on every kind of remote, in the packed layout:
a handful of content-named packs instead of one object per file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import GIT_ENV, Run, make_repo, read_tree, write_tree

from .conftest import RemoteUnderTest

MANY = {f"d{i % 7}/f{i:03d}": f"content {i}\n" * (i % 5 + 1) for i in range(300)}


@pytest.fixture
def remote(layout_remote: RemoteUnderTest) -> RemoteUnderTest:
    """These suites test bale's layouts above the Store protocol: they run
    on the three kinds of ``LAYOUT_KINDS`` (every kind passes the Store suite)."""
    return layout_remote


@pytest.fixture
def native_repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path, "--hash", "blake3")


def _push(run: Run, cwd: Path | None = None) -> dict[str, object]:
    out: dict[str, object] = json.loads(run("bale", "push", "--json", cwd=cwd).stdout)
    return out


def _setup(repo: Path, run: Run, remote: RemoteUnderTest) -> None:
    write_tree(repo / "data", MANY)
    write_tree(repo, {"one.txt": "1\n"})
    run("bale", "add", "data", "one.txt", cwd=repo)
    remote.configure(repo, run)


def _fresh_clone(repo: Path, tmp_path: Path, name: str = "clone") -> Path:
    clone = tmp_path / name
    shutil.copytree(repo, clone, ignore=shutil.ignore_patterns("cache", "tmp", "data", "one.txt"))
    return clone


def test_a_push_is_a_few_packs_and_a_pull_restores_every_byte(
    native_repo: Path, run: Run, remote: RemoteUnderTest, tmp_path: Path
) -> None:
    _setup(native_repo, run, remote)
    pushed = _push(run)
    keys = remote.listing()
    assert all(k.startswith("bale/packs/") for k in keys), keys
    assert len(keys) == 4  # one pack of files, one of trees, each with its index
    assert pushed["copied"] == 300 + 1 + 8  # files, one.txt, 7 sub-trees + the root tree

    again = _push(run)
    assert again["copied"] == 0 and remote.listing() == keys

    clone = _fresh_clone(native_repo, tmp_path)
    run("bale", "pull", cwd=clone)
    assert read_tree(clone / "data") == read_tree(native_repo / "data")
    assert json.loads(run("bale", "status", "-c", "--json", cwd=clone).stdout) == {}


def test_an_edit_uploads_only_the_changed_file_and_its_trees(
    native_repo: Path, run: Run, remote: RemoteUnderTest
) -> None:
    _setup(native_repo, run, remote)
    _push(run)
    (native_repo / "data" / "d3" / "f003").write_text("edited\n")
    run("bale", "add", "data")
    edit = _push(run)
    assert edit["copied"] == 3  # the file, its directory's tree, the root tree


def test_status_cloud_names_native_outputs_and_their_files(
    native_repo: Path, run: Run, remote: RemoteUnderTest
) -> None:
    _setup(native_repo, run, remote)
    before = json.loads(run("bale", "status", "-c", "--json").stdout)
    assert before["data"] == "new" and before["data/d0/f000"] == "new" and len(before) == 302
    _push(run)
    assert json.loads(run("bale", "status", "-c", "--json").stdout) == {}


def test_a_corrupt_pack_never_enters_the_cache(
    native_repo: Path, run: Run, remote: RemoteUnderTest
) -> None:
    _setup(native_repo, run, remote)
    _push(run)
    pack = max(
        (k for k in remote.listing() if k.endswith(".pack")), key=lambda k: len(remote.read(k))
    )
    data = bytearray(remote.read(pack))
    data[100] ^= 0xFF
    remote.write(pack, bytes(data))
    shutil.rmtree(native_repo / ".dvc" / "cache")
    shutil.rmtree(native_repo / "data")
    err = run("bale", "pull", ok=False).stderr
    assert err.startswith("ERROR: ") and "corrupt" in err
    run("bale", "status", ok=None)
    cached = b"".join(
        p.read_bytes() for p in (native_repo / ".dvc" / "cache").rglob("*") if p.is_file()
    )
    assert data[90:110] not in cached


def test_two_clones_pushing_at_once_keep_each_others_data(
    native_repo: Path, run: Run, remote: RemoteUnderTest, tmp_path: Path
) -> None:
    _setup(native_repo, run, remote)
    other = _fresh_clone(native_repo, tmp_path, "other")
    (other / "data.dvc").unlink()
    (other / "one.txt.dvc").unlink()
    write_tree(other / "extra", {f"x{i}": f"extra {i}\n" for i in range(100)})
    run("bale", "add", "extra", cwd=other)
    env = {**__import__("os").environ, **GIT_ENV}
    procs = [
        subprocess.Popen([sys.executable, "-m", "bale", "push", "-q"], cwd=cwd, env=env)
        for cwd in (native_repo, other)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]

    merged = _fresh_clone(other, tmp_path, "merged")
    for name in ("data.dvc", "one.txt.dvc"):
        shutil.copy(native_repo / name, merged / name)
    run("bale", "pull", cwd=merged)
    assert read_tree(merged / "data") == read_tree(native_repo / "data")
    assert read_tree(merged / "extra") == read_tree(other / "extra")


def test_pulling_one_subdirectory_fetches_only_its_bytes(
    native_repo: Path, run: Run, remote: RemoteUnderTest, tmp_path: Path
) -> None:
    _setup(native_repo, run, remote)
    _push(run)
    clone = _fresh_clone(native_repo, tmp_path)
    pulled = json.loads(run("bale", "pull", "--json", "data/d3", cwd=clone).stdout)
    wanted = {k: v for k, v in read_tree(native_repo / "data").items() if k.startswith("d3/")}
    tree_bytes = 4096  # the root tree and d3's tree, generously
    assert (
        sum(map(len, wanted.values()))
        <= pulled["bytes"]
        <= sum(map(len, wanted.values())) + tree_bytes
    )
    assert read_tree(clone / "data") == wanted

    file_only = json.loads(run("bale", "fetch", "--json", "data/d5/f005", cwd=clone).stdout)
    assert file_only["copied"] == 2  # d5's tree and the file

    # A path the output does not record fetches no file: only the trees
    # read to find that out.
    other = _fresh_clone(native_repo, tmp_path, "other")
    nothing = json.loads(run("bale", "fetch", "--json", "data/d5/nothing", cwd=other).stdout)
    assert nothing["copied"] == 2  # the root tree and d5's


def test_a_remote_emptied_behind_our_back_is_pushed_to_again(
    native_repo: Path, run: Run, remote: RemoteUnderTest
) -> None:
    _setup(native_repo, run, remote)
    _push(run)
    for key in remote.listing():
        remote.delete(key)
    assert json.loads(run("bale", "status", "-c", "--json").stdout)["data"] == "new"
    assert _push(run)["copied"] == 309


def test_gc_cloud_deletes_packs_no_kept_output_uses(
    native_repo: Path, run: Run, remote: RemoteUnderTest, tmp_path: Path
) -> None:
    _setup(native_repo, run, remote)
    _push(run)
    kept = remote.listing()
    write_tree(native_repo / "extra", {f"x{i}": f"extra {i}\n" for i in range(50)})
    run("bale", "add", "extra")
    _push(run)
    extra = remote.listing() - kept
    assert len(extra) == 4  # a pack of files and a pack of trees, with their indexes
    run("bale", "remove", "extra.dvc")

    dry = json.loads(run("bale", "gc", "-w", "-c", "--dry", "--json").stdout)
    assert dry["remotes"]["store"]["removed"] == 51  # 50 files and extra's tree
    assert remote.listing() == kept | extra
    run("bale", "gc", "-w", "-c", "-f")
    assert remote.listing() == kept

    # A clone without the trees in its cache fetches them to decide, and
    # finds nothing more to delete.
    clone = _fresh_clone(native_repo, tmp_path)
    again = json.loads(run("bale", "gc", "-w", "-c", "--dry", "--json", cwd=clone).stdout)
    assert again["remotes"]["store"]["removed"] == 0
    run("bale", "pull", cwd=clone)
    assert read_tree(clone / "data") == read_tree(native_repo / "data")
