"""The tutorial flow of dvc's Get Started, end to end, with dvc in one
repository and bale in a twin: init, a folder remote, add, push, status -c,
pull into a fresh clone, an edit, checkout of an old revision, branches, a
pipeline with params, repro, metrics and params diff, experiments (exp run,
exp show). Every step's exit status and output are compared (the tool's name,
the twins' paths, commit ids and times normalised), and at the end the files
each tool wrote: metafiles, data, git's view, the cache.

Steps whose output still differs are listed in ``KNOWN`` with a reason; the
table is checked both ways, as in test_corpus.py, so it shrinks as bale is
fixed (the assertion message prints each step's two outputs).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.interop.test_dvc_differential import DvcBatch, Result, run_bale

pytestmark = pytest.mark.interop

Sh = Any
# What the tutorial left: dvc's results, bale's, and the two repositories.
Tutorial = tuple[list[Result], list[Result], dict[str, Path]]

TRAIN = """\
import json, re
lr = float(re.search(r"lr: *([0-9.]+)", open("params.yaml").read()).group(1))
data = open("data/data.xml").read()
open("model.txt", "w").write(f"model lr={lr} rows={data.count('row')}\\n")
json.dump({"acc": round(0.5 + lr / 2, 4), "rows": data.count("row")}, open("metrics.json", "w"))
"""

# (label, step): a label names the step in KNOWN and in failure messages.
# ``init`` runs before these, as each tool's user runs it: ``dvc init``, and
# ``bale init --hash md5`` (bale's default, blake3, makes a cache dvc cannot
# read; md5 is the one flag for a repository shared with dvc).
STEPS: list[tuple[str, str | tuple[str, ...]]] = [
    ("commit init", "git add -A && git commit -qm init"),
    ("remote add", ("remote", "add", "-d", "storage", "../storage")),
    ("remote list", ("remote", "list")),
    ("write data", "mkdir -p data && echo '<posts><row/></posts>' > data/data.xml"),
    ("add", ("add", "data/data.xml")),
    ("commit v1", "git add -A && git commit -qm 'add data' && git tag v1"),
    ("status -c before push", ("status", "-c")),
    ("push", ("push",)),
    ("status -c", ("status", "-c")),
    ("status -c --json", ("status", "-c", "--json")),
    ("clone", "git clone -q . ../clone"),
    ("pull in clone", ("@../clone", "pull")),
    ("clone has the data", "cat ../clone/data/data.xml"),
    ("status in clone", ("@../clone", "status")),
    ("edit", "echo '<posts><row/><row/></posts>' > data/data.xml"),
    ("status after edit", ("status",)),
    ("diff after edit", ("diff",)),
    ("re-add", ("add", "data/data.xml")),
    ("commit v2", "git commit -qam 'more data' && git tag v2"),
    ("push v2", ("push",)),
    ("git checkout v1", "git checkout -q v1"),
    ("checkout v1", ("checkout",)),
    ("v1 data", "cat data/data.xml"),
    ("git checkout main", "git checkout -q main"),
    ("checkout main", ("checkout",)),
    (
        "branch",
        "git checkout -q -b more-rows && echo '<posts><row/><row/><row/></posts>' > data/data.xml",
    ),
    ("add on branch", ("add", "data/data.xml")),
    ("commit branch", "git commit -qam 'three rows'"),
    ("back to main", "git checkout -q main"),
    ("checkout after branch switch", ("checkout",)),
    ("diff main branch", ("diff", "main", "more-rows")),
    (
        "write pipeline",
        "printf 'train:\\n  lr: 0.1\\n' > params.yaml && cat > train.py <<'X'\n" + TRAIN + "X",
    ),
    (
        "stage add",
        (
            "stage",
            "add",
            "-n",
            "train",
            "-p",
            "train.lr",
            "-d",
            "train.py",
            "-d",
            "data/data.xml",
            "-o",
            "model.txt",
            "-M",
            "metrics.json",
            "python3 train.py",
        ),
    ),
    ("repro", ("repro",)),
    ("repro again", ("repro",)),
    ("commit pipeline", "git add -A && git commit -qm pipeline"),
    ("metrics show", ("metrics", "show")),
    ("edit params", "printf 'train:\\n  lr: 0.3\\n' > params.yaml"),
    ("status params", ("status",)),
    ("params diff", ("params", "diff")),
    ("repro params", ("repro",)),
    ("metrics diff", ("metrics", "diff")),
    ("metrics diff --json", ("metrics", "diff", "--json")),
    ("params diff --json", ("params", "diff", "--json")),
    ("commit lr", "git commit -qam 'lr 0.3'"),
    ("exp run", ("exp", "run", "-n", "exp-lr5", "-S", "train.lr=0.5")),
    ("exp show --json", ("exp", "show", "--json")),
    ("exp show --csv", ("exp", "show", "--csv")),
    ("status at the end", ("status",)),
]

# label -> why bale's output still differs from dvc's.
KNOWN: dict[str, str] = {
    "init": "#20.9 init: bale says what it made (hash mode); dvc prints its welcome and links",
}


# file (in the repository) -> why bale writes it differently.
KNOWN_FILES: dict[str, str] = {
    ".dvc/.gitignore": "bale adds /bale.conf.local, its own machine-local settings file",
}


def _normalise(text: str, roots: list[Path]) -> str:
    for root in roots:
        text = text.replace(str(root.parent), "<BASE>")
    text = re.sub(r"\bbale\b", "dvc", text)
    # dvc names the files to stage in a Python set's order (it changes with
    # the string hash seed); bale sorts them
    text = re.sub(
        r"^\tgit add (.*)$",
        lambda m: "\tgit add " + " ".join(sorted(m[1].split())),
        text,
        flags=re.M,
    )
    text = re.sub(r"\b[0-9a-f]{40}\b", "<sha>", text)
    text = re.sub(r"\b[0-9a-f]{7}\b", "<sha7>", text)
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?", "<time>", text)


def _files(root: Path) -> dict[str, bytes]:
    """What a tool left: every file outside .git, dvc's tmp and the run cache."""
    seen = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root).as_posix()
        if rel == ".":
            dirnames[:] = [d for d in dirnames if d != ".git"]
        if rel == ".dvc":
            dirnames[:] = [d for d in dirnames if d != "tmp"]
        if rel == ".dvc/cache":
            dirnames[:] = [d for d in dirnames if d != "runs"]
        for name in filenames:
            # bale.conf: bale's own settings (the hash mode init chose), which
            # dvc neither writes nor reads; config.local: machine-local.
            if rel == ".dvc" and name in ("config.local", "bale.conf"):
                continue
            p = Path(dirpath) / name
            seen[p.relative_to(root).as_posix()] = p.read_bytes()
    return seen


