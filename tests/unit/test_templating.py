"""``dvc.yaml`` templating, checked against dvc's own ``DataResolver`` on the same files."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bale.exceptions import MetafileError
from bale.metafiles.yaml12 import parse as parse_yaml
from bale.pipeline.templating import interpolates, resolve_stages

Files = dict[str, str]


class Oracle:
    """One dvc repository whose files are rewritten for every case."""

    def __init__(self, root: Path, config: str = "") -> None:
        from dvc.repo import Repo

        self.root = root
        Repo.init(str(root), no_scm=True)
        with (root / ".dvc" / "config").open("a") as f:
            f.write(config)
        self.repo = Repo(str(root))

    def write(self, files: Files) -> None:
        for child in self.root.iterdir():
            if child.name != ".dvc":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        for name, text in files.items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)

    def dvc(self, files: Files | None, sub: str = "", data: Any = None) -> list[tuple[str, Any]]:
        """dvc's expansion of ``data``, or else of the files' dvc.yaml; raises whatever dvc
        raises. ``files=None`` keeps the files already written."""
        from dvc.parsing import DataResolver
        from dvc.utils.serialize import parse_yaml as dvc_parse_yaml

        if files is not None:
            self.write(files)
        if data is None:
            assert files is not None
            data = dvc_parse_yaml(files[f"{sub}dvc.yaml"], "dvc.yaml")
        resolver = DataResolver(self.repo, str(self.root / sub), copy.deepcopy(data))
        return list((resolver.resolve()["stages"] or {}).items())

    def bale(
        self, files: Files | None, sub: str = "", data: Any = None, **kwargs: Any
    ) -> list[tuple[str, Any]]:
        if files is not None:
            self.write(files)
        base = self.root / sub

        def load(rel: str) -> Any:
            text = (base / rel).read_text()
            return json.loads(text) if rel.endswith(".json") else parse_yaml(text, rel)

        if data is None:
            assert files is not None
            data = parse_yaml(files[f"{sub}dvc.yaml"], "dvc.yaml")
        return resolve_stages(data, where=f"{sub}dvc.yaml", load=load, **kwargs)

    def check(self, files: Files, sub: str = "") -> list[tuple[str, Any]]:
        expected = self.dvc(files, sub)
        got = self.bale(files, sub)
        # repr, not ==: 1, 1.0 and True are equal in Python but not in a pipeline
        assert repr(got) == repr(expected)
        return got


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Oracle]:
    yield Oracle(tmp_path_factory.mktemp("repo"))


def _y(text: str) -> str:
    return text.strip("\n") + "\n"


CASES: dict[str, Files] = {
    "types": {
        "dvc.yaml": _y("""
vars:
- {n: 3, f: 0.5, b: true, s: hello, z: null, nested: {a: [1, {deep: x}]}}
stages:
  train:
    cmd: python train.py ${n} ${f} ${b} ${s} ${z} ${nested.a[1].deep} ${nested[a][0]}
    desc: ${n}
    frozen: ${b}
    meta: {f: '${f}', z: '${z}', list: ['${nested.a[0]}', '${ s }']}
    always_changed: false
"""),
    },
    "brackets-spaces-negative": {
        "dvc.yaml": _y("""
vars:
- l: [a, b, c]
  d: {k: {j: [0, 1]}}
stages:
  s:
    cmd: echo ${l[-1]} ${ l . 0 } ${d[k] .j[1]} ${l.1}
"""),
    },
    "escapes": {
        "dvc.yaml": _y(r"""
vars:
- x: 1
  esc: 'a\${b}'
stages:
  s:
    cmd: echo \${x} ${x} \\${x} ${esc}
    desc: \${x}
    outs: ['\${x}', '${x}\${x}']
"""),
    },
    "cmd-dict-as-cli": {
        "dvc.yaml": _y("""
