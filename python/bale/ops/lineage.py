"""``bale lineage <path>``: where an output came from.

For a stage output: the stage, its command, the commit that recorded the
run (and who made it, when), the params it ran with, every input with its
hash and where its data can be fetched, the stage's metrics, the stages
upstream down to the raw data, and whether the workspace still matches.
For a ``.dvc``-tracked file: its record, commit and remote. Everything comes
from ``dvc.lock``, ``.dvc`` files and git: nothing is run or downloaded.

``--rev`` (:func:`lineage_at`) answers the same questions for a git
revision, from git objects and the cache alone (the workspace and HEAD are
not read): "up to date" is then whether the revision's records agree with
each other there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import index, scm
from bale.exceptions import BaleError, RemoteConfigError, StageNotFoundError
from bale.pipeline.changes import CommitHasher, Hasher, stage_changes
from bale.pipeline.graph import Node
from bale.pipeline.lockfile import algo_of
from bale.pipeline.stage import Stage

if TYPE_CHECKING:
    from bale.repo import Repo


@dataclass
class Input:
    path: str  # repository-relative
    md5: str | None
    size: int | None
    nfiles: int | None
    #: The stage that produces it (dvc's addressing), or the .dvc file that
    #: tracks it, or neither (a file kept in git).
    produced_by: str | None = None
    tracked_by: str | None = None
    in_cache: bool = False
    remote: dict[str, str] | None = None


@dataclass
class StageRecord:
    stage: str
    file: str
    cmd: str | list[str]
    wdir: str
    params: dict[str, Any]
    inputs: list[Input]
    outputs: list[dict[str, Any]]
    metrics: dict[str, Any]
    commit: dict[str, str] | None
    up_to_date: bool
    changes: list[Any]


@dataclass
class Lineage:
    """The answer for one path; ``to_json`` gives a stable shape for scripts."""

    path: str
    md5: str | None
    produced_by: StageRecord | None
    tracked_by: str | None  # a .dvc file, for data added by hand
    commit: dict[str, str] | None
    remote: dict[str, str] | None
    upstream: list[StageRecord] = field(default_factory=list)
    up_to_date: bool = True
    #: For an import: where it comes from. A repository import has ``url``,
    #: ``rev`` (None unless one was given), ``rev_lock`` and ``path``;
    #: an ``import-url`` one has ``url`` only.
    imported_from: dict[str, str | None] | None = None
    #: The git revision read (``name`` as given, ``commit`` its id); None
    #: for the workspace, and then not in ``to_json``.
    rev: dict[str, str] | None = None
    #: What ``md5`` holds (the field keeps dvc's name): ``md5``, or bale's ``blake3``.
    hash: str = "md5"

    def to_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        out = asdict(self)
        if self.rev is None:
            del out["rev"]
        return out


def _imported_from(dep: dict[str, Any]) -> dict[str, str | None]:
    """Where an import comes from, as its ``.dvc`` file records it."""
    from bale.redact import mask_url

    spec = dep.get("repo")
    if isinstance(spec, dict):
        rev, lock = spec.get("rev"), spec.get("rev_lock")
        return {
            "url": mask_url(str(spec.get("url"))),
            "rev": None if rev is None else str(rev),
            "rev_lock": None if lock is None else str(lock),
            "path": str(dep.get("path")),
        }
    return {"url": mask_url(str(dep.get("path")))}


def _remote_of(repo: Repo, name: str | None) -> dict[str, str] | None:
    """The remote ``name`` (None: the default) as this workspace's config
    says, at a revision too: where the data can be fetched from now. A
    revision's own ``.dvc/config`` may name a remote since moved or retired,
    and never holds ``config.local``'s settings nor credentials, which
    ``fetch`` would use; which remote an output names (``remote:``) comes
    from the revision's ``dvc.yaml``."""
    from bale.remotes import resolve_remote

    try:
        r = resolve_remote(repo, name)
    except RemoteConfigError:
        return None
    from bale.redact import mask_url

    return {"name": r.name, "url": mask_url(r.url)}


def _last_commit(repo: Repo, path: Path) -> dict[str, str] | None:
    """The commit that last changed ``path``, and whether the workspace
    copy differs from it."""
    if not scm.uses_git(repo) or not scm.has_commits(repo.root):
        return None
    out = scm.last_commit(repo.root, path)
    if out is None:
        return {"commit": "", "author": "", "date": "", "note": "never committed"}
    info = dict(out)
    if scm.is_modified(repo.root, path):
        exp = _experiment_with(repo, path)
        info["note"] = (
            f"then run as experiment '{exp[0]}' ({exp[1][:7]})"
            if exp
            else "changed since this commit (not committed yet)"
        )
    return info


