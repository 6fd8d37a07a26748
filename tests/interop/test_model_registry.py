"""``bale model`` against GTO 1.10 (from PyPI), twin repositories: the same
acts done by bale in one copy and by GTO in the other make the same tags
(name, commit, tagger, message), and on each copy ``bale model show/history
--json`` print what ``gto show/history --json`` print. dvc's ``artifacts
get`` reads the registry bale wrote.

GTO ignores ``GIT_COMMITTER_DATE`` (it takes the time from the clock and
only the offset from the variable), so its tags are re-dated afterwards to
the times bale's got: tags made in the same second would otherwise order by
name, and the comparison would rest on when the test ran.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.interop.conftest import Sh, copy_repo

pytestmark = pytest.mark.interop

#: The acts' times: after the commits' (a version's commit dates an event
#: of it too), ten seconds apart.
T0 = int(time.time()) + 3600

#: Each act as bale's command line and as GTO's API call (on repository ``r``).
ACTS: list[tuple[list[str], Callable[[Any, str], object]]] = [
    (["register", "clf", "HEAD~2"], lambda g, r: g.register(r, "clf", "HEAD~2")),
    (
        ["register", "clf", "HEAD~1", "--bump-minor"],
        lambda g, r: g.register(r, "clf", "HEAD~1", bump_minor=True),
    ),
    (
        ["assign", "clf", "prod", "--version", "v0.0.1"],
        lambda g, r: g.assign(r, "clf", "prod", version="v0.0.1"),
    ),
    (
        ["assign", "clf", "prod", "--version", "v0.1.0"],
        lambda g, r: g.assign(r, "clf", "prod", version="v0.1.0"),
    ),
    # no version at HEAD: one is registered (v0.1.1) and assigned, two tags at once
    (
        ["assign", "clf", "staging", "--rev", "HEAD"],
        lambda g, r: g.assign(r, "clf", "staging", ref="HEAD"),
    ),
    (
        ["assign", "clf", "dev", "--version", "v0.0.1"],
        lambda g, r: g.assign(r, "clf", "dev", version="v0.0.1"),
    ),
    (
        ["deprecate", "clf", "v0.0.1", "dev"],
        lambda g, r: g.unassign(r, "clf", version="v0.0.1", stage="dev"),
    ),
    (
        ["register", "sub:nested", "HEAD~1", "--version", "v1.0.0"],
        lambda g, r: g.register(r, "sub:nested", "HEAD~1", version="v1.0.0"),
    ),
    (
        ["register", "sub:nested", "HEAD", "--version", "v1.1.0-rc.1"],
        lambda g, r: g.register(r, "sub:nested", "HEAD", version="v1.1.0-rc.1"),
    ),
    (
        ["deprecate", "sub:nested", "v1.1.0-rc.1"],
        lambda g, r: g.deregister(r, "sub:nested", version="v1.1.0-rc.1"),
    ),
    # not declared in any dvc.yaml: bale registers it only when forced
    (
        ["register", "other", "HEAD", "--version", "v2.0.0", "--force"],
        lambda g, r: g.register(r, "other", "HEAD", version="v2.0.0"),
    ),
    (["deprecate", "other"], lambda g, r: g.deprecate(r, "other")),
]


def _tags(root: Path) -> list[str]:
    out = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname:strip=2)", "refs/tags"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def _described(root: Path) -> list[str]:
    """Every tag as git holds it: name, commit, tagger, time, message."""
    fmt = (
        "%(refname:strip=2) %(*objectname) %(taggername) %(taggeremail) "
        "%(taggerdate:raw) %(contents)"
    )
    out = subprocess.run(
        ["git", "for-each-ref", f"--format={fmt}", "refs/tags"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split("\n\n")


@pytest.fixture(scope="module")
def base(sh: Sh, dvc_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dvc repository with three commits of a model and a directory, added
    and pushed by bale, both declared as artifacts."""
    root = copy_repo(dvc_template, tmp_path_factory.mktemp("model-registry") / "base")
    sh.bale("remote", "add", "-d", "store", str(root.parent / "store"), cwd=root)
    (root / "dvc.yaml").write_text("artifacts:\n  clf:\n    path: model.pkl\n    type: model\n")
    (root / "sub" / "data").mkdir(parents=True)
    (root / "sub" / "dvc.yaml").write_text("artifacts:\n  nested:\n    path: data\n")
    for n in range(3):
        (root / "model.pkl").write_text(f"model {n}\n")
        (root / "sub" / "data" / "part").write_text(f"part {n}\n")
        sh.bale("add", "-q", "model.pkl", "sub/data", cwd=root)
        sh.git("add", "-A", cwd=root)
        sh.git("commit", "-qm", f"model {n}", cwd=root)
        sh.bale("push", "-q", cwd=root)
    return root


