"""``bale metrics show/diff`` and ``bale params diff``: the files the
pipelines name, read in the workspace and at git revisions, compared as dvc
compares them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bale import scm
from bale.exceptions import BaleError
from bale.pipeline import index, revision

if TYPE_CHECKING:
    from bale.repo import Repo


def show(repo: Repo) -> dict[str, Any]:
    """The workspace's metrics: ``{file: data}`` (errors as ``{"error": msg}``);
    none, after a warning, when its pipelines cannot be loaded."""
    shown = show_or_error(repo)
    return {} if isinstance(shown, BaleError) else shown


def show_or_error(repo: Repo) -> dict[str, Any] | BaleError:
    """:func:`show`, or the error that kept the workspace's pipelines from
    loading (after a warning), which ``metrics show --json`` reports as dvc
    does."""
    pipes = revision.loaded_or_warn(lambda: index.load(repo), "workspace")
    if isinstance(pipes, BaleError):
        return pipes
    return revision.workspace(repo, revision.files_of(repo, pipes)).metrics


def _sides(
    repo: Repo, a_rev: str | None, b_rev: str | None
) -> tuple[revision.Snapshot, revision.Snapshot]:
    # Each side's own pipelines name its files, as dvc reads every revision
    # with that revision's dvc.yaml: a metric one side no longer declares
    # shows as added or deleted.
    def at(rev: str) -> revision.Snapshot:
        # dvc warns and shows the revision without its files.
        pipes = revision.loaded_or_warn(lambda: index.load_at(repo, rev), rev[:7])
        if isinstance(pipes, BaleError):
            return revision.Snapshot()
        files = revision.files_of(repo, pipes, revision.tree_at(repo, rev))
        return revision.at_revisions(repo, files, [rev])[rev]

    def here() -> revision.Snapshot:
        pipes = revision.loaded_or_warn(lambda: index.load(repo), "workspace")
        if isinstance(pipes, BaleError):
            return revision.Snapshot()
        return revision.workspace(repo, revision.files_of(repo, pipes))

    a = scm.resolve_rev(repo.root, a_rev or "HEAD")
    if b_rev:
        return at(a), at(scm.resolve_rev(repo.root, b_rev))
    return at(a), here()


def diff(
    repo: Repo, a_rev: str | None = None, b_rev: str | None = None, *, all_: bool = False
) -> dict[str, dict[str, dict[str, Any]]]:
    """Metrics of ``b_rev`` (default: the workspace) against ``a_rev``
    (default: HEAD), in ``dvc metrics diff --json``'s shape."""
    from bale.pipeline.compare import diff as compare

    scm.require_git(repo, "metrics diff")
    old, new = _sides(repo, a_rev, b_rev)
    return compare(
        revision.loaded(old.metrics, metrics=True),
        revision.loaded(new.metrics, metrics=True),
        with_unchanged=all_,
    )


def params_diff(
    repo: Repo, a_rev: str | None = None, b_rev: str | None = None, *, all_: bool = False
) -> dict[str, dict[str, dict[str, Any]]]:
    """Params of ``b_rev`` (default: the workspace) against ``a_rev``
    (default: HEAD), in ``dvc params diff --json``'s shape."""
    from bale.pipeline.compare import diff as compare

    scm.require_git(repo, "params diff")
    old, new = _sides(repo, a_rev, b_rev)
    return compare(revision.loaded(old.params), revision.loaded(new.params), with_unchanged=all_)
