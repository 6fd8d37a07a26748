"""``bale stage add`` and ``bale stage list``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import scm
from bale.exceptions import MetafileError, TargetError
from bale.metafiles import atomic_write
from bale.ops.outputs import abspath, inside_repo
from bale.pipeline import index
from bale.pipeline.dvcyaml import dumps_stage, loads_dvcyaml
from bale.pipeline.stage import PROJECT_FILE, OutKind, ParamsDep, Stage, StageOut

if TYPE_CHECKING:
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


def add_stage(repo: Repo, spec: StageSpec, *, force: bool = False) -> Stage:
    """Writes a stage into the ``dvc.yaml`` of the current directory (or
    updates it, with ``force``); outputs are ignored in git as dvc does."""
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
        loaded = loads_dvcyaml(new_text, path, name, parsing=repo.config.parsing())
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
    return stage


@dataclass(frozen=True)
class StageInfo:
    name: str  # dvc's addressing
    description: str


def _describe(stage: Stage) -> str:
    """dvc's ``stage list`` description: the desc's first line, else what the
    stage outputs and reports (``dvc/commands/stage.py``)."""
    if stage.desc:
        lines = [ln.strip() for ln in stage.desc.splitlines() if ln.strip()]
        if lines:
            return lines[0]
    deps = [*stage.deps, *(p.path for p in stage.params)]
    if not deps and not stage.outs:
        return "No outputs or dependencies"
    if not stage.outs:
        return "Depends on " + ", ".join(deps)
    parts = []
    outs = [o.path for o in stage.outs if o.kind == "outs"]
    if outs:
        parts.append("Outputs " + ", ".join(outs))
    reports = [o.path for o in stage.outs if o.kind != "outs"]
    if reports:
        parts.append("Reports " + ", ".join(reports))
    return "; ".join(parts)


def list_stages(repo: Repo, targets: Sequence[str] | None = None) -> list[StageInfo]:
    """The stages of every ``dvc.yaml`` (or of ``targets``), in file order."""
    pipes = index.load(repo)
    if targets:
        stages = [n.stage for n in pipes.select(list(targets)) if n.stage is not None]
    else:
        stages = pipes.stages
    return [StageInfo(s.addressing(repo.root), _describe(s)) for s in stages]


def to_json(infos: list[StageInfo]) -> list[dict[str, Any]]:
    return [{"name": i.name, "description": i.description} for i in infos]
