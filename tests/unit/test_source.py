"""bale.source: a repository data is read from, local (in place) or cloned."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bale import _core
from bale.exceptions import ObjectMissingError, RemoteConfigError
from bale.repo import Repo
from bale.source import Source, SourceError, lacking

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(autouse=True)
def _clones_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def make_source(tmp_path: Path, hash: str = "md5", remote: bool = True) -> Path:
    """A git repository tracking data/file.txt and data/dir/{a,b} (tagged
    v1), with README.md in git; its data pushed to a folder remote."""
    root = tmp_path / f"src-{hash}"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    repo = Repo.init(root, hash=hash)
    (root / "data" / "dir").mkdir(parents=True)
    (root / "data" / "file.txt").write_text("hello\n")
    (root / "data" / "dir" / "a").write_text("1\n")
    (root / "data" / "dir" / "b").write_text("2\n")
    (root / "README.md").write_text("readme\n")
    repo.add([root / "data" / "file.txt", root / "data" / "dir"])
    if remote:
        with (root / ".dvc" / "config").open("a") as f:
            f.write(f"[core]\n    remote = r\n['remote \"r\"']\n    url = {tmp_path / 'remote'}\n")
        repo = Repo(root)
        repo.push()
    git(root, "add", "-A")
    git(root, "commit", "-qm", "one")
    git(root, "tag", "v1")
    return root


def fresh_ws(tmp_path: Path) -> _core.Workspace:
    (tmp_path / "ws").mkdir(exist_ok=True)
    return _core.Workspace(str(tmp_path / "ws"), str(tmp_path / "cache"))


def test_a_local_source_lists_locates_and_reads_at_its_commit(tmp_path: Path) -> None:
    root = make_source(tmp_path, remote=False)
    with Source.open(str(root), rev="v1", repo_type=Repo) as src:
        assert src.local and src.commit == git(root, "rev-parse", "v1")
        rels = sorted(t.path.relative_to(src.root).as_posix() for t in src.outputs())
        assert rels == ["data/dir", "data/file.txt"]
        t, sub = src.locate("data/dir/a") or (None, None)
        assert t is not None and t.path == src.root / "data/dir" and sub == "a"
        t, sub = src.locate("data/file.txt") or (None, None)
        assert t is not None and sub is None
        assert src.locate("README.md") is None
        files = dict(src.git_files())
        assert files["README.md"] == 7 and "data/file.txt.dvc" in files
        assert [n for n, _ in src.git_files("data")] == [
            "data/.gitignore",
            "data/dir.dvc",
            "data/file.txt.dvc",
        ]
        assert src.read_git("README.md") == b"readme\n"


@pytest.mark.parametrize("hash", ["md5", "blake3"])
def test_a_local_source_without_a_remote_gives_objects_from_its_cache(
    tmp_path: Path, hash: str
) -> None:
    root = make_source(tmp_path, hash=hash, remote=False)
    ws = fresh_ws(tmp_path)
    with Source.open(str(root), repo_type=Repo) as src:
        roots = [(t.algo, t.out.oid) for t in src.outputs() if t.out.oid]
        moved = src.fetch(ws, roots)
    assert moved.copied == 4  # the file, the .dir and its two files
    assert lacking(ws, roots) == []


def test_a_cloned_source_is_checked_out_once_per_commit_and_follows_its_branch(
    tmp_path: Path,
) -> None:
    root = make_source(tmp_path)
    url = f"file://{root}"
    with Source.open(url, repo_type=Repo) as src:
        first = src.commit
        assert not src.local and src.root.name == first and src.root.parent.name == "commits"
        assert (src.root / "data" / "file.txt.dvc").is_file()
    (root / "README.md").write_text("changed\n")
    git(root, "commit", "-qam", "two")
    with Source.open(url, repo_type=Repo) as src:
        assert src.commit == git(root, "rev-parse", "HEAD") != first
        assert src.read_git("README.md") == b"changed\n"
    with Source.open(url, rev=first, repo_type=Repo) as src:
        assert src.commit == first and src.read_git("README.md") == b"readme\n"


@pytest.mark.parametrize("hash", ["md5", "blake3"])
def test_a_cloned_source_gives_objects_from_its_default_remote(tmp_path: Path, hash: str) -> None:
    root = make_source(tmp_path, hash=hash)
    ws = fresh_ws(tmp_path)
    with Source.open(f"file://{root}", rev="v1", repo_type=Repo) as src:
        assert src.remote().name == "r"
        roots = [(t.algo, t.out.oid) for t in src.outputs() if t.out.oid]
        src.fetch(ws, roots)
    assert lacking(ws, roots) == []
    assert len(roots) == 2 and all(ws.exists(a, o) for a, o in roots)


def test_bad_sources_say_what_and_where(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(SourceError, match="plain: not a git repository"):
        Source.open(str(tmp_path / "plain"), repo_type=Repo)
    with pytest.raises(SourceError, match="nowhere: not a git repository bale can clone"):
        Source.open(f"file://{tmp_path}/nowhere", repo_type=Repo)
    root = make_source(tmp_path, remote=False)
    with pytest.raises(SourceError, match="unknown git revision 'nope'"):
        Source.open(str(root), rev="nope", repo_type=Repo)
    with pytest.raises(SourceError, match="unknown git revision 'nope'"):
        Source.open(f"file://{root}", rev="nope", repo_type=Repo)
    # Cloned, it has no cache: no default remote is an error naming it.
    ws = fresh_ws(tmp_path)
    with (
        Source.open(f"file://{root}", repo_type=Repo) as src,
        pytest.raises(RemoteConfigError, match="no default remote"),
    ):
        src.fetch(ws, [(t.algo, t.out.oid) for t in src.outputs() if t.out.oid])


def test_an_object_missing_on_the_remote_is_an_error_naming_the_source(tmp_path: Path) -> None:
    root = make_source(tmp_path)
    for p in (tmp_path / "remote").rglob("*"):
        if p.is_file() and not p.name.endswith(".dir"):
            p.unlink()
    ws = fresh_ws(tmp_path)
    with (
        Source.open(f"file://{root}", repo_type=Repo) as src,
        pytest.raises(ObjectMissingError, match="not on the source's remote 'r'"),
    ):
        src.fetch(ws, [(t.algo, t.out.oid) for t in src.outputs() if t.out.oid])


def test_a_first_clone_is_not_fetched_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clone made just now is as current as a fetch would make it (two
    git processes less per first read): its tags too, one on no branch
    included."""
    root = make_source(tmp_path)
    git(root, "checkout", "-q", "--detach")
    (root / "loose.txt").write_text("loose\n")
    git(root, "add", "loose.txt")
    git(root, "commit", "-qm", "loose")
    git(root, "tag", "loose")
    git(root, "checkout", "-q", "main")
    trace = tmp_path / "git-trace"
    monkeypatch.setenv("GIT_TRACE", str(trace))

    def fetches() -> int:
        lines = trace.read_text().splitlines() if trace.exists() else []
        trace.unlink(missing_ok=True)
        return sum(1 for line in lines if "built-in: git fetch" in line)

    url = f"file://{root}"
    with Source.open(url, "v1", repo_type=Repo) as src:
        assert src.read_git("README.md") == b"readme\n"
    assert fetches() == 0
    with Source.open(url, "v1", repo_type=Repo):
        pass
    assert fetches() == 1  # a tag may move: the clone is fetched again
    with Source.open(f"file://{root}/", "loose", repo_type=Repo) as src:
        assert src.read_git("loose.txt") == b"loose\n"
    assert fetches() == 0


