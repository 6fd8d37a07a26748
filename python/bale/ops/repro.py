"""``bale repro``: run the stages whose inputs changed, producers first;
independent stages in parallel with ``jobs`` > 1."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import scm
from bale.exceptions import StageFailedError, StageNotFoundError
from bale.pipeline import index, run
from bale.pipeline.changes import Hasher, stage_changes
from bale.pipeline.graph import Node

if TYPE_CHECKING:
    from bale.repo import Repo


@dataclass
class ReproResult:
    """Stage names (dvc's addressing), by what happened to them."""

    ran: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)  # from the run cache
    unchanged: list[str] = field(default_factory=list)
    committed: list[str] = field(default_factory=list)  # data sources re-added
    changed_files: list[str] = field(default_factory=list)  # to stage in git


def _plan(
    pipes: index.Pipelines,
    targets: Sequence[str] | None,
    *,
    single: bool,
    downstream: bool,
    all_pipelines: bool,
) -> list[Node]:
    graph = pipes.graph
    if all_pipelines:
        chosen = [n for n in graph.nodes if n.stage is not None]
    elif targets:
        chosen = pipes.select(list(targets))
    else:
        here = Path.cwd() / "dvc.yaml"
        chosen = [n for n in graph.nodes if n.stage is not None and n.stage.dvcyaml == here]
        if not chosen:
            raise StageNotFoundError(
                "no stages to reproduce: 'dvc.yaml' does not exist here (name targets, or use -P)"
            )
    if single:
        wanted = {id(n) for n in chosen}
        return [n for n in graph.upstream_closure(graph.nodes) if id(n) in wanted]
    if downstream:
        return graph.downstream_closure(chosen)
    return graph.upstream_closure(chosen)


class _Runner:
    def __init__(
        self,
        repo: Repo,
        pipes: index.Pipelines,
        *,
        forced: set[int],
        force_downstream: bool,
        dry: bool,
        use_run_cache: bool,
        echo: bool,
    ) -> None:
        self.repo = repo
        self.pipes = pipes
        self.forced = forced  # nodes that run whatever changed (-f)
        self.force_downstream = force_downstream  # and everything after a stage that ran
        self.dry = dry
        self.use_run_cache = use_run_cache
        self.echo = echo
        self.hasher = Hasher(repo)
        self.result = ReproResult()
        self.lock = threading.Lock()  # dvc.lock writes and the result
        self.dirty: set[int] = set()  # nodes that ran (or would, with dry)

    def say(self, text: str) -> None:
        if self.echo:
            print(text, flush=True)

    def node(self, node: Node) -> None:
        if node.stage is None:
            self._source(node)
        else:
            self._stage(node)

    def _source(self, node: Node) -> None:
        """A ``.dvc`` file in the way: re-added if its data changed, as dvc's
        repro commits a modified data source."""
        from bale.ops.add import add_one
        from bale.ops.outputs import resolve
        from bale.ops.status import status_one

        changed = []
        tracked = resolve(self.repo, [self.repo.root / node.label], stages=False)
        for t, _sub in tracked:
            st = status_one(self.repo, t, False, self.hasher)
            if st is not None and st.state == "deleted":
                raise StageFailedError(
                    f"failed to reproduce '{node.label}': "
                    f"output '{t.rel(self.repo)}' does not exist"
                )
            if st is not None and st.state in ("modified", "new"):
                changed.append(t.path)
        if not changed:
            return
        data = tracked[0][0].dvcfile.data
        frozen = bool(data.get("frozen") or data.get("locked"))
        what = "outputs in frozen stage" if frozen else "data sources in stage"
        self.say(f"Verifying {what}: '{node.label}'")
        if not self.dry:
            for out in changed:
                add_one(self.repo, out, require_dvcfile=True, stamp=True)
            self.hasher.forget(changed)
        with self.lock:
            self.dirty.add(id(node))
            self.result.committed.append(node.label)
            self.result.changed_files.append(node.label)

    def _stage(self, node: Node) -> None:
        stage = node.stage
        assert stage is not None
        label = node.label
        entry = self.pipes.lock_entry(stage)
        upstream_ran = any(id(u) in self.dirty for u in node.upstream)
        forced = id(node) in self.forced or (self.force_downstream and upstream_ran)
        if self.dry and upstream_ran:
            changes = None
        else:
            changes = stage_changes(stage, entry, self.hasher, self.repo.root)
            if not forced and not changes.needs_run:
                self.say(f"Stage '{label}' didn't change, skipping")
                with self.lock:
                    self.result.unchanged.append(label)
                return
        if self.dry:
            self.say(f"Running stage '{label}':")
            for cmd in stage.commands:
                self.say(f"> {cmd}")
            with self.lock:
                self.dirty.add(id(node))
                self.result.ran.append(label)
            return
        cmd_changed = bool(changes and changes.cmd_changed)
        if stage.frozen:
            # dvc runs nothing for a frozen stage: it re-records its outputs.
            self.say(f"Verifying outputs in frozen stage: '{label}'")
            restored = True
        else:
            # Missing deps or params fail before anything is deleted or run.
            run.current_entry(stage, self.hasher, self.repo, [])
            run.remove_outs(stage)
            restored = not forced and run.try_run_cache(
                self.repo, stage, self.hasher, entry, cmd_changed, self.use_run_cache
            )
            if restored:
                self.say(f"Stage '{label}' is cached - skipping run, checking out outputs")
            else:
                run.run_commands(self.repo, stage, label, echo=self.echo)
        entry, changed = run.record(
            self.repo, stage, self.hasher, self.lock, run_cache=not stage.frozen
        )
        with self.lock:
            self.result.changed_files += changed
            self.pipes.locks.setdefault(stage.lock_path, {})[stage.name] = entry
            self.dirty.add(id(node))
            done = self.result.restored if restored and not stage.frozen else self.result.ran
            done.append(label)


