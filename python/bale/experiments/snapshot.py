"""Commits of a workspace that never touch the user's branch or index: a
private index file, ``write-tree`` and ``commit-tree``, then a ref."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from bale import scm

#: The private index files of :func:`commit_workspace`, in the git directory:
#: ``bale-exp-index-<pid>-<random>``.
INDEX_PREFIX = "bale-exp-index-"


def commit_workspace(
    root: Path,
    parent: str,
    message: str,
    extra: list[Path],
    replace: dict[str, bytes] | None = None,
    force: bool = False,
) -> str:
    """A commit (child of ``parent``) of the git-tracked files of the work
    tree at ``root`` as they are now, plus ``extra`` paths (dvc.lock,
    .gitignore, metrics: what a run changed), with the files of ``replace``
    (top-relative path -> content) swapped in without touching the work
    tree; with ``force``, ``extra`` paths that git ignores are taken too.
    Returns its id."""
    top = scm.toplevel(root)
    git_dir = Path(scm.git(root, "rev-parse", "--absolute-git-dir").stdout.decode().strip())
    # named by this process, so that 'exp clean' knows a killed writer's leftover
    fd, index = tempfile.mkstemp(prefix=f"{INDEX_PREFIX}{os.getpid()}-", dir=git_dir)
    os.close(fd)
    try:
        if (git_dir / "index").exists():
            # with its mtime: git re-reads a file changed in the second its
            # index was written ("racy git") only while the index has that time
            shutil.copy2(git_dir / "index", index)
        env = {"GIT_INDEX_FILE": index}
        scm.git(top, "add", "-u", env=env)
        paths = [str(p) for p in extra if p.exists()]
        if paths:
            scm.git(top, "add", *(["--force"] if force else []), "--", *paths, env=env)
        for rel, data in (replace or {}).items():
            blob = scm.git(top, "hash-object", "-w", "--stdin", input=data).stdout.decode().strip()
            scm.git(top, "update-index", "--add", "--cacheinfo", f"100644,{blob},{rel}", env=env)
        tree = scm.git(top, "write-tree", env=env).stdout.decode().strip()
    finally:
        os.unlink(index)
    out = scm.git(top, "commit-tree", tree, "-p", parent, "-m", message)
    return out.stdout.decode().strip()


def set_ref(root: Path, ref: str, commit: str) -> None:
    scm.git(root, "update-ref", ref, commit)


def delete_ref(root: Path, ref: str) -> None:
    scm.git(root, "update-ref", "-d", ref)
