"""The repository commands (issue 24): ``root``, each run by bale and by
dvc 3.67.1 on twin repositories of the same shape, comparing what they
print, the files they write and their exit status."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import Run, make_repo

pytestmark = pytest.mark.usefixtures("isolated_config")


def twins(tmp_path: Path, run: Run, *setup: tuple[str, ...]) -> tuple[Path, Path]:
    """An md5 repository (``repo``) after the bale commands ``setup``, git
    committed, and a copy of it (``twin``) for dvc to work in."""
    root = make_repo(tmp_path, "--hash", "md5")
    for args in setup:
        run(*args, cwd=root)
    run("git", "add", "-A", cwd=root)
    run("git", "commit", "-qm", "setup", cwd=root)
    twin = tmp_path / "twin"
    shutil.copytree(root, twin, symlinks=True)
    return root, twin


def same(
    run: Run, args: tuple[str, ...], bale_cwd: Path, dvc_cwd: Path
) -> subprocess.CompletedProcess[str]:
    """Runs ``bale <args>`` and ``dvc <args>``; asserts the same stdout and
    exit status (0 or not: failures are 1 for bale, 255 or 253 for dvc)."""
    b = run("bale", *args, cwd=bale_cwd, ok=None)
    d = run("dvc", *args, cwd=dvc_cwd, ok=None)
    assert (b.stdout, b.returncode == 0) == (d.stdout, d.returncode == 0), (b, d)
    if d.returncode in (0, 1):
        assert b.returncode == d.returncode
    return b


def test_root_is_the_relative_path_to_the_repository_as_dvc_prints_it(
    tmp_path: Path, run: Run
) -> None:
    root, twin = twins(tmp_path, run)
    for sub in ("", "a", "a/b"):
        (root / sub).mkdir(parents=True, exist_ok=True)
        (twin / sub).mkdir(parents=True, exist_ok=True)
        assert same(run, ("root",), root / sub, twin / sub).returncode == 0
    outside = tmp_path / "outside"
    outside.mkdir()
    err = run("bale", "root", cwd=outside, ok=False).stderr
    assert err.startswith("ERROR: ") and "not inside a bale or dvc repository" in err
