"""What ``exp show`` collects, in dvc's shape: per baseline commit (and the
workspace) its params, metrics, dependencies and outputs, with the
experiments derived from it nested under it (dvc's ``ExpState`` and
``SerializableExp``, ``dvc/repo/experiments/serialize.py``).

Each revision is read with its own pipelines, as dvc reads it after
switching to it: a commit from before a stage existed shows none of its
files, where reading the workspace's list at every commit would show them
missing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import index, scm
from bale.console import warn
from bale.exceptions import BaleError
from bale.experiments import refs
from bale.pipeline.dvcyaml import PipelineFile

if TYPE_CHECKING:
    from bale.metafiles.dvcfile import DvcFile
    from bale.pipeline.revision import Snapshot
    from bale.repo import Repo

WORKSPACE = "workspace"
#: the hash fields a dvc.lock or .dvc entry may carry, in dvc's preference
_HASH_KEYS = ("md5", "etag", "checksum")


@dataclass
class ExpData:
    """dvc's ``SerializableExp``: one revision's results."""

    rev: str
    timestamp: int | None  # commit time, unix seconds (None: the workspace)
    params: dict[str, Any] = field(default_factory=dict)  # file -> {"data"} or {"error"}
    metrics: dict[str, Any] = field(default_factory=dict)
    deps: dict[str, dict[str, Any]] = field(default_factory=dict)
    outs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def dumpd(self) -> dict[str, Any]:
        return {
            "rev": self.rev,
            "timestamp": _iso(self.timestamp),
            "params": self.params,
            "metrics": self.metrics,
            "deps": self.deps,
            "outs": self.outs,
            "meta": {},
        }


@dataclass
class ExpState:
    """dvc's ``ExpState``: a baseline (or the workspace, or one experiment)."""

    rev: str
    name: str | None = None
    data: ExpData | None = None
    error: dict[str, str] | None = None
    experiments: list[ExpState] | None = None  # each one a single-commit range
    # an experiment's: dvc's ExecutorInfo as its JSON has it, for one the queue ran or holds
    executor: dict[str, Any] | None = None

    def dumpd(self) -> dict[str, Any]:
        return {
            "rev": self.rev,
            "name": self.name,
            "data": self.data.dumpd() if self.data else None,
            "error": self.error,
            "experiments": None
            if self.experiments is None
            else [
                {"revs": [e.dumpd()], "executor": e.executor, "name": e.name}
                for e in self.experiments
            ],
        }


def _iso(ts: int | None) -> str | None:
    # dvc: datetime.fromtimestamp(commit_time), naive local time, isoformat()
    return None if ts is None else datetime.fromtimestamp(ts).isoformat()


def collect(
    repo: Repo,
    *,
    all_commits: bool = False,
    all_branches: bool = False,
    all_tags: bool = False,
    revs: list[str] | None = None,
    num: int = 1,
    hide_workspace: bool = False,
    sha_only: bool = False,
    param_deps: bool = False,
) -> list[ExpState]:
    """dvc's ``experiments.collect``: the workspace, then each baseline
    (HEAD by default; with ``all_commits`` every commit reachable from HEAD,
    branches, tags and remotes, newest first) with its experiments, newest
    first."""
    scm.require_git(repo, "exp show")
    if not scm.has_commits(repo.root):
        return []
    bases = baselines(repo, all_commits, all_branches, all_tags, revs, num)
    names = {} if sha_only else describe(repo, bases)
    exps = refs.list_refs(repo.root)
    wanted = set(bases)
    commits = list(dict.fromkeys([*bases, *(r.commit for r in exps if r.baseline in wanted)]))
    times = _commit_times(repo, commits)
    out: list[ExpState] = []
    if not hide_workspace:
        out.append(_state(repo, WORKSPACE, None, param_deps))
    for b in bases:
        # dvc reads baselines whole even with --param-deps
        state = _state(repo, b, times.get(b), False)
        state.name = names.get(b)
        mine = [r for r in exps if r.baseline == b]
        # dvc's _sorted_ranges: by (timestamp, rev), newest first
        mine.sort(key=lambda r: (times.get(r.commit, 0), r.commit), reverse=True)
        children = []
        for r in mine:
            child = _state(repo, r.commit, times.get(r.commit), param_deps)
            child.name = r.name
            children.append(child)
        state.experiments = children or None
        out.append(state)
    return out


