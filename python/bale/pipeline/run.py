"""Running a stage and recording it: the command, then its outputs into the
cache through the engine, then its ``dvc.lock`` entry and the run cache.

Mirrors ``dvc/stage/run.py`` and ``Stage.run/save/commit``: outputs are
removed before the command runs (``persist`` ones are unprotected instead),
commands run one after another in ``$SHELL`` without its rc files, in the
stage's ``wdir``, with ``DVC_ROOT`` and ``DVC_STAGE`` set. A failed command
records nothing: no lock entry, no cached output.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import _core, scm
from bale.console import debug
from bale.exceptions import ObjectMissingError, StageFailedError
from bale.pipeline import lockfile
from bale.pipeline.changes import Hasher, params_values
from bale.pipeline.runcache import RunCache, cacheable, key_of
from bale.pipeline.stage import Stage, StageOut
from bale.progress import Bar

if TYPE_CHECKING:
    from bale.repo import Repo


def shell_command(cmd: str) -> list[str]:
    """``cmd`` for the user's shell, without rc files (dvc's ``_make_cmd``)."""
    shell = os.environ.get("SHELL") or "/bin/sh"
    opts = {"zsh": ["--no-rcs"], "bash": ["--noprofile", "--norc"]}
    return [shell, *opts.get(os.path.basename(shell).lower(), []), "-c", cmd]


def _ignore_sigint(signum: int, frame: object) -> None:
    """SIGINT while a stage's command runs: the command has it too, and ends."""


def run_commands(
    repo: Repo,
    stage: Stage,
    label: str,
    echo: bool = True,
    run_env: Mapping[str, str] | None = None,
    show_output: bool = True,
) -> None:
    """Runs the stage's commands; ``run_env`` adds to their environment (as
    dvc's does), and without ``show_output`` what they print goes nowhere."""
    env = {**os.environ, **(run_env or {})}
    env.setdefault("DVC_ROOT", str(repo.root))
    env["DVC_STAGE"] = label
    if echo:
        print(f"Running stage '{label}':", flush=True)
    for cmd in stage.commands:
        if echo:
            print(f"> {cmd}", flush=True)
        main = threading.current_thread() is threading.main_thread()
        # Ctrl-C reaches the command (same process group); we wait for it to
        # end rather than die first and leave it writing outputs. A handler
        # that does nothing, not SIG_IGN: an ignored signal stays ignored in
        # the command (exec keeps SIG_IGN, resets handlers), so Ctrl-C (or
        # 'queue kill') would never stop it.
        old = signal.signal(signal.SIGINT, _ignore_sigint) if main else None
        try:
            proc = subprocess.run(
                shell_command(cmd),
                cwd=stage.wdir,
                env=env,
                check=False,
                stdout=None if show_output else subprocess.DEVNULL,
                stderr=None if show_output else subprocess.DEVNULL,
            )
        except FileNotFoundError as e:
            raise StageFailedError(
                f"failed to reproduce '{label}': {e.filename}: not found"
            ) from None
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
        if proc.returncode != 0:
            if proc.returncode < 0 and -proc.returncode == signal.SIGINT:
                raise KeyboardInterrupt
            raise StageFailedError(
                f"failed to reproduce '{label}': command '{cmd}' exited with {proc.returncode}"
            )


