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
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from itertools import repeat
from typing import TYPE_CHECKING, Any

from bale.console import warn
from bale.exceptions import BaleError

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


def _lists(blob: Any) -> Iterator[list[Any]]:
    """The lists in a data file, where dvc looks for datapoints."""
    if isinstance(blob, list):
        yield blob
    elif isinstance(blob, dict):
        for value in blob.values():
            if isinstance(value, dict):
                yield from _lists(value)
            elif isinstance(value, list):
                yield value


def _file_field(*axes: dict[str, Any] | None) -> Iterator[tuple[str, str]]:
    for axis in axes:
        for file, val in (axis or {}).items():
            if isinstance(val, str):
                yield file, val
            elif isinstance(val, list):
                for f in val:
                    yield file, f


def _is_datapoints(lst: list[Any]) -> bool:
    """Whether every item is a mapping with the first one's keys."""
    if not lst or not all(map(isinstance, lst, repeat(dict))):
        return False
    return set(lst[0]) == set().union(*lst)


def datapoints(content: Any) -> list[dict[str, Any]]:
    """dvc's ``get_datapoints``: the lists of records in ``content``,
    merged by position. With one such list, that very list (its records
    are not copied: callers copy before they change one)."""
    found = [lst for lst in _lists(content) if _is_datapoints(lst)]
    if len(found) == 1:
        return found[0]
    result: list[dict[str, Any]] = []
    for lst in found:
        for i, point in enumerate(lst):
            if len(result) <= i:
                result.append({})
            result[i].update(point)
    return result


def _verify_field(by_file: dict[str, list[dict[str, Any]]], file: str, name: str) -> None:
    if by_file.get(file) and name not in by_file[file][0]:
        found = ", ".join(by_file[file][0])
        raise FieldNotFoundError(
            f"Could not find provided field ('{name}') in data fields ('{found}')."
        )


def _axis(
    props: dict[str, Any], axis: str, by_file: dict[str, list[dict[str, Any]]]
) -> list[tuple[str, str]]:
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


