"""Property tests: a plot's spec, datapoints included, is the text dvc writes.

bale's engine reads plot data files and writes their datapoints' JSON itself
(no Python object per row). Random JSON and CSV files, read and rendered by
bale, must come out byte for byte as dvc 3.67.1's own converter and
dvc-render (in process, the oracle) write them: every float as Python's
``repr``, every string as ``json.dumps`` escapes it, keys in dict order, the
fields dvc adds and dvc-render removes.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bale.plots.collect import Revision, parse
from bale.plots.points import dump
from bale.plots.render import match_renderers

dvc_vega = pytest.importorskip("dvc.render.converter.vega", reason="dvc is the oracle")

KEYS = ["step", "loss", "acc", "rev", "filename", "field", "é"]

# Strings with what JSON escapes: quotes, controls, non-ASCII, astral
# characters and lone surrogates (Python holds them; json.dumps writes them).
_text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"), st.sampled_from(['"', "\\", "\n", "\x7f", "\ud800"])
    ),
    max_size=6,
)
_float = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e6, max_value=1e6).map(lambda x: round(x, 6)),
    st.integers(-(2**62), 2**62).map(lambda n: n / 4),
)
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(10**30), 10**30), _float, _text)
_value = st.recursive(
    _scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def _records(draw: st.DrawFn) -> list[dict[str, Any]]:
    keys = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=4, unique=True))
    n = draw(st.integers(1, 5))
    return [{k: draw(_value) for k in keys} for _ in range(n)]


@st.composite
def _document(draw: st.DrawFn) -> Any:
    """A list of records, or objects holding lists of them (merged by position)."""
    if draw(st.booleans()):
        return draw(_records())
    return {f"l{i}": draw(_records()) for i in range(draw(st.integers(1, 3)))}


def _props(draw: st.DrawFn, fields: list[str]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    if draw(st.booleans()):
        props["x"] = draw(st.sampled_from(fields))
    y = draw(
        st.one_of(
            st.none(),
            st.sampled_from(fields),
            st.lists(st.sampled_from(fields), min_size=1, max_size=3, unique=True),
        )
    )
    if y is not None:
        props["y"] = y
    if draw(st.booleans()):
        props["template"] = draw(st.sampled_from(["linear", "simple", "scatter", "bar_horizontal"]))
    return props


def _dvc_spec(plot_id: str, content: Any, props: dict[str, Any]) -> str:
    """What dvc writes: its converter, then dvc-render's filled template."""
    from dvc_render import VegaRenderer

    points, rev_props = dvc_vega.VegaConverter(plot_id, {plot_id: content}, props).flat_datapoints(
        "workspace"
    )
    rev_props.setdefault("title", plot_id)
    rev_props["revs_with_datapoints"] = ["workspace"]
    return json.dumps(VegaRenderer(points, plot_id, **rev_props).get_filled_template())


def _bale_spec(plot_id: str, data: bytes, props: dict[str, Any]) -> str:
    rev = Revision("workspace", {"dvc.yaml": {plot_id: props}}, {plot_id: parse(plot_id, data)})
    (rendered,) = match_renderers([rev])
    assert not rendered.definition_errors
    return b"".join(dump(rendered.renderer.get_filled_template())).decode()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_json_plots_are_written_as_dvc_writes_them(data: st.DataObject) -> None:
    doc = data.draw(_document())
    records = doc if isinstance(doc, list) else [r for lst in doc.values() for r in lst]
    fields = list(dict.fromkeys(k for r in records for k in r))
    props = _props(data.draw, fields)
    text = json.dumps(doc, ensure_ascii=data.draw(st.booleans()))
    if not text.isascii() and "\ud800" in text:
        text = json.dumps(doc)  # a lone surrogate has no UTF-8: written escaped
    try:
        expected = _dvc_spec("a.json", json.loads(text), props)
    except dvc_vega.FieldNotFoundError:
        return  # a field not in the first record: an error in both (tested elsewhere)
    assert _bale_spec("a.json", text.encode(), props) == expected


_cell = st.text(alphabet=st.characters(codec="utf-8", exclude_characters='\r\n",\x00'), max_size=5)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_csv_plots_are_written_as_dvc_writes_them(data: st.DataObject) -> None:
    names = data.draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=4))
    rows = data.draw(
        st.lists(st.lists(_cell, min_size=len(names), max_size=len(names)), max_size=5)
    )
    newline = data.draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(",".join(r) for r in [names, *rows]) + newline
    content = list(csv.DictReader(io.StringIO(text, newline=None)))
    if not content:
        return
    props = _props(data.draw, list(dict.fromkeys(names)))
    try:
        expected = _dvc_spec("a.csv", content, props)
    except dvc_vega.FieldNotFoundError:
        return
    assert _bale_spec("a.csv", text.encode(), props) == expected