def baselines(
    repo: Repo,
    all_commits: bool,
    all_branches: bool,
    all_tags: bool,
    revs: list[str] | None,
    num: int,
) -> list[str]:
    """dvc's ``iter_revs``: the commits to show as baselines, once each."""
    root = repo.root
    found: list[str] = []
    if not any([revs, all_commits, all_branches, all_tags]):
        revs = ["HEAD"]
    for rev in revs or []:
        found += _first_parents(repo, scm.resolve_rev(root, rev), num)
    if all_commits:
        # dvc's list_all_commits (dulwich's walker, ORDER_DATE): HEAD,
        # branches, remotes and tags, newest first; not experiments' refs
        out = scm.git(root, "rev-list", "--date-order", "HEAD", "--branches", "--tags", "--remotes")
        found += out.stdout.decode().split()
    else:
        if all_branches:
            heads = scm.git(root, "for-each-ref", "--format=%(objectname)", "refs/heads")
            for c in heads.stdout.decode().split():
                found += _first_parents(repo, c, num)
        if all_tags:
            tags = scm.git(root, "for-each-ref", "--format=%(objectname)^{commit}", "refs/tags")
            found += [scm.resolve_rev(root, t) for t in tags.stdout.decode().split()]
    return list(dict.fromkeys(found))


def _first_parents(repo: Repo, commit: str, num: int) -> list[str]:
    if num == 0:
        return []
    args = ["rev-list", "--first-parent", commit] + ([f"-n{num}"] if num > 0 else [])
    return scm.git(repo.root, *args).stdout.decode().split()


def describe(repo: Repo, commits: list[str]) -> dict[str, str | None]:
    """dvc's ``describe``: HEAD's branch for HEAD, else a tag, else a branch."""
    head = scm.head(repo.root)
    out = scm.git(repo.root, "for-each-ref", "--format=%(objectname) %(*objectname) %(refname)")
    tags: dict[str, str] = {}
    branches: dict[str, str] = {}
    for line in out.stdout.decode().splitlines():
        parts = line.split(" ")
        obj, peeled, ref = parts[0], parts[1], " ".join(parts[2:])
        if ref.startswith("refs/tags/"):
            tags.setdefault(peeled or obj, ref.removeprefix("refs/tags/"))
        elif ref.startswith("refs/heads/"):
            branches.setdefault(obj, ref.removeprefix("refs/heads/"))
    names: dict[str, str | None] = {}
    for c in commits:
        if head is not None and c == head[0] and head[1] != "HEAD":
            names[c] = head[1]
        else:
            names[c] = tags.get(c) or branches.get(c)
    return names


def _commit_times(repo: Repo, commits: list[str]) -> dict[str, int]:
    if not commits:
        return {}
    out = scm.git(repo.root, "log", "--no-walk=unsorted", "--format=%H %ct", *commits)
    return {c: int(t) for c, t in (ln.split() for ln in out.stdout.decode().splitlines())}


def state_of(repo: Repo, rev: str, param_deps: bool = False) -> ExpState:
    """The state of one commit (or of the workspace, :data:`WORKSPACE`);
    with ``param_deps``, only the params stages depend on."""
    times = {} if rev == WORKSPACE else _commit_times(repo, [rev])
    return _state(repo, rev, times.get(rev), param_deps)


def _state(repo: Repo, rev: str, timestamp: int | None, param_deps: bool) -> ExpState:
    """One revision's state; what stops its pipelines from loading is its error."""
    try:
        return ExpState(rev, data=_data(repo, rev, timestamp, param_deps))
    except BaleError as e:
        # dvc says nothing on stderr (its JSON holds the error, its table
        # dashes); bale says why the row is empty
        label = rev if rev == WORKSPACE else rev[:7]
        warn(f"failed to load revision '{label}': {e}")
        return ExpState(rev, error={"msg": str(e), "type": type(e).__name__})


