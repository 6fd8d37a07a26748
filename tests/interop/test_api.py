"""``bale.api`` and ``bale.fs.BaleFileSystem`` against ``dvc.api`` and
dvc's ``DVCFileSystem`` on the same repositories and revisions: the same
bytes, the same listings, the same params and metrics."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import dvc.api
import fsspec.callbacks
import pytest

import bale.api
from bale.exceptions import (
    BaleError,
    CorruptObjectError,
    OutputNotTrackedError,
    TargetNotFoundError,
)
from bale.fs import BaleFileSystem
from bale.tree import RepoTree
from tests.interop.conftest import Sh, copy_repo

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parents[2]

# What each revision holds (v1, then HEAD): a directory output with a nested
# directory, a file output, git-tracked files, params and metrics.
V1 = """
mkdir -p data/sub && printf 'a,b\\n1,2\\n3,4\\n' > data/train.csv && echo x > data/sub/x.txt
echo y > data/y.txt && : > data/empty && echo model-1 > model.bin
printf 'train:\\n  lr: 0.1\\n  epochs: 3\\nseed: 1\\n' > params.yaml
printf 'lr: 5\\n' > other.yaml
echo '{"acc": 0.5, "loss": 1}' > m.json && echo hello > README.txt
mkdir -p src && printf '#!/bin/sh\\n' > src/run.sh && chmod +x src/run.sh
"""
DVC_YAML = """\
stages:
  train:
    cmd: echo
    params: [train.lr, seed]
    metrics:
      - m.json:
          cache: false
  eval:
    cmd: echo
    params: [{other.yaml: [lr]}]
"""
V2 = """
echo z > data/sub/z.txt && printf 'a,b\\n5,6\\n' > data/train.csv && echo model-2 > model.bin
echo '{"acc": 0.7, "loss": 0.5}' > m.json
"""


@pytest.fixture(scope="module")
def source(sh: Sh, dvc_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dvc repository with two tagged revisions, pushed to a folder remote."""
    base = tmp_path_factory.mktemp("api-source")
    root = copy_repo(dvc_template, base / "repo")
    remote = base / "remote"
    sh.dvc("remote", "add", "-d", "r", str(remote), cwd=root)
    (root / "dvc.yaml").write_text(DVC_YAML)
    for tag, script in (("v1", V1), ("v2", V2)):
        sh.run(["sh", "-c", script], root)
        sh.dvc("add", "-q", "data", "model.bin", cwd=root)
        sh.git("add", "-A", cwd=root)
        sh.git("commit", "-qm", tag, cwd=root)
        sh.git("tag", tag, cwd=root)
    sh.dvc("push", "-q", "-a", "-T", cwd=root)
    return root


@pytest.fixture(autouse=True)
def _cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Clones and pack index copies go to a temp $XDG_CACHE_HOME, not the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


PATHS = [
    "data/train.csv",
    "data/sub/x.txt",
    "data/empty",
    "model.bin",
    "README.txt",
    "params.yaml",
    "src/run.sh",
]


@pytest.mark.parametrize("rev", ["v1", "v2", None])
def test_read_gives_the_bytes_dvc_api_gives(source: Path, rev: str | None) -> None:
    for path in PATHS:
        want = dvc.api.read(path, repo=str(source), rev=rev, mode="rb")
        assert bale.api.read(path, repo=str(source), rev=rev, mode="rb") == want, (path, rev)
    text = bale.api.read("data/train.csv", repo=str(source), rev=rev)
    assert text == dvc.api.read("data/train.csv", repo=str(source), rev=rev)


def test_open_streams_and_seeks(source: Path) -> None:
    with bale.api.open("data/train.csv", repo=str(source), rev="v1", mode="rb") as f:
        assert f.read(4) == b"a,b\n"
        f.seek(6)
        assert f.read() == b"2\n3,4\n"
    with bale.api.open("data/train.csv", repo=str(source), rev="v1") as f:
        assert list(f) == ["a,b\n", "1,2\n", "3,4\n"]


def test_open_is_a_context_manager_only(source: Path) -> None:
    opened = bale.api.open("data/train.csv", repo=str(source))
    with pytest.raises(AttributeError, match="with statement"):
        opened.read()
    with pytest.raises(ValueError, match="only reading"):
        bale.api.open("data/train.csv", repo=str(source), mode="w")


