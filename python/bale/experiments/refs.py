"""Experiment refs, laid out as dvc lays them out:
``refs/exps/<baseline[:2]>/<baseline[2:]>/<name>``, each pointing at a
commit whose parent is the baseline commit."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from bale import scm
from bale.exceptions import BaleError

NAMESPACE = "refs/exps"
#: bale's own queue of experiments waiting for ``exp run --run-all``; kept
#: outside ``refs/exps`` so dvc never mistakes an entry for a result.
QUEUE_NAMESPACE = "refs/bale/exp-queue"

_ADJECTIVES = [
    "amber",
    "bold",
    "brisk",
    "calm",
    "civic",
    "dear",
    "eager",
    "famous",
    "fancy",
    "fine",
    "fresh",
    "glad",
    "grand",
    "handy",
    "jolly",
    "keen",
    "light",
    "lucid",
    "merry",
    "nifty",
    "noble",
    "plain",
    "proud",
    "quick",
    "rapid",
    "sharp",
    "shiny",
    "sleek",
    "smart",
    "snug",
    "solid",
    "spry",
    "stark",
    "sunny",
    "swift",
    "tidy",
    "vivid",
    "warm",
    "wise",
    "zesty",
]
_NOUNS = [
    "acre",
    "bass",
    "bird",
    "boat",
    "clam",
    "coal",
    "cove",
    "deer",
    "dune",
    "fern",
    "fig",
    "gulf",
    "hare",
    "hawk",
    "heap",
    "isle",
    "kelp",
    "lark",
    "leaf",
    "lime",
    "mint",
    "moth",
    "oak",
    "orca",
    "pike",
    "pine",
    "plum",
    "reef",
    "rook",
    "sage",
    "seal",
    "skua",
    "swan",
    "teal",
    "vole",
    "wren",
    "yarn",
    "yew",
]


@dataclass(frozen=True)
class ExpRef:
    baseline: str  # full commit id
    name: str
    commit: str  # the experiment's commit
    timestamp: int  # commit time, unix seconds

    @property
    def ref(self) -> str:
        return ref_name(self.baseline, self.name)


def ref_name(baseline: str, name: str) -> str:
    return f"{NAMESPACE}/{baseline[:2]}/{baseline[2:]}/{name}"


def check_name(name: str) -> None:
    ok = scm.git(Path("."), "check-ref-format", f"refs/x/{name}", check=False).returncode == 0
    if not name or "/" in name or not ok:
        raise BaleError(f"invalid experiment name '{name}'")


def new_name(taken: set[str]) -> str:
    """A random ``adjective-noun`` name, as dvc gives experiments."""
    rng = random.SystemRandom()
    for _ in range(1000):
        name = f"{rng.choice(_ADJECTIVES)}-{rng.choice(_NOUNS)}"
        if name not in taken:
            return name
    return f"exp-{rng.randrange(16**5):05x}"


def list_refs(root: Path) -> list[ExpRef]:
    """Every experiment in the repository, oldest first."""
    out = scm.git(
        root,
        "for-each-ref",
        "--format=%(objectname) %(committerdate:unix) %(refname)",
        NAMESPACE,
    )
    refs = []
    for line in out.stdout.decode().splitlines():
        commit, ts, ref = line.split(" ", 2)
        parts = ref.split("/")
        # refs/exps/<2>/<38>/<name>: dvc's own bookkeeping refs have other shapes
        if len(parts) != 5 or len(parts[2]) != 2 or len(parts[3]) != 38:
            continue
        refs.append(ExpRef(parts[2] + parts[3], parts[4], commit, int(ts)))
    refs.sort(key=lambda r: (r.timestamp, r.name))
    return refs


def find(root: Path, name: str, baseline: str | None = None) -> ExpRef:
    """The experiment called ``name`` (preferring ``baseline``'s), or whose
    commit id starts with ``name``."""
    refs = list_refs(root)
    hits = [r for r in refs if r.name == name]
    if baseline is not None and len(hits) > 1:
        hits = [r for r in hits if r.baseline == baseline] or hits
    if not hits and len(name) >= 4:
        hits = [r for r in refs if r.commit.startswith(name.lower())]
    if not hits:
        raise BaleError(f"no experiment named '{name}' (see 'bale exp show')")
    if len(hits) > 1:
        raise BaleError(
            f"'{name}' names {len(hits)} experiments of different baselines; use its commit id"
        )
    return hits[0]


def commit_of(root: Path, rev: str) -> str:
    """The commit of a git revision (branch, tag, commit, ``refs/exps/...``)
    or of an experiment's name, as dvc's ``resolve_rev`` takes both."""
    try:
        return scm.resolve_rev(root, rev)
    except BaleError:
        try:
            return find(root, rev).commit
        except BaleError:
            raise BaleError(f"unknown git revision or experiment '{rev}'") from None