def _data(repo: Repo, rev: str, timestamp: int | None, param_deps: bool) -> ExpData:
    from bale.pipeline import revision

    snap: Snapshot
    if rev == WORKSPACE:
        pipes = index.load(repo)
        snap = revision.workspace(repo, revision.files_of(repo, pipes.files))
        dvcfiles = _dvcfiles(repo)
    else:
        pipes = index.load_at(repo, rev)
        files = revision.files_of(repo, pipes.files, revision.tree_at(repo, rev))
        snap = revision.at_revisions(repo, files, [rev])[rev]
        dvcfiles = _dvcfiles_at(repo, rev)
    # dvc lists them as its index walks the metafiles: a directory's files
    # before its subdirectories', in git's (name) order at a commit, in the
    # directory's own order (os.walk's) in the workspace.
    metafiles: list[tuple[Path, PipelineFile | DvcFile]] = [
        *((f.path, f) for f in pipes.files),
        *((Path(f.path), f) for f in dvcfiles),
    ]
    listed: dict[Path, dict[str, int]] = {}

    def rank(parent: Path, name: str) -> Any:
        if rev != WORKSPACE:
            return name
        if parent not in listed:
            try:
                listed[parent] = {n: i for i, n in enumerate(os.listdir(parent))}
            except OSError:
                listed[parent] = {}
        return listed[parent].get(name, len(listed[parent]))

    def walk_key(path: Path) -> list[tuple[int, Any]]:
        *dirs, name = _rel(repo.root, path).split("/")
        key, here = [], repo.root
        for d in dirs:
            key.append((1, rank(here, d)))
            here = here / d
        return [*key, (0, rank(here, name))]

    metafiles.sort(key=lambda item: walk_key(item[0]))
    ordered = [f for _p, f in metafiles if isinstance(f, PipelineFile)]
    metrics_order, params_order = _files_order(repo, ordered)
    data = ExpData(rev, timestamp)
    params = _stage_params(repo, ordered, snap.params) if param_deps else snap.params
    data.params = {
        f: _result(f, params[f], rev, metrics=False) for f in _in_order(params, params_order)
    }
    data.metrics = {
        f: _result(f, snap.metrics[f], rev, metrics=True)
        for f in _in_order(snap.metrics, metrics_order)
    }
    for _path, f in metafiles:
        if isinstance(f, PipelineFile):
            _stage_deps_outs(repo, pipes, f, data)
        else:
            _dvcfile_deps_outs(repo, f, data)
    return data


def _stage_params(repo: Repo, files: list[PipelineFile], found: dict[str, Any]) -> dict[str, Any]:
    """dvc's ``--param-deps``: only the params files stages depend on, each
    cut to the keys they track (whole where one stage tracks it whole)."""
    from bale.pipeline.compare import is_error
    from bale.pipeline.params import select_tree

    tracked: dict[str, list[str] | None] = {}
    for f in files:
        for s in f.stages:
            for p in s.params:
                name = _rel(repo.root, s.abspath(p.path))
                keys = tracked.get(name, [])
                tracked[name] = None if keys is None or not p.keys else [*keys, *p.keys]
    out = {}
    for name, keys in tracked.items():
        data = found.get(name)
        if data is None:
            continue
        if keys and not is_error(data):
            try:
                data = select_tree(data, keys)
            except BaleError as e:
                data = {"error": str(e)}
        out[name] = data
    return out