def _experiment_with(repo: Repo, path: Path) -> tuple[str, str] | None:
    """The experiment of HEAD whose commit holds ``path`` as the workspace
    does now (the run that left the workspace as it is)."""
    from bale.experiments.refs import list_refs

    head = scm.resolve_rev(repo.root, "HEAD")
    exps = [r for r in list_refs(repo.root) if r.baseline == head]
    if not exps or not path.exists():
        return None
    rel = path.relative_to(scm.toplevel(repo.root)).as_posix()
    blobs = scm.read_paths_at(repo.root, [(r.commit, rel) for r in exps])
    now = path.read_bytes()
    for r in reversed(exps):  # the newest first
        if blobs.get((r.commit, rel)) == now:
            return r.name, r.commit
    return None


class _Reader:
    """Where an answer is read: the workspace (this class), or a git commit
    (:class:`_AtCommit`). The records are built from either the same way
    (:func:`_record`, :func:`_lineage`); only what differs lives here."""

    commit: str | None = None
    label: str | None = None

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self.pipes = index.load(repo)
        self.hasher: Hasher = Hasher(repo)

    def last_commit(self, path: Path) -> dict[str, str] | None:
        return _last_commit(self.repo, path)

    def metrics(self, stage: Stage) -> dict[str, Any]:
        from bale.pipeline.params import load_file

        root = self.repo.root
        found: dict[str, Any] = {}
        for o in stage.outs:
            if o.kind != "metrics":
                continue
            path = stage.abspath(o.path)
            rel = path.relative_to(root).as_posix()
            try:
                found[rel] = load_file(path, rel, self.repo.memo)
            except (FileNotFoundError, BaleError) as e:
                found[rel] = {"error": str(e) if isinstance(e, BaleError) else "missing"}
        return found

    def tracked(self, node: Node, path: Path) -> tuple[index.Tracked, bool]:
        """The output of ``node`` (a ``.dvc`` file) that ``path`` is or is
        inside, and whether it is up to date."""
        from bale.ops.status import status_one

        repo = self.repo
        tracked = [t for t, _ in index.resolve(repo, [repo.root / node.label], stages=False)]
        t = next((t for t in tracked if path == t.path or path.is_relative_to(t.path)), tracked[0])
        return t, status_one(repo, t, granular=False) is None

    def not_found(self, target: str) -> BaleError:
        return StageNotFoundError(f"{target}: not produced by a stage nor tracked by a .dvc file")


class _AtCommit(_Reader):
    """Git commit ``commit`` (named ``label``): its ``dvc.yaml``, ``dvc.lock``
    and ``.dvc`` files, its metrics from git or the cache, consistency as
    :class:`CommitHasher` tells it. The workspace is not read."""

    def __init__(self, repo: Repo, commit: str, label: str) -> None:
        self.repo = repo
        self.commit = commit
        self.label = label
        self.pipes = index.load_at(repo, commit, label)
        self.recorded = index.collect_at(repo, commit, label, self.pipes)
        self.hasher = CommitHasher(repo, commit, label, self.recorded)
        self._metrics: dict[str, Any] | None = None

    def last_commit(self, path: Path) -> dict[str, str] | None:
        assert self.commit is not None
        out = scm.last_commit(self.repo.root, path, self.commit)
        return dict(out) if out is not None else None

    def metrics(self, stage: Stage) -> dict[str, Any]:
        from bale.pipeline import revision

        assert self.commit is not None
        if self._metrics is None:
            repo = self.repo
            files = revision.files_of(repo, self.pipes.files, revision.tree_at(repo, self.commit))
            snap = revision.at_revisions(repo, files, [self.commit])[self.commit]
            self._metrics = snap.metrics
        found: dict[str, Any] = {}
        for o in stage.outs:
            if o.kind != "metrics":
                continue
            rel = stage.abspath(o.path).relative_to(self.repo.root).as_posix()
            for name, data in self._metrics.items():
                if name == rel or name.startswith(rel + "/"):
                    # an error as the workspace's are: {"error": why}
                    bad = isinstance(data, dict) and "error" in data
                    found[name] = {"error": data["error"]} if bad else data
        return found

    def tracked(self, node: Node, path: Path) -> tuple[index.Tracked, bool]:
        # A .dvc file records no run that could disagree with something at
        # its commit: its record is what the commit says the data is.
        dvcfile = self.repo.root / node.label
        mine = [t for t in self.recorded if t.stage is None and t.dvcfile.path == dvcfile]
        t = next((t for t in mine if path == t.path or path.is_relative_to(t.path)), mine[0])
        return t, True

    def not_found(self, target: str) -> BaleError:
        return StageNotFoundError(
            f"{target}: not produced by a stage nor tracked by a .dvc file at {self.label}"
        )


