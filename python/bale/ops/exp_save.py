"""``bale exp save``: the workspace kept as an experiment of HEAD without
running anything, as dvc's ``exp save`` keeps it."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import index, scm
from bale.console import warn
from bale.experiments import refs, snapshot
from bale.ops.exp import ExpResult, _baseline, _pick_name
from bale.pipeline.stage import LOCK_FILE

if TYPE_CHECKING:
    from bale.repo import Repo


def save(
    repo: Repo,
    targets: Sequence[str] | None = None,
    *,
    recursive: bool = False,
    name: str | None = None,
    force: bool = False,
    include_untracked: Sequence[str] = (),
    message: str | None = None,
) -> ExpResult:
    """dvc's ``exp save``: the workspace as it is, kept as an experiment of
    HEAD without running anything. Its outputs (those of ``targets``, else
    every changed stage and ``.dvc`` file; with ``recursive``, a directory
    target stands for those inside it) are committed to the cache and
    ``dvc.lock`` updated, as ``commit`` does; the experiment's commit holds
    what git tracks as it is now, plus each ``dvc.yaml``'s top-level
    metrics, params and plots files, ``dvc.lock`` and the
    ``include_untracked`` paths, even where git ignores them. HEAD, git's
    index and the workspace's untracked files are left as they were."""
    from bale.ops.commit import commit

    scm.require_git(repo, "exp save")
    baseline = _baseline(repo)
    exp_name = _pick_name(repo, baseline, name, force)
    chosen = list(targets) if targets else None  # None: every changed one
    if recursive and chosen:
        from bale.ops.stage import list_stages

        chosen = [i.name for i in list_stages(repo, chosen, recursive=True)]
    if chosen != []:  # a directory with none inside commits nothing, not everything
        commit(repo, chosen)
    pipes = index.load(repo)
    extra = [*_top_level_paths(pipes), *(f.path.with_name(LOCK_FILE) for f in pipes.files)]
    extra += [Path(os.path.abspath(p)) for p in include_untracked]
    # dvc hashes the lock entries of the stages it committed: all, or the targets'
    names: set[str] | None = None
    if chosen is not None:
        names = {s.name for s in index.split_targets(repo, chosen)[1]} if chosen else set()
    merged: dict[str, Any] = {}
    for entries in pipes.locks.values():
        merged.update({k: v for k, v in entries.items() if names is None or k in names})
    digest = hashlib.sha256(json.dumps(merged, sort_keys=True).encode()).hexdigest()
    commit_id = snapshot.commit_workspace(
        repo.root,
        baseline,
        message or f"dvc: commit experiment {digest}",
        [p for p in dict.fromkeys(extra) if p.is_relative_to(repo.root)],
        force=True,
    )
    snapshot.set_ref(repo.root, refs.ref_name(baseline, exp_name), commit_id)
    top = scm.toplevel(repo.root)
    taken = {p.relative_to(top).as_posix() for p in extra if p.is_relative_to(top)}
    left = [p for p in untracked(repo) if p not in taken]
    if left:
        # dvc's words
        warn(
            "The following untracked files were present in the workspace before saving "
            f"but will not be included in the experiment commit:\n\t{', '.join(left)}"
        )
    return ExpResult(exp_name, commit_id, baseline)


def _top_level_paths(pipes: index.Pipelines) -> list[Path]:
    """dvc's ``_get_top_level_paths``: each ``dvc.yaml``'s top-level metrics
    and params files, and the files its top-level plots read (a plot's id,
    or the files of its ``x`` and ``y`` when they map files to columns)."""
    paths: list[Path] = []
    for f in pipes.files:
        base = f.path.parent
        paths += [base / m for m in [*f.metrics, *f.params]]
        for plot in f.data.get("plots") or []:
            items = {plot: {}} if isinstance(plot, str) else dict(plot or {})
            for plot_id, props in items.items():
                props = props or {}
                if isinstance(props.get("y"), dict):
                    paths += [base / n for n in props["y"]]
                    if isinstance(props.get("x"), dict):
                        paths += [base / n for n in props["x"]]
                else:
                    paths.append(base / plot_id)
    return [Path(os.path.normpath(p)) for p in paths]


def untracked(repo: Repo) -> list[str]:
    """The workspace's untracked files that git does not ignore (top-relative)."""
    out = scm.git(repo.root, "ls-files", "-z", "--others", "--exclude-standard", "--full-name")
    return [p for p in out.stdout.decode("utf-8", errors="surrogateescape").split("\0") if p]
