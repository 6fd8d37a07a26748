"""Remote features beyond plain push and pull: per-output ``push: false`` and
``remote:``, ``bale remote`` management, revision scopes for push, fetch,
pull and gc, the one-line transfer summary, and a pull whose HTTP server
drops the connection. dvc 3.67.1 is the oracle wherever it is cheap to ask."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from .conftest import Run, read_tree, write_tree


def _md5(content: str | bytes) -> str:
    return hashlib.md5(content.encode() if isinstance(content, str) else content).hexdigest()


def _objects(root: Path) -> set[str]:
    """The md5 object ids (``<hex>`` or ``<hex>.dir``) a cache or folder remote holds."""
    base = root / "files" / "md5"
    if not base.is_dir():
        return set()
    return {
        p.parent.name + p.name
        for p in base.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }


def _cache(repo: Path) -> set[str]:
    return _objects(repo / ".dvc" / "cache")


def _dir_oid(dvcfile: Path) -> str:
    line = next(ln for ln in dvcfile.read_text().splitlines() if ln.startswith("- md5: "))
    return line.removeprefix("- md5: ")


def _set_out_field(dvcfile: Path, key: str, value: str) -> None:
    """Adds ``key: value`` to the single output of ``dvcfile`` (as a user would, by hand)."""
    text = dvcfile.read_text()
    assert text.startswith("outs:\n- ") and text.count("\n- ") == 1, text
    dvcfile.write_text(text + f"  {key}: {value}\n")


def _commit(run: Run, message: str, cwd: Path | None = None) -> None:
    run("git", "add", "-A", cwd=cwd)
    run("git", "commit", "-qm", message, cwd=cwd)


def _clone(repo: Path, run: Run, dest: Path) -> Path:
    run("git", "clone", "-q", str(repo), str(dest))
    return dest


def _json(text: str) -> Any:
    return json.loads(text)


# ------------------------------------------------------------ push: false


def _push_false_repo(repo: Path, run: Run, tmp_path: Path) -> Path:
    """``keep.txt`` marked ``push: false``; ``send.txt`` and ``data/`` pushable."""
    write_tree(repo, {"keep.txt": "stays local\n", "send.txt": "goes out\n"})
    write_tree(repo / "data", {"x": "x\n", "y/z": "z\n"})
    run("bale", "add", "keep.txt", "send.txt", "data")
    _set_out_field(repo / "keep.txt.dvc", "push", "false")
    store = tmp_path / "store"
    run("bale", "remote", "add", "-d", "store", str(store))
    return store


@pytest.mark.interop
def test_push_false_output_stays_local_and_status_cloud_ignores_it_like_dvc(
    md5_repo: Path, run: Run, tmp_path: Path
) -> None:
    store = _push_false_repo(md5_repo, run, tmp_path)
    pushable = {"send.txt": "new", "data": "new", "data/x": "new", "data/y/z": "new"}
    assert _json(run("bale", "status", "-c", "--json").stdout) == pushable
    assert _json(run("dvc", "status", "-c", "--json").stdout) == pushable

    # Named explicitly it is still not pushed (dvc: "Everything is up to date").
    assert _json(run("bale", "push", "--json", "keep.txt.dvc").stdout)["copied"] == 0
    assert _objects(store) == set()

    assert _json(run("bale", "push", "--json").stdout)["copied"] == 4
    data_dir = _dir_oid(md5_repo / "data.dvc")
    assert _objects(store) == {_md5("goes out\n"), _md5("x\n"), _md5("z\n"), data_dir}
    assert _json(run("bale", "status", "-c", "--json").stdout) == {}
    assert _json(run("dvc", "status", "-c", "--json").stdout) == {}


def test_re_adding_a_push_false_output_keeps_it_local(
    md5_repo: Path, run: Run, tmp_path: Path
) -> None:
    store = _push_false_repo(md5_repo, run, tmp_path)
    run("bale", "push")
    # dvc add keeps an output's push: false when the data changes; so does bale.
    write_tree(md5_repo, {"keep.txt": "still local\n"})
    run("bale", "add", "keep.txt")
    assert "push: false" in (md5_repo / "keep.txt.dvc").read_text()
    assert _json(run("bale", "push", "--json").stdout)["copied"] == 0
    assert _md5("still local\n") not in _objects(store)


@pytest.mark.interop
def test_pull_in_a_clone_checks_out_what_was_pushed_despite_a_push_false_output(
    md5_repo: Path, run: Run, tmp_path: Path
) -> None:
    _push_false_repo(md5_repo, run, tmp_path)
    run("bale", "push")
    _commit(run, "data")
    by_dvc = _clone(md5_repo, run, tmp_path / "by_dvc")
    run("dvc", "pull", "-q", cwd=by_dvc, ok=False)  # keep.txt is on no remote
    assert (by_dvc / "send.txt").read_text() == "goes out\n"
    assert not (by_dvc / "keep.txt").exists()

    by_bale = _clone(md5_repo, run, tmp_path / "by_bale")
    run("bale", "pull", cwd=by_bale, ok=False)
    assert not (by_bale / "keep.txt").exists()
    assert (by_bale / "send.txt").is_file(), "nothing was checked out"
    assert (by_bale / "send.txt").read_text() == "goes out\n"
    assert read_tree(by_bale / "data") == read_tree(md5_repo / "data")


# ------------------------------------------------------ remote: <name>


def _two_remotes_repo(repo: Path, run: Run, tmp_path: Path) -> tuple[Path, Path]:
    """``data/`` goes to remote ``side``; ``one.txt`` to the default ``main``."""
    write_tree(repo / "data", {"a": "a\n", "b/c": "c\n"})
    write_tree(repo, {"one.txt": "1\n"})
    run("bale", "add", "data", "one.txt")
    _set_out_field(repo / "data.dvc", "remote", "side")
    main, side = tmp_path / "main_store", tmp_path / "side_store"
    run("bale", "remote", "add", "-d", "main", str(main))
    run("bale", "remote", "add", "side", str(side))
    return main, side


@pytest.mark.interop
def test_an_output_with_its_own_remote_is_pushed_and_pulled_there(
    md5_repo: Path, run: Run, tmp_path: Path
) -> None:
    main, side = _two_remotes_repo(md5_repo, run, tmp_path)
    pushed = _json(run("bale", "push", "--json").stdout)
    assert pushed["copied"] == 4
    assert sorted(pushed["remotes"]) == ["main", "side"]
    data_dir = _dir_oid(md5_repo / "data.dvc")
    assert _objects(main) == {_md5("1\n")}
    assert _objects(side) == {_md5("a\n"), _md5("c\n"), data_dir}
    # Each output is compared with its own remote. (dvc status -c skips
    # outputs that name a remote altogether, so it is not asked here.)
    assert _json(run("bale", "status", "-c", "--json").stdout) == {}
    _commit(run, "data")

    clone = _clone(md5_repo, run, tmp_path / "clone")
    run("bale", "pull", cwd=clone)
    assert read_tree(clone / "data") == read_tree(md5_repo / "data")
    assert (clone / "one.txt").read_text() == "1\n"
    assert _json(run("bale", "status", "--json", cwd=clone).stdout) == {}

    # dvc reads each output from the same remote bale wrote it to.
    by_dvc = _clone(md5_repo, run, tmp_path / "by_dvc")
    run("dvc", "pull", "-q", cwd=by_dvc)
    assert read_tree(by_dvc / "data") == read_tree(md5_repo / "data")
    assert (by_dvc / "one.txt").read_text() == "1\n"


def test_push_r_overrides_an_outputs_remote_and_without_it_only_its_own_is_asked(
    md5_repo: Path, run: Run, tmp_path: Path
) -> None:
    main, side = _two_remotes_repo(md5_repo, run, tmp_path)
    # -r overrides every output's remote (as dvc's does): all of it lands on main.
    run("bale", "push", "-r", "main")
    assert _objects(side) == set()
    assert len(_objects(main)) == 4
    # Without -r, data is looked for on side only, which lacks it.
    side.mkdir()
    new = {"data": "new", "data/a": "new", "data/b/c": "new"}
    assert _json(run("bale", "status", "-c", "--json").stdout) == new
    shutil.rmtree(md5_repo / ".dvc" / "cache")
    err = run("bale", "fetch", ok=False).stderr
    assert "on no remote" in err
    assert _cache(md5_repo) == {_md5("1\n")}
    # With -r main it is found.
    run("bale", "fetch", "-r", "main")
    assert _cache(md5_repo) == _objects(main)


# ------------------------------------------------------ bale remote ...

# Runs CLI commands one after another in one interpreter (a process per
# command would make these tests several times slower) and reports, after
# each, its exit code, stdout, stderr and the repository's .dvc/config.
_REPLAY = r"""
import contextlib, io, json, sys
from pathlib import Path

