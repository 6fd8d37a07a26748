"""``metrics show``/``metrics diff``/``params diff`` results and text, checked against dvc.

One module-scoped git repository runs every dvc command once (in a single
subprocess, to pay dvc's start-up once); bale renders the same data it loads
itself and must print the same bytes. Property tests feed random data to
dvc's own functions and renderers in-process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bale.pipeline import compare as C
from bale.pipeline import params as P

# -- the fixture repository ----------------------------------------------------

PARAMS_OLD = """\
train:
  lr: 0.001
  epochs: 10
  layers: [64, 32]
  optimizer: adam
prepare:
  split: 0.2
  seed: 42
name: base model
flag: true
nothing: null
"""
PARAMS_NEW = """\
train:
  lr: 0.002
  epochs: 10
  layers: [64, 16]
  optimizer: adam
  dropout: 0.1
prepare:
  split: 0.2
name: wide model
flag: false
nothing: null
"""
EXTRA_OLD = {"opt": {"beta": [0.9, 0.99], "eps": 1e-8, "untracked": 5}, "sched": {"gamma": 0.5}}
EXTRA_NEW = {"opt": {"beta": [0.9, 0.999], "eps": 1e-7, "untracked": 6}, "sched": {"gamma": 0.5}}
TUNE_OLD = '[search]\ntrials = 20\nspace = "grid"\n'
TUNE_NEW = '[search]\ntrials = 50\nspace = "random"\n'
METRICS_OLD = {
    "acc": 0.912345678,
    "loss": 0.123456,
    "epochs": 10,
    "nested": {"f1": 0.5, "pr": {"p": 0.7, "r": 0.65432198}},
    "list": [1, 2],
    "label": "ok",
    "ok": True,
    "big": 1234567.891234,
}
METRICS_NEW = {
    "acc": 0.95,
    "epochs": 12,
    "nested": {"f1": 0.55, "pr": {"p": 0.7, "r": 0.7}},
    "list": [1, 3],
    "label": "better one",
    "ok": False,
    "big": 1234568.5,
    "new_m": 3,
}
SCORES_OLD = "auc: 0.8\nrmse: 1.25e-05\n名前: 値\n"
SCORES_NEW = "auc: 0.8123456\nrmse: 1.25e-05\n名前: 新しい値\n"
STATIC = '{"const": 1, "s": "same"}'

DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    params:
      - train.lr
      - train.layers
      - prepare
      - conf/extra.json:
          - opt.beta
          - opt.eps
          - sched
    metrics:
      - metrics.json:
          cache: false
  evaluate:
    cmd: python eval.py
    params:
      - conf/tune.toml:
          - search.trials
    metrics:
      - eval/scores.yaml:
          cache: false
      - eval/static.json:
          cache: false
"""

METRIC_FILES = ["metrics.json", "eval/scores.yaml", "eval/static.json"]
PARAM_KEYS: dict[str, list[str]] = {
    "params.yaml": [],  # dvc always reads the default params file whole
    "conf/extra.json": ["opt.beta", "opt.eps", "sched"],
    "conf/tune.toml": ["search.trials"],
}

COMMANDS: dict[str, list[str]] = {
    "show": ["metrics", "show"],
    "show_md": ["metrics", "show", "--md"],
    "show_json": ["metrics", "show", "--json"],
    "show_p3": ["metrics", "show", "--precision", "3"],
    "show_all": ["metrics", "show", "-a"],
    "mdiff": ["metrics", "diff"],
    "mdiff_md": ["metrics", "diff", "--md"],
    "mdiff_json": ["metrics", "diff", "--json"],
    "mdiff_all": ["metrics", "diff", "--all"],
    "mdiff_nopath_p2": ["metrics", "diff", "--no-path", "--precision", "2"],
    "mdiff_empty": ["metrics", "diff", "--targets", "eval/static.json"],
    "mdiff_empty_md": ["metrics", "diff", "--targets", "eval/static.json", "--md"],
    "mdiff_empty_json": ["metrics", "diff", "--targets", "eval/static.json", "--json"],
    "mdiff_revs": ["metrics", "diff", "main", "--all", "--md"],
    "pdiff": ["params", "diff"],
    "pdiff_md": ["params", "diff", "--md"],
    "pdiff_json": ["params", "diff", "--json"],
    "pdiff_all_md": ["params", "diff", "--all", "--md"],
    "pdiff_nopath": ["params", "diff", "--no-path"],
}

DRIVER = textwrap.dedent(
    """
    import contextlib, io, json, sys
    from dvc.cli import main

    out = {}
    for name, argv in json.loads(sys.argv[1]).items():
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            rc = main(argv)
        out[name] = [rc, buf.getvalue()]
    sys.__stdout__.write(json.dumps(out))
    """
)