vars:
- args:
    lr: 0.001
    layers: [64, 32]
    names: [a b, "it's", true]
    opt: {name: adam, amsgrad: false, nesterov: true, eps: 1.0e-08}
    empty: {}
    none: null
    text: two words
stages:
  s:
    cmd: python train.py ${args}
  whole:
    cmd: ${args}
  listed:
    cmd: ['${args.opt}', 'echo ${args.opt}']
"""),
    },
    "keys-interpolated": {
        "dvc.yaml": _y("""
vars:
- out: model.pkl
  pfile: other.yaml
  n: 4
stages:
  s:
    cmd: echo
    outs:
    - ${out}:
        cache: false
    - data/${n}.csv
    params:
    - ${pfile}: [a, b]
    - lr
    meta:
      ${n}: ${n}
"""),
    },
    "default-params-and-vars-files": {
        "params.yaml": "lr: 0.1\nmodel: {name: cnn, layers: 3}\n",
        "other.yaml": "model: {dropout: 0.5}\nunused: 1\nepochs: 10\n",
        "conf.json": '{"seed": 42, "flags": {"fast": true}}',
        "dvc.yaml": _y("""
vars:
- other.yaml:model,epochs
- conf.json
- {extra: {x: 1}}
- params.yaml
stages:
  s:
    cmd: run ${lr} ${model.name} ${model.dropout} ${epochs} ${seed} ${flags.fast} ${extra.x}
"""),
    },
    "partial-loads-disjoint": {
        "p.yaml": "a: 1\nb: 2\nc: 3\n",
        "dvc.yaml": _y("""
vars: [p.yaml:a, 'p.yaml:b,']
stages:
  s:
    cmd: echo ${a} ${b} ${c}
    vars: [p.yaml:c]
  t:
    cmd: echo ${a}
    vars: [p.yaml:c]
"""),
    },
    "empty-vars-file": {
        "p.yaml": "",
        "dvc.yaml": "vars: [p.yaml]\nstages:\n  s:\n    cmd: echo\n",
    },
    "stage-vars-and-wdir": {
        "params.yaml": "top: 1\n",
        "sub/local.yaml": "here: 2\n",
        "shared.yaml": "there: 3\n",
        "dvc.yaml": _y("""
vars: [{dir: sub}]
stages:
  a:
    wdir: ${dir}
    vars: [local.yaml, ../shared.yaml, {inline: 4}]
    cmd: echo ${top} ${here} ${there} ${inline}
    deps: [local.yaml]
  b:
    cmd: echo ${top}
"""),
    },
    "stage-vars-repeat-whole-file": {
        "params.yaml": "a: 1\n",
        "dvc.yaml": "stages:\n  s:\n    cmd: echo ${a}\n    vars: [params.yaml, params.yaml]\n",
    },
    "foreach-list": {
        "dvc.yaml": _y("""
stages:
  build:
    foreach: [small, 1, 2.5, true, null]
    do:
      cmd: make ${item}
      outs: ['out/${item}']
"""),
    },
    "foreach-list-of-dicts-uses-index": {
        "dvc.yaml": _y("""
stages:
  train:
    foreach:
    - {name: a, lr: 0.1}
    - {name: b, lr: 0.2}
    - 3
    do:
      cmd: train ${item}
"""),
    },
    "foreach-dict": {
        "dvc.yaml": _y("""
stages:
  s:
    foreach:
      us: {size: 1}
      eu: {size: 2}
    do:
      cmd: echo ${key} ${item.size}
      desc: ${item.size}
"""),
    },
    "foreach-literal-dict-nonstring-keys": {
        "dvc.yaml": _y("""
stages:
  s:
    foreach: {1: a, 2.5: b, null: c, false: d}
    do:
      cmd: echo ${key} ${item}
"""),
    },
    "foreach-ref": {
        "params.yaml": _y("""
flags: [true, false]
sizes: [1, 2]
regions: {us: 1, eu: {x: 2}, 3: dropped}
"""),
        "dvc.yaml": _y("""
