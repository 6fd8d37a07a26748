"""End-to-end interoperability between bale and dvc 3.67.1 (the oracle).

Each test builds real repositories in tmp_path and drives ``bale`` (as
``python -m bale``) and ``dvc`` through their command lines. dvc calls cost
~1 s each, so the tests share a template ``git init && dvc init`` repository
and a module-scoped pair of twin repositories.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

Sh = Any  # the `sh` fixture of conftest.py: .bale(), .dvc(), .git()

# --------------------------------------------------------------------------
# The data every interop test tracks.

BIG = bytes(range(256)) * 64  # 16 KiB, binary

FILES: dict[str, bytes] = {
    "data.txt": b"hello\n",
    "\u00e9.txt": "unicode \u00e9\n".encode(),
    "empty": b"",
    "run.sh": b"#!/bin/sh\necho hi\n",
    "images/a.txt": b"a\n",
    "images/Z.bin": bytes(range(256)),
    "images/empty": b"",
    "images/a-b": b"dash\n",
    "images/a.b": b"dot\n",
    "images/.gitignore": b"*.log\n",  # an ordinary entry for dvc
    "images/tool.sh": b"#!/bin/sh\nexit 0\n",  # exec inside a directory
    "images/\u00e9.txt": b"e-acute\n",
    "images/sub/b.txt": b"b\r\n",
    "images/sub/deeper/c.bin": BIG,
    "images/\u65e5\u672c/\u00fc.bin": b"\x00\x01\x02\xff",
    "images/x.tmp": b"ignored\n",
    "images/sub/y.tmp": b"ignored too\n",
    "\u65e5\u672c/\u30b5\u30d6/\u30c7\u30fc\u30bf.txt": "\u30c7\u30fc\u30bf\n".encode(),
    "\u65e5\u672c/file": b"f\n",
}
EXEC = {"run.sh", "images/tool.sh"}
IGNORED = {"images/x.tmp", "images/sub/y.tmp"}  # by the `*.tmp` line in .dvcignore
TARGETS = ["data.txt", "\u00e9.txt", "empty", "run.sh", "images", "\u65e5\u672c"]
DIR_TARGETS = ["images", "\u65e5\u672c"]
EXEC_FILE = "run.sh"  # the single-file output with the exec bit


def write_data(root: Path) -> None:
    for rel, data in FILES.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        os.chmod(p, 0o755 if rel in EXEC else 0o644)
    with open(root / ".dvcignore", "a", encoding="utf-8") as f:
        f.write("*.tmp\n")


def expected_files() -> dict[str, bytes]:
    return {rel: data for rel, data in FILES.items() if rel not in IGNORED}


def remove_data(root: Path) -> None:
    for t in TARGETS:
        p = root / t
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


def workspace_files(root: Path) -> dict[str, bytes]:
    """Every file under the targets, by repository-relative path (symlinks fail)."""
    out: dict[str, bytes] = {}
    for t in TARGETS:
        p = root / t
        if not p.exists():
            continue
        paths = [p] if not p.is_dir() else sorted(q for q in p.rglob("*"))
        for q in paths:
            assert not q.is_symlink(), f"{q} is a symlink"
            if q.is_file():
                out[q.relative_to(root).as_posix()] = q.read_bytes()
    return out


def is_exec(p: Path) -> bool:
    return bool(os.stat(p).st_mode & stat.S_IXUSR)


def dvcfile_bytes(root: Path) -> dict[str, bytes]:
    return {t: (root / f"{t}.dvc").read_bytes() for t in TARGETS}


def tree_listing(top: Path) -> dict[str, bytes]:
    if not top.exists():
        return {}
    return {
        p.relative_to(top).as_posix(): p.read_bytes() for p in sorted(top.rglob("*")) if p.is_file()
    }


def status_json(sh: Sh, tool: str, root: Path) -> Any:
    p = (
        sh.bale("status", "--json", cwd=root)
        if tool == "bale"
        else sh.dvc("status", "--json", cwd=root)
    )
    try:
        return json.loads(p.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"{tool} status --json printed {p.stdout!r}") from None


# --------------------------------------------------------------------------
# 1. dvc writes, bale reads


@pytest.mark.interop
def test_bale_reads_and_checks_out_a_repo_written_by_dvc_add(sh: Sh, dvc_repo: Path) -> None:
    root = dvc_repo
    write_data(root)
    sh.dvc("add", *TARGETS, cwd=root)

    assert status_json(sh, "bale", root) == {}

    remove_data(root)
    sh.bale("checkout", cwd=root)

    assert workspace_files(root) == expected_files()
    assert is_exec(root / EXEC_FILE), "the isexec single-file output lost its exec bit"
    assert status_json(sh, "bale", root) == {}
    assert status_json(sh, "dvc", root) == {}


# --------------------------------------------------------------------------
# 2 and 3. bale writes (md5), dvc reads; the same data added by dvc in a twin.


@pytest.fixture(scope="module")
def twins(sh: Sh, dvc_template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``bale add`` in a ``git init && bale init --hash md5`` repository and
    ``dvc add`` of the same data in a ``git init && dvc init`` twin; what the
    adds produced is snapshotted here, before any test changes the repos."""
    base = tmp_path_factory.mktemp("twins")
    a = base / "bale"
    a.mkdir()
    sh.git("init", "-q", cwd=a)
    sh.bale("init", "--hash", "md5", cwd=a)
    write_data(a)
    sh.bale("add", *TARGETS, cwd=a)

    b = base / "dvc"
    shutil.copytree(dvc_template, b, symlinks=True)
    write_data(b)
    sh.dvc("add", *TARGETS, cwd=b)

    def cache_modes(root: Path) -> dict[str, int]:
        top = root / ".dvc/cache/files/md5"
        return {
            p.relative_to(top).as_posix(): stat.S_IMODE(p.stat().st_mode)
            for p in top.rglob("*")
            if p.is_file()
        }

    return {
        "bale": a,
        "dvc": b,
        "bale_dvcfiles": dvcfile_bytes(a),
        "dvc_dvcfiles": dvcfile_bytes(b),
        "bale_cache": tree_listing(a / ".dvc/cache/files/md5"),
        "dvc_cache": tree_listing(b / ".dvc/cache/files/md5"),
        "bale_modes": cache_modes(a),
        "bale_cache_top": sorted(p.name for p in (a / ".dvc/cache").iterdir()),
        "dvc_cache_top": sorted(p.name for p in (b / ".dvc/cache").iterdir()),
        "bale_gitignore": (a / ".gitignore").read_bytes() if (a / ".gitignore").exists() else None,
        "dvc_gitignore": (b / ".gitignore").read_bytes() if (b / ".gitignore").exists() else None,
    }


