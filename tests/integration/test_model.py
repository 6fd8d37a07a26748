"""``bale model``'s refusals: a version that could not be got back (not
declared, not committed, not on a remote) unless ``--force``, and bad
names, versions and stages. Each is one line naming what is wrong, a
non-zero exit, and no tag: every tag there is annotated and meant."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.integration.conftest import Run, write_tree


def _refused(run: Run, *args: str) -> str:
    p = run("bale", "model", *args, ok=False)
    line = p.stderr.strip()
    assert line.startswith("ERROR: ") and "\n" not in line, p.stderr
    return line


def _tags(root: Path) -> dict[str, str]:
    """Tag name -> the kind of object it names (``tag``: annotated)."""
    out = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname:strip=2) %(objecttype)", "refs/tags"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split() for line in out.splitlines())


def test_register_refuses_what_could_not_be_got_back(run: Run, repo: Path, tmp_path: Path) -> None:
    write_tree(
        repo,
        {
            "model.pkl": "weights 1\n",
            "dvc.yaml": "artifacts:\n  clf:\n    path: model.pkl\n  ghost:\n    path: gone.bin\n",
        },
    )
    run("bale", "add", "-q", "model.pkl")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "one")

    assert "on no remote (none is configured)" in _refused(run, "register", "clf")
    run("bale", "remote", "add", "-d", "store", str(tmp_path / "store"))
    run("bale", "remote", "add", "spare", str(tmp_path / "spare"))
    line = _refused(run, "register", "clf")
    assert "the data of model.pkl is not on remote 'store', 'spare'" in line, line
    assert "--force" in line
    assert "not declared in dvc.yaml's 'artifacts:' at HEAD" in _refused(run, "register", "other")
    assert "gone.bin is not committed at HEAD" in _refused(run, "register", "ghost")
    run("bale", "push", "-q", "-r", "spare")  # any remote will do

    # a new model added, its .dvc file not committed: HEAD is not what is there
    write_tree(repo, {"model.pkl": "weights 2\n"})
    run("bale", "add", "-q", "model.pkl")
    line = _refused(run, "register", "clf")
    assert "model.pkl.dvc has changes not committed" in line, line
    assert _tags(repo) == {}

    run("git", "commit", "-qam", "two")
    run("bale", "model", "register", "clf", "HEAD~1", "--version", "v1.0.0")  # on spare
    assert "is not on remote" in _refused(run, "register", "clf")
    run("bale", "push", "-q")
    out = run("bale", "model", "register", "clf").stdout
    assert "Created git tag 'clf@v1.0.1' that registers version" in out
    assert "git push origin clf@v1.0.1" in out
    run("bale", "model", "register", "other", "--version", "v3.0.0", "--force")
    assert _tags(repo) == {"clf@v1.0.0": "tag", "clf@v1.0.1": "tag", "other@v3.0.0": "tag"}


def test_bad_names_versions_stages_and_repeats(run: Run, md5_repo: Path, tmp_path: Path) -> None:
    repo = md5_repo
    write_tree(repo, {"model.pkl": "w\n", "dvc.yaml": "artifacts:\n  clf:\n    path: model.pkl\n"})
    run("bale", "remote", "add", "-d", "store", str(tmp_path / "store"))
    run("bale", "add", "-q", "model.pkl")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "one")
    run("bale", "push", "-q")
    assert "cannot bump the minor version" in _refused(run, "register", "clf", "--bump-minor")
    assert "invalid version '1.0'" in _refused(run, "register", "clf", "--version", "1.0")
    assert "invalid artifact name 'c f'" in _refused(run, "register", "c f")
    assert "unknown git revision 'nope'" in _refused(run, "register", "clf", "nope")
    run("bale", "model", "register", "clf")
    assert "already registered at" in _refused(run, "register", "clf")

    write_tree(repo, {"model.pkl": "w2\n"})
    run("bale", "add", "-q", "model.pkl")
    run("git", "commit", "-qam", "two")
    run("bale", "push", "-q")
    line = _refused(run, "register", "clf", "--version", "v0.0.1")
    assert "version 'v0.0.1' of 'clf' is registered already" in line
    # a stage name git takes no tag for, or GTO's grammar refuses
    assert "git refuses the tag name 'clf#a//b#1'" in _refused(run, "assign", "clf", "a//b")
    assert "invalid stage name 'bad stage'" in _refused(run, "assign", "clf", "bad stage")
    write_tree(repo, {".gto": "stages: [dev, prod]\n"})
    assert "unknown stage 'staging': .gto allows dev, prod" in _refused(
        run, "assign", "clf", "staging", "--version", "v0.0.1"
    )
    run("bale", "model", "assign", "clf", "prod", "--version", "v0.0.1")
    assert "is in stage 'prod' already" in _refused(
        run, "assign", "clf", "prod", "--version", "v0.0.1"
    )
    line = _refused(run, "assign", "clf", "prod", "--version", "v9.0.0")
    assert "version 'v9.0.0' of 'clf' is not registered" in line
    assert "Unable to find artifact 'nope'" in _refused(run, "deprecate", "nope")
    line = _refused(run, "deprecate", "clf", "v0.0.1", "dev")
    assert "stage 'dev' is not assigned to version 'v0.0.1'" in line
    # GTO orders events by the second: a deprecation in the second of the
    # newest other event may sort before it (and not take effect), in GTO and so in bale
    time.sleep(1.1)
    run("bale", "model", "deprecate", "clf")
    assert "was deprecated already" in _refused(run, "deprecate", "clf")
    # nothing half-made: every tag is annotated, and only the acts that were done made one
    assert _tags(repo) == {"clf@v0.0.1": "tag", "clf#prod#1": "tag", "clf@deprecated": "tag"}
    shown = run("bale", "model", "show", "--deprecated").stdout.splitlines()
    assert shown[0].split() == ["name", "latest", "#dev", "#prod"]
    assert shown[1].split() == ["clf", "v0.0.1", "-", "v0.0.1"]