def _dvc_listing(fs: Any, path: str) -> dict[str, tuple[str, int | None]]:
    return {
        name.lstrip("/"): (info["type"], info.get("size"))
        for name, info in fs.find(path, detail=True, withdirs=True).items()
    }


@pytest.mark.parametrize("rev", ["v1", "v2", None])
def test_listing_matches_dvcs_file_system(source: Path, rev: str | None) -> None:
    theirs = dvc.api.DVCFileSystem(str(source), rev=rev)
    ours = BaleFileSystem(repo=str(source), rev=rev)
    want = _dvc_listing(theirs, "/")
    want.pop("")  # fsspec's find names the root it starts at only if it is not ""
    got = {
        name: (info["type"], info["size"])
        for name, info in ours.find("", detail=True, withdirs=True).items()
    }
    assert set(got) == set(want)
    for name, (kind, size) in want.items():
        assert got[name][0] == kind, name
        if kind == "file" and size is not None:
            assert got[name][1] == size, name
    assert sorted(ours.ls("data", detail=False)) == sorted(
        n.lstrip("/") for n in theirs.ls("/data", detail=False)
    )
    walked = sorted((r, sorted(d), sorted(f)) for r, d, f in ours.walk(""))
    assert walked == sorted((r.lstrip("/"), sorted(d), sorted(f)) for r, d, f in theirs.walk("/"))
    assert sorted(bale.api.walk(repo=str(source), rev=rev)) == walked
    info = ours.info("data/sub")
    assert (info["type"], info["isout"]) == ("directory", True)
    assert ours.info("src/run.sh")["isexec"] is True


def test_ls_is_what_dvc_ls_gives(source: Path) -> None:
    from dvc.repo import Repo

    for path, recursive, dvc_only in [
        (None, False, False),
        ("data", True, False),
        ("data/train.csv", False, False),
        (None, True, True),
    ]:
        want = Repo.ls(str(source), path, rev="v1", recursive=recursive, dvc_only=dvc_only)
        got = bale.api.ls(
            path or "", repo=str(source), rev="v1", recursive=recursive, dvc_only=dvc_only
        )
        for e in want:
            if e["isdir"] and not e["isout"]:
                e["size"] = None  # dvc gives the size of git's tree object, bale none
        assert got == want, (path, recursive, dvc_only)


@pytest.fixture
def clone(source: Path, tmp_path: Path) -> Path:
    """A git clone of the source: no cache, its data on the remote only."""
    root = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(source), str(root)], check=True)
    return root


def _untouched(root: Path) -> None:
    assert not (root / ".dvc" / "cache").exists()
    status = subprocess.run(
        ["git", "status", "--porcelain", "--ignored"], cwd=root, check=True, capture_output=True
    )
    assert status.stdout == b""


def test_listing_a_directory_output_fetches_its_manifest_only(clone: Path) -> None:
    with BaleFileSystem(repo=str(clone), rev="v2") as fs:
        assert sorted(fs.find("data")) == [
            "data/empty",
            "data/sub/x.txt",
            "data/sub/z.txt",
            "data/train.csv",
            "data/y.txt",
        ]
        assert fs.view._tmp is not None
        fetched = [p.name for p in (fs.view._tmp / "cache").rglob("*") if p.is_file()]
        assert fetched == [fs.info("data")["oid"][2:]]
    _untouched(clone)


@pytest.mark.parametrize("rev", ["v1", "v2"])
def test_read_from_a_clone_without_cache_gives_dvc_api_bytes(clone: Path, rev: str) -> None:
    got = {p: bale.api.read(p, repo=str(clone), rev=rev, mode="rb") for p in PATHS}
    _untouched(clone)
    for path in PATHS:
        assert got[path] == dvc.api.read(path, repo=str(clone), rev=rev, mode="rb"), path


def test_read_from_a_git_url_gives_dvc_api_bytes(source: Path) -> None:
    url = f"file://{source}"
    for path in ("data/sub/x.txt", "model.bin", "README.txt"):
        want = dvc.api.read(path, repo=url, rev="v1", mode="rb")
        assert bale.api.read(path, repo=url, rev="v1", mode="rb") == want, path
    names = {e["path"] for e in bale.api.ls("data", repo=url, recursive=True)}
    assert names == {"empty", "sub/x.txt", "sub/z.txt", "train.csv", "y.txt"}


