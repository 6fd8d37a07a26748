"""The workspace index: what the repository tracks, and what a target names.

Every verb asks this module, as every dvc command asks dvc's ``Index``. Two
kinds of metafile track data:

- ``.dvc`` files (``dvc add``, ``dvc import``): their outputs are
  :class:`Tracked` entries, from :func:`collect`;
- ``dvc.yaml`` stages, whose runs ``dvc.lock`` records: :class:`Pipelines`
  holds them and their lock entries, :meth:`Pipelines.outputs` gives the
  cached outputs the locks record (as :class:`Tracked` too), and
  :attr:`Pipelines.graph` joins the stages with the ``.dvc`` files.

A user's target resolves to outputs (:func:`resolve`), to graph nodes
(:meth:`Pipelines.select`) or to either (:func:`split_targets`); a
:class:`Scope` widens a command to other git revisions (:func:`in_scope`),
whose metafiles :func:`collect_at` and :func:`load_at` read from git.
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import _core, console, scm
from bale.exceptions import (
    BaleError,
    MetafileError,
    OutputNotTrackedError,
    StageNotFoundError,
    TargetError,
)
from bale.metafiles import DvcFile, Out, load_dvcfile, loads_dvcfile
from bale.pipeline.dvcyaml import PipelineFile, load_dvcyaml, loads_dvcyaml
from bale.pipeline.graph import Graph, Node, source_node, stage_node
from bale.pipeline.lockfile import load_lock, loads_lock
from bale.pipeline.stage import LOCK_FILE, PROJECT_FILE, Stage, StageOut

if TYPE_CHECKING:
    from bale.metafiles.memo import ParseMemo
    from bale.repo import Repo

# Paths


def abspath(path: str | Path) -> Path:
    """Absolute and normalised, without resolving symlinks (as the user named it)."""
    return Path(os.path.normpath(os.path.abspath(path)))


def inside_repo(repo: Repo, path: Path, what: str = "target") -> str:
    """Repository-relative posix path, or a TargetError for paths outside."""
    try:
        rel = path.relative_to(repo.root)
    except ValueError:
        raise TargetError(f"{path}: {what} is outside the repository {repo.root}") from None
    if rel.parts[:1] == (".dvc",):
        raise TargetError(f"{path}: {what} is inside .dvc/, which bale manages")
    return rel.as_posix()


def dvcfiles(repo: Repo) -> list[Path]:
    """Every ``.dvc`` file of the workspace."""
    return [Path(p) for p in _core.find_metafiles(str(repo.root)) if str(p).endswith(".dvc")]


def pipeline_paths(repo: Repo) -> list[Path]:
    """Every ``dvc.yaml`` of the workspace."""
    return [p for p in map(Path, _core.find_metafiles(str(repo.root))) if p.name == PROJECT_FILE]


# Tracked outputs


@dataclass(frozen=True)
class Tracked:
    """One output of one ``.dvc`` file, or one cached stage output."""

    dvcfile: DvcFile
    out: Out
    path: Path  # absolute
    #: A path inside a directory output that a target named, posix, relative
    #: to the output; None for the whole output.
    sub: str | None = None
    #: For a stage output recorded in ``dvc.lock``: the stage (dvc's
    #: addressing); ``dvcfile`` is then the ``dvc.yaml``.
    stage: str | None = None

    @property
    def algo(self) -> str:
        return self.out.algo

    def rel(self, repo: Repo) -> str:
        return self.path.relative_to(repo.root).as_posix()

    @property
    def from_source_only(self) -> bool:
        """True for an output whose data dvc fetches from its import's
        source, never from a remote: a ``dvc import`` output, or a
        ``--no-download`` import that records no hash."""
        f = self.dvcfile
        return f.is_import and (f.is_repo_import or self.out.oid is None)

    @property
    def pushed(self) -> bool:
        """False for the outputs ``dvc push`` leaves out: ``dvc import`` ones."""
        return not self.dvcfile.is_repo_import


def _outs(f: DvcFile) -> list[Tracked]:
    # Imports included: every command covers their outputs as dvc does, and
    # where they differ (push, fetch) Tracked.pushed and .from_source_only say
    # (see bale.ops.imports).
    raw = f.data.get("outs") or []
    for i, o in enumerate(f.outs):
        why = _unsupported(raw[i] if i < len(raw) and isinstance(raw[i], dict) else {}, o)
        if why:
            raise MetafileError(f"{f.path}: output '{o.path}' {why}")
    return [Tracked(f, o, abspath(f.path.parent / o.path)) for o in f.outs]


def _unsupported(raw: dict[str, Any], out: Out) -> str | None:
    """Why bale cannot handle an output, if it cannot: every command that
    walks outputs fails on it rather than pass over it (a ``gc`` that did
    would delete the data such an output names)."""
    if "://" in out.path:
        return "is a URL (an external output): bale tracks outputs inside the repository only"
    if "files" in raw and out.oid is None:
        return (
            "lists its files inline ('files:', written for a version-aware remote), "
            "which bale does not support yet"
        )
    return None


def _outs_of(root: Path, path: Path, memo: ParseMemo) -> list[Tracked]:
    """The outputs of the workspace's ``.dvc`` file at ``path``, each inside the repository."""
    tracked = _outs(load_dvcfile(path, memo))
    for t in tracked:
        if not t.path.is_relative_to(root) or t.path == root:
            raise MetafileError(f"{path}: output '{t.out.path}' is outside the repository")
    return tracked


