"""``bale checkout``: make the workspace match the ``.dvc`` files."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from bale.console import debug, warn
from bale.exceptions import CheckoutConflictError, CorruptObjectError, ObjectMissingError
from bale.index import Tracked, resolve
from bale.progress import Bar

if TYPE_CHECKING:
    from bale.metafiles import Out
    from bale.repo import Repo


@dataclass
class OutputChange:
    """One output the checkout changed, as dvc reports it: ``added`` when
    nothing was at its path before, else ``modified`` (also when only files
    inside a directory changed)."""

    path: str
    kind: str
    is_dir: bool


@dataclass
class CheckoutResult:
    """Repository-relative paths, per kind of change."""

    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0
    missing: list[str] = field(default_factory=list)
    link_types: set[str] = field(default_factory=set)
    #: The changed outputs, in the order they were checked out.
    outputs: list[OutputChange] = field(default_factory=list)

    def note(self, path: str, existed: bool, is_dir: bool) -> None:
        """Records that output ``path`` changed (once, however many of its
        paths were targeted)."""
        if all(o.path != path for o in self.outputs):
            self.outputs.append(OutputChange(path, "modified" if existed else "added", is_dir))


class CheckoutIncompleteError(ObjectMissingError):
    """Some outputs' data is not in the cache; the others were checked out
    (``result``), and dvc names those before it fails."""

    def __init__(self, message: str, result: CheckoutResult) -> None:
        super().__init__(message)
        self.result = result


class CheckoutConflictsError(CheckoutConflictError):
    """Some outputs have changes that are not in the cache: they were left
    alone, the others were checked out (``result``), and are named before
    the error."""

    def __init__(self, message: str, result: CheckoutResult) -> None:
        super().__init__(message)
        self.result = result


def _join(base: str, rel: str) -> str:
    return f"{base}/{rel}" if rel else base


def checkout(
    repo: Repo,
    targets: Sequence[str | Path] | None = None,
    *,
    force: bool = False,
    relink: bool = False,
    resolved: Mapping[Path, Out] | None = None,
) -> CheckoutResult:
    """Checks out every targeted output. Outputs whose objects are missing,
    or that have changes the cache lacks (without ``force``), are left alone
    and reported after the others are checked out; nothing of such an
    output is written.
    ``resolved``: for ``--no-download`` imports (no hash recorded), what
    their sources gave at their paths (see :func:`bale.ops.imports.fetch_from_sources`)."""
    from bale.ops import imports

    result = CheckoutResult()
    types = repo.config.cache_types()
    conflicts: list[str] = []
    # Missing import outputs: only their source has the data (named apart).
    from_source: dict[str, Tracked] = {}
    with repo.locked():
        chosen = resolve(repo, targets)
        debug(f"{len(chosen)} output(s) to check out, from the cache {repo.cache_dir}")
        for t, sub in chosen:
            rel = t.rel(repo)
            if t.out.oid is None and resolved and t.path in resolved:
                t = replace(t, out=resolved[t.path])
            if not t.out.cache:
                debug(f"{rel}: not checked out: {t.dvcfile.path.name} says cache: false")
                continue
            if t.out.oid is None:
                # A --no-download import: dvc fetches it from its source.
                if t.from_source_only:
                    from_source[rel] = t
                debug(f"{rel}: not checked out: {t.dvcfile.path.name} records no hash")
                continue
            ws = repo.workspace
            # The engine reports the files it changed, not whether the
            # output's path existed: dvc calls an output that was absent
            # "added" and one that was there "modified".
            existed = os.path.lexists(t.path)
            debug(
                f"checking out {_join(rel, sub or '')} from {t.algo} {t.out.oid} "
                f"(link types: {', '.join(types)}{', force' if force else ''}"
                f"{', relink' if relink else ''})"
            )
            try:
                with Bar(f"Checking out {rel}") as bar:
                    r = ws.checkout(
                        str(t.path),
                        t.algo,
                        t.out.oid,
                        t.out.isexec,
                        types,
                        force,
                        relink,
                        sub,
                        bar.progress,
                        bar.tick,
                    )
            except CheckoutConflictError as e:
                debug(f"{rel}: not checked out: {e}")
                conflicts.append(str(e))
                continue
            except ObjectMissingError:
                # The output's own object (a file, or a directory's manifest).
                debug(f"{rel}: not checked out: {t.algo} {t.out.oid} is not in the cache")
                if t.from_source_only:
                    from_source[rel] = t
                else:
                    result.missing.append(rel)
                continue
            except CorruptObjectError as e:
                raise CorruptObjectError(
                    f"{e}; run 'bale pull {rel}' to download a good copy from the remote "
                    f"(a corrupt object is moved to {ws.corrupt_dir})"
                ) from None
            base = _join(rel, sub or "")
            if r.skipped_temps:
                warn(
                    f"{t.dvcfile.path.name} records {len(r.skipped_temps)} bale temp file(s) "
                    f"in {rel} (first: {r.skipped_temps[0]}), left by an older bale: not "
                    f"checked out; run 'bale add {rel}' to drop them from the record"
                )
            result.added += [_join(base, p) for p in r.added]
            result.modified += [_join(base, p) for p in r.modified]
            result.deleted += [_join(base, p) for p in r.deleted]
            if r.missing and t.from_source_only:
                from_source[rel] = t
            else:
                result.missing += [_join(base, p) for p in r.missing]
            result.unchanged += r.unchanged
            if r.link_type:
                result.link_types.add(r.link_type)
            # An empty directory made again changes no file, but dvc names it.
            if r.added or r.modified or r.deleted or (not existed and os.path.lexists(t.path)):
                result.note(rel, existed, t.out.is_dir)
            debug(
                f"{_join(rel, sub or '')}: {len(r.added)} added, {len(r.modified)} modified, "
                f"{len(r.deleted)} deleted, {r.unchanged} unchanged"
                + (f", {len(r.missing)} not in the cache" if r.missing else "")
                + (f" (linked by {r.link_type})" if r.link_type else "")
            )
    if conflicts:
        raise CheckoutConflictsError("; ".join(conflicts), result)
    result.missing += list(from_source)
    problems = []
    regular = [p for p in result.missing if p not in from_source]
    if regular:
        problems.append(
            f"not in the cache, so not checked out: {', '.join(regular[:5])}"
            + (f" and {len(regular) - 5} more" if len(regular) > 5 else "")
            + " (fetch them from a remote)"
        )
    if from_source:
        problems.append(
            f"not in the cache, so not checked out: {', '.join(from_source)}; "
            + imports.unfetchable(repo, list(from_source.values()))
        )
    if problems:
        raise CheckoutIncompleteError("; ".join(problems), result)
    return result
