"""``bale exp push`` and ``bale exp pull``: experiments to and from a git
remote, as dvc shares them.

An experiment travels as its ref (``refs/exps/<baseline>/<name>``, pushed
or fetched as itself) and, unless ``cache`` is False, its outputs' data
travels to or from the dvc remote: a ``push``/``fetch`` of the experiment's
commits only, not the workspace's. A ref whose other side holds a commit
that its own does not descend from has *diverged*: it is left alone and
reported unless ``force``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bale import scm
from bale.exceptions import BaleError
from bale.experiments import refs, remote, select
from bale.index import Scope

if TYPE_CHECKING:
    from pathlib import Path

    from bale.repo import Repo


@dataclass
class SyncResult:
    """What an ``exp push`` or ``exp pull`` did, by experiment name."""

    success: list[str] = field(default_factory=list)
    up_to_date: list[str] = field(default_factory=list)
    diverged: list[str] = field(default_factory=list)
    #: Data objects uploaded or downloaded for them (dvc's "files").
    moved: int = 0


def _local_refs(root: Path) -> dict[str, str]:
    return {r.ref: r.commit for r in refs.list_refs(root)}


def _has(root: Path, commit: str) -> bool:
    return scm.git(root, "cat-file", "-e", f"{commit}^{{commit}}", check=False).returncode == 0


def _descends(root: Path, commit: str, ancestor: str) -> bool:
    """Whether ``commit`` has ``ancestor`` in its history (both known here)."""
    args = ("merge-base", "--is-ancestor", ancestor, commit)
    return _has(root, ancestor) and scm.git(root, *args, check=False).returncode == 0


def _name(ref: str) -> str:
    return ref.rsplit("/", 1)[1]


def push(
    repo: Repo,
    git_remote: str,
    names: Sequence[str] = (),
    *,
    all_commits: bool = False,
    revs: Sequence[str] | None = None,
    num: int = 1,
    force: bool = False,
    cache: bool = True,
    dvc_remote: str | None = None,
    jobs: int | None = None,
    run_cache: bool = False,
) -> SyncResult:
    """dvc's ``exp push``: the selected experiments' refs to ``git_remote``,
    then (with ``cache``) the data of those there now to the dvc remote."""
    scm.require_git(repo, "exp push")
    local = _local_refs(repo.root)
    chosen = select.select(repo, local, names, all_commits, revs, num, None)
    theirs = remote.remote_refs(repo.root, git_remote)
    result = SyncResult()
    send = []
    diverged = set()
    for ref in chosen:
        there = theirs.get(ref)
        if there == local[ref]:
            result.up_to_date.append(_name(ref))
        elif there is None or force or _descends(repo.root, local[ref], there):
            send.append(ref)
        else:
            diverged.add(ref)
            result.diverged.append(_name(ref))
    if send:
        specs = [f"{'+' if force else ''}{r}:{r}" for r in send]
        out = scm.git(repo.root, "push", "-q", git_remote, *specs, check=False)
        if out.returncode != 0:
            why = out.stderr.decode(errors="replace").strip().splitlines()
            raise BaleError(f"git push to '{git_remote}' failed: {why[-1] if why else '?'}")
        result.success += [_name(r) for r in send]
    if cache:
        # by ref: two baselines may each have an experiment of one name
        done = [local[r] for r in chosen if r not in diverged]
        result.moved = _transfer(repo, done, dvc_remote, jobs, run_cache, pushing=True)
    return result


def pull(
    repo: Repo,
    git_remote: str,
    names: Sequence[str] = (),
    *,
    all_commits: bool = False,
    revs: Sequence[str] | None = None,
    num: int = 1,
    force: bool = False,
    cache: bool = True,
    dvc_remote: str | None = None,
    jobs: int | None = None,
    run_cache: bool = False,
) -> SyncResult:
    """dvc's ``exp pull``: the selected experiments of ``git_remote`` fetched
    as refs here, then (with ``cache``) their data fetched from the dvc
    remote into the cache; the workspace is not touched."""
    scm.require_git(repo, "exp pull")
    theirs = remote.remote_refs(repo.root, git_remote)
    chosen = select.select(repo, theirs, names, all_commits, revs, num, git_remote)
    local = _local_refs(repo.root)
    result = SyncResult()
    diverged = set()
    if chosen:
        # objects first (FETCH_HEAD only), so that each ref's fate is
        # decided here, with the remote's commits known
        scm.git(repo.root, "fetch", "-q", "--no-write-fetch-head", git_remote, *chosen)
    for ref in chosen:
        mine, there = local.get(ref), theirs[ref]
        if mine == there:
            result.up_to_date.append(_name(ref))
        elif mine is None or force or _descends(repo.root, there, mine):
            scm.git(repo.root, "update-ref", ref, there)
            result.success.append(_name(ref))
        else:
            diverged.add(ref)
            result.diverged.append(_name(ref))
    if cache:
        done = [theirs[r] for r in chosen if r not in diverged]
        result.moved = _transfer(repo, done, dvc_remote, jobs, run_cache, pushing=False)
    return result


def _transfer(
    repo: Repo,
    commits: list[str],
    dvc_remote: str | None,
    jobs: int | None,
    run_cache: bool,
    pushing: bool,
) -> int:
    """Pushes (or fetches) the outputs of ``commits``, not the workspace's."""
    from bale.ops import transfer

    if not commits and not run_cache:
        return 0
    scope = Scope(workspace=False, revs=tuple(commits))
    move = transfer.push if pushing else transfer.fetch
    return move(repo, remote=dvc_remote, jobs=jobs, scope=scope, run_cache=run_cache).copied
