"""``bale stage add`` and ``bale stage list``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import index, scm
from bale.exceptions import MetafileError, TargetError
from bale.index import abspath, inside_repo
from bale.metafiles._fs import atomic_write
from bale.pipeline.dvcyaml import dumps_stage, loads_dvcyaml
from bale.pipeline.stage import PROJECT_FILE, OutKind, ParamsDep, Stage, StageOut

if TYPE_CHECKING:
    from bale.metafiles.memo import ParseMemo
    from bale.repo import Repo


@dataclass(frozen=True)
class StageSpec:
    """What ``stage add`` was told, in dvc's flags."""

    name: str
    cmd: str
    deps: Sequence[str] = ()
    params: Sequence[str] = ()  # `key,key` or `file:key,key` or `file:`
    outs: Sequence[str] = ()  # -o
    outs_no_cache: Sequence[str] = ()  # -O
    outs_persist: Sequence[str] = ()
    outs_persist_no_cache: Sequence[str] = ()
    metrics: Sequence[str] = ()  # -m
    metrics_no_cache: Sequence[str] = ()  # -M
    plots: Sequence[str] = ()
    plots_no_cache: Sequence[str] = ()
    wdir: str | None = None
    always_changed: bool = False
    desc: str | None = None


def _params(items: Sequence[str]) -> list[ParamsDep]:
    """``-p`` values as dvc parses them (``dvc/utils/cli_parse.py``)."""
    merged: dict[str, list[str]] = {}
    for item in items:
        path, sep, keys = item.rpartition(":")
        if not sep:
            path, keys = "params.yaml", item
        merged.setdefault(path, []).extend(k for k in keys.split(",") if k)
    return [ParamsDep(f, tuple(dict.fromkeys(k))) for f, k in merged.items()]


def _outs(spec: StageSpec) -> list[StageOut]:
    groups: list[tuple[Sequence[str], OutKind, bool, bool]] = [
        (spec.outs, "outs", True, False),
        (spec.outs_no_cache, "outs", False, False),
        (spec.outs_persist, "outs", True, True),
        (spec.outs_persist_no_cache, "outs", False, True),
        (spec.metrics, "metrics", True, False),
        (spec.metrics_no_cache, "metrics", False, False),
        (spec.plots, "plots", True, False),
        (spec.plots_no_cache, "plots", False, False),
    ]
    return [
        StageOut(path=p, kind=kind, cache=cache, persist=persist)
        for paths, kind, cache, persist in groups
        for p in paths
    ]


def add_stage(repo: Repo, spec: StageSpec, *, force: bool = False) -> tuple[Stage, list[Path]]:
    """Writes a stage into the ``dvc.yaml`` of the current directory (or
    updates it, with ``force``); outputs are ignored in git as dvc does.
    Returns the stage and the files written (``dvc.yaml``, ``.gitignore``
    files), which ``core.autostage`` stages in git."""
    if not spec.name or any(c in spec.name for c in ":@/\\"):
        raise TargetError(f"invalid stage name '{spec.name}': it cannot contain ':', '@' or '/'")
    if not spec.cmd.strip():
        raise TargetError(f"stage '{spec.name}': the command is empty")
    path = Path(os.getcwd()) / PROJECT_FILE
    inside_repo(repo, path)
    name = path.relative_to(repo.root).as_posix()
    wdir = Path(os.path.normpath(path.parent / (spec.wdir or ".")))
    stage = Stage(
        name=spec.name,
        dvcyaml=path,
        cmd=spec.cmd,
        wdir=wdir,
        deps=list(dict.fromkeys(spec.deps)),
        params=_params(spec.params),
        outs=_outs(spec),
        always_changed=spec.always_changed,
        desc=spec.desc,
        wdir_raw=spec.wdir,
    )
    for o in stage.outs:
        inside_repo(repo, abspath(stage.abspath(o.path)), "output")
    with repo.locked():
        text = path.read_text(encoding="utf-8") if path.exists() else None
        pipes = index.load(repo)
        existing = [s for s in pipes.stages if s.dvcyaml == path and s.name == spec.name]
        if existing and not force:
            raise MetafileError(
                f"{name}: stage '{spec.name}' already exists (use -f to overwrite it)"
            )
        new_text = dumps_stage(text, stage)
        # Check the file we are about to write the way every command will read it.
        loaded = loads_dvcyaml(new_text, path, name, parsing=repo.config.parsing(), memo=repo.memo)
        others = [s for s in pipes.stages if s.dvcyaml != path]
        index.build_graph(repo, [*others, *loaded.stages])
        atomic_write(path, new_text.encode("utf-8"))
        changed = [path]
        if scm.uses_git(repo):
            from bale.metafiles import ignore_in_git

            for o in stage.cached_outs:
                g = ignore_in_git(repo.root, stage.abspath(o.path))
                if g is not None:
                    changed.append(g)
            if repo.config.core_autostage():
                scm.git_add(repo.root, changed)
    return stage, changed