def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _git(root: Path, *args: str) -> bytes:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    return subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
    ).stdout


class Repo:
    def __init__(self, root: Path, outputs: dict[str, tuple[int, str]]) -> None:
        self.root = root
        self.outputs = outputs

    def out(self, name: str) -> str:
        rc, text = self.outputs[name]
        assert rc == 0, name
        return text

    def read(self, rev: str | None, name: str) -> Any:
        if rev is None:
            return P.load_file(self.root / name, name)
        return P.loads_bytes(_git(self.root, "show", f"{rev}:{name}"), name)

    def metrics(self, rev: str | None) -> dict[str, Any]:
        return {name: C.extract_metrics(self.read(rev, name)) for name in METRIC_FILES}

    def params(self, rev: str | None) -> dict[str, Any]:
        return {
            name: P.select_tree(self.read(rev, name), keys) for name, keys in PARAM_KEYS.items()
        }


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    root = tmp_path_factory.mktemp("cmp")
    _git(root, "init", "-q")
    (root / ".dvc").mkdir()
    (root / ".dvc" / "config").write_text("")
    files = {
        "dvc.yaml": DVC_YAML,
        "params.yaml": PARAMS_OLD,
        "conf/extra.json": json.dumps(EXTRA_OLD),
        "conf/tune.toml": TUNE_OLD,
        "metrics.json": json.dumps(METRICS_OLD),
        "eval/scores.yaml": SCORES_OLD,
        "eval/static.json": STATIC,
    }
    _write(root, files)
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "base")
    _write(
        root,
        {
            "params.yaml": PARAMS_NEW,
            "conf/extra.json": json.dumps(EXTRA_NEW),
            "conf/tune.toml": TUNE_NEW,
            "metrics.json": json.dumps(METRICS_NEW),
            "eval/scores.yaml": SCORES_NEW,
        },
    )
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "DVC_TEST": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(COMMANDS)],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    outputs = {name: (rc, text) for name, (rc, text) in json.loads(proc.stdout).items()}
    return Repo(root, outputs)


def _rows_any_order(text: str, header_lines: int) -> tuple[list[str], list[str]]:
    """dvc orders files by set iteration: compare the header exactly and rows as a multiset."""
    lines = text.split("\n")
    return lines[:header_lines], sorted(lines[header_lines:])


# -- metrics show --------------------------------------------------------------


def test_metrics_show(repo: Repo) -> None:
    shown = repo.metrics(None)
    assert C.render_show_table(shown) == repo.out("show")
    assert C.render_show_table(shown, markdown=True) == repo.out("show_md")
    assert C.render_show_table(shown, precision=3) == repo.out("show_p3")
    assert json.loads(C.render_json(C.show_json(shown))) == json.loads(repo.out("show_json"))
    assert C.render_json(C.show_json(shown)) == repo.out("show_json")


def test_metrics_show_all_branches(repo: Repo) -> None:
    revisions = {"workspace": repo.metrics(None), "main": repo.metrics("main")}
    assert C.render_show_table({}, revisions=revisions) == repo.out("show_all")


# -- metrics diff ----------------------------------------------------------------


def test_metrics_diff(repo: Repo) -> None:
    result = C.diff(repo.metrics("HEAD"), repo.metrics(None))
    assert json.loads(C.render_json(result)) == json.loads(repo.out("mdiff_json"))
    plain = C.render_diff_table(result, kind="metrics")
    assert _rows_any_order(plain, 1) == _rows_any_order(repo.out("mdiff"), 1)
    md = C.render_diff_table(result, kind="metrics", markdown=True)
    assert _rows_any_order(md, 2) == _rows_any_order(repo.out("mdiff_md"), 2)
    nopath = C.render_diff_table(result, kind="metrics", no_path=True, precision=2)
    assert _rows_any_order(nopath, 1) == _rows_any_order(repo.out("mdiff_nopath_p2"), 1)


def test_metrics_diff_all_and_revisions(repo: Repo) -> None:
    result = C.diff(repo.metrics("HEAD"), repo.metrics(None), with_unchanged=True)
    plain = C.render_diff_table(result, kind="metrics")
    assert _rows_any_order(plain, 1) == _rows_any_order(repo.out("mdiff_all"), 1)
    result = C.diff(repo.metrics("main"), repo.metrics(None), with_unchanged=True)
    md = C.render_diff_table(result, kind="metrics", markdown=True, a_rev="main")
    assert _rows_any_order(md, 2) == _rows_any_order(repo.out("mdiff_revs"), 2)


