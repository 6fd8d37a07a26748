"""Every pipeline of a workspace: the ``dvc.yaml`` files, their ``dvc.lock``
entries, and the graph joining them with ``.dvc`` data sources."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import _core, scm
from bale.exceptions import StageNotFoundError
from bale.pipeline.dvcyaml import PipelineFile, load_dvcyaml
from bale.pipeline.graph import Graph, Node, source_node, stage_node
from bale.pipeline.lockfile import load_lock
from bale.pipeline.stage import LOCK_FILE, PROJECT_FILE, Stage

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bale.ops.outputs import Tracked
    from bale.repo import Repo


@dataclass
class Pipelines:
    """The pipelines of the workspace, loaded once per command."""

    repo: Repo
    files: list[PipelineFile]
    locks: dict[Path, dict[str, dict[str, Any]]]  # dvc.lock path -> stage entries

    @property
    def stages(self) -> list[Stage]:
        return [s for f in self.files for s in f.stages]

    def lock_entry(self, stage: Stage) -> dict[str, Any] | None:
        return self.locks.get(stage.lock_path, {}).get(stage.name)

    @cached_property
    def graph(self) -> Graph:
        return build_graph(self.repo, self.stages)

    def select(self, targets: list[str] | None) -> list[Node]:
        """Nodes named by ``targets``: stage names, ``path/dvc.yaml:name``,
        a ``dvc.yaml`` (all its stages), a ``.dvc`` file, or an output path."""
        from bale.ops.outputs import abspath

        graph = self.graph
        if not targets:
            return list(graph.nodes)
        found: list[Node] = []
        for target in targets:
            found.extend(self._select_one(graph, target, abspath))
        return list({id(n): n for n in found}.values())

    def outputs_named(self, targets: Sequence[str | Path] | None) -> dict[int, list[Path]]:
        """Per stage (by ``id``) that ``targets`` select by one of its outputs
        only, never by name: those paths. dvc's status shows only them among
        the stage's outputs."""
        from bale.ops.outputs import abspath

        graph = self.graph
        by_path: dict[int, list[Path]] = {}
        named: set[int] = set()
        for target in targets or []:
            hits = self._named(graph, str(target), abspath)
            if hits is not None:
                named.update(id(n.stage) for n in hits)
                continue
            owner = graph.owner_of(abspath(target))
            if owner is not None and owner.stage is not None:
                by_path.setdefault(id(owner.stage), []).append(abspath(target))
        return {k: v for k, v in by_path.items() if k not in named}

    def _select_one(self, graph: Graph, target: str, abspath: Any) -> list[Node]:
        hits = self._named(graph, target, abspath)
        if hits is not None:
            return hits
        owner = graph.owner_of(abspath(target))
        if owner is not None:
            return [owner]
        raise StageNotFoundError(f"{target}: no stage or output of that name")

    def _named(self, graph: Graph, target: str, abspath: Any) -> list[Node] | None:
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


def build_graph(repo: Repo, stages: list[Stage]) -> Graph:
    """``stages`` joined with the workspace's ``.dvc`` files; raises on what
    dvc refuses (two producers of one path, nested outputs, cycles)."""
    from bale.ops.outputs import collect

    root = repo.root
    nodes = [stage_node(s, root) for s in stages]
    by_file: dict[Path, list[Path]] = {}
    for t in collect(repo, stages=False):
        by_file.setdefault(t.dvcfile.path, []).append(t.path)
    nodes += [source_node(f, outs, root) for f, outs in by_file.items()]
    return Graph(nodes, root)


def pipeline_paths(repo: Repo) -> list[Path]:
    """Every ``dvc.yaml`` of the workspace."""
    from bale.ops.outputs import pipeline_files

    return [p for p in pipeline_files(repo) if p.name == PROJECT_FILE]


def load(repo: Repo) -> Pipelines:
    """Loads every ``dvc.yaml`` and ``dvc.lock`` of the workspace."""
    parsing = repo.config.parsing()
    files = [load_dvcyaml(p, repo.root, parsing, repo.memo) for p in pipeline_paths(repo)]
    locks = {}
    for f in files:
        lock = f.path.with_name(LOCK_FILE)
        locks[lock] = load_lock(lock, lock.relative_to(repo.root).as_posix(), repo.memo)
    return Pipelines(repo, files, locks)


def load_at(
    repo: Repo, commit: str, label: str | None = None, *, locked: bool = False
) -> Pipelines:
    """Loads every ``dvc.yaml`` and ``dvc.lock`` of git revision ``commit``
    (its vars files read at ``commit`` too), with paths as they would be in
    this workspace; ``label`` names the revision in messages. With
    ``locked``, only the ``dvc.yaml`` files with a ``dvc.lock`` beside them
    (those that record outputs)."""
    from bale.exceptions import MetafileError
    from bale.pipeline.dvcyaml import loads_dvcyaml
    from bale.pipeline.lockfile import loads_lock
    from bale.pipeline.params import loads_bytes

    top = scm.toplevel(repo.root)
    tag = label or commit[:7]
    names = {
        n: b
        for n, b in scm.files_under(repo.root, commit)
        if posixpath.basename(n) in (PROJECT_FILE, LOCK_FILE)
    }
    # What dvc would not see: under a .dvcignore rule or in another
    # repository (judged by this workspace's rules, as the revision's own
    # are usually the same).
    names = {n: b for n, b in names.items() if not _core.ignored_reason(repo.root, top / n)}
    blobs = scm.read_blobs(repo.root, list(names.values()))

    def text(name: str) -> str:
        try:
            return blobs[names[name]].decode("utf-8")
        except UnicodeDecodeError:
            raise MetafileError(f"{tag}:{name}: is not valid utf-8") from None

    files = []
    locks: dict[Path, dict[str, dict[str, Any]]] = {}
    for name in sorted(names):
        lock_name = posixpath.join(posixpath.dirname(name), LOCK_FILE)
        if posixpath.basename(name) != PROJECT_FILE or (locked and lock_name not in names):
            continue

        def load(rel: str, name: str = name) -> Any:
            path = posixpath.normpath(posixpath.join(posixpath.dirname(name), rel))
            data = scm.read_paths_at(repo.root, [(commit, path)])[(commit, path)]
            if data is None:
                raise FileNotFoundError(path)
            return loads_bytes(data, f"{tag}:{path}", repo.memo)

        f = loads_dvcyaml(
            text(name), top / name, f"{tag}:{name}", load, repo.config.parsing(), repo.memo
        )
        files.append(f)
        entries = (
            loads_lock(text(lock_name), f"{tag}:{lock_name}", repo.memo)
            if lock_name in names
            else {}
        )
        locks[f.path.with_name(LOCK_FILE)] = entries
    return Pipelines(repo, files, locks)


def split_targets(
    repo: Repo, targets: Sequence[str | Path] | None
) -> tuple[list[tuple[Tracked, str | None]], list[Stage], Pipelines | None]:
    """``targets`` as ``.dvc`` outputs (with a sub-path) and pipeline stages.
    No targets means every ``.dvc`` output and every stage; a target no
    ``.dvc`` file tracks is looked up among the stages."""
    from bale.exceptions import OutputNotTrackedError
    from bale.ops.outputs import resolve

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
