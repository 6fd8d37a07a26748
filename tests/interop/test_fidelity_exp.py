"""``exp show``, ``exp diff`` and ``exp apply`` against dvc 3.67.1 (issue 20,
items 1 and 8).

The read-only commands run with both tools in one repository, whose
experiments both tools made: what they print must be the same bytes (JSON
compared parsed, as dvc orders some of its keys by set iteration). The
commands that change the workspace run in twins.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.interop.conftest import copy_repo
from tests.interop.test_dvc_differential import Result, Step, run_bale, run_dvc
from tests.interop.test_pipelines import _project, _stages

Sh = Any

pytestmark = pytest.mark.interop

# a metrics file of its own, named by dvc.yaml's top level, whose keys meet
# metrics.json's ("loss") and a param's ("epochs" is train.epochs there)
EXTRA = '{"loss": 1.5, "acc": 0.25, "epochs": 3}\n'


def _commit(sh: Sh, root: Path, msg: str, day: int) -> None:
    """A commit at a fixed time, so that both tools order commits alike."""
    when = f"2024-01-{day:02d}T10:00:00"
    env = f"GIT_AUTHOR_DATE={when} GIT_COMMITTER_DATE={when}"
    sh.run(["sh", "-c", f"git add -A && {env} git commit -qm '{msg}'"], root)


@pytest.fixture(scope="module")
def history(sh: Sh, dvc_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three commits (nothing; a ``.dvc`` file, tagged; a pipeline, also on a
    branch), then an experiment by dvc and one by bale, the workspace as
    bale's run left it."""
    root = copy_repo(dvc_template, tmp_path_factory.mktemp("fidelity-exp") / "repo")
    _commit(sh, root, "init", 1)
    (root / "data.txt").write_text("hello\n")
    sh.dvc("add", "-q", "data.txt", cwd=root)
    _commit(sh, root, "data", 2)
    sh.git("tag", "v1", cwd=root)
    _project(root)
    with (root / "params.yaml").open("a") as f:
        f.write("seed: 7\n")  # no stage depends on it: --param-deps leaves it out
    _stages(sh, root, "dvc")
    (root / "extra.json").write_text(EXTRA)
    with (root / "dvc.yaml").open("a") as f:
        f.write("metrics:\n- extra.json\n")
    sh.dvc("repro", "-q", cwd=root)
    _commit(sh, root, "pipeline", 3)
    sh.git("branch", "other", cwd=root)
    sh.dvc("exp", "run", "-q", "-S", "train.lr=0.5", "-n", "by-dvc", cwd=root)
    sh.git("checkout", "-q", "--", ".", cwd=root)
    sh.dvc("checkout", "-q", cwd=root)
    sh.bale("exp", "run", "-q", "-S", "prepare.n=4", "-n", "by-bale", cwd=root)
    return root


SHOW: list[Step] = [
    ("exp", "show"),
    ("exp", "show", "--json"),
    ("exp", "show", "--csv"),
    ("exp", "show", "--md"),
    ("exp", "show", "-A"),
    ("exp", "show", "-A", "--json"),
    ("exp", "show", "-T", "--hide-workspace"),
    ("exp", "show", "--sha"),
    ("exp", "show", "--param-deps", "--json"),
    ("exp", "show", "--param-deps", "--csv"),
    ("exp", "show", "--only-changed"),
    ("exp", "show", "-A", "--only-changed", "--md"),
    ("exp", "show", "--sort-by", "metrics.json:loss"),
    ("exp", "show", "--sort-by", "prepare.n", "--sort-order", "desc"),
    ("exp", "show", "--sort-by", "loss"),  # two files have it: dvc refuses
    ("exp", "show", "--sort-by", "nope"),
    ("exp", "show", "--drop", "src/.*", "--keep", "train.lr", "--only-changed"),
    ("exp", "show", "--csv", "--precision", "2"),
]


def _same(steps: list[Step], dvc: list[Result], bale: list[Result]) -> None:
    for step, d, b in zip(steps, dvc, bale, strict=True):
        assert d.ok == b.ok, f"{step}: dvc exit {d.rc} {d.err!r}, bale exit {b.rc} {b.err!r}"
        if not d.ok:
            # one line, dvc's words (dvc lists an ambiguous column's matches
            # in a set's order)
            assert b.err.count("\n") == 1, b.err
            assert b.err.split(" matched ")[0] in d.err, (step, b.err, d.err)
        elif "--json" in step:
            assert b.json() == d.json(), step
        elif step[:2] == ("exp", "diff"):
            # dvc orders the files of a diff by set iteration; bale sorts them
            assert sorted(b.out.splitlines()) == sorted(d.out.splitlines()), (step, b.out, d.out)
        else:
            assert b.out == d.out, f"{step}\n--- dvc\n{d.out}\n--- bale\n{b.out}"


