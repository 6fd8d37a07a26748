"""Differential tests for pipelines: one sequence of commands through dvc 3.67.1
and through bale, compared on what a user or a script sees (which stages ran,
``status --json``, ``dvc.lock`` bytes, ``.gitignore`` files, metrics/params JSON).

dvc takes about a second to start, so a test runs it only where the comparison
needs it live; elsewhere the expected value (marked "dvc:") was recorded by
running dvc 3.67.1 on the same sequence. A test marked ``xfail`` pins a known
bale bug: fixing the bug turns it into a failure (strict), to be unmarked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.interop.conftest import Sh, copy_repo


def _repo(template: Path, dest: Path, files: dict[str, str]) -> Path:
    root = copy_repo(template, dest)
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def _twins(template: Path, tmp_path: Path, files: dict[str, str]) -> tuple[Path, Path]:
    """The same project twice: the first for dvc, the second for bale."""
    return _repo(template, tmp_path / "dvc", files), _repo(template, tmp_path / "bale", files)


def _ran(root: Path) -> list[str]:
    """The stages whose command ran since the last call (each appends its name to ``log``)."""
    log = root / "log"
    if not log.exists():
        return []
    names = log.read_text().split()
    log.unlink()
    return names


def _status(sh: Sh, tool: str, cwd: Path, *targets: str) -> Any:
    run = sh.dvc if tool == "dvc" else sh.bale
    return json.loads(run("status", "--json", *targets, cwd=cwd).stdout)


def _json(sh: Sh, tool: str, cwd: Path, *args: str) -> Any:
    run = sh.dvc if tool == "dvc" else sh.bale
    return json.loads(run(*args, "--json", cwd=cwd).stdout)


def _commit(sh: Sh, root: Path, msg: str) -> None:
    sh.git("add", "-A", cwd=root)
    sh.git("commit", "-qm", msg, cwd=root)


# ---------------------------------------------------------------------------
# repro: which stages run


CHAIN = """\
stages:
  a:
    cmd: cp in.txt a.txt; echo a >> log
    deps: [in.txt]
    params: [a]
    outs: [a.txt]
  b:
    cmd: cp a.txt b.txt; echo b >> log
    deps: [a.txt]
    params: [b.c]
    outs: [b.txt]
  c:
    cmd: cp b.txt c.txt; echo c >> log
    deps: [b.txt]
    outs: [c.txt]
"""
CHAIN_PARAMS = "a: 1\nb: {c: 2, d: 3}\n"


def test_repro_reruns_the_stages_dvc_reruns(sh: Sh, dvc_repo: Path) -> None:
    root = dvc_repo
    (root / "in.txt").write_text("1\n")
    (root / "params.yaml").write_text(CHAIN_PARAMS)
    (root / "dvc.yaml").write_text(CHAIN)
    # (file to rewrite, repro arguments, stages dvc runs)
    steps: list[tuple[tuple[str, str] | None, list[str], list[str]]] = [
        (None, [], ["a", "b", "c"]),
        (None, [], []),
        (("in.txt", "2\n"), [], ["a", "b", "c"]),
        (("params.yaml", CHAIN_PARAMS.replace("d: 3", "d: 4")), [], []),  # b.d is not a dep
        (("params.yaml", CHAIN_PARAMS.replace("c: 2", "c: 5")), [], ["b"]),  # b.txt same: c skips
        (None, ["-f", "b"], ["a", "b"]),  # -f forces the upstream too
        (None, ["-f", "-s", "b"], ["b"]),
        (("in.txt", "3\n"), ["--downstream", "b"], []),  # a changed, but is not in scope
    ]
    for i, (edit, args, expected) in enumerate(steps):
        if edit:
            (root / edit[0]).write_text(edit[1])
        sh.bale("repro", *args, cwd=root)
        assert _ran(root) == expected, f"step {i}: repro {args}"
    st = {"a": [{"changed deps": {"in.txt": "modified"}}]}
    assert _status(sh, "bale", root) == st
    assert _status(sh, "dvc", root) == st


FLAGS = """\
stages:
  fr:
    cmd: cp in.txt fr.txt; echo fr >> log
    deps: [in.txt]
    outs: [fr.txt]
  ac:
    cmd: cp in.txt ac.txt; echo ac >> log
    outs: [ac.txt]
    always_changed: true
  nc:
    cmd: cat in.txt >> nc.txt; echo nc >> log
    deps: [in.txt]
    outs:
    - nc.txt:
        cache: false
  ps:
    cmd: cat in.txt >> ps.txt; echo ps >> log
    deps: [in.txt]
    outs:
    - ps.txt:
        persist: true
  down:
    cmd: cat ac.txt fr.txt > down.txt; echo down >> log
    deps: [ac.txt, fr.txt]
    outs: [down.txt]