if sys.argv[1] == "bale":
    from bale.cli.main import main
else:
    from dvc.cli import main

report = []
for argv in json.loads(sys.argv[2]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code
    report.append([code, out.getvalue(), err.getvalue(), Path(".dvc/config").read_text()])
print(json.dumps(report))
"""


class Step(NamedTuple):
    code: int
    stdout: str
    stderr: str
    config: str


def _replay(run: Run, tool: str, cwd: Path, commands: list[list[str]]) -> list[Step]:
    proc = run(sys.executable, "-c", _REPLAY, tool, json.dumps(commands), cwd=cwd)
    return [Step(*step) for step in json.loads(proc.stdout)]


def _both(run: Run, tmp_path: Path, bale_repo: Path, commands: list[list[str]]) -> list[Step]:
    """Replays ``commands`` with bale in ``bale_repo`` and with dvc in a
    sibling repository at the same depth (so relative urls are written the
    same way); checks that each succeeds or fails in both and leaves the
    same .dvc/config. Returns bale's steps."""
    dvc_repo = tmp_path / "dvcrepo"
    shutil.copytree(bale_repo, dvc_repo)  # a fresh bale repository is a dvc one
    bale_steps = _replay(run, "bale", bale_repo, commands)
    dvc_steps = _replay(run, "dvc", dvc_repo, commands)
    for command, ours, theirs in zip(commands, bale_steps, dvc_steps, strict=True):
        assert (ours.code == 0) == (theirs.code == 0), (command, ours, theirs)
        assert ours.config == theirs.config, command
        if command[:2] == ["remote", "default"] and len(command) == 2:
            assert ours.stdout == theirs.stdout, command
    return bale_steps


@pytest.mark.interop
def test_remote_rename_modify_unset_and_default_write_what_dvc_writes(
    md5_repo: Path, run: Run, tmp_path: Path
) -> None:
    far = str(tmp_path / "far")
    steps = _both(
        run,
        tmp_path,
        md5_repo,
        [
            ["remote", "add", "-d", "r1", far],
            ["remote", "add", "r2", "../near"],
            ["remote", "modify", "r1", "verify", "true"],
            ["remote", "modify", "r1", "jobs", "4"],
            ["remote", "rename", "r1", "main"],  # 4: the default follows the rename
            ["remote", "modify", "--unset", "main", "verify"],
            ["remote", "default"],  # 6
            ["remote", "default", "r2"],
            ["remote", "default"],  # 8
            # Refusals, which change nothing:
            ["remote", "rename", "r2", "main"],
            ["remote", "default", "nope"],
            ["remote", "modify", "nope", "jobs", "2"],
            ["remote", "modify", "--unset", "nope", "jobs"],
        ],
    )
    assert steps[4].config == (
        "[core]\n    remote = main\n"
        "['remote \"r2\"']\n    url = ../../near\n"
        f"['remote \"main\"']\n    url = {far}\n    verify = true\n    jobs = 4\n"
    )
    assert "verify" not in steps[5].config and "jobs = 4" in steps[5].config
    assert (steps[6].stdout, steps[8].stdout) == ("main\n", "r2\n")
    assert "remote = r2" in steps[8].config
    for refused in steps[9:]:
        assert refused.code != 0 and refused.stderr.startswith("ERROR: ")
        assert refused.config == steps[8].config


@pytest.mark.interop
def test_remote_add_refuses_an_existing_name_and_add_force_replaces_it_whole(
    md5_repo: Path, run: Run, tmp_path: Path
) -> None:
    steps = _both(
        run,
        tmp_path,
        md5_repo,
        [
            ["remote", "add", "-d", "r", "/srv/one"],
            ["remote", "modify", "r", "jobs", "4"],
            ["remote", "add", "r", "/srv/two"],
            ["remote", "add", "-f", "r", "/srv/two"],
        ],
    )
    assert steps[2].code != 0
    assert steps[2].stderr == "ERROR: remote 'r' already exists; use -f to replace it\n"
    assert steps[2].config == steps[1].config
    # As dvc: the old remote's options do not carry over to the new url.
    assert "jobs" not in steps[3].config
    assert steps[3].config == "[core]\n    remote = r\n['remote \"r\"']\n    url = /srv/two\n"


@pytest.mark.interop
def test_remote_default_unset_clears_the_default_like_dvc(
    md5_repo: Path, run: Run, tmp_path: Path
) -> None:
    steps = _both(
        run,
        tmp_path,
        md5_repo,
        [
            ["remote", "add", "-d", "r", "/srv/one"],
            ["remote", "default", "--unset"],
            ["remote", "default"],
        ],
    )
    assert steps[1].code == 0 and "core" not in steps[1].config
    assert steps[2].code != 0


# ------------------------------------------------------ revision scopes

V1, V2, V3, V4 = (_md5(f"v{i}\n") for i in range(1, 5))


@pytest.fixture
def history(md5_repo: Path, run: Run, tmp_path: Path) -> Iterator[Path]:
    """``f.txt`` at v1 (tag ``t1``) and v2 on ``main``, v3 on branch
    ``feat``, and v4 added but not committed; a folder remote ``store``."""
    import bale

    run("git", "config", "user.name", "t")
    run("git", "config", "user.email", "t@example.invalid")
    run("git", "symbolic-ref", "HEAD", "refs/heads/main")
    repo = bale.Repo(md5_repo)
    for version in ("v1", "v2"):
        write_tree(md5_repo, {"f.txt": f"{version}\n"})
        repo.add([md5_repo / "f.txt"])
        _commit(run, version)
        if version == "v1":
            run("git", "tag", "t1")
    run("git", "checkout", "-q", "-b", "feat")
    write_tree(md5_repo, {"f.txt": "v3\n"})
    repo.add([md5_repo / "f.txt"])
    _commit(run, "v3")
    run("git", "checkout", "-q", "main")
    write_tree(md5_repo, {"f.txt": "v4\n"})
    repo.add([md5_repo / "f.txt"])
    assert _cache(md5_repo) == {V1, V2, V3, V4}
    run("bale", "remote", "add", "-d", "store", str(tmp_path / "store"))
    yield md5_repo


def _forget_data(repo: Path) -> None:
    shutil.rmtree(repo / ".dvc" / "cache")
    (repo / "f.txt").unlink()


def test_all_branches_push_fetch_and_pull_reach_every_branch_head(
    history: Path, run: Run, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    assert _json(run("bale", "push", "-a", "--json").stdout)["copied"] == 3
    assert _objects(store) == {V2, V3, V4}  # not v1: only a tag has it
    assert _json(run("bale", "push", "--all-branches", "--json").stdout)["copied"] == 0

    shutil.rmtree(history / ".dvc" / "cache")
    run("bale", "fetch", "-a")
    assert _cache(history) == {V2, V3, V4}

    _forget_data(history)
    run("bale", "pull", "--all-branches")
    assert _cache(history) == {V2, V3, V4}
    assert (history / "f.txt").read_text() == "v4\n"  # the workspace's version is checked out


@pytest.mark.parametrize(
    ("flags", "kept"),
    [(["-T"], {V1, V4}), (["-a"], {V2, V3, V4}), (["--rev", "feat"], {V3, V4})],
    ids=["all-tags", "all-branches", "rev"],
)
@pytest.mark.interop
def test_gc_with_a_scope_keeps_exactly_what_it_references_like_dvc(
    history: Path, run: Run, tmp_path: Path, flags: list[str], kept: set[str]
) -> None:
    twin = tmp_path / "twin"
    shutil.copytree(history, twin, symlinks=True)
    run("bale", "gc", "-w", *flags, "-f")
    assert _cache(history) == kept
    run("dvc", "gc", "-w", *flags, "-f", cwd=twin)
    assert _cache(twin) == kept
    assert (history / "f.txt").read_text() == "v4\n"


def test_gc_keeps_the_data_of_every_rev_given(history: Path, run: Run) -> None:
    # dvc's gc takes one --rev (the last one wins); bale's, like its push's, adds them up.
    run("bale", "gc", "-w", "--rev", "t1", "--rev", "feat", "-f")
    assert _cache(history) == {V1, V3, V4}


@pytest.mark.interop
def test_gc_with_a_revision_scope_also_keeps_the_workspace_like_dvc(
    history: Path, run: Run, tmp_path: Path
) -> None:
    twin = tmp_path / "twin"
    shutil.copytree(history, twin, symlinks=True)
    run("dvc", "gc", "-T", "-f", cwd=twin)
    assert _cache(twin) == {V1, V4}
    run("bale", "gc", "-T", "-f")
    assert _cache(history) == {V1, V4}


def test_gc_needs_a_scope_and_a_confirmation(history: Path, run: Run) -> None:
    err = run("bale", "gc", "-f", ok=False).stderr
    assert err.startswith("ERROR: ") and "-w" in err
    err = run("bale", "gc", "-w", ok=False).stderr  # stdin is not a terminal: no prompt
    assert err.startswith("ERROR: ") and "-f" in err
    assert _cache(history) == {V1, V2, V3, V4}


@pytest.mark.interop
def test_gc_cloud_with_a_scope_deletes_only_unreferenced_remote_objects(
    history: Path, run: Run, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    run("bale", "push", "-A")
    assert _objects(store) == {V1, V2, V3, V4}

    err = run("bale", "gc", "-w", "-T", "-c", ok=False).stderr
    assert err.startswith("ERROR: ") and "-f" in err
    assert _objects(store) == {V1, V2, V3, V4} and _cache(history) == {V1, V2, V3, V4}

    dry = _json(run("bale", "gc", "-w", "-T", "-c", "--dry", "--json").stdout)
    assert dry["remotes"] == {"store": {"removed": 2, "bytes": 6}}
    assert _objects(store) == {V1, V2, V3, V4}

    run("bale", "gc", "-w", "-T", "-c", "-f")
    assert _objects(store) == {V1, V4}
    assert _cache(history) == {V1, V4}
    # dvc agrees that everything in that scope is still on the remote.
    assert _json(run("dvc", "status", "-c", "-T", "--json").stdout) == {}


@pytest.mark.parametrize(
    ("flags", "fetched"),
    [
        (["-T"], {V1, V4}),
        (["--rev", "feat"], {V3, V4}),
        (["--rev", "t1", "--rev", "feat"], {V1, V3, V4}),
    ],
    ids=["all-tags", "rev", "two-revs"],
)
def test_pull_with_a_scope_fetches_those_revisions_and_checks_out_the_workspace(
    history: Path, run: Run, flags: list[str], fetched: set[str]
) -> None:
    run("bale", "push", "-A")
    _forget_data(history)
    pulled = _json(run("bale", "pull", *flags, "--json").stdout)
    assert pulled["copied"] == len(fetched)
    assert _cache(history) == fetched
    assert (history / "f.txt").read_text() == "v4\n"


# ------------------------------------------------------ the summary line

# dvc's "3 files pushed" on stdout; with -v, on stderr,
# "DEBUG: pushed 3 objects, 1.2 KiB in 0.1 s; ...": the noun and the size unit may change wording.
SUMMARY = re.compile(
    r"^DEBUG: (?P<verb>pushed|fetched) (?P<count>[\d,]+) (?:files|objects), "
    r"(?P<size>[\d.]+) ?(?P<unit>B|[kKMG]i?B),? in (?P<secs>\d+(?:\.\d+)?) ?s\b",
    re.MULTILINE,
)
_UNITS = {"B": 0, "KB": 1, "KIB": 1, "MB": 2, "MIB": 2, "GB": 3, "GIB": 3}


def _summary(text: str, verb: str) -> tuple[int, float, str, float]:
    found = [m for m in SUMMARY.finditer(text) if m["verb"] == verb]
    assert len(found) == 1, f"no single '{verb} …' summary line in:\n{text}"
    m = found[0]
    return int(m["count"].replace(",", "")), float(m["size"]), m["unit"], float(m["secs"])


def _sized(size: float, unit: str, nbytes: int) -> bool:
    """Whether ``size unit`` is ``nbytes`` rounded to one decimal, in base 1024 or 1000."""
    power = _UNITS[unit.upper()]
    return any(
        abs(size * base**power - nbytes) <= 0.05 * base**power + 0.5 for base in (1024, 1000)
    )


def test_push_and_pull_end_with_a_summary_of_what_moved(
    md5_repo: Path, run: Run, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    write_tree(md5_repo / "data", {"a.bin": b"a" * 3000, "s/b.bin": b"b" * 1500, "s/c.txt": "c\n"})
    write_tree(md5_repo, {"one.txt": "1\n"})
    run("bale", "add", "data", "one.txt")
    run("bale", "remote", "add", "-d", "store", str(store))

    proc = run("bale", "push", "-v")
    assert proc.stdout == "5 files pushed\n"  # dvc's line, the same with -v
    count, size, unit, secs = _summary(proc.stderr, "pushed")
    on_remote = [p for p in store.rglob("*") if p.is_file()]
    assert count == len(on_remote) == 5  # 4 files and the .dir
    assert _sized(size, unit, sum(p.stat().st_size for p in on_remote)), (size, unit)
    assert 0 <= secs < 60

    proc = run("bale", "push")
    assert proc.stdout == "Everything is up to date.\n"

    (md5_repo / "data" / "a.bin").unlink()
    shutil.rmtree(md5_repo / ".dvc" / "cache")
    proc = run("bale", "pull", "-v")
    assert proc.stdout == "M       data/\n5 files fetched and 1 file added\n"
    count, size, unit, _secs = _summary(proc.stderr, "fetched")
    assert count == 5
    assert _sized(size, unit, sum(p.stat().st_size for p in on_remote)), (size, unit)
    assert (md5_repo / "data" / "a.bin").read_bytes() == b"a" * 3000

    write_tree(md5_repo, {"one.txt": "2\n"})
    run("bale", "add", "one.txt")
    proc = run("bale", "push", "-q")
    assert proc.stdout == "" and _md5("2\n") in _objects(store)


# ------------------------------------------- a connection dropped mid-pull

BIG = bytes(range(256)) * 1024  # 256 KiB


def _dropping_server(
    folder: Path, key: str, times: int, drops: list[str], gets: list[str]
) -> web.Application:
    """``bale serve folder`` that cuts the first ``times`` GETs of ``key``
    off half-way through the body, recording every GET in ``gets`` and every
    cut in ``drops``."""
    from bale.remotes.serve import make_app

    @web.middleware
    async def drop_once(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path.lstrip("/")
        if request.method == "GET":
            gets.append(path)
        if request.method == "GET" and path == key and len(drops) < times:
            drops.append(path)
            body = (folder / key).read_bytes()
            resp = web.StreamResponse(headers={"Content-Length": str(len(body))})
            await resp.prepare(request)
            await resp.write(body[: len(body) // 2])
            assert request.transport is not None
            request.transport.abort()
            return resp
        return await handler(request)

    app = make_app(folder)
    app.middlewares.append(drop_once)
    return app


def _http_pull_setup(repo: Path, run: Run, folder: Path) -> str:
    write_tree(repo, {"big.bin": BIG, "small.txt": "s\n"})
    run("bale", "add", "big.bin", "small.txt")
    # Pushed to the folder directly, then served: only the pull goes over HTTP.
    run("bale", "remote", "add", "-d", "disk", str(folder))
    run("bale", "push")
    shutil.rmtree(repo / ".dvc" / "cache")
    (repo / "big.bin").unlink()
    (repo / "small.txt").unlink()
    md5 = _md5(BIG)
    return f"files/md5/{md5[:2]}/{md5[2:]}"


def test_a_pull_whose_connection_drops_mid_body_retries_and_gets_every_byte(
    md5_repo: Path, run: Run, tmp_path: Path
) -> None:
    from tests.remotes.http_server import running

    folder = tmp_path / "served"
    key = _http_pull_setup(md5_repo, run, folder)
    drops: list[str] = []
    gets: list[str] = []
    with running(_dropping_server(folder, key, 1, drops, gets)) as url:
        run("bale", "remote", "add", "-d", "web", url)
        run("bale", "pull")
    assert drops == [key], "the connection was never dropped"
    assert gets.count(key) == 2  # the cut-off GET and its retry
    assert (md5_repo / "big.bin").read_bytes() == BIG
    assert (md5_repo / "small.txt").read_text() == "s\n"


def test_a_pull_cut_off_on_every_attempt_fails_cleanly_and_the_next_pull_completes(
    md5_repo: Path, run: Run, tmp_path: Path
) -> None:
    from tests.remotes.http_server import running

    folder = tmp_path / "served"
    key = _http_pull_setup(md5_repo, run, folder)
    drops: list[str] = []
    gets: list[str] = []
    cache = md5_repo / ".dvc" / "cache"
    with running(_dropping_server(folder, key, 2, drops, gets)) as url:
        run("bale", "remote", "add", "-d", "web", url)
        run("bale", "remote", "modify", "web", "retries", "1")  # two attempts, both cut off
        err = run("bale", "pull", ok=False).stderr.strip()
        assert drops == [key, key]
        assert err.startswith("ERROR: ") and "'web'" in err and len(err.splitlines()) == 1
        assert _md5(BIG) not in _objects(cache)
        assert not [p for p in cache.rglob("*") if p.is_file() and p.name.startswith(".")]
        assert not (md5_repo / "big.bin").exists()

        run("bale", "pull")  # the server is healthy again
    assert gets.count(key) == 3
    assert (md5_repo / "big.bin").read_bytes() == BIG
    assert _md5(BIG) in _objects(cache)