stages:
  f:
    foreach: ${flags}
    do:
      cmd: echo ${item}
  g:
    foreach: ${sizes}
    do:
      cmd: echo ${item}
  r:
    foreach: ${regions}
    do:
      cmd: echo ${key} ${item}
  mixed:
    foreach: ['${flags[0]}', false, '${regions.eu}']
    do:
      cmd: echo ${item}
  embedded:
    foreach: ['x ${sizes}', 'y ${regions.eu}']
    do:
      cmd: echo ${item}
"""),
    },
    "foreach-duplicates-collapse": {
        "dvc.yaml": _y("""
stages:
  s:
    foreach: [a, a, b, 1, '1']
    do:
      cmd: echo ${item}
"""),
    },
    "foreach-shadows-item-and-keeps-key": {
        "dvc.yaml": _y("""
vars: [{item: global, key: k}]
stages:
  s:
    foreach: [x]
    do:
      cmd: echo ${item} ${key}
  t:
    cmd: echo ${item}
"""),
    },
    "foreach-stage-vars-and-wdir": {
        "a/p.yaml": "v: 1\n",
        "b/p.yaml": "v: 2\n",
        "dvc.yaml": _y("""
stages:
  s:
    foreach: [a, b]
    do:
      wdir: ${item}
      vars: [p.yaml, {local: 1}]
      cmd: echo ${v} ${local}
"""),
    },
    "nested-foreach-key-allows-lists": {
        "dvc.yaml": _y("""
vars: [{l: [1, 2]}]
stages:
  s:
    foreach: [a]
    do:
      cmd: echo ${item}
      foreach: ${l}
"""),
    },
    "foreach-empty": {
        "dvc.yaml": _y("""
stages:
  s:
    foreach: []
    do:
      cmd: echo ${}
  t:
    cmd: x
"""),
    },
    "matrix": {
        "params.yaml": "opts: [adam, sgd]\nflags: [true]\nd: {k1: 1, k2: 2}\n",
        "dvc.yaml": _y("""
stages:
  grid:
    matrix:
      lr: [0.1, 0.01]
      opt: ${opts}
      cfg: [{a: 1}, [2], plain]
    cmd: train --lr ${item.lr} --opt ${item.opt} ${key}
    outs: ['m-${item.lr}-${item.opt}.pkl']
  quirks:
    matrix:
      flag: ${flags}
      lit: [true, '${flags[0]}']
      chars: ab
      keys: ${d}
    cmd: echo ${item.flag} ${item.lit} ${item.chars} ${item.keys}
"""),
    },
    "matrix-duplicates-collapse": {
        "dvc.yaml": "stages:\n  m:\n    matrix:\n      x: [1, '1', 2]\n    cmd: echo ${item.x}\n",
    },
    "subdir": {
        "sub/params.yaml": "n: 1\n",
        "sub/other.yaml": "m: 2\n",
        "sub/dvc.yaml": "vars: [other.yaml]\nstages:\n  s:\n    cmd: echo ${n} ${m}\n",
    },
    "subdir-same-file-two-spellings": {
        "sub/p.yaml": "m: 2\n",
        "sub/w/q.yaml": "q: 3\n",
        "sub/dvc.yaml": _y("""
vars: [p.yaml, ../sub/p.yaml]
stages:
  s:
    wdir: w
    cmd: echo ${m} ${q}
    vars: [../p.yaml, q.yaml, ../w/q.yaml]
"""),
    },
    "order-and-passthrough": {
        "dvc.yaml": _y("""
stages:
  s:
    desc: first
    vars: [{x: 1}]
    outs: [a]
    cmd: echo ${x}
    meta: {1: a, nested: [1, {b: null}]}
    wdir: .
    always_changed: true
