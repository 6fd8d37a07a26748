"""``bale exp``: run, queue, show, diff, apply, branch and remove experiments.

An experiment is a run of the pipeline with some params set (``-S``),
committed on top of its baseline commit without moving any branch, and named
by a ref under ``refs/exps/`` as dvc names them, so ``dvc exp show`` lists
bale's experiments and the other way round. ``exp run`` works in the
workspace and leaves the results there, as dvc's does; queued experiments
run one after another in temporary git worktrees sharing the cache, each
through the same ops as ``checkout`` and ``repro`` (in this process, with
a :class:`Repo` of the worktree), and leave the workspace alone.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import index, scm
from bale.exceptions import BaleError
from bale.experiments import modify, refs, snapshot
from bale.experiments.show import ExpState
from bale.ops.checkout import checkout
from bale.ops.repro import repro
from bale.pipeline.stage import LOCK_FILE

if TYPE_CHECKING:
    from bale.repo import Repo


@dataclass(frozen=True)
class ExpResult:
    name: str
    commit: str
    baseline: str
    queued: bool = False


def _head(repo: Repo) -> tuple[str, str]:
    found = scm.head(repo.root)
    if found is None:
        raise BaleError("experiments need a git repository with a commit to start from")
    return found


def _baseline(repo: Repo) -> str:
    return _head(repo)[0]


def _pick_name(repo: Repo, baseline: str, name: str | None, force: bool) -> str:
    taken = {r.name for r in refs.list_refs(repo.root) if r.baseline == baseline}
    if name is None:
        return refs.new_name(taken)
    refs.check_name(name)
    if name in taken and not force:
        raise BaleError(f"experiment '{name}' already exists for this baseline (use -f to replace)")
    return name


def _overridden(repo: Repo, overrides: list[modify.Override]) -> dict[str, bytes]:
    """Each params file ``overrides`` touch, with its new content
    (repository-relative name -> bytes)."""
    by_file: dict[str, list[modify.Override]] = {}
    for o in overrides:
        by_file.setdefault(o.file, []).append(o)
    out = {}
    for name, os_ in by_file.items():
        path = Path(os.path.normpath(Path.cwd() / name))
        if not path.is_relative_to(repo.root):
            raise BaleError(f"-S {name}: the params file is outside the repository")
        text = path.read_text(encoding="utf-8") if path.exists() else None
        rel = path.relative_to(repo.root).as_posix()
        out[rel] = modify.apply(text, rel, os_).encode("utf-8")
    return out


def _exp_hash(pipes: index.Pipelines) -> str:
    """dvc's ``hash_exp``: sha256 of the merged lock entries, as sorted JSON."""
    import hashlib

    merged: dict[str, Any] = {}
    for entries in pipes.locks.values():
        merged.update(entries)
    return hashlib.sha256(json.dumps(merged, sort_keys=True).encode()).hexdigest()


def _tracked_results(repo: Repo, pipes: index.Pipelines) -> list[Path]:
    """What a run wrote that belongs in the experiment's commit, beyond the
    files git tracks already: lock files, new ``.gitignore`` files, params
    files, stage outputs kept in git, and each ``dvc.yaml``'s top-level
    metrics, params and plots files (dvc's ``_get_top_level_paths``)."""
    paths = []
    for f in pipes.files:
        base = f.path.parent
        paths += [f.path, f.path.with_name(LOCK_FILE)]
        paths += [base / m for m in [*f.metrics, *f.params]]
        for plot in f.data.get("plots") or []:
            names = [plot] if isinstance(plot, str) else list(plot or {})
            paths += [base / n for n in names if isinstance(n, str)]
        for s in f.stages:
            paths += [s.abspath(o.path) for o in s.outs if not o.cache]
            paths += [s.abspath(p.path) for p in s.params]
    out = scm.git(
        repo.root, "ls-files", "-z", "--others", "--exclude-standard", "--", ":(glob)**/.gitignore"
    ).stdout.decode("utf-8", errors="surrogateescape")
    paths += [repo.root / p for p in out.split("\0") if p]
    return [p for p in dict.fromkeys(paths) if p.is_relative_to(repo.root)]


