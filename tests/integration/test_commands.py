"""Commands and API entry points the workflow tests do not reach: globbing,
relinking, version/doctor, ``bale config`` on the command line, the Python
API's results, permission and changed-while-hashing errors, legacy DVC 2.x
outputs, DVC-made repositories and the stat cache."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import bale
from bale.exceptions import (
    BaleError,
    FileChangedError,
    PermissionDeniedError,
    TargetNotFoundError,
)
from bale.ops.add import AddResult
from bale.ops.diff import DiffResult
from bale.ops.gc import GcResult
from bale.ops.transfer import TransferResult

from .conftest import Run, read_tree, write_tree

HAVE_DVC = importlib.util.find_spec("dvc") is not None
needs_dvc = pytest.mark.skipif(not HAVE_DVC, reason="dvc, the oracle, is not installed")


def _isolate(monkeypatch: pytest.MonkeyPatch, base: Path) -> dict[str, Path]:
    """Global and system config and dvc's site cache in scratch directories,
    for bale and dvc alike: nothing touches ``~/.config/dvc``, ``/etc/xdg/dvc``
    or ``/var/tmp/dvc``."""
    dirs = {"global": base / "global-config", "system": base / "system-config"}
    for d in dirs.values():
        d.mkdir()
    monkeypatch.setenv("DVC_GLOBAL_CONFIG_DIR", str(dirs["global"]))
    monkeypatch.setenv("DVC_SYSTEM_CONFIG_DIR", str(dirs["system"]))
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(base / "site-cache"))
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("CI", "1")  # dvc: no update check
    return dirs


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    return _isolate(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def dvc_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``git init && dvc init``, once per module (copied per test)."""
    if not HAVE_DVC:
        pytest.skip("dvc, the oracle, is not installed")
    base = tmp_path_factory.mktemp("dvc-template")
    with pytest.MonkeyPatch.context() as mp:
        _isolate(mp, base)
        root = base / "repo"
        root.mkdir()
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        dvc(root, ["init", "-q"])
        yield root


