"""Fixtures for the dvc interop tests: a quiet, isolated environment for
``bale``/``dvc``/``git`` subprocesses and a template repository made once by
``git init && dvc init`` (copied per test, so each test pays no ``dvc init``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests import dvcfork


def tool_env(site: Path, config_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DVC_NO_ANALYTICS="1",
        CI="1",  # no update check from dvc
        DVC_SITE_CACHE_DIR=str(site),
        DVC_GLOBAL_CONFIG_DIR=str(config_dir),
        DVC_SYSTEM_CONFIG_DIR=str(config_dir),
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@t",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@t",
        GIT_CONFIG_NOSYSTEM="1",
        LC_ALL="C.UTF-8",
    )
    return env


class Sh:
    """Runs the tools as subprocesses; every call must succeed unless ``check=False``."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def run(
        self, argv: Sequence[str | os.PathLike[str]], cwd: Path, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        p = subprocess.run(
            [str(a) for a in argv],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            encoding="utf-8",
        )
        return self._checked(argv, cwd, check, p)

    def _checked(
        self,
        argv: Sequence[str | os.PathLike[str]],
        cwd: Path,
        check: bool,
        p: subprocess.CompletedProcess[str],
    ) -> subprocess.CompletedProcess[str]:
        if check and p.returncode != 0:
            raise AssertionError(
                f"{' '.join(map(str, argv))} (in {cwd}) exited {p.returncode}\n"
                f"--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}"
            )
        return p

    def bale(self, *args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run([sys.executable, "-m", "bale", *args], cwd, check)

    def dvc(self, *args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        # forked from a process that has imported dvc: a new one per command
        # would spend most of its second importing it (tests/dvcfork.py)
        return self._checked(["dvc", *args], cwd, check, dvcfork.run(args, cwd, self.env))

    def git(self, *args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(["git", *args], cwd, check)


@pytest.fixture(scope="session")
def sh(tmp_path_factory: pytest.TempPathFactory) -> Sh:
    base = tmp_path_factory.mktemp("tools")
    (base / "site").mkdir()
    (base / "config").mkdir()
    return Sh(tool_env(base / "site", base / "config"))


@pytest.fixture(scope="session")
def dvc_template(sh: Sh, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository made by ``git init && dvc init`` (once per session)."""
    root = tmp_path_factory.mktemp("dvc-template") / "repo"
    root.mkdir()
    sh.git("init", "-q", cwd=root)
    sh.dvc("init", "-q", cwd=root)
    return root


def copy_repo(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest, symlinks=True)
    return dest


@pytest.fixture
def dvc_repo(dvc_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the ``git init && dvc init`` template."""
    return copy_repo(dvc_template, tmp_path / "dvcrepo")
