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
    "    outs: [all.txt]\n"
    "  m:\n"
    "    matrix:\n"
    "      a: [x, y]\n"
    "      b: [1, 2]\n"
    "    cmd: echo ${item.a}${item.b} > m-${item.a}${item.b}\n"
    "    deps: [all.txt]\n"
    "    outs: ['m-${item.a}${item.b}']\n",
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
                "report",
                "mkdir -p out && cat clean.csv stats.csv > out/r.txt",
                ["clean.csv", "stats.csv"],
                ["out"],
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
    ("dag", "--collapse-foreach-matrix"),
    ("dag", "--dot", "--collapse-foreach-matrix"),
    ("dag", "-o", "--collapse-foreach-matrix"),
]


def _compare(sh: Sh, template: Path, base: Path, setup: str, steps: list[Step]) -> None:
    dvc, bale, _, _ = differential(_seeded(sh), template, base, steps, setup)
    for step, d, b in zip(steps, dvc, bale, strict=True):
        # bale fails with 1 where dvc fails with 255 (bale.cli.main: every failure)
        assert (b.ok, b.out) == (d.ok, d.out), f"{step}: bale\n{b.out}{b.err}\ndvc\n{d.out}{d.err}"


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


# --------------------------------------------------------------------------
# repro: dvc's lines, its order, its closing line, its failures


def _dvc_words(out: str) -> str:
    """dvc's output with the hints bale words as its own (it names itself
    in the commands it suggests) and the ``git add`` paths, which dvc keeps
    in a set, sorted."""
    lines = []
    for line in out.splitlines():
        if line.startswith("\tgit add "):
            line = "\tgit add " + " ".join(sorted(line.split()[2:]))
        line = line.replace("`dvc push`", "`bale push`")
        line = line.replace("\tdvc config core.autostage", "\tbale config core.autostage")
        lines.append(line)
    return "\n".join(lines)


def _compare_repro(sh: Sh, template: Path, base: Path, setup: str, steps: list[Step]) -> None:
    dvc, bale, _, _ = differential(_seeded(sh), template, base, steps, setup)
    for step, d, b in zip(steps, dvc, bale, strict=True):
        if isinstance(step, str):
            continue
        assert b.ok == d.ok, f"{step}: bale exit {b.rc} {b.err!r}, dvc exit {d.rc} {d.err!r}"
        assert _dvc_words(b.out) == _dvc_words(d.out), f"{step}:\nbale\n{b.out}\ndvc\n{d.out}"


def test_repro_dry_fails_where_dvc_fails_and_says_what_dvc_says(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    steps: list[Step] = [
        # featurize's input does not exist until prepare runs: dvc's dry run
        # stops there, -f does not look
        ("repro", "--dry"),
        ("repro", "--dry", "-f"),
        ("repro", "--dry", "train"),
        ("repro",),
        ("repro",),
        ("repro", "--dry"),
        "echo 2 > data.txt",
        ("repro", "--dry", "--no-run-cache"),
        ("repro", "train"),
        ("repro", "-f", "-s", "featurize"),
    ]
    _compare_repro(sh, dvc_template, tmp_path, LINEAR, steps)


def test_repro_lines_follow_dvc_on_a_diamond_fed_by_dvc_files(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    steps: list[Step] = [
        ("repro",),
        ("repro", "-P"),
        "echo a2 > a.txt",
        ("repro", "--dry", "--no-run-cache", "join"),
        ("repro", "join"),
        ("repro", "--downstream", "left"),
        ("repro", "-P", "--dry"),
    ]
    _compare_repro(sh, dvc_template, tmp_path, DIAMOND, steps)


def test_repro_at_a_commit_with_only_dvc_files_works_as_dvc(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    steps: list[Step] = [
        ("repro",),  # no dvc.yaml: both fail
        ("repro", "--dry"),
        ("repro", "-P"),
        ("repro", "--dry", "-P"),
        ("repro", "--dry", "a.txt.dvc"),
        ("repro", "b.txt.dvc"),
    ]
    setup = "echo a > a.txt && echo b > b.txt && dvc add -q a.txt b.txt"
    _compare_repro(sh, dvc_template, tmp_path, setup, steps)


def test_repro_of_pipelines_in_subdirectories_and_foreach_is_dvcs(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    steps: list[Step] = [
        ("@pipe", "repro"),
        ("repro",),
        ("repro", "-P"),
        "echo a3 > data/a.csv",
        ("repro", "-P", "--dry", "--no-run-cache"),
        ("repro", "-P"),
    ]
    _compare_repro(sh, dvc_template, tmp_path, SUBDIR, steps)
    steps = [("repro",), ("repro", "--dry", "split@eu"), ("repro", "-f", "split")]
    _compare_repro(sh, dvc_template, tmp_path / "foreach", FOREACH, steps)


def test_repro_verbose_says_why_each_stage_runs_as_dvc_does(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    steps: list[Step] = [("repro",), "echo 3 > data.txt", ("repro", "-v")]
    dvc, bale, _, _ = differential(_seeded(sh), dvc_template, tmp_path, steps, LINEAR)

    # dvc logs DEBUG lines with a time stamp among its output; bale, on stderr
    def about_stages(line: str) -> bool:
        return "of stage: " in line or line.endswith(("changed.", "reproduced"))

    theirs = [
        line.split(" DEBUG: ", 1)[1]
        for line in dvc[2].out.splitlines()
        if " DEBUG: " in line and about_stages(line)
    ]
    # bale's other lines (which bale, the command, the time taken) are its own
    ours = [line.removeprefix("DEBUG: ") for line in bale[2].err.splitlines()]
    ours = [line for line in ours if about_stages(line)]
    assert list(dict.fromkeys(theirs)) == ours
    assert "Dependency 'data.txt' of stage: 'prepare' changed because it is 'modified'." in ours


def test_dag_from_a_subdirectory_names_nodes_from_there(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    steps: list[Step] = [("@pipe", *args) for args in DAG_ARGS[:6]]
    steps += [("@pipe", "dag", "report"), ("@pipe", "dag", "-o", "--full", "clean")]
    steps += [("@pipe", "dag", "--dot", "../dvc.yaml:publish")]
    _compare(sh, dvc_template, tmp_path, SUBDIR, steps)
