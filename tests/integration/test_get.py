"""``bale get``: a copy of another repository's file or directory, whole or not at all."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.integration.conftest import Run, make_repo, read_tree, write_tree
from tests.integration.kills import killed_at

DATA = {
    "data/file.txt": "hello\n",
    "data/dir/a": "1\n",
    "data/dir/sub/b": "2\n",
    "data/README": "r\n",
}


@pytest.fixture(autouse=True)
def _clones_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def make_source(tmp_path: Path, run: Run, hash: str) -> Path:
    """A repository tracking data/file.txt and data/dir (README in git),
    pushed to a folder remote, committed."""
    root = make_repo(tmp_path, "--hash", hash)
    write_tree(root, DATA)
    run("bale", "add", "data/file.txt", "data/dir")
    run("bale", "remote", "add", "-d", "r", str(tmp_path / "remote"))
    run("bale", "push")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "one")
    return root


@pytest.fixture(params=["md5", "blake3"])
def source(request: pytest.FixtureRequest, tmp_path: Path, run: Run) -> Path:
    return make_source(tmp_path, run, request.param)


def test_get_from_a_cloned_source_takes_its_data_from_its_remote(
    source: Path, tmp_path: Path, run: Run
) -> None:
    url = f"file://{source}"
    out = tmp_path / "out"
    out.mkdir()
    run("bale", "get", url, "data/dir", cwd=out)
    run("bale", "get", url, "data/dir/sub/b", "-o", "deep/b", cwd=out)
    run("bale", "get", url, "data/file.txt", "-o", "f", cwd=out)
    run("bale", "get", url, "data/README", cwd=out)
    run("bale", "get", url, "data", "-o", "all", cwd=out)
    assert read_tree(out) == {
        "dir/a": b"1\n",
        "dir/sub/b": b"2\n",
        "deep/b": b"2\n",
        "f": b"hello\n",
        "README": b"r\n",
        "all/.gitignore": b"/file.txt\n/dir\n",
        "all/README": b"r\n",
        "all/file.txt": b"hello\n",
        "all/dir/a": b"1\n",
        "all/dir/sub/b": b"2\n",
    }


@pytest.mark.parametrize("over", ["folder", "http"])
@pytest.mark.parametrize("hash_", ["md5", "blake3"])
def test_get_writes_every_file_as_a_private_file_of_its_own(
    hash_: str, over: str, tmp_path: Path, run: Run
) -> None:
    # From a folder remote the files are copied from where they are; over
    # HTTP (bale serve of that folder) the objects a get fetches are moved
    # into place. Files with the same content must still be files of their
    # own, writable, with the user's mode (not the cache's read-only one).
    from tests.remotes.http_server import serving

    root = make_repo(tmp_path, "--hash", hash_)
    write_tree(
        root, {"d/a": "same\n", "d/x/b": "same\n", "d/c": "other\n", "d/run.sh": "#!/bin/sh\n"}
    )
    (root / "d" / "run.sh").chmod(0o755)
    (root / "d" / "empty").mkdir()
    run("bale", "add", "d")
    run("bale", "remote", "add", "-d", "r", str(tmp_path / "remote"))
    run("bale", "push")
    out = tmp_path / "out"
    out.mkdir()
    with contextlib.ExitStack() as stack:
        if over == "http":
            url = stack.enter_context(serving(tmp_path / "remote"))
            run("bale", "remote", "modify", "r", "url", url)
        run("git", "add", "-A")
        run("git", "commit", "-qm", "d")
        run("bale", "get", f"file://{root}", "d", cwd=out)
    got = out / "d"
    assert read_tree(got) == {
        "a": b"same\n",
        "x/b": b"same\n",
        "c": b"other\n",
        "run.sh": b"#!/bin/sh\n",
    }
    assert os.stat(got / "a").st_ino != os.stat(got / "x/b").st_ino
    assert os.stat(got / "a").st_nlink == 1
    umask = os.umask(0)
    os.umask(umask)
    assert (got / "c").stat().st_mode & 0o777 == 0o666 & ~umask
    # a native tree records exec bits and empty directories; dvc's .dir has neither
    exec_mode = 0o777 if hash_ == "blake3" else 0o666
    assert (got / "run.sh").stat().st_mode & 0o777 == exec_mode & ~umask
    assert (got / "empty").is_dir() == (hash_ == "blake3")
    (got / "a").write_text("edited\n")
    assert (got / "x/b").read_text() == "same\n"
    # nothing left beside the copy
    assert sorted(p.name for p in out.iterdir()) == ["d"]


def test_get_from_a_local_source_reads_its_cache_without_a_remote(
    source: Path, tmp_path: Path, run: Run
) -> None:
    (tmp_path / "remote").rename(tmp_path / "gone")
    out = tmp_path / "out"
    out.mkdir()
    run("bale", "get", str(source), "data/dir", cwd=out)
    assert read_tree(out) == {"dir/a": b"1\n", "dir/sub/b": b"2\n"}
    # Copies, never links into the source's cache.
    assert (out / "dir" / "a").stat().st_nlink == 1
    assert os.access(out / "dir" / "a", os.W_OK)


def test_get_never_overwrites_unless_forced_and_leaves_nothing_when_it_fails(
    source: Path, tmp_path: Path, run: Run
) -> None:
    url = f"file://{source}"
    out = tmp_path / "out"
    out.mkdir()
    (out / "f").write_text("old\n")
    err = run("bale", "get", url, "data/file.txt", "-o", "f", cwd=out, ok=False).stderr
    assert "f: already exists here; use -f to overwrite it" in err
    run("bale", "get", url, "data/file.txt", "-o", "f", "-f", cwd=out)
    assert (out / "f").read_text() == "hello\n"
    # An existing directory as OUT: the copy goes inside it, as with cp and dvc.
    (out / "into").mkdir()
    run("bale", "get", url, "data/dir", "-o", "into", cwd=out)
    assert read_tree(out / "into") == {"dir/a": b"1\n", "dir/sub/b": b"2\n"}
    shutil.rmtree(out / "into")

    # The remote lost the data: nothing at the destination, no temp left.
    shutil.rmtree(tmp_path / "remote")
    (tmp_path / "remote").mkdir()
    shutil.rmtree(tmp_path / "xdg")  # no clone cached with the objects in it either
    err = run("bale", "get", url, "data/dir", "-o", "d2", cwd=out, ok=False).stderr
    # (a blake3 directory's tree is what is missing first)
    assert re.search(r"is not on (the source's|its) remote 'r'", err), err
    assert sorted(p.name for p in out.iterdir()) == ["f"]


def test_get_of_what_the_source_does_not_have_names_it(
    source: Path, tmp_path: Path, run: Run
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    err = run("bale", "get", str(source), "nothere", cwd=out, ok=False).stderr
    assert "nothere: neither git nor bale/dvc tracks it in" in err
    err = run("bale", "get", str(source), "data/dir/zz", cwd=out, ok=False).stderr
    assert "data/dir/zz: not in that directory output" in err
    err = run(
        "bale", "get", str(source), "data/file.txt", "--rev", "nope", cwd=out, ok=False
    ).stderr
    assert "unknown git revision 'nope'" in err
    plain = tmp_path / "plain"
    plain.mkdir()
    err = run("bale", "get", str(plain), "x", cwd=out, ok=False).stderr
    assert "plain: not a git repository" in err
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    ("hash_", "point", "n"), [("md5", "temp", 1), ("md5", "temp", 2), ("blake3", "temp", 1)]
)
def test_a_killed_get_leaves_no_destination_and_the_rerun_completes(
    tmp_path: Path, run: Run, hash_: str, point: str, n: int
) -> None:
    src = make_source(tmp_path, run, hash_)
    out = tmp_path / "out"
    out.mkdir()
    # From a clone: md5 files are copied from the folder remote straight
    # into the staging directory (temp), blake3 ones fetched first.
    killed_at(point, n, out, "get", f"file://{src}", "data/dir", "-o", "d")
    assert not (out / "d").exists()
    run("bale", "get", f"file://{src}", "data/dir", "-o", "d", cwd=out)
    assert read_tree(out) == {"d/a": b"1\n", "d/sub/b": b"2\n"}


def test_get_of_a_path_inside_a_directory_fetches_only_what_is_under_it(
    tmp_path: Path, run: Run
) -> None:
    src = make_source(tmp_path, run, "md5")
    # The remote lacks data/dir/a ("1\n"): a get of data/dir/sub never needs it.
    (tmp_path / "remote" / "files" / "md5" / "b0" / "26324c6904b2a9cb4b88d6d61c81d1").unlink()
    out = tmp_path / "out"
    out.mkdir()
    run("bale", "get", f"file://{src}", "data/dir/sub", cwd=out)
    run("bale", "get", f"file://{src}", "data/dir/sub/b", "-o", "b", cwd=out)
    assert read_tree(out) == {"sub/b": b"2\n", "b": b"2\n"}
    err = run("bale", "get", f"file://{src}", "data/dir", cwd=out, ok=False).stderr
    assert "b026324c6904b2a9cb4b88d6d61c81d1" in err and "not on the source's remote" in err


def test_a_corrupt_object_on_the_folder_remote_fails_the_get_and_stays_there(
    tmp_path: Path, run: Run
) -> None:
    src = make_source(tmp_path, run, "md5")
    bad = tmp_path / "remote" / "files" / "md5" / "b0" / "26324c6904b2a9cb4b88d6d61c81d1"
    bad.chmod(0o644)
    bad.write_bytes(b"9\n")
    out = tmp_path / "out"
    out.mkdir()
    err = run("bale", "get", f"file://{src}", "data/dir", cwd=out, ok=False).stderr
    assert "b026324c6904b2a9cb4b88d6d61c81d1" in err, err
    assert list(out.iterdir()) == []
    assert bad.read_bytes() == b"9\n"  # the remote is only read


@pytest.mark.parametrize("args", [["."], [".", "-o", "."], [".."]])
def test_get_never_replaces_the_current_directory_or_one_above_it(
    tmp_path: Path, run: Run, args: list[str]
) -> None:
    """``get . -f`` names no file of its own: it is refused, and what the
    current directory held is all still there (it used to be replaced by
    the source's files)."""
    src = make_source(tmp_path, run, "md5")
    here = tmp_path / "work" / "inner"
    here.mkdir(parents=True)
    (here / "keep.txt").write_text("mine\n")
    proc = run("bale", "get", str(src), *args, "-f", cwd=here, ok=False)
    assert "names no file or directory to write here" in proc.stderr
    assert (here / "keep.txt").read_text() == "mine\n"
