"""Differential tests of ``status``, ``diff``, ``stage list`` and ``remote list``
against dvc 3.67.1 (issue 20, items 3, 6 and 7): the same commands in twin
repositories, compared byte for byte on stdout and on the exit status.

The twins hold data tracked by ``.dvc`` files (a file, a directory, a file in
a subdirectory), a pipeline in the root ``dvc.yaml`` (a stage with a long
description, a ``foreach`` group, a metric not cached) and one in
``sub/dvc.yaml``, all run by dvc, so that their ``dvc.lock`` files are dvc's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.interop.conftest import copy_repo
from tests.interop.test_dvc_differential import (
    DvcBatch,
    Result,
    Sh,
    Step,
    commit_all,
    run_bale,
    run_dvc,
)

pytestmark = pytest.mark.interop

ROOT_PIPELINE = """\
stages:
  train:
    desc: Train the model on the prepared data, with a description long enough for dvc to cut
    cmd: cp data.txt model.txt && cp data.txt acc.json
    deps: [data.txt]
    outs: [model.txt]
    metrics:
    - acc.json:
        cache: false
  loop:
    foreach: [x, y]
    do:
      cmd: echo ${item} > out_${item}.txt
      outs: ["out_${item}.txt"]
"""

SUB_PIPELINE = """\
stages:
  prep:
    cmd: mkdir -p prepared && cp raw.csv prepared/p.csv
    deps: [raw.csv]
    outs: [prepared]
"""


@pytest.fixture(scope="module")
def project(sh: Sh, dvc_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committed project made by dvc (see the module's docstring)."""
    root = copy_repo(dvc_template, tmp_path_factory.mktemp("status-project") / "repo")
    (root / "sub").mkdir()
    (root / "images" / "deep").mkdir(parents=True)
    for name, text in {
        "data.txt": "1\n",
        "images/cat": "cat\n",
        "images/dog": "dog\n",
        "images/deep/eel": "eel\n",
        "sub/raw.csv": "a,b\n",
        "sub/notes.txt": "notes\n",
        "dvc.yaml": ROOT_PIPELINE,
        "sub/dvc.yaml": SUB_PIPELINE,
    }.items():
        (root / name).write_text(text)
    steps: list[Step] = [
        ("add", "data.txt", "images", "sub/notes.txt"),
        ("repro", "-q", "--all-pipelines"),
        commit_all("v1"),
    ]
    for step, r in zip(steps, run_dvc(sh, root, steps), strict=True):
        assert r.ok, f"{step}: {r.err}"
    return root


def twins(project: Path, tmp_path: Path, sh: Sh, setup: str = "") -> tuple[Path, Path]:
    """Two copies (dvc's, bale's) of ``project`` with ``setup`` run once in it."""
    base = copy_repo(project, tmp_path / "base")
    if setup:
        sh.run(["sh", "-c", setup], base)
    return copy_repo(base, tmp_path / "dvc"), copy_repo(base, tmp_path / "bale")


def compare(sh: Sh, d: Path, b: Path, steps: list[Step]) -> tuple[list[Result], list[Result]]:
    """Runs ``steps`` with dvc in ``d`` and bale in ``b``; every tool step's
    stdout and success must be dvc's."""
    batch = DvcBatch(sh, d, steps)  # dvc runs meanwhile
    bale = run_bale(sh, b, steps)
    dvc = batch.results()
    for step, dr, br in zip(steps, dvc, bale, strict=True):
        if isinstance(step, str):
            continue
        assert br.out == dr.out, f"{step}: bale printed\n{br.out}\ndvc printed\n{dr.out}"
        assert br.ok == dr.ok, f"{step}: dvc exit {dr.rc} {dr.err!r}, bale exit {br.rc} {br.err!r}"
    return dvc, bale


# Workspace changes: a file output, a file in a tracked directory and one
# gone from it, a stage dependency, a foreach output, an output of the
# pipeline in sub/.
CHANGES = (
    "echo 2 > data.txt && echo tabby > images/cat && rm images/dog && echo 0 > images/new"
    " && echo z > out_x.txt && echo more >> sub/prepared/p.csv && echo n2 > sub/notes.txt"
)


# --------------------------------------------------------------------------
# status