def _execute(runner: _Runner, nodes: list[Node], jobs: int) -> None:
    if jobs <= 1:
        for n in nodes:
            runner.node(n)
        return
    wanted = {id(n) for n in nodes}
    waiting = {id(n): {id(u) for u in n.upstream if id(u) in wanted} for n in nodes}
    done: set[int] = set()
    pending = list(nodes)
    running: dict[Future[None], Node] = {}
    error: BaseException | None = None
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        while pending or running:
            if error is None:
                for n in [n for n in pending if waiting[id(n)] <= done]:
                    if len(running) >= jobs:
                        break
                    pending.remove(n)
                    running[pool.submit(runner.node, n)] = n
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for f in finished:
                n = running.pop(f)
                exc = f.exception()
                if exc is not None:
                    error = error or exc
                else:
                    done.add(id(n))
    if error is not None:
        raise error


def repro(
    repo: Repo,
    targets: Sequence[str] | None = None,
    *,
    force: bool = False,
    force_downstream: bool = False,
    single: bool = False,
    dry: bool = False,
    downstream: bool = False,
    all_pipelines: bool = False,
    jobs: int = 1,
    run_cache: bool = True,
    echo: bool = True,
) -> ReproResult:
    """Reproduces ``targets`` (default: the stages of ``dvc.yaml`` in the
    current directory) after whatever they depend on. ``force`` runs the
    targets whatever changed; ``force_downstream`` also everything after a
    stage that runs."""
    with repo.locked():
        pipes = index.load(repo)
        nodes = _plan(
            pipes, targets, single=single, downstream=downstream, all_pipelines=all_pipelines
        )
        # dvc's -f forces every stage of the plan, upstream ones included
        forced = {id(n) for n in nodes} if force else set()
        runner = _Runner(
            repo,
            pipes,
            forced=forced,
            force_downstream=force_downstream,
            dry=dry,
            use_run_cache=run_cache,
            echo=echo,
        )
        _execute(runner, nodes, max(1, jobs))
        result = runner.result
        if result.changed_files and not dry:
            _stage_in_git(repo, result)
    return result


def _stage_in_git(repo: Repo, result: ReproResult) -> None:
    if not scm.uses_git(repo):
        return
    if repo.config.core_autostage():
        scm.git_add(repo.root, [repo.root / p for p in result.changed_files])


def summary(result: ReproResult) -> dict[str, Any]:
    return {
        "ran": result.ran,
        "restored": result.restored,
        "unchanged": result.unchanged,
        "committed": result.committed,
    }
