"""``bale diff``: tracked files that changed between two git revisions, or
between a revision and the workspace."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import _core, index, scm
from bale.console import debug
from bale.exceptions import CorruptObjectError, ObjectMissingError

if TYPE_CHECKING:
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
        rename's old one), ``{}`` when nothing changed (nor is missing), and
        with ``hide_missing`` (dvc's rule between two revisions) no "not in cache";
        with ``show_hash``, each entry's hash after its path."""
        paths: dict[str, list[Any]] = {
            "added": sorted(self.added),
            "deleted": sorted(self.deleted),
            "modified": sorted(self.modified),
            "renamed": sorted(self.renamed),
            "not in cache": sorted(self.not_in_cache),
        }
        if not any(paths.values()):
            return {}
        out: dict[str, Any] = {}
        for state in _STATES:
            # dvc drops the state after the test for an empty diff
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
        return out


def _expand(
    repo: Repo,
    path: str,
    algo: str,
    oid: str,
    files: dict[str, str],
    dirs: dict[str, str],
    missing: list[str],
    check_files: bool = False,
) -> None:
    """Adds the output at ``path`` to ``files``/``dirs`` (a directory's
    files one by one); what the cache lacks to ``missing``: the directory's
    manifest, and with ``check_files`` each of its files, as dvc checks them."""
    if _core.is_tree(oid):
        dirs[path + "/"] = oid
        try:
            entries = repo.workspace.manifest(algo, oid)
        except (ObjectMissingError, CorruptObjectError):
            missing.append(path + "/")
            return
        for rel, foid, _size, _x in entries:
            files[f"{path}/{rel}"] = foid
            if check_files and not repo.workspace.exists(algo, foid):
                missing.append(f"{path}/{rel}")
    else:
        files[path] = oid
        if not repo.workspace.exists(algo, oid):
            missing.append(path)


def _unlocked_outs(repo: Repo, pipes: index.Pipelines) -> set[str]:
    """The stage outputs ``pipes`` declare with no hash recorded:
    dvc's index has them, hashless, so its diff names them."""
    return {p.relative_to(repo.root).as_posix() for p in pipes.hashless()}


def _rev_side(repo: Repo, rev: str, check_files: bool = False) -> Side:
    files: dict[str, str] = {}
    dirs: dict[str, str] = {}
    missing: list[str] = []
    commit = scm.resolve_rev(repo.root, rev)
    pipes = index.load_at(repo, commit, rev)
    outs = [t for t in index.collect_at(repo, commit, rev, pipes) if t.out.oid]
    for t in outs:
        assert t.out.oid is not None
        _expand(repo, t.rel(repo), t.algo, t.out.oid, files, dirs, missing, check_files)
    debug(
        f"{rev} is commit {commit[:12]}: {len(outs)} output(s) recorded there, {len(files)} "
        f"file(s) in all, {len(dirs)} directory listing(s) read from the cache {repo.cache_dir}"
        + (f"; {len(missing)} not in the cache" if missing else "")
    )
    return files, dirs, missing, _unlocked_outs(repo, pipes)


def _workspace_side(repo: Repo) -> Side:
    files: dict[str, str] = {}
    dirs: dict[str, str] = {}
    tracked = index.collect(repo, stages=False)
    pipes = index.load(repo)
    paths = [(t.rel(repo), t.path, t.algo) for t in tracked + pipes.outputs()]
    # Outputs no dvc.lock records are in the workspace all the same.
    unlocked = _unlocked_outs(repo, pipes)
    paths += [(rel, repo.root / rel, repo.config.hash_algorithm()) for rel in sorted(unlocked)]
    for rel, path, algo in paths:
        if not (path.exists() or path.is_symlink()):
            continue
        oid, listing = repo.workspace.scan(str(path), algo)
        if _core.is_tree(oid):
            dirs[rel + "/"] = oid
            for r, foid in listing:
                files[f"{rel}/{r}"] = foid
        else:
            files[rel] = oid
    repo.save_state()
    debug(
        f"the workspace: {len(paths)} output(s), {len(files)} file(s) hashed or taken from "
        "the stat cache"
    )
    return files, dirs, [], set()