def test_get_copies_a_directory_like_dvcs_file_system(source: Path, tmp_path: Path) -> None:
    dvc.api.DVCFileSystem(str(source), rev="v2").get("data", str(tmp_path / "dvc"), recursive=True)
    BaleFileSystem(repo=str(source), rev="v2", jobs=3).get(
        "data", str(tmp_path / "bale"), recursive=True
    )
    assert _tree(tmp_path / "bale") == _tree(tmp_path / "dvc")
    # an fsspec callback hears of every file
    seen: list[tuple[int | None, int]] = []

    class Seen(fsspec.callbacks.Callback):  # type: ignore[misc]
        def call(self, *args: object, **kwargs: object) -> None:
            seen.append((self.size, self.value))

    BaleFileSystem(repo=str(source), rev="v2").get(
        "data", str(tmp_path / "seen"), recursive=True, callback=Seen()
    )
    n = len(_tree(tmp_path / "seen"))
    assert seen and seen[-1] == (n, n), seen
    # into an existing directory: under the source's name, as dvc does
    (tmp_path / "into").mkdir()
    BaleFileSystem(repo=str(source), rev="v1").get("data", str(tmp_path / "into"), recursive=True)
    assert (tmp_path / "into" / "data" / "sub" / "x.txt").read_text() == "x\n"
    assert not [p for p in tmp_path.rglob(".bale-get-*")]


def test_get_with_maxdepth_copies_the_levels_asked_for(clone: Path, tmp_path: Path) -> None:
    """A clone without a cache: the files come straight from the folder remote."""
    want = tmp_path / "dvc"
    dvc.api.DVCFileSystem(str(clone), rev="v2").get("data", str(want), recursive=True, maxdepth=1)
    with BaleFileSystem(repo=str(clone), rev="v2") as fs:
        fs.get("data", str(tmp_path / "bale"), recursive=True, maxdepth=1)
        fs.get("data", str(tmp_path / "all"), recursive=True)
        # no temp copy of a file: only the directory's manifest was fetched
        assert fs.view._tmp is not None
        fetched = [p.name for p in (fs.view._tmp / "cache").rglob("*") if p.is_file()]
        assert len(fetched) == 1 and fetched[0].endswith(".dir"), fetched
    assert _tree(tmp_path / "bale") == _tree(want)
    assert "sub/x.txt" not in _tree(want)
    assert _tree(tmp_path / "all")["sub/x.txt"] == b"x\n"


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_stream_yields_every_file_in_order_with_its_bytes(source: Path) -> None:
    got = list(bale.api.stream("data", repo=str(source), rev="v2", jobs=2, prefetch=2))
    names = [n for n, _ in got]
    assert names == sorted(names)
    for name, data in got:
        assert data == dvc.api.read(name, repo=str(source), rev="v2", mode="rb"), name
    # stopping early leaves nothing running and nothing behind
    it = bale.api.stream("data", repo=str(source), rev="v2", prefetch=1)
    assert next(it)[0] == "data/empty"
    it.close()


