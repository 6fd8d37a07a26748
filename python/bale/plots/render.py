"""From plot definitions and their data to dvc-render's renderers, and to
``plots show --json``'s entries: dvc 3.67.1's ``dvc/render`` (the Vega and
image converters, ``match_defs_renderers``, ``to_json``) over bale's
:class:`~bale.plots.collect.Revision` objects.

dvc-render itself fills the Vega-Lite templates, so the specs are the very
ones dvc prints; this module only decides which datapoints and properties go
into each renderer, as dvc decides it.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from bale._core import PlotTable
from bale.console import warn
from bale.exceptions import BaleError
from bale.plots.points import Job, RawPoints, SetSpec

if TYPE_CHECKING:
    from dvc_render.base import Renderer

    from bale.plots.collect import Revision

INDEX = "step"  # the x field when none is given: each datapoint's position
REVISION = "rev"
FILENAME = "filename"
FIELD = "field"
SRC = "src"
_INFERRED_X = "dvc_inferred_x_value"
_INFERRED_Y = "dvc_inferred_y_value"


class PlotDataError(BaleError):
    """A plot's data does not fit its definition (x and y of different
    lengths); dvc warns and shows the plot without that revision."""

    #: The type ``--json`` reports, dvc's (tools reading the JSON know dvc's names).
    json_type = "DvcException"


class FieldNotFoundError(PlotDataError):
    """A plot names a field its data file does not have."""

    json_type = "FieldNotFoundError"


def _file_field(*axes: dict[str, Any] | None) -> Iterator[tuple[str, str]]:
    for axis in axes:
        for file, val in (axis or {}).items():
            if isinstance(val, str):
                yield file, val
            elif isinstance(val, list):
                for f in val:
                    yield file, f


def _j(value: str) -> str:
    """A key or value as JSON, the form the engine's tables take them in."""
    return json.dumps(value)


def _verify_field(by_file: dict[str, PlotTable], file: str, name: str) -> None:
    table = by_file.get(file)
    if table:
        keys = [json.loads(k) for k in table.first_keys()]
        if name not in keys:
            found = ", ".join(keys)
            raise FieldNotFoundError(
                f"Could not find provided field ('{name}') in data fields ('{found}')."
            )


def _axis(props: dict[str, Any], axis: str, by_file: dict[str, PlotTable]) -> list[tuple[str, str]]:
    value = props.get(axis)
    if not isinstance(value, dict):
        return []
    pairs = list(_file_field(value))
    for file, name in pairs:
        _verify_field(by_file, file, name)
    return pairs


def _label(props: dict[str, Any], axis: str) -> str | None:
    """dvc's ``infer_x_label`` / ``infer_y_label``."""
    given = props.get(f"{axis}_label")
    if given is not None:
        return str(given)
    value = props.get(axis)
    if axis == "x" and not isinstance(value, dict):
        return INDEX
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return axis
    if not isinstance(value, dict):
        return None
    fields = {name for _, name in _file_field(value)}
    return next(iter(fields)) if len(fields) == 1 else axis


@dataclass(frozen=True)
class Points:
    """One y source's datapoints at one revision: every record of
    ``table`` with ``sets`` applied, in order (what dvc's converter adds to
    each: ``rev``, ``filename``, ``field``, the ``step``, a copied x or y)."""

    table: PlotTable
    sets: list[SetSpec]
    #: the ``filename`` and ``field`` set, which dvc-render may join
    filename: str
    field: str


