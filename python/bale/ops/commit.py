"""``bale commit``: record the current content of tracked outputs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bale import index
from bale.exceptions import TargetError
from bale.ops.add import AddResult, add_one

if TYPE_CHECKING:
    from bale.repo import Repo


def commit(repo: Repo, targets: Sequence[str | Path] | None = None) -> list[AddResult]:
    """Re-stores every targeted output and updates its ``.dvc`` file; a
    targeted stage (every changed stage, without targets) gets its outputs
    stored and its ``dvc.lock`` entry rewritten, without running."""
    from bale.pipeline import run
    from bale.pipeline.changes import Hasher, stage_changes

    results = []
    with repo.locked():
        tracked, stages, pipes = index.split_targets(repo, targets)
        hasher = Hasher(repo)
        for stage in stages:
            assert pipes is not None
            if targets or stage_changes(stage, pipes.lock_entry(stage), hasher, repo.root).changed:
                run.record(repo, stage, hasher)
        for t, sub in tracked:
            if sub:
                raise TargetError(f"{t.rel(repo)}/{sub}: commit the whole output '{t.rel(repo)}'")
            if not t.out.cache:
                continue
            if len(t.dvcfile.outs) != 1:
                raise TargetError(
                    f"{t.dvcfile.path}: files with several outputs are not supported yet"
                )
            results.append(add_one(repo, t.path, require_dvcfile=True, stamp=True))
    return results
