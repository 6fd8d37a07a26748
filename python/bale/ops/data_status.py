"""``bale data status``: what changed between the last git commit, the
metafiles and the workspace, in ``dvc data status``'s categories
(``dvc/repo/data.py``):

- ``committed``: outputs whose record in the ``.dvc`` / ``dvc.lock`` files
  differs from HEAD's (``git commit`` would record the change);
- ``uncommitted``: outputs whose workspace data differs from the record
  (``bale commit`` would record it, ``bale checkout`` undo it);
- ``not_in_cache``: recorded data the cache lacks;
- ``not_in_remote`` (when asked for): recorded data the remote lacks;
- ``unchanged``: the same in all three; ``untracked``: git's untracked files.

Without ``granular`` a tracked directory is one entry (``dir/``); with it,
its files are entries too. Paths are repository-relative, as dvc's, except
the untracked ones, which are relative to the current directory.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import _core, index, scm
from bale.exceptions import CorruptObjectError, ObjectMissingError

if TYPE_CHECKING:
    from bale.index import Tracked
    from bale.repo import Repo

#: One side of a comparison: entry path (``dir/`` for a directory) -> (algorithm, oid).
Side = dict[str, tuple[str, str]]
#: The files of the directories read, by (path, algorithm, id): HEAD most
#: often records what the workspace's metafiles do, read and listed once.
Files = dict[tuple[str, str, str], Side]


@dataclass
class DataStatus:
    """``dvc data status``'s result; each change list in dvc's order."""

    not_in_cache: list[str] = field(default_factory=list)
    not_in_remote: list[str] = field(default_factory=list)
    committed: dict[str, list[Any]] = field(default_factory=dict)
    uncommitted: dict[str, list[Any]] = field(default_factory=dict)
    untracked: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    #: git's state: commits exist (``is_empty`` false), changes not
    #: tracked by bale (``is_dirty``); empty outside git.
    git: dict[str, bool] = field(default_factory=dict)

    def to_dvc_json(self, unchanged: bool = False, untracked: bool = False) -> dict[str, Any]:
        """What ``dvc data status --json`` prints: empty categories left out."""
        out: dict[str, Any] = {
            "not_in_cache": self.not_in_cache,
            "not_in_remote": self.not_in_remote,
            "committed": self.committed,
            "uncommitted": self.uncommitted,
            "untracked": self.untracked if untracked else [],
            "unchanged": self.unchanged if unchanged else [],
        }
        return {k: v for k, v in out.items() if v}


def _order(path: str) -> tuple[str, ...]:
    # dvc walks a trie of path parts: "d/" (the directory) before "d/a"
    return tuple(path.rstrip("/").split("/"))


def _entries(
    repo: Repo, rel: str, algo: str, oid: str, granular: bool, side: Side, files: Files
) -> None:
    """Adds one output to ``side``; with ``granular``, a directory's files
    too (when its manifest is in the cache: else only the directory)."""
    if not _core.is_tree(oid):
        side[rel] = (algo, oid)
        return
    side[rel + "/"] = (algo, oid)
    if not granular:
        return
    key = (rel, algo, oid)
    if key not in files:
        files[key] = _files(repo, rel, algo, oid)
    side.update(files[key])


def _files(repo: Repo, rel: str, algo: str, oid: str) -> Side:
    try:
        return repo.workspace.manifest_by_path(algo, oid, rel)
    except (ObjectMissingError, CorruptObjectError):
        return {}


def _recorded(repo: Repo, outs: Sequence[Tracked], granular: bool, files: Files) -> Side:
    side: Side = {}
    for t in outs:
        if t.out.oid and t.out.cache:
            _entries(repo, t.rel(repo), t.algo, t.out.oid, granular, side, files)
    return side


def _workspace(repo: Repo, outs: Sequence[Tracked], granular: bool) -> Side:
    side: Side = {}
    for t in outs:
        if not t.out.cache or not (t.path.exists() or t.path.is_symlink()):
            continue
        rel = t.rel(repo)
        if not granular:
            # only the id: a directory whose walk is what it was when last
            # hashed is answered by the stat cache's memo, no file looked up
            built = repo.workspace.build(str(t.path), t.algo, False)
            side[rel + "/" if _core.is_tree(built.oid) else rel] = (t.algo, built.oid)
            continue
        oid, files = repo.workspace.scan_by_path(str(t.path), t.algo, rel)
        if not _core.is_tree(oid):
            side[rel] = (t.algo, oid)
            continue
        side[rel + "/"] = (t.algo, oid)
        side.update(files)
    return side


def _compare(old: Side, new: Side) -> tuple[dict[str, list[Any]], set[str]]:
    """The changes from ``old`` to ``new``, by kind in the order dvc meets
    them (path order, a kind placed where it first occurs), and the paths
    that changed. A deleted and an added entry with the same content are a
    rename."""
    # a granular status holds every file of a directory: only the changed
    # paths are collected and put in order (a sort of 100,000 paths costs
    # half a second, a set of them a tenth), and HEAD most often records
    # just what the metafiles do
    if old == new:
        return {}, set()
    in_new = new.get
    changed = [p for p, v in old.items() if in_new(p) != v]
    changed += [p for p in new if p not in old]
    changes: list[tuple[str, str]] = []
    for path in sorted(changed, key=_order):
        if path in old and path in new:
            changes.append(("modified", path))
        else:
            changes.append(("added" if path in new else "deleted", path))
    gone: dict[str, list[str]] = {}
    for kind, path in changes:
        if kind == "deleted":
            gone.setdefault(old[path][1], []).append(path)
    out: dict[str, list[Any]] = {}
    renamed_from: set[str] = set()
    for kind, path in changes:
        entry: Any = path
        if kind == "added" and gone.get(new[path][1]):
            was = gone[new[path][1]].pop(0)
            renamed_from.add(was)
            kind, entry = "renamed", {"old": was, "new": path}
        out.setdefault(kind, []).append(entry)
    if renamed_from:
        out["deleted"] = [p for p in out["deleted"] if p not in renamed_from]
        if not out["deleted"]:
            del out["deleted"]
    return out, set(changed)


def _wanted(repo: Repo, targets: Sequence[str | Path]) -> list[str]:
    return [index.abspath(t).relative_to(repo.root).as_posix() for t in targets]


def _under(path: str, prefixes: list[str]) -> bool:
    p = path.rstrip("/")
    return any(n in ("", ".") or p == n or p.startswith(n + "/") for n in prefixes)


def data_status(
    repo: Repo,
    targets: Sequence[str | Path] = (),
    *,
    granular: bool = False,
    untracked_files: bool = False,
    not_in_remote: bool = False,
    remote: str | None = None,
    list_unchanged: bool = True,
) -> DataStatus:
    """Compares HEAD's records, the workspace's records and the workspace
    data of every output (``targets``: only those paths and what is under
    them), as ``dvc data status`` does; read-only. With ``not_in_remote``,
    asks ``remote`` (default: each output's) which recorded data it lacks.
    Without ``list_unchanged``, ``unchanged`` is left empty.

    >>> data_status(Repo("."), granular=True).uncommitted  # doctest: +SKIP
    {'modified': ['data/', 'data/a.csv']}
    """
    prefixes = _wanted(repo, targets)
    result = DataStatus()
    try:
        outs = index.collect(repo)
        files: Files = {}
        recorded = _recorded(repo, outs, granular, files)
        current = _workspace(repo, outs, granular)
    finally:
        repo.save_state()
    git = scm.uses_git(repo)
    head: Side | None = None
    empty = git and not scm.has_commits(repo.root)
    if empty:
        head = {}  # as dvc: before the first commit, every record is a change to commit
    elif git:
        commit = scm.resolve_rev(repo.root, "HEAD")
        pipes = index.load_at(repo, commit, "HEAD")
        head = _recorded(repo, index.collect_at(repo, commit, "HEAD", pipes), granular, files)
    if prefixes:
        recorded, current = (
            {p: v for p, v in s.items() if _under(p, prefixes)} for s in (recorded, current)
        )
        if head is not None:
            head = {p: v for p, v in head.items() if _under(p, prefixes)}
    result.uncommitted, uncommitted = _compare(recorded, current)
    try:
        result.not_in_cache = sorted(_absent(repo, outs, recorded, files), key=_order)
    finally:
        repo.save_state()  # the directories found complete, remembered
    if not_in_remote:
        result.not_in_remote = _not_in_remote(repo, outs, granular, remote, prefixes)
    committed: set[str] = set()
    if head is not None:
        result.committed, committed = _compare(head, recorded)
    if list_unchanged:
        # the same in all three; dvc's order is a Python set's, bale sorts
        # (what is asked for: a granular status of a large directory holds
        # its every file)
        unchanged = recorded.keys() - uncommitted
        if head is not None:
            unchanged &= head.keys() - committed
        result.unchanged = sorted(unchanged, key=_order)
    if git:
        result.git = {"is_empty": empty, "is_dirty": False}
        _git_state(repo, result, untracked_files, prefixes)
    return result


def _absent(repo: Repo, outs: Sequence[Tracked], side: Side, files: Files) -> list[str]:
    """The paths of ``side`` (the records of ``outs``) whose object the cache
    lacks. The outputs' own ids: one call into the engine per algorithm,
    which looks in parallel without the GIL. The files of a directory that
    ``side`` lists: one call per directory, which the stat cache answers
    without a look when the directory was found complete before and no
    object came or went since (a granular status of a large directory
    would else ask for its every file)."""
    out: list[str] = []
    asked: Side = {}
    recorded = {t.rel(repo): (t.algo, t.out.oid) for t in outs if t.out.oid and t.out.cache}
    for rel, (algo, oid) in recorded.items():
        tree = _core.is_tree(oid)
        key = rel + "/" if tree else rel
        if key in side:
            asked[key] = side[key]
        listed = files.get((rel, algo, oid)) if tree else None
        if not listed:
            continue
        try:
            lacking = repo.workspace.absent_files(algo, oid)
        except (ObjectMissingError, CorruptObjectError):
            # gone or damaged since it was read: ask for each file
            asked.update((p, v) for p, v in listed.items() if p in side)
            continue
        out += [p for p in (f"{rel}/{sub}" for sub in lacking) if p in side]
    for algo in {a for a, _ in asked.values()}:
        gone = set(repo.workspace.absent(algo, [o for a, o in asked.values() if a == algo]))
        if gone:
            out += [p for p, (a, o) in asked.items() if a == algo and o in gone]
    return out


def _not_in_remote(
    repo: Repo,
    outs: Sequence[Tracked],
    granular: bool,
    remote: str | None,
    prefixes: list[str],
) -> list[str]:
    """The recorded outputs (with ``granular``, files inside directories
    too) that the remote lacks, from the same comparison ``status -c``
    makes: what it calls "new" (only in the cache) or "missing" (nowhere)."""
    from bale.ops.status import cloud_status

    dirs = {t.rel(repo) for t in outs if t.out.is_dir}
    top = {t.rel(repo) for t in outs}
    cloud = cloud_status(repo, None, remote=remote)
    lacking = [
        p + "/" if p in dirs else p
        for p, state in cloud.states.items()
        if state in ("new", "missing") and (granular or p in top)
    ]
    if prefixes:
        lacking = [p for p in lacking if _under(p, prefixes)]
    return sorted(lacking, key=_order)


def _git_state(repo: Repo, result: DataStatus, untracked_files: bool, prefixes: list[str]) -> None:
    """git's changes (any makes the work tree dirty) and, when asked for,
    its untracked files, named from the current directory."""
    mode = "-uall" if untracked_files else "-uno"
    out = scm.git(repo.root, "status", "--porcelain", "-z", mode).stdout.decode()
    records = [r for r in out.split("\0") if r]
    result.git["is_dirty"] = bool(records)
    top = scm.toplevel(repo.root)
    untracked = []
    for record in records:
        if not record.startswith("?? "):
            continue
        path = top / record[3:]
        try:
            rel = path.relative_to(repo.root).as_posix()
        except ValueError:
            continue  # outside this repository (it is a sub-directory of git's)
        if not prefixes or _under(rel, prefixes):
            untracked.append(Path(os.path.relpath(path)).as_posix())
    result.untracked = sorted(untracked)
