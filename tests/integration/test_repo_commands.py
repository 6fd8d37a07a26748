"""The repository commands (issue 24): ``root``, ``check-ignore``, ``move``,
``freeze``, ``destroy``, ``install``, ``completion``, ``data status`` and
``cache migrate``, each run by bale and by dvc 3.67.1 on twin repositories
of the same shape, comparing what they print, the files they write and
their exit status."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Run, _run, make_repo, read_tree, write_tree

pytestmark = pytest.mark.usefixtures("isolated_config")


def twins(tmp_path: Path, run: Run, *setup: tuple[str, ...]) -> tuple[Path, Path]:
    """An md5 repository (``repo``) after the bale commands ``setup``, git
    committed, and a copy of it (``twin``) for dvc to work in."""
    root = make_repo(tmp_path, "--hash", "md5")
    for args in setup:
        run(*args, cwd=root)
    run("git", "add", "-A", cwd=root)
    run("git", "commit", "-qm", "setup", cwd=root)
    twin = tmp_path / "twin"
    shutil.copytree(root, twin, symlinks=True)
    return root, twin


def same(
    run: Run, args: tuple[str, ...], bale_cwd: Path, dvc_cwd: Path
) -> subprocess.CompletedProcess[str]:
    """Runs ``bale <args>`` and ``dvc <args>``; asserts the same stdout and
    exit status (0 or not: failures are 1 for bale, 255 or 253 for dvc)."""
    b = run("bale", *args, cwd=bale_cwd, ok=None)
    d = run("dvc", *args, cwd=dvc_cwd, ok=None)
    assert (b.stdout, b.returncode == 0) == (d.stdout, d.returncode == 0), (b, d)
    if d.returncode in (0, 1):
        assert b.returncode == d.returncode
    return b


def test_root_is_the_relative_path_to_the_repository_as_dvc_prints_it(
    tmp_path: Path, run: Run
) -> None:
    root, twin = twins(tmp_path, run)
    for r in (root, twin):
        (r / "a" / "b").mkdir(parents=True)
    assert same(run, ("root",), root / "a" / "b", twin / "a" / "b").stdout == "../..\n"
    assert run("bale", "root", cwd=root).stdout == ".\n"
    assert run("bale", "root", cwd=root / "a").stdout == "..\n"
    outside = tmp_path / "outside"
    outside.mkdir()
    err = run("bale", "root", cwd=outside, ok=False).stderr
    assert err.startswith("ERROR: ") and "not inside a bale or dvc repository" in err


IGNORE_SHAPE = {
    ".dvcignore": "*.tmp\n!keep.tmp\nbuild/\n",
    "sub/.dvcignore": "/local\n",
    "x.tmp": "",
    "keep.tmp": "",
    "y.txt": "",
    "sub/local": "",
    "sub/deeper/local": "",
    "build/x/g": "",
}


@pytest.mark.parametrize(
    "args",
    [
        # ignored by a rule, re-included, by a nested file, under an ignored
        # directory, normalised, never there, outside, never tracked names
        (
            "x.tmp",
            "y.txt",
            "keep.tmp",
            "sub/local",
            "sub/deeper/local",
            "build/x/g",
            "sub/../x.tmp",
            "gone.tmp",
            "../x.tmp",
            ".git",
            ".dvc/config",
        ),
        ("y.txt", "sub", "keep.tmp"),  # nothing matched: exit 1
        ("-q", "x.tmp"),
    ],
)
def test_check_ignore_prints_the_ignored_targets_and_exits_as_dvc(
    tmp_path: Path, run: Run, args: tuple[str, ...]
) -> None:
    root, twin = twins(tmp_path, run)
    for r in (root, twin):
        write_tree(r, IGNORE_SHAPE)
    same(run, ("check-ignore", *args), root, twin)


def test_check_ignore_reads_stdin_until_an_empty_line_as_dvc(tmp_path: Path, run: Run) -> None:
    root, twin = twins(tmp_path, run)
    given = "y.txt\nsub/local\n\nx.tmp\n"
    outs = []
    for cmd, r in (([sys.executable, "-m", "bale"], root), (["dvc"], twin)):
        write_tree(r, IGNORE_SHAPE)
        p = _run([*cmd, "check-ignore", "--stdin"], r, ok=None, input=given)
        outs.append((p.stdout, p.returncode))
    assert outs[0] == outs[1] == ("sub/local\n", 0)


#: Nested .dvcignore files, negations, directory patterns, ``**``, a
#: sub-repository, a .dvcignore that an outer one ignores (so unread), and
#: a line after one of its run that matches too (dvc names the first: `*.txt`).
DETAILS_SHAPE = {
    ".dvcignore": (
        "# top\n\n  *.tmp  \n!keep.tmp\nbuild/\n**/cache\n*.txt\ne.txt\n!d.txt/\nign/.dvcignore\n"
    ),
    "sub/.dvcignore": "/local\n!*.tmp\nlogs/\n!logs/keep\n",
    "sub/deeper/.dvcignore": "!local\n*.bin\n!/keep.tmp/\n",
    "ign/.dvcignore": "x\n",
    "x.tmp": "",
    "keep.tmp": "",
    "y.md": "",
    "sub/local": "",
    "sub/a.tmp": "",
    "sub/logs/keep": "",
    "sub/deeper/local": "",
    "sub/deeper/z.bin": "",
    "sub/deeper/keep.tmp/f": "",
    "build/x/g": "",
    "a/b/cache/f": "",
    "top/d.txt/g.bin": "",
    "top/e.txt": "",
    "inner/.dvc/config": "",
    "inner/x": "",
    "ign/x": "",
    "sub/.hg": "",
}

DETAILS_TARGETS = (
    "x.tmp", "keep.tmp", "y.md", "gone.txt", "sub", "sub/local", "sub/a.tmp", "sub/b.tmp",
    "sub/logs", "sub/logs/keep", "sub/deeper", "sub/deeper/local", "sub/deeper/z.bin",
    "sub/deeper/keep.tmp", "sub/deeper/keep.tmp/f", "build", "build/x/g", "a/b/cache",
    "a/b/cache/f", "cache", "top/d.txt", "top/d.txt/g.bin", "top/e.txt", "inner", "inner/x",
    "ign/x", "ign/.dvcignore", "sub/.hg", ".git", ".git/HEAD", ".dvc/config", "sub/../x.tmp",
    "../x.tmp", ".",
)  # fmt: skip


@pytest.mark.parametrize(
    "flags",
    [(), ("-d",), ("-d", "-n"), ("-d", "-a"), ("-d", "-a", "-n"), ("--details", "--non-matching")],
)
def test_check_ignore_details_name_the_deciding_line_as_dvc(
    tmp_path: Path, run: Run, flags: tuple[str, ...]
) -> None:
    root, twin = twins(tmp_path, run)
    for r in (root, twin):
        write_tree(r, DETAILS_SHAPE)
    same(run, ("check-ignore", *flags, *DETAILS_TARGETS), root, twin)
    if flags == ("-d",):
        # one of each kind alone, for its exit status: 0 for a negation too,
        # with -d (every target is a process of each tool: a few, not all)
        for target in ("keep.tmp", "x.tmp", "y.md", "sub/deeper/local", "../x.tmp", ".git"):
            same(run, ("check-ignore", *flags, target), root, twin)


def test_check_ignore_details_from_a_subdirectory_and_stdin_as_dvc(
    tmp_path: Path, run: Run
) -> None:
    root, twin = twins(tmp_path, run)
    for r in (root, twin):
        write_tree(r, DETAILS_SHAPE)
    same(
        run,
        ("check-ignore", "-d", "-n", "local", "a.tmp", "deeper/z.bin", "../x.tmp"),
        root / "sub",
        twin / "sub",
    )
    given = "keep.tmp\nsub/local\ny.md\n\nx.tmp\n"
    outs = []
    for cmd, r in (([sys.executable, "-m", "bale"], root), (["dvc"], twin)):
        p = _run([*cmd, "check-ignore", "-d", "-n", "--stdin"], r, ok=None, input=given)
        outs.append((p.stdout, p.returncode))
    assert outs[0] == outs[1]
    assert outs[0] == (
        ".dvcignore:4:!keep.tmp\tkeep.tmp\nsub/.dvcignore:1:/local\tsub/local\n::\ty.md\n",
        0,
    )


def test_a_directory_holds_what_dvc_s_ignore_rules_leave_in_it(tmp_path: Path, run: Run) -> None:
    # `*.txt` then `!d.txt/`: the directory is back, the files in it are not
    # (a directory pattern decides no file, as in dvc and git)
    root, twin = twins(tmp_path, run)
    for r in (root, twin):
        write_tree(r, {".dvcignore": "*.txt\n!d.txt/\n", "top/d.txt/g.bin": "g", "top/f.bin": "f"})
    run("bale", "add", "top", cwd=root)
    run("dvc", "add", "top", cwd=twin)
    assert (root / "top.dvc").read_text() == (twin / "top.dvc").read_text()
    assert "nfiles: 1\n" in (root / "top.dvc").read_text()


def test_check_ignore_refuses_what_it_cannot_answer_in_one_line(tmp_path: Path, run: Run) -> None:
    root, _ = twins(tmp_path, run)
    for args, word in [
        ((), "name targets or give --stdin"),
        (("--stdin", "x"), "cannot go together"),
        (("-n", "x"), "-n needs --details"),
        (("-a", "x"), "-a needs --details"),
        (("-d", "-q", "x"), "--details and --quiet cannot go together"),
    ]:
        err = run("bale", "check-ignore", *args, cwd=root, ok=False).stderr
        assert err.startswith("ERROR: check-ignore: ") and word in err
        assert err.count("\n") == 1


def _workspace(root: Path) -> dict[str, bytes]:
    """The files a command may write: everything but git's and the caches'."""
    return {
        k: v
        for k, v in read_tree(root).items()
        if not k.startswith((".git/", ".dvc/tmp/", ".dvc/cache/"))
    }


def _hint(stdout: str) -> set[str]:
    """The files of a ``git add`` hint (dvc's order follows a set; bale sorts)."""
    line = next(ln for ln in stdout.splitlines() if ln.startswith("\tgit add "))
    return set(line.split()[2:])


MOVE_SHAPE = {"data/a": "a\n", "data/b/c": "c\n", "f.txt": "f\n", "g.txt": "g\n"}


def _move_twins(tmp_path: Path, run: Run) -> tuple[Path, Path]:
    """Twins tracking a directory, a file named by its .dvc file, and a file
    whose .dvc file has another name (``sub/custom.dvc``)."""
    root = make_repo(tmp_path, "--hash", "md5")
    write_tree(root, MOVE_SHAPE)
    run("bale", "add", "-q", "data", "f.txt", "g.txt", cwd=root)
    (root / "sub").mkdir()
    custom = (root / "g.txt.dvc").read_text().replace("path: g.txt", "path: ../g.txt")
    (root / "sub" / "custom.dvc").write_text(custom)
    (root / "g.txt.dvc").unlink()
    run("git", "add", "-A", cwd=root)
    run("git", "commit", "-qm", "setup", cwd=root)
    twin = tmp_path / "twin"
    shutil.copytree(root, twin, symlinks=True)
    return root, twin


def test_move_writes_what_dvc_move_writes(tmp_path: Path, run: Run) -> None:
    root, twin = _move_twins(tmp_path, run)
    moves = [
        # the .dvc file follows its output, into another directory, and the
        # .gitignore entries move (the root one is deleted once empty)
        ("f.txt", "sub/f2.txt"),
        ("data", "sub"),
        # a .dvc file named otherwise keeps its name; path: is made relative
        ("g.txt", "h.txt"),
        ("mv", "sub/data", "data2"),
    ]
    for move in moves:
        args = move if move[0] == "mv" else ("move", *move)
        b = run("bale", *args, cwd=root)
        d = run("dvc", *args, cwd=twin)
        assert _hint(b.stdout) == _hint(d.stdout)
        assert _workspace(root) == _workspace(twin)
    status = [run("git", "status", "--porcelain", cwd=r).stdout for r in (root, twin)]
    assert status[0] == status[1]
    # and each tool reads the other's result as unchanged
    assert run("dvc", "status", cwd=root).stdout == "Data and pipelines are up to date.\n"
    assert run("bale", "status", cwd=twin).stdout == "Data and pipelines are up to date.\n"


def test_move_refuses_stage_outputs_and_untracked_paths_as_dvc(tmp_path: Path, run: Run) -> None:
    root, twin = _move_twins(tmp_path, run)
    (root / "dvc.yaml").write_text(
        "stages:\n  s:\n    cmd: echo x > out.txt\n    outs: [out.txt]\n"
    )
    run("dvc", "repro", "-q", cwd=root)
    shutil.rmtree(twin)
    shutil.copytree(root, twin, symlinks=True)
    for args, why in (
        (("move", "out.txt", "o2.txt"), "is an output of stage 's'"),
        (("move", "nothing", "x"), "not tracked by any .dvc file"),
    ):
        before = _workspace(root)
        b = run("bale", *args, cwd=root, ok=False)
        if args[1] == "out.txt":
            run("dvc", *args, cwd=twin, ok=False)
        assert b.stderr.startswith("ERROR: ") and b.stderr.count("\n") == 1, b.stderr
        assert why in b.stderr
        assert _workspace(root) == before


PIPELINE = """\
stages:
  # a comment that must survive
  train:
    cmd: cp data.txt model.txt   # and this one
    deps: [data.txt]
    outs:
    - model.txt
  loop:
    foreach: [x, y]
    do:
      cmd: echo ${item} > out_${item}.txt
      outs: ["out_${item}.txt"]
"""


def test_freeze_and_unfreeze_write_what_dvc_writes_and_repro_honours_them(
    tmp_path: Path, run: Run
) -> None:
    root = make_repo(tmp_path, "--hash", "md5")
    write_tree(
        root,
        {
            "dvc.yaml": PIPELINE,
            "sub/dvc.yaml": "stages:\n  prep:\n    cmd: echo p > p.txt\n    outs: [p.txt]\n",
            "data.txt": "1\n",
            "f.txt": "f\n",
        },
    )
    run("bale", "add", "-q", "f.txt", cwd=root)
    run("bale", "repro", "-q", "--all-pipelines", cwd=root)
    twin = tmp_path / "twin"
    shutil.copytree(root, twin, symlinks=True)
    # found, parametrized, a group, in another dvc.yaml, a .dvc file, an
    # output; a failure does not stop the next target, and the status is 1
    targets = ("train", "loop@x", "loop", "sub/dvc.yaml:prep", "f.txt.dvc", "f.txt", "f.txt.dvc")
    # unfreeze first: of stages that are not frozen, it still says it modifies them
    for cmd in ("unfreeze", "freeze"):
        b = same(run, (cmd, *targets), root, twin)
        assert b.returncode == 1 and b.stderr.count("ERROR: ") == 3, b.stderr
        assert _workspace(root) == _workspace(twin), cmd
    assert "    frozen: true\n" in (root / "dvc.yaml").read_text()
    # a frozen stage is not run, though its dependency changed
    (root / "data.txt").write_text("2\n")
    assert run("bale", "status", "-q", cwd=root).returncode == 0
    run("bale", "repro", "-q", "train", cwd=root)
    assert (root / "model.txt").read_text() == "1\n"
    run("bale", "unfreeze", "-q", "train", cwd=root)
    run("bale", "repro", "-q", "train", cwd=root)
    assert (root / "model.txt").read_text() == "2\n"


DESTROY_SHAPE = {
    "data.txt": "1\n",
    "d/a": "a\n",
    "d/b/c": "c\n",
    "sub/params.yaml": "x: 1\n",
    "sub/dvc.yaml": "stages:\n  s:\n    cmd: cp ../data.txt o.txt\n    deps: [../data.txt]\n"
    "    outs: [o.txt]\n",
}


def test_destroy_removes_what_dvc_destroy_removes(tmp_path: Path, run: Run) -> None:
    root = make_repo(tmp_path, "--hash", "md5")
    write_tree(root, DESTROY_SHAPE)
    run("bale", "add", "-q", "data.txt", "d", cwd=root)
    run("bale", "repro", "-q", "--all-pipelines", cwd=root)
    twin = tmp_path / "twin"
    shutil.copytree(root, twin, symlinks=True)
    # Without -f and no terminal to ask, both refuse and change nothing.
    # dvc prints its question all the same (to stdout); bale asks only a
    # terminal, so a script's output holds no question nobody can answer.
    before = _workspace(root)
    run("bale", "destroy", cwd=root, ok=False)
    assert run("dvc", "destroy", cwd=twin, ok=False).stdout.startswith("This will destroy")
    assert _workspace(root) == before
    same(run, ("destroy", "-f"), root, twin)
    after = read_tree(root)
    assert after == read_tree(twin)
    assert {k for k in after if not k.startswith(".git/")} == {
        ".gitignore",  # dvc leaves its entries
        "data.txt",
        "d/a",
        "d/b/c",
        "sub/.gitignore",
        "sub/o.txt",
        "sub/params.yaml",
    }


def test_destroy_leaves_linked_data_as_plain_writable_files(tmp_path: Path, run: Run) -> None:
    root = make_repo(tmp_path, "--hash", "md5")
    write_tree(root, DESTROY_SHAPE)
    run("bale", "config", "cache.type", "symlink", cwd=root)
    run("bale", "add", "-q", "data.txt", "d", cwd=root)
    assert (root / "d" / "a").is_symlink()
    run("bale", "destroy", "-f", cwd=root)
    for name in ("data.txt", "d/a", "d/b/c"):
        path = root / name
        assert not path.is_symlink() and path.read_text() == DESTROY_SHAPE[name]
        path.write_text("writable\n")
    assert not (root / ".dvc").exists()


def test_install_writes_dvcs_hooks_calling_bale_and_refuses_to_replace_one(
    tmp_path: Path, run: Run
) -> None:
    root, twin = twins(tmp_path, run)
    same(run, ("install",), root, twin)
    for hook in ("post-checkout", "pre-commit", "pre-push"):
        ours = (root / ".git" / "hooks" / hook).read_text()
        theirs = (twin / ".git" / "hooks" / hook).read_text()
        assert ours == theirs.replace("exec dvc ", "exec bale ")
        # dvc makes them 0o777: bale keeps them writable by their owner only
        assert (root / ".git" / "hooks" / hook).stat().st_mode & 0o777 == 0o755
    before = read_tree(root / ".git" / "hooks")
    b = same(run, ("install",), root, twin)
    assert b.returncode == 1 and "post-checkout" in b.stderr
    assert read_tree(root / ".git" / "hooks") == before


def test_installed_hooks_check_out_the_data_of_the_branch_git_checks_out(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo(tmp_path, "--hash", "md5")
    # the hooks call `bale` by name, as dvc's call `dvc`
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shim = bindir / "bale"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m bale "$@"\n')
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    run("bale", "install", cwd=root)
    write_tree(root, {"data.txt": "v1\n"})
    run("bale", "add", "-q", "data.txt", cwd=root)
    run("git", "add", "-A", cwd=root)
    run("git", "commit", "-qm", "v1", cwd=root)
    run("git", "checkout", "-qb", "v2", cwd=root)
    write_tree(root, {"data.txt": "v2\n"})
    run("bale", "add", "-q", "data.txt", cwd=root)
    run("git", "add", "-A", cwd=root)
    # pre-commit: bale status (git shows a hook's output on stderr)
    committed = run("git", "commit", "-qm", "v2", cwd=root)
    assert committed.stderr == "Data and pipelines are up to date.\n"
    run("git", "checkout", "-q", "-", cwd=root)
    assert (root / "data.txt").read_text() == "v1\n"
    # a checkout of files, not of a branch, leaves the data alone
    (root / "data.txt").write_text("edited\n")
    run("git", "checkout", "-q", "v2", "--", "data.txt.dvc", cwd=root)
    assert (root / "data.txt").read_text() == "edited\n"


def test_install_for_the_pre_commit_tool_adds_local_bale_hooks_once(
    tmp_path: Path, run: Run
) -> None:
    root = make_repo(tmp_path, "--hash", "md5")
    config = root / ".pre-commit-config.yaml"
    config.write_text("# mine\nrepos:\n- repo: https://example.invalid/hooks\n  rev: v1\n")
    for _ in range(2):
        run("bale", "install", "--use-pre-commit-tool", cwd=root)
    text = config.read_text()
    assert text.startswith("# mine\nrepos:\n- repo: https://example.invalid/hooks\n")
    assert text.count("- repo: local\n") == 1
    for hook in ("pre-commit", "pre-push", "post-checkout"):
        assert f"    entry: bale git-hook {hook}\n" in text
    assert not (root / ".git" / "hooks" / "pre-push").exists()


COMPLETE = """\
source "$1"
cd "$2"
comp() {
  COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  _shtab_bale bale "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"
  printf '%s\\n' "${COMPREPLY[@]}" | sort | tr '\\n' ' '; echo
}
comp bale r
comp bale m
comp bale check-ignore --
comp bale remote a
comp bale completion -s ''
comp bale add d
comp bale move data.txt ''
"""


def test_bash_completion_offers_bales_commands_flags_and_paths(tmp_path: Path, run: Run) -> None:
    root = make_repo(tmp_path)
    write_tree(root, {"data.txt": "1\n", "dir/a": "a\n"})
    script = tmp_path / "bale.bash"
    script.write_text(run("bale", "completion", "-s", "bash", cwd=root).stdout)
    (tmp_path / "complete.sh").write_text(COMPLETE)
    got = run("bash", str(tmp_path / "complete.sh"), str(script), str(root)).stdout
    assert got.splitlines() == [
        "remote remove repro root ",
        "metrics model move mv ",
        "--details --help --non-matching --quiet --stdin --verbose ",
        "add ",
        "bash zsh ",
        "data.txt dir ",
        ".dvc .dvcignore .git data.txt dir ",
    ]


def test_zsh_completion_is_a_compdef_for_bale_naming_every_command(
    tmp_path: Path, run: Run
) -> None:
    # no zsh here to source it in; its text is shtab's, from the same grammar
    text = run("bale", "completion", "-s", "zsh", cwd=tmp_path).stdout
    assert text.startswith("#compdef bale\n")
    for command in ("check-ignore", "move", "mv", "freeze", "destroy", "completion"):
        assert f"\n    {command}:'" in text


def _data_status_twins(tmp_path: Path, run: Run) -> tuple[Path, Path]:
    """Twins with a change of every kind: records changed since HEAD (a
    file modified, one added), workspace data changed since the records (a
    directory's file modified and one added, a file deleted), data the cache
    lacks, and files git does not track."""
    root = make_repo(tmp_path, "--hash", "md5")
    write_tree(root, {"d/a": "a\n", "d/b": "b\n", "f": "f\n", "h": "h\n", "k": "k\n"})
    run("bale", "add", "-q", "d", "f", "h", "k", cwd=root)
    run("git", "add", "-A", cwd=root)
    run("git", "commit", "-qm", "v1", cwd=root)
    write_tree(root, {"f": "f2\n", "g": "g\n"})
    run("bale", "add", "-q", "f", "g", cwd=root)
    write_tree(root, {"d/a": "a2\n", "d/c": "c\n", "u/v": "u\n"})
    (root / "h").unlink()
    k_oid = (root / "k.dvc").read_text().split("md5: ")[1].split()[0]
    (root / ".dvc/cache/files/md5" / k_oid[:2] / k_oid[2:]).unlink()
    twin = tmp_path / "twin"
    shutil.copytree(root, twin, symlinks=True)
    return root, twin


def test_data_status_reports_what_dvc_data_status_reports(tmp_path: Path, run: Run) -> None:
    root, twin = _data_status_twins(tmp_path, run)
    for args in (
        ("--json",),
        ("--granular", "--unchanged", "--untracked-files", "--json"),
        ("--granular", "d", "u", "--json"),
    ):
        b = run("bale", "data", "status", *args, cwd=root)
        d = run("dvc", "data", "status", *args, cwd=twin)
        ours, theirs = json.loads(b.stdout), json.loads(d.stdout)
        # dvc's "unchanged" is a Python set's order (it changes with the
        # string hash seed); bale sorts it
        if "unchanged" in theirs:
            theirs["unchanged"] = sorted(theirs["unchanged"])
        assert list(ours.items()) == list(theirs.items())
    # the text: dvc's, with bale's commands in the hints
    b = run("bale", "data", "status", "--granular", "--untracked-files", cwd=root).stdout
    d = run("dvc", "data", "status", "--granular", "--untracked-files", cwd=twin).stdout
    assert b == d.replace('"dvc ', '"bale ')
    assert "        added: d/c\n" in b and "        deleted: h\n" in b


def test_data_status_names_the_files_the_cache_lacks_when_it_lists_the_cache(
    tmp_path: Path, run: Run
) -> None:
    # enough files that the engine lists the cache instead of a stat each
    # (Odb::presence: about one question per 160 bytes of fan-out
    # directories, 4 KiB each), as dvc reports them
    root = make_repo(tmp_path, "--hash", "md5")
    write_tree(root, {f"d/{i:04}": f"{i}\n" for i in range(7500)})
    run("bale", "add", "-q", "d", cwd=root)
    run("git", "add", "-A", cwd=root)
    run("git", "commit", "-qm", "d", cwd=root)
    twin = tmp_path / "twin"
    shutil.copytree(root, twin, symlinks=True)
    for r in (root, twin):
        for i in (7, 500, 7499):
            oid = hashlib.md5(f"{i}\n".encode()).hexdigest()
            (r / ".dvc/cache/files/md5" / oid[:2] / oid[2:]).unlink()
    b = json.loads(run("bale", "data", "status", "--granular", "--json", cwd=root).stdout)
    d = json.loads(run("dvc", "data", "status", "--granular", "--json", cwd=twin).stdout)
    assert b["not_in_cache"] == ["d/0007", "d/0500", "d/7499"]
    assert sorted(d["not_in_cache"]) == b["not_in_cache"]


def test_data_status_names_a_file_the_cache_lost_after_it_was_found_complete(
    tmp_path: Path, run: Run
) -> None:
    root = make_repo(tmp_path, "--hash", "md5")
    write_tree(root, {"d/a": "a\n", "d/b": "b\n"})
    run("bale", "add", "-q", "d", cwd=root)
    status = ("bale", "data", "status", "--granular", "--json")
    assert "not_in_cache" not in json.loads(run(*status, cwd=root).stdout)
    oid = hashlib.md5(b"b\n").hexdigest()
    (root / ".dvc/cache/files/md5" / oid[:2] / oid[2:]).unlink()
    assert json.loads(run(*status, cwd=root).stdout)["not_in_cache"] == ["d/b"]


def test_data_status_with_nothing_changed_says_so_as_dvc(tmp_path: Path, run: Run) -> None:
    root = make_repo(tmp_path, "--hash", "md5")
    # before the first commit (init staged its files: git has changes)
    assert run("bale", "data", "status", cwd=root).stdout == (
        "No changes in an empty git repo.\n"
        '(there are changes not tracked by dvc, use "git status" to see)\n'
    )
    # then with every change committed
    run("git", "add", "-A", cwd=root)
    run("git", "commit", "-qm", "init", cwd=root)
    assert run("bale", "data", "status", cwd=root).stdout == "No changes.\n"
    assert run("bale", "data", "status", "--json", cwd=root).stdout == "{}\n"


def _legacy_cache(root: Path) -> None:
    """A DVC 2.x cache: objects at ``<cache>/<xx>/<rest>``, named by their
    md5-dos2unix hash (a CRLF text file's differs from its md5), and a
    directory's ``.dir`` listing."""
    cache = root / ".dvc" / "cache"

    def put(data: bytes, name: str) -> None:
        (cache / name[:2]).mkdir(parents=True, exist_ok=True)
        (cache / name[:2] / name[2:]).write_bytes(data)

    for data in (b"a\r\nb\r\n", b"plain\n", b"x\n"):
        put(data, hashlib.md5(data.replace(b"\r\n", b"\n")).hexdigest())
    listing = json.dumps([{"md5": hashlib.md5(b"x\n").hexdigest(), "relpath": "x"}]).encode()
    put(listing, hashlib.md5(listing).hexdigest() + ".dir")


def _cache_files(root: Path) -> set[str]:
    cache = root / ".dvc" / "cache"
    return {p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file()}


def test_cache_migrate_gives_2x_objects_their_dvc3_names_as_dvc(tmp_path: Path, run: Run) -> None:
    root, twin = twins(tmp_path, run)
    for r in (root, twin):
        _legacy_cache(r)
    same(run, ("cache", "migrate", "--dry"), root, twin)
    assert run("bale", "cache", "migrate", "--dry", cwd=root).stdout.startswith("4 files will")
    assert _cache_files(root) == _cache_files(twin)
    for _ in range(2):  # the second time, nothing is left to migrate
        same(run, ("cache", "migrate"), root, twin)
        assert _cache_files(root) == _cache_files(twin)
    crlf = hashlib.md5(b"a\r\nb\r\n").hexdigest()
    migrated = root / ".dvc" / "cache" / "files" / "md5" / crlf[:2] / crlf[2:]
    assert migrated.read_bytes() == b"a\r\nb\r\n"
    assert migrated.stat().st_nlink == 2  # linked, not copied


def test_cache_migrate_dvc_files_records_2x_outputs_with_md5_as_dvc(
    tmp_path: Path, run: Run
) -> None:
    root, twin = twins(tmp_path, run)
    data = b"a\r\nb\r\n"
    legacy = hashlib.md5(data.replace(b"\r\n", b"\n")).hexdigest()
    for r in (root, twin):
        _legacy_cache(r)
        (r / "crlf.txt").write_bytes(data)
        # as DVC 2.x wrote it: no hash: key, the md5-dos2unix id
        (r / "crlf.txt.dvc").write_text(f"outs:\n- md5: {legacy}\n  size: 6\n  path: crlf.txt\n")
    same(run, ("cache", "migrate", "--dvc-files", "--dry"), root, twin)
    assert (root / "crlf.txt.dvc").read_text().count(legacy) == 1
    b = run("bale", "cache", "migrate", "--dvc-files", cwd=root)
    d = run("dvc", "cache", "migrate", "--dvc-files", cwd=twin)
    assert b.stdout.split("\n\n")[0] == d.stdout.split("\n\n")[0]
    assert _hint(b.stdout) == _hint(d.stdout)
    assert _workspace(root) == _workspace(twin)
    assert "  hash: md5\n" in (root / "crlf.txt.dvc").read_text()


def test_data_status_not_in_remote_names_what_the_remote_lacks_as_dvc(
    tmp_path: Path, run: Run
) -> None:
    root = make_repo(tmp_path, "--hash", "md5")
    write_tree(root, {"d/a": "a\n", "d/b": "b\n", "f": "f\n", "g": "g\n"})
    run("bale", "remote", "add", "-d", "r", str(tmp_path / "store"), cwd=root)
    run("bale", "add", "-q", "d", "f", "g", cwd=root)
    run("bale", "push", "-q", "f.dvc", cwd=root)
    twin = tmp_path / "twin"
    shutil.copytree(root, twin, symlinks=True)
    for args in (("--granular", "--json"), ("d", "--json")):
        b = run("bale", "data", "status", "--not-in-remote", *args, cwd=root)
        d = run("dvc", "data", "status", "--not-in-remote", *args, cwd=twin)
        # dvc's order follows its index (files first, then in load order); bale sorts
        ours, theirs = json.loads(b.stdout), json.loads(d.stdout)
        assert sorted(ours.pop("not_in_remote")) == sorted(theirs.pop("not_in_remote"))
        assert ours == theirs
    shown = run("bale", "data", "status", "--not-in-remote", cwd=root).stdout
    assert shown.startswith('Not in remote:\n  (use "bale push <file>..." to upload files)\n')
    assert "        d/\n        g\n" in shown
