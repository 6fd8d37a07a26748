"""Loading ``dvc.yaml``: YAML 1.2 as dvc reads it, dvc's schema, templating,
then :class:`Stage` objects.

dvc validates the raw file (``dvc/schema.py: MULTI_STAGE_SCHEMA``) before it
resolves ``${}``, so a templated ``frozen: ${x}`` is an error there and here.
A schema error names the line and column of the offending key, found by
composing the text again only when there is an error to report.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale.exceptions import MetafileError
from bale.metafiles import yaml12
from bale.pipeline.stage import (
    DEFAULT_PARAMS_FILE,
    PROJECT_FILE,
    OutKind,
    Stage,
    StageOut,
    merge_params,
)

if TYPE_CHECKING:
    from bale.metafiles.memo import ParseMemo

_TOP_KEYS = frozenset({"stages", "vars", "params", "metrics", "plots", "artifacts", "datasets"})
_STAGE_KEYS = frozenset(
    {
        "cmd",
        "wdir",
        "deps",
        "params",
        "outs",
        "metrics",
        "plots",
        "frozen",
        "always_changed",
        "desc",
        "meta",
        "vars",
        "matrix",
    }
)
# dvc/schema.py OUT_PSTAGE_DETAILED_SCHEMA and PLOT_PROPS
_OUT_FLAGS = {
    "cache": bool,
    "persist": bool,
    "checkpoint": bool,
    "remote": str,
    "push": bool,
    "desc": str,
    "type": str,
    "labels": list,
    "meta": object,
}
_PLOT_FLAGS = {
    "template": str,
    "x": str,
    "y": str,
    "x_label": str,
    "y_label": str,
    "title": str,
    "header": bool,
}

Path_ = tuple[str | int, ...]


class _Invalid(Exception):
    def __init__(self, where: Path_, message: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message


# ---------------------------------------------------------------------------
# YAML


def locate(text: str, where: Path_) -> tuple[int, int] | None:
    """Line and column (1-based) of the key or item at ``where`` in ``text``."""
    import yaml

    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return None
    mark = node.start_mark if node is not None else None
    for step in where:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == step:
                    mark, node = k.start_mark, v
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            if step >= len(node.value):
                break
            node = node.value[step]
            mark = node.start_mark
        else:
            break
    return (mark.line + 1, mark.column + 1) if mark is not None else None


def _dotted(where: Path_) -> str:
    out = ""
    for step in where:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


# ---------------------------------------------------------------------------
# schema


def _type_name(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    names.update({list: "a list", dict: "a mapping", type(None): "empty"})
    return names.get(type(value), type(value).__name__)


def _expect(value: Any, typ: type | tuple[type, ...], where: Path_, what: str) -> None:
    bad = not isinstance(value, typ) or (typ is not bool and isinstance(value, bool))
    if typ is object:
        bad = False
    if bad:
        raise _Invalid(where, f"{what}, not {_type_name(value)}")


def _check_outs(items: Any, where: Path_, plots: bool) -> None:
    _expect(items, list, where, "must be a list")
    allowed = {**_OUT_FLAGS, **(_PLOT_FLAGS if plots else {})}
    for i, item in enumerate(items):
        at = (*where, i)
        if isinstance(item, str):
            continue
        if not isinstance(item, dict) or len(item) != 1:
            raise _Invalid(at, "must be a path or a mapping of one path to its options")
        ((path, flags),) = item.items()
        _expect(path, str, at, "must be a path")
        if flags is None:
            continue
        options = flags if isinstance(flags, list) and plots else [flags]
        for opts in options:
            _expect(opts, dict, (*at, path), "must be a mapping of options")
            for key, value in opts.items():
                if key not in allowed:
                    raise _Invalid((*at, path, key), f"unknown option {key!r}")
                _expect(value, allowed[key], (*at, path, key), f"{key!r} must be of another type")


def _check_stage(name: str, d: Any, where: Path_) -> None:
    _expect(d, dict, where, "a stage must be a mapping")
    if "foreach" in d or "do" in d:
        for key in d:
            if key not in ("foreach", "do"):
                raise _Invalid((*where, key), f"unknown key {key!r} next to foreach/do")
        if "foreach" not in d or "do" not in d:
            raise _Invalid(where, "foreach needs do, and do needs foreach")
        _expect(
            d["foreach"],
            (dict, list, str),
            (*where, "foreach"),
            "must be a list, a mapping or ${...}",
        )
        _check_stage(name, d["do"], (*where, "do"))
        return
    for key in d:
        if key not in _STAGE_KEYS:
            raise _Invalid((*where, key), f"unknown key {key!r} in stage '{name}'")
    if "cmd" not in d:
        raise _Invalid(where, f"stage '{name}' has no 'cmd'")
    cmd = d["cmd"]
    if not (
        isinstance(cmd, str) or (isinstance(cmd, list) and all(isinstance(c, str) for c in cmd))
    ):
        raise _Invalid((*where, "cmd"), "must be a string or a list of strings")
    for key in ("wdir", "desc"):
        if key in d:
            _expect(d[key], str, (*where, key), f"{key!r} must be a string")
    for key in ("frozen", "always_changed"):
        if key in d:
            _expect(d[key], bool, (*where, key), f"{key!r} must be true or false")
    if "deps" in d:
        _expect(d["deps"], list, (*where, "deps"), "must be a list")
        for i, dep in enumerate(d["deps"]):
            _expect(dep, str, (*where, "deps", i), "a dependency must be a path")
    if "params" in d:
        _expect(d["params"], list, (*where, "params"), "must be a list")
        for i, p in enumerate(d["params"]):
            at = (*where, "params", i)
            if isinstance(p, dict):
                for f, keys in p.items():
                    ok = keys is None or (
                        isinstance(keys, list) and all(isinstance(k, str) for k in keys)
                    )
                    if not ok:
                        raise _Invalid((*at, f), f"params of {f!r} must be a list of keys")
            else:
                _expect(p, str, at, "a param must be a key or a mapping of a file to keys")
    for key in ("outs", "metrics", "plots"):
        if key in d:
            _check_outs(d[key], (*where, key), key == "plots")
    if "vars" in d:
        _expect(d["vars"], list, (*where, "vars"), "must be a list")
    if "matrix" in d:
        _expect(d["matrix"], dict, (*where, "matrix"), "must be a mapping")


def _check_top(data: Any) -> None:
    if not isinstance(data, dict):
        raise _Invalid((), "expected a mapping at the top level")
    for key in data:
        if key not in _TOP_KEYS:
            raise _Invalid((key,), f"unknown key {key!r}")
    stages = data.get("stages") or {}
    _expect(stages, dict, ("stages",), "'stages' must be a mapping")
    for name, d in stages.items():
        _expect(name, str, ("stages",), "stage names must be strings")
        if not name or any(c in name for c in ":@/\\"):
            raise _Invalid(("stages", name), f"invalid stage name {name!r}")
        _check_stage(name, d, ("stages", name))
    for key in ("params", "metrics"):
        if key in data:
            _expect(data[key], list, (key,), f"'{key}' must be a list of paths")
    if "vars" in data:
        _expect(data["vars"], list, ("vars",), "'vars' must be a list")
    if "plots" in data:
        _check_top_plots(data["plots"])
    if "artifacts" in data:
        _check_artifacts(data["artifacts"])


# dvc/annotations.py ARTIFACT_SCHEMA: what an artifact may say.
_ARTIFACT_KEYS = {"path": str, "desc": str, "type": str, "labels": list, "meta": object}


def _check_artifacts(artifacts: Any) -> None:
    """dvc's ``artifacts:``: names to ``{path, desc, type, labels, meta}``,
    ``path`` required, ``labels`` a list of strings."""
    if artifacts is None:
        return
    _expect(artifacts, dict, ("artifacts",), "'artifacts' must be a mapping of names")
    for name, artifact in artifacts.items():
        at: Path_ = ("artifacts", name)
        _expect(name, str, ("artifacts",), "artifact names must be strings")
        _expect(artifact, dict, at, "an artifact must be a mapping with a 'path'")
        if "path" not in artifact:
            raise _Invalid(at, "an artifact must have a 'path'")
        for key, value in artifact.items():
            kind = _ARTIFACT_KEYS.get(key)
            if kind is None:
                raise _Invalid((*at, key), f"unknown artifact property {key!r}")
            _expect(value, kind, (*at, key), f"{key!r} must be a {kind.__name__}")
            if key == "labels" and not all(isinstance(v, str) for v in value):
                raise _Invalid((*at, key), "'labels' must be a list of strings")


# dvc/schema.py PLOT_DEFINITION: what a named top-level plot may say.
_AXIS_KEYS = ("x", "y")
_PLOT_DEFINITION_KEYS = frozenset({"x", "y", "x_label", "y_label", "title", "template"})


def _check_axis(value: Any, where: Path_, axis: str) -> None:
    """``x``: a field or ``{file: field}``; ``y``: a field, a list of fields,
    or ``{file: field or fields}`` (dvc's PLOT_DEFINITION)."""

    def fields(v: Any) -> bool:
        return isinstance(v, str) or (
            axis == "y" and isinstance(v, list) and all(isinstance(f, str) for f in v)
        )

    if isinstance(value, dict):
        for file, v in value.items():
            ok = isinstance(file, str) and (isinstance(v, str) or (axis == "y" and fields(v)))
            if not ok:
                raise _Invalid((*where, file), f"'{axis}' of a file must name its field(s)")
    elif not fields(value):
        what = "a field, a list of fields" if axis == "y" else "a field"
        raise _Invalid(where, f"'{axis}' must be {what} or a mapping of files to fields")


def _check_top_plots(plots: Any) -> None:
    """dvc's top-level ``plots:``: a list whose items are a data file (or
    directory), or ``{id: None or a definition}``."""
    _expect(plots, list, ("plots",), "'plots' must be a list")
    for i, item in enumerate(plots):
        at: Path_ = ("plots", i)
        if isinstance(item, str):
            continue
        if not isinstance(item, dict) or len(item) != 1:
            raise _Invalid(at, "a plot must be a path or a mapping of one id to its definition")
        ((plot_id, definition),) = item.items()
        _expect(plot_id, str, at, "a plot id must be a string")
        if definition is None:
            continue
        _expect(definition, dict, (*at, plot_id), "a plot definition must be a mapping")
        for key, value in definition.items():
            where = (*at, plot_id, key)
            if key not in _PLOT_DEFINITION_KEYS:
                raise _Invalid(where, f"unknown plot property {key!r}")
            if key in _AXIS_KEYS:
                _check_axis(value, where, key)
            else:
                _expect(value, str, where, f"{key!r} must be a string")


def artifacts_of(text: str, name: str) -> dict[str, dict[str, Any]]:
    """The ``artifacts:`` of the ``dvc.yaml`` text ``text`` (named ``name``
    in messages), checked as dvc checks them; the rest is not resolved."""
    data = yaml12.parse(text, name) or {} if text.strip() else {}
    if not isinstance(data, dict):
        raise _fail(name, text, _Invalid((), "expected a mapping at the top level"))
    try:
        _check_artifacts(data.get("artifacts"))
    except _Invalid as exc:
        raise _fail(name, text, exc) from None
    return dict(data.get("artifacts") or {})


def _fail(name: str, text: str, exc: _Invalid) -> MetafileError:
    pos = locate(text, exc.where)
    at = f"line {pos[0]}, column {pos[1]}: " if pos else ""
    key = f"{_dotted(exc.where)}: " if exc.where else ""
    return MetafileError(f"{name}: {at}{key}{exc.message}")


# ---------------------------------------------------------------------------
# stages


@dataclass
class PipelineFile:
    """One ``dvc.yaml``: its resolved stages, and the metrics and params files
    it lists at the top level."""

    path: Path  # absolute
    stages: list[Stage]
    metrics: list[str]  # top-level `metrics:`, relative to the file's directory
    params: list[str]  # top-level `params:`
    data: dict[str, Any]  # as parsed, before templating
    text: str
    #: Per stage name, the variables it interpolated from vars files (dvc's
    #: ``tracked_vars``): ``{file relative to this directory: {dotted.key: value}}``.
    tracked_vars: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


def _outs(items: list[Any], kind: OutKind) -> list[StageOut]:
    merged: dict[str, dict[str, Any]] = {}
    for item in items:
        if isinstance(item, str):
            merged.setdefault(item, {})
        else:
            ((path, flags),) = item.items()
            opts = flags if isinstance(flags, dict) else {}
            if isinstance(flags, list):
                opts = {k: v for f in flags for k, v in f.items()}
            merged.setdefault(path, {}).update(opts)
    outs = []
    for path, opts in merged.items():
        known = ("cache", "persist", "remote", "push")
        outs.append(
            StageOut(
                path=path,
                kind=kind,
                cache=bool(opts.get("cache", True)),
                persist=bool(opts.get("persist", False)),
                remote=opts.get("remote"),
                push=bool(opts.get("push", True)),
                flags=tuple((k, v) for k, v in opts.items() if k not in known),
            )
        )
    return outs


def _stage(name: str, d: Mapping[str, Any], dvcyaml: Path) -> Stage:
    wdir_raw = d.get("wdir")
    wdir = Path(os.path.normpath(dvcyaml.parent / (wdir_raw or ".")))
    kinds: tuple[OutKind, ...] = ("outs", "metrics", "plots")
    outs = [o for kind in kinds for o in _outs(d.get(kind) or [], kind)]
    return Stage(
        name=name,
        dvcyaml=dvcyaml,
        cmd=d["cmd"],
        wdir=wdir,
        deps=list(d.get("deps") or []),
        params=merge_params(list(d.get("params") or [])),
        outs=outs,
        frozen=bool(d.get("frozen", False)),
        always_changed=bool(d.get("always_changed", False)),
        desc=d.get("desc"),
        meta=d.get("meta"),
        wdir_raw=wdir_raw,
    )


def loads_dvcyaml(
    text: str,
    path: Path,
    name: str,
    load: Callable[[str], Any] | None = None,
    parsing: Mapping[str, Any] | None = None,
    memo: ParseMemo | None = None,
) -> PipelineFile:
    """Parse, check and resolve the text of the ``dvc.yaml`` at ``path``
    (absolute); ``name`` is used in messages; ``load`` reads a vars file
    relative to the file's directory (default: from the workspace);
    ``parsing`` is the config's ``[parsing]`` section (how a dict renders in
    a command); ``memo`` (the repository's parse memo) remembers the parses."""
    # Imported here, not at the top: a repository without pipelines (and
    # every command's start) does not pay for templating and params' parsers.
    from bale.pipeline.templating import resolve_stages

    data = yaml12.parse(text, name, memo) or {} if text.strip() else {}
    try:
        _check_top(data)
    except _Invalid as exc:
        raise _fail(name, text, exc) from None

    def load_workspace(rel: str) -> Any:
        from bale.pipeline.params import load_file

        return load_file(
            path.parent / rel,
            posixpath.normpath(posixpath.join(posixpath.dirname(name), rel)),
            memo,
        )

    tracked: dict[str, dict[str, dict[str, Any]]] = {}
    resolved = resolve_stages(
        data, where=name, load=load or load_workspace, parsing=parsing, tracked=tracked
    )
    stages = []
    for stage_name, d in resolved:
        try:
            _check_stage(stage_name, d, ("stages", stage_name))
        except _Invalid as exc:
            raise MetafileError(f"{name}: {_dotted(exc.where)}: {exc.message}") from None
        stages.append(_stage(stage_name, d, path))
    return PipelineFile(
        path=path,
        stages=stages,
        metrics=list(data.get("metrics") or []),
        params=list(data.get("params") or []),
        data=data,
        text=text,
        tracked_vars=tracked,
    )


def load_dvcyaml(
    path: Path,
    root: Path,
    parsing: Mapping[str, Any] | None = None,
    memo: ParseMemo | None = None,
) -> PipelineFile:
    """Load the ``dvc.yaml`` at ``path`` (absolute) from the workspace (see
    :func:`loads_dvcyaml`)."""
    name = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise MetafileError(f"{name}: file does not exist") from None
    except UnicodeDecodeError:
        raise MetafileError(f"{name}: is not valid utf-8") from None
    return loads_dvcyaml(text, path, name, parsing=parsing, memo=memo)


__all__ = [
    "DEFAULT_PARAMS_FILE",
    "PROJECT_FILE",
    "PipelineFile",
    "load_dvcyaml",
    "loads_dvcyaml",
    "locate",
]


# ---------------------------------------------------------------------------
# writing (stage add)


def stage_definition(stage: Stage) -> dict[str, Any]:
    """The stage as ``dvc/stage/serialize.py: to_pipeline_file`` writes it:
    desc, cmd, wdir, deps, params, outs, metrics, plots, frozen,
    always_changed, meta; deps and outputs sorted by path, params keys of
    ``params.yaml`` first as bare strings, other files as ``{file: [keys]}``."""
    params: list[Any] = []
    for p in sorted(stage.params, key=lambda p: p.path):
        keys = sorted(p.keys)
        if keys and p.path == DEFAULT_PARAMS_FILE:
            params = [*keys, *params]
        else:
            params.append({p.path: keys or None})
    buckets: dict[str, list[Any]] = {"outs": [], "metrics": [], "plots": []}
    for o in sorted(stage.outs, key=lambda o: o.path):
        # dvc's _get_flags order: annotations, cache, persist, the plot's
        # properties (in file order), remote, push.
        flags: dict[str, Any] = {k: v for k, v in o.flags if k not in _PLOT_FLAGS}
        if not o.cache:
            flags["cache"] = False
        if o.persist:
            flags["persist"] = True
        flags.update((k, v) for k, v in o.flags if k in _PLOT_FLAGS)
        if o.remote:
            flags["remote"] = o.remote
        if not o.push:
            flags["push"] = False
        buckets[o.kind].append({o.path: flags} if flags else o.path)
    wdir = stage.wdir_raw if stage.wdir_raw and posixpath.normpath(stage.wdir_raw) != "." else None
    fields = [
        ("desc", stage.desc),
        ("cmd", stage.cmd),
        ("wdir", wdir),
        ("deps", sorted(stage.deps)),
        ("params", params),
        ("outs", buckets["outs"]),
        ("metrics", buckets["metrics"]),
        ("plots", buckets["plots"]),
        ("frozen", stage.frozen),
        ("always_changed", stage.always_changed),
        ("meta", stage.meta),
    ]
    return {k: v for k, v in fields if v}


def dumps_stage(text: str | None, stage: Stage) -> str:
    """``text`` (a ``dvc.yaml``, or None) with ``stage`` added, or updated in
    round-trip mode so comments and hand formatting survive (dvc's
    ``ProjectFile._dump_pipeline_file``)."""
    data = yaml12.load_roundtrip(text)
    if not data:
        data = {}
    data["stages"] = data.get("stages", {})
    definition = stage_definition(stage)
    if stage.name in data["stages"]:
        from bale.metafiles.dvcfile import apply_diff

        apply_diff(definition, data["stages"][stage.name])
    else:
        data["stages"][stage.name] = definition
    return yaml12.dumps(data)
