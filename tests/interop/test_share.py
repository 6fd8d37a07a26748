"""``get``, ``import`` and ``update`` across bale and dvc 3.67.1, both ways:
each reads the other's repositories and each other's import files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.interop.conftest import Sh, copy_repo
from tests.interop.test_dvc_differential import DvcBatch

pytestmark = pytest.mark.interop


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.relative_to(root).parts[0] not in (".dvc", ".git")
    }


def fill(sh: Sh, root: Path, tool: str) -> None:
    """data/file.txt and data/dir tracked by ``tool``, README in git, pushed
    to a folder remote beside it, committed; then a second commit that
    changes data/dir/a."""
    (root / "data" / "dir").mkdir(parents=True)
    (root / "data" / "file.txt").write_text("hello\n")
    (root / "data" / "dir" / "a").write_text("1\n")
    (root / "data" / "dir" / "b").write_text("2\n")
    (root / "data" / "README").write_text("r\n")
    run = sh.bale if tool == "bale" else sh.dvc
    run("add", "data/file.txt", "data/dir", cwd=root)
    run("remote", "add", "-d", "r", str(root.parent / f"{root.name}-remote"), cwd=root)
    run("push", cwd=root)
    sh.git("add", "-A", cwd=root)
    sh.git("commit", "-qm", "one", cwd=root)
    sh.git("tag", "v1", cwd=root)
    (root / "data" / "dir" / "a").write_text("one\n")
    run("add", "data/dir", cwd=root)
    run("push", cwd=root)
    sh.git("commit", "-qam", "two", cwd=root)


@pytest.fixture(scope="module")
def sources(
    sh: Sh, dvc_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The source repositories, one filled by each tool, made once per module:
    the tests only read them (get, ls and import clone them)."""
    base = tmp_path_factory.mktemp("share-sources")
    bale_src = base / "bale-src"
    bale_src.mkdir()
    sh.git("init", "-q", cwd=bale_src)
    sh.bale("init", "-q", "--hash", "md5", cwd=bale_src)
    fill(sh, bale_src, "bale")
    dvc_src = copy_repo(dvc_template, base / "dvc-src")
    fill(sh, dvc_src, "dvc")
    return {"bale": bale_src, "dvc": dvc_src}


def twins(sh: Sh, dvc_template: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Two fresh dvc-initialised repositories, side by side (same depth, so
    relative URLs read the same)."""
    a = copy_repo(dvc_template, tmp_path / "twins" / "with-bale")
    b = copy_repo(dvc_template, tmp_path / "twins" / "with-dvc")
    for r in (a, b):
        sh.git("commit", "-q", "--allow-empty", "-m", "init", cwd=r)
    return a, b


@pytest.mark.parametrize("kind", ["bale", "dvc"])
def test_get_gives_what_dvc_get_gives(
    sh: Sh, kind: str, sources: dict[str, Path], tmp_path: Path
) -> None:
    src = sources[kind]
    gets: list[tuple[str, ...]] = [
        ("get", str(src), *args)
        for args in (
            ("data",),
            ("data/dir/a", "-o", "a-now"),
            ("data/dir", "--rev", "v1", "-o", "dir-v1"),
            ("data/README",),
        )
    ]
    # From a clone: the data comes from the source's remote.
    gets.append(("get", f"file://{src}", "data/file.txt", "-o", "cloned.txt"))
    for tool in ("bale", "dvc"):
        (tmp_path / f"got-{tool}").mkdir()
    # dvc's commands in one process (started first, it runs beside bale's)
    batch = DvcBatch(sh, tmp_path / "got-dvc", gets)
    for args in gets:
        sh.bale(*args, cwd=tmp_path / "got-bale")
    for args, r in zip(gets, batch.results(), strict=True):
        assert r.ok, (args, r.err)
    assert tree(tmp_path / "got-bale") == tree(tmp_path / "got-dvc")
    assert (tmp_path / "got-bale" / "dir-v1" / "a").read_text() == "1\n"


@pytest.mark.parametrize("kind", ["bale", "dvc"])
def test_import_writes_what_dvc_import_writes_and_each_updates_the_others(
    sh: Sh, kind: str, sources: dict[str, Path], dvc_template: Path, tmp_path: Path
) -> None:
    with_bale, with_dvc = twins(sh, dvc_template, tmp_path)
    url = os.path.relpath(sources[kind], with_bale)  # the same from both twins
    imports: list[tuple[str, ...]] = [
        ("import", url, *args)
        for args in (
            ("data/file.txt",),
            ("data/dir", "--rev", "v1", "-o", "dir"),
            ("data/dir/b", "-o", "b"),
            ("data/README", "-o", "readme"),
        )
    ]
    batch = DvcBatch(sh, with_dvc, imports)
    for args in imports:
        sh.bale(*args, cwd=with_bale)
    for args, r in zip(imports, batch.results(), strict=True):
        assert r.ok, (args, r.err)
    names = ["file.txt.dvc", "dir.dvc", "b.dvc", "readme.dvc", ".gitignore"]
    for name in names:
        assert (with_bale / name).read_bytes() == (with_dvc / name).read_bytes(), name
    assert tree(with_bale) == tree(with_dvc)
    status = sh.dvc("status", cwd=with_bale).stdout
    assert "Data and pipelines are up to date." in status

    # Each updates the other's file to the newest commit of master.
    sh.git("add", "-A", cwd=with_bale)
    sh.git("add", "-A", cwd=with_dvc)
    sh.dvc("update", "--rev", "master", "dir.dvc", cwd=with_bale)
    sh.bale("update", "--rev", "master", "dir.dvc", cwd=with_dvc)
    assert (with_bale / "dir.dvc").read_bytes() == (with_dvc / "dir.dvc").read_bytes()
    assert (with_dvc / "dir" / "a").read_text() == "one\n"
    assert "Data and pipelines are up to date." in sh.dvc("status", cwd=with_dvc).stdout
    assert "Data and pipelines are up to date." in sh.bale("status", cwd=with_bale).stdout


LISTINGS = [
    (),
    ("data",),
    ("-R",),
    ("data", "-R", "--size"),
    ("data/dir",),
    ("data/dir/a",),
    ("data/file.txt",),
    ("--dvc-only",),
    ("data", "--dvc-only"),
    ("-R", "--dvc-only"),
    ("data", "--rev", "v1", "-R"),
]


# The listings also compared as text (the others as JSON only: each bale run costs a process).
TEXT = [(), ("data", "-R", "--size"), ("data", "--dvc-only")]


@pytest.mark.parametrize("kind", ["bale", "dvc"])
def test_ls_lists_what_dvc_ls_lists(
    sh: Sh, kind: str, sources: dict[str, Path], tmp_path: Path
) -> None:
    url = f"file://{sources[kind]}"  # a clone: directory manifests come from the source's remote
    calls: list[tuple[str, ...]] = [
        ("ls", url, *args, *fmt)
        for args in LISTINGS
        for fmt in ((("--json",), ()) if args in TEXT else (("--json",),))
    ]
    cwd = tmp_path / "ls"
    cwd.mkdir()
    batch = DvcBatch(sh, cwd, calls)
    got = [sh.bale(*args, cwd=cwd).stdout for args in calls]
    for args, want, out in zip(calls, batch.results(), got, strict=True):
        assert want.ok, (args, want.err)
        assert out == want.out, args
    missing = sh.bale("ls", url, "data/nothere", cwd=cwd, check=False)
    assert missing.returncode == 1
    assert "data/nothere: no such file or directory in " in missing.stderr
