"""``bale metrics show/diff`` and ``bale params diff``: the files the
pipelines name (or the targets given), read in the workspace and at git
revisions, compared as dvc compares them."""

from __future__ import annotations

import functools
import os
import posixpath
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import index, scm
from bale.exceptions import BaleError
from bale.pipeline import revision

if TYPE_CHECKING:
    from bale.repo import Repo

#: The files loading a revision's pipelines reads: dvc.yaml, dvc.lock and
#: the params.yaml beside them that dvc.yaml may interpolate.
_PIPELINE_FILES = frozenset({"dvc.yaml", "dvc.lock", "params.yaml"})

#: What a revision's files become: (files the pipelines name, the revision's
#: tree or None for the workspace) -> the files to read.
_Narrow = Callable[[revision.Files, Collection[str] | None], revision.Files]


def metrics_targets(repo: Repo, targets: Sequence[str] | None) -> list[str]:
    """``metrics`` targets as dvc takes them: paths from the current
    directory, made repository-relative."""
    out = []
    for t in targets or ():
        rel = os.path.relpath(os.path.abspath(t), repo.root)
        out.append(posixpath.normpath(Path(rel).as_posix()))
    return out


def params_targets(targets: Sequence[str] | None) -> list[str]:
    """``params diff --targets`` as dvc takes them: repository-relative
    paths, whatever the current directory (dvc's ``params.show`` does not make
    them absolute, where ``metrics.show`` does)."""
    return [posixpath.normpath(Path(t).as_posix()) for t in targets or ()]


def show(repo: Repo, targets: Sequence[str] | None = None) -> dict[str, Any]:
    """The workspace's metrics: ``{file: data}`` (errors as ``{"error": msg}``);
    none, after a warning, when its pipelines cannot be loaded."""
    shown = show_or_error(repo, targets)
    return {} if isinstance(shown, BaleError) else shown


def show_or_error(repo: Repo, targets: Sequence[str] | None = None) -> dict[str, Any] | BaleError:
    """:func:`show`, or the error that kept the workspace's pipelines from
    loading (after a warning), which ``metrics show --json`` reports as dvc
    does. ``targets`` (paths from the current directory) are the files to
    show instead of those the pipelines name."""
    pipes = revision.loaded_or_warn(lambda: index.load(repo), "workspace")
    if isinstance(pipes, BaleError):
        return pipes
    files = revision.files_of(repo, pipes.files)
    if targets:
        files = revision.targeted(repo, files, metrics=metrics_targets(repo, targets))
    return revision.workspace(repo, files).metrics


def _named_revisions(
    repo: Repo,
    *,
    all_branches: bool,
    all_tags: bool,
    all_commits: bool,
    revs: Sequence[str] = (),
) -> list[tuple[str, str]]:
    """dvc's brancher without the workspace: (names, commit id) per commit,
    names of one commit joined by ``,`` (``master,v1``); ``revs`` as given,
    then branches then tags, by name, or with ``all_commits`` every commit by
    id, newest first."""
    named: list[tuple[str, str]] = [(rev, scm.resolve_rev(repo.root, rev)) for rev in revs]
    if all_commits:
        ids = scm.git(repo.root, "rev-list", *scm.ALL_COMMITS).stdout.decode().split()
        named += [(c, c) for c in ids]
    else:
        refs = [p for p, on in (("refs/heads", all_branches), ("refs/tags", all_tags)) if on]
        for ref in refs:
            fmt = "--format=%(refname:short) %(objectname) %(*objectname)"
            out = scm.git(repo.root, "for-each-ref", fmt, ref).stdout.decode()
            # a tag's commit is its peeled id; a branch's, its own
            named += [(f[0], f[-1]) for f in (line.split() for line in out.splitlines()) if f]
    by_commit: dict[str, list[str]] = {}
    for name, commit in named:
        by_commit.setdefault(commit, []).append(name)
    return [(",".join(group), commit) for commit, group in by_commit.items()]


def show_revisions(
    repo: Repo,
    targets: Sequence[str] | None = None,
    *,
    all_branches: bool = False,
    all_tags: bool = False,
    all_commits: bool = False,
    revs: Sequence[str] = (),
) -> dict[str, dict[str, Any] | BaleError]:
    """``metrics show -a/-T/-A/--rev``: per revision name (``workspace`` first),
    its files as :func:`show_or_error` gives them, or the error that kept its
    pipelines from loading. The workspace is left out when it shows the same
    as the branch checked out (and no file is unreadable), as dvc leaves it out."""
    scm.require_git(repo, "metrics show -a/-T/-A")
    wanted = metrics_targets(repo, targets)
    out: dict[str, dict[str, Any] | BaleError] = {"workspace": show_or_error(repo, targets)}
    named = _named_revisions(
        repo, all_branches=all_branches, all_tags=all_tags, all_commits=all_commits, revs=revs
    )
    commits = [commit for _name, commit in named]
    scm.prefetch_trees(repo.root, commits)
    # What loading each revision's pipelines reads, read ahead in one batch
    scm.prefetch_blobs(
        repo.root,
        [
            blob
            for commit in commits
            for path, blob in scm.files_under(repo.root, commit)
            if posixpath.basename(path) in _PIPELINE_FILES
        ],
    )
    # Commits that read the same files are read together: one batch for
    # most histories, not a round trip to git per commit.
    groups: list[tuple[revision.Files, list[tuple[str, str]]]] = []
    for name, commit in named:
        pipes = revision.loaded_or_warn(functools.partial(index.load_at, repo, commit), name)
        if isinstance(pipes, BaleError):
            out[name] = pipes
            continue
        tree = revision.tree_at(repo, commit)
        files = revision.targeted(
            repo, revision.files_of(repo, pipes.files, tree), tree, metrics=wanted or None
        )
        out[name] = {}  # its place in dvc's order, filled below
        group = next((g for f, g in groups if f == files), None)
        if group is None:
            groups.append((files, group := []))
        group.append((name, commit))
    for files, group in groups:
        snaps = revision.at_revisions(repo, files, [commit for _name, commit in group])
        for name, commit in group:
            out[name] = snaps[commit].metrics
    current = scm.head(repo.root)
    if current and current[1] in out and _same(out[current[1]], out["workspace"]):
        del out["workspace"]
    return out


