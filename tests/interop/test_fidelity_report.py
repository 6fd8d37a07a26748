"""What ``pull``, ``push``, ``fetch``, ``checkout`` and ``init`` say about what
they did, and what ``-v`` adds, against dvc 3.67.1 on twin repositories with
a folder remote each (issue 20, items 7 and 9).

The plain output is compared byte for byte: dvc's ``A``/``M`` line per
changed output and its summary ("4 files fetched and 3 files added",
"Everything is up to date."). ``-v`` is compared in substance: dvc prints
debug lines on stdout, bale prints its own on stderr (stdout stays the
same with and without ``-v``), and both must name the remote and the cache
they use.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.interop.test_dvc_differential import (
    Result,
    Sh,
    Step,
    commit_all,
    differential,
    run_dvc,
)

pytestmark = pytest.mark.interop

# Each twin gets its own folder remote next to it (<twin>.remote), as default.
SETUP = (
    "mkdir data && echo a > data/a && echo b > data/b && echo m > model.pkl"
    " && git config -f .dvc/config core.remote r"
    ' && git config -f .dvc/config remote.r.url "$(pwd).remote"'
    " && git add .dvc/config && git commit -qm remote"
)


def assert_same_reports(
    steps: list[Step], dvc: list[Result], bale: list[Result], skip: tuple[int, ...] = ()
) -> None:
    """Every tool step but ``skip``: the same exit status and stdout, and
    nothing on bale's stderr (dvc prints nothing there either)."""
    for i, (step, d, b) in enumerate(zip(steps, dvc, bale, strict=True)):
        if isinstance(step, str):
            assert d.ok and b.ok, f"{step}: {d.err!r} / {b.err!r}"
            continue
        if i in skip:
            continue
        assert (b.rc, b.out) == (d.rc, d.out), f"step {i} {step}: dvc {d}, bale {b}"
        assert b.err == "", f"step {i} {step}: {b.err!r}"


def test_push_fetch_pull_report_like_dvc(sh: Sh, dvc_template: Path, tmp_path: Path) -> None:
    steps: list[Step] = [
        ("add", "data", "model.pkl"),
        commit_all("v1"),
        ("push",),
        ("push",),
        ("pull",),
        "rm -rf data model.pkl .dvc/cache",
        ("pull",),
        "rm data/a",
        ("pull",),
        ("fetch",),
        "rm -rf .dvc/cache",
        ("fetch",),
        "rm -rf data model.pkl && mkdir data",
        ("@data", "pull"),
    ]
    dvc, bale, _d, _b = differential(sh, dvc_template, tmp_path, steps, SETUP)
    assert_same_reports(steps, dvc, bale, skip=(0,))
    # What dvc says, spelled out (the comparison above would pass if both were silent).
    assert [dvc[i].out for i in (2, 3, 6, 8, 11, 13)] == [
        "4 files pushed\n",
        "Everything is up to date.\n",
        "A       data/\nA       model.pkl\n4 files fetched and 3 files added\n",
        "M       data/\n1 file added\n",
        "4 files fetched\n",
        "M       ./\nA       ../model.pkl\n3 files added\n",
    ]


def test_checkout_reports_like_dvc(sh: Sh, dvc_template: Path, tmp_path: Path) -> None:
    steps: list[Step] = [
        ("add", "data", "model.pkl"),
        commit_all("v1"),
        "echo b2 > data/b && echo c > data/c && echo m2 > model.pkl",
        ("add", "data", "model.pkl"),
        commit_all("v2"),
        "git checkout -q HEAD~1",
        ("checkout",),
        ("checkout",),
        "git checkout -q -",
        ("checkout", "--summary"),
        ("checkout", "--summary"),
        "rm data/a",
        ("checkout", "data/a"),
        "rm -rf data",
        ("checkout", "data"),
        "echo new > data/new && echo more >> data/b",
        ("checkout", "-f"),
        "rm model.pkl",
        ("@data", "checkout"),
        "rm -rf data && echo a file > data",
        ("checkout", "-f", "data"),
    ]
    dvc, bale, _d, _b = differential(sh, dvc_template, tmp_path, steps, SETUP)
    assert_same_reports(steps, dvc, bale, skip=(0, 3))
    assert [dvc[i].out for i in (6, 7, 9, 10, 14, 16, 18)] == [
        "M       data/\nM       model.pkl\n",
        "",
        "2 files modified and 1 file added\n",
        "No changes.\n",
        "A       data/\n",
        "M       data/\n",
        "A       ../model.pkl\n",
    ]