def test_metrics_diff_empty(repo: Repo) -> None:
    static = "eval/static.json"
    result = C.diff({static: repo.metrics("HEAD")[static]}, {static: repo.metrics(None)[static]})
    assert result == {}
    assert C.render_diff_table(result, kind="metrics") == repo.out("mdiff_empty") == ""
    assert C.render_diff_table(result, kind="metrics", markdown=True) == repo.out("mdiff_empty_md")
    assert C.render_json(result) == repo.out("mdiff_empty_json")


# -- params diff -----------------------------------------------------------------


def test_params_diff(repo: Repo) -> None:
    result = C.diff(repo.params("HEAD"), repo.params(None))
    assert json.loads(C.render_json(result)) == json.loads(repo.out("pdiff_json"))
    plain = C.render_diff_table(result, kind="params")
    assert _rows_any_order(plain, 1) == _rows_any_order(repo.out("pdiff"), 1)
    md = C.render_diff_table(result, kind="params", markdown=True)
    assert _rows_any_order(md, 2) == _rows_any_order(repo.out("pdiff_md"), 2)
    nopath = C.render_diff_table(result, kind="params", no_path=True)
    assert _rows_any_order(nopath, 1) == _rows_any_order(repo.out("pdiff_nopath"), 1)


def test_params_diff_all(repo: Repo) -> None:
    result = C.diff(repo.params("HEAD"), repo.params(None), with_unchanged=True)
    md = C.render_diff_table(result, kind="params", markdown=True)
    assert _rows_any_order(md, 2) == _rows_any_order(repo.out("pdiff_all_md"), 2)


def test_expected_shapes(repo: Repo) -> None:
    # a few facts the dvc comparison above relies on, spelled out
    result = C.diff(repo.params("HEAD"), repo.params(None))
    assert result["params.yaml"]["train.lr"] == {"old": 0.001, "new": 0.002, "diff": 0.001}
    assert result["params.yaml"]["train.layers"] == {"old": "[64, 32]", "new": "[64, 16]"}
    assert result["params.yaml"]["prepare.seed"] == {"old": 42, "new": None}
    assert result["params.yaml"]["flag"] == {"old": True, "new": False, "diff": -1}
    assert "opt.untracked" not in result["conf/extra.json"]
    metrics = C.diff(repo.metrics("HEAD"), repo.metrics(None))
    assert "list" not in metrics["metrics.json"]  # lists are not metrics
    assert list(metrics) == sorted(metrics)


# -- against dvc's functions, on random data ------------------------------------

_keys = st.text(alphabet="abcxyz_.0", min_size=1, max_size=4)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=False, allow_infinity=False, width=64)
    | st.text(alphabet="ab 1.-[]{}\"'", max_size=6)
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=8,
)
_files = st.dictionaries(st.sampled_from(["m.json", "d/m.yaml", "x.toml"]), _values, max_size=3)


def _flattenable(files: Mapping[str, Any]) -> bool:
    from dvc.utils.flatten import flatten

    for data in files.values():
        formatted = C._format_lists(data)
        if isinstance(formatted, dict):
            try:
                flatten(formatted)
            except ValueError:
                return False
    return True


@settings(max_examples=100, deadline=None)
@given(value=_values)
def test_extract_metrics_like_dvc(value: Any) -> None:
    from dvc.repo.metrics.show import _extract_metrics

    assert C.extract_metrics(value) == (_extract_metrics(value, "m") or {})


@settings(max_examples=100, deadline=None)
@given(old=_files, new=_files, with_unchanged=st.booleans())
def test_diff_like_dvc(old: dict[str, Any], new: dict[str, Any], with_unchanged: bool) -> None:
    from dvc.repo.metrics.diff import _diff

    if not (_flattenable(old) and _flattenable(new)):
        return  # dvc crashes on keys that flatten to the same dotted key
    revs = {
        "a": {"data": {f: {"data": d} for f, d in old.items()}},
        "b": {"data": {f: {"data": d} for f, d in new.items()}},
    }
    expected = _diff(revs, "a", "b", with_unchanged=with_unchanged).get("diff", {})
    assert C.diff(old, new, with_unchanged=with_unchanged) == expected