# Pipelines


@dataclass
class Pipelines:
    """The pipelines of the workspace (or of a revision), loaded once per command."""

    repo: Repo
    files: list[PipelineFile]
    locks: dict[Path, dict[str, dict[str, Any]]]  # dvc.lock path -> stage entries
    #: The git revision they were read from (:func:`load_at`), None for the
    #: workspace's; ``label`` names it in messages.
    commit: str | None = None
    label: str | None = None

    @property
    def stages(self) -> list[Stage]:
        return [s for f in self.files for s in f.stages]

    def lock_entry(self, stage: Stage) -> dict[str, Any] | None:
        return self.locks.get(stage.lock_path, {}).get(stage.name)

    @cached_property
    def graph(self) -> Graph:
        """The stages joined with the ``.dvc`` files of the same place: the
        workspace's, or those of the revision the pipelines come from."""
        if self.commit is None:
            return build_graph(self.repo, self.stages)
        found = dvcfiles_at(self.repo, self.commit, self.label, visible=True)
        tracked = [t for f in found for t in _outs(f)]
        return build_graph(self.repo, self.stages, tracked)

    def outputs(self) -> list[Tracked]:
        """The cached stage outputs the ``dvc.lock`` files record a hash for,
        each addressed by its stage; ``dvcfile`` is an empty holder that
        names the ``dvc.yaml``."""
        holders: dict[Path, DvcFile] = {}
        found = []
        for pf, stage, so, where, item in self._cached_outs(unrecorded=False):
            if item is None or not item.get("md5"):
                continue
            holder = holders.setdefault(pf.path, DvcFile(path=pf.path, outs=[], deps=[], data={}))
            out = Out(
                path=so.path,
                hash_name=item.get("hash"),
                oid=item["md5"],
                size=item.get("size"),
                nfiles=item.get("nfiles"),
                isexec=bool(item.get("isexec", False)),
                push=so.push,
                remote=so.remote,
            )
            found.append(Tracked(holder, out, where, stage=stage.addressing(self.repo.root)))
        return found

    def hashless(self) -> list[Path]:
        """The cached outputs stages declare that their ``dvc.lock`` records
        no hash for (never run, or run and not committed): dvc's index has
        them, hashless."""
        return [
            abspath(where)
            for _pf, _stage, _so, where, item in self._cached_outs(unrecorded=True)
            if not (item and item.get("md5"))
        ]

    def _cached_outs(
        self, *, unrecorded: bool
    ) -> Iterator[tuple[PipelineFile, Stage, StageOut, Path, dict[str, Any] | None]]:
        """Each cached output of each stage: where it lives, and its entry in
        the lock (None if the lock records no such output). Stages the lock
        has no entry for only with ``unrecorded``."""
        root = self.repo.root
        for pf in self.files:
            entries = self.locks.get(pf.path.with_name(LOCK_FILE)) or {}
            for stage in pf.stages:
                entry = entries.get(stage.name)
                if entry is None and not unrecorded:
                    continue
                recorded = {o.get("path"): o for o in (entry or {}).get("outs") or []}
                for so, where in zip(stage.outs, stage.out_paths(root), strict=True):
                    if so.cache:
                        yield pf, stage, so, where, recorded.get(so.path)

    def select(self, targets: list[str] | None) -> list[Node]:
        """Nodes named by ``targets``: stage names, ``path/dvc.yaml:name``,
        a ``dvc.yaml`` (all its stages), a ``.dvc`` file, or an output path."""
        graph = self.graph
        if not targets:
            return list(graph.nodes)
        found: list[Node] = []
        for target in targets:
            found.extend(self._select_one(graph, target))
        return list({id(n): n for n in found}.values())

    def outputs_named(self, targets: Sequence[str | Path] | None) -> dict[int, list[Path]]:
        """Per stage (by ``id``) that ``targets`` select by one of its outputs
        only, never by name: those paths. dvc's status shows only them among
        the stage's outputs."""
        graph = self.graph
        by_path: dict[int, list[Path]] = {}
        named: set[int] = set()
        for target in targets or []:
            hits = self._named(graph, str(target))
            if hits is not None:
                named.update(id(n.stage) for n in hits)
                continue
            owner = graph.owner_of(abspath(target))
            if owner is not None and owner.stage is not None:
                by_path.setdefault(id(owner.stage), []).append(abspath(target))
        return {k: v for k, v in by_path.items() if k not in named}

    def _select_one(self, graph: Graph, target: str) -> list[Node]:
        hits = self._named(graph, target)
        if hits is not None:
            return hits
        owner = graph.owner_of(abspath(target))
        if owner is not None:
            return [owner]
        raise StageNotFoundError(f"{target}: no stage or output of that name")

    def _named(self, graph: Graph, target: str) -> list[Node] | None:
        """The nodes ``target`` names other than by an output path, or None."""
        root = self.repo.root
        file, sep, name = target.rpartition(":")
        if sep and file.endswith(("dvc.yaml", ".yaml", ".yml")):
            path = abspath(file)
            hits = [
                n
                for n in graph.nodes
                if n.stage is not None and n.stage.dvcyaml == path and n.stage.answers_to(name)
            ]
            if hits:
                return hits
            raise StageNotFoundError(f"{file}: has no stage named '{name}'")
        path = abspath(target)
        if path.name == PROJECT_FILE and path.is_file():
            return [n for n in graph.nodes if n.stage is not None and n.stage.dvcyaml == path]
        if path.name.endswith(".dvc"):
            hits = [n for n in graph.nodes if n.stage is None and (root / n.label) == path]
            if hits:
                return hits
        # a stage name from the current directory's dvc.yaml, as dvc reads it
        here = Path.cwd() / PROJECT_FILE
        hits = [
            n
            for n in graph.nodes
            if n.stage is not None and n.stage.dvcyaml == here and n.stage.answers_to(target)
        ]
        return hits or None


