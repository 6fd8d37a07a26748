"""dvc 3.67.1's http remote against ``bale serve``: push, the layout it leaves, pull back.

dvc-http uploads with ``POST`` and a chunked body and checks existence with
``GET``; the served folder must end up exactly as a folder remote would.
"""

from __future__ import annotations

import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.remotes.http_server import serving

Sh = Any  # the `sh` fixture of conftest.py: .dvc(), .git()

DATA = {
    "a.txt": b"alpha\n",
    "sub/b.bin": bytes(range(256)) * 40,
    "sub/c.txt": b"crlf\r\nline\r\n",
    "empty": b"",
}
TOKEN = "tok-4f1c9e"


def write_data(root: Path) -> None:
    for rel, content in DATA.items():
        (root / "data" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "data" / rel).write_bytes(content)


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def add(sh: Sh, repo: Path) -> None:
    write_data(repo)
    sh.dvc("add", "-q", "data", cwd=repo)


def push_then_pull(sh: Sh, repo: Path, served: Path) -> None:
    sh.dvc("push", "-q", cwd=repo)

    cache = repo / ".dvc" / "cache"
    assert tree(served) == tree(cache)  # DVC's layout: files/md5/xx/..., the .dir included
    assert any(k.endswith(".dir") for k in tree(served))
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o444 for p in served.rglob("*") if p.is_file())
    assert list(served.rglob(".*")) == []  # no temp file left behind

    shutil.rmtree(cache)
    shutil.rmtree(repo / "data")
    sh.dvc("pull", "-q", cwd=repo)
    assert tree(repo / "data") == DATA


def configure(repo: Path, url: str, password: str | None = None) -> None:
    """Writes what ``dvc remote add -d`` and ``dvc remote modify [--local]`` would, ~1 s faster."""
    config = f"[core]\n    remote = r\n['remote \"r\"']\n    url = {url}\n"
    if password is not None:
        config += "    auth = custom\n    custom_auth_header = Authorization\n"
        local = f"['remote \"r\"']\n    password = {password}\n"
        (repo / ".dvc" / "config.local").write_text(local)
    (repo / ".dvc" / "config").write_text(config)


@pytest.mark.interop
def test_dvc_push_and_pull_through_bale_serve(sh: Sh, dvc_repo: Path, tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    with serving(served) as url:
        configure(dvc_repo, url)
        add(sh, dvc_repo)
        push_then_pull(sh, dvc_repo, served)


@pytest.mark.interop
def test_dvc_with_custom_auth_and_bale_serve_token(sh: Sh, dvc_repo: Path, tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    with serving(served, token=TOKEN) as url:
        configure(dvc_repo, url, password="Bearer wrong")
        add(sh, dvc_repo)
        refused = sh.dvc("push", "-q", cwd=dvc_repo, check=False)
        assert refused.returncode != 0 and list(served.rglob("*")) == []

        configure(dvc_repo, url, password=f"Bearer {TOKEN}")
        push_then_pull(sh, dvc_repo, served)
