"""``.gitignore`` entries for tracked outputs, written the way ``dvc add`` writes them.

Mirrors ``scmrepo/git/__init__.py``: ``Git._get_gitignore``, ``ignore``,
``_add_entry_to_gitignore`` and ``ignore_remove``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bale.exceptions import TargetError
from bale.metafiles._fs import atomic_write

__all__ = ["escape_entry", "git_ignored", "gitignore_entry", "ignore_in_git", "unignore_in_git"]

GITIGNORE = ".gitignore"
# pathspec's GitWildMatchPattern.escape, which scmrepo uses
_SPECIAL = "\\[]!*#?"


def escape_entry(entry: str) -> str:
    """Escape gitignore glob characters exactly like ``GitWildMatchPattern.escape``."""
    return "".join(f"\\{c}" if c in _SPECIAL else c for c in entry)


def gitignore_entry(path: Path) -> str:
    """The unescaped ``/<name>`` entry for ``path`` in its parent's ``.gitignore``."""
    return "/" + Path(path).name


def _git_toplevel(directory: Path) -> Path | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "--show-toplevel"],
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        return None
    if proc.returncode != 0:
        return None
    top = os.fsdecode(proc.stdout.rstrip(b"\n"))
    return Path(top).resolve() if top else None


def _is_ignored(toplevel: Path, path: Path) -> bool:
    return bool(_ignored_among(toplevel, [path]))


def _ignored_among(toplevel: Path, paths: list[Path]) -> list[Path]:
    # --no-index: a tracked path still counts as ignored by the patterns, like dulwich's
    # IgnoreFilterManager that scmrepo asks first
    rels = {os.path.relpath(os.path.abspath(p), toplevel): p for p in paths}
    proc = subprocess.run(
        ["git", "-C", str(toplevel), "check-ignore", "--no-index", "--stdin", "-z"],
        input=b"".join(os.fsencode(r) + b"\0" for r in rels),
        capture_output=True,
        check=False,
    )
    if proc.returncode not in (0, 1):  # 1: none ignored
        return []
    return [rels[os.fsdecode(r)] for r in proc.stdout.split(b"\0") if r]


def _locate(repo_root: Path, path: Path) -> tuple[Path, Path] | None:
    """Return (git toplevel, absolute path) or None when not in a git work tree."""
    path = Path(os.path.abspath(path))
    parent = path.parent.resolve()
    path = parent / path.name
    root = Path(repo_root).resolve()
    if parent != root and root not in parent.parents:
        raise TargetError(f"'{path}' is outside of the repository '{root}'")
    toplevel = _git_toplevel(parent)
    if toplevel is None:
        return None
    if parent != toplevel and toplevel not in parent.parents:
        raise TargetError(f"'{path}' is outside of git repository '{toplevel}'")
    return toplevel, path


def git_ignored(repo_root: Path, paths: list[Path]) -> list[Path]:
    """Those of ``paths`` (inside the repository) that git's ignore rules
    cover, asked in one ``git check-ignore``; none outside a git work tree."""
    toplevel = _git_toplevel(Path(repo_root))
    return _ignored_among(toplevel, paths) if toplevel is not None and paths else []


def ignore_in_git(repo_root: Path, path: Path) -> Path | None:
    """Add ``/<name>`` for ``path`` to the ``.gitignore`` in its parent directory.

    Does nothing when git already ignores ``path`` or when the directory is not in a
    git work tree. Returns the ``.gitignore`` that was changed, else None.
    """
    located = _locate(repo_root, path)
    if located is None:
        return None
    toplevel, path = located
    if _is_ignored(toplevel, path):
        return None
    gitignore = path.parent / GITIGNORE
    entry = escape_entry(gitignore_entry(path))
    try:
        content = gitignore.read_bytes().decode("utf-8", errors="surrogateescape")
    except FileNotFoundError:
        content = ""
    prefix = "" if not content or content.endswith("\n") else "\n"
    # scmrepo's duplicate check reads from the end of an "a+" file and so never fires:
    # it always appends. That is also right when a later "!" line re-included the path.
    atomic_write(gitignore, f"{content}{prefix}{entry}\n".encode("utf-8", errors="surrogateescape"))
    return gitignore


def _lines(text: str) -> list[str]:
    # like readlines(): split on "\n" only (str.splitlines would also split on \x0b, \x85...)
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def unignore_in_git(repo_root: Path, path: Path) -> Path | None:
    """Remove the entry for ``path`` from its parent's ``.gitignore`` (as ``dvc remove``).

    The file is deleted when nothing is left in it. Returns the ``.gitignore`` changed
    or deleted, else None.
    """
    located = _locate(repo_root, path)
    if located is None:
        return None
    _, path = located
    gitignore = path.parent / GITIGNORE
    try:
        content = gitignore.read_bytes().decode("utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return None
    raw = gitignore_entry(path)
    # scmrepo compares with the unescaped entry, so it never removes an escaped line;
    # accept both so names with glob characters are cleaned up too
    entries = {raw.strip(), escape_entry(raw).strip()}
    lines = _lines(content)
    kept = [line for line in lines if line.strip() not in entries]
    if len(kept) == len(lines):
        return None
    if not kept:
        gitignore.unlink()
        return gitignore
    atomic_write(gitignore, "".join(kept).encode("utf-8", errors="surrogateescape"))
    return gitignore
