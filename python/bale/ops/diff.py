"""``bale diff``: tracked files that changed between two git revisions, or
between a revision and the workspace."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bale import scm
from bale.exceptions import CorruptObjectError, ObjectMissingError
from bale.ops.outputs import abspath, collect, collect_at
from bale.pipeline.stage import LOCK_FILE

if TYPE_CHECKING:
    from bale.pipeline.index import Pipelines
    from bale.repo import Repo

# One side of a diff: repository-relative file path -> oid, the tracked
# directories (``path/`` -> oid), those whose manifests are not in the cache,
# and the stage outputs declared with no hash (no ``dvc.lock`` entry).
Side = tuple[dict[str, str], dict[str, str], list[str], set[str]]

_STATES = ("added", "deleted", "modified", "renamed", "not in cache")


@dataclass
class DiffResult:
    added: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    not_in_cache: list[str] = field(default_factory=list)
    #: ``(state, path)`` -> the hash ``dvc diff --show-hash`` shows: the oid
    #: (None for a stage output with no ``dvc.lock`` entry), for "modified"
    #: ``{"old": .., "new": ..}``; a rename is keyed by its old path.
    hashes: dict[tuple[str, str], Any] = field(default_factory=dict, compare=False, repr=False)

    def to_dvc_json(self, hide_missing: bool = False, show_hash: bool = False) -> dict[str, Any]:
        """What ``dvc diff --json`` prints: entries sorted by path (a
        rename's old one), ``{}`` when nothing changed, and with
        ``hide_missing`` (dvc's rule between two revisions) no "not in cache";
        with ``show_hash``, each entry's hash after its path."""
        paths: dict[str, list[Any]] = {
            "added": sorted(self.added),
            "deleted": sorted(self.deleted),
            "modified": sorted(self.modified),
            "renamed": sorted(self.renamed),
            "not in cache": sorted(self.not_in_cache),
        }
        out: dict[str, Any] = {}
        for state in _STATES:
            if state == "not in cache" and hide_missing:
                continue
            entries = []
            for p in paths[state]:
                key = p[0] if state == "renamed" else p
                entry: dict[str, Any] = {
                    "path": {"old": p[0], "new": p[1]} if state == "renamed" else p
                }
                if show_hash:
                    entry["hash"] = self.hashes.get((state, key))
                entries.append(entry)
            out[state] = entries
        return out if any(out.values()) else {}


def _expand(
    repo: Repo,
    path: str,
    algo: str,
    oid: str,
    files: dict[str, str],
    dirs: dict[str, str],
    missing: list[str],
) -> None:
    if oid.endswith((".dir", ".tree")):
        dirs[path + "/"] = oid
        try:
            entries = repo.workspace.manifest(algo, oid)
        except (ObjectMissingError, CorruptObjectError):
            missing.append(path + "/")
            return
        for rel, foid, _size, _x in entries:
            files[f"{path}/{rel}"] = foid
    else:
        files[path] = oid
        if not repo.workspace.exists(algo, oid):
            missing.append(path)


def _unlocked_outs(repo: Repo, pipes: Pipelines) -> set[str]:
    """The cached outputs stages declare that their ``dvc.lock`` records no
    hash for (never run, or run and not committed): dvc's index has them,
    hashless, so its diff names them."""
    unlocked = set()
    for pf in pipes.files:
        entries = pipes.locks.get(pf.path.with_name(LOCK_FILE)) or {}
        for stage in pf.stages:
            recorded = {o.get("path"): o for o in (entries.get(stage.name) or {}).get("outs") or []}
            for so, where in zip(stage.outs, stage.out_paths(repo.root), strict=True):
                item = recorded.get(so.path)
                if so.cache and not (item and item.get("md5")):
                    unlocked.add(abspath(where).relative_to(repo.root).as_posix())
    return unlocked


def _rev_side(repo: Repo, rev: str) -> Side:
    from bale.pipeline.index import load_at

    files: dict[str, str] = {}
    dirs: dict[str, str] = {}
    missing: list[str] = []
    commit = scm.resolve_rev(repo.root, rev)
    for t in collect_at(repo, commit, rev):
        if t.out.oid:
            _expand(repo, t.rel(repo), t.algo, t.out.oid, files, dirs, missing)
    return files, dirs, missing, _unlocked_outs(repo, load_at(repo, commit, rev))


def _workspace_side(repo: Repo) -> Side:
    from bale.pipeline import index

    files: dict[str, str] = {}
    dirs: dict[str, str] = {}
    paths = [(t.rel(repo), t.path, t.algo) for t in collect(repo)]
    # Outputs no dvc.lock records are in the workspace all the same.
    unlocked = _unlocked_outs(repo, index.load(repo))
    paths += [(rel, repo.root / rel, repo.config.hash_algorithm()) for rel in sorted(unlocked)]
    for rel, path, algo in paths:
        if not (path.exists() or path.is_symlink()):
            continue
        oid, listing = repo.workspace.scan(str(path), algo)
        if oid.endswith((".dir", ".tree")):
            dirs[rel + "/"] = oid
            for r, foid in listing:
                files[f"{rel}/{r}"] = foid
        else:
            files[rel] = oid
    repo.save_state()
    return files, dirs, [], set()


def diff(repo: Repo, a_rev: str | None = None, b_rev: str | None = None) -> DiffResult:
    """``a_rev`` defaults to HEAD; ``b_rev`` to the workspace."""
    scm.require_git(repo, "diff")
    if not scm.has_commits(repo.root):
        return DiffResult()  # as dvc: before the first commit there is nothing to compare
    a_files, a_dirs, a_missing, a_unknown = _rev_side(repo, a_rev or "HEAD")
    b_files, b_dirs, b_missing, b_unknown = (
        _rev_side(repo, b_rev) if b_rev else _workspace_side(repo)
    )
    r = DiffResult(not_in_cache=sorted(set(a_missing + b_missing)))
    for p in r.not_in_cache:
        r.hashes["not in cache", p] = (
            a_files.get(p) or a_dirs.get(p) or b_files.get(p) or b_dirs.get(p)
        )
    _hashless(r, a_unknown - b_unknown, b_files, b_dirs, new_side=True)
    _hashless(r, b_unknown - a_unknown, a_files, a_dirs, new_side=False)
    # A directory whose manifest is not in the cache has no known files: the
    # other side's files under it cannot be compared, only the directory.
    gone = tuple(p for p in a_missing + b_missing if p.endswith("/"))
    if gone:
        a_files = {p: o for p, o in a_files.items() if not p.startswith(gone)}
        b_files = {p: o for p, o in b_files.items() if not p.startswith(gone)}
    added = sorted(set(b_files) - set(a_files))
    deleted = sorted(set(a_files) - set(b_files))
    a_all, b_all = {**a_files, **a_dirs}, {**b_files, **b_dirs}
    for p in sorted(set(a_all) & set(b_all)):
        if a_all[p] != b_all[p]:
            r.modified.append(p)
            r.hashes["modified", p] = {"old": a_all[p], "new": b_all[p]}
    r.added += added + sorted(set(b_dirs) - set(a_dirs))
    r.deleted += deleted + sorted(set(a_dirs) - set(b_dirs))
    # A deleted and an added file (or tracked directory) with the same
    # content is a rename; several with one content pair up in path order.
    _renames(r, deleted, added, a_files, b_files)
    _renames(
        r, sorted(set(a_dirs) - set(b_dirs)), sorted(set(b_dirs) - set(a_dirs)), a_dirs, b_dirs
    )
    for p in r.added:
        r.hashes.setdefault(("added", p), b_all.get(p))
    for p in r.deleted:
        r.hashes.setdefault(("deleted", p), a_all.get(p))
    for old, _new in r.renamed:
        r.hashes["renamed", old] = a_all[old]
    r.added.sort()
    r.deleted.sort()
    r.modified.sort()
    return r


def _hashless(
    r: DiffResult, unknown: set[str], files: dict[str, str], dirs: dict[str, str], new_side: bool
) -> None:
    """Stage outputs one side declares with no hash, against the other side
    (``files``/``dirs``, from which they are taken out), as dvc compares
    them: with a hash there, the output is modified (named as the hashless
    side's entry names it when that is the old one: no ``/``, dvc not
    knowing it is a directory), and the files inside a directory are added
    or deleted; without, the output is added or deleted."""
    for p in sorted(unknown):
        other = files.pop(p, None)
        shown = p
        if other is None and p + "/" in dirs:
            other = dirs.pop(p + "/")
            shown = p if new_side else p + "/"
        if other is None:
            state = "deleted" if new_side else "added"
            getattr(r, state).append(p)
            r.hashes[state, p] = None
            continue
        r.modified.append(shown)
        r.hashes["modified", shown] = (
            {"old": None, "new": other} if new_side else {"old": other, "new": None}
        )


def _renames(
    r: DiffResult, deleted: list[str], added: list[str], old: dict[str, str], new: dict[str, str]
) -> None:
    by_oid: dict[str, list[str]] = {}
    for p in deleted:
        by_oid.setdefault(old[p], []).append(p)
    for p in added:
        gone = by_oid.get(new[p])
        if gone:
            was = gone.pop(0)
            r.renamed.append((was, p))
            r.added.remove(p)
            r.deleted.remove(was)
