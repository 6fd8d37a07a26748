"""``bale repro``: run the stages whose inputs changed, producers first;
independent stages in parallel with ``jobs`` > 1."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import index, scm
from bale.exceptions import StageFailedError, StageNotFoundError
from bale.pipeline import run
from bale.pipeline.changes import Hasher, StageChanges, stage_changes
from bale.pipeline.graph import Node
from bale.pipeline.stage import Stage

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
    """The nodes to go through, in dvc's order (``dagview.plan``)."""
    from bale.pipeline import dagview

    graph = pipes.graph
    if all_pipelines:
        # every node, .dvc files included: dvc reports each one it checks
        return dagview.plan(graph, None)
    if targets:
        chosen = pipes.select(list(targets))
    else:
        here = Path.cwd() / "dvc.yaml"
        chosen = [n for n in graph.nodes if n.stage is not None and n.stage.dvcyaml == here]
        if not chosen:
            raise StageNotFoundError(
                "no stages to reproduce: 'dvc.yaml' does not exist here (name targets, or use -P)"
            )
    return dagview.plan(graph, chosen, single=single, downstream=downstream)


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
        verbose: bool = False,
        run_env: Mapping[str, str] | None = None,
        show_output: bool = True,
    ) -> None:
        self.repo = repo
        self.pipes = pipes
        self.forced = forced  # nodes that run whatever changed (-f)
        self.force_downstream = force_downstream  # and everything after a stage that ran
        self.dry = dry
        self.use_run_cache = use_run_cache
        self.echo = echo
        self.verbose = verbose
        self.run_env = run_env
        self.show_output = show_output
        self.hasher = Hasher(repo)
        self.result = ReproResult()
        self.lock = threading.Lock()  # dvc.lock writes and the result
        self.dirty: set[int] = set()  # nodes that ran (or would, with dry)
        self.gap = False  # the last node did something: dvc puts a blank line after it

    def say(self, text: str) -> None:
        if self.echo:
            print(text, flush=True)

    def debug(self, text: str) -> None:
        """What dvc's ``-v`` logs about a stage: why it changed, what ran."""
        if self.verbose:
            print(f"DEBUG: {text}", file=sys.stderr, flush=True)

    def node(self, node: Node) -> None:
        with self.lock:
            if self.gap:
                self.say("")
                self.gap = False
        did = self._source(node) if node.stage is None else self._stage(node)
        if did:
            with self.lock:
                self.gap = True

    def _source(self, node: Node) -> bool:
        """A ``.dvc`` file in the way: re-added if its data changed, as dvc's
        repro commits a modified data source."""
        from bale.ops.add import add_one
        from bale.ops.status import status_one

        label = os.path.relpath(self.repo.root / node.label)  # dvc names it from here
        changed = []
        missing: str | None = None
        tracked = index.resolve(self.repo, [self.repo.root / node.label], stages=False)
        for t, _sub in tracked:
            st = status_one(self.repo, t, False, self.hasher)
            if st is not None and st.state == "deleted":
                missing = t.rel(self.repo)
                self.debug(
                    f"Output '{t.rel(self.repo)}' of stage: '{label}' changed "
                    "because it is 'deleted'."
                )
            if st is not None and st.state in ("modified", "new"):
                changed.append(t.path)
                self.debug(
                    f"Output '{t.rel(self.repo)}' of stage: '{label}' changed "
                    f"because it is '{st.state}'."
                )
        if not changed and missing is None and id(node) not in self.forced:
            self.say(f"'{label}' didn't change, skipping")
            return False
        self.debug(f"stage: '{label}' changed.")
        with self.lock:
            self.dirty.add(id(node))
            self.result.committed.append(node.label)
        if self.dry:
            # dvc's dry run neither verifies nor re-adds a data source
            return True
        if missing is not None:
            raise StageFailedError(
                f"failed to reproduce '{label}': output '{missing}' does not exist"
            )
        data = tracked[0][0].dvcfile.data
        frozen = bool(data.get("frozen") or data.get("locked"))
        what = "outputs in frozen stage" if frozen else "data sources in stage"
        self.say(f"Verifying {what}: '{label}'")
        for out in changed:
            add_one(self.repo, out, require_dvcfile=True, stamp=True)
        self.hasher.forget(changed)
        with self.lock:
            self.result.changed_files.append(node.label)
        return True

    def _why(self, label: str, changes: StageChanges) -> None:
        """dvc's first reason (it stops at the first): command, dep, output."""
        if not self.verbose:
            return
        if changes.cmd_changed:
            self.debug(f"'cmd' of stage: '{label}' has changed.")
        elif changes.deps:
            path, state = next(iter(changes.deps.items()))
            self.debug(f"Dependency '{path}' of stage: '{label}' changed because it is '{state}'.")
        elif changes.outs:
            path, state = next(iter(changes.outs.items()))
            self.debug(f"Output '{path}' of stage: '{label}' changed because it is '{state}'.")
        elif changes.always_changed:
            self.debug(f"stage: '{label}' is always changed.")
        self.debug(f"stage: '{label}' changed.")

    def _stage(self, node: Node) -> bool:
        stage = node.stage
        assert stage is not None
        label = stage.addressing(Path.cwd())  # dvc names stages from here
        entry = self.pipes.lock_entry(stage)
        upstream_ran = any(id(u) in self.dirty for u in node.upstream)
        forced = id(node) in self.forced or (self.force_downstream and upstream_ran)
        if stage.frozen:
            self.warn_frozen(label)
        # As dvc, also in a dry run: the stage as the workspace holds it now
        # (a dry run does not guess what upstream stages would change).
        changes = stage_changes(stage, entry, self.hasher, self.repo.root)
        if not forced and not changes.needs_run:
            self.say(f"Stage '{label}' didn't change, skipping")
            with self.lock:
                self.result.unchanged.append(node.label)
            return False
        if not forced:
            self._why(label, changes)
        if self.dry:
            if not forced and not stage.frozen and _hashable(stage):
                # dvc looks the stage up in the run cache even in a dry run,
                # which needs every dependency: a missing one fails here too
                run.current_entry(stage, self.hasher, self.repo, [])
            if not stage.frozen:
                self.say(f"Running stage '{label}':")
                for cmd in stage.commands:
                    self.say(f"> {cmd}")
            with self.lock:
                self.dirty.add(id(node))
                self.result.ran.append(node.label)
            return True
        cmd_changed = changes.cmd_changed
        if stage.frozen:
            # dvc runs nothing for a frozen stage: it re-records its outputs.
            self.say(f"Verifying outputs in frozen stage: '{label}'")
            restored = True
        else:
            # Missing deps or params fail before anything is deleted or run.
            run.current_entry(stage, self.hasher, self.repo, [])
            for so in stage.outs:
                if not so.persist:  # a persistent one is unprotected, not removed
                    shown = os.path.relpath(stage.abspath(so.path))
                    self.debug(f"Removing output '{shown}' of stage: '{label}'.")
            run.remove_outs(stage)
            restored = not forced and run.try_run_cache(
                self.repo, stage, self.hasher, entry, cmd_changed, self.use_run_cache
            )
            if restored:
                self.say(f"Stage '{label}' is cached - skipping run, checking out outputs")
            else:
                run.run_commands(self.repo, stage, label, self.echo, self.run_env, self.show_output)
        entry, changed = run.record(
            self.repo, stage, self.hasher, self.lock, run_cache=not stage.frozen, say=self.say
        )
        self.debug(f"stage: '{label}' was reproduced")
        with self.lock:
            self.result.changed_files += changed
            self.pipes.locks.setdefault(stage.lock_path, {})[stage.name] = entry
            self.dirty.add(id(node))
            done = self.result.restored if restored and not stage.frozen else self.result.ran
            done.append(node.label)
        return True

    def warn_frozen(self, label: str) -> None:
        from bale.console import warn

        warn(f"stage: '{label}' is frozen. Its dependencies are not going to be reproduced.")


def _hashable(stage: Stage) -> bool:
    """Whether dvc's run cache can key the stage (``stage/cache.py:
    _can_hash``): a command, dependencies and outputs, none persistent."""
    return bool(
        not stage.always_changed and stage.cmd and (stage.deps or stage.params) and stage.outs
    )


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
    verbose: bool = False,
    run_env: Mapping[str, str] | None = None,
    show_output: bool = True,
) -> ReproResult:
    """Reproduces ``targets`` (default: the stages of ``dvc.yaml`` in the
    current directory) after whatever they depend on. ``force`` runs the
    targets whatever changed; ``force_downstream`` also everything after a
    stage that runs; ``verbose`` says why each stage runs, on stderr.
    ``run_env`` adds to the commands' environment; without ``show_output``
    their output goes nowhere."""
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
            verbose=verbose,
            run_env=run_env,
            show_output=show_output,
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