"""


def test_frozen_always_changed_uncached_and_persistent_stages(sh: Sh, dvc_repo: Path) -> None:
    root = dvc_repo
    (root / "in.txt").write_text("1\n")
    (root / "dvc.yaml").write_text(FLAGS)
    sh.bale("repro", cwd=root)
    assert _ran(root) == ["fr", "ac", "nc", "ps", "down"]
    sh.bale("repro", cwd=root)
    assert _ran(root) == ["ac"]  # ac.txt came out the same: down is skipped
    (root / "dvc.yaml").write_text(
        FLAGS.replace("outs: [fr.txt]", "outs: [fr.txt]\n    frozen: true")
    )
    (root / "in.txt").write_text("2\n")
    # dvc: a frozen stage shows no changed deps
    assert _status(sh, "bale", root) == {
        "ac": ["always changed"],
        "nc": [{"changed deps": {"in.txt": "modified"}}],
        "ps": [{"changed deps": {"in.txt": "modified"}}],
    }
    sh.bale("repro", cwd=root)
    assert _ran(root) == ["ac", "nc", "ps", "down"]
    # dvc: an uncached output is removed before the run, a persistent one is kept
    assert (root / "nc.txt").read_text() == "2\n"
    assert (root / "ps.txt").read_text() == "1\n2\n"
    assert (root / "fr.txt").read_text() == "1\n"
    # dvc: -f on a frozen stage runs nothing but records the current deps
    sh.bale("repro", "-f", "fr", cwd=root)
    assert _ran(root) == []
    assert "md5: 26ab0db90d72e28ad0ba1e22ee510510" in (root / "dvc.lock").read_text()
    assert (root / ".gitignore").read_text() == "/fr.txt\n/ac.txt\n/ps.txt\n/down.txt\n"
    assert _status(sh, "bale", root) == {"ac": ["always changed"]}


def test_editing_a_stage_definition_changes_status_as_in_dvc(sh: Sh, dvc_repo: Path) -> None:
    root = dvc_repo
    (root / "params.yaml").write_text("a: 1\nb: 2\n")
    (root / "in.txt").write_text("i\n")
    (root / "in2.txt").write_text("j\n")
    orig = (
        "stages:\n  s:\n    cmd: cp in.txt o.txt\n    deps: [in.txt]\n"
        "    params: [a]\n    outs: [o.txt]\n"
    )
    (root / "dvc.yaml").write_text(orig)
    sh.bale("repro", cwd=root)
    # (old, new, dvc's status --json)
    edits: list[tuple[str, str, Any]] = [
        ("cp in.txt o.txt", "cp  in.txt o.txt", {"s": ["changed command"]}),
        ("[in.txt]", "[in.txt, in2.txt]", {"s": [{"changed deps": {"in2.txt": "modified"}}]}),
        ("    deps: [in.txt]\n", "", {}),  # a dep dropped from dvc.yaml changes nothing
        ("[a]", "[a, b]", {"s": [{"changed deps": {"params.yaml": {"b": "new"}}}]}),
        ("[o.txt]", "[o.txt, o2.txt]", {"s": [{"changed outs": {"o2.txt": "deleted"}}]}),
        ("[o.txt]", "[{o.txt: {cache: false}}]", {}),
    ]
    for old, new, expected in edits:
        (root / "dvc.yaml").write_text(orig.replace(old, new))
        assert _status(sh, "bale", root) == expected, (old, new)


# ---------------------------------------------------------------------------
# dvc.lock: byte-identical, and clean for the other tool


TEMPLATED = r"""
vars:
  - cfg.yaml:other
  - local: 7