@pytest.mark.interop
def test_bale_add_md5_writes_dvc_files_identical_to_dvc_and_dvc_reads_them(
    sh: Sh, twins: dict[str, Any]
) -> None:
    root: Path = twins["bale"]
    for t in TARGETS:
        assert twins["bale_dvcfiles"][t].decode() == twins["dvc_dvcfiles"][t].decode(), t

    assert "Data and pipelines are up to date." in sh.dvc("status", cwd=root).stdout

    remove_data(root)
    sh.dvc("checkout", cwd=root)
    assert workspace_files(root) == expected_files()
    assert is_exec(root / EXEC_FILE)

    dvcfiles_before = dvcfile_bytes(root)
    cache_before = sorted(p for p in (root / ".dvc/cache").rglob("*") if p.is_file())
    gitignore_before = (root / ".gitignore").read_bytes()
    sh.dvc("add", *TARGETS, cwd=root)
    assert dvcfile_bytes(root) == dvcfiles_before, "dvc add rewrote a .dvc file bale wrote"
    cache_after = sorted(p for p in (root / ".dvc/cache").rglob("*") if p.is_file())
    assert cache_after == cache_before, "dvc add stored new cache objects"
    assert (root / ".gitignore").read_bytes() == gitignore_before


@pytest.mark.interop
def test_bale_md5_cache_layout_matches_dvc(twins: dict[str, Any]) -> None:
    bale_cache: dict[str, bytes] = twins["bale_cache"]
    dvc_cache: dict[str, bytes] = twins["dvc_cache"]
    assert sorted(bale_cache) == sorted(dvc_cache)
    assert twins["bale_cache_top"] == twins["dvc_cache_top"], "no folder of bale's in the cache"
    assert {k: oct(m) for k, m in twins["bale_modes"].items() if m != 0o444} == {}
    dirs = [k for k in dvc_cache if k.endswith(".dir")]
    assert len(dirs) == len(DIR_TARGETS)
    for k in dirs:
        assert bale_cache[k] == dvc_cache[k], k
    for k, data in bale_cache.items():
        assert data == dvc_cache.get(k), k