def run(
    repo: Repo,
    targets: Sequence[str] | None = None,
    *,
    set_params: Sequence[str] = (),
    name: str | None = None,
    queue: bool = False,
    force: bool = False,
    jobs: int = 1,
    echo: bool = True,
) -> ExpResult:
    """Runs (or with ``queue``, queues) one experiment."""
    scm.require_git(repo, "exp run")
    baseline = _baseline(repo)
    overrides = modify.parse(set_params)
    changed_params = _overridden(repo, overrides)
    if queue and name is not None:
        _pick_name(repo, baseline, name, force)
    elif queue:
        # named now, as dvc names a queued experiment: 'queue status' shows it
        waiting = {q.name for q in queued(repo) if q.name}
        name = refs.new_name({r.name for r in refs.list_refs(repo.root)} | waiting)
    if queue:
        # The queue entry is a commit of the workspace as it is now, params
        # set, named by bale's own ref; the workspace is not touched.
        payload = json.dumps({"name": name, "targets": list(targets or []), "force": force})
        commit = snapshot.commit_workspace(
            repo.root,
            baseline,
            f"bale: queued experiment\n\n{payload}",
            [],
            replace=_top_relative(repo, changed_params),
        )
        ref = f"{refs.QUEUE_NAMESPACE}/{time.time_ns():020d}"
        snapshot.set_ref(repo.root, ref, commit)
        return ExpResult(name or "", commit, baseline, queued=True)
    exp_name = _pick_name(repo, baseline, name, force)
    for rel, data in changed_params.items():
        from bale.metafiles._fs import atomic_write

        atomic_write(repo.root / rel, data)
    if echo:
        print(f"Reproducing experiment '{exp_name}'")  # dvc's words
    # like dvc, the stages of ./dvc.yaml (and what they need) by default
    repro(repo, targets or None, jobs=jobs, echo=echo)
    pipes = index.load(repo)  # as the run left it: new lock entries
    commit = snapshot.commit_workspace(
        repo.root,
        baseline,
        f"dvc: commit experiment {_exp_hash(pipes)}",
        _tracked_results(repo, pipes),
    )
    snapshot.set_ref(repo.root, refs.ref_name(baseline, exp_name), commit)
    return ExpResult(exp_name, commit, baseline)


def _top_relative(repo: Repo, files: dict[str, bytes]) -> dict[str, bytes]:
    prefix = scm.subdir(repo.root)
    return {(rel if prefix == "." else f"{prefix}/{rel}"): d for rel, d in files.items()}


@dataclass(frozen=True)
class Queued:
    ref: str
    commit: str
    name: str | None
    targets: list[str]
    force: bool


def queued(repo: Repo) -> list[Queued]:
    scm.require_git(repo, "exp run")
    out = scm.git(
        repo.root, "for-each-ref", "--format=%(refname) %(objectname)", refs.QUEUE_NAMESPACE
    )
    found = []
    for line in sorted(out.stdout.decode().splitlines()):
        ref, commit = line.split(" ", 1)
        body = scm.git(repo.root, "log", "-1", "--format=%b", commit).stdout.decode().strip()
        try:
            info = json.loads(body)
        except ValueError:
            info = {}
        found.append(
            Queued(
                ref, commit, info.get("name"), info.get("targets") or [], bool(info.get("force"))
            )
        )
    return found


@dataclass(frozen=True)
class QueueTask:
    """One queued experiment as ``queue status`` shows it."""

    rev: str  # the queue entry's commit
    name: str | None
    timestamp: int  # when it was queued, unix seconds
    status: str  # "Queued", or "Running" while a run of the queue has it


def queue_status(repo: Repo) -> list[QueueTask]:
    """dvc's ``queue status``: the queued experiments, oldest first; the
    ones a run of the queue is working on are "Running"."""
    tasks = []
    for q in queued(repo):
        ts = scm.git(repo.root, "log", "-1", "--format=%ct", q.commit).stdout.decode().strip()
        owner = _worktrees_dir(repo) / f"{q.ref.rsplit('/', 1)[1]}.pid"
        try:
            running = _running(owner.read_text())
        except FileNotFoundError:  # none, or its run just ended
            running = False
        tasks.append(QueueTask(q.commit, q.name, int(ts), "Running" if running else "Queued"))
    return tasks