def test_status_prints_stages_and_outputs_as_dvc_does(
    sh: Sh, project: Path, tmp_path: Path
) -> None:
    d, b = twins(project, tmp_path, sh, CHANGES)
    steps: list[Step] = [
        ("status",),
        ("status", "--json"),
        ("status", "-q"),
        ("status", "images.dvc"),
        ("status", "--json", "sub/dvc.yaml:prep"),
        ("@sub", "status"),
        ("@sub", "status", "--json"),
        # several targets: in the order they are given
        ("status", "sub/notes.txt.dvc", "train", "data.txt"),
        ("status", "--json", "loop@x", "images"),
    ]
    dvc, _bale = compare(sh, d, b, steps)
    # The order is dvc's walk of the workspace: root files (.dvc files and
    # dvc.yaml, as the directory lists them) before sub/'s.
    assert list(dvc[1].json())[-2:] == ["sub/dvc.yaml:prep", "sub/notes.txt.dvc"]
    assert "\n" not in dvc[1].out.rstrip("\n")  # one line


def test_status_warns_of_a_frozen_stage_as_dvc_does(sh: Sh, project: Path, tmp_path: Path) -> None:
    setup = (
        "sed -i 's/^    cmd: cp data.txt model.txt/    frozen: true\\n&/' dvc.yaml"
        " && echo 2 > data.txt"
    )
    d, b = twins(project, tmp_path, sh, setup)
    steps: list[Step] = [("status",), ("status", "--json"), ("status", "train")]
    dvc, bale = compare(sh, d, b, steps)
    for dr, br in zip(dvc, bale, strict=True):
        assert "stage: 'train' is frozen" in dr.err
        assert br.err == dr.err


def test_status_of_an_empty_project_and_of_an_up_to_date_one(
    sh: Sh, dvc_template: Path, project: Path, tmp_path: Path
) -> None:
    empty_d = copy_repo(dvc_template, tmp_path / "empty-dvc")
    empty_b = copy_repo(dvc_template, tmp_path / "empty-bale")
    steps: list[Step] = [
        ("status",),
        ("status", "--json"),
        ("status", "-c"),
        ("diff", "--md"),
        "printf 'stages: {}\\n' > dvc.yaml",
        ("status",),
    ]
    compare(sh, empty_d, empty_b, steps)
    d, b = twins(project, tmp_path, sh)
    compare(sh, d, b, [("status",), ("status", "-q"), ("diff",), ("diff", "--json")])


def test_status_granular_lists_each_file_under_its_own_output(
    sh: Sh, project: Path, tmp_path: Path
) -> None:
    # bale's own flag (dvc has no --granular): the files that changed inside
    # a directory, under that directory's entry.
    _d, b = twins(project, tmp_path, sh, CHANGES + " && echo wolf > images/deep/wolf")
    out = sh.bale("status", "--granular", cwd=b).stdout
    lines = out.splitlines(keepends=True)
    start = lines.index("images.dvc:\n")
    end = next((i for i in range(start + 1, len(lines)) if lines[i][0] != "\t"), len(lines))
    entry = "".join(lines[start:end])
    assert entry == (
        "images.dvc:\n"
        "\tchanged outs:\n"
        "\t\tmodified:           images\n"
        "\t\t\tadded:          images/deep/wolf\n"
        "\t\t\tadded:          images/new\n"
        "\t\t\tdeleted:        images/dog\n"
        "\t\t\tmodified:       images/cat\n"
    )
    # Nothing of images/ is listed under another entry, and a file output
    # has no lines of its own.
    assert out.count("images/") == 4
    assert "data.txt/" not in out and "notes.txt/" not in out


# --------------------------------------------------------------------------
# diff


def test_diff_prints_as_dvc_does(sh: Sh, project: Path, tmp_path: Path) -> None:
    setup = (
        f"{CHANGES} && dvc commit -f -q && {commit_all('v2')}"
        " && echo 3 > data.txt && mv images/cat images/kat"
    )
    d, b = twins(project, tmp_path, sh, setup)
    steps: list[Step] = [
        ("diff",),
        ("diff", "--json"),
        ("diff", "--md"),
        ("diff", "--show-hash"),
        ("diff", "--json", "--show-hash"),
        ("diff", "--md", "--show-hash"),
        ("diff", "--hide-missing"),
        ("diff", "HEAD~1", "HEAD"),
        ("diff", "HEAD~1", "HEAD", "--md", "--show-hash"),
        ("diff", "HEAD", "HEAD~1", "--json", "--show-hash"),
        ("@sub", "diff", "HEAD~1", "--json"),
        # --targets: a directory output, a path inside one, a .dvc file, a
        # stage, a stage output from a subdirectory; one that names nothing
        ("diff", "--json", "--targets", "images"),
        ("diff", "HEAD~1", "--json", "--targets", "images/cat", "data.txt.dvc"),
        ("diff", "HEAD~1", "--show-hash", "--targets", "sub/dvc.yaml:prep", "loop@x"),
        ("@sub", "diff", "HEAD~1", "--json", "--targets", "prepared"),
        ("diff", "--json", "--targets", "sub"),
    ]
    dvc, _bale = compare(sh, d, b, steps)
    assert not dvc[-1].ok