@pytest.fixture(scope="module")
def tutorial(sh: Sh, tmp_path_factory: pytest.TempPathFactory) -> Tutorial:
    # dvc wraps lines at the terminal's width (80 columns when not a terminal),
    # bale never does (README): wide enough that the temp paths fit
    sh = type(sh)({**sh.env, "COLUMNS": "200"})
    base = tmp_path_factory.mktemp("tutorial")
    roots = {}
    for tool in ("dvc", "bale"):
        # Paths of one length in both twins, so that padded columns line up.
        root = base / tool[0] / "repo"
        root.mkdir(parents=True)
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, env=sh.env, check=True)
        roots[tool] = root
    d = sh.dvc("init", cwd=roots["dvc"], check=False)
    b = sh.bale("init", "--hash", "md5", cwd=roots["bale"], check=False)
    steps = [s for _, s in STEPS]
    batch = DvcBatch(sh, roots["dvc"], steps)
    bale = run_bale(sh, roots["bale"], steps)
    first = (Result(d.returncode, d.stdout, d.stderr), Result(b.returncode, b.stdout, b.stderr))
    return [first[0], *batch.results()], [first[1], *bale], roots


def _differing(tutorial: Tutorial) -> dict[str, str]:
    dvc, bale, roots = tutorial
    found = {}
    for (label, _), d, b in zip([("init", ""), *STEPS], dvc, bale, strict=True):
        nd = _normalise(d.out, list(roots.values()))
        nb = _normalise(b.out, list(roots.values()))
        if d.ok != b.ok:
            why = f"dvc {d.rc} {d.err.strip()[:300]!r}, bale {b.rc} {b.err.strip()[:300]!r}"
            found[label] = "exit: " + why
        elif nd != nb:
            found[label] = f"--- dvc\n{nd}--- bale\n{nb}"
    return found


def test_tutorial_steps_print_what_dvc_prints(tutorial: Tutorial) -> None:
    new = {k: v for k, v in _differing(tutorial).items() if k not in KNOWN}
    assert not new, "\n\n".join(f"[{k}]\n{v}" for k, v in new.items())


def test_every_known_tutorial_difference_still_differs(
    tutorial: Tutorial,
) -> None:
    gone = sorted(set(KNOWN) - set(_differing(tutorial)))
    assert not gone, f"these steps now match dvc, remove them from KNOWN: {gone}"
    assert set(KNOWN) <= {"init"} | {label for label, _ in STEPS}


def test_tutorial_leaves_the_files_dvc_leaves(tutorial: Tutorial) -> None:
    _, _, roots = tutorial
    for where in ("repo", "clone"):
        d, b = _files(roots["dvc"].parent / where), _files(roots["bale"].parent / where)
        assert sorted(b) == sorted(d), f"{where}: files differ: {sorted(set(b) ^ set(d))}"
        changed = {p for p in d if d[p] != b[p]}
        known = set(KNOWN_FILES)  # the clone has the same committed files
        assert changed - known == set(), f"{where}: content differs: {sorted(changed - known)}"
        assert known <= changed, f"{where}: now equal, remove from KNOWN_FILES: {known - changed}"
    d, b = _files(roots["dvc"].parent / "storage"), _files(roots["bale"].parent / "storage")
    assert b == d, f"remote: {sorted(set(b) ^ set(d))}"


def main() -> None:
    """Print the steps that differ (label and first lines): the KNOWN table's raw material.

    PYTHONPATH=python python -m tests.interop.test_tutorial
    """
    import tempfile

    from tests.interop.conftest import Sh as Shell
    from tests.interop.conftest import tool_env

    class Factory:
        def __init__(self) -> None:
            self.base = Path(tempfile.mkdtemp(prefix="tutorial-"))

        def mktemp(self, name: str) -> Path:
            p = self.base / name
            p.mkdir()
            return p

    f = Factory()
    (f.base / "site").mkdir()
    (f.base / "config").mkdir()
    shell = Shell(tool_env(f.base / "site", f.base / "config"))
    found = _differing(tutorial.__wrapped__(shell, f))  # type: ignore[attr-defined]
    for label, what in found.items():
        first = [ln for ln in what.splitlines() if ln.strip()][:4]
        print(f"{label!r}: {' | '.join(first)[:160]!r},")


if __name__ == "__main__":
    main()
