"""The little bale needs from git, through the ``git`` command."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bale.exceptions import BaleError


def _git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    try:
        proc = subprocess.run(["git", *args], cwd=root, capture_output=True, check=False)
    except FileNotFoundError:
        raise BaleError("git is not installed") from None
    if check and proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise BaleError(f"git {' '.join(args)}: {msg[-1] if msg else 'failed'}")
    return proc


def is_git_repo(root: Path) -> bool:
    """Whether ``root`` is inside a git work tree."""
    try:
        proc = _git(root, "rev-parse", "--is-inside-work-tree", check=False)
    except BaleError:
        return False
    return proc.returncode == 0 and proc.stdout.strip() == b"true"


def toplevel(root: Path) -> Path:
    """The root of the git work tree that holds ``root``."""
    return Path(_git(root, "rev-parse", "--show-toplevel").stdout.decode().strip())


def git_add(root: Path, paths: list[Path]) -> None:
    """Stages ``paths`` (as ``dvc init`` and autostage do)."""
    if paths:
        _git(root, "add", "--", *[str(p) for p in paths])


def resolve_rev(root: Path, rev: str) -> str:
    """The commit id of ``rev``."""
    out = _git(root, "rev-parse", "--verify", f"{rev}^{{commit}}", check=False)
    if out.returncode != 0:
        raise BaleError(f"unknown git revision '{rev}'")
    return out.stdout.decode().strip()


def files_at(root: Path, rev: str, suffix: str) -> list[str]:
    """Repository-relative paths at ``rev`` ending in ``suffix``."""
    out = _git(root, "ls-tree", "-r", "-z", "--name-only", "--full-tree", rev)
    names = out.stdout.decode("utf-8", errors="surrogateescape").split("\0")
    return [n for n in names if n.endswith(suffix)]


def read_at(root: Path, rev: str, path: str) -> str:
    """The text of ``path`` at ``rev``."""
    data = _git(root, "show", f"{rev}:{path}").stdout
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BaleError(f"{rev}:{path}: not valid UTF-8 (byte {e.start})") from None
