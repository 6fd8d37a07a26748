"""``bale move``: rename or move an output that a ``.dvc`` file tracks, and
its ``.dvc`` file with it, by dvc's rules (``dvc/repo/move.py``).

- A destination that is a directory receives the output under its own name.
- When the ``.dvc`` file is named after the output (``data`` and
  ``data.dvc``), it moves too: ``<dst>.dvc`` beside the destination, with
  ``path:`` the destination's name. Otherwise the same ``.dvc`` file is
  kept and ``path:`` becomes the destination relative to it.
- The output's ``.gitignore`` entry moves with it.
- Pipeline outputs are refused: ``dvc.yaml`` is the user's to edit.
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import scm
from bale.console import debug
from bale.exceptions import OutputNotTrackedError, TargetError
from bale.index import abspath, collect, inside_repo
from bale.metafiles import dvcfile_path_for, ignore_in_git, unignore_in_git
from bale.metafiles.dvcfile import DvcFile, dump_dvcfile

if TYPE_CHECKING:
    from bale.repo import Repo


@dataclass
class MoveResult:
    """What :func:`move` changed, absolute paths."""

    src: Path
    dst: Path
    #: The ``.dvc`` file before and after (the same when it was not renamed).
    old_dvcfile: Path
    dvcfile: Path
    #: ``.gitignore`` files edited (those that still exist afterwards).
    gitignores: list[Path]

    @property
    def changed(self) -> list[Path]:
        """The files git should stage, as dvc's ``git add`` hint names them."""
        files = {self.dvcfile, self.old_dvcfile, *self.gitignores}
        return sorted(files)


def move(repo: Repo, src: str | Path, dst: str | Path) -> MoveResult:
    """Moves the tracked output ``src`` to ``dst`` and rewrites the ``.dvc``
    file that tracks it.

    >>> move(Repo("."), "data", "archive/data-2024")  # doctest: +SKIP
    """
    src_path = abspath(src)
    inside_repo(repo, src_path)
    dst_path = abspath(dst)
    inside_repo(repo, dst_path, "destination")
    if dst_path.is_dir():
        dst_path = dst_path / src_path.name
    if dst_path.exists() or dst_path.is_symlink():
        # dvc would overwrite it: bale does not destroy data it does not track
        raise TargetError(f"{dst_path}: destination already exists")

    found = [t for t in collect(repo) if t.path == src_path]
    if not found:
        raise OutputNotTrackedError(f"{src}: not tracked by any .dvc file")
    tracked = found[0]
    if tracked.stage is not None:
        raise TargetError(
            f"{tracked.dvcfile.path}: '{src}' is an output of stage '{tracked.stage}'; "
            "move is only for outputs of .dvc files: edit dvc.yaml instead"
        )
    old = tracked.dvcfile
    if not (src_path.exists() or src_path.is_symlink()):
        raise TargetError(f"{src}: not in the workspace (run 'bale checkout {src}' first)")

    # dvc's rule: a .dvc file named after its output follows it
    renamed = old.path.name[: -len(".dvc")] == src_path.name
    if renamed:
        if len(old.outs) > 1:
            raise TargetError(f"{old.path}: has several outputs; move cannot rename it")
        new_dvcfile = dvcfile_path_for(dst_path)
        if new_dvcfile.exists():
            raise TargetError(f"{new_dvcfile}: already exists")
    else:
        new_dvcfile = old.path
    new_dir = new_dvcfile.parent
    new_rel = Path(os.path.relpath(dst_path, new_dir)).as_posix()
    outs = [dataclasses.replace(o, path=new_rel) if o is tracked.out else o for o in old.outs]
    base = dataclasses.replace(old, data={**old.data, "deps": _deps_from(old, new_dir)})
    if not base.data["deps"]:
        del base.data["deps"]

    git = scm.uses_git(repo)
    gitignores: set[Path] = set()
    with repo.locked():
        dst_path.parent.mkdir(parents=True, exist_ok=True)
        os.rename(src_path, dst_path)
        debug(f"renamed {_rel(repo, src_path)} to {_rel(repo, dst_path)} (no data copied)")
        # an import's md5: covers its output's path, so it is computed anew
        dump_dvcfile(new_dvcfile, outs, base, stamp=True)
        debug(f"saved {_rel(repo, new_dvcfile)} (path: {new_rel})")
        if renamed:
            old.path.unlink()
            debug(f"deleted {_rel(repo, old.path)}")
        if git:
            for changed, what in (
                (unignore_in_git(repo.root, src_path), f"removed /{src_path.name} from"),
                (ignore_in_git(repo.root, dst_path), f"added /{dst_path.name} to"),
            ):
                if changed is not None:
                    gitignores.add(changed)
                    debug(f"{what} {_rel(repo, changed)}")
        result = MoveResult(
            src_path, dst_path, old.path, new_dvcfile, sorted(g for g in gitignores if g.exists())
        )
        if git and repo.config.core_autostage():
            scm.git_add(repo.root, result.changed)
    return result


def _rel(repo: Repo, path: Path) -> str:
    return path.relative_to(repo.root).as_posix()


def _deps_from(f: DvcFile, new_dir: Path) -> list[dict[str, Any]]:
    """``f``'s dependencies for its new place: a relative local path (an
    ``import-url`` of a file in this machine) is made relative to
    ``new_dir``, as dvc does; URLs, absolute paths and repository imports
    stay as they are."""
    deps = []
    for dep in f.deps:
        path = dep["path"]
        local = "repo" not in dep and "://" not in path and not posixpath.isabs(path)
        if local:
            target = os.path.normpath(f.path.parent / path)
            dep = {**dep, "path": Path(os.path.relpath(target, new_dir)).as_posix()}
        deps.append(dep)
    return deps
