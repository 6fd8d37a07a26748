"""dvc.yaml's plots as dvc checks them, data files as dvc parses them, and
datapoints as dvc's Vega converter flattens them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dvc_render.vega_templates import TEMPLATES

from bale._core import PlotTable
from bale.exceptions import MetafileError
from bale.pipeline.dvcyaml import loads_dvcyaml
from bale.plots.collect import PlotFileTypeError, parse
from bale.plots.points import RawPoints
from bale.plots.render import FieldNotFoundError, OnePassTemplate, VegaConverter, _written_vega


def _load(text: str) -> None:
    loads_dvcyaml(text, Path("/r/dvc.yaml"), "dvc.yaml")


@pytest.mark.parametrize(
    "plots",
    [
        "  - loss.csv\n",
        "  - loss.csv:\n",
        "  - p:\n      x: {a.csv: step}\n      y: {a.csv: [l1, l2], b.csv: l}\n",
        "  - p:\n      y: [l1, l2]\n      template: linear\n      title: T\n",
    ],
)
def test_the_plot_definitions_dvc_accepts_load(plots: str) -> None:
    _load("plots:\n" + plots)


@pytest.mark.parametrize(
    ("plots", "message"),
    [
        ("  - p:\n      x: [a, b]\n", "plots[0].p.x: 'x' must be a field"),
        ("  - p:\n      x: {a.csv: [f]}\n", "'x' of a file must name its field(s)"),
        ("  - p:\n      colour: red\n", "unknown plot property 'colour'"),
        ("  - p:\n      title: 3\n", "'title' must be a string"),
        ("  - {a: 1, b: 2}\n", "a plot must be a path or a mapping of one id"),
        ("  loss.csv\n", "'plots' must be a list"),
    ],
)
def test_a_malformed_plot_is_one_line_naming_dvcyaml(plots: str, message: str) -> None:
    with pytest.raises(MetafileError) as e:
        _load("plots:\n" + plots)
    assert str(e.value).startswith("dvc.yaml: ")
    assert message in str(e.value) and "\n" not in str(e.value)


def _records(table: object) -> object:
    """A parsed file's records, as the Python objects dvc would hold."""
    assert isinstance(table, PlotTable)
    return json.loads(b"[" + RawPoints.render([(table, [], [])]).texts[0] + b"]")


def test_data_files_parse_as_dvc_parses_them() -> None:
    assert _records(parse("a.csv", b"x,y\n1,2\n")) == [{"x": "1", "y": "2"}]
    assert _records(parse("a.csv", b"1,2\n3,4\n", header=False)) == [
        {"0": "1", "1": "2"},
        {"0": "3", "1": "4"},
    ]
    assert _records(parse("a.tsv", b"x\ty\n1\t2\n")) == [{"x": "1", "y": "2"}]
    assert _records(parse("a.yaml", b"- {x: 1.5}\n")) == [{"x": 1.5}]
    assert _records(parse("a.json", b'{"t": [{"x": 1}]}')) == [{"x": 1}]
    # what the engine leaves to Python's csv: quotes, ragged rows
    assert _records(parse("q.csv", b'x,y\n"a,b",2\n')) == [{"x": "a,b", "y": "2"}]
    assert _records(parse("r.csv", b"x,y\n1\n3,4\n")) == [
        {"x": "1", "y": None},
        {"x": "3", "y": "4"},
    ]
    assert _records(parse("r.csv", b"x,y\n1,2,3\n")) == [{"x": "1", "y": "2", "null": ["3"]}]
    # records of different keys are no datapoints, for dvc either
    assert len(parse("r.csv", b"x,y\n1,2\n1,2,3\n")) == 0
    assert parse("a.png", b"\x89PNG") == b"\x89PNG"
    with pytest.raises(PlotFileTypeError, match=r"'a\.txt' - file type error: only JSON"):
        parse("a.txt", b"1")


def _flat(conv: VegaConverter) -> tuple[list[dict[str, object]], dict[str, object]]:
    points, props = conv.flat_datapoints("workspace")
    raw = RawPoints.render([(p.table, p.sets, []) for p in points])
    return json.loads(b"[" + b", ".join(raw.texts) + b"]"), props


def test_two_y_fields_share_one_inferred_field_and_x_defaults_to_the_step() -> None:
    data = {"a.json": parse("a.json", b'[{"l1": 1, "l2": 2}, {"l1": 3, "l2": 4}]')}
    assert isinstance(data["a.json"], PlotTable)
    points, props = _flat(VegaConverter("a.json", data, {"y": ["l1", "l2"]}))
    assert props["y"] == "dvc_inferred_y_value" and props["x"] == "step"
    assert props["y_label"] == "y" and props["x_label"] == "step"
    assert [(p["field"], p["step"], p["dvc_inferred_y_value"]) for p in points] == [
        ("l1", 0, 1),
        ("l1", 1, 3),
        ("l2", 0, 2),
        ("l2", 1, 4),
    ]
    with pytest.raises(FieldNotFoundError, match="'nope'"):
        VegaConverter("a.json", data, {"y": "nope"}).flat_datapoints("workspace")


@pytest.mark.parametrize("template", [t.DEFAULT_NAME for t in TEMPLATES])
@pytest.mark.parametrize(
    ("y", "title"),
    [("loss", "a plot"), ("<DVC_METRIC_X>", "<DVC_METRIC_Y_LABEL> of it"), ("a.b[0]", "t")],
)
def test_templates_filled_in_one_pass_are_dvc_renders(template: str, y: str, title: str) -> None:
    """The one-pass fill is dvc-render's, for every built-in template; a
    field or title holding an anchor's text is filled one anchor at a time."""
    from dvc_render import VegaRenderer

    points = [{"step": n, y: n / 2, "rev": r} for r in ("HEAD", "workspace") for n in range(3)]
    props = {
        "x": "step",
        "y": y,
        "title": title,
        "template": template,
        "revs_with_datapoints": ["HEAD", "workspace"],
        "anchors_y_definitions": [{"filename": "f.csv", "field": y}],
    }
    theirs = VegaRenderer([dict(p) for p in points], "f.csv", **props)
    ours = _written_vega()([dict(p) for p in points], "f.csv", **props)
    assert isinstance(ours.template, OnePassTemplate)
    assert ours.get_filled_template() == theirs.get_filled_template()
    assert ours.get_partial_filled_template() == theirs.get_partial_filled_template()