def test_diff_names_stage_outputs_that_have_no_lock_entry(
    sh: Sh, project: Path, tmp_path: Path
) -> None:
    extra = (
        "  extra:\n    cmd: echo e > extra.txt\n    outs: [extra.txt]\n"
        "  extradir:\n    cmd: mkdir -p ed && echo 1 > ed/one\n    outs: [ed]\n"
    )
    setup = (
        f"printf '{extra}' >> dvc.yaml && {commit_all('declared')}"
        # HEAD: no dvc.lock committed at all (the workspace keeps it)
        " && git rm -q --cached dvc.lock && git commit -qm nolock"
    )
    d, b = twins(project, tmp_path, sh, setup)
    steps: list[Step] = [
        ("diff", "HEAD~1"),
        ("diff", "HEAD~1", "--json"),
        ("diff", "HEAD~2", "HEAD~1", "--json", "--show-hash"),
        ("diff", "HEAD~1", "HEAD", "--json", "--show-hash"),
        ("diff", "HEAD", "HEAD~1", "--json", "--show-hash"),
        "echo e > extra.txt && mkdir ed && echo 1 > ed/one",
        ("diff",),
        ("diff", "--json", "--show-hash"),
        ("diff", "HEAD~1", "--json", "--show-hash"),
    ]
    dvc, _bale = compare(sh, d, b, steps)
    assert dvc[1].json()["deleted"] == [{"path": "ed"}, {"path": "extra.txt"}]


# --------------------------------------------------------------------------
# stage list, remote list


def test_stage_list_prints_as_dvc_does(
    sh: Sh, dvc_template: Path, project: Path, tmp_path: Path
) -> None:
    # sub/extra: a desc whose first line is blanks (dvc then generates one),
    # a stage of params only
    extra = (
        'stages:\\n  blank:\\n    cmd: echo\\n    desc: "  \\\\n  second"\\n'
        "  tuned:\\n    cmd: echo\\n    params: [lr]\\n    deps: [in.txt]\\n"
    )
    d, b = twins(
        project, tmp_path, sh, f"mkdir -p sub/extra && printf '{extra}' > sub/extra/dvc.yaml"
    )
    steps: list[Step] = [
        ("stage", "list"),
        ("stage", "list", "--all"),
        ("stage", "list", "--name-only"),
        ("stage", "list", "--all", "--name-only"),
        ("stage", "list", "train"),
        ("stage", "list", "loop"),
        ("stage", "list", "images.dvc"),
        ("stage", "list", "sub/extra/dvc.yaml"),
        ("stage", "list", "-R", "sub/extra"),
        ("stage", "list", "-R", "."),  # dvc's graph order: what a stage needs before it
        ("@sub", "stage", "list"),
        ("@sub", "stage", "list", "--all"),
        ("@sub", "stage", "list", "../dvc.yaml"),
        ("@images", "stage", "list"),  # no dvc.yaml here: an error
    ]
    dvc, bale = compare(sh, d, b, steps)
    assert "\u2026" in dvc[0].out  # the long description is cut
    assert not dvc[-1].ok
    # ERROR: '<abs>/images/dvc.yaml' does not exist
    assert bale[-1].err == dvc[-1].err.replace(str(d), str(b))
    # and in a project with no dvc.yaml at all
    empty_d = copy_repo(dvc_template, tmp_path / "empty-dvc")
    empty_b = copy_repo(dvc_template, tmp_path / "empty-bale")
    compare(sh, empty_d, empty_b, [("stage", "list"), ("stage", "list", "--all")])