def _dvc_stdout(capsys: pytest.CaptureFixture[str], func: Any, *args: Any, **kwargs: Any) -> str:
    capsys.readouterr()
    func(*args, **kwargs)
    return capsys.readouterr().out


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    old=_files,
    new=_files,
    kind=st.sampled_from(["metrics", "params"]),
    markdown=st.booleans(),
    no_path=st.booleans(),
    precision=st.sampled_from([None, 0, 1, 3]),
)
def test_render_diff_table_like_dvc(
    capsys: pytest.CaptureFixture[str],
    old: dict[str, Any],
    new: dict[str, Any],
    kind: str,
    markdown: bool,
    no_path: bool,
    precision: int | None,
) -> None:
    from dvc.commands.metrics import DEFAULT_PRECISION
    from dvc.compare import show_diff

    if not (_flattenable(old) and _flattenable(new)):
        return
    result = C.diff(old, new, with_unchanged=True)
    metrics = kind == "metrics"
    expected = _dvc_stdout(
        capsys,
        show_diff,
        result,
        title="Metric" if metrics else "Param",
        markdown=markdown,
        no_path=no_path,
        show_changes=metrics,
        precision=(precision or DEFAULT_PRECISION) if metrics else None,
        round_digits=True,
        a_rev="HEAD~1",
        b_rev=None,
    )
    ours = C.render_diff_table(
        result,
        kind="metrics" if metrics else "params",
        markdown=markdown,
        no_path=no_path,
        precision=precision,
        a_rev="HEAD~1",
    )
    assert ours == expected


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(files=_files, markdown=st.booleans(), precision=st.sampled_from([None, 2]))
def test_render_show_table_like_dvc(
    capsys: pytest.CaptureFixture[str],
    files: dict[str, Any],
    markdown: bool,
    precision: int | None,
) -> None:
    from dvc.commands.metrics import DEFAULT_PRECISION
    from dvc.compare import show_metrics

    shown = {name: C.extract_metrics(data) for name, data in files.items()}
    if not _flattenable(shown):
        return
    metrics = {"": {"data": {name: {"data": data} for name, data in shown.items()}}}
    expected = _dvc_stdout(
        capsys,
        show_metrics,
        metrics,
        markdown=markdown,
        precision=precision or DEFAULT_PRECISION,
        round_digits=True,
    )
    assert C.render_show_table(shown, markdown=markdown, precision=precision) == expected


def test_errored_file_is_a_row_of_dashes(capsys: pytest.CaptureFixture[str]) -> None:
    from dvc.compare import show_metrics

    metrics = {"": {"data": {"a.json": {"data": {"x": 1.5}}, "bad.json": {"error": ValueError()}}}}
    expected = _dvc_stdout(capsys, show_metrics, metrics, precision=5, round_digits=True)
    assert C.render_show_table({"a.json": {"x": 1.5}, "bad.json": {}}) == expected
    shown = C.show_json({"a.json": {"x": 1.5}}, errors={"bad.json": ValueError("no")})
    assert shown == {
        "": {
            "data": {
                "a.json": {"data": {"x": 1.5}},
                "bad.json": {"error": {"type": "ValueError", "msg": "no"}},
            }
        }
    }


# -- tables, as dvc's plain_table prints them ------------------------------------------

_cell_parts = st.sampled_from(
    [
        "a",
        "bc",
        "0.5",
        "-",
        " ",
        "  ",
        "\n",
        "\r\n",
        "|",
        "日本",
        "é",
        "e\u0301",
        "\u200b",
        "\t",
        "\x1b[31m",
        "\x1b[0m",
        "True",
        "[1, 2]",
    ]
)
_cells = st.lists(_cell_parts, max_size=4).map("".join)


@settings(max_examples=150, deadline=None)
@given(
    headers=st.lists(_cells, min_size=1, max_size=4),
    nrows=st.integers(min_value=0, max_value=3),
    data=st.data(),
    markdown=st.booleans(),
)
def test_format_table_like_dvc_plain_table(
    headers: list[str], nrows: int, data: st.DataObject, markdown: bool
) -> None:
    import contextlib
    import io

    from dvc.ui import ui
    from dvc.ui.table import plain_table

    rows = [
        data.draw(st.lists(_cells, min_size=len(headers), max_size=len(headers)))
        for _ in range(nrows)
    ]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        plain_table(ui, rows, headers, markdown=markdown)
    # dvc ends a markdown table with a newline, and prints a line
    ours = C.format_table(headers, rows, markdown=markdown) + ("\n" if markdown else "")
    assert ours + "\n" == printed.getvalue()


def test_format_table_known_output() -> None:
    table = C.format_table(["Path", "acc", "日本"], [["m.json", "0.5", "x"]], markdown=False)
    assert table == "Path    acc    日本\nm.json  0.5    x"
    md = C.format_table(["Path", "acc"], [["m.json", "0.5"]], markdown=True)
    assert md == "| Path   | acc   |\n|--------|-------|\n| m.json | 0.5   |"
