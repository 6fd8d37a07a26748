"""``bale destroy``: stop being a bale/dvc repository, as ``dvc destroy``
does (``dvc/repo/destroy.py``).

Every output is unprotected first, so that data linked from the cache
(hardlinks, symlinks, read-only files) stays in the workspace as private,
writable files; then every ``.dvc`` file, every ``dvc.yaml`` with its
``dvc.lock``, the root ``.dvcignore`` and the whole ``.dvc/`` directory
(config, cache, temp files) are deleted. ``.gitignore`` entries stay, and
nothing is done in git (dvc does neither).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bale import _core, index
from bale.pipeline.stage import LOCK_FILE

if TYPE_CHECKING:
    from bale.repo import Repo

IGNORE_FILE = ".dvcignore"


@dataclass
class DestroyResult:
    """What :func:`destroy` removed (absolute paths)."""

    metafiles: list[Path] = field(default_factory=list)
    #: Files of outputs that were links into the cache and are copies now.
    unprotected: int = 0


def destroy(repo: Repo) -> DestroyResult:
    """Removes everything that makes ``repo`` a repository, keeping its data.

    >>> destroy(Repo("."))  # doctest: +SKIP
    """
    result = DestroyResult()
    with repo.locked():
        # before anything is deleted: a broken metafile stops the command
        # here, with every file still in place
        outputs = [t.path for t in index.collect(repo)]
        pipelines = index.pipeline_paths(repo)
        dvcfiles = index.dvcfiles(repo)
        for path in outputs:
            if path.exists() or path.is_symlink():
                result.unprotected += _core.unprotect(path)
        for path in [*dvcfiles, *pipelines, *(p.with_name(LOCK_FILE) for p in pipelines)]:
            if path.exists():
                path.unlink()
                result.metafiles.append(path)
        ignore = repo.root / IGNORE_FILE
        if ignore.exists():
            ignore.unlink()
            result.metafiles.append(ignore)
    # Outside the lock: the lock file lives in .dvc/tmp, which goes too.
    shutil.rmtree(repo.dvc_dir)
    return result