stages:
  t1:
    cmd: echo ${model.lr} ${other.x} ${local} ${model} ${flag} > t1.txt
    deps: [in.txt]
    outs: [t1.txt]
  t2:
    cmd: echo ${name} > ${name}.txt
    params: [model.lr]
    outs: ["${name}.txt"]
  fe:
    foreach: ${jobs}
    do:
      cmd: echo ${item.lr} ${key} \${literal} > fe_${key}.txt
      deps:
      - ${item.files[0]}
      params:
      - jobs.${key}.lr
      outs:
      - fe_${key}.txt
  fl:
    foreach: [1, 2.5, true, "x y"]
    do:
      cmd: echo "${item}" > "fl_${item}.txt"
      outs: ["fl_${item}.txt"]
  mx:
    matrix:
      m: [x, y]
      n: [1, 2]
    cmd: echo ${item.m}${item.n} > mx_${item.m}_${item.n}.txt
    outs: ["mx_${item.m}_${item.n}.txt"]
  sv:
    vars:
      - sl: 9
    cmd: echo ${sl} ${num} ${fl} ${s} ${neg} > sv.txt
    outs: [sv.txt]
"""
TEMPLATED_FILES = {
    "params.yaml": (
        "model:\n  lr: 0.1\n  name: my model\nflag: true\nname: foo\n"
        "jobs:\n  j-1: {lr: 0.1, files: [in.txt]}\n  j_2: {lr: 0.2, files: [cfg.yaml]}\n"
        'num: 3\nfl: 1.50\ns: "007"\nneg: -2\n'
    ),
    "cfg.yaml": "other:\n  x: 5\n",
    "in.txt": "i\n",
    "dvc.yaml": TEMPLATED,
}


def test_templated_stages_lock_like_dvc(sh: Sh, dvc_template: Path, tmp_path: Path) -> None:
    a, b = _twins(dvc_template, tmp_path, TEMPLATED_FILES)
    sh.dvc("repro", cwd=a)
    sh.bale("repro", cwd=b)
    assert (b / "dvc.lock").read_text() == (a / "dvc.lock").read_text()
    assert (b / ".gitignore").read_text() == (a / ".gitignore").read_text()
    assert (b / "t1.txt").read_text() == (a / "t1.txt").read_text()
    # a value read through ${} is not a params dep; one listed in params is
    (a / "params.yaml").write_text(TEMPLATED_FILES["params.yaml"].replace("lr: 0.2", "lr: 0.3"))
    assert _status(sh, "bale", a) == {
        "fe@j_2": [
            {"changed deps": {"params.yaml": {"jobs.j_2.lr": "modified"}}},
            "changed command",
        ]
    }


SUBDIR = """\
stages:
  s1:
    cmd: cp src.txt s1.txt
    deps: [src.txt]
    params: [p]
    outs: [s1.txt]
  s2:
    wdir: ..
    cmd: cat in.txt sub/s1.txt > sub/s2.txt
    deps: [in.txt, sub/s1.txt]
    params: [top]
    outs: [sub/s2.txt]
  s3:
    wdir: data
    cmd: cp x.txt ../s3.txt && mkdir -p out && cp x.txt out/
    deps: [x.txt]
    params:
    - ../../params.yaml: [top]
    outs: [../s3.txt, out/]
