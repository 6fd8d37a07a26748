"""Params files: loaders, key selection and change detection, checked against dvc's own code."""

from __future__ import annotations

import contextlib
import json
import math
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bale.exceptions import MetafileError
from bale.metafiles import yaml12
from bale.pipeline import params as P


def _dvc_load(path: Path) -> Any:
    from dvc.fs import LocalFileSystem
    from dvc.utils.serialize import load_path

    return load_path(str(path), LocalFileSystem())


def _dvc_read(path: Path, keys: list[str] | None, flatten: bool) -> Any:
    from dvc.dependency.param import read_param_file
    from dvc.fs import LocalFileSystem

    return read_param_file(LocalFileSystem(), str(path), keys, flatten=flatten)


def _same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down (NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


# -- loaders against dvc's LOADERS -------------------------------------------

YAML_DOC = """\
train:
  lr: 1e-3
  lr2: 0.001
  momentum: .9
  epochs: 10
  big: 1_000_000
  octal: 0o17
  leading_zero: 017
  hex: 0x1F
  bin: 0b101
  neg: -5
  inf: .inf
  ninf: -.Inf
  flag: true
  yes_is_str: yes
  off_is_str: off
  nothing: null
  tilde: ~
  empty:
  date: 2024-01-31
  stamp: 2001-12-14t21:59:43.10-05:00
  naive: 2001-12-14 21:59:43.1234567
  utc: 2002-12-14T01:02:03Z
  sexagesimal: 1:20
  layers: [64, 32, {drop: 0.5}]
  name: "quoted"
  eq_key:
    =: 1
  str_int: !!str 12
  float_tag: !!float "3"
  set: !!set {a, b}
  pairs: !!pairs [a: 1, a: 2]
  seqkey:
    ? [1, 2]
    : tuple key
base: &base {x: 1, y: 2}
derived:
  <<: *base
  y: 3
multi:
  <<: [{p: 1}, {p: 2, q: 3}]
  q: 4
"""

YAML_SCALARS = [
    "1e-3", "1.5", "1_000", "0o17", "017", "0x1F", "0b101", "-0b1", ".inf", "-.Inf", ".nan",
    "yes", "no", "on", "off", "y", "True", "TRUE", "tRue", "null", "~", "", "Null", "NULL",
    "2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10",
    "2002-12-14T01:02:03.9999999Z", "2001-1-1 1:00:00", "1:20", "12:30:00", "+12", "-.5", "1.",
    "._1", "_", "- _", "+1e5", "1E5", "0.", "-0", "0o", "1e", "1.2.3", "+.inf", "0x_1", "'1'",
    "!!str 1", "!!int '0o17'", "!!float '1'", "!!bool yes", "[1, 2]", "{a: 1}", "- 1\n- 2",
    "? [1,2]\n: 3", "!!set {a, b}", "!!binary aGVsbG8=", "\ufeffa: 1", "a: 1\n<<: {a: 2}\na: 3",
    "%YAML 1.1\n---\na: yes\nb: 017\nc: 1:20", "a: [1, 2]\nb: &x {c: 1}\nd: *x",
    "a: 'multi\n  line'", "a: |\n  block\n  text\n", "a: >\n  folded\n  text\n",
]  # fmt: skip

YAML_ERRORS = [
    "=",
    "a: 1\na: 2",
    "a: [1, 2",
    "a: b: c",
    "a: +_",
    "a: 0b_",
    "2001-13-45",
    "x: =",
    "x: <<",
    "a: !!python/tuple [1]",
    "a: 1\n---\nb: 2",
    "a:\n  <<: 1",
    "a:\n  <<: {x: 1}\n  <<: {y: 2}",
    "? {a: 1}\n: 2",
    "a: !!int foo",
]


def _ruamel(text: str) -> Any:
    from dvc.utils.serialize import parse_yaml

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return parse_yaml(text, "x.yaml")


@pytest.mark.parametrize("text", YAML_SCALARS)
def test_yaml_values_match_dvc(text: str) -> None:
    expected = _ruamel(text)
    assert _same(P.loads(text, "params.yaml"), expected)


@pytest.mark.parametrize("text", [t for t in YAML_SCALARS if not t.startswith("%")])
def test_yaml_fast_path_needs_no_fallback(text: str) -> None:
    # the PyYAML path alone must already give ruamel's values (the fallback is for errors)
    if text == "!!set {a, b}":
        return  # sets have no order to compare by, checked below
    assert _same(yaml12._load_fast(text) or {}, _ruamel(text))


def test_yaml_document_matches_dvc(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(YAML_DOC)
    ours = P.load_file(path)
    theirs = _dvc_load(path)
    assert ours["train"].pop("set") == theirs["train"].pop("set") == {"a", "b"}
    assert _same(ours, theirs)
    assert yaml12._load_fast(YAML_DOC)["train"]["lr"] == 0.001


@pytest.mark.parametrize("text", YAML_ERRORS)
def test_yaml_errors_where_dvc_fails(text: str) -> None:
    with pytest.raises(Exception):  # noqa: B017 - dvc raises several kinds
        _ruamel(text)
    with pytest.raises(MetafileError) as info:
        P.loads(text, "conf/params.yaml")
    message = str(info.value)
    assert message.startswith("conf/params.yaml: ")
    assert "\n" not in message


def test_yaml_error_has_position() -> None:
    with pytest.raises(MetafileError, match=r"^p\.yaml: line 2, column 1: found duplicate key"):
        P.loads("a: 1\na: 2\n", "p.yaml")
    with pytest.raises(MetafileError, match=r"^p\.yaml: line \d+, column \d+: "):
        P.loads("a: [1, 2\n", "p.yaml")


JSON_DOC = '{"a": {"b": [1, 2.5, null, true]}, "c": "x", "d": 1e400, "e": NaN, "a2": 1, "a2": 2}'

TOML_DOC = """\
title = "x"
int = 1_000
hex = 0xff
flt = 1e-3
inf = inf
b = true
dt = 1979-05-27T07:32:00-08:00
ldt = 1979-05-27T07:32:00.999999
d = 1979-05-27
t = 07:32:00
arr = [1, 2, [3, "a"]]
[tbl]
x = {a = 1}
[tbl.sub]
y = "z"
[[aot]]
y = 1
[[aot]]
y = 2
"""

PY_DOC = """\
import os
LR = 0.001
EPOCHS: int = 10
NAME = "model"
LAYERS = [1, 2, (3, 4)]
SHAPE = (1, 2)
TAGS = {"a"}
OPTS = {"x": 1, "y": [1, 2], 3: None}
NEG = -1
CPLX = 1 + 2j
BAD = os.getcwd()
A = B = 5
x, y = 1, 2
ANN_ONLY: int
self.z = 3
obj.w = 4
a.b.c = 5
SPREAD = {**OPTS}
LR = 0.002


class Train:
    lr = 0.1
    batch: int = 32
    skip = compute()

    class Inner:
        depth = 3

    def __init__(self):
        self.seed = 42
        self.model = Model()
        local = 1
        self.opt = {"name": "adam"}

    def other(self):
        self.hidden = 1


def __init__(self):
    self.top = True
"""


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("params.json", JSON_DOC),
        ("params.json", "[]"),
        ("params.json", "0"),
        ("params.json", "[1, 2]"),
        ("params.toml", TOML_DOC),
        ("params.toml", ""),
        ("params.py", PY_DOC),
        ("params.py", ""),
        ("PARAMS.JSON", '{"upper": 1}'),
        # dvc's suffix starts at the first dot: these are read as YAML
        ("params.prod.json", '{"a": 1, "b": [true, null]}'),
        ("my.params.toml", 'a = "x"\n'),
        (".hidden.json", '{"a": 1}'),
        ("params.py.bak", "a: 1\n"),
        ("noext", "a: 1\n"),
        ("params.yml", "a: 1\n"),
        ("params.yaml", ""),
        ("params.yaml", "0"),
        ("params.yaml", "[1, 2]"),
        ("params.yaml", "just a string"),
    ],
)
def test_loaders_match_dvc(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    ours = P.load_file(path, name)
    theirs = _dvc_load(path)
    assert _same(ours, theirs), (ours, theirs)


def test_toml_values_equal_tomlkits(tmp_path: Path) -> None:
    # tomllib and tomlkit name their time zones differently: the values are equal
    path = tmp_path / "params.toml"
    path.write_text(TOML_DOC)
    assert P.load_file(path) == _dvc_load(path)


def test_py_loader_takes_what_dvc_takes() -> None:
    data = P.loads(PY_DOC, "params.py")
    assert data == {
        "LR": 0.002,
        "EPOCHS": 10,
        "NAME": "model",
        "LAYERS": [1, 2, (3, 4)],
        "SHAPE": (1, 2),
        "TAGS": {"a"},
        "OPTS": {"x": 1, "y": [1, 2], 3: None},
        "NEG": -1,
        "CPLX": 1 + 2j,
        "z": 3,
        "Train": {
            "lr": 0.1,
            "batch": 32,
            "Inner": {"depth": 3},
            "seed": 42,
            "opt": {"name": "adam"},
        },
        "top": True,
    }


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("params.json", '{"a": 1,}', r"line 1, column 9: "),
        ("params.json", "{\n  'a': 1}", r"line 2, column 3: "),
        ("params.toml", "a = \n", r"line 1, column 5: "),
        ("params.toml", "[a]\nb = 1\n[a]\n", r"line \d+, column \d+: "),
        ("params.py", "def f(:\n", r"line 1, column \d+: "),
        ("params.py", "X = {[1]: 2}\n", r""),
    ],
)
def test_bad_files_give_one_line_errors(name: str, text: str, where: str) -> None:
    with pytest.raises(MetafileError, match=rf"^dir/{name.replace('.', '[.]')}: {where}") as info:
        P.loads(text, f"dir/{name}")
    assert "\n" not in str(info.value)


