"""Which outputs sync with which remote, and in which layout.

What moves object by object is planned by the engine (``Workspace.sync_plan``,
``push_plan``); this module decides the step before: which tracked outputs
have data to push or fetch, grouped by the remote each syncs with. Imports go
as dvc sends them (:attr:`bale.index.Tracked.pushed`, ``from_source_only``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bale.console import debug
from bale.index import Scope, Tracked, in_scope
from bale.remotes import Remote, resolve_remote

if TYPE_CHECKING:
    from bale.repo import Repo


def group(
    repo: Repo,
    targets: Sequence[str | Path] | None,
    scope: Scope,
    remote: str | None,
    pushing: bool,
    at_source: list[Tracked] | None = None,
) -> dict[Remote, list[Tracked]]:
    """The targeted outputs with data to sync, by the remote each syncs
    with. The outputs whose data only their import's source has are left to
    ``at_source``."""
    groups: dict[Remote, list[Tracked]] = defaultdict(list)
    for t in in_scope(repo, targets, scope):
        why = _skipped(t, pushing)
        if why:
            debug(f"{t.rel(repo)}: skipped: {why}")
            from_source = not pushing and t.from_source_only
            if from_source and at_source is not None and t.out.cache:
                at_source.append(t)
            continue
        groups[resolve_remote(repo, remote or t.out.remote)].append(t)
    return groups


def _skipped(t: Tracked, pushing: bool) -> str | None:
    """Why output ``t`` has no data to push or fetch (None if it has)."""
    if not pushing and t.from_source_only:
        return "an import whose data only its source has"
    if not t.out.cache:
        return f"{t.dvcfile.path.name} says cache: false"
    if t.out.oid is None:
        return f"{t.dvcfile.path.name} records no hash"
    if pushing and not t.out.push:
        return f"{t.dvcfile.path.name} says push: false"
    if pushing and not t.pushed:
        return "an import: its source has the data"
    return None


def by_layout(outs: list[Tracked]) -> tuple[list[Tracked], list[Tracked]]:
    """``(DVC layout, packed layout)``: md5 data in DVC's, blake3 in bale's."""
    return [t for t in outs if t.algo != "blake3"], [t for t in outs if t.algo == "blake3"]


def roots(outs: list[Tracked]) -> list[tuple[str, str]]:
    """``(algo, oid)`` of each output that records one: what a plan starts from."""
    return [(t.algo, t.out.oid) for t in outs if t.out.oid is not None]