def _same(a: dict[str, Any] | BaleError, b: dict[str, Any] | BaleError) -> bool:
    """Whether two revisions show the same, as dvc compares them: a file it
    could not read holds an exception, which equals no other, so such a
    revision is never the same as another."""
    if isinstance(a, BaleError) or isinstance(b, BaleError):
        return False
    unread = any(isinstance(d, dict) and "error" in d for d in (*a.values(), *b.values()))
    return not unread and a == b


def _sides(
    repo: Repo,
    a_rev: str | None,
    b_rev: str | None,
    narrow: _Narrow,
    deps_only: bool = False,
) -> tuple[revision.Snapshot, revision.Snapshot]:
    # Each side's own pipelines name its files, as dvc reads every revision
    # with that revision's dvc.yaml: a metric one side no longer declares
    # shows as added or deleted.
    def at(rev: str, label: str) -> revision.Snapshot:
        # dvc warns (naming the revision as it was given) and shows it without its files.
        pipes = revision.loaded_or_warn(lambda: index.load_at(repo, rev), label)
        if isinstance(pipes, BaleError):
            return _Unloaded()
        tree = revision.tree_at(repo, rev)
        files = narrow(revision.files_of(repo, pipes.files, tree, deps_only=deps_only), tree)
        return revision.at_revisions(repo, files, [rev])[rev]

    def here() -> revision.Snapshot:
        pipes = revision.loaded_or_warn(lambda: index.load(repo), "workspace")
        if isinstance(pipes, BaleError):
            return _Unloaded()
        files = narrow(revision.files_of(repo, pipes.files, deps_only=deps_only), None)
        return revision.workspace(repo, files)

    a = scm.resolve_rev(repo.root, a_rev or "HEAD")
    if b_rev:
        return at(a, a_rev or "HEAD"), at(scm.resolve_rev(repo.root, b_rev), b_rev)
    return at(a, a_rev or "HEAD"), here()


class _Unloaded(revision.Snapshot):
    """A revision whose pipelines did not load: shown without its files."""


def _failed(
    sides: tuple[revision.Snapshot, revision.Snapshot],
    labels: tuple[str, str],
    kind: str,
    into: list[str] | None,
) -> None:
    """Adds to ``into`` the labels of the sides that did not load or have a
    file that could not be read (dvc names them on stderr)."""
    if into is None:
        return
    for snap, label in zip(sides, labels, strict=True):
        files = getattr(snap, kind)
        unread = any(isinstance(d, dict) and "error" in d for d in files.values())
        if unread or isinstance(snap, _Unloaded):
            into.append(label)


def diff(
    repo: Repo,
    a_rev: str | None = None,
    b_rev: str | None = None,
    *,
    all_: bool = False,
    targets: Sequence[str] | None = None,
    failed: list[str] | None = None,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Metrics of ``b_rev`` (default: the workspace) against ``a_rev``
    (default: HEAD), in ``dvc metrics diff --json``'s shape; ``targets``
    (paths from the current directory) narrow it to those files. ``failed``
    receives the names (as given, or HEAD/workspace) of the sides with a
    file that could not be read."""
    from bale.pipeline.compare import diff as compare

    scm.require_git(repo, "metrics diff")
    wanted = metrics_targets(repo, targets)

    def narrow(files: revision.Files, tree: Collection[str] | None) -> revision.Files:
        return revision.targeted(repo, files, tree, metrics=wanted)

    old, new = _sides(repo, a_rev, b_rev, narrow)
    _failed((old, new), (a_rev or "HEAD", b_rev or "workspace"), "metrics", failed)
    return compare(
        revision.loaded(old.metrics, metrics=True),
        revision.loaded(new.metrics, metrics=True),
        with_unchanged=all_,
    )


def params_diff(
    repo: Repo,
    a_rev: str | None = None,
    b_rev: str | None = None,
    *,
    all_: bool = False,
    targets: Sequence[str] | None = None,
    deps_only: bool = False,
    failed: list[str] | None = None,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Params of ``b_rev`` (default: the workspace) against ``a_rev``
    (default: HEAD), in ``dvc params diff --json``'s shape. ``targets``
    (repository-relative) are read whole instead of the files stages name;
    ``deps_only`` leaves out params no stage depends on; ``failed`` as in
    :func:`diff`."""
    from bale.pipeline.compare import diff as compare

    scm.require_git(repo, "params diff")
    wanted = params_targets(targets)

    def narrow(files: revision.Files, tree: Collection[str] | None) -> revision.Files:
        return revision.targeted(repo, files, tree, params=wanted)

    old, new = _sides(repo, a_rev, b_rev, narrow, deps_only)
    _failed((old, new), (a_rev or "HEAD", b_rev or "workspace"), "params", failed)
    return compare(revision.loaded(old.params), revision.loaded(new.params), with_unchanged=all_)