@dataclass(frozen=True)
class StageInfo:
    name: str  # dvc's addressing, from the current directory
    description: str


#: dvc cuts a description longer than this (dvc/commands/stage.py MAX_TEXT_LENGTH).
MAX_DESCRIPTION = 80


def _truncate(text: str, width: int = MAX_DESCRIPTION) -> str:
    """dvc's ``truncate_text``: cut to ``width`` characters, the last one ``…``."""
    return text[: width - 1] + "\u2026" if len(text) > width else text


def _generated(deps: list[str], outs: list[str], reports: list[str]) -> str:
    """dvc's ``generate_description``: what the stage outputs and reports,
    else what it depends on."""
    if not deps and not outs and not reports:
        return "No outputs or dependencies"
    if not outs and not reports:
        return "Depends on " + ", ".join(deps)
    parts = []
    if outs:
        parts.append("Outputs " + ", ".join(outs))
    if reports:
        parts.append("Reports " + ", ".join(reports))
    return "; ".join(parts)


def _describe(stage: Stage) -> str:
    """dvc's ``stage list`` description: the desc's first non-empty line,
    stripped (``Stage.short_description``; a line of blanks strips to
    nothing, and then, as in dvc, the generated one is used)."""
    if stage.desc:
        lines = [ln for ln in stage.desc.splitlines() if ln]
        if lines and lines[0].strip():
            return lines[0].strip()
    deps = [*stage.deps, *(p.path for p in stage.params)]
    outs = [o.path for o in stage.outs if o.kind == "outs"]
    reports = [o.path for o in stage.outs if o.kind != "outs"]
    return _generated(deps, outs, reports)


def _describe_dvcfile(path: Path, memo: ParseMemo) -> str:
    from bale.metafiles import load_dvcfile

    f = load_dvcfile(path, memo)
    desc = f.data.get("desc")
    if isinstance(desc, str):
        lines = [ln for ln in desc.splitlines() if ln]
        if lines and lines[0].strip():
            return lines[0].strip()
    deps = [str(d.get("path", "")) for d in f.deps]
    return _generated(deps, [o.path for o in f.outs], [])


# A stage of a dvc.yaml, or a .dvc file (by its path).
_Entry = Stage | Path


def _load(repo: Repo, fail: bool, targets: Sequence[Path]) -> index.Pipelines:
    """The pipelines as ``dvc stage list`` reads them: a ``dvc.yaml`` that
    does not load is left out (dvc logs it at debug level), unless ``fail``
    or a target names it."""
    from bale.exceptions import BaleError
    from bale.pipeline.dvcyaml import load_dvcyaml

    parsing = repo.config.parsing()
    files = []
    for path in index.pipeline_paths(repo):
        try:
            files.append(load_dvcyaml(path, repo.root, parsing, repo.memo))
        except BaleError:
            if fail or path in targets:
                raise
    return index.Pipelines(repo, files, {})


