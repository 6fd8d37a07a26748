"""Differential tests of ``metrics show/diff`` and ``params diff`` against dvc 3.67.1,
on a repository shaped like the public projects of issue 20: several pipelines in
subdirectories, each ``dvc.yaml`` with its own ``params.yaml``, params files in
YAML, JSON, TOML and Python named per stage, variables a stage interpolates from
its directory's ``params.yaml`` and from a ``vars:`` file, a metrics file declared
but absent, and two commits of history plus an edited workspace.

dvc builds these results from Python sets, so the order of files (and of keys in
its JSON) changes from run to run: JSON is compared parsed, tables as their
header and their sorted rows. Everything else is compared as printed, with
"DVC" read as "bale" in stderr.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.interop.conftest import copy_repo
from tests.interop.test_dvc_differential import Result, Sh, Step, run_bale, run_dvc

pytestmark = pytest.mark.interop

FILES_V1 = {
    "params.yaml": "seed: 1\n",
    "dvc.yaml": "stages:\n  top:\n    cmd: echo top\n    params: [seed]\n",
    # a: its own params.yaml (the stage names keys only) and a JSON file named per stage
    "a/params.yaml": "prep:\n  size: 10\n  ratio: 0.5\n",
    "a/config/train.json": '{"lr": 0.1, "epochs": 3, "opt": {"name": "adam"}}\n',
    "a/metrics.json": '{"acc": 0.91234567, "loss": 1.5}\n',
    "a/dvc.yaml": (
        "stages:\n"
        "  prep:\n    cmd: echo prep\n    params: [prep.size]\n"
        "  train:\n    cmd: echo train\n"
        "    params:\n      - config/train.json: [lr, opt.name]\n"
        "    metrics:\n      - metrics.json:\n          cache: false\n"
    ),
    # b: a TOML file tracked whole and a Python file by key
    "b/params.toml": "[model]\ndepth = 4\nwidth = 8\n",
    "b/hp.py": 'ALPHA = 0.3\nBETA = "x"\n',
    "b/score.json": '{"score": 3}\n',
    "b/dvc.yaml": (
        "stages:\n  fit:\n    cmd: echo fit\n"
        "    params:\n      - params.toml:\n      - hp.py: [ALPHA]\n"
        "    metrics:\n      - score.json:\n          cache: false\n"
    ),
    # c: a metrics file declared at the top level that is not there
    "c/params.yaml": "k: 5\n",
    # ... and a stage's metrics directory, which stands for the files in it
    "c/dvc.yaml": (
        "stages:\n  s:\n    cmd: echo s\n    params: [k]\n"
        "    metrics:\n      - rdir:\n          cache: false\n"
        "metrics:\n  - missing.json\n"
    ),
    "c/rdir/r1.json": '{"r": 1}\n',
    "c/rdir/deep/r2.yaml": "q: 2\n",
    # t: no params section; the stage interpolates its params.yaml and a vars file
    "t/params.yaml": "train:\n  lr: 0.01\n  epochs: 4\n  unused: 9\nmodel: cnn\n",
    "t/extra.json": '{"batch": 32, "other": 1}\n',
    "t/dvc.yaml": (
        "vars:\n  - extra.json\n"
        "stages:\n  tr:\n    cmd: echo ${train.lr} ${train.epochs} ${batch}\n"
    ),
    # files no pipeline names, for targets
    "mdir/m1.json": '{"x": 1}\n',
    "mdir/sub/m2.yaml": "y: 2\n",
}

FILES_V2 = {
    "params.yaml": "seed: 2\n",
    "a/config/train.json": '{"lr": 0.2, "epochs": 3, "opt": {"name": "sgd"}}\n',
    "a/metrics.json": '{"acc": 0.93, "loss": 1.25}\n',
    "b/params.toml": "[model]\ndepth = 5\nwidth = 8\n",
    "b/hp.py": 'ALPHA = 0.4\nBETA = "y"\n',
    "c/params.yaml": "k: 6\n",
    "c/rdir/r1.json": '{"r": 1.5}\n',
    "t/params.yaml": "train:\n  lr: 0.02\n  epochs: 4\n  unused: 10\nmodel: rnn\n",
    "t/extra.json": '{"batch": 64, "other": 2}\n',
    "mdir/m1.json": '{"x": 1.5}\n',
}

# the workspace, edited after the second commit
FILES_WS = {
    "a/params.yaml": "prep:\n  size: 12\n  ratio: 0.5\n",
    "b/score.json": '{"score": 4}\n',
    "t/extra.json": '{"batch": 128, "other": 2}\n',
}


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture(scope="module")
def project(sh: Sh, dvc_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_repo(dvc_template, tmp_path_factory.mktemp("fidelity-params") / "repo")
    for day, (files, msg) in enumerate(((FILES_V1, "v1"), (FILES_V2, "v2")), 1):
        _write(root, files)
        sh.git("add", "-A", cwd=root)
        # commits a day apart: both tools list -A's commits newest first, but
        # break a tie of commit times each its own way
        when = f"2024-01-0{day}T10:00:00"
        env = f"GIT_AUTHOR_DATE={when} GIT_COMMITTER_DATE={when}"
        sh.run(["sh", "-c", f"{env} git commit -qm {msg}"], root)
    _write(root, FILES_WS)
    return root


def _both(sh: Sh, project: Path, tmp_path: Path, steps: list[Step]) -> list[tuple[Result, Result]]:
    """Each step run by dvc in one copy of ``project`` and by bale in another."""
    d = copy_repo(project, tmp_path / "dvc")
    b = copy_repo(project, tmp_path / "bale")
    dvc = run_dvc(sh, d, steps)
    bale = run_bale(sh, b, steps)
    shutil.rmtree(d)
    shutil.rmtree(b)
    return list(zip(dvc, bale, strict=True))


def _stderr_lines(err: str) -> list[str]:
    # dvc's line naming the revisions with files it could not read (its warnings
    # about a revision that does not load are worded differently, in substance the same)
    lines = err.splitlines()
    return [line.replace("DVC", "bale") for line in lines if "failed to load some" in line]


def _same_json(step: Step, d: Result, b: Result) -> None:
    assert (d.rc, b.rc) == (0, 0), (step, d.err, b.err)
    # dvc prints JSON on one line, to a pipe
    assert b.out.count("\n") == 1 and b.out.endswith("\n"), (step, b.out)
    assert b.json() == d.json(), step
    assert _stderr_lines(b.err) == _stderr_lines(d.err), step


def _table(text: str, markdown: bool) -> tuple[list[str], list[str]]:
    lines = text.splitlines()
    head = 2 if markdown else 1
    return lines[:head], sorted(lines[head:])


def _same_table(step: Step, d: Result, b: Result) -> None:
    assert (d.rc, b.rc) == (0, 0), (step, d.err, b.err)
    markdown = "--md" in step
    assert _table(b.out, markdown) == _table(d.out, markdown), step
    assert b.out.endswith("\n\n") == d.out.endswith("\n\n"), step
    assert _stderr_lines(b.err) == _stderr_lines(d.err), step


def test_params_diff_reads_every_params_file_of_every_dvcyaml(
    sh: Sh, project: Path, tmp_path: Path
) -> None:
    steps: list[Step] = [
        ("params", "diff", "--json"),
        ("params", "diff", "HEAD~1", "HEAD", "--json"),
        ("params", "diff", "HEAD~1", "--all", "--json"),
        ("@a", "params", "diff", "HEAD~1", "HEAD", "--json"),
        ("params", "diff", "HEAD~1", "HEAD"),
        ("params", "diff", "HEAD~1", "--all", "--md"),
        ("@t", "params", "diff", "HEAD~1", "--no-path"),
    ]
    results = _both(sh, project, tmp_path, steps)
    # the variables t/dvc.yaml interpolates show under their files, as dvc shows them
    assert results[1][0].json()["t/params.yaml"] == {
        "train.lr": {"old": 0.01, "new": 0.02, "diff": 0.01}
    }
    assert set(results[1][0].json()) == {
        "params.yaml",
        "a/config/train.json",
        "b/params.toml",
        "b/hp.py",
        "c/params.yaml",
        "t/params.yaml",
        "t/extra.json",
    }
    for step, (d, b) in zip(steps[:4], results[:4], strict=True):
        _same_json(step, d, b)
    for step, (d, b) in zip(steps[4:], results[4:], strict=True):
        _same_table(step, d, b)


def test_params_diff_targets_and_deps(sh: Sh, project: Path, tmp_path: Path) -> None:
    steps: list[Step] = [
        ("params", "diff", "--targets", "a/params.yaml", "b/params.toml", "--all", "--json"),
        ("params", "diff", "HEAD~1", "HEAD", "--targets", "t/params.yaml", "--json"),
        # dvc takes --targets from the repository root, whatever the current directory
        ("@a", "params", "diff", "--targets", "a/params.yaml", "params.yaml", "--all", "--json"),
        ("params", "diff", "--targets", "mdir", "--all", "--json"),
        ("params", "diff", "--targets", "nope.yaml", "--json"),
        ("params", "diff", "HEAD~1", "--deps", "--all", "--json"),
        ("@a", "params", "diff", "--targets", "a/params.yaml", "--all"),
    ]
    results = _both(sh, project, tmp_path, steps)
    assert results[2][0].json() == {
        "params.yaml": {
            "prep.ratio": {"old": 0.5, "new": 0.5, "diff": 0.0},
            "prep.size": {"old": 10, "new": 12, "diff": 2},
        },
        "../params.yaml": {"seed": {"old": 2, "new": 2, "diff": 0}},
    }
    for step, (d, b) in zip(steps[:-1], results[:-1], strict=True):
        _same_json(step, d, b)
    _same_table(steps[-1], *results[-1])


def test_metrics_show_like_dvc(sh: Sh, project: Path, tmp_path: Path) -> None:
    steps: list[Step] = [
        ("metrics", "show", "--json"),
        ("metrics", "show"),
        ("metrics", "show", "--md"),
        ("metrics", "show", "--precision", "2"),
        ("@a", "metrics", "show", "--json"),
        ("@a", "metrics", "show"),
        ("metrics", "show", "mdir", "nope.json", "a/metrics.json", "--json"),
        ("metrics", "show", "-R", "mdir"),
        ("metrics", "show", "nope.json"),
        ("@a", "metrics", "show", "metrics.json", "../b/score.json", "--json"),
    ]
    results = _both(sh, project, tmp_path, steps)
    # a declared metrics file that is absent: an error in JSON, a row of "-" in the table
    assert results[0][0].json()[""]["data"]["c/missing.json"] == {
        "error": {
            "type": "FileNotFoundError",
            "msg": "[Errno 2] No such file or directory: 'c/missing.json'",
        }
    }
    assert "\nc/missing.json  " in results[1][0].out
    assert results[0][0].json()[""]["data"]["c/rdir/deep/r2.yaml"] == {"data": {"q": 2}}
    for step, (d, b) in zip(steps, results, strict=True):
        if "--json" in step:
            _same_json(step, d, b)
        else:
            _same_table(step, d, b)


def test_metrics_diff_like_dvc(sh: Sh, project: Path, tmp_path: Path) -> None:
    steps: list[Step] = [
        ("metrics", "diff", "--json"),
        ("metrics", "diff", "HEAD~1", "HEAD", "--all", "--json"),
        ("metrics", "diff", "--targets", "a/metrics.json", "--all", "--json"),
        ("@a", "metrics", "diff", "HEAD~1", "--targets", "metrics.json", "--json"),
        ("metrics", "diff", "HEAD~1", "--targets", "mdir", "--json"),
        ("metrics", "diff", "HEAD~1"),
        ("metrics", "diff", "HEAD~1", "HEAD", "--all", "--md", "--precision", "2"),
        ("@b", "metrics", "diff", "HEAD~1", "--no-path"),
    ]
    results = _both(sh, project, tmp_path, steps)
    assert results[0][0].json() == {"b/score.json": {"score": {"old": 3, "new": 4, "diff": 1}}}
    assert results[1][0].json()["c/rdir/r1.json"] == {"r": {"old": 1, "new": 1.5, "diff": 0.5}}
    for step, (d, b) in zip(steps, results, strict=True):
        if "--json" in step:
            _same_json(step, d, b)
        else:
            _same_table(step, d, b)


def test_json_is_one_line_per_command(sh: Sh, project: Path) -> None:
    # byte for byte where dvc's order is fixed: one file, keys in a fixed order
    for args in (
        ("metrics", "show", "mdir/m1.json", "--json"),
        ("params", "diff", "HEAD~1", "--targets", "c/params.yaml", "--json"),
    ):
        want = sh.dvc(*args, cwd=project).stdout
        assert sh.bale(*args, cwd=project).stdout == want, args
    assert json.loads(want) == {"c/params.yaml": {"k": {"old": 5, "new": 6, "diff": 1}}}


TEMPLATED = {
    "shared/common.yaml": "base:\n  seed: 7\n  tags: [x, y]\nlayers: [8, 16, 32]\n",
    "p/params.yaml": (
        "models:\n  small: {depth: 2}\n  big: {depth: 8}\nlrs: [0.1, 0.2]\n"
        "opt:\n  name: adam\n  beta: 0.9\nflag: true\n"
    ),
    "p/local.json": '{"loc": 5}\n',
    "p/dvc.yaml": (
        "vars:\n  - ../shared/common.yaml:base,layers\n  - {inline: 3}\n"
        "stages:\n"
        # foreach data and ${item...} are not tracked; ${opt.name} is
        "  fe:\n    foreach: ${models}\n    do:\n"
        "      cmd: echo ${item.depth} ${opt.name} ${inline}\n"
        # matrix data neither; a negative list position is tracked at its real position
        "  mx:\n    matrix:\n      lr: ${lrs}\n"
        "    cmd: echo ${item.lr} ${base.seed} ${layers[-1]}\n"
        # a file the stage names as params shows only what it names; a whole dict is not tracked
        "  d:\n    cmd: echo ${opt}\n    wdir: src\n    params:\n      - ../params.yaml:\n"
        "          - flag\n"
        # a stage's own vars file
        "  w:\n    vars:\n      - local.json\n    cmd: echo ${loc} ${layers.0}\n"
    ),
}


def test_params_diff_shows_the_variables_stages_interpolate(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    root = copy_repo(dvc_template, tmp_path / "repo")
    _write(
        root, {**TEMPLATED, "p/dvc.yaml": TEMPLATED["p/dvc.yaml"] + "  broken:\n    cmd: ${no}\n"}
    )
    sh.git("add", "-A", cwd=root)
    sh.git("commit", "-qm", "a revision whose p/dvc.yaml does not load", cwd=root)
    _write(root, TEMPLATED)
    sh.git("add", "-A", cwd=root)
    sh.git("commit", "-qm", "one", cwd=root)
    _write(
        root,
        {
            "shared/common.yaml": "base:\n  seed: 8\n  tags: [x, y]\nlayers: [8, 16, 64]\n",
            "p/params.yaml": TEMPLATED["p/params.yaml"].replace("adam", "sgd"),
            "p/local.json": '{"loc": 6}\n',
        },
    )
    steps: list[Step] = [
        ("params", "diff", "--all", "--json"),
        ("params", "diff", "HEAD~1", "--json"),
        ("@p", "params", "diff", "--all", "--json"),
        ("exp", "diff", "--json"),
    ]
    results = _both(sh, root, tmp_path, steps)
    assert results[0][0].json() == {
        "shared/common.yaml": {
            "base.seed": {"old": 7, "new": 8, "diff": 1},
            "layers.0": {"old": 8, "new": 8, "diff": 0},
            "layers.2": {"old": 32, "new": 64, "diff": 32},
        },
        "p/params.yaml": {"flag": {"old": True, "new": True, "diff": 0}},
        "p/local.json": {"loc": {"old": 5, "new": 6, "diff": 1}},
    }
    for step, (d, b) in zip(steps, results, strict=True):
        assert (d.rc, b.rc) == (0, 0), (step, d.err, b.err)
        assert b.json() == d.json(), step
    # the revision that does not load is named as it was given, as dvc names it
    assert _stderr_lines(results[1][1].err) == _stderr_lines(results[1][0].err)
    assert "'HEAD~1'" in results[1][0].err
    assert "WARNING: failed to load revision 'HEAD~1'" in results[1][1].err


LOCK = """\
schema: '2.0'
stages:
  m:
    cmd: echo m
    outs:
    - path: m.json
      hash: md5
      md5: 0123456789abcdef0123456789abcdef
      size: 9
