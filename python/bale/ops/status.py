"""``bale status``: how the workspace differs from the ``.dvc`` files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import index
from bale.console import debug, verbose, warn
from bale.index import WORKSPACE, Pipelines, Scope, Tracked
from bale.progress import Bar

if TYPE_CHECKING:
    from bale.metafiles import DvcFile
    from bale.pipeline.changes import Hasher
    from bale.pipeline.stage import Stage
    from bale.remotes import Remote
    from bale.repo import Repo


@dataclass
class OutStatus:
    """The state of one output, in DVC's words: ``modified``, ``deleted``,
    ``new`` (never committed) or ``not in cache``."""

    path: str  # repository-relative
    dvcfile: str
    state: str
    added: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    not_in_cache: list[str] = field(default_factory=list)


@dataclass
class StatusResult:
    changed: list[OutStatus]
    #: Pipeline stages that changed (dvc's addressing from the current
    #: directory), each as the list ``dvc status --json`` prints for it.
    stages: dict[str, list[Any]] = field(default_factory=dict)
    #: Import ``.dvc`` files (repository-relative) whose ``md5:`` is not
    #: the checksum of what they record: dvc's "changed checksum".
    checksums: list[str] = field(default_factory=list)
    #: Import ``.dvc`` files (repository-relative) whose local source
    #: changed: source as dvc prints it -> ``modified``/``deleted``.
    deps: dict[str, dict[str, str]] = field(default_factory=dict)
    #: What was not checked, one line each.
    warnings: list[str] = field(default_factory=list)
    #: Where dvc would print each entry (keyed as in :meth:`to_dvc_json`):
    #: the walk order of its metafile, then the stage's place in the file.
    order: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.changed and not self.stages and not self.checksums and not self.deps

    @property
    def dvcfiles(self) -> set[str]:
        """The ``.dvc`` files (repository-relative) the result names."""
        return {s.dvcfile for s in self.changed} | set(self.checksums) | set(self.deps)

    def to_dvc_json(self, granular: bool = False) -> dict[str, Any]:
        """The same shape ``dvc status --json`` prints (``{}`` when clean)."""
        out: dict[str, list[Any]] = dict(self.stages)
        # dvc's Stage.status: changed deps, then changed outs, then the checksum
        for dvcfile, deps in self.deps.items():
            out.setdefault(dvcfile, []).append({"changed deps": deps})
        for s in self.changed:
            entry: dict[str, Any] = {"changed outs": {s.path: s.state}}
            if granular:
                entry["files"] = {
                    "added": s.added,
                    "deleted": s.deleted,
                    "modified": s.modified,
                    "not in cache": s.not_in_cache,
                }
            out.setdefault(s.dvcfile, []).append(entry)
        for dvcfile in self.checksums:
            out.setdefault(dvcfile, []).append("changed checksum")
        last = (float("inf"),)  # unranked entries keep their place, after the rest
        keys = sorted(out, key=lambda k: self.order.get(k, last))
        return {k: out[k] for k in keys}


def status_one(
    repo: Repo, t: Tracked, granular: bool, hasher: Hasher | None = None
) -> OutStatus | None:
    """The state of one ``.dvc`` output, or None when it is up to date. A
    directory's md5 seen on the way is given to ``hasher``, for stages that
    depend on it."""
    rel = t.rel(repo)
    dvcfile = t.dvcfile.path.relative_to(repo.root).as_posix()
    if not t.out.cache:
        debug(f"{rel}: not checked: {t.dvcfile.path.name} says cache: false")
        return None
    with Bar(f"Checking {rel}") as bar:
        st = repo.workspace.status(str(t.path), t.algo, t.out.oid, bar.progress, bar.tick)
    if st.oid is not None:
        files = st.nfiles if st.nfiles is not None else 1
        debug(
            f"{rel}: {st.hashed:,} of {files:,} file(s) read and hashed, the rest "
            "answered by the stat cache"
        )
    if hasher is not None and st.oid is not None and t.algo == "md5" and st.nfiles is not None:
        from bale.pipeline.changes import Hashed

        hasher.seed(t.path, "md5", Hashed(st.oid, st.size, st.nfiles, False))
    result = OutStatus(rel, dvcfile, "")
    if granular:
        # A file output is listed as "" (itself): its "changed outs" line says it all.
        result.added = [p for p in st.added if p]
        result.deleted = [p for p in st.deleted if p]
        result.modified = [p for p in st.modified if p]
        result.not_in_cache = [p for p in st.not_in_cache if p]
    # dvc asks the cache first: an output whose data is not cached is "not in
    # cache" even when its workspace copy is also gone or changed (a clone).
    if t.out.oid is not None and (not st.in_cache or st.not_in_cache):
        result.state = "not in cache"
    elif t.out.oid is None:
        result.state = "new" if st.oid is not None else "deleted"
    elif st.oid is None:
        result.state = "deleted"
    elif st.added or st.deleted or st.modified:
        result.state = "modified"
    else:
        debug(f"{rel}: up to date with {dvcfile} ({t.algo} {t.out.oid})")
        return None
    debug(
        f"{rel}: {result.state}: {dvcfile} records {t.algo} {t.out.oid}, the workspace has "
        f"{st.oid or 'nothing'} ({len(st.added)} added, {len(st.modified)} modified, "
        f"{len(st.deleted)} deleted, {len(st.not_in_cache)} not in the cache)"
    )
    return result


def status(
    repo: Repo, targets: Sequence[str | Path] | None = None, *, granular: bool = False
) -> StatusResult:
    """Compares every targeted output with its ``.dvc`` record, and every
    targeted stage with its ``dvc.lock`` entry (read-only: no lock)."""
    changed = []
    try:
        tracked, stages, pipes = index.split_targets(repo, targets)
        debug(
            f"comparing {len(tracked)} output(s) of .dvc files and {len(stages)} stage(s) with "
            "the workspace (files whose inode, size and mtime are unchanged are not read "
            f"again) and the cache {repo.cache_dir}"
        )
        from bale.pipeline.changes import Hasher

        hasher = Hasher(repo)
        for t, _sub in tracked:
            s = status_one(repo, t, granular, hasher)
            if s is not None:
                changed.append(s)
        result = StatusResult(changed)
        _import_status(repo, [t for t, _sub in tracked], result, hasher)
        if pipes is not None:
            only = pipes.outputs_named(targets)
            result.stages = _stage_status(repo, pipes, stages, hasher, only)
            # dvc's warning, stage by stage, before what it prints
            result.warnings += [
                f"stage: '{s.addressing(Path.cwd())}' is frozen. Its dependencies are"
                " not going to be shown in the status output."
                for s in stages
                if s.frozen
            ]
        result.order = _dvc_order(repo, targets, [t for t, _sub in tracked], stages, pipes)
    finally:
        repo.save_state()
    return result


def _dvc_order(
    repo: Repo,
    targets: Sequence[str | Path] | None,
    tracked: list[Tracked],
    stages: list[Stage],
    pipes: Pipelines | None,
) -> dict[str, tuple[Any, ...]]:
    """Sort keys that put status entries in dvc's order: by the first target
    that names them, then in the order dvc's index walks the metafiles,
    stages in their file's order."""
    from bale.exceptions import OutputNotTrackedError
    from bale.metafiles.walk_order import WalkOrder

    # Which target first names each entry (the same lookup as split_targets).
    first: dict[Any, int] = {}
    for i, target in enumerate(targets or []):
        try:
            for t, _sub in index.resolve(repo, [target], stages=False):
                first.setdefault(t.dvcfile.path, i)
        except OutputNotTrackedError:
            for n in pipes.select([str(target)]) if pipes is not None else []:
                first.setdefault(id(n.stage), i)
    walk = WalkOrder(repo.root)
    order: dict[str, tuple[Any, ...]] = {}
    for t in tracked:
        rel = t.dvcfile.path.relative_to(repo.root).as_posix()
        order.setdefault(rel, (first.get(t.dvcfile.path, 0), walk.key(t.dvcfile.path), 0))
    cwd = Path.cwd()
    for i, stage in enumerate(stages):
        rank = (first.get(id(stage), 0), walk.key(stage.dvcyaml), i)
        order.setdefault(stage.addressing(cwd), rank)
    return order


