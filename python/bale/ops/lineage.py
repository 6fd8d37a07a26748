"""``bale lineage <path>``: where an output came from.

For a stage output: the stage, its command, the commit that recorded the
run (and who made it, when), the params it ran with, every input with its
hash and where its data can be fetched, the stage's metrics, the stages
upstream down to the raw data, and whether the workspace still matches.
For a ``.dvc``-tracked file: its record, commit and remote. Everything comes
from ``dvc.lock``, ``.dvc`` files and git: nothing is run or downloaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import index, scm
from bale.exceptions import BaleError, RemoteConfigError, StageNotFoundError
from bale.pipeline.changes import Hasher, stage_changes
from bale.pipeline.graph import Node
from bale.pipeline.lockfile import algo_of
from bale.pipeline.stage import Stage

if TYPE_CHECKING:
    from bale.metafiles.memo import ParseMemo
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

    def to_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


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


def _metrics(stage: Stage, root: Path, memo: ParseMemo) -> dict[str, Any]:
    from bale.pipeline.params import load_file

    found: dict[str, Any] = {}
    for o in stage.outs:
        if o.kind != "metrics":
            continue
        path = stage.abspath(o.path)
        rel = path.relative_to(root).as_posix()
        try:
            found[rel] = load_file(path, rel, memo)
        except (FileNotFoundError, BaleError) as e:
            found[rel] = {"error": str(e) if isinstance(e, BaleError) else "missing"}
    return found


def _record(repo: Repo, pipes: index.Pipelines, node: Node, hasher: Hasher) -> StageRecord:
    stage = node.stage
    assert stage is not None
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
    ch = stage_changes(stage, entry or None, hasher, root)
    return StageRecord(
        stage=node.label,
        file=stage.dvcyaml.relative_to(root).as_posix(),
        cmd=stage.cmd,
        wdir=os.path.relpath(stage.wdir, root),
        params=entry.get("params") or {},
        inputs=inputs,
        outputs=list(entry.get("outs") or []),
        metrics=_metrics(stage, root, repo.memo),
        commit=_last_commit(repo, stage.lock_path),
        up_to_date=bool(entry) and not ch.changed,
        changes=ch.to_dvc() if entry else ["never run"],
    )


def lineage(repo: Repo, target: str | Path) -> Lineage:
    """Where ``target`` (an output path, or a stage) came from."""
    pipes = index.load(repo)
    graph = pipes.graph
    path = index.abspath(target)
    index.inside_repo(repo, path)
    node = graph.owner_of(path)
    if node is None:
        hits = [n for n in graph.find(str(target)) if n.stage is not None]
        if not hits:
            raise StageNotFoundError(
                f"{target}: not produced by a stage nor tracked by a .dvc file"
            )
        node = hits[0]
        path = node.outs[0] if node.outs else path
    rel = path.relative_to(repo.root).as_posix()
    hasher = Hasher(repo)
    if node.stage is None:
        from bale.ops.status import status_one

        tracked = [t for t, _ in index.resolve(repo, [repo.root / node.label], stages=False)]
        t = next((t for t in tracked if path == t.path or path.is_relative_to(t.path)), tracked[0])
        st = status_one(repo, t, granular=False)
        f = t.dvcfile
        return Lineage(
            path=rel,
            md5=t.out.oid,
            produced_by=None,
            tracked_by=node.label,
            commit=_last_commit(repo, repo.root / node.label),
            # A repository import's data comes from its source, not a remote of ours.
            remote=None if f.is_repo_import else _remote_of(repo, t.out.remote),
            up_to_date=st is None,
            imported_from=_imported_from(f.deps[0]) if f.is_import else None,
        )
    record = _record(repo, pipes, node, hasher)
    upstream = [
        _record(repo, pipes, n, hasher)
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
        produced_by=record,
        tracked_by=None,
        commit=record.commit,
        remote=_remote_of(repo, so.remote if so else None),
        upstream=upstream,
        up_to_date=record.up_to_date and all(u.up_to_date for u in upstream),
    )
