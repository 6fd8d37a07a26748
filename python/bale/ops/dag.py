"""``bale dag``: the pipeline graph that dvc's ``dag`` draws, as a
:class:`~bale.pipeline.dagview.DiGraph` with dvc's node names and orders.
Drawing it (ASCII, dot, mermaid) is :mod:`bale.pipeline.dagview`'s."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from bale import index
from bale.exceptions import TargetError
from bale.pipeline import dagview

if TYPE_CHECKING:
    from bale.repo import Repo


def check(*, outs: bool, collapse_foreach_matrix: bool) -> None:
    """Refuses the options dvc refuses together (its InvalidArgumentError)."""
    if outs and collapse_foreach_matrix:
        raise TargetError("`--outs` and `--collapse-foreach-matrix` are mutually exclusive")


def dag(
    repo: Repo,
    target: str | None = None,
    *,
    outs: bool = False,
    full: bool = False,
    collapse_foreach_matrix: bool = False,
    here: Path | None = None,
) -> dagview.DiGraph:
    """The stages (``outs``: the outputs) and what each depends on, named
    from ``here`` (default: the current directory) as dvc names them. With
    ``target`` (a stage or output), only it and what it depends on, or with
    ``full`` its whole pipeline; ``collapse_foreach_matrix`` draws the stages
    of a foreach/matrix group as one node."""
    check(outs=outs, collapse_foreach_matrix=collapse_foreach_matrix)
    pipes = index.load(repo)
    here = Path.cwd() if here is None else here
    graph = dagview.build(pipes.graph, outs=outs, here=here)
    targets: list[str] = []
    if target:
        chosen = pipes.select([target])
        if outs:
            # as dvc: a stage stands for its outputs
            targets = [Path(os.path.relpath(o, here)).as_posix() for n in chosen for o in n.outs]
        else:
            targets = [dagview.shown(n, repo.root, here) for n in chosen]
    graph = dagview.restrict(graph, targets, full=full)
    if collapse_foreach_matrix:
        graph = dagview.collapse_generated(graph)
    return graph
