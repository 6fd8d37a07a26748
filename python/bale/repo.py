"""A bale (or DVC) repository: where it is, its config, cache and engine."""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from bale.exceptions import NotARepositoryError
from bale.metafiles.memo import FILE_NAME, ParseMemo

if TYPE_CHECKING:
    from bale import _core
    from bale.config import Config
    from bale.experiments.show import ExpState
    from bale.index import Scope
    from bale.ops.add import AddResult
    from bale.ops.checkout import CheckoutResult
    from bale.ops.diff import DiffResult
    from bale.ops.du import DiskUsage
    from bale.ops.exp import ExpResult
    from bale.ops.gc import GcResult
    from bale.ops.lineage import Lineage
    from bale.ops.repro import ReproResult
    from bale.ops.status import CloudStatusResult, StatusResult
    from bale.ops.transfer import TransferResult

DVC_DIR = ".dvc"


def find_root(start: Path | str | None = None) -> Path:
    """The nearest directory at or above ``start`` that holds ``.dvc/``."""
    cur = Path(start or os.getcwd()).absolute()
    for d in (cur, *cur.parents):
        if (d / DVC_DIR).is_dir():
            return d
    raise NotARepositoryError(f"{cur}: not inside a bale or dvc repository (run 'bale init' first)")


class Repo:
    """A repository, found from ``path`` or any directory inside it.

    >>> repo = Repo("project")              # doctest: +SKIP
    >>> repo.add(["data"])                  # doctest: +SKIP
    """

    def __init__(self, path: Path | str | None = None) -> None:
        self.root = find_root(path)
        self.dvc_dir = self.root / DVC_DIR
        self.tmp_dir = self.dvc_dir / "tmp"
        # This repository's parsed metafiles, passed to every reader; saved
        # when the Repo is dropped or the process exits.
        self.memo = ParseMemo(self.tmp_dir / "bale" / FILE_NAME)
        weakref.finalize(self, self.memo.save)
        # Like dvc, refuse to work with a broken config, whatever the command.
        self.config  # noqa: B018

    def __repr__(self) -> str:
        return f"Repo({str(self.root)!r})"

    @classmethod
    def init(
        cls,
        path: Path | str = ".",
        *,
        no_scm: bool = False,
        hash: str = "blake3",
        force: bool = False,
    ) -> Repo:
        """Creates a repository at ``path`` (see :func:`bale.ops.init.init`)."""
        from bale.ops.init import init

        return cls(init(Path(path), no_scm=no_scm, hash_name=hash, force=force))

    @cached_property
    def config(self) -> Config:
        from bale.config import Config

        return Config.load(self.dvc_dir, memo=self.memo)

    @property
    def cache_dir(self) -> Path:
        return self.config.cache_dir(self.root)

    @property
    def default_hash(self) -> str:
        """The algorithm new outputs get: ``core.hash`` in bale's settings."""
        return self.config.hash_algorithm()

    @cached_property
    def workspace(self) -> _core.Workspace:
        """The engine for this repository, holding the stat cache."""
        from bale import _core

        return _core.Workspace(
            str(self.root),
            str(self.cache_dir),
            str(self.tmp_dir / "bale" / "state"),
            self.config.jobs(),
            self.config.cache_shared() == "group",
        )

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Holds the write lock (shared with dvc) and saves the stat cache.

        A writer that was killed (``kill -9``, a power cut) may have left
        temp files in the cache and beside or inside outputs; it also left
        its mark (``.dvc/tmp/bale/writer``), which only a clean exit removes.
        The next writer finds the mark and sweeps them first (see
        :func:`bale.recovery.sweep`), so no command after an interruption
        meets another's leftovers."""
        from bale.lock import repo_lock
        from bale.recovery import writing

        with repo_lock(self.tmp_dir), writing(self):
            try:
                yield
            finally:
                self.save_state()

    def save_state(self) -> None:
        if "workspace" in self.__dict__:
            self.workspace.save()

    # The public API: one method per verb, each the same code path as the CLI.

    def add(self, targets: Sequence[str | Path], *, glob: bool = False) -> list[AddResult]:
        """Tracks files or directories: stores them in the cache, writes ``.dvc`` files."""
        from bale.ops.add import add

        return add(self, targets, glob=glob)

    @overload
    def status(
        self,
        targets: Sequence[str | Path] | None = None,
        *,
        granular: bool = False,
        cloud: Literal[False] = False,
    ) -> StatusResult: ...

    @overload
    def status(
        self,
        targets: Sequence[str | Path] | None = None,
        *,
        cloud: Literal[True],
        remote: str | None = None,
        jobs: int | None = None,
        scope: Scope | None = None,
    ) -> CloudStatusResult: ...

    def status(
        self,
        targets: Sequence[str | Path] | None = None,
        *,
        granular: bool = False,
        cloud: bool = False,
        remote: str | None = None,
        jobs: int | None = None,
        scope: Scope | None = None,
    ) -> StatusResult | CloudStatusResult:
        """How the workspace differs from what the ``.dvc`` files record; with
        ``cloud=True``, how the cache differs from the remote instead."""
        from bale.index import WORKSPACE
        from bale.ops.status import cloud_status, status

        if cloud:
            return cloud_status(self, targets, remote=remote, jobs=jobs, scope=scope or WORKSPACE)
        return status(self, targets, granular=granular)

    def push(
        self,
        targets: Sequence[str | Path] | None = None,
        *,
        remote: str | None = None,
        jobs: int | None = None,
        scope: Scope | None = None,
    ) -> TransferResult:
        """Uploads the cached data of the targeted outputs to their remote.

        >>> repo.push(scope=Scope(all_commits=True))  # doctest: +SKIP
        """
        from bale.index import WORKSPACE
        from bale.ops.transfer import push

        return push(self, targets, remote=remote, jobs=jobs, scope=scope or WORKSPACE)

    def fetch(
        self,
        targets: Sequence[str | Path] | None = None,
        *,
        remote: str | None = None,
        jobs: int | None = None,
        scope: Scope | None = None,
    ) -> TransferResult:
        """Downloads the data of the targeted outputs into the cache, verified."""
        from bale.index import WORKSPACE
        from bale.ops.transfer import fetch

        return fetch(self, targets, remote=remote, jobs=jobs, scope=scope or WORKSPACE)

    def pull(
        self,
        targets: Sequence[str | Path] | None = None,
        *,
        remote: str | None = None,
        force: bool = False,
        jobs: int | None = None,
        scope: Scope | None = None,
    ) -> TransferResult:
        """Fetches, then checks out the targeted outputs."""
        from bale.index import WORKSPACE
        from bale.ops.transfer import pull

        return pull(self, targets, remote=remote, force=force, jobs=jobs, scope=scope or WORKSPACE)

    def checkout(
        self,
        targets: Sequence[str | Path] | None = None,
        *,
        force: bool = False,
        relink: bool = False,
    ) -> CheckoutResult:
        """Makes the workspace match the ``.dvc`` files, from the cache."""
        from bale.ops.checkout import checkout

        return checkout(self, targets, force=force, relink=relink)

    def commit(self, targets: Sequence[str | Path] | None = None) -> list[AddResult]:
        """Records the current content of tracked outputs (like re-adding them)."""
        from bale.ops.commit import commit

        return commit(self, targets)

    def diff(self, a_rev: str | None = None, b_rev: str | None = None) -> DiffResult:
        """Tracked files added, deleted, modified or renamed between two revisions."""
        from bale.ops.diff import diff

        return diff(self, a_rev, b_rev)

    def gc(
        self,
        *,
        scope: Scope | None = None,
        cloud: bool = False,
        remote: str | None = None,
        dry: bool = False,
        force: bool = False,
        jobs: int | None = None,
        compact: bool = False,
    ) -> GcResult:
        """Deletes cached objects the ``scope`` (default: the workspace) does
        not reference; with ``cloud``, from the remote too (needs ``force``).
        With ``compact``, kept large files the workspace does not use are
        kept as chunks only."""
        from bale.index import WORKSPACE
        from bale.ops.gc import gc

        return gc(
            self,
            scope=scope or WORKSPACE,
            cloud=cloud,
            remote=remote,
            dry=dry,
            force=force,
            jobs=jobs,
            compact=compact,
        )

    def du(
        self,
        targets: Sequence[str | Path] | None = None,
        *,
        scope: Scope | None = None,
        cloud: bool = False,
        remote: str | None = None,
        jobs: int | None = None,
    ) -> DiskUsage:
        """Logical bytes of the outputs (every version in ``scope`` counted in
        full) against the bytes the cache, and with ``cloud`` the remote,
        stores for them, each object once."""
        from bale.index import WORKSPACE
        from bale.ops.du import du

        return du(self, targets, scope=scope or WORKSPACE, cloud=cloud, remote=remote, jobs=jobs)

    def remove(self, targets: Sequence[str | Path], *, outs: bool = False) -> list[Path]:
        """Stops tracking: deletes ``.dvc`` files and their ``.gitignore`` lines."""
        from bale.ops.remove import remove

        return remove(self, targets, outs=outs)

    # Pipelines and experiments

    def repro(
        self,
        targets: Sequence[str] | None = None,
        *,
        force: bool = False,
        single: bool = False,
        downstream: bool = False,
        all_pipelines: bool = False,
        dry: bool = False,
        jobs: int = 1,
        run_cache: bool = True,
    ) -> ReproResult:
        """Runs the stages whose command, deps or params changed since
        ``dvc.lock`` recorded them, upstream first (``jobs`` at once).

        >>> repo.repro(["train"]).ran  # doctest: +SKIP
        ['prepare', 'train']
        """
        from bale.ops.repro import repro

        return repro(
            self,
            targets,
            force=force,
            single=single,
            downstream=downstream,
            all_pipelines=all_pipelines,
            dry=dry,
            jobs=jobs,
            run_cache=run_cache,
            echo=False,
        )

    def lineage(self, path: str | Path, rev: str | None = None) -> Lineage:
        """Where ``path`` came from: its stage, command, commit, params, inputs
        (with hashes and remotes), metrics, the stages upstream, and whether
        the workspace still matches; with ``rev``, as that git revision
        records it (and whether its records agree)."""
        from bale.ops.lineage import lineage

        return lineage(self, path, rev)

    def exp_run(
        self,
        set_params: Sequence[str] = (),
        *,
        name: str | None = None,
        queue: bool = False,
        targets: Sequence[str] | None = None,
    ) -> ExpResult:
        """Runs an experiment with params set (``["train.lr=0.01"]``), kept as
        a git ref dvc lists too; with ``queue``, only queues it."""
        from bale.ops.exp import run

        return run(self, targets, set_params=set_params, name=name, queue=queue, echo=False)

    def exp_show(self, *, all_commits: bool = False) -> list[ExpState]:
        """The workspace, then HEAD (every commit with ``all_commits``) with
        its experiments nested, each with params, metrics, deps and outputs;
        ``[s.dumpd() for s in ...]`` is ``dvc exp show --json``."""
        from bale.ops.exp_queue import show

        return show(self, all_commits=all_commits)

    def metrics(self) -> dict[str, Any]:
        """The workspace's metrics files, parsed: ``{file: data}``."""
        from bale.ops.metrics import show

        return show(self)