def test_exp_show_prints_what_dvc_prints(sh: Sh, history: Path, tmp_path: Path) -> None:
    root = copy_repo(history, tmp_path / "repo")
    _same(SHOW, run_dvc(sh, root, SHOW), run_bale(sh, root, SHOW))


def test_exp_show_before_the_first_commit(sh: Sh, dvc_repo: Path) -> None:
    steps: list[Step] = [("exp", "show"), ("exp", "show", "--json"), ("exp", "show", "--md")]
    _same(steps, run_dvc(sh, dvc_repo, steps), run_bale(sh, dvc_repo, steps))


def test_exp_show_with_a_missing_metrics_file(sh: Sh, history: Path, tmp_path: Path) -> None:
    root = copy_repo(history, tmp_path / "repo")
    (root / "metrics.json").unlink()
    steps: list[Step] = [
        ("exp", "show", "--json"),
        ("exp", "show", "--csv"),
        ("exp", "show"),
    ]
    _same(steps, run_dvc(sh, root, steps), run_bale(sh, root, steps))


def test_exp_diff_keeps_a_metrics_file_only_the_old_revision_has(
    sh: Sh, history: Path, tmp_path: Path
) -> None:
    root = copy_repo(history, tmp_path / "repo")
    (root / "extra.json").unlink()
    text = (root / "dvc.yaml").read_text()
    (root / "dvc.yaml").write_text(text.replace("metrics:\n- extra.json\n", ""))
    steps: list[Step] = [
        ("exp", "diff"),
        ("exp", "diff", "--json"),
        ("exp", "diff", "--md"),
        ("exp", "diff", "--all", "--no-path"),
        ("exp", "diff", "by-dvc"),
        ("exp", "diff", "by-dvc", "by-bale", "--json"),
        ("exp", "diff", "HEAD~1", "HEAD"),
        ("exp", "diff", "v1", "--param-deps", "--json"),
        ("exp", "diff", "v1", "by-bale", "--md", "--precision", "2"),
    ]
    dvc, bale = run_dvc(sh, root, steps), run_bale(sh, root, steps)
    _same(steps, dvc, bale)
    assert "extra.json" in json.loads(bale[1].out)["metrics"]


def _exp_json(out: str) -> list[dict[str, Any]]:
    """``exp show --json`` with what must differ between twins made at
    different times blanked: experiments' commit ids and times."""
    rows = json.loads(out)
    for row in rows:
        exps = row.get("experiments") or []
        # newest first; experiments made in one second are ordered by commit
        # id, which differs between twins (and one twin's two runs may share a
        # second where the other's do not): compared by name past that
        times = [e["revs"][0]["data"]["timestamp"] for e in exps]
        assert times == sorted(times, reverse=True), times
        exps.sort(key=lambda e: e["name"] or "")
        for e in exps:
            for state in e["revs"]:
                state["rev"] = state["data"]["rev"] = "<exp>"
                state["data"]["timestamp"] = "<time>"
    return rows


def test_exp_run_then_apply_as_dvc_does(sh: Sh, history: Path, tmp_path: Path) -> None:
    """``exp apply`` straight after ``exp run`` applies (the workspace holds
    that run's results, which its experiment keeps), and the results shown
    are dvc's."""
    steps: list[Step] = [
        "git checkout -q -- . && git clean -qfdx -e .dvc",
        ("checkout", "-q"),
        ("exp", "run", "-q", "-S", "train.lr=0.3", "-n", "first"),
        ("exp", "run", "-q", "-S", "prepare.n=2", "-n", "second"),
        ("exp", "apply", "first"),
        ("exp", "show", "--json"),
        "cat params.yaml metrics.json dvc.lock && git status --porcelain",
        ("exp", "apply", "second"),
        "cat params.yaml metrics.json dvc.lock && ls out/prep && git status --porcelain",
    ]
    d_root = copy_repo(history, tmp_path / "dvc")
    b_root = copy_repo(history, tmp_path / "bale")
    dvc, bale = run_dvc(sh, d_root, steps), run_bale(sh, b_root, steps)
    for step, d, b in zip(steps, dvc, bale, strict=True):
        assert d.ok and b.ok, (step, d.err, b.err)
        if step[0] == "exp" and step[1] == "apply":
            assert b.out == d.out
    assert _exp_json(bale[5].out) == _exp_json(dvc[5].out)
    assert bale[6].out == dvc[6].out
    assert bale[8].out == dvc[8].out