@pytest.mark.parametrize("rev", ["v1", "v2", None])
def test_params_and_metrics_show_match_dvc_api(
    source: Path, rev: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = str(source)
    monkeypatch.chdir(source)  # dvc finds stages by name from the current directory
    assert bale.api.params_show(repo=repo, rev=rev) == dvc.api.params_show(repo=repo, rev=rev)
    for kw in ({"stages": "train"}, {"stages": ["train", "eval"]}, {"deps": True}):
        want = dvc.api.params_show(repo=repo, rev=rev, **kw)
        assert bale.api.params_show(repo=repo, rev=rev, **kw) == want, kw
    for targets in (("params.yaml",), ("params.yaml", "other.yaml")):
        want = dvc.api.params_show(*targets, repo=repo, rev=rev)
        assert bale.api.params_show(*targets, repo=repo, rev=rev) == want, targets
    assert bale.api.metrics_show(repo=repo, rev=rev) == dvc.api.metrics_show(repo=repo, rev=rev)
    want = dvc.api.metrics_show("m.json", repo=repo, rev=rev)
    assert bale.api.metrics_show("m.json", repo=repo, rev=rev) == want


def test_get_url_is_where_dvc_says_the_object_is(source: Path) -> None:
    for path in ("data/train.csv", "data", "model.bin"):
        assert bale.api.get_url(path, repo=str(source)) == dvc.api.get_url(path, repo=str(source))
    with pytest.raises(OutputNotTrackedError, match=r"README\.txt: not tracked"):
        bale.api.get_url("README.txt", repo=str(source))


def test_pandas_reads_a_bale_url_through_the_entry_point(source: Path, tmp_path: Path) -> None:
    # The entry point as an install declares it (pyproject.toml), found by
    # fsspec's own discovery in a fresh interpreter.
    import tomllib

    eps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    spec = eps["fsspec.specs"]["bale"]
    dist = tmp_path / "site" / "bale_entry-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bale-entry\nVersion: 0\n")
    (dist / "entry_points.txt").write_text(f"[fsspec.specs]\nbale = {spec}\n")
    code = (
        "import pandas, sys\n"
        "df = pandas.read_csv('bale://data/train.csv',"
        " storage_options={'repo': sys.argv[1], 'rev': 'v1'})\n"
        "print(df.to_dict('list'))\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path / 'site'}{os.pathsep}{ROOT / 'python'}"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(source)], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "{'a': [1, 3], 'b': [2, 4]}"


def test_bad_input_is_one_clear_error(source: Path, tmp_path: Path) -> None:
    repo = str(source)
    with pytest.raises(BaleError, match=f"{re.escape(str(source))}: unknown git revision .nope."):
        bale.api.read("data/train.csv", repo=repo, rev="nope")
    with pytest.raises(TargetNotFoundError, match=r"data/missing\.csv: no such file") as e:
        bale.api.read("data/missing.csv", repo=repo, rev="v1")
    assert isinstance(e.value, FileNotFoundError)
    assert "\n" not in str(e.value) and repo in str(e.value)
    with pytest.raises(FileNotFoundError):
        BaleFileSystem(repo=repo, rev="v1").info("nothing/here")
    with pytest.raises(IsADirectoryError, match="data: is a directory"):
        bale.api.read("data", repo=repo, rev="v1")
    (tmp_path / "plain").mkdir()
    with pytest.raises(BaleError, match="neither a bale/dvc repository nor a git repository"):
        bale.api.read("x", repo=str(tmp_path / "plain"))


def test_the_readme_streaming_example_runs(
    source: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    example = next(b for b in blocks if "bale.api.stream(" in b)
    exec(example.replace('"data/images"', '"data"'), {"url": str(source)})
    count, _files, digest = capsys.readouterr().out.split()
    assert count == "5"
    import hashlib

    want = hashlib.sha256()
    for name in ("data/empty", "data/sub/x.txt", "data/sub/z.txt", "data/train.csv", "data/y.txt"):
        want.update(dvc.api.read(name, repo=str(source), mode="rb"))
    assert digest == want.hexdigest()


@pytest.fixture(scope="module")
def native(sh: Sh, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, bytes]]:
    """A bale blake3 repository (a chunked 5 MiB file among its data) with
    two revisions pushed to a folder remote, and a git clone of it with no
    cache; with the v1 bytes of its files."""
    base = tmp_path_factory.mktemp("api-native")
    root = base / "repo"
    root.mkdir()
    sh.git("init", "-q", cwd=root)
    sh.bale("init", "-q", cwd=root)
    sh.bale("remote", "add", "-d", "r", str(base / "remote"), cwd=root)
    rng = __import__("random").Random(7)
    v1 = {
        "data/a.txt": b"a\n",
        "data/sub/b.txt": b"b\n",
        "big.bin": rng.randbytes(5 << 20),
    }
    for rel, data in v1.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    sh.bale("add", "-q", "data", "big.bin", cwd=root)
    sh.git("add", "-A", cwd=root)
    sh.git("commit", "-qm", "v1", cwd=root)
    sh.git("tag", "v1", cwd=root)
    (root / "big.bin").write_bytes(rng.randbytes(5 << 20))
    (root / "data" / "a.txt").write_bytes(b"a2\n")
    sh.bale("add", "-q", "data", "big.bin", cwd=root)
    sh.git("add", "-A", cwd=root)
    sh.git("commit", "-qm", "v2", cwd=root)
    sh.bale("push", "-q", "-A", cwd=root)
    clone = base / "clone"
    sh.git("clone", "-q", str(root), str(clone), cwd=base)
    return root, clone, v1