"""


def test_wdir_and_a_dvcyaml_in_a_subdirectory(sh: Sh, dvc_template: Path, tmp_path: Path) -> None:
    files = {
        "in.txt": "1\n",
        "params.yaml": "top: 1\n",
        "sub/params.yaml": "p: 1\n",
        "sub/src.txt": "s\n",
        "sub/data/x.txt": "x\n",
        "sub/dvc.yaml": SUBDIR,
    }
    a, b = _twins(dvc_template, tmp_path, files)
    sh.dvc("repro", cwd=a / "sub")
    sh.bale("repro", cwd=b / "sub")
    for rel in ("sub/dvc.lock", "sub/.gitignore", "sub/data/.gitignore"):
        assert (b / rel).read_text() == (a / rel).read_text(), rel
    assert not (b / ".gitignore").exists()
    # params paths are relative to each stage's wdir
    (b / "params.yaml").write_text("top: 2\n")
    (b / "sub/params.yaml").write_text("p: 3\n")
    assert _status(sh, "bale", b / "sub") == {
        "s1": [{"changed deps": {"params.yaml": {"p": "modified"}}}],
        "s2": [{"changed deps": {"../params.yaml": {"top": "modified"}}}],
        "s3": [{"changed deps": {"../params.yaml": {"top": "modified"}}}],
    }


MIXED = """\
stages:
  s1:
    cmd: ls data > s1.txt; cp in.txt s1b.txt
    deps: [data, in.txt]
    params:
    - tr
    - p.json: [k]
    - p.toml: [sec.val]
    - p.py: [X, C.y]
    outs:
    - s1.txt
    - s1b.txt:
        cache: false
  s2:
    cmd: sh s2.sh
    deps: [s1.txt]
    outs:
    - s2.txt:
        persist: true
    - d2
    metrics:
    - m.json:
        cache: false
    plots:
    - pl.csv:
        cache: false
  s3:
    cmd: cp d2/x s3.txt
    deps: [d2/x]
    outs: [s3.txt]
"""
MIXED_FILES = {
    "params.yaml": "tr:\n  lr: 0.1\n  opt: {name: adam, b: [1, 2]}\nother: 3\n",
    "p.json": '{"k": {"v": 1}}',
    "p.toml": "[sec]\nval = 2\n",
    "p.py": "X = 1\nclass C:\n    y = 2\n",
    "data/a.txt": "a\n",
    "data/b.tmp": "ignored\n",
    ".dvcignore": "*.tmp\n",
    "in.txt": "i\n",
    "s2.sh": (
        "cat s1.txt >> s2.txt; mkdir -p d2; cp s1.txt d2/x\n"
        """echo '{"m": 1}' > m.json; printf 'x,y\\n1,2\\n' > pl.csv\n"""
    ),
    "dvc.yaml": MIXED,
}


def test_each_tool_reads_the_others_lock_as_up_to_date(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    """Params from YAML, JSON, TOML and Python files, a directory dep with a
    .dvcignore'd file, uncached/persistent outputs, metrics and plots."""
    a, b = _twins(dvc_template, tmp_path, MIXED_FILES)
    sh.dvc("repro", cwd=a)
    sh.bale("repro", cwd=b)
    assert (b / "dvc.lock").read_text() == (a / "dvc.lock").read_text()
    assert (b / ".gitignore").read_text() == (a / ".gitignore").read_text()
    assert _status(sh, "bale", a) == {}
    (b / "data/c.tmp").write_text("still ignored\n")
    assert _status(sh, "dvc", b) == {}


def test_metrics_and_params_diff_json_like_dvc(sh: Sh, dvc_repo: Path) -> None:
    root = dvc_repo
    (root / "gen.sh").write_text(
        """echo '{"acc": 0.5, "loss": {"v": 1.25}, "n": 3, "s": "str"}' > m.json\n"""
        "printf 'auc: 0.7\\n' > sub_m.yaml\n"
    )
    (root / "params.yaml").write_text("a: 1\nb:\n  c: 2\n  d: [1, 2]\nunused: 5\n")
    (root / "p2.json").write_text('{"x": {"y": 1}, "z": "s"}')
    (root / "dvc.yaml").write_text(
        "stages:\n  s:\n    cmd: sh gen.sh\n    params:\n    - a\n    - b\n"
        "    - p2.json:\n      - x.y\n      - z\n"
        "    metrics:\n    - m.json:\n        cache: false\n"
        "    - sub_m.yaml:\n        cache: false\n"
    )
    sh.bale("repro", cwd=root)
    _commit(sh, root, "one")
    (root / "params.yaml").write_text("a: 2\nb:\n  c: 2\n  d: [1, 3]\nunused: 6\n")
    (root / "p2.json").write_text('{"x": {"y": 2}, "z": "s"}')
    (root / "gen.sh").write_text((root / "gen.sh").read_text().replace("0.5", "0.75"))
    sh.bale("repro", cwd=root)
    for args in (("metrics", "diff", "--all"), ("params", "diff", "--all")):
        assert _json(sh, "bale", root, *args) == _json(sh, "dvc", root, *args), args
    assert _json(sh, "bale", root, "metrics", "show") == {
        "": {
            "data": {
                "m.json": {"data": {"acc": 0.75, "loss": {"v": 1.25}, "n": 3, "s": "str"}},
                "sub_m.yaml": {"data": {"auc": 0.7}},
            }
        }
    }