@dataclass
class RunAllResult:
    done: list[ExpResult] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # queue ref -> error


def run_all(repo: Repo, *, jobs: int = 1, echo: bool = True) -> RunAllResult:
    """Runs every queued experiment, each in its own temporary worktree that
    shares this repository's cache: ``jobs`` experiments at once, each in a
    worker process (the ops work in the current directory, and a process has
    one), or with ``jobs`` 1 one after another in this process. Without
    ``echo``, what the runs and their commands print goes nowhere. A failed
    one stays queued."""
    scm.require_git(repo, "exp run")
    result = RunAllResult()
    taken: set[str] = set()
    todo: list[tuple[Queued, str, str]] = []
    for q in queued(repo):
        if claim_path(repo, q.ref.rsplit("/", 1)[1]).exists():
            continue  # a 'queue start' worker (or another run) has it
        baseline = scm.git(repo.root, "rev-parse", f"{q.commit}^").stdout.decode().strip()
        existing = {r.name for r in refs.list_refs(repo.root) if r.baseline == baseline}
        if q.name and q.name in existing | taken and not q.force:
            result.failed[q.ref] = f"experiment '{q.name}' already exists (queue it again with -f)"
            continue
        name = q.name or refs.new_name(taken | existing)
        taken.add(name)
        todo.append((q, name, baseline))
    if jobs > 1 and len(todo) > 1:
        # spawn, not fork: the engine's thread pools do not survive a fork.
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(jobs, len(todo)), mp_context=spawn) as pool:
            runs = [
                (q, pool.submit(_run_queued, type(repo), repo.root, q, name, baseline, echo))
                for q, name, baseline in todo
            ]
            for q, run in runs:
                try:
                    if (done := run.result()) is not None:
                        result.done.append(done)
                except BaleError as e:
                    result.failed[q.ref] = str(e)
        return result
    for q, name, baseline in todo:
        try:
            if (done := _run_claimed(repo, q, name, baseline, jobs, echo)) is not None:
                result.done.append(done)
        except BaleError as e:
            result.failed[q.ref] = str(e)
    return result


def _run_claimed(
    repo: Repo, q: Queued, name: str, baseline: str, jobs: int, echo: bool
) -> ExpResult | None:
    """Runs the entry if this process can claim it, as a queue worker does
    (None when a worker took it, or it left the queue, since ``run_all``
    planned); a failed one is given back, queued."""
    entry_id = q.ref.rsplit("/", 1)[1]
    if not claim(repo, entry_id):
        return None
    try:
        if scm.git(repo.root, "rev-parse", "-q", "--verify", q.ref, check=False).returncode:
            return None  # removed meanwhile
        return _run_in_worktree(repo, q, name, baseline, jobs, echo)
    finally:
        release(repo, entry_id)


def _run_queued(
    repo_type: type[Repo], root: Path, q: Queued, name: str, baseline: str, echo: bool
) -> ExpResult | None:
    """One queued experiment in a worker process (stages one at a time, as
    ``jobs`` is spent on experiments)."""
    return _run_claimed(repo_type(root), q, name, baseline, 1, echo)