def test_stage_list_leaves_out_a_dvc_yaml_that_does_not_load_as_dvc_does(
    sh: Sh, project: Path, tmp_path: Path
) -> None:
    setup = "mkdir bad && printf 'stages:\\n  x:\\n    cmdd: echo\\n' > bad/dvc.yaml"
    d, b = twins(project, tmp_path, sh, setup)
    steps: list[Step] = [
        ("stage", "list"),
        ("stage", "list", "--all"),
        ("stage", "list", "--fail"),  # --fail matters only where dvc walks the project
        ("stage", "list", "--all", "--fail"),
        ("stage", "list", "bad/dvc.yaml"),
    ]
    dvc, _bale = compare(sh, d, b, steps)
    assert [r.ok for r in dvc] == [True, True, True, False, False]


def test_remote_list_pads_and_orders_as_dvc_does(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    # Config order, not sorted; the default marked at the level shown; tabs
    # expanded to 8-column stops (a name of 8 characters gets a full tab).
    base = copy_repo(dvc_template, tmp_path / "base")
    (base / ".dvc" / "config").write_text(
        "[core]\n    remote = alpha\n"
        "['remote \"zeta\"']\n    url = /tmp/zeta\n"
        "['remote \"alpha\"']\n    url = /srv/data\n"
        "['remote \"12345678\"']\n    url = s3://bucket/x\n"
    )
    (base / ".dvc" / "config.local").write_text("['remote \"loc\"']\n    url = /tmp/loc\n")
    d, b = copy_repo(base, tmp_path / "dvc"), copy_repo(base, tmp_path / "bale")
    steps: list[Step] = [
        ("remote", "list"),
        ("remote", "list", "--project"),
        ("remote", "list", "--local"),
        ("remote", "default", "--local", "loc"),
        ("remote", "list"),
        ("remote", "list", "--local"),
    ]
    dvc, _bale = compare(sh, d, b, steps)
    assert dvc[0].out.splitlines() == [
        "zeta    /tmp/zeta",
        "alpha   /srv/data       (default)",
        "12345678        s3://bucket/x",
        "loc     /tmp/loc",
    ]


def test_diff_lists_each_file_of_a_directory_the_cache_lacks(
    sh: Sh, project: Path, tmp_path: Path
) -> None:
    import hashlib

    dog = hashlib.md5(b"dog\n").hexdigest()
    d, b = twins(project, tmp_path, sh, f"rm .dvc/cache/files/md5/{dog[:2]}/{dog[2:]}")
    steps: list[Step] = [
        ("diff", "--json"),
        ("diff",),
        ("diff", "--md", "--show-hash"),
        ("diff", "--json", "--hide-missing"),
    ]
    dvc, _bale = compare(sh, d, b, steps)
    assert dvc[0].json()["not in cache"] == [{"path": "images/dog"}]


def test_status_checks_a_local_import_url_source_as_dvc_does(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    # Sources outside the repository (dvc names them by absolute path) and
    # inside it, a file and a directory, edited and deleted after the import.
    base = copy_repo(dvc_template, tmp_path / "base")
    outside = tmp_path / "sources"

    def sources() -> None:  # both tools edit the one outside source: each starts afresh
        shutil.rmtree(outside, ignore_errors=True)
        (outside / "dir").mkdir(parents=True)
        (outside / "labels.csv").write_text("a,b\n")
        (outside / "dir" / "x").write_text("x\n")

    sources()
    sh.run(["sh", "-c", "mkdir src && echo in > src/in.txt"], base)
    for src in (str(outside / "labels.csv"), str(outside / "dir"), "src/in.txt"):
        sh.dvc("import-url", src, cwd=base)
    # dvc 3 writes imports frozen; a project that updates its imports unfreezes them
    sh.run(["sh", "-c", "sed -i '/^frozen: true$/d' *.dvc"], base)
    d, b = copy_repo(base, tmp_path / "dvc"), copy_repo(base, tmp_path / "bale")
    steps: list[Step] = [
        ("status",),
        f"echo changed >> {outside}/labels.csv && echo y > {outside}/dir/y",
        ("status",),
        ("status", "--json"),
        "echo more >> src/in.txt",
        ("status", "--json"),
        f"rm {outside}/labels.csv",
        ("status",),
    ]
    dvc = DvcBatch(sh, d, steps).results()
    sources()
    bale = run_bale(sh, b, steps)
    for step, dr, br in zip(steps, dvc, bale, strict=True):
        if isinstance(step, tuple):
            assert br.out == dr.out, f"{step}: bale printed\n{br.out}\ndvc printed\n{dr.out}"
            assert br.ok == dr.ok, step
    assert "changed deps" in dvc[3].out  # the test means something
