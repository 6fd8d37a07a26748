"""``bale queue start/stop/kill/logs/status``: background workers for the
experiment queue, as dvc's ``queue`` commands drive its celery workers.

``exp run --queue`` keeps each queued experiment as a commit under
``refs/bale/exp-queue/<id>`` (see :mod:`bale.ops.exp`). ``queue start``
spawns detached worker processes (their own session: they outlive the
command and the terminal). A worker claims the oldest unclaimed entry, runs
it in a child process of its own session (in a temporary worktree, as
``exp run --run-all`` does, so the workspace is never touched), waits, and
takes the next one; it exits after the queue has stayed empty a while, or
after its current task once ``queue stop`` asked.

The state, under ``.dvc/tmp/bale/queue`` (every file written atomically)::

    workers/<n>.lock   worker n's slot: flock'ed by 'queue start' (without waiting: taken
                       means a worker runs) and held by the worker while it lives
    workers/<n>.json   a running worker: {"pid", "start", "task"} (the task id it runs, or
                       null), written by the worker only
    tasks/<id>.claim   "<pid> <start time>" of who runs the entry, a worker or 'exp run
                       --run-all' (made whole, with O_EXCL): one run per entry
    tasks/<id>.json    the task's record: {"rev", "name", "timestamp", "status", "pid",
                       "pid_start", "worker", "worker_start", "exp"}; status Running,
                       then Success or Failed
    tasks/<id>.log     what the run printed (stdout and stderr)
    stop               workers stop after their current task while it exists

The child writes its own final record (Success with the experiment's commit,
or Failed), after the experiment's ref is set: a worker killed meanwhile
loses nothing. A record left "Running" whose processes are gone (killed with
SIGKILL) reads as Failed, and the worker (or ``exp clean``) removes what its
worktree left behind. A process is known by its pid and its start time
(field 22 of ``/proc/<pid>/stat``, where there is one): a reused pid is not it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import scm
from bale.exceptions import BaleError
from bale.experiments import refs, select, snapshot
from bale.metafiles._fs import atomic_write
from bale.ops import exp
from bale.ops.exp import claim, claim_path, queue_dir, release

if TYPE_CHECKING:
    from bale.experiments.show import ExpState
    from bale.repo import Repo

#: How long an idle worker waits for new entries before it exits (dvc's
#: celery workers wait 60 s); ``BALE_QUEUE_IDLE`` (seconds) overrides it.
IDLE_SECONDS = 10.0
POLL_SECONDS = 0.2
#: where a failed task's queue commit is kept (``exp show`` shows it, Failed)
FAILED_NAMESPACE = "refs/bale/exp-failed"


def _task_id(ref: str) -> str:
    return ref.rsplit("/", 1)[1]


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, (json.dumps(data, sort_keys=True) + "\n").encode())


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _alive(pid: Any, start: Any = None) -> bool:
    """Whether the process ``pid`` runs and, when its start time was recorded
    (``start``), is that one: a pid reused after a reboot or wrap is not."""
    return isinstance(pid, int) and pid > 0 and exp._alive(pid, start)


# ---------------------------------------------------------------------------
# what the queue holds


@dataclass(frozen=True)
class Task:
    """One task as ``queue status`` shows it."""

    id: str  # the queue entry's id (the end of its ref)
    rev: str  # the queue entry's commit: dvc's task id
    name: str | None
    timestamp: int  # when it was queued, unix seconds
    status: str  # Running, Queued, Failed or Success
    pid: int | None = None  # the running task's process (its own process group)


def _record_status(rec: dict[str, Any]) -> str:
    status = rec.get("status")
    pid = rec.get("pid")
    # gone without a word: killed (SIGKILL), or a worker gone before its child started
    alive = _alive(pid, rec.get("pid_start")) or (
        pid is None and _alive(rec.get("worker"), rec.get("worker_start"))
    )
    if status == "Running" and not alive:
        return "Failed"
    return str(status) if status in ("Running", "Success", "Failed") else "Failed"


def tasks(repo: Repo) -> list[Task]:
    """Every task, in dvc's order: running, queued, failed, then succeeded
    (each oldest first)."""
    scm.require_git(repo, "queue status")
    tdir = queue_dir(repo) / "tasks"
    found: list[Task] = []
    seen: set[str] = set()
    foreground = {t.rev for t in exp.queue_status(repo) if t.status == "Running"}
    for q in exp.queued(repo):
        tid = _task_id(q.ref)
        seen.add(tid)
        rec = _read_json(tdir / f"{tid}.json")
        if rec is None:
            # claimed by a live worker (or run) that has not recorded it yet: running
            status = "Running" if q.commit in foreground or _claimed_live(repo, tid) else "Queued"
            ts = scm.git(repo.root, "log", "-1", "--format=%ct", q.commit).stdout.decode().strip()
            found.append(Task(tid, q.commit, q.name, int(ts), status))
        else:
            found.append(_task(tid, rec))
    if tdir.is_dir():
        for path in sorted(tdir.glob("*.json")):
            if path.stem not in seen and (rec := _read_json(path)) is not None:
                found.append(_task(path.stem, rec))
    order = {"Running": 0, "Queued": 1, "Failed": 2, "Success": 3}
    return sorted(found, key=lambda t: (order[t.status], t.id))


def _claimed_live(repo: Repo, entry_id: str) -> bool:
    try:
        return exp._running(claim_path(repo, entry_id).read_text())
    except OSError:
        return False


def _task(tid: str, rec: dict[str, Any]) -> Task:
    status = _record_status(rec)
    pid = rec.get("pid") if status == "Running" else None
    return Task(
        tid,
        str(rec.get("rev", "")),
        rec.get("name"),
        int(rec.get("timestamp") or 0),
        status,
        pid if isinstance(pid, int) else None,
    )


def _matches(t: Task, name: str) -> bool:
    """dvc's ``match_queue_entry_by_name``: the task's name, or the start of its id."""
    return name == t.name or (len(name) >= 4 and t.rev.startswith(name.lower()))


def worker_status(repo: Repo) -> tuple[int, int]:
    """(active, idle): the live workers running a task, and those waiting."""
    active = idle = 0
    for path in sorted((queue_dir(repo) / "workers").glob("*.json")):
        w = _read_json(path)
        if w is None or not _alive(w.get("pid"), w.get("start")):
            continue
        if w.get("task"):
            active += 1
        else:
            idle += 1
    return active, idle


def remove(
    repo: Repo,
    names: Sequence[str] = (),
    *,
    queued: bool = False,
    success: bool = False,
    failed: bool = False,
) -> list[str]:
    """dvc's ``queue remove``: the tasks named (queued or done; a running one
    stays), or every queued, successful or failed one as the flags say.
    Returns their names (task ids for unnamed ones)."""
    every = tasks(repo)
    unknown = [n for n in names if not any(_matches(t, n) for t in every)]
    if unknown:
        raise select.unresolved_error(unknown, None)
    wanted = {"Queued": queued, "Success": success, "Failed": failed}
    removed = []
    tdir = queue_dir(repo) / "tasks"
    for t in every:
        if t.status == "Running":
            continue
        if not (wanted[t.status] or any(_matches(t, n) for n in names)):
            continue
        if t.status == "Queued":
            snapshot.delete_ref(repo.root, f"{refs.QUEUE_NAMESPACE}/{t.id}")
        if t.status == "Failed":
            # and the queue's own ref, when its worker died with the task
            for ref in (f"{FAILED_NAMESPACE}/{t.id}", f"{refs.QUEUE_NAMESPACE}/{t.id}"):
                scm.git(repo.root, "update-ref", "-d", ref, check=False)
        for suffix in (".json", ".log", ".claim"):
            (tdir / f"{t.id}{suffix}").unlink(missing_ok=True)
        removed.append(t.name or t.rev[:7])
    return removed


def show(repo: Repo, **kwargs: Any) -> list[ExpState]:
    """``exp show``: dvc's ``experiments.collect`` (which experiments.show
    holds), with the queue's tasks among the experiments as dvc shows its
    own: queued, running and failed ones, and the state of those it ran."""
    from bale.experiments.show import collect

    states = collect(repo, **kwargs)
    add_to_show(repo, states, bool(kwargs.get("param_deps")))
    return states


def add_to_show(repo: Repo, states: list[ExpState], param_deps: bool) -> None:
    """``exp show``'s view of the queue, as dvc's: each queued, running or
    failed task among its baseline's experiments (newest first), and the
    state of the experiments the queue ran (Success, executor dvc-task)."""
    from bale.experiments.show import state_of

    by_rev = {s.rev: s for s in states}
    ran: dict[str, Task] = {}
    tdir = queue_dir(repo) / "tasks"
    for t in tasks(repo):
        if t.status == "Success":
            rec = _read_json(tdir / f"{t.id}.json") or {}
            if isinstance(rec.get("exp"), str):
                ran[rec["exp"]] = t
            continue
        parent = scm.git(repo.root, "rev-parse", "-q", "--verify", f"{t.rev}^", check=False)
        baseline = by_rev.get(parent.stdout.decode().strip())
        if baseline is None:
            continue
        e = state_of(repo, t.rev, param_deps)
        e.name = t.name
        e.executor = _executor(repo, t)
        if t.status == "Failed":
            e.error = {"msg": "Experiment run failed", "type": ""}  # dvc's words
        exps = [*(baseline.experiments or []), e]
        # dvc's _sorted_ranges: by (timestamp, rev), newest first
        exps.sort(key=lambda x: ((x.data.timestamp or 0) if x.data else 0, x.rev), reverse=True)
        baseline.experiments = exps
    for s in states:
        for e in s.experiments or []:
            if e.rev in ran:
                e.executor = _executor(repo, ran[e.rev])


def _executor(repo: Repo, t: Task) -> dict[str, Any]:
    """dvc's ``ExecutorInfo`` as its ``exp show --json`` has it (dvc names no
    executor for a failed task)."""
    log = log_path(repo, t)
    return {
        "state": t.status.lower(),
        "name": None if t.status == "Failed" else "dvc-task",
        "local": {
            "root": None,
            "log": str(log) if log.exists() else None,
            "pid": t.pid,
            "returncode": None,
            "task_id": t.rev,
        },
    }


# ---------------------------------------------------------------------------
# start / stop / kill / logs


def start(repo: Repo, jobs: int = 1) -> int:
    """Starts workers 1..``jobs`` that are not running already; returns how
    many it started (dvc's ``start_workers``)."""
    scm.require_git(repo, "queue start")
    qdir = queue_dir(repo)
    (qdir / "stop").unlink(missing_ok=True)
    started = 0
    (qdir / "workers").mkdir(parents=True, exist_ok=True)
    for num in range(1, jobs + 1):
        # the slot is its lock: taken here without waiting (a live worker, or
        # a second 'queue start' at once, holds it), then handed to the worker,
        # which holds it while it lives
        lock = os.open(qdir / "workers" / f"{num}.lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            with open(qdir / "workers" / f"{num}.out", "ab") as out:
                proc = subprocess.Popen(
                    [
                        *(sys.executable, "-m", "bale.ops.exp_worker", "worker"),
                        *(str(repo.root), str(num), str(lock)),
                    ],
                    cwd=repo.root,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    pass_fds=(lock,),
                    start_new_session=True,  # detached: survives this command and its terminal
                )
        finally:
            os.close(lock)  # the worker's copy keeps the lock
        _registered(qdir / "workers" / f"{num}.json", proc)
        started += 1
    return started


def _registered(wfile: Path, proc: subprocess.Popen[bytes], seconds: float = 10.0) -> None:
    """Waits until the worker ``proc`` has written its file (only the worker
    writes it), so that ``queue status`` right after lists it; or it died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        if (_read_json(wfile) or {}).get("pid") == proc.pid:
            return
        time.sleep(0.02)


def stop(repo: Repo, kill: bool = False) -> list[str]:
    """Asks every worker to stop after its current task; with ``kill``, kills
    the running tasks too (SIGKILL, as dvc's ``--kill`` does). Returns the
    names of the tasks killed."""
    scm.require_git(repo, "queue stop")
    qdir = queue_dir(repo)
    qdir.mkdir(parents=True, exist_ok=True)
    atomic_write(qdir / "stop", b"")
    if not kill:
        return []
    running = [t for t in tasks(repo) if t.status == "Running"]
    return _kill(running, force=True)


def kill(repo: Repo, names: Sequence[str], *, force: bool = False) -> list[str]:
    """dvc's ``queue kill``: interrupts the running tasks named (SIGINT, as
    Ctrl-C would; with ``force`` SIGKILL), the commands of their stages
    included. Returns what it killed, as named."""
    running = [t for t in tasks(repo) if t.status == "Running"]
    chosen: dict[str, Task] = {}
    missing = []
    for n in dict.fromkeys(names):
        hit = next((t for t in running if _matches(t, n)), None)
        if hit is None:
            missing.append(n)
        else:
            chosen[n] = hit
    # all checked before any is killed: an error leaves every task running
    for n, t in chosen.items():
        if t.pid is None:  # claimed, its process not yet started
            raise BaleError(  # dvc's words
                f"Task '{n}' is initializing, please wait a few seconds "
                "until the experiments start running to retry the kill operation."
            )
    killed = [n for n, t in chosen.items() if _kill([t], force)]
    if missing:
        raise select.unresolved_error(missing, None, "running experiment name")
    return killed


def _kill(running: list[Task], force: bool) -> list[str]:
    killed = []
    for t in running:
        if t.pid is None:
            continue
        with contextlib.suppress(ProcessLookupError):
            # the task's process group (bale and its stages' commands), if
            # the pid still leads one: never a group a reused pid names
            if os.getpgid(t.pid) != t.pid:
                continue
            os.killpg(t.pid, signal.SIGKILL if force else signal.SIGINT)
            killed.append(t.name or t.rev)
    return killed


def find_started(repo: Repo, name: str) -> Task:
    """The running or finished task ``name`` names, as ``queue logs`` takes it."""
    every = tasks(repo)
    hit = next((t for t in every if t.status != "Queued" and _matches(t, name)), None)
    if hit is None:
        if any(_matches(t, name) for t in every):
            raise BaleError(f"Experiment '{name}' is in queue but has not been started")
        raise select.unresolved_error([name], None, "queued experiment name")
    return hit


def clean(repo: Repo) -> list[Path]:
    """``exp clean``'s part: the files of workers that are gone (killed), and
    the claims of those killed between claiming an entry and recording its
    task (the entry is queued again). Not done by workers themselves: two
    could each take the other's fresh claim for a stale one."""
    removed = []
    tdir = queue_dir(repo) / "tasks"
    for claimed in sorted(tdir.glob("*.claim")):
        if (tdir / f"{claimed.stem}.json").exists():
            continue
        with contextlib.suppress(OSError):
            owner = claimed.read_text()  # made whole: never half written
            if owner.strip() and not exp._running(owner):
                claimed.unlink()
                removed.append(claimed)
    for path in sorted((queue_dir(repo) / "workers").glob("*.json")):
        w = _read_json(path)
        if w is None or not _alive(w.get("pid"), w.get("start")):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def log_path(repo: Repo, task: Task) -> Path:
    return queue_dir(repo) / "tasks" / f"{task.id}.log"


def follow(repo: Repo, task: Task) -> Iterator[bytes]:
    """What the task printed, then what it prints until it ends."""
    path = log_path(repo, task)
    rec_path = path.with_suffix(".json")
    with open(path, "rb") as f:
        while True:
            chunk = f.read(65536)
            if chunk:
                yield chunk
                continue
            rec = _read_json(rec_path)
            if rec is None or _record_status(rec) != "Running":
                rest = f.read()
                if rest:
                    yield rest
                return
            time.sleep(POLL_SECONDS)


# ---------------------------------------------------------------------------
# the worker and its tasks (separate processes)


def _claim_next(repo: Repo) -> exp.Queued | None:
    """The oldest queue entry no one runs, now this worker's."""
    foreground = {t.rev for t in exp.queue_status(repo) if t.status == "Running"}
    for q in exp.queued(repo):
        if q.commit in foreground:
            continue  # an older 'exp run --run-all' has it
        tid = _task_id(q.ref)
        if claim(repo, tid):
            # removed ('queue remove') between listing and claiming: not ours to run
            if scm.git(repo.root, "rev-parse", "-q", "--verify", q.ref, check=False).returncode:
                release(repo, tid)
                continue
            return q
    return None


def _pick(repo: Repo, q: exp.Queued) -> tuple[str, str]:
    """(name, baseline) of a queued entry about to run; a name taken fails it."""
    baseline = scm.git(repo.root, "rev-parse", f"{q.commit}^").stdout.decode().strip()
    existing = {r.name for r in refs.list_refs(repo.root) if r.baseline == baseline}
    if q.name and q.name in existing and not q.force:
        raise BaleError(f"experiment '{q.name}' already exists (queue it again with -f)")
    return q.name or refs.new_name(existing), baseline


def worker_main(repo: Repo, num: int, lock: int | None = None) -> int:
    """Worker ``num``; ``lock`` is its slot's lock file, locked ('queue start'
    hands it over), held until the worker exits."""
    qdir = queue_dir(repo)
    if lock is None:  # started by hand: the slot is taken here, or not at all
        (qdir / "workers").mkdir(parents=True, exist_ok=True)
        lock = os.open(qdir / "workers" / f"{num}.lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # worker num runs already
    wfile = qdir / "workers" / f"{num}.json"
    idle = float(os.environ.get("BALE_QUEUE_IDLE", IDLE_SECONDS))
    me = {"pid": os.getpid(), "start": exp._proc_start(os.getpid()), "task": None}
    _write_json(wfile, me)
    try:
        waited = 0.0
        while not (qdir / "stop").exists():
            q = _claim_next(repo)
            if q is None:
                if waited >= idle:
                    break
                time.sleep(POLL_SECONDS)
                waited += POLL_SECONDS
                continue
            waited = 0.0
            _write_json(wfile, {**me, "task": _task_id(q.ref)})
            _run_task(repo, q)
            _write_json(wfile, me)
    finally:
        wfile.unlink(missing_ok=True)
    return 0


def _run_task(repo: Repo, q: exp.Queued) -> None:
    tid = _task_id(q.ref)
    tdir = queue_dir(repo) / "tasks"
    rec_path = tdir / f"{tid}.json"
    ts = scm.git(repo.root, "log", "-1", "--format=%ct", q.commit).stdout.decode().strip()
    rec: dict[str, Any] = {
        "rev": q.commit,
        "name": q.name,
        "timestamp": int(ts),
        "status": "Running",
        "pid": None,
        "worker": os.getpid(),
        "worker_start": exp._proc_start(os.getpid()),
        "exp": None,
    }
    _write_json(rec_path, rec)  # before the child starts: it rewrites the record
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(tdir / f"{tid}.log", "ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "bale.ops.exp_worker", "task", str(repo.root), q.ref],
            cwd=repo.root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # 'queue kill' signals its whole group
        )
    code = child.wait()
    after = _read_json(rec_path)
    if after is None:  # removed before it started (see task_main): nothing ran
        return
    if after.get("status") == "Running":  # died without a word: killed
        _write_json(rec_path, {**after, "status": "Failed", "pid": None, "pid_start": None})
        with open(tdir / f"{tid}.log", "ab") as log:
            log.write(f"\nkilled (exit {code})\n".encode())
    # a failed entry leaves the queue, as dvc's does; its commit stays
    # reachable (exp show shows it) until 'queue remove'
    if (_read_json(rec_path) or {}).get("status") == "Failed":
        snapshot.set_ref(repo.root, f"{FAILED_NAMESPACE}/{tid}", q.commit)
    scm.git(repo.root, "update-ref", "-d", q.ref, check=False)  # gone already on success
    exp.clean_worktree(repo, tid)  # a killed child's; not other workers' (exp clean does those)


def task_main(repo: Repo, ref: str) -> int:
    # 'queue kill' is Ctrl-C: heard even when the worker was started from a
    # background job, whose processes inherit SIGINT ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    rec_path = queue_dir(repo) / "tasks" / f"{_task_id(ref)}.json"
    q = next((q for q in exp.queued(repo) if q.ref == ref), None)
    if q is None:  # 'queue remove' took it after the worker claimed it: it never ran
        tdir = queue_dir(repo) / "tasks"
        for suffix in (".json", ".log", ".claim"):
            (tdir / f"{_task_id(ref)}{suffix}").unlink(missing_ok=True)
        return 0
    rec = _read_json(rec_path) or {}
    rec.update(pid=os.getpid(), pid_start=exp._proc_start(os.getpid()), status="Running")
    _write_json(rec_path, rec)
    try:
        name, baseline = _pick(repo, q)
        rec["name"] = name if q.name else rec.get("name")
        _write_json(rec_path, rec)
        print(f"Reproducing experiment '{name}'", flush=True)  # dvc's words
        r = exp._run_in_worktree(repo, q, name, baseline, 1, True)
    except KeyboardInterrupt:
        print("\nInterrupted: the experiment was killed", flush=True)
        _write_json(rec_path, {**rec, "status": "Failed", "pid": None, "pid_start": None})
        return 130
    except (BaleError, OSError) as e:
        print(f"ERROR: {e}", flush=True)
        _write_json(rec_path, {**rec, "status": "Failed", "pid": None, "pid_start": None})
        return 1
    _write_json(
        rec_path,
        {**rec, "status": "Success", "pid": None, "pid_start": None}
        | {"name": r.name, "exp": r.commit},
    )
    return 0