"""),
    },
}


@pytest.mark.parametrize("name", list(CASES))
def test_matches_dvc(oracle: Oracle, name: str) -> None:
    files = CASES[name]
    sub = "sub/" if "sub/dvc.yaml" in files else ""
    oracle.check(files, sub)


def test_sample_expansion(oracle: Oracle) -> None:
    got = oracle.check(
        {
            "dvc.yaml": _y("""
stages:
  grid:
    matrix: {lr: [0.1], opt: [adam, {x: 1}]}
    cmd: train ${item.lr} ${item.opt}
  build:
    foreach: {small: 1}
    do: {cmd: 'make ${key}'}
"""),
        }
    )
    assert got == [
        ("grid@0.1-adam", {"cmd": "train 0.1 adam"}),
        ("grid@0.1-opt1", {"cmd": "train 0.1 --x 1"}),
        ("build@small", {"cmd": "make small"}),
    ]


def test_parsing_config(tmp_path: Path) -> None:
    oracle = Oracle(tmp_path, "[parsing]\n    bool = boolean_optional\n    list = append\n")
    files = {
        "dvc.yaml": _y("""
vars: [{a: {fast: true, slow: false, l: [1, 2]}}]
stages:
  s:
    cmd: run ${a}
  f:
    foreach: ['${a}']
    do: {cmd: 'echo ${item}'}
