"""``bale remove``: stop tracking outputs."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bale import scm
from bale.console import debug
from bale.exceptions import TargetError, TargetNotFoundError
from bale.index import abspath, inside_repo
from bale.metafiles import load_dvcfile, unignore_in_git

if TYPE_CHECKING:
    from bale.repo import Repo


def remove(repo: Repo, targets: Sequence[str | Path], *, outs: bool = False) -> list[Path]:
    """Deletes each ``.dvc`` file and its outputs' ``.gitignore`` lines; with
    ``outs``, the outputs too. The cache keeps the data (``gc`` frees it)."""
    removed = []
    git = scm.uses_git(repo)  # with core.no_scm, .gitignore files are not bale's to edit
    with repo.locked():
        for target in targets:
            path = abspath(target)
            inside_repo(repo, path)
            if not path.name.endswith(".dvc"):
                path = path.with_name(path.name + ".dvc")
            if not path.is_file():
                raise TargetNotFoundError(f"{target}: no such .dvc file")
            f = load_dvcfile(path, repo.memo)
            for o in f.outs:
                out = abspath(path.parent / o.path)
                if not out.is_relative_to(repo.root):
                    raise TargetError(f"{path}: output {o.path} is outside the repository")
                rel = out.relative_to(repo.root).as_posix()
                if git:
                    changed = unignore_in_git(repo.root, out)
                    if changed is not None:
                        where = changed.relative_to(repo.root).as_posix()
                        debug(f"removed {rel}'s entry from {where}")
                if outs and (out.exists() or out.is_symlink()):
                    if out.is_dir() and not out.is_symlink():
                        shutil.rmtree(out)
                    else:
                        out.unlink()
                    debug(f"deleted {rel} from the workspace (the cache keeps its data)")
                else:
                    debug(f"{rel}: left in the workspace, untracked")
            path.unlink()
            debug(f"deleted {path.relative_to(repo.root).as_posix()}")
            removed.append(path)
    return removed