def _state(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.parts and ".dvc" not in p.parts
    }


def test_exp_apply_of_outputs_not_in_the_cache_changes_nothing(
    sh: Sh, history: Path, tmp_path: Path
) -> None:
    """dvc changes the files, then fails at its checkout; bale fails first."""
    lock = sh.git("show", f"{_exp_ref(sh, history, 'by-bale')}:dvc.lock", cwd=history)
    model = next(
        line.split()[-1]
        for line in lock.stdout.split("path: model.bin", 1)[1].splitlines()
        if line.strip().startswith("md5:")
    )
    # dvc has no -f (it always overwrites); bale's -f overwrites uncommitted
    # edits, but not when it cannot apply the data
    for tool, force in (("dvc", ()), ("bale", ()), ("bale", ("-f",))):
        root = copy_repo(history, tmp_path / "repo")
        sh.git("checkout", "-q", "--", ".", cwd=root)
        sh.dvc("checkout", "-q", "--force", cwd=root)
        (root / ".dvc/cache/files/md5" / model[:2] / model[2:]).unlink()
        if force:
            (root / "params.yaml").write_text("prepare:\n  n: 7\ntrain:\n  lr: 0.1\n  epochs: 2\n")
        before = _state(root), sh.git("status", "--porcelain", cwd=root).stdout
        run = sh.dvc if tool == "dvc" else sh.bale
        p = run("exp", "apply", *force, "by-bale", cwd=root, check=False)
        assert p.returncode != 0, p.stdout
        assert "model.bin" in p.stderr
        after = _state(root), sh.git("status", "--porcelain", cwd=root).stdout
        if tool == "bale":
            assert after == before, force
            assert p.stderr.count("\n") == 1 and "not in the cache" in p.stderr
        else:
            assert after != before  # dvc's half-applied workspace
        shutil.rmtree(root)


def _exp_ref(sh: Sh, root: Path, name: str) -> str:
    out = sh.git("for-each-ref", "--format=%(refname)", "refs/exps", cwd=root).stdout.split()
    return next(r for r in out if r.endswith("/" + name))


def test_exp_show_of_a_table_wider_than_dvc_prints(sh: Sh, dvc_repo: Path) -> None:
    """Beyond 1024 columns dvc's table drops dependency columns from the right."""
    deps = []
    for i in range(1, 41):
        (dvc_repo / f"dep{i}.txt").write_text(f"{i}\n")
        deps += ["-d", f"dep{i}.txt"]
    (dvc_repo / "params.yaml").write_text("a_long_parameter_name: 1\nb: 2\n")
    cmd = 'echo \'{"x": 1, "y": 2}\' > m.json'
    sh.dvc(
        "stage",
        "add",
        "-q",
        "-n",
        "s",
        "-p",
        "a_long_parameter_name,b",
        *deps,
        "-M",
        "m.json",
        cmd,
        cwd=dvc_repo,
    )
    sh.dvc("repro", "-q", cwd=dvc_repo)
    _commit(sh, dvc_repo, "wide", 1)
    steps: list[Step] = [("exp", "show"), ("exp", "show", "--drop", "dep1.txt")]
    dvc, bale = run_dvc(sh, dvc_repo, steps), run_bale(sh, dvc_repo, steps)
    _same(steps, dvc, bale)
    assert "dep9.txt" not in dvc[0].out and len(dvc[0].out.splitlines()[0]) > 1024


def test_exp_show_with_a_corrupt_metrics_file(sh: Sh, history: Path, tmp_path: Path) -> None:
    """dvc's error type; bale's message says where the file is broken (dvc's
    names the file by a path relative to somewhere else)."""
    root = copy_repo(history, tmp_path / "repo")
    (root / "extra.json").write_text("{bad\n")
    steps: list[Step] = [("exp", "show", "--csv"), ("exp", "show", "--json")]
    dvc, bale = run_dvc(sh, root, steps), run_bale(sh, root, steps)
    _same(steps[:1], dvc[:1], bale[:1])
    shown = [r.json()[0]["data"]["metrics"]["extra.json"]["error"] for r in (dvc[1], bale[1])]
    assert shown[1]["type"] == shown[0]["type"] == "JSONFileCorruptedError"
    assert shown[1]["msg"].startswith("extra.json: line 1")
