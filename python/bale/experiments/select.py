"""Which experiments a command takes, as dvc's ``exp push/pull/remove``
choose them: by name, by baseline (``--rev``, ``-n``) or all (``-A``),
among the refs of this repository or of a git remote."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bale import scm
from bale.exceptions import BaleError
from bale.experiments.remote import parse_ref

if TYPE_CHECKING:
    from bale.repo import Repo


def resolve(found: dict[str, str], names: Sequence[str], head: str) -> dict[str, str | None]:
    """dvc's ``resolve_name`` over ``found`` (ref -> commit): each name's
    ref, None if none has it (a full ``refs/exps/...`` name is taken as it
    is); a name that several baselines have means HEAD's experiment, else
    is ambiguous."""
    out: dict[str, str | None] = {}
    for name in names:
        if name.startswith("refs/"):
            out[name] = name if name in found else None
            continue
        hits = [r for r in found if (p := parse_ref(r)) is not None and p[1] == name]
        if len(hits) > 1:
            hits = [r for r in hits if parse_ref(r) == (head, name)]
            if len(hits) != 1:
                raise BaleError(
                    f"Ambiguous name '{name}' refers to multiple experiments "
                    "(use its full refs/exps/... name)"
                )
        out[name] = hits[0] if hits else None
    return out


def unresolved_error(
    unknown: list[str], git_remote: str | None, noun: str = "experiment name"
) -> BaleError:
    """dvc's ``UnresolvedExpNamesError`` (its queue's: ``noun`` "queued
    experiment name" or "running experiment name"), worded as dvc words it."""
    listed = "; ".join(unknown)
    if git_remote is not None:
        return BaleError(f"Experiment '{listed}' does not exist in '{git_remote}'")
    what = f"are not valid {noun}s" if len(unknown) > 1 else f"is not a valid {noun}"
    return BaleError(f"'{listed}' {what}")


def by_baseline(
    repo: Repo, found: dict[str, str], revs: Sequence[str] | None, num: int
) -> set[str]:
    """The refs of ``found`` whose baseline is one of ``revs`` (HEAD) or of
    their ``num`` first parents."""
    from bale.experiments.show import baselines

    wanted = set(baselines(repo, False, False, False, list(revs or ["HEAD"]), num))
    return {r for r in found if (p := parse_ref(r)) is not None and p[0] in wanted}


def select(
    repo: Repo,
    found: dict[str, str],
    names: Sequence[str],
    all_commits: bool,
    revs: Sequence[str] | None,
    num: int,
    git_remote: str | None,
) -> list[str]:
    """The refs of ``found`` that a push's or pull's selection names:
    ``names``, else those of the baselines ``revs`` (HEAD) and their ``num``
    first parents; with ``all_commits``, every one (a pull takes nothing
    else, a push adds them, as dvc's do)."""
    if all_commits and git_remote is not None:
        return sorted(found)
    picked = set(found) if all_commits else set()
    if names:
        head = scm.resolve_rev(repo.root, "HEAD")
        resolved = resolve(found, names, head)
        unknown = [n for n, r in resolved.items() if r is None]
        if unknown:
            raise unresolved_error(unknown, git_remote)
        picked |= {r for r in resolved.values() if r is not None}
    else:
        picked |= by_baseline(repo, found, revs, num)
    return sorted(picked)