@pytest.fixture(scope="module")
def twins(sh: Sh, base: Path) -> tuple[Path, Path]:
    """The base repository with the acts done by bale, and by GTO."""
    ours = copy_repo(base, base.parent / "bale")
    for n, (argv, _g) in enumerate(ACTS):
        env = dict(sh.env, GIT_COMMITTER_DATE=f"{T0 + 10 * n} +0000")
        Sh(env).bale("model", *argv, cwd=ours)
    theirs = copy_repo(base, base.parent / "gto")
    import gto.api

    made: list[list[str]] = []
    with pytest.MonkeyPatch.context() as mp:
        for key in ("GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
            mp.setenv(key, sh.env[key])
        for _argv, act in ACTS:
            before = set(_tags(theirs))
            act(gto.api, str(theirs))
            made.append(sorted(set(_tags(theirs)) - before))
    _redate(sh, theirs, made)
    return ours, theirs


def _redate(sh: Sh, root: Path, made: list[list[str]]) -> None:
    """Each act's tags re-made as they were, at the time bale's got."""
    fmt = "%(*objectname)%00%(contents)"
    for n, names in enumerate(made):
        env = dict(sh.env, GIT_COMMITTER_DATE=f"{T0 + 10 * n} +0000")
        for name in names:
            target, message = sh.git(
                "for-each-ref", f"--format={fmt}", f"refs/tags/{name}", cwd=root
            ).stdout.split("\0", 1)
            Sh(env).git("tag", "-f", "-a", name, target, "-m", message.rstrip("\n"), cwd=root)


def test_bale_makes_the_tags_gto_makes(twins: tuple[Path, Path]) -> None:
    ours, theirs = twins
    assert _described(ours) == _described(theirs)
    assert "clf#staging#3" in _tags(ours) and "clf@v0.1.1" in _tags(ours)


#: ``model show``/``history`` arguments, and GTO's API call for the same.
QUERIES: list[tuple[list[str], Callable[[Any, str], object]]] = [
    (["show"], lambda g, r: g.show(r)),
    (["show", "--deprecated"], lambda g, r: g.show(r, deprecated=True)),
    (["show", "--registered-only"], lambda g, r: g.show(r, registered_only=True)),
    (["show", "--sort", "semver"], lambda g, r: g.show(r, sort="semver")),
    (["show", "clf"], lambda g, r: g.show(r, "clf")),
    (["show", "clf", "--sort", "semver"], lambda g, r: g.show(r, "clf", sort="semver")),
    (["show", "sub:nested"], lambda g, r: g.show(r, "sub:nested")),
    (["show", "other"], lambda g, r: g.show(r, "other")),
    (["show", "other", "--deprecated"], lambda g, r: g.show(r, "other", deprecated=True)),
    (["show", "clf@latest"], lambda g, r: g.show(r, "clf@latest")),
    (["show", "clf#prod"], lambda g, r: g.show(r, "clf#prod")),
    (["show", "clf#dev"], lambda g, r: g.show(r, "clf#dev")),
    (["show", "clf@v0.1.0"], lambda g, r: g.show(r, "clf@v0.1.0")),
    (["history"], lambda g, r: g.history(r)),
    (["history", "clf"], lambda g, r: g.history(r, "clf")),
    (["history", "--ascending"], lambda g, r: g.history(r, ascending=True)),
]


@contextlib.contextmanager
def _in(root: Path) -> Iterator[io.StringIO]:
    out = io.StringIO()
    with contextlib.chdir(root), contextlib.redirect_stdout(out):
        yield out


def _bale_json(root: Path, argv: list[str]) -> Any:
    from bale.cli.main import main

    with _in(root) as out:
        assert main(["model", *argv, "--json"]) == 0
    return json.loads(out.getvalue())


def _gto_json(root: Path, query: Callable[[Any, str], object]) -> Any:
    import gto.api
    from gto.constants import VersionSort
    from gto.utils import make_ready_to_serialize

    class _Api:
        """gto.api with ``sort`` given by name, as its command line takes it."""

        def __getattr__(self, name: str) -> Any:
            call = getattr(gto.api, name)

            def wrapped(*args: Any, **kwargs: Any) -> Any:
                if "sort" in kwargs:
                    kwargs["sort"] = VersionSort.SemVer
                return call(*args, **kwargs)

            return wrapped

    return json.loads(json.dumps(make_ready_to_serialize(query(_Api(), str(root)))))


@pytest.mark.parametrize("who", ["bale", "gto"])
def test_model_show_and_history_print_what_gto_prints(twins: tuple[Path, Path], who: str) -> None:
    root = twins[0] if who == "bale" else twins[1]
    for argv, query in QUERIES:
        assert _bale_json(root, argv) == _gto_json(root, query), argv
    shown = _bale_json(root, ["show"])
    assert shown["clf"]["stage"] == {"prod": "v0.1.0", "staging": "v0.1.1"}  # dev: unassigned
    assert shown["sub:nested"]["version"] == "v1.0.0" and "other" not in shown


def test_dvc_gets_the_stage_bale_assigned(sh: Sh, twins: tuple[Path, Path], tmp_path: Path) -> None:
    ours, _theirs = twins
    sh.dvc("artifacts", "get", str(ours), "clf", "--stage", "prod", "-o", "prod.pkl", cwd=tmp_path)
    assert (tmp_path / "prod.pkl").read_text() == "model 1\n"


def test_model_show_lineage_reads_the_version_at_its_commit(
    sh: Sh, twins: tuple[Path, Path]
) -> None:
    ours, _theirs = twins
    tag_commit = sh.git("rev-list", "-n1", "clf@v0.1.0", cwd=ours).stdout.strip()
    recorded = sh.git("show", f"{tag_commit}:model.pkl.dvc", cwd=ours).stdout
    for ref in ("clf@v0.1.0", "clf#prod"):
        got = json.loads(sh.bale("model", "show", ref, "--lineage", "--json", cwd=ours).stdout)
        assert got["version"] == "v0.1.0" and got["commit"] == tag_commit, ref
        assert got["stages"] == ["prod"] and got["path"] == "model.pkl"
        lineage = got["lineage"]
        assert lineage["rev"] == {"name": "clf@v0.1.0", "commit": tag_commit}
        assert f"md5: {lineage['md5']}" in recorded and lineage["tracked_by"] == "model.pkl.dvc"
    text = sh.bale("model", "show", "clf@v0.0.1", "--lineage", cwd=ours).stdout
    assert text.startswith("clf v0.0.1 (") and "model.pkl" in text
    for ref, words in (
        ("clf", "'clf' has 3 versions: name one"),
        ("other@v2.0.0", "not declared in dvc.yaml's 'artifacts:' at its commit"),
        ("clf@v7.0.0", "Unable to find artifact 'clf @ v7.0.0'"),
    ):
        p = sh.bale("model", "show", ref, "--lineage", cwd=ours, check=False)
        assert p.returncode == 1 and words in p.stderr, (ref, p.stderr)
