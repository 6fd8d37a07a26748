"""``dag`` and ``repro`` print what dvc 3.67.1 prints (issue 20, items 4, 5
and 7): bale and dvc run the same commands on twin repositories and their
stdout and exit codes are compared byte for byte.

dvc orders a pipeline smaller than half the graph by a set of its stage
names, so its drawing follows the string hash seed: both tools run here
with one fixed ``PYTHONHASHSEED``, and bale (which orders the same set the
same way) must draw what dvc draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.interop.conftest import Sh as ShClass
from tests.interop.test_dvc_differential import Step, differential

Sh = Any

pytestmark = pytest.mark.interop


def _seeded(sh: Sh, seed: str = "7") -> Sh:
    return ShClass({**sh.env, "PYTHONHASHSEED": seed})


def _stage(name: str, cmd: str, deps: Sequence[str] = (), outs: Sequence[str] = ()) -> str:
    lines = [f"  {name}:", f"    cmd: {cmd}"]
    if deps:
        lines.append(f"    deps: [{', '.join(deps)}]")
    if outs:
        lines.append(f"    outs: [{', '.join(outs)}]")
    return "\n".join(lines)


def _dvcyaml(*stages: str) -> str:
    return "stages:\n" + "\n".join(stages) + "\n"


def _write(path: str, text: str) -> str:
    return f"mkdir -p $(dirname {path}) && cat > {path} <<'EOF'\n{text}EOF\n"


LINEAR = _write(
    "dvc.yaml",
    _dvcyaml(
        _stage("prepare", "cp data.txt prepared.txt", ["data.txt"], ["prepared.txt"]),
        _stage("featurize", "cp prepared.txt features.txt", ["prepared.txt"], ["features.txt"]),
        _stage("train", "cp features.txt model.pkl", ["features.txt"], ["model.pkl"]),
    ),
) + ("echo 1 > data.txt")

DIAMOND = _write(
    "dvc.yaml",
    _dvcyaml(
        _stage("prep", "cp a.txt p.txt", ["a.txt"], ["p.txt"]),
        _stage("left", "cp p.txt l.txt", ["p.txt"], ["l.txt"]),
        _stage("right", "cp p.txt r.txt", ["p.txt"], ["r.txt"]),
        _stage("join", "cat l.txt r.txt > j.txt", ["l.txt", "r.txt"], ["j.txt"]),
        _stage("other", "cp b.txt o.txt", ["b.txt"], ["o.txt"]),
        _stage("lone", "echo x > x.txt", [], ["x.txt"]),
    ),
) + ("echo a > a.txt && echo b > b.txt && dvc add -q a.txt b.txt")

# Three pipelines of five stages: each less than half the graph.
DISCONNECTED = _write(
    "dvc.yaml",
    _dvcyaml(
        *[
            s
            for p in "abc"
            for s in (
                _stage(f"{p}1", f"echo > {p}1", [], [f"{p}1"]),
                _stage(f"{p}2", f"echo > {p}2", [f"{p}1"], [f"{p}2"]),
                _stage(f"{p}3", f"echo > {p}3", [f"{p}1"], [f"{p}3"]),
                _stage(f"{p}4", f"echo > {p}4", [f"{p}2", f"{p}3", f"{p}1"], [f"{p}4"]),
                _stage(f"{p}5", f"echo > {p}5", [f"{p}3"], [f"{p}5"]),
            )
        ]
    ),
)

FOREACH = _write(
    "dvc.yaml",
    "stages:\n"
    "  split:\n"
    "    foreach: [us, eu, asia]\n"
    "    do:\n"
    "      cmd: echo ${item} > part-${item}.txt\n"
    "      deps: [raw]\n"
    "      outs: ['part-${item}.txt']\n"
    "  merge:\n"
    "    cmd: cat part-*.txt > all.txt\n"
    "    deps: [part-us.txt, part-eu.txt, part-asia.txt]\n"
    "    outs: [all.txt]\n",
) + ("mkdir raw && echo 1 > raw/x && echo 2 > raw/y && dvc add -q raw")

# .dvc files in a directory feed stages of a dvc.yaml in another one, and a
# stage depends on a directory that holds two outputs.
SUBDIR = (
    _write(
        "pipe/dvc.yaml",
        _dvcyaml(
            _stage("clean", "cp ../data/a.csv clean.csv", ["../data/a.csv"], ["clean.csv"]),
            _stage("stats", "cp ../data/b.csv stats.csv", ["../data/b.csv"], ["stats.csv"]),
            _stage(
                "report", "cat clean.csv stats.csv > out/r.txt", ["clean.csv", "stats.csv"], ["out"]
            ),
        ),
    )
    + _write(
        "dvc.yaml",
        _dvcyaml(
            _stage("publish", "cp -r pipe/out site", ["pipe/out", "data"], ["site"]),
        ),
    )
    + "mkdir -p data && echo a > data/a.csv && echo b > data/b.csv"
    + " && dvc add -q data/a.csv data/b.csv"
)

DAG_ARGS: list[tuple[str, ...]] = [
    ("dag",),
    ("dag", "--dot"),
    ("dag", "--mermaid"),
    ("dag", "--md"),
    ("dag", "-o"),
    ("dag", "-o", "--dot"),
    ("dag", "-o", "--mermaid"),
]


def _compare(sh: Sh, template: Path, base: Path, setup: str, steps: list[Step]) -> None:
    dvc, bale, _, _ = differential(_seeded(sh), template, base, steps, setup)
    for step, d, b in zip(steps, dvc, bale, strict=True):
        assert (b.rc, b.out) == (d.rc, d.out), f"{step}: bale\n{b.out}{b.err}\ndvc\n{d.out}{d.err}"


@pytest.mark.parametrize(
    ("setup", "targets"),
    [
        pytest.param(LINEAR, ["featurize", "train"], id="linear"),
        pytest.param(DIAMOND, ["join", "left", "b.txt.dvc"], id="diamond"),
        pytest.param(DISCONNECTED, ["a4", "b3", "c5"], id="disconnected"),
        pytest.param(FOREACH, ["merge", "split@eu", "raw.dvc"], id="foreach"),
        pytest.param(SUBDIR, ["publish", "pipe/dvc.yaml:report", "data/a.csv.dvc"], id="subdir"),
    ],
)
def test_dag_draws_what_dvc_draws(
    sh: Sh, dvc_template: Path, tmp_path: Path, setup: str, targets: list[str]
) -> None:
    steps: list[Step] = list(DAG_ARGS)
    steps += [("dag", "--dot", targets[0]), ("dag", "--md", "--full", targets[0])]
    for t in targets:
        steps += [("dag", t), ("dag", "--full", t), ("dag", "-o", t)]
    _compare(sh, dvc_template, tmp_path, setup, steps)


def test_dag_of_an_empty_project_is_dvcs(sh: Sh, dvc_template: Path, tmp_path: Path) -> None:
    steps: list[Step] = list(DAG_ARGS)
    _compare(sh, dvc_template, tmp_path, "", steps)