@dataclass
class VegaConverter:
    """dvc's ``VegaConverter``: a plot's data files (``{file: table}``)
    and properties, turned into flat datapoints with ``x``/``y`` filled in."""

    plot_id: str
    data: dict[str, PlotTable]
    properties: dict[str, Any]

    def _infer_y(self) -> dict[str, str] | None:
        table = self.data.get(self.plot_id)
        y = table.inferred_y if table is not None else None
        return {self.plot_id: json.loads(y)} if y is not None else None

    def _infer_x_y(self) -> dict[str, Any]:
        x, y = self.properties.get("x"), self.properties.get("y")
        inferred: dict[str, Any] = {}
        if isinstance(x, str):
            # One x field for every y file (as many times as it has y fields).
            if isinstance(y, dict):
                inferred["x"] = {
                    f: [x] * len(fields) if isinstance(fields, list) else x
                    for f, fields in y.items()
                }
            else:
                inferred["x"] = {self.plot_id: x}
        if y is None:
            inferred["y"] = self._infer_y()
        elif not isinstance(y, dict):
            inferred["y"] = {self.plot_id: y}
        return inferred

    def convert(self) -> dict[str, Any]:
        props = self.properties | self._infer_x_y()
        props["y_label"] = _label(props, "y")
        props["x_label"] = _label(props, "x")
        return props

    def flat_datapoints(self, rev: str) -> tuple[list[Points], dict[str, Any]]:
        """The datapoints of revision ``rev``, to be rendered, and the
        renderer's properties."""
        by_file, props = self.data, self.convert()
        update: dict[str, Any] = {}
        xs = _axis(props, "x", by_file)
        x_file, x_field = xs[0] if xs else (None, INDEX)
        many_x = len(xs) > 1 and len({name for _, name in xs}) > 1
        update["x"] = _INFERRED_X if many_x else x_field
        ys = _axis(props, "y", by_file)
        if len(xs) > 1 and len(xs) != len(ys):
            raise PlotDataError(
                "Cannot have different number of x and y data sources. Found "
                f"{len(xs)} x and {len(ys)} y data sources."
            )
        y_files = {f for f, _ in ys}
        y_fields = list(dict.fromkeys(name for _, name in ys))
        update["y"] = _INFERRED_Y if len(y_fields) > 1 else next(iter(y_fields), None)
        prefix = len(os.path.commonpath(list(y_files))) if len(y_files) > 1 else 0

        def short(file: str) -> str:
            return file[prefix:].strip("/\\")

        update["anchors_y_definitions"] = [{FILENAME: short(f), FIELD: n} for f, n in ys]
        points: list[Points] = []
        for i, (y_file, y_field) in enumerate(ys):
            if len(xs) > 1:
                x_file, x_field = xs[i]
            table = by_file.get(y_file)
            rows = len(table) if table is not None else 0
            sets: list[SetSpec] = []
            if update["y"] == _INFERRED_Y:
                sets.append((_j(_INFERRED_Y), "field", _j(y_field), None))
            x_name = _INFERRED_X if many_x else x_field
            if x_field == INDEX and x_file is None:
                sets.append((_j(INDEX), "index", None, None))
            elif x_file != y_file or x_name != x_field:
                # x from another file, or under another name: by position
                other = by_file.get(x_file or "")
                if (len(other) if other is not None else 0) != rows:
                    raise PlotDataError(
                        f"Cannot join '{x_field}' from '{x_file}' and "
                        f"'{y_field}' from '{y_file}'. They have to have same length."
                    )
                sets.append((_j(x_name), "other", _j(x_field), other))
            if table is None or not rows:
                continue
            for key, value in ((REVISION, rev), (FILENAME, short(y_file)), (FIELD, y_field)):
                sets.append((_j(key), "const", _j(value), None))
            points.append(Points(table, sets, short(y_file), y_field))
        if not points:
            return [], {}
        return points, props | update