def _files_order(repo: Repo, files: list[PipelineFile]) -> tuple[list[str], list[str]]:
    """The metrics and the params files in dvc's order (``_collect_metrics``,
    ``_collect_params``): the stages' (in index order), then each
    ``dvc.yaml``'s top-level ones, then the root ``params.yaml``."""
    from bale.pipeline.dvcyaml import DEFAULT_PARAMS_FILE

    metrics: list[str] = []
    params: list[str] = []
    for f in files:
        for s in f.stages:
            metrics += [_rel(repo.root, s.abspath(o.path)) for o in s.outs if o.kind == "metrics"]
            params += [_rel(repo.root, s.abspath(p.path)) for p in s.params]
    for f in files:
        metrics += [_rel(repo.root, f.path.parent / m) for m in f.metrics]
        params += [_rel(repo.root, f.path.parent / p) for p in f.params]
    return metrics, [*params, DEFAULT_PARAMS_FILE]


def _in_order(found: dict[str, Any], order: list[str]) -> list[str]:
    """``found``'s files in ``order`` (a directory there stands for the files
    in it), those it does not name last."""

    def rank(name: str) -> int:
        return next(
            (i for i, o in enumerate(order) if name == o or name.startswith(o + "/")), len(order)
        )

    return sorted(found, key=rank)


def _result(name: str, loaded: Any, rev: str, *, metrics: bool) -> dict[str, Any]:
    """A file's entry as dvc's ``_gather_params``/``_gather_metrics`` write it."""
    from bale.pipeline.compare import dvc_error, extract_metrics, is_error

    if is_error(loaded):
        # the snapshot carries dvc's type (FileNotFoundError, JSONFileCorruptedError...)
        return {"error": dvc_error(loaded)}
    return {"data": extract_metrics(loaded) if metrics else loaded}


def _hash_of(item: dict[str, Any] | None) -> dict[str, Any]:
    if not item:
        return {"hash": None, "size": None, "nfiles": None}
    value = next((item[k] for k in _HASH_KEYS if item.get(k)), None)
    return {"hash": value, "size": item.get("size"), "nfiles": item.get("nfiles")}


def _rel(root: Path, path: Path) -> str:
    return os.path.relpath(os.path.normpath(path), root).replace(os.sep, "/")


def _stage_deps_outs(repo: Repo, pipes: index.Pipelines, f: PipelineFile, data: ExpData) -> None:
    """Stage deps (params aside) and outputs (metrics and plots aside), hashed
    as the lock records them, as dvc's ``repo.index.deps``/``outs`` give them."""
    for s in f.stages:
        entry = pipes.lock_entry(s) or {}
        locked_deps = {d.get("path"): d for d in entry.get("deps") or []}
        locked_outs = {o.get("path"): o for o in entry.get("outs") or []}
        for d in s.deps:
            data.deps[_rel(repo.root, s.abspath(d))] = _hash_of(locked_deps.get(d))
        for o in s.outs:
            if o.kind in ("metrics", "plots"):
                continue
            data.outs[_rel(repo.root, s.abspath(o.path))] = {
                **_hash_of(locked_outs.get(o.path)),
                "use_cache": o.cache,
                "is_data_source": False,
            }


def _dvcfile_deps_outs(repo: Repo, f: DvcFile, data: ExpData) -> None:
    """A ``.dvc`` file's deps (an import-url's source; not a repository
    import's) and outputs, which are data sources (no command)."""
    base = Path(f.path).parent
    if not f.is_repo_import:
        for d in f.deps:
            path = str(d.get("path"))
            key = path if "://" in path else _rel(repo.root, base / path)
            data.deps[key] = _hash_of(d)
    for o in f.outs:
        data.outs[_rel(repo.root, base / o.path)] = {
            "hash": o.oid,
            "size": o.size,
            "nfiles": o.nfiles,
            "use_cache": o.cache,
            "is_data_source": True,
        }


def _dvcfiles(repo: Repo) -> list[DvcFile]:
    from bale.metafiles.dvcfile import load_dvcfile

    return [load_dvcfile(p, repo.memo) for p in index.dvcfiles(repo)]


def _dvcfiles_at(repo: Repo, rev: str) -> list[DvcFile]:
    # as the workspace's index: .dvc files under an ignored path are not read
    return index.dvcfiles_at(repo, rev, visible=True)