def test_a_checkout_a_killed_process_left_half_made_is_made_again(tmp_path: Path) -> None:
    """A checkout counts once its marker exists: a directory without one
    (a kill mid-checkout) is removed and checked out again."""
    root = make_source(tmp_path)
    url = f"file://{root}"
    with Source.open(url, rev="v1", repo_type=Repo) as src:
        made = src.root
    made.with_name(made.name + ".done").unlink(missing_ok=True)
    (made / "data" / "file.txt.dvc").unlink()
    (made / "junk").write_text("half made\n")
    with Source.open(url, rev="v1", repo_type=Repo) as src:
        assert src.root == made
        assert (made / "data" / "file.txt.dvc").is_file() and not (made / "junk").exists()
        assert [t.rel(src.repo) for t in src.outputs()] == ["data/dir", "data/file.txt"]


def test_checkouts_unused_for_long_are_removed_when_another_is_made(tmp_path: Path) -> None:
    root = make_source(tmp_path)
    url = f"file://{root}"
    with Source.open(url, rev="v1", repo_type=Repo) as src:
        old = src.root
    (root / "README.md").write_text("two\n")
    git(root, "commit", "-qam", "two")
    with Source.open(url, repo_type=Repo) as src:
        recent = src.root
    # v1 last opened 15 days ago: the next new checkout takes it away
    month_ago = old.with_name(old.name + ".done").stat().st_mtime - 15 * 24 * 3600
    os.utime(old.with_name(old.name + ".done"), (month_ago, month_ago))
    (root / "README.md").write_text("three\n")
    git(root, "commit", "-qam", "three")
    with Source.open(url, repo_type=Repo) as src:
        assert src.read_git("README.md") == b"three\n"
    assert not old.exists() and not old.with_name(old.name + ".done").exists()
    assert (recent / "README.md").read_text() == "two\n"
    # and v1 is made again when it is asked for
    with Source.open(url, rev="v1", repo_type=Repo) as src:
        assert src.root == old and src.read_git("README.md") == b"readme\n"


def test_processes_reading_one_url_at_once_take_turns(tmp_path: Path) -> None:
    """git's ref and worktree locks fail rather than wait: readers of one
    URL (a data loader's workers) serialise on the clone's lock instead."""
    root = make_source(tmp_path)
    with Source.open(f"file://{root}", rev="v1", repo_type=Repo):
        pass  # the clone exists: every reader below fetches into it
    (root / "README.md").write_text("two\n")
    git(root, "commit", "-qam", "two")
    git(root, "tag", "v2")
    code = (
        "import sys\nfrom bale.repo import Repo\nfrom bale.source import Source\n"
        "with Source.open(sys.argv[1], rev=sys.argv[2], repo_type=Repo) as s:\n"
        "    print(s.read_git('README.md').decode(), end='')\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, f"file://{root}", rev],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rev in ["v2", "main"] * 4
    ]
    got = [p.communicate() for p in procs]
    assert [(out, err) for out, err in got] == [("two\n", "")] * 8
