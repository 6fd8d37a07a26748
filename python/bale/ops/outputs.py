"""Tracked outputs: finding them, and resolving a user's target to them."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import _core, scm
from bale.exceptions import BaleError, MetafileError, OutputNotTrackedError, TargetError
from bale.metafiles import DvcFile, Out, load_dvcfile, loads_dvcfile

if TYPE_CHECKING:
    from bale.metafiles.memo import ParseMemo
    from bale.pipeline.dvcyaml import PipelineFile
    from bale.repo import Repo


@dataclass(frozen=True)
class Tracked:
    """One output of one ``.dvc`` file."""

    dvcfile: DvcFile
    out: Out
    path: Path  # absolute
    #: A path inside a directory output that a target named, posix, relative
    #: to the output; None for the whole output.
    sub: str | None = None
    #: For a stage output recorded in ``dvc.lock``: the stage (dvc's
    #: addressing); ``dvcfile`` is then the ``dvc.yaml``.
    stage: str | None = None

    @property
    def algo(self) -> str:
        return self.out.algo

    def rel(self, repo: Repo) -> str:
        return self.path.relative_to(repo.root).as_posix()


def abspath(path: str | Path) -> Path:
    """Absolute and normalised, without resolving symlinks (as the user named it)."""
    return Path(os.path.normpath(os.path.abspath(path)))


def inside_repo(repo: Repo, path: Path, what: str = "target") -> str:
    """Repository-relative posix path, or a TargetError for paths outside."""
    try:
        rel = path.relative_to(repo.root)
    except ValueError:
        raise TargetError(f"{path}: {what} is outside the repository {repo.root}") from None
    if rel.parts[:1] == (".dvc",):
        raise TargetError(f"{path}: {what} is inside .dvc/, which bale manages")
    return rel.as_posix()


def dvcfiles(repo: Repo) -> list[Path]:
    """Every ``.dvc`` file of the workspace."""
    return [Path(p) for p in _core.find_metafiles(str(repo.root)) if str(p).endswith(".dvc")]


def _outs_of(root: Path, path: Path, memo: ParseMemo) -> list[Tracked]:
    # Imports included: every command covers their outputs as dvc does, and
    # bale.ops.imports decides where they differ (push, fetch).
    f = load_dvcfile(path, memo)
    tracked = [Tracked(f, o, abspath(path.parent / o.path)) for o in f.outs]
    for t in tracked:
        if not t.path.is_relative_to(root) or t.path == root:
            raise MetafileError(f"{path}: output '{t.out.path}' is outside the repository")
    return tracked


def collect(repo: Repo, *, stages: bool = True) -> list[Tracked]:
    """All outputs tracked by ``.dvc`` files in the workspace (those of
    ``dvc import`` files too), and with ``stages`` the cached outputs of
    pipeline stages as ``dvc.lock`` records them."""
    out: list[Tracked] = []
    for p in dvcfiles(repo):
        out.extend(_outs_of(repo.root, p, repo.memo))
    if stages:
        out.extend(stage_outputs(repo))
    return out


def _lock_outs(root: Path, pf: PipelineFile, entries: dict[str, dict[str, Any]]) -> list[Tracked]:
    """Cached stage outputs ``entries`` (``pf``'s lock) records."""
    found = []
    holder = DvcFile(path=pf.path, outs=[], deps=[], data={})
    for stage in pf.stages:
        entry = entries.get(stage.name)
        if entry is None:
            continue
        recorded = {o.get("path"): o for o in entry.get("outs") or []}
        for so, where in zip(stage.outs, stage.out_paths(root), strict=True):
            item = recorded.get(so.path)
            if not so.cache or item is None or not item.get("md5"):
                continue
            out = Out(
                path=so.path,
                hash_name=item.get("hash"),
                oid=item["md5"],
                size=item.get("size"),
                nfiles=item.get("nfiles"),
                isexec=bool(item.get("isexec", False)),
                push=so.push,
                remote=so.remote,
            )
            found.append(Tracked(holder, out, where, stage=stage.addressing(root)))
    return found


def stage_outputs(repo: Repo) -> list[Tracked]:
    """The cached outputs of every stage of the workspace, from ``dvc.lock``."""
    from bale.pipeline import index
    from bale.pipeline.stage import LOCK_FILE

    pipes = index.load(repo)
    out: list[Tracked] = []
    for pf in pipes.files:
        entries = pipes.locks.get(pf.path.with_name(LOCK_FILE), {})
        out.extend(_lock_outs(repo.root, pf, entries))
    return out


def pipeline_files(repo: Repo) -> list[Path]:
    """Every ``dvc.yaml`` and ``dvc.lock`` of the workspace."""
    return [Path(p) for p in _core.find_metafiles(str(repo.root)) if not str(p).endswith(".dvc")]


def resolve(
    repo: Repo, targets: Sequence[str | Path] | None, *, stages: bool = True
) -> list[tuple[Tracked, str | None]]:
    """Outputs named by ``targets`` (``.dvc`` files, outputs, or paths inside a
    directory output), each with the sub-path inside it (or ``None``). No
    targets means every output; ``stages`` includes stage outputs."""
    if not targets:
        return [(t, None) for t in collect(repo, stages=stages)]
    everything: list[Tracked] | None = None
    found: list[tuple[Tracked, str | None]] = []
    for target in targets:
        path = abspath(target)
        inside_repo(repo, path)
        if path.name.endswith(".dvc") and path.is_file():
            found.extend((t, None) for t in _outs_of(repo.root, path, repo.memo))
            continue
        sibling = path.with_name(path.name + ".dvc")
        if sibling.is_file():
            outs = [t for t in _outs_of(repo.root, sibling, repo.memo) if t.path == path]
            if outs:
                found.extend((t, None) for t in outs)
                continue
        if everything is None:
            everything = collect(repo, stages=stages)
        match = [t for t in everything if t.path == path]
        if match:
            found.extend((t, None) for t in match)
            continue
        parents = [t for t in everything if path.is_relative_to(t.path)]
        if parents:
            t = parents[0]
            found.append((t, path.relative_to(t.path).as_posix()))
            continue
        raise OutputNotTrackedError(f"{target}: not tracked by any .dvc file")
    return found


def collect_at(repo: Repo, commit: str, label: str | None = None) -> list[Tracked]:
    """The outputs the ``.dvc`` files of git revision ``commit`` track, with
    paths as they would be in this workspace. ``label`` names the revision in
    messages."""
    out: list[Tracked] = _stage_outputs_at(repo, commit, label)
    for f in dvcfiles_at(repo, commit, label):
        out.extend(Tracked(f, o, abspath(f.path.parent / o.path)) for o in f.outs)
    return out


def dvcfiles_at(repo: Repo, commit: str, label: str | None = None) -> list[DvcFile]:
    """The ``.dvc`` files of git revision ``commit``, parsed, each ``path`` as
    it would be in this workspace. ``label`` names the revision in messages."""
    top = scm.toplevel(repo.root)
    found = scm.files_under(repo.root, commit, ".dvc")
    texts = scm.read_blobs(repo.root, [blob for _n, blob in found])
    out = []
    for name, blob in found:
        where = f"{label or commit[:7]}:{name}"
        try:
            text = texts[blob].decode("utf-8")
        except UnicodeDecodeError:
            raise MetafileError(f"{where}: is not valid utf-8") from None
        f = loads_dvcfile(text, where, repo.memo)
        f.path = top / name
        out.append(f)
    return out


def _stage_outputs_at(repo: Repo, commit: str, label: str | None) -> list[Tracked]:
    from bale.pipeline.index import load_at
    from bale.pipeline.stage import LOCK_FILE

    pipes = load_at(repo, commit, label, locked=True)
    out: list[Tracked] = []
    for pf in pipes.files:
        out.extend(_lock_outs(repo.root, pf, pipes.locks[pf.path.with_name(LOCK_FILE)]))
    return out


@dataclass(frozen=True)
class Scope:
    """Which revisions' outputs a command covers, as dvc's ``-a -T -A --rev``
    name them; the workspace's ``.dvc`` files unless ``workspace`` is False."""

    workspace: bool = True
    all_branches: bool = False
    all_tags: bool = False
    all_commits: bool = False
    revs: tuple[str, ...] = ()

    @property
    def revisions(self) -> bool:
        return self.all_branches or self.all_tags or self.all_commits or bool(self.revs)


#: The workspace's ``.dvc`` files only: every command's default.
WORKSPACE = Scope()


def in_scope(
    repo: Repo,
    targets: Sequence[str | Path] | None,
    scope: Scope = WORKSPACE,
) -> list[Tracked]:
    """The outputs ``targets`` name in every revision of ``scope``, each
    (path, id) once. In other revisions a target names the outputs at the
    same paths."""
    found: list[Tracked] = []
    if scope.workspace and not targets:
        found = collect(repo)
    elif scope.workspace:
        found = [dataclasses.replace(t, sub=sub) for t, sub in resolve(repo, targets)]
    if scope.revisions:
        scm.require_git(repo, "-a, -T, -A and --rev")
        if not scm.has_commits(repo.root):
            raise BaleError("-a, -T, -A and --rev need a git repository with commits")
        wanted = {abspath(t) for t in targets or ()}
        commits = scm.revisions(
            repo.root,
            all_branches=scope.all_branches,
            all_tags=scope.all_tags,
            all_commits=scope.all_commits,
            revs=list(scope.revs),
        )
        for commit in commits:
            for t in collect_at(repo, commit):
                dvcfile = t.path.with_name(t.path.name + ".dvc")
                if not wanted or t.path in wanted or dvcfile in wanted:
                    found.append(t)
    seen: set[tuple[Path, str | None, str | None, str | None]] = set()
    unique = []
    for t in found:
        key = (t.path, t.out.oid, t.out.remote, t.sub)
        if key not in seen:
            seen.add(key)
            unique.append(t)
    return unique
