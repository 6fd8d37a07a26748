"""``bale diff``: tracked files that changed between two git revisions, or
between a revision and the workspace."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bale import scm
from bale.exceptions import CorruptObjectError, ObjectMissingError
from bale.ops.outputs import collect, collect_at

if TYPE_CHECKING:
    from bale.repo import Repo

# One side of a diff: repository-relative file path -> oid, plus the tracked
# directories whose manifests are not in the cache.
Side = tuple[dict[str, str], dict[str, str], list[str]]


@dataclass
class DiffResult:
    added: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    not_in_cache: list[str] = field(default_factory=list)

    def to_dvc_json(self, hide_missing: bool = False) -> dict[str, Any]:
        """What ``dvc diff --json`` prints: entries sorted by path (a
        rename's old one), ``{}`` when nothing changed, and with
        ``hide_missing`` (dvc's rule between two revisions) no "not in cache"."""
        out: dict[str, Any] = {
            "added": [{"path": p} for p in sorted(self.added)],
            "deleted": [{"path": p} for p in sorted(self.deleted)],
            "modified": [{"path": p} for p in sorted(self.modified)],
            "renamed": [{"path": {"old": a, "new": b}} for a, b in sorted(self.renamed)],
            "not in cache": [{"path": p} for p in sorted(self.not_in_cache)],
        }
        if hide_missing:
            del out["not in cache"]
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


def _rev_side(repo: Repo, rev: str) -> Side:
    files: dict[str, str] = {}
    dirs: dict[str, str] = {}
    missing: list[str] = []
    for t in collect_at(repo, scm.resolve_rev(repo.root, rev), rev):
        if t.out.oid:
            _expand(repo, t.rel(repo), t.algo, t.out.oid, files, dirs, missing)
    return files, dirs, missing


def _workspace_side(repo: Repo) -> Side:
    files: dict[str, str] = {}
    dirs: dict[str, str] = {}
    for t in collect(repo):
        if not (t.path.exists() or t.path.is_symlink()):
            continue
        rel = t.rel(repo)
        oid, listing = repo.workspace.scan(str(t.path), t.algo)
        if oid.endswith((".dir", ".tree")):
            dirs[rel + "/"] = oid
            for r, foid in listing:
                files[f"{rel}/{r}"] = foid
        else:
            files[rel] = oid
    repo.save_state()
    return files, dirs, []


def diff(repo: Repo, a_rev: str | None = None, b_rev: str | None = None) -> DiffResult:
    """``a_rev`` defaults to HEAD; ``b_rev`` to the workspace."""
    scm.require_git(repo, "diff")
    if not scm.has_commits(repo.root):
        return DiffResult()  # as dvc: before the first commit there is nothing to compare
    a_files, a_dirs, a_missing = _rev_side(repo, a_rev or "HEAD")
    b_files, b_dirs, b_missing = _rev_side(repo, b_rev) if b_rev else _workspace_side(repo)
    r = DiffResult(not_in_cache=sorted(set(a_missing + b_missing)))
    # A directory whose manifest is not in the cache has no known files: the
    # other side's files under it cannot be compared, only the directory.
    gone = tuple(p for p in a_missing + b_missing if p.endswith("/"))
    if gone:
        a_files = {p: o for p, o in a_files.items() if not p.startswith(gone)}
        b_files = {p: o for p, o in b_files.items() if not p.startswith(gone)}
    added = sorted(set(b_files) - set(a_files))
    deleted = sorted(set(a_files) - set(b_files))
    r.modified = sorted(p for p in set(a_files) & set(b_files) if a_files[p] != b_files[p])
    r.modified += sorted(p for p in set(a_dirs) & set(b_dirs) if a_dirs[p] != b_dirs[p])
    r.added = added + sorted(set(b_dirs) - set(a_dirs))
    r.deleted = deleted + sorted(set(a_dirs) - set(b_dirs))
    # A deleted and an added file (or tracked directory) with the same
    # content is a rename; several with one content pair up in path order.
    _renames(r, deleted, added, a_files, b_files)
    _renames(
        r, sorted(set(a_dirs) - set(b_dirs)), sorted(set(b_dirs) - set(a_dirs)), a_dirs, b_dirs
    )
    r.modified.sort()
    return r


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