def _loads(path: Path, fail: bool, memo: ParseMemo) -> bool:
    """Whether the ``.dvc`` file at ``path`` loads (or raise, with ``fail``)."""
    from bale.exceptions import BaleError
    from bale.metafiles import load_dvcfile

    try:
        load_dvcfile(path, memo)
    except BaleError:
        if fail:
            raise
        return False
    return True


def _walk_ordered(repo: Repo, pipes: index.Pipelines, fail: bool) -> list[_Entry]:
    """Every stage and ``.dvc`` file, in the order dvc's index walks them."""
    from bale.metafiles.walk_order import WalkOrder

    walk = WalkOrder(repo.root)
    keyed: list[tuple[Any, _Entry]] = [
        ((walk.key(p), 0), p) for p in index.dvcfiles(repo) if _loads(p, fail, repo.memo)
    ]
    keyed += [((walk.key(s.dvcyaml), i), s) for i, s in enumerate(pipes.stages)]
    return [e for _k, e in sorted(keyed, key=lambda ke: ke[0])]


def _postorder(repo: Repo, pipes: index.Pipelines, entries: list[_Entry]) -> list[_Entry]:
    """``entries`` as dvc's ``collect_inside_path`` orders them (networkx's
    ``dfs_postorder_nodes`` of its graph): from each, in order, depth first
    through what it depends on, each listed after what it depends on."""

    def key(e: _Entry) -> Any:
        return e if isinstance(e, Path) else id(e)

    nodes = {
        (repo.root / n.label if n.stage is None else id(n.stage)): n for n in pipes.graph.nodes
    }
    by_node = {id(nodes[key(e)]): e for e in entries if key(e) in nodes}
    out: list[_Entry] = []
    seen: set[Any] = set()

    def visit(e: _Entry) -> None:
        if key(e) in seen:
            return
        seen.add(key(e))
        node = nodes.get(key(e))
        for up in node.upstream if node is not None else []:
            if id(up) in by_node:
                visit(by_node[id(up)])
        out.append(e)

    for e in entries:
        visit(e)
    return out


def _where(entry: _Entry) -> Path:
    return entry if isinstance(entry, Path) else entry.dvcyaml


def list_stages(
    repo: Repo,
    targets: Sequence[str] | None = None,
    *,
    everything: bool = False,
    recursive: bool = False,
    fail: bool = False,
) -> list[StageInfo]:
    """What ``dvc stage list`` lists: the stages ``targets`` name (default:
    the ``dvc.yaml`` of the current directory, which must exist), with
    ``recursive`` every stage under a target directory, with ``everything``
    every stage and ``.dvc`` file of the project, in dvc's walk order. A
    ``dvc.yaml`` or ``.dvc`` file that does not load is left out unless
    ``fail`` or a target names it."""
    targets = list(targets or ([] if everything else [PROJECT_FILE]))
    # dvc walks the project (where --fail applies) only for --all and -R.
    fail = fail and (everything or recursive)
    pipes = _load(repo, fail, [abspath(t) for t in targets])
    if everything:
        entries = _walk_ordered(repo, pipes, fail)
    else:
        entries = []
        for target in targets:
            path = abspath(target)
            if recursive and path.is_dir():
                inside = _postorder(repo, pipes, _walk_ordered(repo, pipes, fail))
                entries += [e for e in inside if _where(e).is_relative_to(path)]
                continue
            if (path.name == PROJECT_FILE or path.suffix == ".dvc") and not path.exists():
                raise TargetError(f"'{path}' does not exist")  # dvc's words
            for n in pipes.select([target]):
                entries.append(n.stage if n.stage is not None else repo.root / n.label)
        entries = list({id(e) if isinstance(e, Stage) else e: e for e in entries}.values())
    cwd = Path.cwd()
    return [
        StageInfo(
            Path(os.path.relpath(e, cwd)).as_posix() if isinstance(e, Path) else e.addressing(cwd),
            _truncate(_describe_dvcfile(e, repo.memo) if isinstance(e, Path) else _describe(e)),
        )
        for e in entries
    ]


def to_json(infos: list[StageInfo]) -> list[dict[str, Any]]:
    return [{"name": i.name, "description": i.description} for i in infos]