"""),
    }
    expected = oracle.dvc(files)
    got = oracle.bale(files, parsing={"bool": "boolean_optional", "list": "append"})
    assert repr(got) == repr(expected)
    assert got[0][1]["cmd"] == "run --fast --no-slow --l 1 --l 2"


ERRORS: dict[str, tuple[Files, str]] = {
    "missing-var": (
        {"dvc.yaml": "stages:\n  train:\n    cmd: python train.py ${lr}\n"},
        "failed to parse 'stages.train.cmd': Could not find 'lr'",
    ),
    "missing-nested-var": (
        {"dvc.yaml": "vars: [{a: [1]}]\nstages:\n  s:\n    cmd: echo ${a[3]}\n"},
        "Could not find 'a.3'",
    ),
    "missing-var-in-generated": (
        {"dvc.yaml": "stages:\n  s:\n    foreach: [x]\n    do:\n      cmd: echo ${nope}\n"},
        "failed to parse 'stages.s@x.cmd': Could not find 'nope'",
    ),
    "missing-vars-file": (
        {"dvc.yaml": "vars: [other.yaml]\nstages:\n  s:\n    cmd: echo\n"},
        "failed to parse 'vars': 'other.yaml' does not exist",
    ),
    "missing-stage-vars-file": (
        {"dvc.yaml": "stages:\n  s:\n    wdir: w\n    cmd: echo\n    vars: [p.yaml]\n"},
        "failed to parse stage 's': 'w/p.yaml' does not exist",
    ),
    "missing-key-in-vars-file": (
        {"dvc.yaml": "vars: ['p.yaml:a,b']\nstages:\n  s:\n    cmd: echo\n", "p.yaml": "a: 1\n"},
        "could not find 'b' in 'p.yaml'",
    ),
    "vars-file-not-a-dict": (
        {"dvc.yaml": "vars: [p.yaml]\nstages:\n  s:\n    cmd: echo\n", "p.yaml": "[1]\n"},
        "expected a dictionary, got 'list' in file 'p.yaml'",
    ),
    "foreach-int": (
        {"dvc.yaml": "vars: [{n: 3}]\nstages:\n  s:\n    foreach: ${n}\n    do: {cmd: x}\n"},
        "failed to resolve 'stages.s.foreach': expected list/dictionary, got int",
    ),
    "foreach-str": (
        {"dvc.yaml": "stages:\n  s:\n    foreach: abc\n    do: {cmd: x}\n"},
        "expected list/dictionary, got str",
    ),
    "foreach-missing-ref": (
        {"dvc.yaml": "stages:\n  s:\n    foreach: ${l}\n    do: {cmd: x}\n"},
        "failed to parse 'stages.s.foreach': Could not find 'l'",
    ),
    "at-in-literal-name": (
        {"dvc.yaml": "stages:\n  b@a:\n    cmd: y\n"},
        "invalid stage name 'b@a'",
    ),
    "at-in-generated-key": (
        {"dvc.yaml": "stages:\n  a:\n    foreach: [x@y]\n    do: {cmd: x}\n"},
        "invalid stage name 'a@x@y'",
    ),
    "dict-in-non-cmd": (
        {"dvc.yaml": "vars: [{d: {a: 1}}]\nstages:\n  s:\n    cmd: x\n    desc: about ${d}\n"},
        "failed to parse 'stages.s.desc': Cannot interpolate data of type 'dict'",
    ),
    "whole-list-in-deps": (
        {"dvc.yaml": "vars: [{l: [a]}]\nstages:\n  s:\n    cmd: x\n    deps: ${l}\n"},
        "Cannot interpolate data of type 'list'",
    ),
    "list-in-cmd": (
        {"dvc.yaml": "vars: [{l: [a]}]\nstages:\n  s:\n    cmd: echo ${l}\n"},
        "Cannot interpolate data of type 'list'",
    ),
    "nested-list-in-cmd-dict": (
        {"dvc.yaml": "vars: [{d: {l: [[1]]}}]\nstages:\n  s:\n    cmd: echo ${d}\n"},
        "Cannot interpolate nested iterable in 'l'",
    ),
    "merge-conflict": (
        {
            "dvc.yaml": "vars: [{x: {a: 1}}, p.yaml]\nstages:\n  s:\n    cmd: x\n",
            "p.yaml": "x: {a: 2}",
        },
        "failed to parse 'vars': cannot redefine 'x.a' from 'p.yaml' as it already exists in "
        "'vars[0]'",
    ),
    "merge-conflict-with-default-params": (
        {"dvc.yaml": "stages:\n  s:\n    cmd: x\n    vars: [{b: 1}]\n", "params.yaml": "b: 2\n"},
        "failed to parse stage 's': cannot redefine 'b' from 's.vars[0]' as it already exists "
        "in 'params.yaml'",
    ),
    "partial-then-whole": (
        {"dvc.yaml": "vars: [p.yaml:a, p.yaml]\nstages:\n  s:\n    cmd: x\n", "p.yaml": "a: 1\n"},
        "cannot load 'p.yaml' as it's partially loaded already",
    ),
    "whole-then-partial-in-stage": (
        {
            "dvc.yaml": "stages:\n  s:\n    cmd: x\n    vars: ['params.yaml:a']\n",
            "params.yaml": "a: 1",
        },
        "failed to parse 'stages.s.vars': cannot partially load 'params.yaml:a' as it's already "
        "loaded.",
    ),
    "reserved-key": (
        {"dvc.yaml": "stages:\n  s:\n    foreach: [1]\n    do: {cmd: x, vars: [{item: 1}]}\n"},
        "failed to parse stage 's@1': attempted to modify reserved key item",
    ),
    "bad-syntax": (
        {"dvc.yaml": "stages:\n  s:\n    cmd: echo ${}\n"},
        "failed to parse 'stages.s.cmd':",
    ),
    "bad-syntax-in-template": (
        {"dvc.yaml": "stages:\n  s:\n    foreach: [1]\n    do:\n      cmd: echo ${a..b}\n"},
        "failed to parse 'stages.s.cmd':",
    ),
    "vars-interpolated": (
        {"dvc.yaml": "vars: ['${x}.yaml']\nstages:\n  s:\n    cmd: x\n"},
        "failed to parse 'vars': interpolating is not allowed",
    ),
    "stage-vars-interpolated": (
        {"dvc.yaml": "stages:\n  s:\n    cmd: x\n    vars: [{a: '${x}'}]\n"},
        "failed to parse 'stages.s.vars': interpolating is not allowed",
    ),
    "matrix-scalar-axis": (
        {"dvc.yaml": "vars: [{n: 3}]\nstages:\n  s:\n    matrix: {x: '${n}'}\n    cmd: x\n"},
        "failed to parse 'stages.s.matrix': expected a list for 'x', got int",
    ),
    "empty-foreach-key": (
        {"dvc.yaml": "stages:\n  s:\n    foreach: ['']\n    do: {cmd: x}\n"},
        "invalid stage name 's@'",
    ),
    "empty-matrix": (
        {"dvc.yaml": "stages:\n  s:\n    matrix: {}\n    cmd: x\n"},
        "failed to parse 'stages.s.matrix': it is empty",
    ),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors(oracle: Oracle, name: str) -> None:
    files, fragment = ERRORS[name]
    with pytest.raises(Exception):  # noqa: B017 - dvc's exception types vary
        oracle.dvc(files)
    with pytest.raises(MetafileError) as info:
        oracle.bale(files)
    message = str(info.value)
    assert message.startswith("dvc.yaml: "), message
    assert fragment in message, message
    assert "\n" not in message


def test_duplicate_name(oracle: Oracle) -> None:
    # dvc silently drops the literal stage here (its name resolves to the foreach member);
    # bale refuses the ambiguity.
    files = {
        "dvc.yaml": "stages:\n  a:\n    foreach: [a, b]\n    do: {cmd: x}\n  a@a:\n    cmd: y\n"
    }
    assert [name for name, _ in oracle.dvc(files)] == ["a@a", "a@b"]
    with pytest.raises(MetafileError, match=r"^dvc\.yaml: duplicate stage name 'a@a'"):
        oracle.bale(files)


def test_errors_name_the_file(oracle: Oracle) -> None:
    files = {"sub/dvc.yaml": "vars: [p.yaml]\nstages:\n  s:\n    cmd: x\n"}
    with pytest.raises(MetafileError, match=r"^sub/dvc\.yaml: .*'sub/p\.yaml' does not exist$"):
        oracle.bale(files, "sub/")


def test_load_errors_propagate() -> None:
    def load(path: str) -> Any:
        raise PermissionError(path)

    with pytest.raises(PermissionError, match=r"params\.yaml"):
        resolve_stages({"stages": {"s": {"cmd": "x"}}}, where="dvc.yaml", load=load)


def test_interpolates() -> None:
    assert interpolates("a ${b} c")
    assert not interpolates(r"a \${b} c")
    assert not interpolates("a ${b c")
    assert interpolates(r"\${a} ${b}")


# -- property: random vars and templates -----------------------------------------------------

# No '.' or '_': ruamel (dvc's YAML parser) crashes on plain scalars like '._' and '-_'.
TEXT = st.text(alphabet="abcxyz -/',", max_size=6)
SCALARS = st.one_of(
    st.integers(-100, 100),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.none(),
    TEXT,
)


def _values(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)
        ),
        max_leaves=8,
    )


VALUES = _values(st.sampled_from(["a", "b", "lr", "n_1"]))


def _paths(value: Any, prefix: str, draw: Any) -> Iterator[tuple[str, Any]]:
    """Every expression reaching into ``value``, spelled with dots or brackets at random."""
    if prefix:
        yield prefix, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, f"{prefix}.{k}" if prefix else k, draw)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, f"{prefix}[{i}]" if draw(st.booleans()) else f"{prefix}.{i}", draw)


@st.composite
def pipelines(draw: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """params.yaml, inline vars and stages using them; mostly valid, sometimes not."""
    # Disjoint top-level names but for the odd one, so that merge conflicts stay rare.
    params = draw(st.dictionaries(st.sampled_from(["a", "b", "lr"]), VALUES, max_size=3))
    inline_keys = ["cfg", "x", "n_1"] + (["a"] if draw(st.integers(0, 9)) == 0 else [])
    inline = draw(st.dictionaries(st.sampled_from(inline_keys), VALUES, min_size=1, max_size=3))
    paths = list(_paths({**inline, **params}, "", draw))

    def ref(kinds: tuple[type, ...] = (), rare: float = 0.0) -> str:
        """A reference to a value of one of ``kinds`` (any if empty), now and then
        (``rare``) to anything or to nothing."""
        pool = [p for p, v in paths if not kinds or isinstance(v, kinds)]
        if not pool or draw(st.floats(0, 1)) < rare:
            pool = [p for p, _ in paths] + ["missing", "x[9]"]
        return "${" + draw(st.sampled_from(pool)) + "}"

    scalar = (str, int, float, bool, type(None))
    words = st.one_of(TEXT, st.builds(lambda: ref((*scalar, dict), rare=0.05)))
    seq_refs = [f"${{{p}}}" for p, v in paths if isinstance(v, (dict, list))]
    stages: dict[str, Any] = {
        "plain": {
            "cmd": " ".join(draw(st.lists(words, min_size=1, max_size=4))),
            "desc": ref(scalar, rare=0.05),
            "deps": [f"data/{ref(scalar)}.csv"],
            "meta": {ref(scalar): ref(scalar, rare=0.05)},
        },
        "whole": {"cmd": ref(rare=0.1), "frozen": ref((bool,))},
        "scalars": {
            "foreach": draw(st.lists(SCALARS, max_size=3)),
            "do": {"cmd": "echo ${item} " + ref(scalar), "desc": "${item}"},
        },
        "mapping": {
            "foreach": draw(
                st.dictionaries(
                    st.sampled_from(["us", "eu", "x"]),
                    st.dictionaries(st.sampled_from(["a", "b"]), SCALARS, max_size=2),
                    max_size=3,
                )
            ),
            "do": {"cmd": "echo ${key} ${item}", "outs": ["${key}.out"]},
        },
        "referenced": {
            "foreach": draw(st.sampled_from(seq_refs or ["${missing}"])),
            "do": {"cmd": "echo ${item}"},
        },
        "grid": {
            "matrix": {
                "p": draw(st.lists(SCALARS, min_size=1, max_size=2)),
                "q": draw(
                    st.one_of(
                        st.lists(VALUES, min_size=1, max_size=2),
                        st.sampled_from(seq_refs or [[1]]),
                    )
                ),
            },
            "cmd": "run ${item.p} ${key} " + ref(scalar),
        },
    }
    return params, inline, stages


def _same_outcome(oracle: Oracle, data: dict[str, Any]) -> bool:
    """Whether dvc resolves ``data``; bale must resolve it the same way, or fail too."""
    # dvc.yaml is handed over parsed: ruamel would take most of the test's time.
    try:
        expected = oracle.dvc(None, data=data)
    except Exception:  # any dvc failure must be a bale failure too
        with pytest.raises(MetafileError):
            oracle.bale(None, data=data)
        return False
    assert repr(oracle.bale(None, data=data)) == repr(expected)
    return True


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=pipelines())
def test_property_matches_dvc(
    oracle: Oracle, case: tuple[dict[str, Any], dict[str, Any], dict[str, Any]]
) -> None:
    params, inline, stages = case
    oracle.write({"params.yaml": yaml.safe_dump(params)})
    # Stage by stage, so that one failing stage does not hide the others; then together.
    ok = [_same_outcome(oracle, {"vars": [inline], "stages": {k: v}}) for k, v in stages.items()]
    if all(ok):
        assert _same_outcome(oracle, {"vars": [inline], "stages": stages})


def test_results_share_nothing() -> None:
    data = {"vars": [{"d": {"l": [1]}}], "stages": {"a": {"cmd": "${d}"}, "b": {"cmd": "${d}"}}}
    stages = resolve_stages(data, where="dvc.yaml", load=lambda p: {})
    stages[0][1]["cmd"]["l"].append(2)
    assert stages[1][1]["cmd"] == {"l": [1]}
    assert data["vars"] == [{"d": {"l": [1]}}]