def test_a_blake3_repository_reads_from_its_packed_remote(
    native: tuple[Path, Path, dict[str, bytes]],
) -> None:
    _root, clone, v1 = native
    for rel, data in v1.items():
        assert bale.api.read(rel, repo=str(clone), rev="v1", mode="rb") == data, rel
    with bale.api.open("big.bin", repo=str(clone), rev="v1", mode="rb") as f:
        f.seek(3 << 20)
        assert f.read(1000) == v1["big.bin"][3 << 20 : (3 << 20) + 1000]
    assert bale.api.read("data/a.txt", repo=str(clone), rev="HEAD") == "a2\n"
    with BaleFileSystem(repo=str(clone), rev="v1") as fs:
        assert fs.info("big.bin")["size"] == 5 << 20
        assert {n: i["size"] for n, i in fs.find("data", detail=True).items()} == {
            "data/a.txt": 2,
            "data/sub/b.txt": 2,
        }
        # the listing fetched the directory's two trees, no file data
        assert fs.view._tmp is not None
        fetched = [p.name for p in (fs.view._tmp / "cache").rglob("*") if p.is_file()]
        assert len(fetched) == 2 and all(n.endswith(".tree") for n in fetched)
    _untouched(clone)


def test_reading_one_file_fetches_only_the_trees_on_its_way(
    native: tuple[Path, Path, dict[str, bytes]],
) -> None:
    _root, clone, v1 = native

    def trees(tree: RepoTree) -> int:
        assert tree.view._tmp is not None
        return sum(1 for p in (tree.view._tmp / "cache").rglob("*.tree"))

    with RepoTree(str(clone), "v1") as tree:
        with tree.open("data/a.txt") as f:
            assert f.read() == v1["data/a.txt"]
        assert trees(tree) == 1  # data's, not data/sub's
        assert tree.info("data/sub")["type"] == "directory"
        with pytest.raises(FileNotFoundError):
            tree.info("data/sub/nothing")
        with tree.open("data/sub/b.txt") as f:
            assert f.read() == v1["data/sub/b.txt"]
        assert trees(tree) == 2
    # a listing wants every tree below, however the lookups left them
    with RepoTree(str(clone), "v1") as tree:
        assert tree.open("data/a.txt").read() == v1["data/a.txt"]
        assert trees(tree) == 1
        assert tree.files_under("data") == ["data/a.txt", "data/sub/b.txt"]
        assert trees(tree) == 2


def _native_clone(sh: Sh, tmp_path: Path, files: dict[str, bytes], hash_: str = "blake3") -> Path:
    """A clone (no cache) of a repository (blake3 unless ``hash_`` says)
    tracking ``files`` as the directory ``d``, pushed to a folder remote."""
    root = tmp_path / "repo"
    root.mkdir()
    sh.git("init", "-q", cwd=root)
    sh.bale("init", "-q", "--hash", hash_, cwd=root)
    sh.bale("remote", "add", "-d", "r", str(tmp_path / "remote"), cwd=root)
    (root / "d").mkdir()
    for name, data in files.items():
        (root / "d" / name).write_bytes(data)
    sh.bale("add", "-q", "d", cwd=root)
    sh.git("add", "-A", cwd=root)
    sh.git("commit", "-qm", "d", cwd=root)
    sh.bale("push", "-q", cwd=root)
    clone = tmp_path / "clone"
    sh.git("clone", "-q", str(root), str(clone), cwd=tmp_path)
    return clone