def build_graph(repo: Repo, stages: list[Stage], tracked: list[Tracked] | None = None) -> Graph:
    """``stages`` joined with the outputs of ``.dvc`` files (``tracked``, by
    default the workspace's); raises on what dvc refuses (two producers of
    one path, nested outputs, cycles)."""
    root = repo.root
    nodes = [stage_node(s, root) for s in stages]
    by_file: dict[Path, list[Path]] = {}
    for t in collect(repo, stages=False) if tracked is None else tracked:
        by_file.setdefault(t.dvcfile.path, []).append(t.path)
    nodes += [source_node(f, outs, root) for f, outs in by_file.items()]
    return Graph(nodes, root)


def load(repo: Repo) -> Pipelines:
    """Loads every ``dvc.yaml`` and ``dvc.lock`` of the workspace."""
    parsing = repo.config.parsing()
    files = [load_dvcyaml(p, repo.root, parsing, repo.memo) for p in pipeline_paths(repo)]
    locks = {}
    for f in files:
        lock = f.path.with_name(LOCK_FILE)
        locks[lock] = load_lock(lock, lock.relative_to(repo.root).as_posix(), repo.memo)
    return Pipelines(repo, files, locks)


# The workspace's outputs, and what targets name


def collect(repo: Repo, *, stages: bool = True) -> list[Tracked]:
    """All outputs tracked by ``.dvc`` files in the workspace (those of
    ``dvc import`` files too), and with ``stages`` the cached outputs of
    pipeline stages as ``dvc.lock`` records them."""
    out: list[Tracked] = []
    for p in dvcfiles(repo):
        out.extend(_outs_of(repo.root, p, repo.memo))
    if stages:
        out.extend(load(repo).outputs())
    return out