"""


def test_metrics_files_that_cannot_be_read(sh: Sh, dvc_template: Path, tmp_path: Path) -> None:
    root = copy_repo(dvc_template, tmp_path / "repo")
    _write(
        root,
        {
            "s/dvc.yaml": (
                "metrics: [broken.json, broken.yaml, bad.toml, list.json, gone.json]\n"
                "stages:\n  m:\n    cmd: echo m\n    metrics: [m.json]\n"
            ),
            # a cached metrics file that is neither in the workspace nor in the cache
            "s/dvc.lock": LOCK,
            "s/broken.json": '{"a": \n',
            "s/broken.yaml": "a: [\n",
            "s/bad.toml": "a = \n",
            "s/list.json": "[1, 2]\n",
        },
    )
    sh.git("add", "-A", cwd=root)
    sh.git("commit", "-qm", "one", cwd=root)
    steps: list[Step] = [("metrics", "show", "--json"), ("metrics", "show")]
    (d_json, b_json), (d_table, b_table) = _both(sh, root, tmp_path, steps)
    want = d_json.json()[""]["data"]
    got = b_json.json()[""]["data"]
    assert want["s/gone.json"]["error"] == {
        "type": "FileNotFoundError",
        "msg": "[Errno 2] No such file or directory: 's/gone.json'",
    }
    assert want["s/m.json"]["error"]["msg"] == "[Errno 2] No storage files available: 's/m.json'"
    assert want["s/list.json"] == {"data": {}}
    assert set(got) == set(want)
    for name, entry in want.items():
        if "error" not in entry or entry["error"]["type"] == "FileNotFoundError":
            assert got[name] == entry, name
        else:
            # dvc's type; bale's message says where the file is broken (dvc's names
            # the file by an odd relative path and says it "is corrupted")
            assert got[name]["error"]["type"] == entry["error"]["type"], name
    assert _stderr_lines(b_json.err) == _stderr_lines(d_json.err) != []
    _same_table(steps[1], d_table, b_table)


def test_metrics_show_of_branches_tags_and_commits(sh: Sh, project: Path, tmp_path: Path) -> None:
    root = copy_repo(project, tmp_path / "repo")
    sh.git("tag", "v1", "HEAD~1", cwd=root)
    sh.git("tag", "v2", cwd=root)
    sh.git("branch", "old", "HEAD~1", cwd=root)
    # an experiment's commit, on no branch: -A leaves it out, as dvc's does
    head = sh.git("rev-parse", "HEAD", cwd=root).stdout.strip()
    exp = sh.git("commit-tree", "HEAD^{tree}", "-p", "HEAD", "-m", "exp", cwd=root).stdout.strip()
    sh.git("update-ref", f"refs/exps/{head[:2]}/{head[2:]}/trial", exp, cwd=root)
    steps: list[Step] = [
        ("metrics", "show", "-a", "--json"),
        ("metrics", "show", "-T"),
        ("metrics", "show", "-A", "--json"),
        # one commit with several names is one revision, "master,v2"
        ("metrics", "show", "-a", "-T", "--md"),
        ("metrics", "show", "-a", "b/score.json", "--json"),
        # the workspace is left out when it shows what the checked-out branch shows,
        # unless a file could not be read (dvc compares the exceptions, never equal)
        "git checkout -q -- b/score.json",
        ("metrics", "show", "-a", "--json"),
        ("metrics", "show", "-a", "b/score.json", "--json"),
        ("metrics", "show", "-a", "b/score.json"),
    ]
    results = _both(sh, root, tmp_path, steps)
    assert set(results[0][0].json()) == {"workspace", "master", "old"}
    assert set(results[6][0].json()) == {"workspace", "master", "old"}
    assert exp not in results[2][1].json() and exp[:7] not in results[2][1].json()
    assert set(results[7][0].json()) == {"master", "old"}
    for step, (d, b) in zip(steps, results, strict=True):
        if isinstance(step, str):
            continue
        if "--json" in step:
            _same_json(step, d, b)
        else:
            _same_table(step, d, b)
    # --rev is bale's (dvc 3.x's command line has none): a named revision shows
    # what dvc shows for it under -T
    by_tag = json.loads(sh.dvc("metrics", "show", "-T", "--json", cwd=root).stdout)
    picked = json.loads(sh.bale("metrics", "show", "--rev", "v1", "--json", cwd=root).stdout)
    assert picked["v1"] == by_tag["v1"]
    assert set(picked) <= {"workspace", "v1"}
    bad = sh.bale("metrics", "show", "--rev", "nope", cwd=root, check=False)
    assert bad.returncode != 0 and "nope" in bad.stderr
