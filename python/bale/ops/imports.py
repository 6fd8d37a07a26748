"""The outputs of ``dvc import`` and ``dvc import-url`` files: which
commands cover them, and how their data comes from their source.

What dvc 3.67.1 does with them (checked on local repositories and files, for
file and directory imports, both frozen as dvc writes them):

- ``status``: the output is checked like any other; a frozen
  ``import-url``'s source is not, but a repository import's revision is
  resolved again, frozen or not, and a new commit there is "update
  available"; the file's ``md5:`` is the stage checksum, and one that does
  not match what the file records is "changed checksum". ``status -c`` leaves
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
  when it holds the objects: the repository at ``url``, read at
  ``rev_lock``, from its cache when it is a local repository that has them,
  else from its default remote. So do the outputs of ``--no-download``
  imports, which record no hash (dvc checks them out without writing one).
- ``gc -w``: keeps ``import-url`` objects and deletes ``dvc import`` ones
  (they can be fetched again from the source). bale keeps both: a workspace
  output whose data is gone from the cache could no longer be checked out
  without the source at hand.

bale does all of that (through :class:`bale.source.Source`). An output
that is the source's output is fetched as its objects; one that is a path
inside a source's directory output, or a file git tracks there, is copied
from the source and hashed, and must hash to what the file records. A
``--no-download`` import records no hash: ``pull`` checks out what its
source gives at ``rev_lock`` and leaves the file as it is, as dvc does
(``fetch`` alone fetches it, but only ``pull`` or ``update`` can use it).
Which outputs are whose: :attr:`bale.index.Tracked.from_source_only` and
:attr:`~bale.index.Tracked.pushed`.
"""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bale.exceptions import BaleError, CorruptObjectError
from bale.index import Tracked

if TYPE_CHECKING:
    from pathlib import Path

    from bale.metafiles import Out
    from bale.remotes.sync import Moved
    from bale.repo import Repo


def not_cached(repo: Repo, outs: Sequence[Tracked]) -> list[Tracked]:
    """Those of ``outs`` whose data is not all in the cache (a directory's
    manifest or any of its files missing, or no hash recorded)."""
    from bale.source import lacking

    return [t for t in outs if t.out.oid is None or lacking(repo.workspace, [(t.algo, t.out.oid)])]


def fetch_from_sources(
    repo: Repo, outs: Sequence[Tracked], jobs: int | None
) -> tuple[Moved, dict[Path, Out]]:
    """Brings the data of the import outputs ``outs`` into the cache from
    their sources, each source (URL and ``rev_lock``) opened once. Raises,
    naming the ``.dvc`` file, where a source cannot give it. Also returns,
    for each ``--no-download`` import (which records no hash), the output
    its source gave, by path: what a pull checks out (the file itself is
    left as it is, as dvc leaves it)."""
    from bale.ops.importing import resolve
    from bale.remotes.sync import Moved
    from bale.source import lacking, open_recorded

    total = Moved()
    # one source per URL, commit, and remote and config recorded
    by_source: dict[tuple[str, str | None, str], list[Tracked]] = {}
    for t in outs:
        if t.out.oid is not None and not lacking(repo.workspace, [(t.algo, t.out.oid)]):
            continue
        if not t.dvcfile.is_repo_import:
            continue  # import-url ones without a hash: not fetched by bale (see unfetchable)
        spec = t.dvcfile.deps[0]["repo"]
        rev = spec.get("rev_lock") or spec.get("rev")
        where = json.dumps([spec.get("remote"), spec.get("config")], sort_keys=True, default=str)
        by_source.setdefault((str(spec["url"]), rev and str(rev), where), []).append(t)
    resolved: dict[Path, Out] = {}
    staging = repo.tmp_dir / "bale" / "imports"
    for (_url, rev, _where), group in by_source.items():
        names = ", ".join(t.dvcfile.path.relative_to(repo.root).as_posix() for t in group)
        spec = group[0].dvcfile.deps[0]["repo"]
        try:
            with open_recorded(repo.root, spec, rev, type(repo)) as src:
                for t in group:
                    path = str(t.dvcfile.deps[0]["path"])
                    staging.mkdir(parents=True, exist_ok=True)
                    out, staged = resolve(
                        repo,
                        src,
                        path,
                        staging / t.path.name,
                        download=True,
                        jobs=jobs,
                        moved=total,
                    )
                    if staged is not None:
                        shutil.rmtree(staged, ignore_errors=True)
                    if t.out.oid is None:
                        resolved[t.path] = out
                    elif (out.algo, out.oid) != (t.algo, t.out.oid):
                        raise CorruptObjectError(
                            f"{path} at {src.rev_label} is {out.oid}, not {t.out.oid} as recorded"
                        )
        except BaleError as e:
            raise type(e)(f"{names}: cannot fetch from its source: {e}") from None
    return total, resolved


def unfetchable(repo: Repo, outs: Sequence[Tracked], command: str = "pull") -> str:
    """Why ``outs`` (import outputs) are not in the cache or checked out,
    and what brings them from their sources: ``bale <command>`` (``pull``
    or ``fetch``) for repository imports that record a hash, ``bale pull``
    for those that record none, and ``dvc <command>`` for ``import-url``
    ones without a hash (bale cannot fetch those). One line naming each
    ``.dvc`` file and its source."""
    kinds: dict[str, dict[str, str]] = {"pull": {}, "hashless": {}, "dvc": {}}
    for t in outs:
        f = t.dvcfile
        kind = "pull" if t.out.oid else "hashless" if f.is_repo_import else "dvc"
        kinds[kind][f.path.relative_to(repo.root).as_posix()] = f.import_source
    runs = {
        "pull": ["bale", command],
        "hashless": ["bale", "pull"],
        "dvc": ["dvc", command],
    }
    parts = []
    for kind, sources in kinds.items():
        if sources:
            named = "; ".join(f"{f} imports {source}" for f, source in sources.items())
            why = "only their import sources have them" if kind == "pull" else "no hash recorded"
            parts.append(f"{why} ({named}): run '{shlex.join([*runs[kind], *sources])}'")
    return "; ".join(parts)