def test_verbose_names_the_remote_and_the_cache_as_dvc_does(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    steps: list[Step] = [
        ("add", "data", "model.pkl"),
        commit_all("v1"),
        ("push", "-v"),
        "rm -rf data/a .dvc/cache",
        ("fetch", "-v"),
        ("pull", "-v"),
        ("status", "-v"),
        "rm model.pkl",
        ("checkout", "-v"),
        "rm model.pkl",
        ("-v", "checkout"),  # before the command, as dvc also takes it
    ]
    dvc, bale, d, b = differential(sh, dvc_template, tmp_path, steps, SETUP)
    for i in (2, 4, 5):
        for root, said in ((d, dvc[i].out + dvc[i].err), (b, bale[i].err)):
            # dvc: "Preparing to transfer data from '<cache>' to '<remote>'"
            assert f"{root}.remote" in said, (steps[i], said)
            assert str(root / ".dvc" / "cache") in said, (steps[i], said)
    # What was moved and checked out, by name.
    assert "data" in bale[4].err and "model.pkl" in bale[4].err
    assert "checking out data" in bale[5].err
    # dvc names each .dvc file it looks at; bale each output and its .dvc file.
    for name in ("data.dvc", "model.pkl.dvc"):
        assert name in dvc[6].out and name in bale[6].err
    assert "checking out model.pkl" in bale[8].err
    # -v adds to stderr only: stdout is what dvc prints besides its debug
    # lines (some of which carry tracebacks), which end with dvc's own.
    for i in (2, 4, 5, 6, 8, 10):
        plain = "".join(ln for ln in dvc[i].out.splitlines(True) if " DEBUG: " not in ln)
        assert bale[i].out and plain.endswith(bale[i].out), (steps[i], plain, bale[i].out)
        assert bale[i].err.startswith("DEBUG: "), steps[i]


def test_verbose_says_why_an_output_is_skipped(sh: Sh, dvc_template: Path, tmp_path: Path) -> None:
    steps: list[Step] = [
        ("add", "data", "model.pkl"),
        "sed -i 's/^  path: model.pkl/  path: model.pkl\\n  push: false/' model.pkl.dvc",
        ("push", "-v"),
    ]
    _dvc, bale, _d, _b = differential(sh, dvc_template, tmp_path, steps, SETUP)
    assert "model.pkl: skipped: model.pkl.dvc says push: false" in bale[2].err


def test_init_says_the_hash_mode_and_how_to_share_with_dvc(sh: Sh, tmp_path: Path) -> None:
    native = tmp_path / "native"
    native.mkdir()
    sh.git("init", "-q", cwd=native)
    out = sh.bale("init", cwd=native).stdout
    assert out == (
        f"Initialized bale repository in {native}.\n"
        "Hash: blake3, bale's own format (faster): dvc cannot read the data stored here.\n"
        "For a repository dvc can share, use --hash md5: "
        "bale init -f --hash md5 (before adding data).\n"
        "\n"
        "You can now commit the changes to git.\n"
    )
    # The advice works: after it, dvc checks out what bale added.
    out = sh.bale("init", "-f", "--hash", "md5", cwd=native).stdout
    assert out == (
        f"Initialized bale repository in {native}.\n"
        "Hash: md5, dvc's format: dvc and bale read each other's data.\n"
        "\n"
        "You can now commit the changes to git.\n"
    )
    (native / "f.txt").write_text("data\n")
    sh.bale("add", "f.txt", cwd=native)
    (native / "f.txt").unlink()
    [pulled] = run_dvc(sh, native, [("checkout",)])
    assert pulled.ok and (native / "f.txt").read_text() == "data\n", pulled
    # Without git, no word about committing (dvc says none either).
    plain = tmp_path / "plain"
    out = sh.bale("init", "--no-scm", "--hash", "md5", str(plain), cwd=tmp_path).stdout
    assert out.endswith("read each other's data.\n")


def test_pull_and_checkout_name_what_they_did_before_failing(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    # model.pkl's object is taken off the remote: both tools fetch and check
    # out data/, name it, and fail for model.pkl.
    gone = "files/md5/$(md5sum model.pkl | cut -c1-2)/$(md5sum model.pkl | cut -c3-32)"
    steps: list[Step] = [
        ("add", "data", "model.pkl"),
        ("push",),
        f'rm "$(pwd).remote/{gone}" && rm -rf data model.pkl .dvc/cache',
        ("pull",),
        "rm -rf data",
        ("checkout",),
    ]
    dvc, bale, _d, _b = differential(sh, dvc_template, tmp_path, steps, SETUP)
    assert dvc[3].out == "A       data/\n3 files fetched and 2 files added\n"
    assert dvc[5].out == "A       data/\n"
    for i in (3, 5):
        assert not dvc[i].ok
        assert (bale[i].ok, bale[i].out) == (dvc[i].ok, dvc[i].out)
        assert "model.pkl" in bale[i].err