def test_load_file_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        P.load_file(tmp_path / "missing.yaml")
    bad = tmp_path / "params.yaml"
    bad.write_bytes(b"a: \xff\n")
    with pytest.raises(MetafileError, match=r"params\.yaml: is not valid utf-8"):
        P.load_file(bad, "params.yaml")
    with pytest.raises(MetafileError, match=r"^x\.json: is not valid utf-8$"):
        P.loads_bytes(b"\xff", "x.json")


def test_loads_bytes_reads_like_text_mode(tmp_path: Path) -> None:
    raw = b'a: "x\r\ny"\r\nb: |\r\n  one\r\n  two\r\n'
    (tmp_path / "p.yaml").write_bytes(raw)
    assert P.loads_bytes(raw, "p.yaml") == _dvc_load(tmp_path / "p.yaml")


def test_suffix() -> None:
    assert P.suffix("params.yaml") == ".yaml"
    assert P.suffix("dir.v1/params.prod.JSON") == ".prod.json"
    assert P.suffix("Makefile") == ""
    assert P.DEFAULT_PARAMS_FILE == "params.yaml"


# -- selecting keys: read_param_file ------------------------------------------

SELECT_DOC = """\
train:
  lr: 0.01
  layers: [64, 32, {drop: 0.5, act: relu}]
  opt: {name: adam, beta: [0.9, 0.99]}
prepare:
  split: 0.2
  seed: 1
"1": one-str
2: two-int
true: yes-bool
dotted.key: 5
nested:
  list:
    - {x: 1}
    - {x: 2, y: 3}
  "[abc]": glob-chars
"""

