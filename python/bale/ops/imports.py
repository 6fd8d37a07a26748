"""The outputs of ``dvc import`` and ``dvc import-url`` files: which
commands cover them, and what bale says where only their source has the data.

What dvc 3.67.1 does with them (checked on local repositories and files, for
file and directory imports, both frozen as dvc writes them):

- ``status``: the output is checked like any other (a frozen import's source
  is not); the file's ``md5:`` is the stage checksum, and one that does not
  match what the file records is "changed checksum". ``status -c`` leaves
  out ``dvc import`` outputs and covers ``import-url`` ones.
- ``diff``, ``checkout``, ``commit``, ``remove``, ``add`` of the imported
  path or of a path inside an imported directory: as any output. ``commit``
  and ``repro`` write a new ``md5:`` for the new output, ``add`` keeps the old
  one; ``deps`` and ``frozen`` stay.
- ``push``: ``import-url`` outputs go to the remote; ``dvc import`` outputs
  never do (their data stays with the source repository).
- ``fetch``/``pull``: ``import-url`` outputs come from the remote only (not
  from the URL: with the remote lacking them, pull fails). ``dvc import``
  outputs come from the source repository only, never from our remote, even
  when it holds the objects; so do the outputs of ``--no-download`` imports,
  which record no hash.
- ``gc -w``: keeps ``import-url`` objects and deletes ``dvc import`` ones
  (they can be fetched again from the source). bale keeps both: it cannot
  fetch from a source repository yet, and a workspace output whose data is
  gone from the cache could no longer be checked out.

bale does all of that except fetching from an import's source: where dvc
would, bale says so, naming the ``.dvc`` file and the source, and fails.
Which outputs are whose: :attr:`bale.index.Tracked.from_source_only` and
:attr:`~bale.index.Tracked.pushed`.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bale.index import Tracked

if TYPE_CHECKING:
    from bale.repo import Repo


def not_cached(repo: Repo, outs: Sequence[Tracked]) -> list[Tracked]:
    """Those of ``outs`` whose data is not all in the cache (a directory's
    manifest or any of its files missing, or no hash recorded)."""
    missing = []
    for t in outs:
        if t.out.oid is None:
            missing.append(t)
            continue
        files, dirs = repo.workspace.sync_plan([(t.algo, t.out.oid)])
        if any(f.size is None for f in files) or any(d.object.size is None for d in dirs):
            missing.append(t)
    return missing


def unfetchable(repo: Repo, outs: Sequence[Tracked], command: str = "pull") -> str:
    """Why ``outs`` (import outputs) cannot be fetched, and the dvc
    ``command`` (``pull`` or ``fetch``) that fetches them: one line naming
    each ``.dvc`` file and its source."""
    sources = {
        t.dvcfile.path.relative_to(repo.root).as_posix(): t.dvcfile.import_source for t in outs
    }
    named = "; ".join(f"{f} imports {source}" for f, source in sources.items())
    run = shlex.join(["dvc", command, *sources])
    return (
        f"only their import sources have them ({named}) and bale cannot fetch from "
        f"an import's source yet: run '{run}'"
    )
