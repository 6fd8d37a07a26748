"""``bale checkout``: make the workspace match the ``.dvc`` files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bale.exceptions import CheckoutConflictError, ObjectMissingError
from bale.ops.outputs import resolve
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
    result = CheckoutResult()
    types = repo.config.cache_types()
    conflicts: list[str] = []
    with repo.locked():
        for t, sub in resolve(repo, targets):
            rel = t.rel(repo)
            if t.out.oid is None or not t.out.cache:
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
                result.missing.append(rel)
                continue
            base = _join(rel, sub or "")
            result.added += [_join(base, p) for p in r.added]
            result.modified += [_join(base, p) for p in r.modified]
            result.deleted += [_join(base, p) for p in r.deleted]
            result.missing += [_join(base, p) for p in r.missing]
            result.unchanged += r.unchanged
            if r.link_type:
                result.link_types.add(r.link_type)
    if conflicts:
        raise CheckoutConflictError("; ".join(conflicts))
    if result.missing:
        raise ObjectMissingError(
            f"not in the cache, so not checked out: {', '.join(result.missing[:5])}"
            + (f" and {len(result.missing) - 5} more" if len(result.missing) > 5 else "")
            + " (fetch them from a remote)"
        )
    return result