@contextlib.contextmanager
def _working_in(path: Path) -> Iterator[None]:
    """The current directory is ``path`` meanwhile: the ops read targets and
    name stages from it, as a command started there would."""
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def _run_in_worktree(
    repo: Repo, q: Queued, name: str, baseline: str, jobs: int, echo: bool
) -> ExpResult:
    top = scm.toplevel(repo.root)
    base = _worktrees_dir(repo)
    base.mkdir(parents=True, exist_ok=True)
    wt = base / q.ref.rsplit("/", 1)[1]
    # who uses it, written before the worktree exists: 'exp clean' (and a
    # worker after its task) removes only the worktrees of processes gone
    owner = _own(wt.with_name(f"{wt.name}.pid"), name)
    try:
        if wt.exists():
            scm.git(repo.root, "worktree", "remove", "--force", str(wt), check=False)
            shutil.rmtree(wt, ignore_errors=True)
        scm.git(repo.root, "worktree", "add", "--detach", "-q", str(wt), q.commit)
        inner = wt / repo.root.relative_to(top)
        # The worktree uses this repository's cache; reflinks or copies, never
        # hard links: a command writing a dep in place must not reach the cache.
        (inner / ".dvc" / "config.local").write_text(
            f'[cache]\n    dir = "{repo.cache_dir}"\n    type = "reflink,copy"\n'
        )
        (inner / ".dvc" / "tmp").mkdir(parents=True, exist_ok=True)
        # A Repo of its own: the worktree's config, lock, stat cache and memo
        # (made as type(repo) so that ops never import the facade they serve).
        wrepo = type(repo)(inner)
        step = "checkout -q --force"
        try:
            with _working_in(inner):
                checkout(wrepo, force=True)
                step = " ".join(["repro", *q.targets])
                repro(
                    wrepo,
                    q.targets,
                    jobs=jobs,
                    echo=echo,
                    run_env={"BALE_EXP_NAME": name},
                    show_output=echo,
                )
        except (BaleError, OSError) as e:
            raise BaleError(f"queued experiment '{name}' failed at '{step}': {e}") from e
        wpipes = index.load(wrepo)
        commit = snapshot.commit_workspace(
            inner,
            baseline,
            f"dvc: commit experiment {_exp_hash(wpipes)}",
            _tracked_results(wrepo, wpipes),
        )
        snapshot.set_ref(repo.root, refs.ref_name(baseline, name), commit)
        snapshot.delete_ref(repo.root, q.ref)
        return ExpResult(name, commit, baseline)
    finally:
        scm.git(repo.root, "worktree", "remove", "--force", str(wt), check=False)
        shutil.rmtree(wt, ignore_errors=True)
        scm.git(repo.root, "worktree", "prune", check=False)
        owner.unlink(missing_ok=True)


def _own(owner: Path, name: str) -> Path:
    """Makes ``owner`` (a worktree's ``.pid``) this process's, atomically and
    only if no live process holds it: two runs of one entry never share a
    worktree."""
    tmp = owner.with_name(f".{owner.name}.{os.getpid()}")
    tmp.write_text(f"{_identity()}\n")
    try:
        for _ in range(2):
            try:
                os.link(tmp, owner)  # fails if it exists: the file appears whole
                return owner
            except FileExistsError:
                try:
                    held = owner.read_text()
                except FileNotFoundError:
                    continue
                if _running(held):
                    raise BaleError(
                        f"queued experiment '{name}' is running already (process {held.split()[0]})"
                    ) from None
                owner.unlink(missing_ok=True)  # its process is gone
        raise BaleError(f"queued experiment '{name}': cannot take {owner}")
    finally:
        tmp.unlink(missing_ok=True)


def _worktrees_dir(repo: Repo) -> Path:
    """Where queued experiments run, one git worktree each."""
    return repo.tmp_dir / "bale" / "exps"


def _proc_start(pid: int) -> str | None:
    """When the process ``pid`` started (field 22 of ``/proc/<pid>/stat``, in
    clock ticks since boot), or None where that is not known (not Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _identity(pid: int | None = None) -> str:
    """``"<pid> <start time>"`` of this process (or ``pid``): what the queue's
    files record of a process, so that a pid reused by another is not it."""
    pid = os.getpid() if pid is None else pid
    start = _proc_start(pid)
    return f"{pid} {start}" if start is not None else str(pid)


def _alive(pid: int, start: Any = None) -> bool:
    """Whether the process ``pid`` runs, and is the one that started at
    ``start`` (when that was recorded and can be read here)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's: alive, if it is the one recorded
    except OverflowError:
        return False
    if start is not None:
        now = _proc_start(pid)
        if now is not None and now != str(start):
            return False  # the pid was reused: the one recorded is gone
    return True


def _running(pid_text: str) -> bool:
    """Whether the process ``pid_text`` (an :func:`_identity`) names is still running."""
    parts = pid_text.split()
    try:
        pid = int(parts[0])
    except (ValueError, IndexError):
        return False
    if pid <= 0:
        return False
    start = parts[1] if len(parts) > 1 and parts[1].isdigit() else None
    return _alive(pid, start)


