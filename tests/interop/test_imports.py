"""What ``dvc import`` and ``dvc import-url`` leave in a repository, in every
command's scope as dvc 3.67.1 has them (see :mod:`bale.ops.imports`): the
same command sequence runs with dvc in one copy of an importing repository
and with bale in its twin, and what a user sees is compared."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from tests.interop.conftest import copy_repo
from tests.interop.test_dvc_differential import (
    Sh,
    Step,
    assert_same_outcomes,
    assert_same_state,
    commit_all,
    differential,
    run_bale,
    run_dvc,
)

pytestmark = pytest.mark.interop

# The objects of the `dvc import` outputs (file.txt, dir and dir's files),
# which dvc never pushes and fetches from the source repository only.
REPO_IMPORT_OBJECTS = {
    "files/md5/b1/946ac92492d2347c6235b4d2611184",  # file.txt: hello
    "files/md5/b0/26324c6904b2a9cb4b88d6d61c81d1",  # dir/a: 1
    "files/md5/26/ab0db90d72e28ad0ba1e22ee510510",  # dir/b: 2
    "files/md5/c3/7f8bc8917fdf64a45bb6010380cdab.dir",
}

# Each twin pushes to a folder remote of its own beside it (url relative to .dvc/).
REMOTE = """cat > .dvc/config <<EOF
[core]
    remote = r
['remote "r"']
    url = ../../$(basename "$PWD")-remote
EOF"""


@pytest.fixture(scope="module")
def source(sh: Sh, dvc_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository to import from (its cache holds the data: no remote), and
    beside it the file and directory ``import-url`` copies."""
    base = tmp_path_factory.mktemp("import-source")
    (base / "url.txt").write_text("urldata\n")
    (base / "urldir").mkdir()
    (base / "urldir" / "x").write_text("u1\n")
    (base / "urldir" / "y").write_text("u2\n")
    root = copy_repo(dvc_template, base / "repo")
    steps: list[Step] = [
        "mkdir -p data/dir && echo hello > data/file.txt && echo 1 > data/dir/a"
        " && echo 2 > data/dir/b",
        ("add", "data/file.txt", "data/dir"),
        commit_all("source"),
    ]
    assert all(r.ok for r in run_bale(sh, root, steps))
    return root


