"""Bad input, concurrency, crashes and link types: nothing is ever lost."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import bale
from bale import _core

from .conftest import Run, read_tree, write_tree


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("ERROR: ")
    return lines[0]


def test_missing_target_is_one_clear_line(repo: Path, run: Run) -> None:
    line = _one_error_line(run("bale", "add", "nope", ok=False).stderr)
    assert "nope" in line and "no such file" in line


def test_targets_outside_the_repository_or_inside_dvc_dir_are_refused(
    repo: Path, tmp_path: Path, run: Run
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    assert "outside the repository" in _one_error_line(
        run("bale", "add", str(outside), ok=False).stderr
    )
    assert ".dvc" in _one_error_line(run("bale", "add", ".dvc/config", ok=False).stderr)


def test_malformed_dvc_file_names_the_file(repo: Path, run: Run) -> None:
    (repo / "bad.dvc").write_text("outs:\n- path: x\n  xtra: 1\n")
    line = _one_error_line(run("bale", "status", ok=False).stderr)
    assert "bad.dvc" in line and "xtra" in line
    (repo / "bad.dvc").write_text("outs: [\n")
    line = _one_error_line(run("bale", "status", ok=False).stderr)
    assert "bad.dvc" in line and "line" in line


def test_malformed_config_names_the_file(repo: Path, run: Run) -> None:
    (repo / ".dvc" / "config").write_text("[core]\n    bogus = 1\n")
    line = _one_error_line(run("bale", "status", ok=False).stderr)
    assert "config" in line and "bogus" in line


def test_corrupt_cache_object_is_reported_and_never_checked_out(md5_repo: Path, run: Run) -> None:
    write_tree(md5_repo, {"f.txt": "good\n"})
    run("bale", "add", "f.txt")
    obj = next((md5_repo / ".dvc" / "cache" / "files" / "md5").rglob("*"), None)
    objs = [p for p in (md5_repo / ".dvc" / "cache").rglob("*") if p.is_file()]
    assert len(objs) == 1 and obj is not None
    objs[0].chmod(0o644)
    objs[0].write_text("evil\n")
    (md5_repo / "f.txt").unlink()
    line = _one_error_line(run("bale", "checkout", ok=False).stderr)
    assert "corrupt" in line
    assert not (md5_repo / "f.txt").exists()


def test_a_second_writer_is_told_who_holds_the_lock(repo: Path, run: Run) -> None:
    write_tree(repo, {"f.txt": "x"})
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from bale.lock import repo_lock; from pathlib import Path\n"
            "with repo_lock(Path('.dvc/tmp')):\n    print('locked', flush=True); time.sleep(30)",
        ],
        cwd=repo,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        line = _one_error_line(run("bale", "add", "f.txt", ok=False).stderr)
        assert f"process {holder.pid}" in line
        # Readers take no lock, so they never wait for a writer.
        # (nothing is tracked yet: status says so, as dvc's does)
        assert "no data or pipelines tracked" in run("bale", "status").stdout
    finally:
        holder.kill()
        holder.wait()
    # The kernel dropped the dead holder's lock: the next writer proceeds.
    run("bale", "add", "f.txt")


def test_kill_9_during_add_leaves_a_consistent_cache(md5_repo: Path, run: Run) -> None:
    data = md5_repo / "data"
    for d in range(20):
        write_tree(data / f"d{d:02}", {f"f{i:03}": os.urandom(2048) for i in range(500)})
    cmd = [sys.executable, "-m", "bale", "add", "data"]
    proc = subprocess.Popen(cmd, cwd=md5_repo, env={**os.environ, "BALE_JOBS": "2"})
    cache = md5_repo / ".dvc" / "cache" / "files" / "md5"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        if cache.exists() and sum(1 for _ in cache.rglob("*")) > 500:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (md5_repo / "data.dvc").exists() or proc.returncode == 0
    # Every object under an object name is complete and correct.
    for obj in cache.rglob("*"):
        if obj.is_file() and not obj.name.startswith("."):
            oid, _ = _core.hash_file(obj, "md5")
            assert obj.parent.name + obj.name == oid
    run("bale", "add", "data")
    # gc collects the killed writer's temp files, and only those.
    run("bale", "gc", "-w", "-f")
    assert not [p for p in cache.rglob(".bale*.tmp")]
    before = read_tree(data)
    shutil.rmtree(data)
    run("bale", "checkout")
    assert read_tree(data) == before


@pytest.mark.parametrize("kind", ["hardlink", "symlink", "copy"])
def test_linked_checkouts_protect_the_cache(repo: Path, run: Run, kind: str) -> None:
    write_tree(repo / "data", {"a": "original\n", "s/b": "b\n"})
    run("bale", "config", "cache.type", kind)
    run("bale", "add", "data")
    a = repo / "data" / "a"
    if kind == "hardlink":
        assert a.stat().st_nlink == 2
        assert a.stat().st_mode & 0o777 == 0o444
    if kind == "symlink":
        assert a.is_symlink() and os.path.isabs(os.readlink(a))
    run("bale", "unprotect", "data/a")
    a.write_text("edited\n")
    shutil.rmtree(repo / "data" / "s")
    run("bale", "checkout", "--force")
    assert a.read_text() == "original\n", "the edit must not have reached the cache"
    assert (repo / "data" / "s" / "b").read_text() == "b\n"

    # A whole directory at once: every file becomes a private, writable copy.
    assert "unprotected 2 file(s)" in run("bale", "unprotect", "data").stdout
    for f in (a, repo / "data" / "s" / "b"):
        assert not f.is_symlink() and f.stat().st_nlink == 1 and os.access(f, os.W_OK)
        f.write_text("edited\n")
    run("bale", "checkout", "--force")
    assert a.read_text() == "original\n"


def _mount_xfs(tmp_path: Path) -> Path | None:
    if os.geteuid() != 0 or shutil.which("mkfs.xfs") is None:
        return None
    img, mnt = tmp_path / "xfs.img", tmp_path / "xfs"
    mnt.mkdir()
    with open(img, "wb") as f:
        f.truncate(512 << 20)
    ok = subprocess.run(["mkfs.xfs", "-q", "-m", "reflink=1", str(img)]).returncode == 0
    if not ok or subprocess.run(["mount", "-o", "loop", str(img), str(mnt)]).returncode != 0:
        return None
    return mnt


def test_reflink_checkout_on_xfs_shares_blocks_and_stays_independent(tmp_path: Path) -> None:
    mnt = _mount_xfs(tmp_path)
    if mnt is None:
        pytest.skip("needs root and mkfs.xfs (make dev installs xfsprogs) to loop-mount XFS")
    try:
        root = mnt / "repo"
        root.mkdir()
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        repo = bale.Repo.init(root)
        write_tree(root / "data", {"big": os.urandom(4 << 20)})
        repo.add([root / "data"])
        assert _core.probe_links(repo.cache_dir, root)[0] == "reflink"
        shutil.rmtree(root / "data")
        result = repo.checkout()
        assert result.link_types == {"reflink"}
        f = root / "data" / "big"
        f.write_bytes(b"edited")  # a reflink is a private copy
        assert bale.Repo(root).status().changed
        repo.checkout(force=True)
        assert len(f.read_bytes()) == 4 << 20
    finally:
        subprocess.run(["umount", str(mnt)])


def test_python_api_returns_typed_results_and_builtin_exceptions(tmp_path: Path) -> None:
    root = tmp_path / "api"
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    repo = bale.Repo.init(root, hash="md5")
    write_tree(root, {"f.txt": "hello\n"})
    [r] = repo.add([root / "f.txt"])
    assert (r.oid, r.size, r.hash) == ("b1946ac92492d2347c6235b4d2611184", 6, "md5")
    assert repo.status().clean
    with pytest.raises(FileNotFoundError):
        repo.add([root / "missing"])
    with pytest.raises(bale.BaleError):
        repo.add([root / "missing"])
    with pytest.raises(bale.NotARepositoryError):
        bale.Repo(tmp_path)


def _cached(repo: Path) -> list[Path]:
    return sorted(p for p in (repo / ".dvc" / "cache" / "files").rglob("*") if p.is_file())


def test_gc_keeps_stage_outputs_and_stops_on_an_unreadable_pipeline(
    md5_repo: Path, run: Run
) -> None:
    write_tree(md5_repo, {"f.txt": "x", "in.txt": "i"})
    run("bale", "add", "f.txt")
    run("bale", "stage", "add", "-n", "s", "-d", "in.txt", "-o", "o.txt", "cp in.txt o.txt")
    run("bale", "repro")
    cached = _cached(md5_repo)
    assert len(cached) == 2  # f.txt and o.txt's content
    run("bale", "gc", "-w", "-f")
    assert _cached(md5_repo) == cached
    # a dvc.yaml bale cannot read could hide outputs: nothing is deleted
    (md5_repo / "f.txt.dvc").unlink()
    (md5_repo / "dvc.yaml").write_text("stages:\n  s: [\n")
    line = _one_error_line(run("bale", "gc", "-w", "-f", ok=False).stderr)
    assert "dvc.yaml" in line
    assert _cached(md5_repo) == cached


@pytest.mark.interop
def test_gc_keeps_the_objects_of_imports(md5_repo: Path, tmp_path: Path, run: Run) -> None:
    ext = tmp_path / "ext.txt"
    ext.write_text("imported\n")
    run("dvc", "import-url", str(ext), "imp.txt")
    run("bale", "gc", "-w", "-f")
    (md5_repo / "imp.txt").unlink()
    run("dvc", "checkout", "imp.txt.dvc")
    assert (md5_repo / "imp.txt").read_text() == "imported\n"


def test_files_inside_symlinked_directories_are_refused_before_anything_is_stored(
    repo: Path, tmp_path: Path, run: Run
) -> None:
    outside = tmp_path / "outside"
    write_tree(outside, {"x.txt": "x"})
    (repo / "lnk").symlink_to(outside)
    line = _one_error_line(run("bale", "add", "lnk/x.txt", ok=False).stderr)
    assert "symlinked" in line
    assert not (outside / "x.txt.dvc").exists()
    assert not (repo / ".dvc" / "cache").exists()


def test_outputs_outside_the_repository_are_a_metafile_error(repo: Path, run: Run) -> None:
    (repo / "bad.dvc").write_text("outs:\n- md5: d41d8cd98f00b204e9800998ecf8427e\n  path: ../zz\n")
    line = _one_error_line(run("bale", "status", ok=False).stderr)
    assert "bad.dvc" in line and "outside the repository" in line


def test_unsaved_changes_are_kept_and_what_was_restored_beside_them_is_named(
    md5_repo: Path, tmp_path: Path, run: Run
) -> None:
    """An output with changes the cache lacks is left alone, the others are
    restored (dvc restores nothing), and checkout and pull name what they
    restored before the one-line error."""
    write_tree(md5_repo, {"d/x": "1\n", "d/y": "2\n", "a.txt": "a\n", "b.txt": "b\n"})
    run("bale", "add", "d", "a.txt", "b.txt")
    run("bale", "remote", "add", "-d", "store", str(tmp_path / "store"))
    run("bale", "push")
    for command in ("checkout", "pull"):
        (md5_repo / "d" / "x").unlink()
        (md5_repo / "a.txt").unlink()
        (md5_repo / "b.txt").write_text("unsaved\n")
        proc = run("bale", command, ok=False)
        assert proc.returncode == 1
        assert "b.txt; use --force to discard them" in _one_error_line(proc.stderr)
        assert proc.stdout.splitlines()[:2] == ["M       d/", "A       a.txt"], command
        assert read_tree(md5_repo / "d") == {"x": b"1\n", "y": b"2\n"}
        assert (md5_repo / "a.txt").read_text() == "a\n"
        assert (md5_repo / "b.txt").read_text() == "unsaved\n"