def queue_dir(repo: Repo) -> Path:
    """Where the experiment queue keeps its state (see bale.ops.exp_queue)."""
    return repo.tmp_dir / "bale" / "queue"


def claim_path(repo: Repo, entry_id: str) -> Path:
    return queue_dir(repo) / "tasks" / f"{entry_id}.claim"


def claim(repo: Repo, entry_id: str) -> bool:
    """Takes the queue entry ``entry_id`` for this process, whoever runs it
    (a worker, ``exp run --run-all``): the claim file is made whole, with
    this process's identity, and only if none exists. Whether it took it."""
    path = claim_path(repo, entry_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(f"{_identity()}\n")
    try:
        os.link(tmp, path)  # O_EXCL, with the content already there
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def release(repo: Repo, entry_id: str) -> None:
    """Gives back this process's claim of ``entry_id`` (the entry can run again)."""
    path = claim_path(repo, entry_id)
    with contextlib.suppress(OSError):
        if path.read_text() == f"{_identity()}\n":
            path.unlink()


#: a worktree with no ``.pid`` this young may be one an older bale is making
FRESH_SECONDS = 60.0


def clean_worktree(repo: Repo, entry_id: str) -> bool:
    """Removes the worktree of the queue entry ``entry_id`` when the process
    that ran it is gone (what a worker does after its task); whether it did."""
    wt = _worktrees_dir(repo) / entry_id
    owner = wt.with_name(f"{wt.name}.pid")
    with contextlib.suppress(FileNotFoundError):
        if _running(owner.read_text()):
            return False
    if not wt.exists() and not owner.exists():
        return False
    scm.git(repo.root, "worktree", "remove", "--force", str(wt), check=False)
    shutil.rmtree(wt, ignore_errors=True)
    owner.unlink(missing_ok=True)
    scm.git(repo.root, "worktree", "prune", check=False)
    return True


def clean(repo: Repo) -> list[Path]:
    """``exp clean``: removes what experiments left behind when their process
    was killed: the worktrees of queued runs (``.dvc/tmp/bale/exps``) and
    the private index files of experiment commits (in the git directory),
    each only when the process that made it is gone (a worktree's ``.pid``
    is written before the worktree). Returns what it removed."""
    scm.require_git(repo, "exp clean")
    removed: list[Path] = []
    base = _worktrees_dir(repo)
    for wt in sorted(base.iterdir()) if base.is_dir() else []:
        if not wt.is_dir():
            continue
        owner = wt.with_name(f"{wt.name}.pid")
        try:
            if _running(owner.read_text()):
                continue
        except FileNotFoundError:
            with contextlib.suppress(OSError):
                if time.time() - wt.stat().st_mtime < FRESH_SECONDS:
                    continue
        scm.git(repo.root, "worktree", "remove", "--force", str(wt), check=False)
        shutil.rmtree(wt, ignore_errors=True)
        owner.unlink(missing_ok=True)
        removed.append(wt)
    git_dir = Path(scm.git(repo.root, "rev-parse", "--absolute-git-dir").stdout.decode().strip())
    for index_file in sorted(git_dir.glob(f"{snapshot.INDEX_PREFIX}*")):
        pid = index_file.name.removeprefix(snapshot.INDEX_PREFIX).split("-", 1)[0]
        if not _running(pid):
            index_file.unlink(missing_ok=True)
            removed.append(index_file)
    # registrations of worktrees whose folder is gone
    scm.git(repo.root, "worktree", "prune", check=False)
    return removed


# ---------------------------------------------------------------------------
# show / diff


def diff(
    repo: Repo,
    a: str | None = None,
    b: str | None = None,
    *,
    with_unchanged: bool = False,
    param_deps: bool = False,
) -> dict[str, Any]:
    """dvc's ``exp diff``: the params and metrics of ``b`` (an experiment or
    git revision; default the workspace) against ``a`` (default HEAD), in
    ``metrics diff --json``'s shape under ``metrics`` and ``params``. Each
    side is read with its own pipelines, so a metrics file only one side
    declares is compared with nothing."""
    from bale.experiments.show import WORKSPACE, state_of
    from bale.pipeline.compare import diff as compare

    scm.require_git(repo, "exp diff")
    old = state_of(repo, _rev_of(repo, a) if a else _baseline(repo), param_deps)
    new = state_of(repo, _rev_of(repo, b) if b else WORKSPACE, param_deps)

    def files(state: ExpState, kind: str) -> dict[str, Any]:
        # a file that failed to load counts as empty, as in dvc
        found = getattr(state.data, kind) if state.data else {}
        return {f: item.get("data", {}) for f, item in found.items()}

    return {
        kind: compare(files(old, kind), files(new, kind), with_unchanged=with_unchanged)
        for kind in ("metrics", "params")
    }


def _rev_of(repo: Repo, name: str) -> str:
    """The commit of an experiment name or any git revision."""
    try:
        return refs.find(repo.root, name, _baseline(repo)).commit
    except BaleError:
        return scm.resolve_rev(repo.root, name)


# ---------------------------------------------------------------------------
# list


def ls(
    repo: Repo,
    *,
    revs: Sequence[str] | None = None,
    all_commits: bool = False,
    num: int = 1,
    git_remote: str | None = None,
) -> dict[str, list[tuple[str, str | None]]]:
    """dvc's ``exp list``: each baseline (HEAD's, or those of ``revs`` and
    their ``num`` first parents; every baseline with ``all_commits``) with
    its experiments as ``(name, commit)``, or those of ``git_remote``, whose
    commits are not known here (None, as in dvc).

    dvc orders both by a set's iteration, which changes from run to run;
    bale orders baselines and names as git orders refs."""
    from bale.experiments import remote
    from bale.experiments.show import baselines

    scm.require_git(repo, "exp list")
    wanted: set[str] | None = None
    if not all_commits:
        wanted = set(baselines(repo, False, False, False, list(revs or ["HEAD"]), num))
    found: list[tuple[str, str, str | None]] = []
    if git_remote is not None:
        for ref in remote.remote_refs(repo.root, git_remote):
            parsed = remote.parse_ref(ref)
            if parsed is not None:
                found.append((*parsed, None))
    else:
        found = [(r.baseline, r.name, r.commit) for r in refs.list_refs(repo.root)]
    out: dict[str, list[tuple[str, str | None]]] = {}
    for baseline, name, commit in sorted(found, key=lambda f: (f[0], f[1])):
        if wanted is None or baseline in wanted:
            out.setdefault(baseline, []).append((name, commit))
    return out


# ---------------------------------------------------------------------------
# apply / branch / remove


def apply(repo: Repo, name: str, *, force: bool = False) -> ExpResult:
    """Puts the experiment's files into the workspace (git-tracked files,
    then its data from the cache), without committing or moving HEAD.

    Uncommitted changes to the files it would replace stop it, unless
    ``force`` or unless they are an experiment's results as ``exp run``
    left them (kept in that experiment's commit, so nothing is lost: dvc
    applies there too). dvc 3.67.1 always overwrites, after stashing the
    workspace under ``refs/exps/apply/stash``; bale refuses instead, as a
    ``git checkout`` would. An output of the experiment that the cache
    lacks (and the workspace does not hold) stops it before it changes
    anything: dvc changes the files, then fails at its checkout."""
    scm.require_git(repo, "exp apply")
    r = refs.find(repo.root, name, _baseline(repo))
    top = scm.toplevel(repo.root)
    changed = scm.git(
        repo.root, "diff", "--name-status", "--no-renames", "-z", "HEAD", r.commit
    ).stdout.decode("utf-8", errors="surrogateescape")
    parts = [p for p in changed.split("\0") if p]
    restore: list[str] = []
    delete: list[str] = []
    for status, path in zip(parts[::2], parts[1::2], strict=False):
        (delete if status == "D" else restore).append(path)
    touched = restore + delete
    if touched and not force:
        dirty = _dirty(top, touched)
        unsaved = _unsaved(repo, top, dirty, r.baseline) if dirty else []
        if unsaved:
            raise BaleError(
                f"{unsaved[0]}: has uncommitted changes that applying '{r.name}' would overwrite "
                "(commit or stash them, or use -f)"
            )
    missing = _missing_outputs(repo, r.commit)
    if missing:
        from bale.exceptions import ObjectMissingError

        raise ObjectMissingError(
            f"cannot apply '{r.name}': not in the cache: {', '.join(missing[:5])}"
            + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            + " (fetch them from a remote); the workspace is unchanged"
        )
    if restore:
        scm.git(top, "restore", f"--source={r.commit}", "--worktree", "--", *restore)
    for p in delete:
        (top / p).unlink(missing_ok=True)
    checkout(repo, None, force=force)
    return ExpResult(r.name, r.commit, r.baseline)


def _dirty(top: Path, paths: list[str]) -> list[str]:
    """Those of ``paths`` (top-relative) that differ from HEAD or are untracked."""
    out = scm.git(top, "status", "--porcelain", "--no-renames", "-z", "--", *paths).stdout
    return [e[3:] for e in out.decode("utf-8", errors="surrogateescape").split("\0") if e]


def _unsaved(repo: Repo, top: Path, dirty: list[str], baseline: str) -> list[str]:
    """Those of the workspace's ``dirty`` files that differ from what one of
    ``baseline``'s experiments has (the one closest to the workspace): none
    when the workspace holds an experiment's results as ``exp run`` or
    ``exp apply`` left them."""
    present = [p for p in dirty if (top / p).is_file()]
    listed = "\n".join(present).encode()
    ids = scm.git(top, "hash-object", "--no-filters", "--stdin-paths", input=listed)
    here: dict[str, str | None] = dict.fromkeys(dirty)
    here.update(zip(present, ids.stdout.decode().split(), strict=True))
    best = dirty
    for r in refs.list_refs(repo.root):
        if r.baseline != baseline:
            continue
        out = scm.git(top, "ls-tree", "-r", "-z", "--full-tree", r.commit, "--", *dirty).stdout
        there: dict[str, str | None] = dict.fromkeys(dirty)
        for entry in out.decode("utf-8", errors="surrogateescape").split("\0"):
            if entry:
                meta, path = entry.split("\t", 1)
                there[path] = meta.split()[2]
        differ = [p for p in dirty if there[p] != here[p]]
        if len(differ) < len(best):
            best = differ
    return best


def _missing_outputs(repo: Repo, commit: str) -> list[str]:
    """The outputs ``commit`` records that neither the cache nor the
    workspace (as it is) holds: what a checkout of it could not write."""
    from bale import _core

    ws = repo.workspace
    missing = []
    for t in index.collect_at(repo, commit):
        if not t.out.cache or t.out.oid is None:
            continue
        algo, oid = t.algo, t.out.oid

        def held(path: Path, oid: str, algo: str = algo) -> bool:
            return ws.exists(algo, oid) or (
                path.is_file() and _core.hash_file(path, algo)[0] == oid
            )

        if t.out.is_dir:
            ok = ws.exists(algo, oid) and all(
                held(t.path / rel, entry_oid) for rel, entry_oid, _s, _x in ws.manifest(algo, oid)
            )
        else:
            ok = held(t.path, oid)
        if not ok:
            missing.append(t.rel(repo))
    return missing


def branch(repo: Repo, name: str, new_branch: str) -> ExpResult:
    scm.require_git(repo, "exp branch")
    r = refs.find(repo.root, name, _baseline(repo))
    out = scm.git(repo.root, "branch", new_branch, r.commit, check=False)
    if out.returncode != 0:
        raise BaleError(f"cannot create branch '{new_branch}': {out.stderr.decode().strip()}")
    return ExpResult(r.name, r.commit, r.baseline)


def remove(
    repo: Repo,
    names: Sequence[str] = (),
    *,
    all_commits: bool = False,
    revs: Sequence[str] | None = None,
    num: int = 1,
    queue: bool = False,
    git_remote: str | None = None,
    keep: bool = False,
) -> list[str]:
    """dvc's ``exp remove``: deletes the experiments ``names`` (also queued
    ones of that name), else those of the baselines ``revs`` and their
    ``num`` first parents, else with ``all_commits`` every one; with
    ``keep``, every one but those. With ``queue``, empties the queue too.
    With ``git_remote``, deletes the refs there instead. Returns what it
    removed, by name (the commits go with git's gc)."""
    from bale.experiments import remote, select

    scm.require_git(repo, "exp remove")
    if keep and queue:
        raise BaleError("Cannot use both `--keep` and `--queue`.")  # dvc's words
    removed: list[str] = []
    if queue:
        for q in queued(repo):
            snapshot.delete_ref(repo.root, q.ref)
            removed.append(q.name or q.commit[:7])
    if not (names or revs or all_commits):
        return removed
    if git_remote is not None:
        found = remote.remote_refs(repo.root, git_remote)
    else:
        found = {r.ref: r.commit for r in refs.list_refs(repo.root)}
    chosen: list[str] = []
    entries: list[Queued] = []
    if names:
        resolved = select.resolve(found, names, _baseline(repo))
        waiting = {q.name: q for q in queued(repo)} if git_remote is None else {}
        unknown = []
        for name, ref in resolved.items():
            if ref is None and name not in waiting:
                unknown.append(name)
            if ref is not None:
                chosen.append(ref)
            if name in waiting:
                entries.append(waiting[name])
        if unknown:
            raise select.unresolved_error(unknown, git_remote)
        removed += list(resolved)
    elif revs:
        chosen = sorted(select.by_baseline(repo, found, revs, num))
    else:
        chosen = sorted(found)
    if keep:
        chosen = sorted(set(found) - set(chosen))
        removed = []
    if not names or keep:
        removed += [ref.rsplit("/", 1)[1] for ref in chosen]
    if git_remote is not None and chosen:
        out = scm.git(repo.root, "push", "-q", git_remote, *[f":{r}" for r in chosen], check=False)
        if out.returncode != 0:
            why = out.stderr.decode(errors="replace").strip().splitlines()
            raise BaleError(f"git push to '{git_remote}' failed: {why[-1] if why else '?'}")
    elif git_remote is None:
        for ref in chosen:
            snapshot.delete_ref(repo.root, ref)
    for q in entries:
        snapshot.delete_ref(repo.root, q.ref)
    return removed


def rename(
    repo: Repo,
    name: str,
    new_name: str,
    *,
    force: bool = False,
    git_remote: str | None = None,
) -> list[str]:
    """dvc's ``exp rename``: the experiment ``name`` (of HEAD's baseline if
    several baselines have one) is called ``new_name`` from now on; its
    commit is the same. Returns the names renamed (none when they are equal).

    With ``git_remote``, as dvc 3.67.1 does, the name must be an experiment
    of that remote, and the local experiment of that name and baseline is
    renamed; the remote keeps its name (``exp push`` sends the new one). One
    the remote has and this repository lacks is an error (dvc crashes)."""
    from bale.experiments import remote, select

    scm.require_git(repo, "exp rename")
    if name == new_name:
        return []
    found = {r.ref: r.commit for r in refs.list_refs(repo.root)}
    if git_remote is not None:
        there = remote.remote_refs(repo.root, git_remote)
        ref = select.resolve(there, [name], _baseline(repo))[name]
        if ref is None:
            raise select.unresolved_error([name], git_remote)
        if ref not in found:
            raise BaleError(
                f"experiment '{name}' of '{git_remote}' is not here: "
                f"'bale exp pull {git_remote} {name}' first"
            )
    else:
        ref = select.resolve(found, [name], _baseline(repo))[name]
        if ref is None:
            raise select.unresolved_error([name], None)
    baseline = ref.split("/")[2] + ref.split("/")[3]
    target = refs.ref_name(baseline, new_name)
    if target in found and not force:
        raise BaleError(
            f"experiment '{new_name}' already exists for this baseline (use -f to replace it)"
        )
    refs.check_name(new_name)
    snapshot.set_ref(repo.root, target, found[ref])
    snapshot.delete_ref(repo.root, ref)
    return [name]
