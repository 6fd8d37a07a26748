"""The metrics and params of a revision (or of the workspace), read the way
``metrics show``, ``params diff`` and ``exp show`` need them: the files the
pipelines name, each read whole, many revisions in one ``git cat-file``."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bale import _core, scm
from bale.console import warn
from bale.exceptions import BaleError
from bale.metafiles.walk_order import WalkOrder
from bale.pipeline.dvcyaml import DEFAULT_PARAMS_FILE, PipelineFile

if TYPE_CHECKING:
    from bale.metafiles.memo import ParseMemo
    from bale.repo import Repo


@dataclass
class Snapshot:
    """Per file (repository-relative): its parsed data, or ``{"error": why}``."""

    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Files:
    metrics: list[str]  # repository-relative
    params: list[str]
    #: Cached metrics files: where their dvc.lock records them (lock path,
    #: stage name, path as written there).
    cached: dict[str, tuple[str, str, str]]
    #: Files read only where they exist: the root params.yaml, which dvc
    #: always shows, named by a stage or not.
    optional: frozenset[str] = frozenset()
    #: Params files that only some of whose keys are tracked: those keys
    #: (dotted paths), which are all ``params diff`` shows of them.
    keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Vars files no stage names as params, with the variables stages
    #: interpolated from them (dvc's ``tracked_vars``): those dotted keys,
    #: read flat (``{"train.lr": 0.1}``), as dvc shows them.
    vars: dict[str, tuple[str, ...]] = field(default_factory=dict)


_T = TypeVar("_T")


def loaded_or_warn(load: Callable[[], _T], label: str) -> _T | BaleError:
    """``load()``'s pipelines, or the error that stopped them after a
    warning naming revision ``label``: dvc's metrics, params and exp
    commands show such a revision without its files and go on (a ``live:``
    section dvclive once wrote in ``dvc.yaml``, which dvc's schema refuses,
    warns there, where ``status`` and ``repro`` fail)."""
    try:
        return load()
    except BaleError as e:
        warn(f"failed to load revision '{label}': {e}")
        return e


def files_of(
    repo: Repo,
    pipelines: Sequence[PipelineFile],
    tree: Collection[str] | None = None,
    *,
    deps_only: bool = False,
) -> Files:
    """The metrics and params files ``pipelines`` (the workspace's ``dvc.yaml``
    files, or a revision's) name: stage ``metrics`` outputs and params deps, and each
    ``dvc.yaml``'s top-level ``metrics:`` and ``params:`` lists. A metrics
    directory stands for the files in it: those of ``tree`` (a revision's
    files, repository-relative) if given, else the workspace's. With
    ``deps_only`` (``params diff --deps``), only the params stages depend
    on: no top-level ``params:`` nor the root params.yaml by itself."""
    root = repo.root
    # Metrics in dvc's order (metrics show prints them so): every stage's, the
    # dvc.yaml files as dvc's index walks them (the workspace's os.walk; git's
    # sorted tree at a revision), then every dvc.yaml's top-level ones.
    files = list(pipelines)
    if tree is None:
        walk = WalkOrder(root)
        files = sorted(files, key=lambda f: walk.key(f.path))
    metrics: dict[str, None] = {}
    # Per params file, the keys stages track; None once something tracks
    # the whole file (then every key shows, as dvc's _merge_params decides).
    params: dict[str, list[str] | None] = {}
    cached = {}
    for f in files:
        for p in f.params if not deps_only else ():
            params[_rel(root, f.path.parent / p)] = None
        for s in f.stages:
            for o in s.outs:
                if o.kind == "metrics":
                    rel = _rel(root, s.abspath(o.path))
                    # a metrics directory stands for its files, as a top-level one does
                    found = _expand(root, rel, tree)
                    metrics.update(dict.fromkeys(found))
                    if o.cache and found == [rel]:
                        lock = _rel(root, s.lock_path)
                        cached[rel] = (lock, s.name, o.path)
            for dep in s.params:
                name = _rel(root, s.abspath(dep.path))
                tracked = params.get(name, [])
                params[name] = [*tracked, *dep.keys] if tracked is not None and dep.keys else None
    for f in files:
        for m in f.metrics:
            metrics.update(dict.fromkeys(_expand(root, _rel(root, f.path.parent / m), tree)))
    optional = frozenset() if DEFAULT_PARAMS_FILE in params else frozenset([DEFAULT_PARAMS_FILE])
    if not deps_only:
        params[DEFAULT_PARAMS_FILE] = None
    keys = {name: tuple(k) for name, k in params.items() if k is not None}
    tracked_vars = _vars(root, pipelines, params)
    return Files(list(metrics), sorted(params), cached, optional, keys, tracked_vars)


def _vars(
    root: Path, pipelines: Sequence[PipelineFile], params: Collection[str]
) -> dict[str, tuple[str, ...]]:
    """dvc's ``_collect_vars``: the variables each stage interpolated, per
    vars file (a params.yaml beside a dvc.yaml, or a ``vars:`` file), for the
    files that are not params files already (those show as they are)."""
    found: dict[str, dict[str, None]] = {}
    for f in pipelines:
        for s in f.stages:
            for name, used in f.tracked_vars.get(s.name, {}).items():
                rel = _rel(root, f.path.parent / name)
                if rel not in params:
                    found.setdefault(rel, {}).update(dict.fromkeys(used))
    return {name: tuple(keys) for name, keys in found.items()}


def _expand(root: Path, rel: str, tree: Collection[str] | None) -> list[str]:
    """The files a path stands for: itself, or those under it if it is a
    directory in ``tree`` (a revision's files), else in the workspace."""
    if tree is not None:
        # git holds no empty directories: a path with nothing under it is a file.
        return sorted(p for p in tree if p.startswith(rel + "/")) or [rel]
    if (root / rel).is_dir():
        return [_rel(root, p) for p in sorted((root / rel).rglob("*")) if p.is_file()]
    return [rel]


def targeted(
    repo: Repo,
    files: Files,
    tree: Collection[str] | None = None,
    *,
    metrics: Sequence[str] | None = None,
    params: Sequence[str] | None = None,
) -> Files:
    """``files`` narrowed to the given targets (repository-relative paths,
    directories standing for the files under them, as in :func:`files_of`):
    ``metrics show TARGETS`` and ``metrics diff --targets`` read those
    metrics files, named by a pipeline or not; ``params diff --targets``
    reads those params files whole. As in dvc, a target replaces what the
    pipelines name of its kind (the other kind is left as it was)."""
    root = repo.root
    if metrics:
        found = list(dict.fromkeys(p for t in metrics for p in _expand(root, t, tree)))
        cached = {k: v for k, v in files.cached.items() if k in found}
        files = replace(files, metrics=found, cached=cached)
    if params:
        found = list(dict.fromkeys(p for t in params for p in _expand(root, t, tree)))
        files = replace(files, params=found, optional=frozenset(), keys={}, vars={})
    return files


def tree_at(repo: Repo, rev: str) -> list[str]:
    """The files of git revision ``rev`` under the repository, repository-relative."""
    names = [name for name, _blob in scm.files_under(repo.root, rev)]
    prefix = scm.subdir(repo.root)
    return names if prefix == "." else [n[len(prefix) + 1 :] for n in names]


def loaded(files: dict[str, Any], metrics: bool = False) -> dict[str, Any]:
    """The files that loaded (errors left out), metrics reduced to what dvc
    counts as metrics (numbers, strings, booleans)."""
    from bale.pipeline.compare import extract_metrics

    ok = {f: d for f, d in files.items() if not (isinstance(d, dict) and "error" in d)}
    return {f: extract_metrics(d) for f, d in ok.items()} if metrics else ok


def _rel(root: Path, p: Path) -> str:
    return posixpath.normpath(p.relative_to(root).as_posix()) if p.is_relative_to(root) else str(p)


def _parse(
    memo: ParseMemo,
    name: str,
    data: bytes | None,
    keys: tuple[str, ...] = (),
    flat: bool = False,
) -> Any:
    """The file's data, or ``{"error": why}``; with ``keys``, only the part
    of it that holds them (``flat``: ``{dotted.key: value}``)."""
    from bale.pipeline.params import loads_bytes, select, select_tree, suffix

    if data is None:
        return missing(name)
    try:
        loaded = loads_bytes(data, name, memo)
    except BaleError as e:
        # dvc's type for a file it cannot parse; bale's message says where and
        # why (dvc's says "unable to read: '<path>', JSON file structure is corrupted")
        return {"error": str(e), "type": _CORRUPTED.get(suffix(name), "YAMLFileCorruptedError")}
    try:
        return select(loaded, keys) if flat else select_tree(loaded, keys)
    except BaleError as e:
        return {"error": str(e)}


_CORRUPTED = {
    ".json": "JSONFileCorruptedError",
    ".toml": "TOMLFileCorruptedError",
    ".py": "PythonFileCorruptedError",
}


def missing(name: str, cached: bool = False) -> dict[str, str]:
    """The error of a file that is not there, as dvc reports it (type and
    message of the ``FileNotFoundError`` its file systems raise): a file
    dvc tracks is looked for in the cache (its "storage")."""
    why = "No storage files available" if cached else "No such file or directory"
    return {"error": f"[Errno 2] {why}: '{name}'", "type": "FileNotFoundError"}


def workspace(repo: Repo, files: Files) -> Snapshot:
    snap = Snapshot()
    for kind, names in (("metrics", files.metrics), ("params", files.params)):
        for name in names:
            path = repo.root / name
            data: bytes | None = None
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                if kind == "metrics" and name in files.cached:
                    # A cached metrics file gone from the workspace is read from
                    # the cache, as its dvc.lock records it (dvc does the same).
                    data = _workspace_cached(repo, files.cached[name])
            except IsADirectoryError:
                pass
            if data is None and name in files.optional:
                continue
            if data is None and kind == "metrics" and name in files.cached:
                snap.metrics[name] = missing(name, cached=True)
                continue
            keys = files.keys.get(name, ()) if kind == "params" else ()
            getattr(snap, kind)[name] = _parse(repo.memo, name, data, keys)
    for name, keys in files.vars.items():
        try:
            data = (repo.root / name).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            continue  # dvc shows what the stages used: nothing, if they could not load
        snap.params[name] = _parse(repo.memo, name, data, keys, flat=True)
    return snap


def _workspace_cached(repo: Repo, where: tuple[str, str, str]) -> bytes | None:
    from bale.pipeline.lockfile import loads_lock

    try:
        lock = (repo.root / where[0]).read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None
    return _from_cache(repo, where, lock, loads_lock)


def at_revisions(repo: Repo, files: Files, revs: list[str]) -> dict[str, Snapshot]:
    """Snapshots of git revisions (commit ids), read in one batch; a cached
    metrics file comes from the cache, as that revision's lock records it."""
    from bale.pipeline.lockfile import loads_lock

    prefix = scm.subdir(repo.root)

    def at(name: str) -> str:
        return name if prefix == "." else f"{prefix}/{name}"

    locks = sorted({lock for lock, _s, _p in files.cached.values()})
    names = [*files.metrics, *files.params, *files.vars, *locks]
    blobs = scm.read_paths_at(repo.root, [(r, at(n)) for r in revs for n in names])
    out = {}
    for rev in revs:
        snap = Snapshot()
        for name in files.metrics:
            data = blobs[(rev, at(name))]
            if data is None and name in files.cached:
                data = _from_cache(
                    repo,
                    files.cached[name],
                    blobs.get((rev, at(files.cached[name][0]))),
                    loads_lock,
                )
            snap.metrics[name] = _parse(repo.memo, name, data)
        for name in files.params:
            data = blobs[(rev, at(name))]
            if data is None and name in files.optional:
                continue
            snap.params[name] = _parse(repo.memo, name, data, files.keys.get(name, ()))
        for name, keys in files.vars.items():
            data = blobs[(rev, at(name))]
            if data is not None:
                snap.params[name] = _parse(repo.memo, name, data, keys, flat=True)
        out[rev] = snap
    return out


def _from_cache(
    repo: Repo, where: tuple[str, str, str], lock: bytes | None, loads_lock: Any
) -> bytes | None:
    lock_name, stage, out_path = where
    if lock is None:
        return None
    try:
        entries = loads_lock(lock.decode("utf-8"), lock_name, repo.memo)
    except (BaleError, UnicodeDecodeError):
        return None
    item = next(
        (o for o in entries.get(stage, {}).get("outs") or [] if o.get("path") == out_path), None
    )
    if not item or not item.get("md5") or _core.is_tree(str(item["md5"])):
        return None  # a directory's manifest is not its metrics
    from bale.pipeline.lockfile import algo_of

    algo = algo_of(item)
    try:
        return repo.workspace.object_path(algo, item["md5"]).read_bytes()
    except OSError:
        return None
