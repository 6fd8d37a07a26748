"""Recovery after a killed writer: its temp files are swept, never taken for data.

Every write bale makes goes through a temp file named ``.bale<pid>x<tag>.tmp``
beside its destination (the cache, a workspace file, a ``.dvc`` file), which a
rename publishes. A writer killed before the rename leaves the temp file. Two
things keep such leftovers harmless:

- the engine's walk never hashes a name of that shape (so ``status`` and
  ``add`` never see them as data), and removes one whose writer is no longer
  running once it has been left alone an hour (a writer in another pid
  namespace or on another host touches its temp as it writes);
- a writer marks the repository while it holds the write lock
  (``.dvc/tmp/bale/writer``, removed on every exit Python sees). A mark
  found by the next writer means the last one was killed: it sweeps the
  cache, the directories that hold outputs and metafiles, and directory
  outputs, before doing anything else.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from bale.console import warn
from bale.exceptions import BaleError
from bale.index import collect

if TYPE_CHECKING:
    from bale.repo import Repo


def _mark(repo: Repo) -> Path:
    return repo.tmp_dir / "bale" / "writer"


@contextlib.contextmanager
def writing(repo: Repo) -> Iterator[None]:
    """Marks ``repo`` as being written for the block's length (the caller
    holds the write lock), sweeping first if the last writer left its mark."""
    mark = _mark(repo)
    if mark.exists():
        removed = sweep(repo)
        if removed:
            warn(
                f"removed {removed} temp file(s) left by an interrupted bale command "
                f"({_holder(mark)})"
            )
    mark.parent.mkdir(parents=True, exist_ok=True)
    mark.write_text(f"{os.getpid()}\n")
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            mark.unlink()


def _holder(mark: Path) -> str:
    try:
        return f"process {int(mark.read_text().split()[0])}"
    except (OSError, ValueError, IndexError):
        return "an unknown process"


def sweep(repo: Repo) -> int:
    """Removes the temp files of bale writers that are no longer running:
    in the cache, beside every output and metafile, and inside directory
    outputs. Returns how many."""
    from bale import _core

    # The stat cache is saved beside the mark; metafiles are written beside
    # themselves.
    dirs = {repo.tmp_dir / "bale"}
    dirs |= {Path(p).parent for p in _core.find_metafiles(str(repo.root))}
    trees: set[Path] = set()
    try:
        outputs = collect(repo)
    except BaleError:
        # A metafile that does not load is reported by the command itself;
        # what its outputs hold is swept once it loads again.
        outputs = []
    for t in outputs:
        dirs.add(t.path.parent)
        if t.out.is_dir:
            trees.add(t.path)
    return len(repo.workspace.sweep_temps(sorted(dirs), sorted(trees)))
