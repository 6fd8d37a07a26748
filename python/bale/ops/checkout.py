"""``bale checkout``: make the workspace match the ``.dvc`` files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bale.console import warn
from bale.exceptions import CheckoutConflictError, CorruptObjectError, ObjectMissingError
from bale.ops.outputs import Tracked, resolve
from bale.progress import Bar

if TYPE_CHECKING:
    from bale.repo import Repo


@dataclass
class CheckoutResult:
    """Repository-relative paths, per kind of change."""

    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0
    missing: list[str] = field(default_factory=list)
    link_types: set[str] = field(default_factory=set)


def _join(base: str, rel: str) -> str:
    return f"{base}/{rel}" if rel else base


def checkout(
    repo: Repo,
    targets: Sequence[str | Path] | None = None,
    *,
    force: bool = False,
    relink: bool = False,
) -> CheckoutResult:
    """Checks out every targeted output. Outputs whose objects are missing are
    left alone and reported; conflicts stop before anything is written."""
    from bale.ops import imports

    result = CheckoutResult()
    types = repo.config.cache_types()
    conflicts: list[str] = []
    # Missing import outputs: only their source has the data (named apart).
    from_source: dict[str, Tracked] = {}
    with repo.locked():
        for t, sub in resolve(repo, targets):
            rel = t.rel(repo)
            if not t.out.cache:
                continue
            if t.out.oid is None:
                # A --no-download import: dvc fetches it from its source.
                if imports.from_source_only(t):
                    from_source[rel] = t
                continue
            ws = repo.workspace
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
                conflicts.append(str(e))
                continue
            except ObjectMissingError:
                # The output's own object (a file, or a directory's manifest).
                if imports.from_source_only(t):
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
            if r.missing and imports.from_source_only(t):
                from_source[rel] = t
            else:
                result.missing += [_join(base, p) for p in r.missing]
            result.unchanged += r.unchanged
            if r.link_type:
                result.link_types.add(r.link_type)
    if conflicts:
        raise CheckoutConflictError("; ".join(conflicts))
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
        raise ObjectMissingError("; ".join(problems))
    return result