def test_get_in_batches_moves_fetched_objects_out_but_keeps_what_the_next_batch_shares(
    sh: Sh, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Objects fetched for a batch leave the temp cache as the files
    # themselves; one the next batch shares must still be there for it.
    from tests.remotes.http_server import serving

    files = {"a1": b"x", "a2": b"y", "a3": b"x", "a4": b"z", "a5": b"z", "a6": b"y"}
    clone = _native_clone(sh, tmp_path, files)
    monkeypatch.setattr(RepoTree, "get_batch", 2)
    # A folder remote's packs are copied from where they are, so over HTTP
    # (bale serve of the same folder), which a fetch brings into a temp cache.
    for over in ("folder", "http"):
        got = tmp_path / f"got-{over}"
        with contextlib.ExitStack() as stack:
            if over == "http":
                url = stack.enter_context(serving(tmp_path / "remote"))
                local = f"['remote \"r\"']\n    url = {url}\n"
                (clone / ".dvc" / "config.local").write_text(local)
            with BaleFileSystem(repo=str(clone), rev="HEAD") as fs:
                fs.get("d", str(got), recursive=True)
                assert {p.name: p.read_bytes() for p in got.iterdir()} == files
                assert len({p.stat().st_ino for p in got.iterdir()}) == len(files)
                # what was moved out is fetched again when read
                assert {n: fs.cat(f"d/{n}") for n in files} == files
    (clone / ".dvc" / "config.local").unlink()
    _untouched(clone)


def test_a_version_compacted_into_chunks_reads_like_any_other(
    sh: Sh, native: tuple[Path, Path, dict[str, bytes]]
) -> None:
    root, _clone, v1 = native
    out = (
        sh.bale("gc", "-A", "--compact", "-f", cwd=root).stdout
        + sh.bale("du", "-A", cwd=root).stdout
    )
    # v1's big.bin is kept as chunks only: no whole object in the cache
    tree = RepoTree(str(root), "v1")
    oid = tree.info("big.bin")["oid"]
    assert not tree.view.bale_repo().workspace.object_path("blake3", oid).exists(), out
    with bale.api.open("big.bin", repo=str(root), rev="v1", mode="rb") as f:
        f.seek((5 << 20) - 100)
        assert f.read() == v1["big.bin"][-100:]
    assert bale.api.read("big.bin", repo=str(root), rev="v1", mode="rb") == v1["big.bin"]
    tree.close()
    # a copy of it is rebuilt from the chunks, beside files copied whole
    got = root.parent / "got"
    with BaleFileSystem(repo=str(root), rev="v1") as fs:
        fs.get("", str(got), recursive=True)
    assert (got / "big.bin").read_bytes() == v1["big.bin"]


def test_a_corrupt_remote_object_never_reaches_the_caller(
    source: Path, clone: Path, tmp_path: Path
) -> None:
    url = bale.api.get_url("data/train.csv", repo=str(clone), rev="v1")
    good = Path(url).read_bytes()
    Path(url).chmod(0o644)
    Path(url).write_bytes(b"a,b\n9,9\n3,4\n")
    try:
        with pytest.raises(CorruptObjectError) as e:
            bale.api.read("data/train.csv", repo=str(clone), rev="v1")
        assert "\n" not in str(e.value)
        with pytest.raises(CorruptObjectError):
            BaleFileSystem(repo=str(clone), rev="v1").get(
                "data", str(tmp_path / "out"), recursive=True
            )
        assert not (tmp_path / "out" / "train.csv").exists()
        assert not list(tmp_path.rglob(".bale-get-*"))
        # a stream reads it in a batch of small files, in place: hashed first too
        with pytest.raises(CorruptObjectError):
            for name, _data in bale.api.stream("data", repo=str(clone), rev="v1"):
                assert name < "data/train.csv"
        # the remote is only read: its bad object is still there for dvc to see
        assert Path(url).read_bytes() == b"a,b\n9,9\n3,4\n"
    finally:
        Path(url).write_bytes(good)


def test_a_source_without_remote_or_cache_is_one_clear_error(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    root = copy_repo(dvc_template, tmp_path / "lonely")
    (root / "f.txt").write_text("f\n")
    sh.dvc("add", "-q", "f.txt", cwd=root)
    sh.git("add", "-A", cwd=root)
    sh.git("commit", "-qm", "f", cwd=root)
    clone = tmp_path / "clone"
    sh.git("clone", "-q", str(root), str(clone), cwd=tmp_path)
    with pytest.raises(BaleError, match="no default remote") as e:
        bale.api.read("f.txt", repo=str(clone), rev="HEAD")
    assert str(clone) in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(BaleError, match="no default remote") as e:
        bale.api.read("f.txt", repo=str(clone))  # the workspace, which lacks f.txt
    assert str(e.value).startswith(f"{clone}: ")
    with pytest.raises(BaleError, match="not a git repository"):
        bale.api.read("f.txt", repo=f"file://{tmp_path / 'nowhere'}", rev="HEAD")


def _held(tree: RepoTree) -> int:
    """Files in the tree's temp cache, but directory objects."""
    assert tree.view._tmp is not None
    cache = tree.view._tmp / "cache"
    trees = (".dir", ".tree")
    return sum(1 for p in cache.rglob("*") if p.is_file() and not p.name.endswith(trees))


def test_stream_reads_the_md5_objects_of_a_folder_remote_where_they_are(clone: Path) -> None:
    tree = RepoTree(str(clone), "v2", jobs=2)
    tree.batch = 2
    held = [_held(tree) for _name, _data in tree.stream("data", prefetch=1)]
    names = [name for name, _data in tree.stream("data")]
    tree.close()
    assert names == [
        "data/empty",
        "data/sub/x.txt",
        "data/sub/z.txt",
        "data/train.csv",
        "data/y.txt",
    ]
    assert held == [0] * 5  # hashed as read, nothing written


def _stream_holding(tree: RepoTree) -> tuple[dict[str, bytes], list[int]]:
    """Every file of ``d`` streamed one at a time, with how many files the
    temp cache held as each arrived; the tree closed after."""
    got, held = {}, []
    for name, data in tree.stream("d", prefetch=1):
        got[name] = data
        held.append(_held(tree))
    tree.close()
    return got, held


@pytest.mark.parametrize("hash_", ["md5", "blake3"])
def test_stream_from_a_folder_remote_evicts_the_large_files_it_landed(
    sh: Sh, tmp_path: Path, hash_: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing is fetched ahead from a folder remote; a file too large to be
    # read in a slice lands in the temp cache whole when opened, and must
    # leave it with its batch, or a stream of a large dataset fills the disk.
    from bale.view import View

    files = {f"f{i:02}": f"{i}\n".encode() * 3 for i in range(12)}
    tree = RepoTree(str(_native_clone(sh, tmp_path, files, hash_)), "HEAD", jobs=2)
    monkeypatch.setattr(View, "small", 0)  # every file "large"
    tree.batch = 2
    got, held = _stream_holding(tree)
    assert got == {f"d/{n}": data for n, data in files.items()}
    assert 0 < max(held) <= 4, held


def test_stream_keeps_at_most_two_batches_in_its_temp_cache(sh: Sh, tmp_path: Path) -> None:
    from tests.remotes.http_server import serving

    files = {f"f{i}": f"{i}\n".encode() for i in range(7)}
    clone = _native_clone(sh, tmp_path, files)
    want = {f"d/{n}": data for n, data in files.items()}
    # From a folder remote the packs are read where they are: nothing lands.
    tree = RepoTree(str(clone), "HEAD", jobs=2)
    tree.batch = 2
    assert {name: data for name, data in tree.stream("d")} == want
    assert tree.view._tmp is None or _held(tree) == 0
    tree.close()
    # Over HTTP (bale serve of the same folder) batches are fetched ahead.
    with serving(tmp_path / "remote") as url:
        (clone / ".dvc" / "config.local").write_text(f"['remote \"r\"']\n    url = {url}\n")
        tree = RepoTree(str(clone), "HEAD", jobs=2)
        tree.batch = 2
        tree.slice_files = 1
        got, held = _stream_holding(tree)
    assert got == want
    # the batch being read and the one fetched ahead, no more
    assert 0 < max(held) <= 4, held


def test_an_http_remote_serves_listing_and_reads(source: Path, clone: Path) -> None:
    from tests.remotes.http_server import serving

    with serving(source.parent / "remote") as url:
        # the clone's local config points its remote at `bale serve` of the folder
        (clone / ".dvc" / "config.local").write_text(f"['remote \"r\"']\n    url = {url}\n")
        with BaleFileSystem(repo=str(clone), rev="v1") as fs:
            assert sorted(fs.find("data")) == [
                "data/empty",
                "data/sub/x.txt",
                "data/train.csv",
                "data/y.txt",
            ]
            assert fs.cat("data/sub/x.txt") == b"x\n"
            assert fs.cat_file("data/train.csv", start=4, end=8) == b"1,2\n"
        assert bale.api.read("model.bin", repo=str(clone)) == "model-2\n"
        assert bale.api.get_url("model.bin", repo=str(clone)).startswith(f"{url}/files/md5/")


def test_one_file_of_a_directory_output_is_found_without_the_whole_manifest(
    clone: Path,
) -> None:
    """A read inside a directory output looks the path up in the manifest's
    bytes (the engine), never building every entry in Python: what it finds
    is what dvc finds."""
    with RepoTree(str(clone), "v2") as tree:
        assert tree.open("data/sub/z.txt").read() == b"z\n"
        assert tree.info("data/sub")["type"] == "directory"
        with pytest.raises(TargetNotFoundError):
            tree.info("data/su")
        with pytest.raises(TargetNotFoundError):
            tree.open("data/sub/nope")
        assert tree.index._manifests == {}
        fs = dvc.api.DVCFileSystem(str(clone), rev="v2")
        assert fs.info("data/sub")["type"] == "directory"
        assert not fs.exists("data/su")


def test_a_small_file_of_a_folder_remote_is_read_without_an_event_loop(clone: Path) -> None:
    """Reading one small file from a folder remote reads its object in one
    call, verified into the temp cache: no asyncio, no reader thread (their
    start-up was a good part of a one-file read)."""
    code = (
        "import sys, bale.api\n"
        f"data = bale.api.read('data/sub/x.txt', repo={str(clone)!r}, rev='v1', mode='rb')\n"
        "assert data == b'x\\n', data\n"
        "assert not {'asyncio', 'fsspec', 'aiohttp', 'ssl'} & set(sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "python")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    assert bale.api.read("data/sub/x.txt", repo=str(clone), rev="v1", mode="rb") == b"x\n"


def test_a_file_system_never_closed_leaves_no_temp_cache(clone: Path) -> None:
    """fsspec and pandas drop a file system without closing it: its temp
    cache of fetched objects goes with it all the same."""
    import gc

    fs = BaleFileSystem(repo=str(clone), rev="v2")
    assert fs.cat_file("data/y.txt") == bale.api.read(
        "data/y.txt", repo=str(clone), rev="v2", mode="rb"
    )
    tmp = fs.view._tmp
    assert tmp is not None and tmp.is_dir()
    del fs
    gc.collect()
    assert not tmp.exists()


def test_stream_keeps_an_object_the_next_batch_shares(sh: Sh, tmp_path: Path) -> None:
    """Two files of one content in consecutive batches: the second batch's
    prefetch finds the object already here, so evicting the first batch must
    leave it (it was dropped, and each such file read alone from the remote)."""
    root = tmp_path / "shared"
    root.mkdir()
    sh.git("init", "-q", cwd=root)
    sh.run([sys.executable, "-m", "bale", "init", "-q", "--hash", "md5"], root)
    (root / "data").mkdir()
    for name, text in [("a", "same\n"), ("b", "same\n"), ("c", "other\n")]:
        (root / "data" / name).write_text(text)
    sh.run([sys.executable, "-m", "bale", "remote", "add", "-d", "r", str(tmp_path / "r")], root)
    sh.run([sys.executable, "-m", "bale", "add", "-q", "data"], root)
    sh.run([sys.executable, "-m", "bale", "push", "-q"], root)
    sh.git("add", "-A", cwd=root)
    sh.git("commit", "-qm", "one", cwd=root)
    clone = tmp_path / "clone"
    sh.git("clone", "-q", str(root), str(clone), cwd=tmp_path)
    tree = RepoTree(str(clone), "HEAD", jobs=1)
    tree.batch = 1
    alone = []
    fetch_small = tree.view._fetch_small

    def counted(algo: str, oid: str, size: int | None) -> bool:
        alone.append(oid)
        return fetch_small(algo, oid, size)

    tree.view._fetch_small = counted  # type: ignore[method-assign]
    got = dict(tree.stream("data", prefetch=1))
    tree.close()
    assert got == {"data/a": b"same\n", "data/b": b"same\n", "data/c": b"other\n"}
    assert alone == []
