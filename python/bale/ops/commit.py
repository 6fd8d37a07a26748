"""``bale commit``: record the current content of tracked outputs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bale.exceptions import TargetError
from bale.ops.add import AddResult, add_one
from bale.ops.outputs import resolve

if TYPE_CHECKING:
    from bale.repo import Repo


def commit(repo: Repo, targets: Sequence[str | Path] | None = None) -> list[AddResult]:
    """Re-stores every targeted output and updates its ``.dvc`` file."""
    results = []
    with repo.locked():
        for t, sub in resolve(repo, targets):
            if sub:
                raise TargetError(f"{t.rel(repo)}/{sub}: commit the whole output '{t.rel(repo)}'")
            if not t.out.cache:
                continue
            if len(t.dvcfile.outs) != 1:
                raise TargetError(
                    f"{t.dvcfile.path}: files with several outputs are not supported yet"
                )
            results.append(add_one(repo, t.path, require_dvcfile=True))
    return results
