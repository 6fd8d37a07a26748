"""The outputs of ``dvc import`` and ``dvc import-url`` files: which
commands cover them, and how their data comes from their source.

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
  when it holds the objects: the repository at ``url``, read at
  ``rev_lock``, from its cache when it is a local repository that has them,
  else from its default remote. So do the outputs of ``--no-download``
  imports, which record no hash (dvc checks them out without writing one).
- ``gc -w``: keeps ``import-url`` objects and deletes ``dvc import`` ones
  (they can be fetched again from the source). bale keeps both: a workspace
  output whose data is gone from the cache could no longer be checked out
  without the source at hand.

bale does all of that (through :class:`bale.source.Source`), except the
fetch of a ``--no-download`` import, which records no hash to check the
data against: bale asks for ``bale update`` of its file instead. An output
that is the source's output is fetched as its objects; one that is a path
inside a source's directory output, or a file git tracks there, is copied
from the source and hashed, and must hash to what the file records.
Which outputs are whose: :attr:`bale.index.Tracked.from_source_only` and
:attr:`~bale.index.Tracked.pushed`.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bale.exceptions import BaleError, CorruptObjectError
from bale.index import Tracked

if TYPE_CHECKING:
    from bale.remotes.sync import Moved
    from bale.repo import Repo


def source_url(repo: Repo, url: str) -> str:
    """Where an import's recorded URL is read from: a relative local path
    from the repository's root (dvc reads it from the current directory,
    which is the root when dvc is run there)."""
    if "://" in url or os.path.isabs(url) or (":" in url and not os.path.exists(url)):
        return url
    return str(repo.root / url)


def not_cached(repo: Repo, outs: Sequence[Tracked]) -> list[Tracked]:
    """Those of ``outs`` whose data is not all in the cache (a directory's
    manifest or any of its files missing, or no hash recorded)."""
    from bale.source import lacking

    return [t for t in outs if t.out.oid is None or lacking(repo.workspace, [(t.algo, t.out.oid)])]


def fetch_from_sources(repo: Repo, outs: Sequence[Tracked], jobs: int | None) -> Moved:
    """Brings the data of the import outputs ``outs`` into the cache from
    their sources, each source (URL and ``rev_lock``) opened once. Raises,
    naming the ``.dvc`` file, where a source cannot give it."""
    from bale.ops.importing import resolve
    from bale.remotes.sync import Moved
    from bale.source import Source, lacking

    total = Moved()
    by_source: dict[tuple[str, str | None], list[Tracked]] = {}
    for t in outs:
        if t.out.oid is not None and not lacking(repo.workspace, [(t.algo, t.out.oid)]):
            continue
        if t.out.oid is None or not t.dvcfile.is_repo_import:
            # No hash to check the data against (--no-download): left to
            # be reported (see unfetchable); import-url ones: not ours.
            continue
        spec = t.dvcfile.deps[0]["repo"]
        rev = spec.get("rev_lock") or spec.get("rev")
        by_source.setdefault((str(spec["url"]), rev and str(rev)), []).append(t)
    staging = repo.tmp_dir / "bale" / "imports"
    for (url, rev), group in by_source.items():
        names = ", ".join(t.dvcfile.path.relative_to(repo.root).as_posix() for t in group)
        try:
            with Source.open(source_url(repo, url), rev) as src:
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
                    if (out.algo, out.oid) != (t.algo, t.out.oid):
                        raise CorruptObjectError(
                            f"{path} at {src.rev_label} is {out.oid}, not {t.out.oid} as recorded"
                        )
        except BaleError as e:
            raise type(e)(f"{names}: cannot fetch from its source: {e}") from None
    return total


def unfetchable(repo: Repo, outs: Sequence[Tracked], command: str = "pull") -> str:
    """Why ``outs`` (import outputs) are not in the cache, and what fetches
    them from their sources: ``bale <command>`` (``pull`` or ``fetch``) for
    repository imports that record a hash, ``bale update`` for those that
    record none, and ``dvc <command>`` for ``import-url`` ones without a
    hash (bale cannot fetch those). One line naming each ``.dvc`` file and
    its source."""
    kinds: dict[str, dict[str, str]] = {"pull": {}, "update": {}, "dvc": {}}
    for t in outs:
        f = t.dvcfile
        kind = "pull" if t.out.oid else "update" if f.is_repo_import else "dvc"
        kinds[kind][f.path.relative_to(repo.root).as_posix()] = f.import_source
    runs = {
        "pull": ["bale", command],
        "update": ["bale", "update"],
        "dvc": ["dvc", command],
    }
    parts = []
    for kind, sources in kinds.items():
        if sources:
            named = "; ".join(f"{f} imports {source}" for f, source in sources.items())
            why = "only their import sources have them" if kind == "pull" else "no hash recorded"
            parts.append(f"{why} ({named}): run '{shlex.join([*runs[kind], *sources])}'")
    return "; ".join(parts)
