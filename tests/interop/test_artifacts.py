"""``artifacts get`` and ``api.artifacts_show`` against dvc 3.67.1, on a
registry GTO (from PyPI, the tool that writes it) tagged: versions
registered and deregistered, stages assigned and unassigned, a pre-release,
an artifact declared in a subdirectory's ``dvc.yaml`` (a directory), and a
lightweight tag named like a registry event (which neither counts).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.interop.conftest import Sh, copy_repo

pytestmark = pytest.mark.interop

GTO = [sys.executable, "-m", "gto.cli"]


@pytest.fixture(autouse=True)
def _cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Clones of URLs go to a temp $XDG_CACHE_HOME, not the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def tools(sh: Sh, tmp_path: Path) -> Sh:
    """The tools, their clones of URLs in this test's temp $XDG_CACHE_HOME."""
    return Sh(dict(sh.env, XDG_CACHE_HOME=str(tmp_path / "xdg")))


@pytest.fixture(scope="module")
def registry(sh: Sh, dvc_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("artifacts")
    root = copy_repo(dvc_template, base / "registry")
    sh.dvc("remote", "add", "-d", "-q", "store", str(base / "store"), cwd=root)
    (root / "sub" / "data").mkdir(parents=True)
    (root / "dvc.yaml").write_text(
        "artifacts:\n  text-classifier:\n    path: model.pkl\n    type: model\n"
        "    desc: a classifier\n    labels: [nlp]\n"
    )
    (root / "sub" / "dvc.yaml").write_text("artifacts:\n  nested:\n    path: data\n")
    clock = iter(range(1_700_000_000, 1_800_000_000, 10))

    def at_next_second(*argv: str) -> None:
        # a tag's time orders the registry: one per tag, never a tie
        env = dict(sh.env, GIT_COMMITTER_DATE=f"{next(clock)} +0000")
        subprocess.run([*GTO, *argv], cwd=root, env=env, check=True, capture_output=True)

    for n, version in enumerate(["v1.0.0", "v1.1.0", "v1.2.0-rc.1"]):
        (root / "model.pkl").write_text(f"model {n}\n")
        (root / "sub" / "data" / "part").write_text(f"part {n}\n")
        sh.dvc("add", "-q", "model.pkl", "sub/data", cwd=root)
        sh.git("add", "-A", cwd=root)
        sh.git("commit", "-qm", f"model {n}", cwd=root)
        sh.dvc("push", "-q", cwd=root)
        at_next_second("register", "text-classifier", "--version", version)
        at_next_second("register", "sub:nested", "--version", version)
    at_next_second("assign", "text-classifier", "--version", "v1.0.0", "--stage", "prod")
    at_next_second("assign", "text-classifier", "--version", "v1.1.0", "--stage", "prod")
    at_next_second("assign", "text-classifier", "--version", "v1.0.0", "--stage", "dev")
    at_next_second("deprecate", "text-classifier", "v1.0.0", "dev")  # unassigned
    at_next_second("deprecate", "sub:nested", "v1.2.0-rc.1")  # deregistered
    sh.git("tag", "text-classifier@v9.0.0", "HEAD~2", cwd=root)  # lightweight: no event
    return root


QUERIES: list[tuple[str, str | None, str | None]] = [
    ("text-classifier", None, None),  # the greatest version: the pre-release
    ("text-classifier", "v1.0.0", None),
    ("text-classifier", "v1.1.0", None),
    ("text-classifier", None, "prod"),  # its latest assignment
    ("text-classifier", None, "dev"),  # unassigned last: dvc still takes that tag
    ("text-classifier", "v9.0.0", None),  # only a lightweight tag: none
    ("text-classifier", None, "staging"),
    ("sub:nested", None, None),  # deregistered, still its greatest version
    ("sub/dvc.yaml:nested", "v1.0.0", None),
    ("nope", None, None),
]

_DVC_SHOW = """
import json, sys
import dvc.api
out = []
for name, version, stage in json.loads(sys.argv[1]):
    try:
        out.append(dvc.api.artifacts_show(name, version=version, stage=stage, repo=sys.argv[2]))
    except Exception as e:
        out.append({"error": type(e).__name__, "msg": str(e)})
print(json.dumps(out))
"""


@pytest.mark.parametrize("url", ["path", "file-url"])
def test_artifacts_show_finds_what_dvc_finds(sh: Sh, registry: Path, url: str) -> None:
    from bale import api
    from bale.registry.artifacts import ArtifactNotFoundError

    repo = str(registry) if url == "path" else registry.as_uri()
    theirs = json.loads(
        sh.run([sys.executable, "-c", _DVC_SHOW, json.dumps(QUERIES), repo], registry.parent).stdout
    )
    ours: list[dict[str, str]] = []
    for name, version, stage in QUERIES:
        try:
            ours.append(api.artifacts_show(name, version=version, stage=stage, repo=repo))
        except ArtifactNotFoundError as e:
            ours.append({"error": "ArtifactNotFoundError", "msg": str(e)})
    assert ours == theirs
    assert theirs[0]["path"] == "model.pkl" and theirs[7]["path"] == "sub/data"
    assert theirs[-1]["error"] == "ArtifactNotFoundError"


def test_artifacts_get_downloads_what_dvc_downloads(
    tools: Sh, registry: Path, tmp_path: Path
) -> None:
    steps = [
        ["text-classifier"],
        ["text-classifier", "--rev", "v1.0.0", "-o", "v1.pkl"],
        ["text-classifier", "--stage", "prod", "-o", "prod.pkl"],
        ["sub:nested", "--rev", "v1.1.0", "-o", "nested"],
        ["nope"],
    ]
    said: dict[str, list[tuple[int, str, list[str]]]] = {}
    files: dict[str, dict[str, str]] = {}
    for tool in ("dvc", "bale"):
        here = tmp_path / tool
        here.mkdir()
        run = tools.dvc if tool == "dvc" else tools.bale
        said[tool] = []
        for step in steps:
            p = run("artifacts", "get", registry.as_uri(), *step, cwd=here, check=False)
            last = p.stderr.splitlines()[-1:] if p.returncode else []
            said[tool].append((p.returncode, p.stdout, last))
        files[tool] = {
            str(f.relative_to(here)): f.read_text() for f in here.rglob("*") if f.is_file()
        }
    assert (
        files["bale"]
        == files["dvc"]
        == {
            "model.pkl": "model 2\n",
            "v1.pkl": "model 0\n",
            "prod.pkl": "model 1\n",
            "nested/part": "part 1\n",
        }
    )
    for step, d, b in zip(steps, said["dvc"], said["bale"], strict=True):
        assert d[:2] == b[:2], step  # exit status and "Downloaded N file(s) to 'out'"
    # the error names the artifact and the repository, as dvc's last line does
    (dvc_err,), (bale_err,) = said["dvc"][-1][2], said["bale"][-1][2]
    assert (
        "Unable to find artifact 'nope'" in dvc_err and "Unable to find artifact 'nope'" in bale_err
    )
    assert f"failed to get 'nope' from '{registry.as_uri()}'" in bale_err


def test_a_version_or_stage_can_be_part_of_the_name(
    tools: Sh, registry: Path, tmp_path: Path
) -> None:
    """GTO's shortcuts (a bale extension of ``artifacts get``: dvc takes
    only ``--rev``/``--stage``)."""
    for ref, expected in [
        ("text-classifier@v1.0.0", "model 0\n"),
        ("text-classifier#prod", "model 1\n"),
        ("text-classifier@latest", "model 2\n"),
    ]:
        out = tmp_path / ref.replace("#", "_")
        tools.bale("artifacts", "get", str(registry), ref, "-o", str(out), cwd=tmp_path)
        assert out.read_text() == expected, ref
    p = tools.bale(
        "artifacts",
        "get",
        str(registry),
        "text-classifier@v1.0.0",
        "--stage",
        "prod",
        cwd=tmp_path,
        check=False,
    )
    assert p.returncode == 1 and "give neither --rev nor --stage" in p.stderr


def test_the_registry_is_read_again_after_it_moves(sh: Sh, registry: Path, tmp_path: Path) -> None:
    """A clone of a URL is fetched (tags too) before the registry is read:
    a stage assigned after the first read is found."""
    from bale import api
    from bale.registry.artifacts import ArtifactNotFoundError

    repo = copy_repo(registry, tmp_path / "moving")
    with pytest.raises(ArtifactNotFoundError, match="text-classifier @ canary"):
        api.artifacts_show("text-classifier", stage="canary", repo=repo.as_uri())
    subprocess.run(
        [*GTO, "assign", "text-classifier", "--version", "v1.0.0", "--stage", "canary"],
        cwd=repo,
        env=dict(sh.env, GIT_COMMITTER_DATE="1900000000 +0000"),
        check=True,
        capture_output=True,
    )
    found = api.artifacts_show("text-classifier", stage="canary", repo=repo.as_uri())
    assert found == api.artifacts_show("text-classifier", version="v1.0.0", repo=repo.as_uri())
    shutil.rmtree(repo)


@pytest.mark.parametrize(
    ("artifacts", "message"),
    [
        ("  m:\n    path: a\n    labels: [x, 1]\n", "'labels' must be a list of strings"),
        ("  m:\n    type: model\n", "an artifact must have a 'path'"),
        ("  m:\n    path: a\n    colour: red\n", "unknown artifact property 'colour'"),
        ("  - m\n", "'artifacts' must be a mapping of names"),
        ("  m:\n    path: a\n    desc: d\n    meta: {k: [1]}\n    labels: [x]\n", None),
    ],
)
def test_artifacts_are_checked_as_dvc_checks_them(
    sh: Sh, dvc_repo: Path, artifacts: str, message: str | None
) -> None:
    (dvc_repo / "dvc.yaml").write_text("artifacts:\n" + artifacts)
    theirs = sh.dvc("status", cwd=dvc_repo, check=False)
    ours = sh.bale("status", cwd=dvc_repo, check=False)
    assert (ours.returncode != 0) == (theirs.returncode != 0) == (message is not None)
    if message:
        (line,) = ours.stderr.strip().splitlines()
        assert "dvc.yaml" in line and message in line


def test_the_remote_named_is_the_one_downloaded_from(
    tools: Sh, registry: Path, tmp_path: Path
) -> None:
    """``--remote``: dvc's "remote to set as a default in the target
    repository" (a URL's clone has no cache: the data comes from a remote)."""
    url = registry.as_uri()
    for tool in ("dvc", "bale"):
        run = tools.dvc if tool == "dvc" else tools.bale
        here = tmp_path / tool
        here.mkdir()
        ok = run("artifacts", "get", url, "text-classifier", "--remote", "store", cwd=here)
        assert ok.stdout == "Downloaded 1 file(s) to 'model.pkl'\n", tool
        assert (here / "model.pkl").read_text() == "model 2\n"
        bad = run("artifacts", "get", url, "text-classifier", "--remote", "nosuch", "-o", "x",
                  cwd=here, check=False)  # fmt: skip
        assert bad.returncode == 1 and "nosuch" in bad.stderr, (tool, bad.stderr)
        assert not (here / "x").exists()
    got = tools.bale("get", url, "model.pkl", "--remote", "nosuch", cwd=tmp_path, check=False)
    assert got.returncode == 1 and "nosuch" in got.stderr


def test_a_version_and_a_stage_together_are_refused_before_anything_is_read(
    tmp_path: Path,
) -> None:
    """As ``dvc.api.artifacts_show``: a ValueError (a BaleError too), here
    before the repository is even opened (it does not exist)."""
    from bale import api
    from bale.exceptions import BaleError

    with pytest.raises(ValueError, match="mutually exclusive") as e:
        api.artifacts_show("m", version="v1.0.0", stage="prod", repo=tmp_path / "nowhere")
    assert isinstance(e.value, BaleError)