def resolve(
    repo: Repo, targets: Sequence[str | Path] | None, *, stages: bool = True
) -> list[tuple[Tracked, str | None]]:
    """Outputs named by ``targets`` (``.dvc`` files, outputs, or paths inside a
    directory output), each with the sub-path inside it (or ``None``). No
    targets means every output; ``stages`` includes stage outputs."""
    if not targets:
        return [(t, None) for t in collect(repo, stages=stages)]
    everything: list[Tracked] | None = None
    found: list[tuple[Tracked, str | None]] = []
    for target in targets:
        path = abspath(target)
        inside_repo(repo, path)
        if path.name.endswith(".dvc") and path.is_file():
            found.extend((t, None) for t in _outs_of(repo.root, path, repo.memo))
            continue
        sibling = path.with_name(path.name + ".dvc")
        if sibling.is_file():
            outs = [t for t in _outs_of(repo.root, sibling, repo.memo) if t.path == path]
            if outs:
                found.extend((t, None) for t in outs)
                continue
        if everything is None:
            everything = collect(repo, stages=stages)
        match = [t for t in everything if t.path == path]
        if match:
            found.extend((t, None) for t in match)
            continue
        parents = [t for t in everything if path.is_relative_to(t.path)]
        if parents:
            t = parents[0]
            found.append((t, path.relative_to(t.path).as_posix()))
            continue
        raise OutputNotTrackedError(f"{target}: not tracked by any .dvc file")
    return found


def split_targets(
    repo: Repo, targets: Sequence[str | Path] | None
) -> tuple[list[tuple[Tracked, str | None]], list[Stage], Pipelines | None]:
    """``targets`` as ``.dvc`` outputs (with a sub-path) and pipeline stages.
    No targets means every ``.dvc`` output and every stage; a target no
    ``.dvc`` file tracks is looked up among the stages."""
    if not targets:
        everything = load(repo)
        return resolve(repo, None, stages=False), everything.stages, everything
    tracked: list[tuple[Tracked, str | None]] = []
    stages: list[Stage] = []
    pipes: Pipelines | None = None
    for target in targets:
        try:
            tracked += resolve(repo, [target], stages=False)
        except OutputNotTrackedError:
            pipes = pipes or load(repo)
            stages += [n.stage for n in pipes.select([str(target)]) if n.stage is not None]
    return tracked, list({id(s): s for s in stages}.values()), pipes


# Other git revisions


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise MetafileError(f"{where}: is not valid utf-8") from None


def dvcfiles_at(
    repo: Repo, commit: str, label: str | None = None, *, visible: bool = False
) -> list[DvcFile]:
    """The ``.dvc`` files of git revision ``commit``, parsed, each ``path`` as
    it would be in this workspace. ``label`` names the revision in messages.
    With ``visible``, only those dvc's index would see (as :func:`load_at`
    reads ``dvc.yaml`` files): none under a ``.dvcignore`` rule."""
    top = scm.toplevel(repo.root)
    found = scm.files_under(repo.root, commit, ".dvc")
    if visible:
        found = [(n, b) for n, b in found if not _core.ignored_reason(repo.root, top / n)]
    texts = scm.read_blobs(repo.root, [blob for _n, blob in found])
    out = []
    for name, blob in found:
        where = f"{label or commit[:7]}:{name}"
        f = loads_dvcfile(_decode(texts[blob], where), where, repo.memo)
        f.path = top / name
        out.append(f)
    return out


def load_at(
    repo: Repo, commit: str, label: str | None = None, *, locked: bool = False
) -> Pipelines:
    """Loads every ``dvc.yaml`` and ``dvc.lock`` of git revision ``commit``
    (its vars files read at ``commit`` too), with paths as they would be in
    this workspace; ``label`` names the revision in messages. With
    ``locked``, only the ``dvc.yaml`` files with a ``dvc.lock`` beside them
    (those that record outputs)."""
    top = scm.toplevel(repo.root)
    tag = label or commit[:7]
    listing = dict(scm.files_under(repo.root, commit))
    names = {n: b for n, b in listing.items() if posixpath.basename(n) in (PROJECT_FILE, LOCK_FILE)}
    # What dvc would not see: under a .dvcignore rule or in another
    # repository (judged by this workspace's rules, as the revision's own
    # are usually the same).
    names = {n: b for n, b in names.items() if not _core.ignored_reason(repo.root, top / n)}
    blobs = scm.read_blobs(repo.root, list(names.values()))

    def text(name: str) -> str:
        return _decode(blobs[names[name]], f"{tag}:{name}")

    files = []
    locks: dict[Path, dict[str, dict[str, Any]]] = {}
    for name in sorted(names):
        lock_name = posixpath.join(posixpath.dirname(name), LOCK_FILE)
        if posixpath.basename(name) != PROJECT_FILE or (locked and lock_name not in names):
            continue

        def vars_file(rel: str, name: str = name) -> Any:
            path = posixpath.normpath(posixpath.join(posixpath.dirname(name), rel))
            # by its blob id, which the reader may hold already (show_revisions
            # prefetches); a vars file outside a --subdir repository's own
            # files (../shared.yaml) by its path in the commit
            if path in listing:
                data: bytes | None = scm.read_blobs(repo.root, [listing[path]])[listing[path]]
            else:
                data = scm.read_paths_at(repo.root, [(commit, path)])[(commit, path)]
            if data is None:
                raise FileNotFoundError(path)
            # Here, not at the top: params' parsers only for a revision's vars.
            from bale.pipeline.params import loads_bytes

            return loads_bytes(data, f"{tag}:{path}", repo.memo)

        f = loads_dvcyaml(
            text(name), top / name, f"{tag}:{name}", vars_file, repo.config.parsing(), repo.memo
        )
        files.append(f)
        entries = (
            loads_lock(text(lock_name), f"{tag}:{lock_name}", repo.memo)
            if lock_name in names
            else {}
        )
        locks[f.path.with_name(LOCK_FILE)] = entries
    return Pipelines(repo, files, locks, commit, tag)