SELECT_KEYS = [
    "train.lr",
    "train",
    "train.layers",
    "train.layers.0",
    "train.layers.-1",
    "train.layers.2.drop",
    "train.layers.3",
    "train.layers.x",
    "train.opt.beta.1",
    "train.missing",
    "missing",
    "prepare",
    "1",
    "2",
    "True",
    "dotted.key",
    "dotted",
    ".train.lr",
    "train.lr.",
    "nested.list.1.y",
    "nested.list.*.y",
    "nested.[abc]",
    "train.l?",
    "pre*",
    "**.act",
    "",
    "/",
]


@pytest.fixture
def select_file(tmp_path: Path) -> tuple[Path, Any]:
    path = tmp_path / "params.yaml"
    path.write_text(SELECT_DOC)
    return path, P.load_file(path)


def _agree(ours: Callable[[], Any], theirs: Callable[[], Any]) -> Any:
    """Both give the same value, or dvc fails and bale raises MetafileError."""
    try:
        expected = theirs()
    except Exception:  # dvc fails in several ways (ValueError, TypeError...)
        with pytest.raises(MetafileError):
            ours()
        return None
    got = ours()
    assert got == expected
    assert json.dumps(got, default=str) == json.dumps(expected, default=str)  # same order
    return got


@pytest.mark.parametrize("key", SELECT_KEYS)
def test_select_matches_dvc(select_file: tuple[Path, Any], key: str) -> None:
    path, data = select_file
    _agree(lambda: P.select(data, [key]), lambda: _dvc_read(path, [key], flatten=True))


def test_select_many_keys_keeps_order(select_file: tuple[Path, Any]) -> None:
    path, data = select_file
    keys = ["prepare.seed", "train.lr", "missing", "nested.list.0.x"]
    ours = P.select(data, keys)
    assert ours == _dvc_read(path, keys, flatten=True)
    assert list(ours) == ["prepare.seed", "train.lr", "nested.list.0.x"]