# ---------------------------------------------------------------------------
# known bale bugs


def test_parsing_config_changes_how_a_dict_renders_in_cmd(sh: Sh, dvc_repo: Path) -> None:
    root = dvc_repo
    (root / ".dvc/config").write_text("[parsing]\n    list = append\n    bool = boolean_optional\n")
    (root / "params.yaml").write_text("t:\n  on: true\n  off: false\n  l: [1, 2]\n")
    (root / "dvc.yaml").write_text("stages:\n  u:\n    cmd: echo ${t} > u.txt\n    outs: [u.txt]\n")
    sh.bale("repro", cwd=root)
    # dvc: a list repeats its flag with list=append, a false bool gives --no-<key>
    assert (root / "u.txt").read_text() == "--on --no-off --l 1 --l 2\n"
    assert "cmd: echo --on --no-off --l 1 --l 2 > u.txt\n" in (root / "dvc.lock").read_text()


def test_params_diff_always_includes_the_root_params_yaml(sh: Sh, dvc_repo: Path) -> None:
    root = dvc_repo
    (root / "params.yaml").write_text("a: 1\nb: {c: 2}\n")
    (root / "extra.yaml").write_text("e: 1\n")
    (root / "dvc.yaml").write_text("params: [extra.yaml]\nstages:\n  s:\n    cmd: echo\n")
    _commit(sh, root, "one")
    (root / "params.yaml").write_text("a: 2\nb: {c: 2}\n")
    assert _json(sh, "bale", root, "params", "diff") == {
        "params.yaml": {"a": {"old": 1, "new": 2, "diff": 1}}
    }


def test_metrics_show_reads_a_metrics_directory(sh: Sh, dvc_repo: Path) -> None:
    root = dvc_repo
    (root / "mdir").mkdir()
    (root / "mdir/a.json").write_text('{"v": 1}')
    (root / "mdir/b.yaml").write_text("w: 2\n")
    (root / "dvc.yaml").write_text("metrics:\n  - mdir\n")
    assert _json(sh, "bale", root, "metrics", "show") == {
        "": {"data": {"mdir/a.json": {"data": {"v": 1}}, "mdir/b.yaml": {"data": {"w": 2}}}}
    }


def test_metrics_show_reads_a_cached_metric_missing_from_the_workspace(
    sh: Sh, dvc_repo: Path
) -> None:
    root = dvc_repo
    (root / "gen.sh").write_text("""echo '{"acc": 0.5}' > m.json\n""")
    (root / "dvc.yaml").write_text("stages:\n  s:\n    cmd: sh gen.sh\n    metrics: [m.json]\n")
    sh.bale("repro", cwd=root)
    _commit(sh, root, "one")
    (root / "m.json").unlink()
    # dvc: the value recorded in dvc.lock, from the cache; and diff sees no change
    assert _json(sh, "bale", root, "metrics", "show") == {
        "": {"data": {"m.json": {"data": {"acc": 0.5}}}}
    }
    assert _json(sh, "bale", root, "metrics", "diff") == {}


def test_metrics_diff_shows_a_metrics_file_only_the_old_revision_declares(
    sh: Sh, dvc_repo: Path
) -> None:
    root = dvc_repo
    (root / "m.json").write_text('{"acc": 0.7}')
    (root / "dvc.yaml").write_text("metrics: [m.json]\n")
    _commit(sh, root, "one")
    (root / "m.json").rename(root / "m2.json")
    (root / "dvc.yaml").write_text("metrics: [m2.json]\n")
    expected = {
        "m.json": {"acc": {"old": 0.7, "new": None}},
        "m2.json": {"acc": {"old": None, "new": 0.7}},
    }
    assert _json(sh, "dvc", root, "metrics", "diff") == expected
    assert _json(sh, "bale", root, "metrics", "diff") == expected