@pytest.fixture(scope="module")
def imported(
    sh: Sh, dvc_template: Path, source: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A repository whose HEAD~1 tracks reg.txt and whose HEAD adds, by dvc,
    a file and a directory imported from ``source`` and a file and a
    directory imported by URL; the cache holds everything."""
    root = copy_repo(dvc_template, tmp_path_factory.mktemp("imported") / "repo")
    ext = source.parent
    steps: list[Step] = [
        "echo reg > reg.txt",
        ("add", "reg.txt"),
        commit_all("c0"),
        ("import", str(source), "data/file.txt", "-o", "file.txt"),
        ("import", str(source), "data/dir", "-o", "dir"),
        ("import-url", str(ext / "url.txt"), "url.txt"),
        ("import-url", str(ext / "urldir"), "urldir"),
        commit_all("imports"),
    ]
    results = run_dvc(sh, root, steps)
    assert all(r.ok for r in results), [r.err for r in results]
    return root


def test_status_diff_and_checkout_cover_imports_like_dvc(
    sh: Sh, imported: Path, tmp_path: Path
) -> None:
    steps: list[Step] = [
        "rm file.txt && echo changed > file.txt && echo 3 > dir/c && rm dir/a url.txt",
        ("status", "--json"),
        ("diff", "--json"),
        ("diff", "--json", "HEAD~1", "HEAD"),
        ("checkout", "--force"),
        ("status", "--json"),
        ("diff", "--json"),
    ]
    dvc, bale, d, b = differential(sh, imported, tmp_path, steps)
    assert_same_outcomes(steps, dvc, bale)
    assert dvc[1].json() == {
        "dir.dvc": [{"changed outs": {"dir": "modified"}}],
        "file.txt.dvc": [{"changed outs": {"file.txt": "modified"}}],
        "url.txt.dvc": [{"changed outs": {"url.txt": "deleted"}}],
    }
    added = dvc[3].json()["added"]
    assert {"path": "file.txt"} in added and {"path": "urldir/x"} in added
    for i in (1, 2, 3, 5, 6):
        assert bale[i].json() == dvc[i].json(), steps[i]
    assert_same_state(sh, d, b)


def test_commit_and_add_of_imports_write_what_dvc_writes(
    sh: Sh, imported: Path, tmp_path: Path
) -> None:
    steps: list[Step] = [
        "rm file.txt url.txt && echo changed > file.txt && echo u2 > url.txt && echo 3 > dir/c",
        # commit writes the new output and the stage checksum; deps and frozen stay
        ("commit", "-f", "file.txt.dvc", "url.txt.dvc"),
        # add of a path inside an imported directory updates the import, and
        # keeps its old checksum, which status then calls changed
        ("add", "dir/c"),
        ("status", "--json"),
        ("commit", "-f", "dir.dvc"),
        ("status", "--json"),
        ("remove", "url.txt.dvc"),
    ]
    dvc, bale, d, b = differential(sh, imported, tmp_path, steps)
    assert_same_outcomes(steps, dvc, bale)
    assert dvc[3].json() == {"dir.dvc": ["changed checksum"]}
    assert bale[3].json() == dvc[3].json()
    assert bale[5].json() == dvc[5].json() == {}
    assert "frozen: true" in (b / "file.txt.dvc").read_text()
    assert_same_state(sh, d, b)


def test_status_text_names_a_changed_checksum_like_dvc(
    sh: Sh, imported: Path, tmp_path: Path
) -> None:
    steps: list[Step] = ["echo changed >> file.txt", ("add", "file.txt"), ("status",)]
    dvc, bale, _d, _b = differential(sh, imported, tmp_path, steps)
    assert dvc[2].out == "file.txt.dvc:\n\tchanged checksum\n"
    assert bale[2].out == dvc[2].out


def _remote_keys(root: Path) -> set[str]:
    remote = root.parent / f"{root.name}-remote"
    return {p.relative_to(remote).as_posix() for p in remote.rglob("*") if p.is_file()}


def test_push_sends_what_dvc_pushes_and_a_clone_pulls_the_rest_or_says_why(
    sh: Sh, imported: Path, tmp_path: Path
) -> None:
    steps: list[Step] = [("status", "-c", "--json"), ("push",), ("status", "-c", "--json")]
    dvc, bale, d, b = differential(sh, imported, tmp_path, steps, REMOTE)
    assert_same_outcomes(steps, dvc, bale)
    # import-url outputs are pushed, dvc import ones are not
    assert set(dvc[0].json()) == {"reg.txt", "url.txt", "urldir", "urldir/x", "urldir/y"}
    assert bale[0].json() == dvc[0].json()
    assert bale[2].json() == dvc[2].json() == {}
    assert _remote_keys(b) == _remote_keys(d)
    assert not _remote_keys(b) & REPO_IMPORT_OBJECTS

    # A fresh clone gets what the remote has, and the dvc imports from their source.
    clone = tmp_path / "clone"
    sh.git("clone", "-q", str(b), str(clone), cwd=tmp_path)
    (clone / ".dvc/config").write_text(
        f"[core]\n    remote = r\n['remote \"r\"']\n    url = {b}-remote\n"
    )
    sh.bale("pull", cwd=clone)
    for out, text in (
        ("reg.txt", "reg\n"),
        ("url.txt", "urldata\n"),
        ("urldir/y", "u2\n"),
        ("file.txt", "hello\n"),
        ("dir/b", "2\n"),
    ):
        assert (clone / out).read_text() == text
    assert sh.bale("status", "--json", cwd=clone).stdout.strip() == "{}"
    assert sh.dvc("status", "--json", cwd=clone).stdout.strip() == "{}"
    # Nothing of the imports went to this repository's remote.
    assert not _remote_keys(b) & REPO_IMPORT_OBJECTS


def _source_of(imported: Path) -> Path:
    text = (imported / "file.txt.dvc").read_text()
    found = re.search(r"url: (\S+)", text)
    assert found is not None
    return Path(found.group(1))


def test_checkout_without_the_imported_data_names_the_source_and_fetch_gets_it_there(
    sh: Sh, imported: Path, tmp_path: Path
) -> None:
    root = copy_repo(imported, tmp_path / "repo")
    shutil.rmtree(root / ".dvc/cache")
    shutil.rmtree(root / "dir")
    co = sh.bale("checkout", cwd=root, check=False)
    assert co.returncode == 1
    assert "dir.dvc imports data/dir in " in co.stderr and "'bale pull dir.dvc'" in co.stderr
    sh.bale("fetch", "file.txt", "dir", cwd=root)
    sh.bale("checkout", "dir", cwd=root)
    assert (root / "dir/b").read_text() == "2\n"
    # The source lost its data: fetch fails naming the .dvc file and the source.
    shutil.rmtree(root / ".dvc/cache")
    cache = _source_of(imported) / ".dvc/cache"
    shutil.move(cache, cache.with_name("away"))
    try:
        fetched = sh.bale("fetch", "file.txt", cwd=root, check=False)
    finally:
        shutil.move(cache.with_name("away"), cache)
    assert fetched.returncode == 1
    assert "file.txt.dvc: cannot fetch from its source: " in fetched.stderr
    assert "no default remote" in fetched.stderr


def test_status_checks_a_local_source_and_warns_of_a_repository_one(
    sh: Sh, imported: Path, tmp_path: Path
) -> None:
    root = copy_repo(imported, tmp_path / "repo")
    for name in ("url.txt.dvc", "file.txt.dvc"):
        dvcfile = root / name
        dvcfile.write_text(dvcfile.read_text().replace("frozen: true\n", ""))
    r = sh.bale("status", "url.txt.dvc", cwd=root)
    assert (r.stdout, r.stderr) == ("Data and pipelines are up to date.\n", "")
    # a repository source is not checked yet: said, not skipped silently
    r = sh.bale("status", "file.txt.dvc", cwd=root)
    assert r.stdout == "Data and pipelines are up to date.\n"
    assert r.stderr.startswith("WARNING: file.txt.dvc: is not frozen")
    assert "'dvc status file.txt.dvc'" in r.stderr
    source = _source_of_url(imported)
    saved = source.read_bytes()
    try:
        source.write_bytes(saved + b"more\n")
        r = sh.bale("status", "url.txt.dvc", cwd=root)
        assert r.stdout == f"url.txt.dvc:\n\tchanged deps:\n\t\tmodified:           {source}\n"
    finally:
        source.write_bytes(saved)


def _source_of_url(imported: Path) -> Path:
    found = re.search(r"path: (/\S+)", (imported / "url.txt.dvc").read_text())
    assert found is not None
    return Path(found.group(1))


def test_gc_keeps_imported_objects_of_other_commits(sh: Sh, imported: Path, tmp_path: Path) -> None:
    steps: list[Step] = [
        "git rm -q url.txt.dvc file.txt.dvc && git commit -qm drop",
        ("gc", "-A", "-f"),
    ]
    dvc, bale, d, b = differential(sh, imported, tmp_path, steps)
    assert_same_outcomes(steps, dvc, bale)

    def cache(root: Path) -> set[str]:
        c = root / ".dvc/cache"
        return {p.relative_to(c).as_posix() for p in c.rglob("*") if p.is_file()}

    # dvc keeps the import-url objects of HEAD~1 and deletes every dvc
    # import object; bale keeps those too (a workspace output could not be
    # checked out again without its source at hand).
    assert "files/md5/12/595c247d5f057e820763aa560b5d2b" in cache(d)  # url.txt
    assert not cache(d) & REPO_IMPORT_OBJECTS
    assert cache(b) == cache(d) | REPO_IMPORT_OBJECTS


def test_no_download_imports_are_reported_not_skipped(
    sh: Sh, dvc_template: Path, source: Path, tmp_path: Path
) -> None:
    setup = (
        f"dvc import -q --no-download {shlex.quote(str(source))} data/file.txt -o f.txt"
        f" && dvc import-url -q --no-download {shlex.quote(str(source.parent / 'url.txt'))} u.txt"
    )
    steps: list[Step] = [("status", "--json"), ("checkout",)]
    dvc, bale, _d, b = differential(sh, dvc_template, tmp_path, steps, setup)
    assert_same_outcomes(steps, dvc, bale)
    assert not dvc[1].ok
    assert bale[0].json() == dvc[0].json()
    assert "f.txt.dvc imports data/file.txt in " in bale[1].err
    assert "u.txt.dvc imports " + str(source.parent / "url.txt") in bale[1].err
    pulled = run_bale(sh, b, [("pull",)])[0]
    assert pulled.rc == 1 and "'bale update f.txt.dvc'" in pulled.err
    assert "'dvc pull u.txt.dvc'" in pulled.err