def has_stages(repo: Repo) -> bool:
    """Whether the project tracks anything: a ``.dvc`` file or a pipeline
    stage (dvc's test for its "no data or pipelines" message)."""
    return bool(index.dvcfiles(repo)) or bool(index.load(repo).stages)


def _import_status(
    repo: Repo, tracked: list[Tracked], result: StatusResult, hasher: Hasher
) -> None:
    """What dvc checks of an import besides its output: the stage checksum;
    a repository's revision, resolved again (frozen or not); and the source
    of an ``import-url`` that is not frozen: a local one is hashed as dvc
    hashes it, an S3 or HTTP one asked for its checksum."""
    import os

    from bale.pipeline.changes import dep_shown, dep_state
    from bale.pipeline.lockfile import algo_of

    seen = {t.dvcfile.path: t.dvcfile for t in tracked if t.dvcfile.is_import}
    for path, f in sorted(seen.items()):
        rel = path.relative_to(repo.root).as_posix()
        if f.checksum_changed:
            result.checksums.append(rel)
        if f.is_repo_import:
            # Frozen or not, as dvc 3.67.1 does (checked): its revision is
            # resolved again at every status.
            _repo_import_status(repo, f, rel, result)
            continue
        if f.data.get("frozen") or f.data.get("locked"):
            continue
        dep = f.deps[0]
        written = str(dep.get("path", ""))
        if "://" not in written:
            source = Path(os.path.normpath(path.parent / written))
            state = dep_state(hasher.hash(source, algo_of(dep)), dep)
            debug(f"{rel}: source {source}: {state or 'unchanged'}")
            if state:
                result.deps[rel] = {dep_shown(written, source, repo.root): state}
        else:
            from bale.ops.urls import source_state

            if state := source_state(repo, f):
                result.deps[rel] = {written: state}