def test_metrics_diff_reads_a_metrics_directory_as_the_revision_holds_it(
    sh: Sh, dvc_repo: Path
) -> None:
    root = dvc_repo
    (root / "md").mkdir()
    (root / "md/a.json").write_text('{"acc": 0.5}')
    (root / "dvc.yaml").write_text("metrics: [md]\n")
    _commit(sh, root, "one")
    shutil.rmtree(root / "md")
    want = _json(sh, "dvc", root, "metrics", "diff")
    assert want == {"md/a.json": {"acc": {"old": 0.5, "new": None}}}
    assert _json(sh, "bale", root, "metrics", "diff") == want


def test_metrics_diff_skips_what_dvc_does_not_see_and_a_revision_it_cannot_load(
    sh: Sh, dvc_repo: Path
) -> None:
    root = dvc_repo
    (root / "fixtures").mkdir()
    (root / "fixtures/x.yaml").write_text("loss: 1\n")
    (root / "fixtures/dvc.yaml").write_text("metrics: [x.yaml]\n")
    (root / ".dvcignore").write_text("fixtures/\n")
    (root / "m.yaml").write_text("acc: 0.7\n")
    (root / "dvc.yaml").write_text("metrics: [m.yaml]\nstages:\n  s:\n    cmd: echo ${missing}\n")
    _commit(sh, root, "one")
    (root / "dvc.yaml").write_text("metrics: [m.yaml]\n")
    _commit(sh, root, "two")
    want = _json(sh, "dvc", root, "metrics", "diff")
    assert want == {}
    assert _json(sh, "bale", root, "metrics", "diff") == want
    # The first revision's dvc.yaml does not load: dvc warns and diffs without it.
    want = _json(sh, "dvc", root, "metrics", "diff", "HEAD~1", "HEAD")
    assert want == {"m.yaml": {"acc": {"old": None, "new": 0.7}}}
    run = sh.bale("metrics", "diff", "HEAD~1", "HEAD", "--json", cwd=root)
    assert json.loads(run.stdout) == want
    assert "WARNING: failed to load revision" in run.stderr


def test_params_diff_between_revisions_reads_each_revisions_own_stages(
    sh: Sh, dvc_repo: Path
) -> None:
    root = dvc_repo
    (root / "cfg.yaml").write_text("lr: 0.1\nbatch: 8\n")
    (root / "other.yaml").write_text("lr: 0.2\n")
    (root / "dvc.yaml").write_text("stages:\n  s:\n    cmd: echo\n    params: [{cfg.yaml: [lr]}]\n")
    _commit(sh, root, "one")
    (root / "dvc.yaml").write_text(
        "stages:\n  s:\n    cmd: echo\n    params: [{other.yaml: [lr]}]\n"
    )
    _commit(sh, root, "two")
    (root / "dvc.yaml").write_text("stages:\n  s:\n    cmd: echo\n")
    (root / "cfg.yaml").write_text("lr: 0.1\nbatch: 9\n")  # a key no stage tracked
    for args in (("HEAD~1", "HEAD"), ("HEAD~1",), ()):
        want = _json(sh, "dvc", root, "params", "diff", *args)
        assert _json(sh, "bale", root, "params", "diff", *args) == want, args
    assert _json(sh, "bale", root, "params", "diff", "HEAD~1", "HEAD") == {
        "cfg.yaml": {"lr": {"old": 0.1, "new": None}},
        "other.yaml": {"lr": {"old": None, "new": 0.2}},
    }