@dataclass
class ImageConverter:
    """dvc's ``ImageConverter``: each image becomes a datapoint whose ``src``
    is a copy written under ``out`` (``{rev}_{path}`` with ``/`` made
    ``_``), or a data URI without ``out``."""

    plot_id: str
    data: dict[str, Any]
    properties: dict[str, Any]

    def flat_datapoints(self, rev: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        out = self.properties.get("out")
        points = []
        for filename, image in self.data.items():
            if out:
                os.makedirs(out, exist_ok=True)
                name = f"{rev}_{filename}".replace(os.sep, "_").replace("/", "_")
                src = os.path.join(os.path.abspath(out), name)
                with open(src, "wb") as fd:
                    fd.write(image)
            else:
                src = f"data:image;base64,{base64.b64encode(image).decode()}"
            points.append({REVISION: rev, FILENAME: filename, SRC: src})
        return points, self.properties


@dataclass
class Rendered:
    """A renderer and the errors met filling it: per revision, per data
    source; and per revision, the definition's own."""

    renderer: Renderer
    source_errors: dict[str, dict[str, BaseException | dict[str, str]]] = field(
        default_factory=dict
    )
    definition_errors: dict[str, BaseException] = field(default_factory=dict)


def plot_id(config_plot_id: str, config_file: str = "") -> str:
    """dvc's ``get_plot_id``: ``dvc.yaml::id`` when a file is named."""
    return f"{config_file}::{config_plot_id}" if config_file else config_plot_id


def _group(definitions: dict[str, dict[str, Any]]) -> dict[str, tuple[str, dict[str, Any]]]:
    """dvc's ``group_definitions_by_id``: plot ids, prefixed by their
    config file only where two files define the same id."""
    by_id: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
    for config, plots in definitions.items():
        for pid, definition in plots.items():
            by_id.setdefault(pid, {})[config] = (pid, definition)
    out = {}
    for pid, configs in by_id.items():
        if len(configs) == 1:
            out[pid] = next(iter(configs.values()))
        else:
            for config, content in configs.items():
                out[plot_id(pid, config)] = content
    return out


def data_sources(pid: str, definition: dict[str, Any] | None) -> list[str]:
    """dvc's ``infer_data_sources``: the files a definition reads, the
    ``y`` files (or the id itself) and the first ``x`` file."""
    y = (definition or {}).get("y")
    sources = list(y) if isinstance(y, dict) else [pid]
    x = (definition or {}).get("x")
    if isinstance(x, dict) and x:
        sources.append(next(iter(x)))
    return list(dict.fromkeys(sources))


def match_renderers(
    revisions: Iterable[Revision], out: str | None = None, templates_dir: str | None = None
) -> list[Rendered]:
    """dvc's ``match_defs_renderers``: one renderer per plot id, with every
    revision's datapoints in it."""
    from dvc_render import ImageRenderer

    revs = list(revisions)
    groups: dict[str, list[tuple[Revision, str, dict[str, Any]]]] = {}
    for r in revs:
        for pid, (inner, definition) in _group(r.definitions).items():
            groups.setdefault(pid, []).append((r, inner, definition))
    rendered = []
    pending: list[tuple[Renderer, list[Job]]] = []
    for pid, group in groups.items():
        props: dict[str, Any] = {}
        for _r, _inner, definition in reversed(group):  # the first revision's props win
            props = props | definition
        if out is not None:
            props["out"] = out
        if templates_dir is not None:
            props["template_dir"] = templates_dir
        images: list[dict[str, Any]] = []
        points: list[Points] = []
        first_props: dict[str, Any] = {}
        with_points: list[str] = []
        src_errors: dict[str, dict[str, BaseException | dict[str, str]]] = {}
        def_errors: dict[str, BaseException] = {}
        is_image = False
        renderer_id = pid
        for r, inner, definition in group:
            sources = data_sources(inner, definition)
            is_image = ImageRenderer.matches(inner, None)
            renderer_id = inner if is_image else pid
            for s in sources:
                if s in r.errors:
                    src_errors.setdefault(r.name, {})[s] = r.errors[s]
            try:
                if is_image:
                    data = {s: r.sources[s] for s in sources if r.sources.get(s)}
                    dps, rev_props = ImageConverter(inner, data, props).flat_datapoints(r.name)
                    images.extend(dps)
                    found = bool(dps)
                else:
                    tables = {s: t for s in sources if isinstance(t := r.sources.get(s), PlotTable)}
                    pts, rev_props = VegaConverter(inner, tables, props).flat_datapoints(r.name)
                    points.extend(pts)
                    found = bool(pts)
            except PlotDataError as e:
                warn(f"In {r.name!r}, {str(e).lower()}")
                def_errors[r.name] = e
                continue
            if found and r.name not in with_points:
                with_points.append(r.name)
            if not first_props and rev_props:
                first_props = rev_props
        first_props.setdefault("title", renderer_id)
        if with_points:
            first_props["revs_with_datapoints"] = with_points
        renderer: Renderer
        if is_image:
            renderer = ImageRenderer(images, renderer_id, **first_props)
        else:
            renderer = _written_vega()([], renderer_id, **first_props)
            removes, joined = _source_update(renderer)
            jobs = []
            for p in points:
                sets = p.sets
                if joined:
                    sets = [*sets, (_j(joined), "const", _j(f"{p.filename}::{p.field}"), None)]
                jobs.append((p.table, sets, removes))
            pending.append((renderer, jobs))
        rendered.append(Rendered(renderer, src_errors, def_errors))
    # every plot's datapoints written at once, the engine's threads sharing them
    written = RawPoints.render_many([jobs for _r, jobs in pending])
    for (renderer, _jobs), raw in zip(pending, written, strict=True):
        renderer.datapoints = raw
    return rendered


def _source_update(renderer: Renderer) -> tuple[list[str], str | None]:
    """What dvc-render's ``_update_datapoints`` does to every datapoint of
    ``renderer``: the keys it removes (JSON), and the key it first sets to
    ``filename::field`` if any. Only a template with optional anchors
    changes them: one y source loses both; several keep the one that
    varies, or join them when both do."""
    from dvc_render.vega import FIELD_SEPARATOR, OPTIONAL_ANCHORS

    if not any(renderer.template.has_anchor(a) for a in OPTIONAL_ANCHORS):
        return [], None
    both = [FILENAME, FIELD]
    y_definitions = renderer.properties.get("anchors_y_definitions", [])
    if len(y_definitions) <= 1:
        return [_j(k) for k in both], None
    varied = [k for k in both if len({d.get(k) for d in y_definitions}) > 1]
    if len(varied) == 2:
        return [_j(k) for k in both], FIELD_SEPARATOR.join(both)
    return [_j(k) for k in both if k not in varied], None


@cache
def _written_vega() -> type[Renderer]:
    """dvc-render's VegaRenderer over :class:`RawPoints`, written already
    as its ``_update_datapoints`` would leave them (:func:`_source_update`),
    its template filled in one pass (:class:`OnePassTemplate`)."""
    from dvc_render import VegaRenderer

    class WrittenVegaRenderer(VegaRenderer):  # type: ignore[misc]  # dvc-render is untyped
        def __init__(self, datapoints: list[Any], name: str, **properties: Any) -> None:
            super().__init__(datapoints, name, **properties)
            template: Any = self.__dict__["template"]
            self.template = OnePassTemplate(template)

        def _update_datapoints(self, varied_keys: list[str] | None = None) -> None:
            pass

    return WrittenVegaRenderer


class OnePassTemplate:
    """A dvc-render template whose anchors are filled in one pass over its
    content, when it is read, instead of one pass per anchor (fifteen per
    plot, each copying the whole spec): the same content, since no anchor
    is part of another. A value that holds an anchor's text itself (a
    field named ``<DVC_METRIC_X>``) is filled as dvc-render fills it, one
    anchor after the other; the datapoints are filled last and never looked
    into, by either."""

    def __init__(self, template: Any) -> None:
        self._template = template
        self._pending: dict[str, Any] = {}
        template.reset()
        self._original_anchors = _found_anchors(template.content)
        self._anchors = self._original_anchors

    def __getattr__(self, name: str) -> Any:
        return getattr(self._template, name)

    def reset(self) -> None:
        self._template.reset()
        self._pending = {}
        self._anchors = self._original_anchors

    def has_anchor(self, name: str) -> bool:
        anchor = self._template.anchor(name)
        return anchor in self._anchors and anchor not in self._pending

    def fill_anchor(self, name: str, value: Any) -> None:
        # filled once: dvc-render's second fill finds the anchor gone
        self._pending.setdefault(self._template.anchor(name), value)

    @property
    def content(self) -> dict[str, Any]:
        if self._pending:
            from dvc_render.vega_templates import dict_replace_value

            pending, self._pending = self._pending, {}
            data = self._template.anchor("data")
            if any(_mentions_anchor(v) for a, v in pending.items() if a != data):
                for anchor, value in pending.items():
                    self._template.content = dict_replace_value(
                        self._template.content, anchor, value
                    )
                self._anchors = _found_anchors(self._template.content)
            else:
                self._template.content = _fill(self._template.content, pending)
                self._anchors = self._anchors - pending.keys()
        return self._template.content  # type: ignore[no-any-return]


_ANCHOR_TEXT = "<DVC_METRIC_"


def _found_anchors(content: Any) -> set[str]:
    """The anchors dvc-render's ``find_value`` finds in ``content``: strings
    that are values of dicts, or items of lists that are such values."""
    found: set[str] = set()

    def walk(d: Any) -> None:
        if isinstance(d, dict):
            for v in d.values():
                if isinstance(v, dict):
                    walk(v)
                elif isinstance(v, str):
                    found.add(v)
                elif isinstance(v, list):
                    for e in v:
                        if isinstance(e, str):
                            found.add(e)
                        elif isinstance(e, dict):
                            walk(e)

    walk(content)
    return {v for v in found if v.startswith(_ANCHOR_TEXT)}


def _mentions_anchor(value: Any) -> bool:
    if isinstance(value, str):
        return _ANCHOR_TEXT in value
    if isinstance(value, dict):
        return any(map(_mentions_anchor, value)) or any(map(_mentions_anchor, value.values()))
    if isinstance(value, list | tuple):
        return any(map(_mentions_anchor, value))
    return False


def _fill(content: Any, values: dict[str, Any]) -> Any:
    """dvc-render's ``dict_replace_value`` of every anchor of ``values`` at
    once: a string that is an anchor becomes its value; an anchor inside a
    string is replaced by a text value, in the order they were filled."""
    if isinstance(content, dict):
        out = {}
        for k, v in content.items():
            if isinstance(v, dict | list):
                v = _fill(v, values)
            elif isinstance(v, str):
                if v in values:
                    out[k] = values[v]
                    continue
                if _ANCHOR_TEXT in v:
                    for anchor, value in values.items():
                        if anchor in v and isinstance(value, str):
                            v = v.replace(anchor, value)
            out[k] = v
        return out
    return [
        _fill(e, values)
        if isinstance(e, dict | list)
        else values[e]
        if isinstance(e, str) and e in values
        else e
        for e in content
    ]


def to_json(renderer: Renderer, split: bool = False) -> list[dict[str, Any]]:
    """dvc's ``to_json``: a Vega renderer's filled spec, or one entry per
    image. With ``split``, the spec's data stays out of it, beside it (what
    dvc's VS Code extension asks for)."""
    if renderer.TYPE == "vega":
        if not renderer.datapoints:
            return []
        revs = renderer.get_revs()
        if split:
            content, rest = renderer.get_partial_filled_template()
            return [{"type": "vega", "revisions": revs, "content": content, **rest}]
        content = renderer.get_filled_template()
        return [{"type": "vega", "revisions": revs, "content": content}]
    return [
        {"type": "image", "revisions": [d.get(REVISION)], "url": d.get(SRC)}
        for d in renderer.datapoints
    ]


def show_json(
    rendered: list[Rendered], errors: dict[str, BaseException], split: bool = False
) -> dict[str, Any]:
    """``plots show/diff --json``'s document: ``data`` per plot id and the
    ``errors`` met (left out when there are none, as dvc compacts it)."""
    all_errors: list[dict[str, Any]] = []
    data = {}
    for r in rendered:
        name = r.renderer.name
        data[name] = to_json(r.renderer, split)
        for rev, per_source in r.source_errors.items():
            for source, e in per_source.items():
                all_errors.append({"name": name, "rev": rev, "source": source, **_encode(e)})
        for rev, e in r.definition_errors.items():
            all_errors.append({"name": name, "rev": rev, **_encode(e)})
    all_errors.extend({"rev": rev, **_encode(e)} for rev, e in errors.items())
    doc: dict[str, Any] = {}
    if all_errors:
        doc["errors"] = all_errors
    if data:
        doc["data"] = data
    return doc


def _encode(e: BaseException | dict[str, str]) -> dict[str, str]:
    if isinstance(e, dict):
        return e
    return {"type": getattr(e, "json_type", type(e).__name__), "msg": str(e)}