def _repo_import_status(repo: Repo, f: DvcFile, rel: str, result: StatusResult) -> None:
    """A repository import: "update available" when its revision (its
    default branch without one) now names another commit than
    ``rev_lock``, as dvc says it."""
    from bale.exceptions import BaleError
    from bale.source import Source, source_url

    dep = f.deps[0]
    spec = dep["repo"]
    url, rev = str(spec.get("url")), spec.get("rev")
    try:
        at = None if rev is None else str(rev)
        with Source.open(source_url(repo.root, url), at, repo_type=type(repo)) as src:
            commit = src.commit
    except BaleError as e:
        result.warnings.append(f"{rel}: cannot check its import's source: {e}")
        return
    from bale.redact import mask_url

    debug(f"{rel}: {mask_url(url)} is at {commit}, the file records {spec.get('rev_lock')}")
    if commit != spec.get("rev_lock"):
        result.deps[rel] = {f"{dep.get('path')} ({url})": "update available"}


def _stage_status(
    repo: Repo,
    pipes: Pipelines,
    stages: list[Stage],
    hasher: Hasher,
    filters: dict[int, list[Path]],
) -> dict[str, list[Any]]:
    from bale.pipeline.changes import stage_changes

    out: dict[str, list[Any]] = {}
    for stage in stages:
        ch = stage_changes(stage, pipes.lock_entry(stage), hasher, repo.root)
        only = filters.get(id(stage))
        if only:
            ch.outs = {
                k: v
                for k, v in ch.outs.items()
                if any(f == index.abspath(k) or index.abspath(k) in f.parents for f in only)
            }
        debug(f"stage {stage.addressing(Path.cwd())}: {'changed' if ch.changed else 'up to date'}")
        if ch.changed:
            # Named from the current directory, as the paths inside are.
            out[stage.addressing(Path.cwd())] = ch.to_dvc()
    return out


_CLOUD_ORDER = {"deleted": 0, "new": 1, "missing": 2}


@dataclass
class CloudStatusResult:
    """How the cache compares with the remotes, in ``dvc status -c``'s words:
    ``new`` (only in the cache), ``deleted`` (only on the remote) or
    ``missing`` (in neither), by output path and by file inside directories."""

    states: dict[str, str]
    remotes: list[str]
    #: Files a remote holds as a chunk list the cache lacks: their chunks
    #: could not be checked (the list says which they are).
    unchecked: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.states

    def to_dvc_json(self) -> dict[str, str]:
        """The shape ``dvc status -c --json`` prints (``{}`` when in sync)."""
        return dict(self.states)


def _cloud_state(cached: bool, remote: bool) -> str | None:
    if cached:
        return None if remote else "new"
    return "deleted" if remote else "missing"