@pytest.mark.parametrize("key", ["nested.list.*.x", "train.*", "*"])
def test_select_ambiguous_glob_is_an_error(select_file: tuple[Path, Any], key: str) -> None:
    path, data = select_file
    with pytest.raises(ValueError):
        _dvc_read(path, [key], flatten=True)
    with pytest.raises(MetafileError, match="more than one value"):
        P.select(data, [key])


def test_empty_key_is_an_error_like_dvc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dpath

    # dvc's plots modules switch empty keys on when imported (another test may
    # have); `repro` and `status` never import them.
    monkeypatch.setattr(dpath.options, "ALLOW_EMPTY_STRING_KEYS", False)
    path = tmp_path / "params.yaml"
    path.write_text('a: 1\nb:\n  "": 2\n')
    with pytest.raises(Exception):  # noqa: B017 - dpath's InvalidKeyName
        _dvc_read(path, ["a"], flatten=True)
    data = P.load_file(path)
    with pytest.raises(MetafileError):
        P.select(data, ["a"])
    assert P.select(data, ["/"]) == {"/": data}
    assert P.read_params(data, None) == data


TREE_KEYS = [
    ["train.lr"],
    ["train.lr", "prepare"],
    ["train.layers.1"],
    ["train.layers.1", "train.layers.0"],
    ["train.layers.2.drop", "train.opt.name"],
    ["train", "train.lr"],
    ["train.lr", "train"],
    ["nested.list.*.y"],
    ["nested.list.*.x"],
    ["**.x"],
    ["missing", "train.missing"],
    ["pre*", "train.l?"],
    ["1", "2", "True"],
    ["2"],
    ["prepare", "2"],
    ["nested.list.1"],
    ["train.opt.beta", "train.opt.beta"],
]


@pytest.mark.parametrize("keys", TREE_KEYS)
def test_select_tree_matches_dvc(select_file: tuple[Path, Any], keys: list[str]) -> None:
    path, data = select_file
    _agree(lambda: P.select_tree(data, keys), lambda: _dvc_read(path, keys, flatten=False))
    assert P.select_tree(data, []) is data


# -- ParamsDependency: get_hash and workspace_status --------------------------