def collect_at(
    repo: Repo, commit: str, label: str | None = None, pipes: Pipelines | None = None
) -> list[Tracked]:
    """The outputs the ``.dvc`` files and ``dvc.lock`` files of git revision
    ``commit`` track, with paths as they would be in this workspace (stage
    outputs first). ``label`` names the revision in messages; ``pipes`` are
    its pipelines if already loaded (else those with a lock are)."""
    pipes = pipes or load_at(repo, commit, label, locked=True)
    out = pipes.outputs()
    for f in dvcfiles_at(repo, commit, label):
        out.extend(_outs(f))
    return out


# Scope: the revisions a command covers


@dataclass(frozen=True)
class Scope:
    """Which revisions' outputs a command covers, as dvc's ``-a -T -A --rev``
    (and gc's ``--all-experiments --date -n``) name them; the workspace's
    ``.dvc`` files unless ``workspace`` is False."""

    workspace: bool = True
    all_branches: bool = False
    all_tags: bool = False
    all_commits: bool = False
    revs: tuple[str, ...] = ()
    all_experiments: bool = False
    commit_date: str | None = None  # YYYY-MM-DD: every commit of that day or later
    num: int = 1  # with revs and all_branches: each one's last ``num`` commits
    skip_failed: bool = False  # a revision whose files cannot be read is warned of, not fatal

    @property
    def revisions(self) -> bool:
        return (
            self.all_branches
            or self.all_tags
            or self.all_commits
            or bool(self.revs)
            or self.all_experiments
            or bool(self.commit_date)
        )


#: The workspace's ``.dvc`` files only: every command's default.
WORKSPACE = Scope()


def in_scope(
    repo: Repo,
    targets: Sequence[str | Path] | None,
    scope: Scope = WORKSPACE,
) -> list[Tracked]:
    """The outputs ``targets`` name in every revision of ``scope``, each
    (path, id) once. In other revisions a target names the outputs at the
    same paths."""
    found: list[Tracked] = []
    if scope.workspace and not targets:
        found = collect(repo)
    elif scope.workspace:
        found = [dataclasses.replace(t, sub=sub) for t, sub in resolve(repo, targets)]
    if scope.revisions:
        scm.require_git(repo, "-a, -T, -A and --rev")
        if not scm.has_commits(repo.root):
            raise BaleError("-a, -T, -A and --rev need a git repository with commits")
        wanted = {abspath(t) for t in targets or ()}
        commits = scm.revisions(
            repo.root,
            all_branches=scope.all_branches,
            all_tags=scope.all_tags,
            all_commits=scope.all_commits,
            all_experiments=scope.all_experiments,
            commit_date=scope.commit_date,
            revs=list(scope.revs),
            num=scope.num,
        )
        in_workspace = len(found)
        for commit in commits:
            try:
                at = collect_at(repo, commit)
            except BaleError as e:
                if not scope.skip_failed:
                    raise
                console.warn(f"skipped revision {commit[:7]}: {e}")
                continue
            for t in at:
                dvcfile = t.path.with_name(t.path.name + ".dvc")
                if not wanted or t.path in wanted or dvcfile in wanted:
                    found.append(t)
        shown = ", ".join(c[:7] for c in commits[:5]) + (", ..." if len(commits) > 5 else "")
        console.debug(
            f"read {len(commits)} git revision(s) ({shown or 'none'}): "
            f"{len(found) - in_workspace} output record(s) there (the workspace: {in_workspace})"
        )
    seen: set[tuple[Path, str | None, str | None, str | None]] = set()
    unique = []
    for t in found:
        key = (t.path, t.out.oid, t.out.remote, t.sub)
        if key not in seen:
            seen.add(key)
            unique.append(t)
    return unique
