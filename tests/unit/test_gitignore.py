"""``.gitignore`` maintenance against real git, and compared with ``dvc add``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bale.exceptions import TargetError
from bale.metafiles.gitignore import escape_entry, ignore_in_git, unignore_in_git

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is needed")

NAMES = ["a*b", "[x]", "!bang", "#hash", "sp ace", "ünï", "q?", "back\\slash", "plain.txt"]


def _git_ignores(repo: Path, rel: str) -> bool:
    proc = subprocess.run(
        ["git", "check-ignore", "-q", "--no-index", "--", rel], cwd=repo, check=False
    )
    return proc.returncode == 0


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def test_escape_like_pathspec() -> None:
    from pathspec.patterns import GitWildMatchPattern

    for name in [*NAMES, "a]b[c!d#e?f\\g"]:
        assert escape_entry("/" + name) == GitWildMatchPattern.escape("/" + name)


@pytest.mark.parametrize("name", NAMES)
def test_ignore_and_unignore_special_names(repo: Path, name: str) -> None:
    (repo / name).write_text("x")
    (repo / "other").write_text("x")
    changed = ignore_in_git(repo, repo / name)
    assert changed == repo / ".gitignore"
    assert (repo / ".gitignore").read_text() == escape_entry("/" + name) + "\n"
    assert _git_ignores(repo, name)
    assert not _git_ignores(repo, "other")
    # already ignored: no second line
    assert ignore_in_git(repo, repo / name) is None
    assert unignore_in_git(repo, repo / name) == repo / ".gitignore"
    assert not (repo / ".gitignore").exists()
    assert not _git_ignores(repo, name)


def test_appends_newline_and_uses_parent_dir(repo: Path) -> None:
    sub = repo / "p" / "q"
    sub.mkdir(parents=True)
    (sub / "f.bin").write_text("1")
    (sub / ".gitignore").write_text("existing")
    assert ignore_in_git(repo, sub / "f.bin") == sub / ".gitignore"
    assert (sub / ".gitignore").read_text() == "existing\n/f.bin\n"
    assert unignore_in_git(repo, sub / "f.bin") == sub / ".gitignore"
    assert (sub / ".gitignore").read_text() == "existing\n"


def test_skips_when_git_already_ignores(repo: Path) -> None:
    (repo / ".gitignore").write_text("*.bin\n")
    (repo / "d").mkdir()
    (repo / "d" / "x.bin").write_text("1")
    assert ignore_in_git(repo, repo / "d" / "x.bin") is None
    assert not (repo / "d" / ".gitignore").exists()
    # a path inside an ignored directory is ignored too
    (repo / ".gitignore").write_text("/d\n")
    (repo / "d" / "y").write_text("1")
    assert ignore_in_git(repo, repo / "d" / "y") is None


def test_reignores_after_negation(repo: Path) -> None:
    (repo / "f").write_text("1")
    (repo / ".gitignore").write_text("/f\n!/f\n")
    assert ignore_in_git(repo, repo / "f") == repo / ".gitignore"
    assert (repo / ".gitignore").read_text() == "/f\n!/f\n/f\n"
    assert _git_ignores(repo, "f")


def test_unignore_keeps_other_lines_and_missing_file(repo: Path) -> None:
    (repo / "a").write_text("1")
    assert unignore_in_git(repo, repo / "a") is None
    (repo / ".gitignore").write_text("# c\n/a\n/b\n")
    assert unignore_in_git(repo, repo / "a") == repo / ".gitignore"
    assert (repo / ".gitignore").read_text() == "# c\n/b\n"
    assert unignore_in_git(repo, repo / "a") is None


def test_not_a_git_work_tree(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("1")
    assert ignore_in_git(tmp_path, tmp_path / "f") is None
    assert not (tmp_path / ".gitignore").exists()
    assert unignore_in_git(tmp_path, tmp_path / "f") is None


def test_outside_repo_root_refused(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("1")
    with pytest.raises(TargetError):
        ignore_in_git(repo, tmp_path / "f")


@pytest.mark.interop
def test_same_as_dvc_add(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("dvc") is None:
        pytest.skip("dvc is needed")
    for var in ("DVC_GLOBAL_CONFIG_DIR", "DVC_SYSTEM_CONFIG_DIR", "DVC_SITE_CACHE_DIR"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    results = []
    for kind in ("dvc", "bale"):
        root = tmp_path / kind
        root.mkdir()
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        (root / ".gitignore").write_text("existing")
        (root / "p" / "q").mkdir(parents=True)
        (root / "p" / "q" / "f.bin").write_text("1")
        (root / "dir").mkdir()
        (root / "dir" / "x").write_text("1")
        for name in NAMES:
            (root / name).write_text(name)
        targets = [*NAMES, "p/q/f.bin", "dir"]
        if kind == "dvc":
            subprocess.run(["dvc", "init", "-q"], cwd=root, check=True)
            subprocess.run(["dvc", "add", "-q", *targets], cwd=root, check=True)
        else:
            for target in targets:
                ignore_in_git(root, root / target)
        results.append(
            ((root / ".gitignore").read_bytes(), (root / "p" / "q" / ".gitignore").read_bytes())
        )
    assert results[0] == results[1]
