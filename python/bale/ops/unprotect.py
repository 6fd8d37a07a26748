"""``bale unprotect``: make linked workspace files private and writable.

With ``cache.type`` hardlink or symlink, a workspace file is the cache's own
read-only object; editing it in place would corrupt the cache. Unprotecting
replaces each link with a private copy (and makes plain files writable), so
the file can be edited and re-added.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bale import _core
from bale.exceptions import TargetNotFoundError
from bale.index import abspath, inside_repo

if TYPE_CHECKING:
    from bale.repo import Repo


def unprotect(repo: Repo, targets: Sequence[str | Path]) -> int:
    """Unprotects each target (a file, or every file under a directory);
    returns how many files were handled."""
    paths = []
    for target in targets:
        path = abspath(target)
        inside_repo(repo, path)
        if not (path.exists() or path.is_symlink()):
            raise TargetNotFoundError(f"{target}: no such file or directory")
        paths.append(path)
    with repo.locked():
        return sum(_core.unprotect(p) for p in paths)