@pytest.mark.interop
def test_bale_add_gitignore_entries_match_dvc(twins: dict[str, Any]) -> None:
    assert twins["bale_gitignore"] is not None
    assert twins["bale_gitignore"].decode() == twins["dvc_gitignore"].decode()


# --------------------------------------------------------------------------
# 4. Legacy DVC 2.x outputs (no `hash:` key, dos2unix md5, legacy cache path)

CRLF = b"line1\r\nline2\r\n"
LEGACY_MD5 = "4fcc82a88ee38e0aa16c17f512c685c9"


@pytest.mark.interop
def test_legacy_dvc2_output_is_clean_and_checks_out_from_legacy_cache(
    sh: Sh, dvc_repo: Path
) -> None:
    root = dvc_repo
    assert hashlib.md5(CRLF.replace(b"\r\n", b"\n")).hexdigest() == LEGACY_MD5
    (root / "crlf.txt").write_bytes(CRLF)
    obj = root / ".dvc/cache" / LEGACY_MD5[:2] / LEGACY_MD5[2:]
    obj.parent.mkdir(parents=True)
    obj.write_bytes(CRLF)
    os.chmod(obj, 0o444)
    (root / "crlf.txt.dvc").write_text(
        f"outs:\n- md5: {LEGACY_MD5}\n  size: {len(CRLF)}\n  path: crlf.txt\n"
    )
    dvcfile = (root / "crlf.txt.dvc").read_bytes()

    assert status_json(sh, "bale", root) == {}

    (root / "crlf.txt").unlink()
    sh.bale("checkout", cwd=root)
    assert (root / "crlf.txt").read_bytes() == CRLF
    assert status_json(sh, "bale", root) == {}
    assert (root / "crlf.txt.dvc").read_bytes() == dvcfile
    assert status_json(sh, "dvc", root) == {}


# --------------------------------------------------------------------------
# 6. Both tools detect the same modification; both agree after bale commit


@pytest.mark.interop
def test_modified_file_in_directory_is_reported_by_both_and_cleared_by_bale_commit(
    sh: Sh, tmp_path: Path
) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    sh.git("init", "-q", cwd=root)
    sh.bale("init", "--hash", "md5", cwd=root)
    write_data(root)
    sh.bale("add", "images", cwd=root)
    assert status_json(sh, "bale", root) == {}

    f = root / "images/sub/b.txt"
    f.unlink()  # replace rather than write in place: it could be a read-only link
    f.write_bytes(b"changed content\n")

    expected = {"images.dvc": [{"changed outs": {"images": "modified"}}]}
    bale_st = status_json(sh, "bale", root)
    dvc_st = status_json(sh, "dvc", root)
    assert dvc_st == expected  # the oracle agrees with the test's expectation
    assert bale_st == expected

    sh.bale("commit", cwd=root)
    assert status_json(sh, "bale", root) == {}
    assert status_json(sh, "dvc", root) == {}
