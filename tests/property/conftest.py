"""Fixtures for the property tests: an isolated environment for ``dvc`` and a
template repository made once by ``dvc init --no-scm`` (copied per example,
so each example costs exactly one dvc call: its ``dvc add``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


class DvcEnv(dict[str, str]):
    """The environment for dvc subprocesses (a short repr keeps hypothesis' reports readable)."""

    def __repr__(self) -> str:
        return "DvcEnv(...)"


@pytest.fixture(scope="session")
def dvc_env(tmp_path_factory: pytest.TempPathFactory) -> DvcEnv:
    base = tmp_path_factory.mktemp("dvc-env")
    (base / "site").mkdir()
    (base / "config").mkdir()
    env = DvcEnv(os.environ)
    env.update(
        DVC_NO_ANALYTICS="1",
        CI="1",  # no update check from dvc
        DVC_SITE_CACHE_DIR=str(base / "site"),
        DVC_GLOBAL_CONFIG_DIR=str(base / "config"),
        DVC_SYSTEM_CONFIG_DIR=str(base / "config"),
        LC_ALL="C.UTF-8",
    )
    return env


@pytest.fixture(scope="session")
def dvc_noscm_template(dvc_env: DvcEnv, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dvc-noscm") / "repo"
    root.mkdir()
    subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=root, env=dvc_env, check=True)
    return root
