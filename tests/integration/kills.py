"""Killing bale at a chosen moment, and what must hold after the rerun.

``BALE_TEST_KILL_AT=<point>:<n>`` makes a bale process SIGKILL itself the
n-th time it passes a crash point (``rust/bale-odb/src/failpoint.rs``):
``temp`` (a temp file exists beside its destination, not yet renamed) or
``upload`` (one more object or pack is on the remote). That is ``kill -9``
at the most fragile moments, chosen instead of hoped for.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bale import _core
from tests.integration.conftest import GIT_ENV, Run


def killed_at(point: str, n: int, cwd: Path, *args: str) -> None:
    """Runs ``bale <args>`` in ``cwd`` and checks that it died at the
    ``n``-th pass of ``point`` (not before, by an error; not after, done)."""
    env = {**os.environ, **GIT_ENV, "BALE_TEST_KILL_AT": f"{point}:{n}", "BALE_JOBS": "2"}
    cmd = [sys.executable, "-m", "bale", *args]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == -9, (
        f"bale {' '.join(args)} was to be killed at {point}:{n} but exited "
        f"{proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    )


def temp_files(root: Path) -> list[str]:
    """bale's temp files anywhere under ``root`` (outside ``.git``)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        found += [os.path.join(dirpath, f) for f in filenames if f.startswith(".bale")]
    return found


def assert_cache_whole(cache: Path) -> None:
    """Every object under an object name hashes to that name."""
    areas = {"md5": cache / "files" / "md5", "blake3": cache / "bale" / "blake3"}
    for algo, area in areas.items():
        for obj in area.rglob("*"):
            if not obj.is_file() or obj.name.endswith(".chunks"):
                continue
            oid, _size = _core.hash_file(obj, algo)
            name = obj.parent.name + obj.name.removesuffix(".dir").removesuffix(".tree")
            assert oid == name, f"{obj} holds {oid}"


def assert_settled(repo: Path, run: Run) -> None:
    """The state every interrupted command must leave once rerun: no temp
    file anywhere, a whole cache, and a workspace that matches the metafiles."""
    assert temp_files(repo) == []
    assert_cache_whole(repo / ".dvc" / "cache")
    status = run("bale", "status", cwd=repo).stdout
    assert "up to date" in status, status