def test_metrics_and_params_paths_are_relative_to_the_current_directory(
    sh: Sh, dvc_repo: Path
) -> None:
    root = dvc_repo
    (root / "sub").mkdir()
    (root / "m.json").write_text('{"a": 1}')
    (root / "sub/n.json").write_text('{"b": 2}')
    (root / "params.yaml").write_text("p: 1\n")
    (root / "dvc.yaml").write_text(
        "metrics: [m.json, sub/n.json]\nstages:\n  s:\n    cmd: echo\n    params: [p]\n"
    )
    _commit(sh, root, "one")
    (root / "params.yaml").write_text("p: 2\n")
    sub = root / "sub"
    assert _json(sh, "bale", sub, "metrics", "show") == {
        "": {"data": {"../m.json": {"data": {"a": 1}}, "n.json": {"data": {"b": 2}}}}
    }
    assert _json(sh, "bale", sub, "params", "diff") == {
        "../params.yaml": {"p": {"old": 1, "new": 2, "diff": 1}}
    }


def test_status_of_an_output_target_reports_only_that_output(sh: Sh, dvc_repo: Path) -> None:
    root = dvc_repo
    (root / "in.txt").write_text("i\n")
    (root / "dvc.yaml").write_text(
        "stages:\n  a:\n    cmd: cp in.txt a.txt; mkdir -p od; cp in.txt od/f\n"
        "    deps: [in.txt]\n    outs: [a.txt, od]\n"
    )
    sh.bale("repro", cwd=root)
    (root / "a.txt").write_text("changed\n")
    (root / "od/f").write_text("changed\n")
    assert _status(sh, "bale", root, "a.txt") == {"a": [{"changed outs": {"a.txt": "modified"}}]}


DAG = """\
stages:
  a:
    cmd: cp in.txt a.txt
    deps: [in.txt]
    outs: [a.txt]
  b:
    cmd: cp a.txt b.txt
    deps: [a.txt]
    outs: [b.txt]
  c:
    cmd: cat a.txt b.txt > c.txt
    deps: [a.txt, b.txt]
    outs: [c.txt]
  lone:
    cmd: echo
"""


def test_dag_dot_is_byte_identical(sh: Sh, dvc_repo: Path) -> None:
    (dvc_repo / "dvc.yaml").write_text(DAG)
    assert sh.bale("dag", "--dot", cwd=dvc_repo).stdout == (
        'strict digraph {\n"a";\n"b";\n"c";\n"lone";\n"a" -> "b";\n"a" -> "c";\n"b" -> "c";\n}\n\n'
    )


def test_dag_o_draws_outputs_as_dvc_does(sh: Sh, dvc_repo: Path) -> None:
    (dvc_repo / "dvc.yaml").write_text(DAG)
    assert sh.bale("dag", "--dot", "-o", cwd=dvc_repo, check=False).stdout == (
        'strict digraph {\n"a.txt";\n"b.txt";\n"c.txt";\n'
        '"a.txt" -> "b.txt";\n"a.txt" -> "c.txt";\n"b.txt" -> "c.txt";\n}\n\n'
    )


def test_dag_full_and_outs_of_a_target_are_dvcs(sh: Sh, dvc_repo: Path) -> None:
    (dvc_repo / "dvc.yaml").write_text(DAG)
    for args in (["--dot", "b"], ["--dot", "--full", "b"], ["--dot", "-o", "--full", "b"]):
        theirs = sh.dvc("dag", *args, cwd=dvc_repo).stdout
        assert sh.bale("dag", *args, cwd=dvc_repo).stdout == theirs, args


def test_status_names_odd_stages_from_a_subdirectory_as_dvc(sh: Sh, dvc_repo: Path) -> None:
    deep = dvc_repo / "sub" / "deep"
    deep.mkdir(parents=True)
    (deep / "dvc.yaml").write_text(
        "stages:\n  prep.dvc:\n    cmd: echo\n    always_changed: true\n"
        '  x:\n    foreach: ["a:b"]\n    do:\n      cmd: echo ${item}\n      always_changed: true\n'
    )
    sub = dvc_repo / "sub"
    theirs = _status(sh, "dvc", sub)
    assert set(theirs) == {"deep/dvc.yaml:prep.dvc", "deep/dvc.yaml:x@a:b"}
    assert _status(sh, "bale", sub) == theirs
    assert "deep/dvc.yaml:prep.dvc:" in sh.bale("status", cwd=sub).stdout