def _clear(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def remove_outs(stage: Stage) -> None:
    """Clears outputs before a run; ``persist`` ones become private copies."""
    for so in stage.outs:
        path = stage.abspath(so.path)
        if so.persist and (path.exists() or path.is_symlink()):
            _core.unprotect(path)
        elif not so.persist:
            _clear(path)


def _out_item(so: StageOut, built: Any) -> dict[str, Any]:
    return lockfile.item(so.path, built.oid, built.size, built.nfiles, built.isexec)


def current_entry(
    stage: Stage, hasher: Hasher, repo: Repo, outs: list[dict[str, Any]]
) -> dict[str, Any]:
    """The lock entry for the workspace as it is, with ``outs`` as given."""
    deps = []
    for d in stage.deps:
        h = hasher.hash(stage.abspath(d))
        if h is None:
            raise StageFailedError(
                f"failed to reproduce '{stage.addressing(repo.root)}': dependency '{d}' "
                "does not exist"
            )
        deps.append(lockfile.item(d, h.oid, h.size, h.nfiles, h.isexec))
    params: dict[str, dict[str, Any]] = {}
    label = stage.addressing(repo.root)
    current = params_values(stage, repo.root, hasher)
    for p in stage.params:
        values = current[p.path]
        if values is None:
            raise StageFailedError(
                f"failed to reproduce '{label}': params file '{p.path}' does not exist"
            )
        missing = [k for k in p.keys if k not in values]
        if missing:
            raise StageFailedError(
                f"failed to reproduce '{label}': params {', '.join(missing)} are missing "
                f"from '{p.path}'"
            )
        params[p.path] = values
    return lockfile.entry(stage.cmd, deps, params, outs)


def commit_outs(
    repo: Repo, stage: Stage, hasher: Hasher, for_run_cache: bool
) -> tuple[list[dict[str, Any]], list[Path]]:
    """Hashes every output, stores the cached ones (and, for the run cache,
    uncached metrics and plots too, as dvc does), links them as
    ``cache.type`` says. Returns their lock items and the outputs git
    must ignore."""
    label = stage.addressing(repo.root)
    types = repo.config.cache_types()
    ws = repo.workspace
    use_git = scm.uses_git(repo)
    items = []
    ignores = []
    paths = [stage.abspath(so.path) for so in stage.outs]
    hasher.forget(paths)
    for so, path in zip(stage.outs, paths, strict=True):
        if not (path.exists() or path.is_symlink()):
            raise StageFailedError(
                f"failed to reproduce '{label}': output '{so.path}' does not exist"
            )
        store = so.cache or (for_run_cache and so.kind != "outs")
        with Bar(f"Saving {so.path}") as bar:
            built = ws.build(str(path), "md5", store, types[0] == "reflink", bar.progress, bar.tick)
        debug(
            f"stage '{label}', output '{so.path}': md5 {built.oid}, {built.hashed} file(s) "
            "read and hashed, "
            + (f"{built.stored} newly stored in the cache" if store else "not cached")
        )
        items.append(_out_item(so, built))
        if so.cache and types[0] in ("hardlink", "symlink"):
            ws.checkout(str(path), "md5", built.oid, built.isexec, types, relink_only=True)
        if so.cache and use_git:
            ignores.append(path)
    return items, ignores


def restore(repo: Repo, stage: Stage, entry: dict[str, Any]) -> bool:
    """Checks out the outputs ``entry`` records, from the cache; False (with
    nothing left behind) when any of them is not cached."""
    ws = repo.workspace
    recorded = {o["path"]: o for o in entry.get("outs") or []}
    plan = []
    for so in stage.outs:
        item = recorded.get(so.path)
        if item is None or not item.get("md5"):
            return False
        algo = lockfile.algo_of(item)
        plan.append((so, item, algo))
    types = repo.config.cache_types()
    done: list[Path] = []
    for so, item, algo in plan:
        path = stage.abspath(so.path)
        try:
            # An uncached output is restored as a copy, like a git-tracked file.
            r = ws.checkout(
                str(path),
                algo,
                item["md5"],
                bool(item.get("isexec")),
                types if so.cache else ["copy"],
                True,
            )
            missing = bool(r.missing)
        except ObjectMissingError:
            missing = True
        done.append(path)
        if missing:
            for p in done:
                _clear(p)
            return False
    return True


def try_run_cache(
    repo: Repo,
    stage: Stage,
    hasher: Hasher,
    lock_entry: dict[str, Any] | None,
    cmd_changed: bool,
    use_run_cache: bool = True,
) -> bool:
    """Restores the stage's outputs from a run seen before: its own lock
    entry when only outputs changed, else (with ``use_run_cache``) the run
    cache. True if it did."""
    if not cacheable(stage):
        return False
    try:
        current = current_entry(stage, hasher, repo, [{"path": so.path} for so in stage.outs])
    except StageFailedError:
        return False
    candidate = None
    if lock_entry and not cmd_changed:
        same_inputs = {k: v for k, v in lock_entry.items() if k != "outs"} == {
            k: v for k, v in current.items() if k != "outs"
        }
        if same_inputs and all(o.get("md5") for o in lock_entry.get("outs") or []):
            candidate = lock_entry
    if candidate is None and use_run_cache:
        candidate = RunCache(repo.cache_dir, repo.memo).lookup(key_of(current))
    if candidate is None:
        return False
    where = "its dvc.lock entry" if candidate is lock_entry else "the run cache"
    restored = restore(repo, stage, candidate)
    debug(
        f"stage '{stage.addressing(repo.root)}': outputs "
        + (
            f"restored from the cache, as {where} records them"
            if restored
            else f"not all in the cache, as {where} records them: running it"
        )
    )
    return restored


def record(
    repo: Repo,
    stage: Stage,
    hasher: Hasher,
    guard: AbstractContextManager[Any] | None = None,
    *,
    run_cache: bool = True,
    say: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Records the stage as the workspace now holds it (after a run, or for
    ``commit``): outputs into the cache, the ``dvc.lock`` entry (under
    ``guard``, for parallel runs) and, where dvc would, the run cache.
    Returns the entry and the repository-relative files changed (lock,
    ``.gitignore``). ``say`` hears dvc's "Generating lock file" and
    "Updating lock file" lines."""
    # Deps keep the hashes taken before the run: what the command read.
    # dvc keeps no run-cache entry when a plain output is not cached: it
    # could not be restored.
    uncached = any(not o.cache and o.kind == "outs" for o in stage.outs)
    outs, ignores = commit_outs(repo, stage, hasher, for_run_cache=not uncached)
    entry = current_entry(stage, hasher, repo, outs)
    lock = stage.lock_path
    changed = []
    # .gitignore files and dvc.lock are shared by stages running in parallel
    with guard or contextlib.nullcontext():
        from bale.metafiles import ignore_in_git

        for path in ignores:
            g = ignore_in_git(repo.root, path)
            if g is not None:
                changed.append(g.relative_to(repo.root).as_posix())
                debug(f"added /{path.name} to {changed[-1]}")
        fresh = not (lock.exists() and lock.read_text(encoding="utf-8").strip())
        if lockfile.dump_lock(lock, {stage.name: entry}):
            changed.append(lock.relative_to(repo.root).as_posix())
            if say is not None:
                # dvc names the lock file from the current directory
                shown = os.path.relpath(lock)
                if fresh:
                    say(f"Generating lock file '{shown}'")
                say(f"Updating lock file '{shown}'")
    if run_cache and cacheable(stage) and not uncached:
        RunCache(repo.cache_dir).save(entry)
    return entry, changed
