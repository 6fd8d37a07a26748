"""A small harness for CLI tests: run bale as a user would, in a scratch repo."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import dvcfork

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}

Run = Callable[..., subprocess.CompletedProcess[str]]


def _run(
    cmd: list[str], cwd: Path, ok: bool | None = True, **kw: object
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **GIT_ENV}
    if cmd[0] == "dvc" and not kw:
        # forked from a process that has imported dvc (tests/dvcfork.py)
        proc = dvcfork.run(cmd[1:], cwd, env)
    else:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, **kw)  # type: ignore[call-overload]
    if ok is True and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    if ok is False and proc.returncode == 0:
        raise AssertionError(f"{cmd} should have failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def run(tmp_path: Path) -> Run:
    """``run("bale", "add", "x", ok=False)`` in the scratch repository."""

    def runner(
        *args: str, cwd: Path | None = None, ok: bool | None = True
    ) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if cmd[0] == "bale":
            cmd = [sys.executable, "-m", "bale", *cmd[1:]]
        return _run(cmd, cwd or tmp_path / "repo", ok=ok)

    return runner


def make_repo(tmp_path: Path, *init_args: str) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    _run(["git", "init", "-q"], root)
    _run([sys.executable, "-m", "bale", "init", "-q", *init_args], root)
    return root


@pytest.fixture(params=["blake3", "md5"])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A git repository with ``bale init --hash <algo>``, in both modes."""
    return make_repo(tmp_path, "--hash", request.param)


@pytest.fixture
def md5_repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path, "--hash", "md5")


def write_tree(root: Path, files: dict[str, bytes | str]) -> None:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)


def read_tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system config of bale's or dvc's leaks in; dvc stays quiet."""
    for level in ("GLOBAL", "SYSTEM"):
        d = tmp_path / f"{level.lower()}-config"
        d.mkdir()
        monkeypatch.setenv(f"DVC_{level}_CONFIG_DIR", str(d))
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(tmp_path / "site-cache"))
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("CI", "1")
