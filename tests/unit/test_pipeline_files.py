"""dvc.lock text, run-cache keys and the pipeline graph, against dvc's own
functions where dvc has them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bale.exceptions import MetafileError
from bale.pipeline import lockfile, runcache
from bale.pipeline.graph import Graph, Node

names = st.text("abcdefghij_/.", min_size=1, max_size=12).filter(lambda s: not s.startswith("/"))
scalars = st.one_of(
    st.integers(-1000, 1000),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.text("abc xyz-_.", max_size=8),
    st.none(),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def items(draw: Any) -> dict[str, Any]:
    return lockfile.item(
        draw(names),
        draw(st.text("0123456789abcdef", min_size=32, max_size=32)),
        draw(st.integers(0, 10**9)),
        draw(st.one_of(st.none(), st.integers(1, 10**5))),
        draw(st.booleans()),
    )


@st.composite
def entries(draw: Any) -> dict[str, Any]:
    params = draw(
        st.dictionaries(
            st.sampled_from(["params.yaml", "other.json", "a.toml"]),
            st.dictionaries(names, values, max_size=3),
            max_size=2,
        )
    )
    return lockfile.entry(
        draw(st.one_of(names, st.lists(names, min_size=1, max_size=2))),
        draw(st.lists(items(), max_size=3, unique_by=lambda i: i["path"])),
        params,
        draw(st.lists(items(), max_size=3, unique_by=lambda i: i["path"])),
    )


@settings(max_examples=80, deadline=None)
@given(st.dictionaries(st.text("abcxyz@-", min_size=1, max_size=6), entries(), max_size=3))
def test_lock_text_is_what_dvc_dumps(stages: dict[str, Any]) -> None:
    from dvc.schema import COMPILED_LOCKFILE_SCHEMA
    from dvc.utils.serialize import dumps_yaml, loads_yaml

    ours = lockfile.dumps_lock(None, stages)
    assert ours == dumps_yaml({"schema": "2.0", "stages": stages})
    COMPILED_LOCKFILE_SCHEMA(loads_yaml(ours))
    assert lockfile.loads_lock(ours, "dvc.lock") == stages


@settings(max_examples=80, deadline=None)
@given(entries())
def test_run_cache_names_are_dvcs(entry: dict[str, Any]) -> None:
    from dvc.stage.cache import _get_cache_hash

    assert runcache.value_of(entry) == _get_cache_hash(copy.deepcopy(entry))
    assert runcache.key_of(entry) == _get_cache_hash(copy.deepcopy(entry), key=True)


def test_lock_update_keeps_other_entries_and_comments(tmp_path: Path) -> None:
    lock = tmp_path / "dvc.lock"
    first = lockfile.entry("a", [], {}, [lockfile.item("o", "0" * 32, 1, None, False)])
    lockfile.dump_lock(lock, {"a": first})
    lock.write_text("# kept\n" + lock.read_text())
    second = lockfile.entry("b", [], {"params.yaml": {"x": 1}}, [])
    assert lockfile.dump_lock(lock, {"b": second})
    text = lock.read_text()
    assert text.startswith("# kept\n")
    assert lockfile.loads_lock(text, "dvc.lock") == {"a": first, "b": second}
    assert not lockfile.dump_lock(lock, {"b": second})  # unchanged: not rewritten


def _node(label: str, outs: list[str], deps: list[str]) -> Node:
    root = Path("/r")
    return Node(label, None, [root / o for o in outs], [root / d for d in deps])


def test_graph_joins_deps_inside_and_around_outputs() -> None:
    a = _node("a", ["data/dir"], [])
    b = _node("b", ["model"], ["data/dir/part.txt"])  # inside a's output
    c = _node("c", ["report"], ["data"])  # holds a's output
    g = Graph([c, b, a], Path("/r"))
    assert b.upstream == [a] and c.upstream == [a]
    assert [n.label for n in g.upstream_closure([c, b])] == ["a", "c", "b"]


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        ([("a", ["x"], ["y"]), ("b", ["y"], ["z"]), ("c", ["z"], ["x"])], "cycle"),
        ([("a", ["x"], []), ("b", ["x"], [])], "produced by both 'a' and 'b'"),
        ([("a", ["x"], []), ("b", ["x/y"], [])], "inside the output 'x' of 'a'"),
    ],
)
def test_graph_rejects(nodes: list[tuple[str, list[str], list[str]]], message: str) -> None:
    with pytest.raises(MetafileError, match=message):
        Graph([_node(*n) for n in nodes], Path("/r"))