@pytest.fixture
def dvc_repo(dvc_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the ``dvc init`` repository, at the ``run`` fixture's place."""
    return Path(shutil.copytree(dvc_template, tmp_path / "repo", symlinks=True))


# dvc takes about a second to start: the commands of one test run in one process.
_DVC_MAIN = """
import json, os, sys, tempfile
from dvc.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    with tempfile.TemporaryFile() as out:
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(out.fileno(), 1)  # dvc's console keeps its own handle on stdout
        try:
            code = main(argv)
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
        out.seek(0)
        results.append((code, out.read().decode()))
print(json.dumps(results))
"""


def dvc(cwd: Path, *argvs: list[str]) -> list[str]:
    """The stdout of each ``dvc`` command line, run in order; each must succeed."""
    proc = subprocess.run(
        [sys.executable, "-c", _DVC_MAIN, json.dumps(argvs)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout.splitlines()[-1])
    for argv, (code, _) in zip(argvs, results, strict=True):
        assert code == 0, f"dvc {' '.join(argv)} exited {code}:\n{proc.stderr}"
    return [out for _, out in results]


@pytest.fixture(scope="module")
def dvc_added_template(dvc_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``dvc init`` template after ``dvc add sub/data top.bin`` (run
    while the template's isolated environment is still in place)."""
    root = Path(shutil.copytree(dvc_template, tmp_path_factory.mktemp("dvc-added") / "repo"))
    write_tree(root, DVC_ADDED)
    dvc(root, ["add", "-q", "sub/data", "top.bin"])
    return root


DVC_ADDED: dict[str, bytes | str] = {
    "sub/data/a.txt": "a\n",
    "sub/data/b.txt": "b\n",
    "top.bin": "top\n",
}


def md5_object(root: Path, oid: str) -> Path:
    """Where DVC 3 keeps an md5 object (``.dir`` manifests included)."""
    return root / ".dvc" / "cache" / "files" / "md5" / oid[:2] / oid[2:]


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def cache_files(root: Path) -> list[Path]:
    cache = root / ".dvc" / "cache"
    return sorted(p for p in cache.rglob("*") if p.is_file()) if cache.exists() else []


def backdate(root: Path, seconds: int = 100) -> None:
    """Older mtimes, so the stat cache does not treat the files as racy."""
    when = os.stat(root).st_mtime - seconds
    for p in [root, *root.rglob("*")]:
        os.utime(p, (when, when), follow_symlinks=False)


# -- add --glob ---------------------------------------------------------------


def test_add_inside_a_tracked_directory_records_only_that_path(repo: Path, run: Run) -> None:
    """DVC 3's granular add: the path's content joins the directory's record;
    other changes in the directory stay uncommitted."""
    write_tree(repo, {"d/x": "x\n", "d/y": "y\n", "d/sub/z": "z\n"})
    run("bale", "add", "d")
    write_tree(repo, {"d/new": "new!\n", "d/y": "changed\n", "d/sub/w": "w\n"})
    r = bale.Repo(repo).add([repo / "d/new", repo / "d/sub"])
    assert [(a.path, a.dvcfile, a.nfiles) for a in r] == [
        ("d/new", "d.dvc", 4),
        ("d/sub", "d.dvc", 5),
    ]
    text = (repo / "d.dvc").read_text()
    assert "nfiles: 5" in text
    status = json.loads(run("bale", "status", "--json").stdout)
    assert status == {"d.dvc": [{"changed outs": {"d": "modified"}}]}, "d/y is not recorded"
    granular = json.loads(run("bale", "status", "--granular", "--json").stdout)
    files = granular["d.dvc"][0]["files"]
    assert (files["modified"], files["added"], files["deleted"]) == (["y"], [], [])

    shutil.rmtree(repo / "d")
    run("bale", "checkout")
    assert read_tree(repo / "d") == {
        "new": b"new!\n",
        "sub/w": b"w\n",
        "sub/z": b"z\n",
        "x": b"x\n",
        "y": b"y\n",  # as recorded before: its change was never added
    }
    assert json.loads(run("bale", "status", "--json").stdout) == {}


def test_add_inside_a_tracked_directory_under_a_recorded_file(repo: Path, run: Run) -> None:
    """A file the directory recorded is now a directory: the new path has no
    earlier version to chunk against, and its add records it."""
    write_tree(repo, {"d/x": "x\n", "d/y": "y\n"})
    run("bale", "add", "d")
    (repo / "d" / "x").unlink()
    write_tree(repo, {"d/x/inner": "inner\n"})
    (r,) = bale.Repo(repo).add([repo / "d/x/inner"])
    assert (r.path, r.dvcfile, r.nfiles) == ("d/x/inner", "d.dvc", 2)
    shutil.rmtree(repo / "d")
    run("bale", "checkout")
    assert read_tree(repo / "d") == {"x/inner": b"inner\n", "y": b"y\n"}


def test_add_inside_a_tracked_directory_links_it_with_a_link_cache_type(
    md5_repo: Path, run: Run
) -> None:
    write_tree(md5_repo, {"d/x": "x\n"})
    run("bale", "config", "cache.type", "hardlink")
    run("bale", "add", "d")
    write_tree(md5_repo, {"d/new": "new\n"})
    run("bale", "add", "d/new")
    assert (md5_repo / "d" / "new").stat().st_nlink == 2
    assert json.loads(run("bale", "status", "--json").stdout) == {}


def test_add_glob_tracks_each_match_with_its_own_dvcfile(repo: Path, run: Run) -> None:
    write_tree(repo / "data", {"a.csv": "1,2\n", "b.csv": "3,4\n", "c.txt": "not csv\n"})
    out = json.loads(run("bale", "add", "--glob", "data/*.csv", "--json").stdout)
    assert [(r["path"], r["dvcfile"]) for r in out] == [
        ("data/a.csv", "data/a.csv.dvc"),
        ("data/b.csv", "data/b.csv.dvc"),
    ]
    for name in ("a.csv", "b.csv"):
        text = (repo / "data" / f"{name}.dvc").read_text()
        assert f"  path: {name}\n" in text
    assert not (repo / "data" / "c.txt.dvc").exists()
    assert not (repo / "data.dvc").exists()
    assert (repo / "data" / ".gitignore").read_text().splitlines() == ["/a.csv", "/b.csv"]
    assert json.loads(run("bale", "status", "--json").stdout) == {}


def test_add_glob_through_the_api_is_recursive(md5_repo: Path) -> None:
    write_tree(md5_repo / "data", {"top.csv": "t\n", "x/deep.csv": "d\n", "x/skip.txt": "s\n"})
    results = bale.Repo(md5_repo).add([str(md5_repo / "data" / "**" / "*.csv")], glob=True)
    assert all(isinstance(r, AddResult) for r in results)
    assert [r.path for r in results] == ["data/top.csv", "data/x/deep.csv"]
    assert [r.oid for r in results] == [md5(b"t\n"), md5(b"d\n")]
    assert (md5_repo / "data" / "x" / "deep.csv.dvc").exists()
    assert not (md5_repo / "data" / "x" / "skip.txt.dvc").exists()


def test_add_glob_matching_nothing_is_an_error_and_adds_nothing(repo: Path, run: Run) -> None:
    write_tree(repo / "data", {"a.csv": "1\n"})
    proc = run("bale", "add", "--glob", "data/*.csv", "nothing/*.csv", ok=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "ERROR: nothing/*.csv: the pattern matches nothing"
    )
    # Every pattern is expanded before anything is stored.
    assert not (repo / "data" / "a.csv.dvc").exists()
    assert cache_files(repo) == []
    # Without --glob the pattern is a literal name.
    err = run("bale", "add", "data/*.csv", ok=False).stderr
    assert "data/*.csv" in err and "no such file" in err
    with pytest.raises(TargetNotFoundError, match="matches nothing"):
        bale.Repo(repo).add([str(repo / "nothing" / "*")], glob=True)


# -- checkout --relink --------------------------------------------------------


def test_checkout_relink_turns_copies_into_hard_links(md5_repo: Path, run: Run) -> None:
    contents = {
        "f.bin": b"single file\n",
        "data/a.txt": b"alpha\n",
        "data/b.txt": b"beta\n",
    }
    write_tree(md5_repo, {**contents})
    run("bale", "add", "f.bin", "data")  # cache.type is the default: reflink, copy
    before = {rel: os.stat(md5_repo / rel) for rel in contents}
    objects = {rel: md5_object(md5_repo, md5(data)) for rel, data in contents.items()}
    for rel, st in before.items():
        assert st.st_nlink == 1 and st.st_ino != objects[rel].stat().st_ino

    run("bale", "config", "cache.type", "hardlink")
    out = json.loads(run("bale", "checkout", "--json").stdout)
    assert out == {"added": [], "modified": [], "deleted": []}
    for rel, st in before.items():
        assert os.stat(md5_repo / rel).st_ino == st.st_ino, f"{rel} was re-created"

    out = json.loads(run("bale", "checkout", "--relink", "--json").stdout)
    assert sorted(out["modified"]) == sorted(contents)
    for rel, data in contents.items():
        st = os.stat(md5_repo / rel)
        assert st.st_ino == objects[rel].stat().st_ino, f"{rel} is not linked to the cache"
        assert st.st_nlink == 2
        assert (md5_repo / rel).read_bytes() == data
    assert json.loads(run("bale", "status", "--json").stdout) == {}


# -- version and doctor -------------------------------------------------------


def test_version_and_dash_dash_version_print_the_version(repo: Path, run: Run) -> None:
    from importlib.metadata import version

    assert bale.__version__ == version("bale")  # the module agrees with the package
    assert run("bale", "--version").stdout == f"{bale.__version__}\n"
    lines = run("bale", "version").stdout.splitlines()
    assert lines[0] == f"bale {bale.__version__}"
    assert lines[1] == f"Platform: Python {platform.python_version()} on {platform.platform()}"


def test_doctor_outside_a_repository(tmp_path: Path, run: Run) -> None:
    report = json.loads(run("bale", "doctor", "--json", cwd=tmp_path).stdout)
    assert report["bale"] == bale.__version__
    assert report["python"] == platform.python_version()
    assert report["platform"] == platform.platform()
    assert "repo" not in report and "links that work" not in report
    text = run("bale", "doctor", cwd=tmp_path).stdout
    assert re.search(rf"^platform:\s+{re.escape(platform.platform())}$", text, re.MULTILINE)


def test_doctor_in_a_repository_reports_links_and_config(md5_repo: Path, run: Run) -> None:
    report = json.loads(run("bale", "doctor", "--json").stdout)
    assert report["repo"] == str(md5_repo)
    assert report["cache"] == str(md5_repo / ".dvc" / "cache")
    assert report["hash"] == "md5"
    assert report["cache.type"] == ["reflink", "copy"]
    links = report["links that work"]
    assert "copy" in links and set(links) <= {"reflink", "hardlink", "symlink", "copy"}
    assert str(md5_repo / ".dvc" / "config") in report["config files"]
    text = run("bale", "doctor").stdout
    assert "links that work:" in text and "copy" in text


# -- bale config on the command line -------------------------------------------


def test_config_list_local_and_unset(
    md5_repo: Path, run: Run, _isolated_config: dict[str, Path]
) -> None:
    dvc_dir = md5_repo / ".dvc"
    run("bale", "config", "core.remote", "store")
    run("bale", "config", "--local", "core.autostage", "true")
    run("bale", "config", "--global", "core.check_update", "false")
    assert (dvc_dir / "config").read_text() == "[core]\n    remote = store\n"
    assert (dvc_dir / "config.local").read_text() == "[core]\n    autostage = true\n"
    assert (_isolated_config["global"] / "config").read_text() == (
        "[core]\n    check_update = false\n"
    )
    assert run("bale", "config", "-l").stdout.splitlines() == [
        "core.check_update=false",
        "core.remote=store",
        "core.hash=md5",  # bale's own setting, from .dvc/bale.conf
        "core.autostage=true",
    ]
    assert run("bale", "config", "--list", "--local").stdout == "core.autostage=true\n"
    origin = run("bale", "config", "--show-origin", "core.check_update").stdout
    assert origin == f"{_isolated_config['global'] / 'config'}\tfalse\n"

    run("bale", "config", "--unset", "core.remote")
    assert "remote" not in (dvc_dir / "config").read_text()
    err = run("bale", "config", "--unset", "core.remote", ok=False).stderr
    assert "core.remote" in err and "doesn't exist" in err
    # The value in config.local is out of reach without --local.
    run("bale", "config", "--unset", "core.autostage", ok=False)
    run("bale", "config", "--local", "--unset", "core.autostage")
    assert "autostage" not in (dvc_dir / "config.local").read_text()
    err = run("bale", "config", "core.autostage", ok=False).stderr
    assert "'core.autostage' is not set" in err
    assert run("bale", "config", "-l").stdout.splitlines() == [
        "core.check_update=false",
        "core.hash=md5",
    ]


@needs_dvc
@pytest.mark.interop
def test_config_list_with_origin_matches_dvc(dvc_repo: Path, run: Run) -> None:
    # One key per level, so each origin is unambiguous.
    run("bale", "remote", "add", "-d", "store", "../store")
    run("bale", "config", "cache.shared", "group")
    run("bale", "config", "--local", "cache.type", "hardlink,copy")
    run("bale", "config", "--global", "core.check_update", "false")
    argvs = [
        ["config", "-l"],
        ["config", "-l", "--show-origin"],
        ["config", "-l", "--show-origin", "--project"],
        ["config", "-l", "--show-origin", "--local"],
        ["config", "-l", "--show-origin", "--global"],
        ["config", "--show-origin", "core.remote"],
        ["config", "--show-origin", "cache.type"],
        ["config", "--show-origin", "core.check_update"],
    ]
    theirs = dvc(dvc_repo, *argvs)
    for argv, expected in zip(argvs, theirs, strict=True):
        assert run("bale", *argv).stdout == expected, argv
    assert ".dvc/config\tcore.remote=store\n" in run("bale", "config", "-l", "--show-origin").stdout


@needs_dvc
@pytest.mark.interop
def test_config_show_origin_of_a_key_set_at_two_levels_matches_dvc(
    dvc_repo: Path, run: Run
) -> None:
    run("bale", "config", "--system", "cache.type", "copy")
    run("bale", "config", "--local", "cache.type", "hardlink,copy")
    ours = run("bale", "config", "-l", "--show-origin").stdout
    assert ours == dvc(dvc_repo, ["config", "-l", "--show-origin"])[0]


@needs_dvc
@pytest.mark.interop
def test_config_set_and_unset_write_what_dvc_writes(dvc_repo: Path, run: Run) -> None:
    dvc_dir = dvc_repo / ".dvc"
    steps = [
        ["config", "core.autostage", "true"],
        ["config", "cache.type", "hardlink,symlink"],
        ["config", "--local", "core.remote", "x"],
        ["config", "--unset", "core.autostage"],
        ["config", "--local", "--unset", "core.remote"],
    ]
    for step in steps:
        run("bale", *step)
    ours = ((dvc_dir / "config").read_bytes(), (dvc_dir / "config.local").read_bytes())
    (dvc_dir / "config").write_bytes(b"")
    (dvc_dir / "config.local").unlink()
    dvc(dvc_repo, *steps)
    assert ours == ((dvc_dir / "config").read_bytes(), (dvc_dir / "config.local").read_bytes())


# -- the Python API: typed results --------------------------------------------


def test_api_commit_records_the_new_content(
    md5_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(md5_repo)  # targets are relative to the cwd, as in dvc's API
    write_tree(md5_repo / "data", {"a.txt": "alpha\n", "b.txt": "beta\n"})
    repo = bale.Repo(md5_repo)
    [added] = repo.add(["data"])
    (md5_repo / "data" / "a.txt").write_text("alpha, committed later\n")
    assert [s.state for s in repo.status().changed] == ["modified"]
    objects = len(cache_files(md5_repo))

    results = repo.commit()
    assert len(results) == 1
    r = results[0]
    assert isinstance(r, AddResult)
    assert (r.path, r.dvcfile, r.hash) == ("data", "data.dvc", "md5")
    assert r.oid.endswith(".dir") and r.oid != added.oid
    assert r.nfiles == 2
    assert r.size == len("alpha, committed later\n") + len("beta\n")
    assert r.stored == 1  # files written to the cache: the new a.txt (not the manifest)
    assert len(cache_files(md5_repo)) == objects + 2  # a.txt and the new manifest
    assert r.hashed >= 1
    assert f"md5: {r.oid}\n" in (md5_repo / "data.dvc").read_text()
    assert md5_object(md5_repo, r.oid).exists()
    assert repo.status().clean
    assert bale.Repo(md5_repo).commit()[0].stored == 0  # nothing new the second time


def test_api_diff_between_two_git_revisions(
    repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    write_tree(repo / "data", {"keep.txt": "k\n", "edit.txt": "v1\n", "gone.txt": "g\n"})
    write_tree(repo / "data", {"old/name.bin": b"\x00moved"})
    api = bale.Repo(repo)
    api.add(["data"])
    run("git", "add", "-A")
    run("git", "commit", "-qm", "v1")
    write_tree(repo / "data", {"edit.txt": "v2\n", "new.txt": "n\n"})
    (repo / "data" / "gone.txt").unlink()
    os.rename(repo / "data" / "old" / "name.bin", repo / "data" / "renamed.bin")
    api.add(["data"])
    run("git", "add", "-A")
    run("git", "commit", "-qm", "v2")

    d = api.diff("HEAD~1", "HEAD")
    assert isinstance(d, DiffResult)
    assert d.added == ["data/new.txt"]
    assert d.deleted == ["data/gone.txt"]
    assert sorted(d.modified) == ["data/", "data/edit.txt"]
    assert d.renamed == [("data/old/name.bin", "data/renamed.bin")]
    assert d.not_in_cache == []
    back = api.diff("HEAD", "HEAD~1")
    assert (back.added, back.deleted) == (["data/gone.txt"], ["data/new.txt"])
    assert back.renamed == [("data/renamed.bin", "data/old/name.bin")]
    assert api.diff() == DiffResult()  # HEAD against the workspace: nothing


def test_api_gc_reports_what_it_removes(md5_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(md5_repo)
    write_tree(md5_repo / "data", {"a.txt": "first\n", "b.txt": "b\n"})
    repo = bale.Repo(md5_repo)
    [v1] = repo.add(["data"])
    old_manifest = md5_object(md5_repo, v1.oid)
    old_file = md5_object(md5_repo, md5(b"first\n"))
    garbage = old_manifest.stat().st_size + old_file.stat().st_size
    write_tree(md5_repo / "data", {"a.txt": "second\n"})
    repo.add(["data"])
    assert len(cache_files(md5_repo)) == 5

    dry = repo.gc(dry=True)
    assert isinstance(dry, GcResult)
    assert (dry.removed, dry.bytes, dry.kept, dry.dry) == (2, garbage, 3, True)
    assert dry.remotes == [] and dry.compacted == 0
    assert old_manifest.exists() and old_file.exists()

    done = repo.gc()
    assert (done.removed, done.bytes, done.kept, done.dry) == (2, garbage, 3, False)
    assert not old_manifest.exists() and not old_file.exists()
    assert len(cache_files(md5_repo)) == 3
    assert repo.gc().removed == 0
    assert repo.status().clean


def test_api_fetch_from_a_folder_remote(
    md5_repo: Path, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(md5_repo)
    files: dict[str, bytes | str] = {
        "a.txt": "alpha\n",
        "sub/b.bin": b"\x00\x01",
        "c.txt": "gamma\n",
    }
    write_tree(md5_repo / "data", files)
    run("bale", "remote", "add", "-d", "store", str(tmp_path / "store"))
    [added] = bale.Repo(md5_repo).add(["data"])
    pushed = bale.Repo(md5_repo).push()
    assert isinstance(pushed, TransferResult)
    assert (pushed.copied, pushed.remotes) == (4, ["store"])  # three files and the manifest
    manifest_size = md5_object(md5_repo, added.oid).stat().st_size

    shutil.rmtree(md5_repo / ".dvc" / "cache")
    fetched = bale.Repo(md5_repo).fetch()
    assert isinstance(fetched, TransferResult)
    assert fetched.copied == 4
    assert fetched.bytes == added.size + manifest_size
    assert (fetched.present, fetched.missing, fetched.remotes) == (0, [], ["store"])
    assert fetched.seconds >= 0
    again = bale.Repo(md5_repo).fetch()
    assert (again.copied, again.bytes, again.missing) == (0, 0, [])

    shutil.rmtree(md5_repo / "data")
    bale.Repo(md5_repo).checkout()
    assert read_tree(md5_repo / "data") == {
        k: v.encode() if isinstance(v, str) else v for k, v in files.items()
    }


# -- errors: permissions and files changing while hashed ------------------------


def _unprivileged() -> list[str]:
    """A command prefix under which an unreadable file is unreadable: nothing
    for a normal user; for root, ``setpriv`` dropping the capabilities that
    let root read anything (as a non-root user runs bale)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    prefix = [setpriv or "setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
    if setpriv is None or subprocess.run([*prefix, "true"], check=False).returncode != 0:
        pytest.skip("running as root, and cannot drop CAP_DAC_OVERRIDE with setpriv")
    return prefix


_ADD_AND_DESCRIBE = """
import json, sys, bale
try:
    bale.Repo(".").add([sys.argv[1]])
except Exception as e:
    print(json.dumps({"type": type(e).__name__, "bale": isinstance(e, bale.BaleError),
                      "permission": isinstance(e, PermissionError), "message": str(e)}))
"""


def test_add_of_an_unreadable_file_is_a_permission_error(repo: Path, run: Run) -> None:
    prefix = _unprivileged()
    secret = repo / "secret.bin"
    secret.write_bytes(b"top secret\n")
    secret.chmod(0o000)

    proc = run(*prefix, sys.executable, "-m", "bale", "add", "secret.bin", ok=False)
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("ERROR: ") and "secret.bin" in line
    assert "permission denied" in line.lower()

    raised = json.loads(run(*prefix, sys.executable, "-c", _ADD_AND_DESCRIBE, "secret.bin").stdout)
    assert raised["type"] == PermissionDeniedError.__name__
    assert raised["bale"] and raised["permission"]
    assert "\n" not in raised["message"] and "secret.bin" in raised["message"]
    assert issubclass(PermissionDeniedError, BaleError)
    assert issubclass(PermissionDeniedError, PermissionError)

    assert not (repo / "secret.bin.dvc").exists()
    assert not (repo / ".gitignore").exists()
    assert cache_files(repo) == []


def _growing_file() -> Path:
    """A file whose size as read differs from its size as stat-ed, every
    time: what a file being appended to looks like to a hasher, without a race."""
    uptime = Path("/proc/uptime")
    if not uptime.exists() or uptime.stat().st_size != 0 or not uptime.read_bytes():
        pytest.skip("needs Linux /proc/uptime (size 0, content non-empty)")
    return uptime


def test_add_of_a_file_that_changes_while_hashed_stores_nothing(
    repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    # The check this trips is the one a real concurrent write trips (size or
    # mtime moved between stat and read); a large file's copy-then-check path
    # cannot be reached without a race, as the stat-ed size picks the path.
    (repo / "live").symlink_to(_growing_file())  # add hashes through a symlink
    err = run("bale", "add", "live", ok=False).stderr
    assert err.strip().splitlines()[-1] == (
        f"ERROR: {repo / 'live'}: file changed while it was being hashed"
    )
    with pytest.raises(FileChangedError, match="live: file changed while it was being hashed"):
        bale.Repo(repo).add(["live"])
    assert cache_files(repo) == [], "no partial object, no temp file"
    assert (repo / "live").is_symlink() and not (repo / "live.dvc").exists()

    # Inside a directory: the file that did not change may be stored (a whole,
    # valid object), the changing one leaves nothing behind.
    write_tree(repo / "dir", {"steady.txt": "steady\n"})
    (repo / "dir" / "live").symlink_to(_growing_file())
    with pytest.raises(FileChangedError, match="dir/live"):
        bale.Repo(repo).add(["dir"])
    assert [p.read_bytes() for p in cache_files(repo)] in ([], [b"steady\n"])
    assert not (repo / "dir.dvc").exists()


# -- legacy DVC 2.x outputs --------------------------------------------------


def dos2unix_md5(data: bytes) -> str:
    """DVC 2.x's file hash (``md5-dos2unix``) of data under 1 MiB: a block is
    text unless its first 512 bytes hold a NUL or over 30 % non-text bytes,
    and text is hashed with CRLF turned into LF."""
    head = data[:512]
    non_text = head.translate(None, bytes(range(32, 127)) + b"\n\r\t\f\b")
    binary = bool(head) and (b"\x00" in head or len(non_text) > 0.3 * len(head))
    return md5(data if binary else data.replace(b"\r\n", b"\n"))


def make_legacy_dir_output(root: Path, name: str, files: dict[str, bytes]) -> str:
    """Writes ``name/`` and the ``name.dvc`` and legacy cache objects DVC 2.x
    would have made for it; returns the ``.dvc`` file's text."""
    cache = root / ".dvc" / "cache"
    entries = []
    for rel, data in sorted(files.items()):
        oid = dos2unix_md5(data)
        entries.append({"md5": oid, "relpath": rel})
        for path in (root / name / rel, cache / oid[:2] / oid[2:]):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    manifest = json.dumps(entries, sort_keys=True).encode()
    oid = md5(manifest) + ".dir"
    (cache / oid[:2]).mkdir(exist_ok=True)
    (cache / oid[:2] / oid[2:]).write_bytes(manifest)
    size = sum(len(d) for d in files.values())
    text = f"outs:\n- md5: {oid}\n  size: {size}\n  nfiles: {len(files)}\n  path: {name}\n"
    (root / f"{name}.dvc").write_text(text)
    (root / ".gitignore").write_text(f"/{name}\n")
    return text


LEGACY = {"crlf.txt": b"line1\r\nline2\r\n", "plain.txt": b"plain\n", "sub/b.bin": b"\x00\r\n"}


def test_dos2unix_helper_matches_dvcs_verified_example() -> None:
    assert dos2unix_md5(b"line1\r\nline2\r\n") == "4fcc82a88ee38e0aa16c17f512c685c9"
    assert dos2unix_md5(b"\x00\r\n") == md5(b"\x00\r\n")  # binary: hashed as is


@needs_dvc
def test_legacy_directory_output_is_clean_and_checks_out(dvc_repo: Path, run: Run) -> None:
    dvcfile = make_legacy_dir_output(dvc_repo, "data", LEGACY)
    assert dvc(dvc_repo, ["status", "--json"]) == ["{}\n"]
    assert json.loads(run("bale", "status", "--json").stdout) == {}

    shutil.rmtree(dvc_repo / "data")
    status = json.loads(run("bale", "status", "--json").stdout)
    assert status == {"data.dvc": [{"changed outs": {"data": "deleted"}}]}
    run("bale", "checkout")
    assert read_tree(dvc_repo / "data") == LEGACY  # CRLF bytes come back as they were
    assert json.loads(run("bale", "status", "--json").stdout) == {}

    (dvc_repo / "data" / "crlf.txt").unlink()
    run("bale", "checkout", "data/crlf.txt")
    assert (dvc_repo / "data" / "crlf.txt").read_bytes() == LEGACY["crlf.txt"]
    assert (dvc_repo / "data.dvc").read_text() == dvcfile, "the 2.x record is left as it was"
    assert not [p for p in cache_files(dvc_repo) if "/files/" in p.as_posix()], "no migration"


@needs_dvc
def test_a_path_inside_a_legacy_directory_is_refused_alone(dvc_repo: Path, run: Run) -> None:
    dvcfile = make_legacy_dir_output(dvc_repo, "data", LEGACY)
    (dvc_repo / "data" / "new.txt").write_text("new\n")
    r = run("bale", "add", "data/new.txt", ok=False)
    assert "DVC 2.x" in r.stderr and "add the whole directory" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert (dvc_repo / "data.dvc").read_text() == dvcfile


# -- a repository made by dvc, used from a subdirectory -------------------------


@pytest.fixture
def dvc_added(dvc_added_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the repository ``dvc add`` made (data in its cache)."""
    return Path(shutil.copytree(dvc_added_template, tmp_path / "repo", symlinks=True))


@needs_dvc
def test_dvc_made_repository_from_a_subdirectory(dvc_added: Path, run: Run) -> None:
    deep = dvc_added / "sub" / "deep"
    deep.mkdir()
    assert json.loads(run("bale", "status", "--json", cwd=deep).stdout) == {}
    assert "up to date" in run("bale", "status", cwd=deep).stdout

    shutil.rmtree(dvc_added / "sub" / "data")
    (dvc_added / "top.bin").unlink()
    status = json.loads(run("bale", "status", "--json", cwd=deep).stdout)
    assert set(status) == {"../data.dvc", "../../top.bin.dvc"}  # from the cwd, as dvc names them
    run("bale", "checkout", cwd=deep)  # no targets: the whole repository, as dvc
    for rel, text in DVC_ADDED.items():
        assert (dvc_added / rel).read_text() == text, rel
    assert json.loads(run("bale", "status", "--json", cwd=deep).stdout) == {}

    (dvc_added / "sub" / "data" / "a.txt").unlink()
    run("bale", "checkout", "../data/a.txt", cwd=deep)  # targets are relative to the cwd
    assert (dvc_added / "sub" / "data" / "a.txt").read_text() == "a\n"
    assert all("/files/md5/" in p.as_posix() for p in cache_files(dvc_added)), "dvc's cache"


@needs_dvc
@pytest.mark.interop
def test_status_json_from_a_subdirectory_matches_dvc(dvc_added: Path, run: Run) -> None:
    shutil.rmtree(dvc_added / "sub" / "data")
    (dvc_added / "top.bin").unlink()
    sub = dvc_added / "sub"
    theirs = json.loads(dvc(sub, ["status", "--json"])[0])
    assert theirs["../top.bin.dvc"] == [{"changed outs": {"../top.bin": "deleted"}}]
    assert json.loads(run("bale", "status", "--json", cwd=sub).stdout) == theirs


# -- the stat cache -------------------------------------------------------------


def _rewrite_keeping_stat(path: Path, data: bytes) -> None:
    """New content of the same size, same inode and same mtime: invisible to
    anything that trusts (inode, size, mtime), visible to anything that reads."""
    st = path.stat()
    assert len(data) == st.st_size
    with open(path, "r+b") as f:
        f.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_stat_cache_spares_rereading_and_survives_moving_the_repo(
    repo: Path, run: Run, tmp_path: Path
) -> None:
    write_tree(repo / "data", {"a.txt": "alpha\n", "b.txt": "beta\n", "sub/c.txt": "gamma\n"})
    backdate(repo / "data")
    [added] = json.loads(run("bale", "add", "data", "--json").stdout)
    assert added["hashed"] == 3
    [again] = json.loads(run("bale", "add", "data", "--json").stdout)
    assert (again["hashed"], again["oid"]) == (0, added["oid"])

    # Were a.txt read again, status would see this.
    _rewrite_keeping_stat(repo / "data" / "a.txt", b"ALPHA\n")
    assert json.loads(run("bale", "status", "--json").stdout) == {}

    moved = tmp_path / "moved" / "elsewhere"
    moved.parent.mkdir()
    shutil.move(repo, moved)
    assert json.loads(run("bale", "status", "--json", cwd=moved).stdout) == {}
    [after_move] = json.loads(run("bale", "add", "data", "--json", cwd=moved).stdout)
    assert (after_move["hashed"], after_move["oid"]) == (0, added["oid"])

    # Without the stat cache the change is seen: the checks above can fail.
    for p in (moved / ".dvc" / "tmp" / "bale").iterdir():
        if p.is_file():
            p.unlink()
    status = json.loads(run("bale", "status", "--json", cwd=moved).stdout)
    assert status == {"data.dvc": [{"changed outs": {"data": "modified"}}]}


UNSUPPORTED_OUTPUTS = {
    "inline": (
        "outs:\n- path: d\n  files:\n  - relpath: a.txt\n"
        "    md5: 0cc175b9c0f1b6a831c399e269772661\n    size: 1\n    version_id: v1\n",
        "lists its files inline",
    ),
    "url": ("outs:\n- path: s3://bucket/key\n  etag: abc\n  size: 3\n", "is a URL"),
}


@pytest.mark.parametrize("kind", sorted(UNSUPPORTED_OUTPUTS))
@pytest.mark.parametrize(
    "command", ["status", "checkout", "pull", "fetch", "push", "gc -w -f", "du", "diff"]
)
def test_an_output_bale_cannot_handle_is_an_error_naming_its_file(
    md5_repo: Path, run: Run, kind: str, command: str
) -> None:
    """An output written for what bale lacks (a version-aware remote's inline
    listing, an external URL output) stops every command that walks outputs,
    naming the file; none passes over it (a gc that did would delete the
    cached object of the file it lists)."""
    text, why = UNSUPPORTED_OUTPUTS[kind]
    (md5_repo / "d.dvc").write_text(text)
    run("bale", "remote", "add", "-d", "r", str(md5_repo.parent / "remote"))
    run("git", "add", "-A")
    run("git", "commit", "-qm", "an output bale cannot handle")
    kept = md5_repo / ".dvc/cache/files/md5/0c/c175b9c0f1b6a831c399e269772661"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"a")
    proc = run("bale", *command.split(), ok=False)
    assert proc.stderr.strip().splitlines() == [
        f"ERROR: {md5_repo / 'd.dvc'}: output '{text.split()[3]}' {why}"
        + proc.stderr.split(why, 1)[1].rstrip()
    ]
    assert kept.read_bytes() == b"a"