def cloud_status(
    repo: Repo,
    targets: Sequence[str | Path] | None = None,
    *,
    remote: str | None = None,
    jobs: int | None = None,
    scope: Scope = WORKSPACE,
) -> CloudStatusResult:
    """Compares the cache with each output's remote (read-only: no lock).

    Unlike dvc, which trusts a remote ``.dir`` to mean its files are there,
    every file of a directory is checked.
    """
    from bale.redact import mask_url
    from bale.remotes.plan import group

    ws = repo.workspace
    states: dict[str, str] = {}
    remotes = []
    unchecked: list[str] = []
    for rem, outs in group(repo, targets, scope, remote, pushing=True).items():
        remotes.append(rem.name)
        debug(
            f"comparing the cache ({repo.cache_dir}) with remote '{rem.name}' "
            f"({mask_url(rem.url)}): {len(outs)} outputs"
        )
        known, unsure = presence(repo, rem, outs, jobs)
        if verbose():
            cached = sum(1 for c, _r in known.values() if c)
            there = sum(1 for _c, r in known.values() if r)
            debug(
                f"remote '{rem.name}': asked about {len(known):,} objects: {there:,} there, "
                f"{len(known) - there:,} not; {cached:,} in the cache"
            )
        unsure_here: list[str] = []
        for t in outs:
            assert t.out.oid is not None
            rel = t.rel(repo)
            names = [(rel, t.out.oid)]
            if t.out.is_dir and known[t.out.oid][0]:
                names += [(f"{rel}/{r}", o) for r, o, _s, _x in ws.manifest(t.algo, t.out.oid)]
            for name, oid in names:
                state = _cloud_state(*known[oid])
                if state:
                    states[name] = state
                if oid in unsure:
                    unsure_here.append(name)
        if unsure_here:
            warn(
                f"remote '{rem.name}': {len(unsure_here)} file(s) are there only as chunk lists "
                f"this cache lacks, so their chunks were not checked (first: {unsure_here[0]}); "
                "bale fetch brings the lists"
            )
        unchecked += unsure_here
    ordered = sorted(states.items(), key=lambda kv: (_CLOUD_ORDER[kv[1]], kv[0]))
    return CloudStatusResult(dict(ordered), remotes, unchecked)


def presence(
    repo: Repo, rem: Remote, outs: list[Tracked], jobs: int | None
) -> tuple[dict[str, tuple[bool, bool]], set[str]]:
    """``(oid -> (in the cache, on the remote), oids not checked whole)`` of
    every object ``outs`` reach that is known (a directory's files only where
    its manifest is); in both layouts, read-only. An oid not checked whole is
    a file the remote holds as a chunk list this cache lacks."""
    from bale.remotes.plan import by_layout

    dvc_layout, native = by_layout(outs)
    known = _presence_dvc_layout(repo, rem, dvc_layout, jobs)
    packed, unsure = _presence_packed(repo, rem, native, jobs)
    known.update(packed)
    return known, unsure


def _presence_dvc_layout(
    repo: Repo, rem: Remote, outs: list[Tracked], jobs: int | None
) -> dict[str, tuple[bool, bool]]:
    from bale.remotes.movers import open_mover
    from bale.remotes.plan import roots

    if not outs:
        return {}
    files, dirs = repo.workspace.sync_plan(roots(outs))
    planned = files + [d.object for d in dirs]
    objects = {o.oid: (o.key, o.size is not None) for o in planned}
    moving = open_mover(repo.workspace, rem, jobs)
    try:
        on_remote = moving.exists([key for key, _c in objects.values()])
    finally:
        moving.close()
    return {o: (cached, key in on_remote) for o, (key, cached) in objects.items()}


def _presence_packed(
    repo: Repo, rem: Remote, outs: list[Tracked], jobs: int | None
) -> tuple[dict[str, tuple[bool, bool]], set[str]]:
    """``(oid -> (in the cache, on the remote), oids not checked whole)``:
    a file the remote holds as a chunk list counts only with all its
    chunks, where the cache has the list to tell which they are."""
    from bale.remotes import packed
    from bale.remotes.plan import roots
    from bale.remotes.sync import Session, store_jobs

    if not outs:
        return {}, set()
    n = store_jobs(rem, jobs)
    paths = packed.PackedPaths.for_remote(repo.tmp_dir, rem)
    with Session(rem, n) as s:
        s.run(packed.refresh_indexes(s.store, paths, n))
    presence = repo.workspace.pack_presence(roots(outs), paths.indexes)
    known = {o: (cached, remote) for o, cached, remote, _checked in presence}
    return known, {o for o, _c, remote, checked in presence if remote and not checked}