def _record(at: _Reader, node: Node) -> StageRecord:
    stage = node.stage
    assert stage is not None
    repo, pipes = at.repo, at.pipes
    root = repo.root
    entry = pipes.lock_entry(stage) or {}
    deps = {d["path"]: d for d in entry.get("deps") or []}
    graph = pipes.graph
    inputs = []
    for dep in stage.deps:
        path = stage.abspath(dep)
        item = deps.get(dep, {})
        owner = graph.owner_of(path)
        md5 = item.get("md5")
        algo = algo_of(item)
        inp = Input(
            path=path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path),
            md5=md5,
            size=item.get("size"),
            nfiles=item.get("nfiles"),
            in_cache=bool(md5) and repo.workspace.exists(algo, md5),
        )
        if owner is not None and owner.stage is not None:
            inp.produced_by = owner.label
            so = next((o for o in owner.stage.outs if owner.stage.abspath(o.path) == path), None)
            inp.remote = _remote_of(repo, so.remote if so else None)
        elif owner is not None:
            inp.tracked_by = owner.label
            inp.remote = _remote_of(repo, None)
        inputs.append(inp)
    ch = stage_changes(stage, entry or None, at.hasher, root)
    return StageRecord(
        stage=node.label,
        file=stage.dvcyaml.relative_to(root).as_posix(),
        cmd=stage.cmd,
        wdir=os.path.relpath(stage.wdir, root),
        params=entry.get("params") or {},
        inputs=inputs,
        outputs=list(entry.get("outs") or []),
        metrics=at.metrics(stage),
        commit=at.last_commit(stage.lock_path),
        up_to_date=bool(entry) and not ch.changed,
        changes=ch.to_dvc() if entry else ["never run"],
    )


def _lineage(at: _Reader, path: Path, target: str) -> Lineage:
    """The answer for ``path`` (absolute; ``target`` as the user named it,
    which may be a stage) as ``at`` reads the repository."""
    repo = at.repo
    graph = at.pipes.graph
    node = graph.owner_of(path)
    if node is None:
        hits = [n for n in graph.find(target) if n.stage is not None]
        if not hits:
            raise at.not_found(target)
        node = hits[0]
        path = node.outs[0] if node.outs else path
    rel = path.relative_to(repo.root).as_posix()
    shown_rev = None if at.commit is None else {"name": str(at.label), "commit": at.commit}
    if node.stage is None:
        t, up_to_date = at.tracked(node, path)
        f = t.dvcfile
        return Lineage(
            path=rel,
            md5=t.out.oid,
            hash=t.algo,
            produced_by=None,
            tracked_by=node.label,
            commit=at.last_commit(repo.root / node.label),
            # A repository import's data comes from its source, not a remote of ours.
            remote=None if f.is_repo_import else _remote_of(repo, t.out.remote),
            up_to_date=up_to_date,
            imported_from=_imported_from(f.deps[0]) if f.is_import else None,
            rev=shown_rev,
        )
    record = _record(at, node)
    upstream = [
        _record(at, n)
        for n in graph.upstream_closure([node])
        if n is not node and n.stage is not None
    ]
    so = next((o for o in node.stage.outs if node.stage.abspath(o.path) == path), None)
    recorded = next(
        (o for o in record.outputs if so is not None and o.get("path") == so.path), None
    )
    return Lineage(
        path=rel,
        md5=recorded.get("md5") if recorded else None,
        hash=algo_of(recorded),
        produced_by=record,
        tracked_by=None,
        commit=record.commit,
        remote=_remote_of(repo, so.remote if so else None),
        upstream=upstream,
        up_to_date=record.up_to_date and all(u.up_to_date for u in upstream),
        rev=shown_rev,
    )


def lineage(repo: Repo, target: str | Path, rev: str | None = None) -> Lineage:
    """Where ``target`` (an output path, or a stage) came from: as the
    workspace says, or with ``rev`` (a branch, tag, commit or experiment) as
    that git revision records it, read from git and the cache alone."""
    path = index.abspath(target)
    rel = index.inside_repo(repo, path)
    if rev is None:
        return _lineage(_Reader(repo), path, str(target))
    from bale.experiments.refs import commit_of

    scm.require_git(repo, "lineage --rev")
    try:
        commit = commit_of(repo.root, rev)
    except BaleError as e:
        raise BaleError(f"{rel}: {e}") from None
    return _lineage(_AtCommit(repo, commit, rev), path, str(target))


def lineage_at(repo: Repo, commit: str, path: str, label: str | None = None) -> Lineage:
    """Where ``path`` (repository-relative, posix; or a stage's name) came
    from, as git commit ``commit`` records it: its ``dvc.yaml``,
    ``dvc.lock`` and ``.dvc`` files, its metrics from git (a cached metrics
    file from the cache), ``in_cache`` from the local cache and remotes from
    this workspace's config. ``up_to_date`` says whether the commit's locks
    are consistent there: each stage's definition matches its lock entry,
    each dependency's recorded hash what its producer (or git) holds at the
    commit, the params recorded what the params files say there. ``label``
    (default: the short id) names the revision in messages and the answer."""
    at = _AtCommit(repo, commit, label or commit[:8])
    return _lineage(at, index.abspath(repo.root / path), path)