def diff(
    repo: Repo,
    a_rev: str | None = None,
    b_rev: str | None = None,
    targets: Sequence[str] | None = None,
) -> DiffResult:
    """``a_rev`` defaults to HEAD; ``b_rev`` to the workspace; ``targets``
    (``.dvc`` files, stages, paths) limit it to what they name."""
    scm.require_git(repo, "diff")
    if not scm.has_commits(repo.root):
        return DiffResult()  # as dvc: before the first commit there is nothing to compare
    # Against the workspace, dvc lists every file of the old side the cache
    # lacks ("not in cache"); between two revisions it shows none.
    a_side = _rev_side(repo, a_rev or "HEAD", check_files=not b_rev)
    b_side = _rev_side(repo, b_rev) if b_rev else _workspace_side(repo)
    if targets:
        a_side, b_side = _only(repo, targets, a_side, b_side)
    a_files, a_dirs, a_missing, a_unknown = a_side
    b_files, b_dirs, b_missing, b_unknown = b_side
    # Between two revisions dvc does not look for what the cache lacks.
    r = DiffResult(not_in_cache=sorted(set(a_missing + b_missing)) if not b_rev else [])
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


def _only(repo: Repo, targets: Sequence[str], *sides: Side) -> tuple[Side, Side]:
    """``sides`` cut to what ``targets`` name (``dvc diff --targets``): the
    outputs of a ``.dvc`` file or a stage, or a path and what is under it (a
    path inside a tracked directory: only that part of it). A target that
    names no output on either side is an error, as in dvc."""
    from bale.exceptions import TargetError, TargetNotFoundError
    from bale.metafiles import load_dvcfile

    def rel(path: Path) -> str:
        return path.relative_to(repo.root).as_posix() if path != repo.root else ""

    prefixes: list[tuple[str, list[str]]] = []
    stages: set[str] = set()  # targets that name stages: found, outputs or not
    pipes = None
    for target in targets:
        path = index.abspath(target)
        if path.suffix == ".dvc" and path.is_file():
            f = load_dvcfile(path, repo.memo)
            named = [rel(index.abspath(path.parent / o.path)) for o in f.outs]
        elif path.exists():
            named = [rel(path)]
        else:
            pipes = pipes or index.load(repo)
            try:
                nodes = pipes.select([target])
            except TargetError:  # not a stage: a path gone from the workspace
                nodes = []
            # A path in (or of) an output selects its node too: that is a path.
            nodes = [n for n in nodes if not any(path.is_relative_to(o) for o in n.outs)]
            named = [rel(o) for n in nodes for o in n.outs] if nodes else [rel(path)]
            if nodes:
                stages.add(target)
        prefixes.append((target, named))

    def wanted(p: str) -> bool:
        p = p.rstrip("/")
        return any(not n or p == n or p.startswith(n + "/") for _t, ns in prefixes for n in ns)

    out = []
    for files, dirs, missing, unknown in sides:
        out.append(
            (
                {p: o for p, o in files.items() if wanted(p)},
                {p: o for p, o in dirs.items() if wanted(p)},
                [p for p in missing if wanted(p)],
                {p for p in unknown if wanted(p)},
            )
        )
    # dvc's rule: a target is an output, or a path inside one, on either side
    # (a directory holding outputs is not one without --recursive).
    everything = [p.rstrip("/") for files, dirs, _m, unk in sides for p in (*files, *dirs, *unk)]
    for target, named in prefixes:
        if target in stages:
            continue
        if not any(p == n or n.startswith(p + "/") for n in named for p in everything):
            raise TargetNotFoundError(
                f"{target}: is not a tracked output, or a path inside one, at either revision"
            )
    return out[0], out[1]


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