@dataclass
class VegaConverter:
    """dvc's ``VegaConverter``: a plot's data files (``{file: content}``)
    and properties, turned into flat datapoints with ``x``/``y`` filled in."""

    plot_id: str
    data: dict[str, Any]
    properties: dict[str, Any]

    def _infer_y(self) -> dict[str, str] | None:
        for lst in _lists(self.data.get(self.plot_id)):
            if lst and all(isinstance(item, dict) for item in lst):
                return {self.plot_id: list(lst[0])[-1]}  # the last field, as dvc picks it
        return None

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

    def convert(self) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
        props = self.properties | self._infer_x_y()
        props["y_label"] = _label(props, "y")
        props["x_label"] = _label(props, "x")
        return {f: datapoints(c) for f, c in self.data.items()}, props

    def flat_datapoints(
        self, rev: str, drop: bool | None = False
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The datapoints of revision ``rev``, and the renderer's properties.
        With ``drop``, without the ``filename`` and ``field`` that
        dvc-render removes again from a plot of one y source whose template
        has optional anchors (None: when this revision has one y source)."""
        by_file, props = self.convert()
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
        if drop is None:
            drop = len(ys) <= 1
        points: list[dict[str, Any]] = []
        for i, (y_file, y_field) in enumerate(ys):
            if len(xs) > 1:
                x_file, x_field = xs[i]
            rows = by_file.get(y_file, [])
            const = {REVISION: rev, FILENAME: short(y_file), FIELD: y_field}
            if drop:
                del const[FILENAME], const[FIELD]
                if not _SOURCE_KEYS.isdisjoint(set().union(*rows)):
                    raise _OwnSourceKeys
            x_name = _INFERRED_X if many_x else x_field
            by_index = x_field == INDEX and x_file is None
            same_x = x_file == y_file and x_name == x_field
            if update["y"] != _INFERRED_Y and (by_index or same_x):
                # The common cases, one dict display a datapoint: the position
                # as x, or x from the same records (copying it changes nothing).
                if by_index:
                    points.extend({**d, INDEX: n, **const} for n, d in enumerate(rows))
                else:
                    points.extend(map(const.__ror__, rows))  # d | const, each
                continue
            these = [dict(d) for d in rows]
            if update["y"] == _INFERRED_Y:
                _copy_field(these, _INFERRED_Y, these, y_field)
            if by_index:
                for n, d in enumerate(these):
                    d[INDEX] = n
            elif not _copy_field(these, x_name, by_file.get(x_file or "", []), x_field):
                raise PlotDataError(
                    f"Cannot join '{x_field}' from '{x_file}' and "
                    f"'{y_field}' from '{y_file}'. They have to have same length."
                )
            for d in these:
                d.update(const)
            points.extend(these)
        if not points:
            return [], {}
        return points, props | update


_SOURCE_KEYS = frozenset({FILENAME, FIELD})


class _OwnSourceKeys(Exception):
    """Records with a field named as dvc-render's ``filename`` or ``field``:
    built as dvc builds them, for dvc-render to remove."""


def _copy_field(
    target: list[dict[str, Any]], name: str, source: list[dict[str, Any]], source_name: str
) -> bool:
    """Sets ``name`` on each target datapoint from the same position of
    ``source``; False when their lengths differ (nothing is changed then)."""
    if len(source) != len(target):
        return False
    for d, s in zip(target, source, strict=True):
        if source_name in s:
            d[name] = s[source_name]
    return True


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
    from dvc_render import ImageRenderer, VegaRenderer

    revs = list(revisions)
    groups: dict[str, list[tuple[Revision, str, dict[str, Any]]]] = {}
    for r in revs:
        for pid, (inner, definition) in _group(r.definitions).items():
            groups.setdefault(pid, []).append((r, inner, definition))
    rendered = []
    for pid, group in groups.items():
        props: dict[str, Any] = {}
        for _r, _inner, definition in reversed(group):  # the first revision's props win
            props = props | definition
        if out is not None:
            props["out"] = out
        if templates_dir is not None:
            props["template_dir"] = templates_dir
        points: list[dict[str, Any]] = []
        first_props: dict[str, Any] = {}
        with_points: list[str] = []
        src_errors: dict[str, dict[str, BaseException | dict[str, str]]] = {}
        def_errors: dict[str, BaseException] = {}
        is_image = False
        renderer_id = pid
        drop: bool | None = None if _sheds_sources(group[0][1], props) else False
        for r, inner, definition in group:
            sources = data_sources(inner, definition)
            data = {s: r.sources[s] for s in sources if r.sources.get(s)}
            is_image = ImageRenderer.matches(inner, None)
            renderer_id = inner if is_image else pid
            converter: VegaConverter | ImageConverter = (
                ImageConverter(inner, data, props)
                if is_image
                else VegaConverter(inner, data, props)
            )
            for s in sources:
                if s in r.errors:
                    src_errors.setdefault(r.name, {})[s] = r.errors[s]
            try:
                if isinstance(converter, VegaConverter):
                    try:
                        dps, rev_props = converter.flat_datapoints(r.name, drop)
                    except _OwnSourceKeys:
                        # built as dvc builds them; dvc-render then removes
                        # them from every revision's datapoints
                        drop = False
                        dps, rev_props = converter.flat_datapoints(r.name)
                else:
                    dps, rev_props = converter.flat_datapoints(r.name)
            except PlotDataError as e:
                warn(f"In {r.name!r}, {str(e).lower()}")
                def_errors[r.name] = e
                continue
            if dps and r.name not in with_points:
                with_points.append(r.name)
            if not first_props and rev_props:
                first_props = rev_props
                if drop is None:  # decided by the first revision with datapoints, as dvc-render
                    drop = len(first_props.get("anchors_y_definitions", [])) <= 1
            points.extend(dps)
        first_props.setdefault("title", renderer_id)
        if with_points:
            first_props["revs_with_datapoints"] = with_points
        cls = ImageRenderer if is_image else _shaped_vega() if drop else VegaRenderer
        rendered.append(Rendered(cls(points, renderer_id, **first_props), src_errors, def_errors))
    return rendered


def _sheds_sources(plot: str, props: dict[str, Any]) -> bool:
    """Whether dvc-render removes ``filename`` and ``field`` from the
    datapoints of a plot with one y source: its template has optional
    anchors. Those are then never added (millions of dicts, two keys
    each); False for an image, or a template that cannot be read (the
    renderer says why, as before)."""
    from dvc_render import ImageRenderer
    from dvc_render.exceptions import DvcRenderError
    from dvc_render.vega import OPTIONAL_ANCHORS
    from dvc_render.vega_templates import get_template

    if ImageRenderer.matches(plot, None):
        return False
    try:
        template = get_template(props.get("template"), props.get("template_dir"))
    except (DvcRenderError, OSError, ValueError):
        return False
    return any(template.has_anchor(a) for a in OPTIONAL_ANCHORS)


@cache
def _shaped_vega() -> type[Renderer]:
    """dvc-render's VegaRenderer over datapoints already without the
    ``filename`` and ``field`` it would remove (see :func:`_sheds_sources`)."""
    from dvc_render import VegaRenderer

    class ShapedVegaRenderer(VegaRenderer):  # type: ignore[misc]  # dvc-render is untyped
        def _update_datapoints(self, varied_keys: list[str] | None = None) -> None:
            pass

    return ShapedVegaRenderer


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