@pytest.fixture(scope="module")
def dvc_stage(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from dvc.repo import Repo
    from dvc.stage import PipelineStage

    root = tmp_path_factory.mktemp("repo")
    repo = Repo.init(str(root), no_scm=True)
    return PipelineStage(repo, str(root / "dvc.yaml"), name="train")


STATUS_CASES: list[tuple[str, list[str], dict[str, Any]]] = [
    ("a: 1\nb: {c: 2}\n", ["a", "b.c"], {"a": 1, "b.c": 2}),
    ("a: 2\nb: {c: 2}\n", ["a", "b.c"], {"a": 1, "b.c": 2}),
    ("a: 1\n", ["a", "b.c"], {"a": 1, "b.c": 2}),
    ("a: 1\nb: {c: 2}\n", ["b.c", "a"], {"a": 1}),
    ("a: 1.0\nb: {c: true}\n", ["a", "b.c"], {"a": 1, "b.c": 1}),
    ("a: [1, 2]\n", ["a"], {"a": [1, 2]}),
    ("a: [1, 3]\n", ["a"], {"a": [1, 2]}),
    ("x: 1\ny: 2\nz: 3\n", [], {"w": 0, "y": 2, "z": 4}),
    ("x: 1\ny: {k: 2}\n", [], {"y": {"k": 2}, "x": 1}),
    ("x: .nan\n", ["x"], {"x": float("nan")}),
]


@pytest.mark.parametrize(("text", "keys", "recorded"), STATUS_CASES)
def test_changed_matches_workspace_status(
    dvc_stage: Any, text: str, keys: list[str], recorded: dict[str, Any]
) -> None:
    from dvc.dependency.param import ParamsDependency

    root = Path(dvc_stage.repo.root_dir)
    path = root / "params.yaml"
    path.write_text(text)
    dep = ParamsDependency(dvc_stage, str(path), keys)
    dep.fill_values(recorded)
    expected = dict(dep.workspace_status().get(str(dep), {}))

    actual = P.read_params(P.load_file(path), keys)
    ours = P.changed(recorded, actual, keys)
    assert ours == expected
    assert list(ours) == list(expected)


def test_changed_tuple_equals_recorded_list(dvc_stage: Any) -> None:
    from dvc.dependency.param import ParamsDependency

    path = Path(dvc_stage.repo.root_dir) / "params.py"
    path.write_text("SHAPE = (1, 2)\nOTHER = (3,)\n")
    recorded = {"SHAPE": [1, 2], "OTHER": [4]}
    dep = ParamsDependency(dvc_stage, str(path), ["SHAPE", "OTHER"])
    dep.fill_values(recorded)
    expected = dict(dep.workspace_status()[str(dep)])
    actual = P.read_params(P.load_file(path), ["SHAPE", "OTHER"])
    assert P.changed(recorded, actual, ["SHAPE", "OTHER"]) == expected == {"OTHER": "modified"}


def test_lock_values_like_get_hash(dvc_stage: Any) -> None:
    from dvc.dependency.param import MissingParamsError, ParamsDependency

    path = Path(dvc_stage.repo.root_dir) / "params.yaml"
    path.write_text("a: 1\nb: {c: [1, 2]}\n")
    data = P.load_file(path)
    for keys in (["a", "b.c"], []):
        dep = ParamsDependency(dvc_stage, str(path), keys)
        assert P.lock_values(data, keys, "params.yaml") == dep.get_hash().value
    dep = ParamsDependency(dvc_stage, str(path), ["a", "zz"])
    with pytest.raises(MissingParamsError, match="Parameters 'zz' are missing from"):
        dep.get_hash()
    with pytest.raises(
        MetafileError, match=r"^Parameters 'zz, b\.x' are missing from 'params\.yaml'\.$"
    ):
        P.lock_values(data, ["a", "zz", "b.x"], "params.yaml")


# -- flatten -----------------------------------------------------------------


def test_flatten_like_dvc() -> None:
    from dvc.utils.flatten import flatten as dvc_flatten

    data = {"a": {"b": 1, "c": {"d": [1, {"e": 2}]}, "empty": {}}, "f": None, "g": []}
    assert (
        P.flatten(data)
        == dvc_flatten(data)
        == {"a.b": 1, "a.c.d": [1, {"e": 2}], "f": None, "g": []}
    )
    assert P.flatten({"a": {"b": 1}}, "pre") == {"pre.a.b": 1}
    assert P.flatten({1: {2: "x"}}) == {"1.2": "x"}
    with pytest.raises(MetafileError, match=r"duplicated key 'a\.b'"):
        P.flatten({"a.b": 1, "a": {"b": 2}})
    with pytest.raises(TypeError):
        P.flatten([1, 2])  # type: ignore[arg-type]


# -- property: dumped documents load back, and agree with dvc -----------------

_keys = st.text(
    st.characters(codec="utf-8", categories=["L", "N"], include_characters="_-"),
    min_size=1,
    max_size=8,
)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=12,
)
_docs = st.dictionaries(_keys, _values, min_size=1, max_size=6)


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value if v is not None]
    return value


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=_docs)
def test_roundtrip_and_agreement(tmp_path: Path, doc: dict[str, Any]) -> None:
    import tomlkit
    import yaml
    from dvc.utils.flatten import flatten as dvc_flatten
    from ruamel.yaml import YAML

    texts = {
        "params.json": json.dumps(doc),
        "params.yaml": yaml.safe_dump(doc, allow_unicode=True),
    }
    ruamel_text = __import__("io").StringIO()
    YAML(typ="safe", pure=True).dump(doc, ruamel_text)
    texts["params2.yaml"] = ruamel_text.getvalue()
    toml_doc = _without_nulls(doc)  # TOML has no null
    with contextlib.suppress(Exception):  # tomlkit cannot write every shape (lists of tables)
        texts["params.toml"] = tomlkit.dumps(toml_doc)

    for name, text in texts.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        try:
            theirs = _dvc_load(path)
        except Exception:  # ruamel's dumper writes some strings it cannot read back
            with pytest.raises(MetafileError):
                P.load_file(path, name)
            continue
        ours = P.load_file(path, name)
        assert _same(ours, theirs), (name, text)
        if name == "params.json":
            assert _same(ours, doc)
        elif name == "params.toml":  # TOML writes tables after plain values
            assert _same(_sorted(ours), _sorted(toml_doc))
        # (the YAML dumpers sort keys, and quote YAML 1.1 / 1.2 look-alikes differently)

        try:
            flat = P.flatten(ours)
        except MetafileError:
            with pytest.raises(ValueError):
                dvc_flatten(ours)
            continue
        if all(isinstance(k, str) for k in ours):
            assert flat == dvc_flatten(ours)
        keys = [*dict.fromkeys(k.split(".")[0] for k in flat), "nope"]
        deep = [k for k in flat if "." in k][:3]
        wanted = [*keys, *deep]
        _agree(partial(P.select, ours, wanted), partial(_dvc_read, path, wanted, True))
        if deep:
            _agree(partial(P.select_tree, ours, deep), partial(_dvc_read, path, deep, False))
