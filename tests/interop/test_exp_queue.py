"""``queue start/stop/kill/logs/status/remove``: bale's background workers
run ``exp run --queue``'s experiments, as dvc's celery workers do (issue 24).

dvc 3.67.1's queue works on this machine (its celery workers use a
filesystem broker), so one test runs the same session with both tools in
twin repositories and compares what they print; the others check bale's
workers end to end: results in ``exp show``, a killed task Failed with the
workspace untouched and nothing left behind. (dvc's ``queue kill`` of a
running task was checked by hand, not twinned: "long has been killed.", then
Failed in ``queue status`` and ``exp show``; a twin would need a
tool-neutral way to see that the task's stage has started.)
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.interop.conftest import copy_repo
from tests.interop.test_dvc_differential import DvcBatch, Step, run_bale
from tests.interop.test_fidelity_exp import _commit

Sh = Any

pytestmark = pytest.mark.interop

SHORT = """\
import json, yaml
print("hello", yaml.safe_load(open("params.yaml"))["x"])
json.dump({"a": 1}, open("m.json", "w"))
"""
# prints, then sleeps until killed
SLOW = """\
import time
print("start", flush=True)
time.sleep(60)
"""
DVC_YAML = """\
stages:
  s:
    cmd: python s.py
    deps: [s.py]
    params: [x]
    metrics: [{m.json: {cache: false}}]
"""
SLOW_STAGE = """\
  w:
    cmd: python slow.py
    deps: [slow.py]
"""


@pytest.fixture
def repo(
    sh: Sh, dvc_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A one-stage pipeline committed (``x: 1``); its workers gone after the test."""
    monkeypatch.setitem(sh.env, "BALE_QUEUE_IDLE", "1")  # idle workers exit soon
    root = copy_repo(dvc_template, tmp_path / "repo")
    (root / "params.yaml").write_text("x: 1\n")
    (root / "s.py").write_text(SHORT)
    (root / "slow.py").write_text(SLOW)
    (root / "dvc.yaml").write_text(DVC_YAML)
    _commit(sh, root, "pipeline", 1)
    yield root
    sh.bale("queue", "stop", "--kill", cwd=root, check=False)


def _until(what: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _status(sh: Sh, root: Path) -> dict[str, str]:
    """``queue status`` as name (or task id) -> status."""
    out = sh.bale("queue", "status", cwd=root).stdout
    rows = [ln.split() for ln in out.splitlines()[1:] if ln and not ln.startswith("Worker")]
    return {r[1] if len(r) == 5 else r[0]: r[-1] for r in rows if r}


def _csv_row(sh: Sh, root: Path, name: str) -> dict[str, str]:
    """The experiment ``name``'s row of ``exp show --csv``, by column."""
    lines = sh.bale("exp", "show", "--csv", cwd=root).stdout.splitlines()
    row = next(ln for ln in lines if ln.startswith(f"{name},"))
    return dict(zip(lines[0].split(","), row.split(","), strict=True))


def _workspace_untouched(sh: Sh, root: Path) -> None:
    assert sh.git("status", "--porcelain", cwd=root).stdout == ""
    assert (root / "params.yaml").read_text() == "x: 1\n"
    assert not (root / "m.json").exists()
    assert len(sh.git("worktree", "list", cwd=root).stdout.splitlines()) == 1
    exps = root / ".dvc/tmp/bale/exps"
    assert not exps.exists() or not list(exps.iterdir())


def test_queue_start_runs_the_queue_in_the_background(sh: Sh, repo: Path, tmp_path: Path) -> None:
    # the stage waits for a file made after the second start: a worker done
    # with both tasks could otherwise be gone (idle) before it, on a loaded machine
    go = tmp_path / "go"
    wait = f"import os, time\nwhile not os.path.exists({str(go)!r}):\n    time.sleep(0.05)\n"
    (repo / "s.py").write_text(wait + SHORT)
    _commit(sh, repo, "waits", 2)
    sh.bale("exp", "run", "--queue", "-S", "x=2", "-n", "q1", cwd=repo)
    sh.bale("exp", "run", "--queue", "-S", "x=3", cwd=repo)
    assert set(_status(sh, repo).values()) == {"Queued"}
    p = sh.bale("queue", "start", cwd=repo)
    assert p.stdout == "Started '1' new experiments task queue worker.\n"
    # one worker per number: a second start starts none
    assert sh.bale("queue", "start", cwd=repo).stdout.startswith("Started '0' ")
    go.touch()
    _until(lambda: set(_status(sh, repo).values()) == {"Success"})
    status = _status(sh, repo)
    assert len(status) == 2 and status["q1"] == "Success", status
    shown = sh.bale("exp", "show", "--csv", cwd=repo).stdout
    row = next(ln for ln in shown.splitlines() if ln.startswith("q1,"))
    # State, Executor, metric a, param x
    assert row.split(",")[5:9] == ["Success", "Dvc-task", "1", "2"], shown
    logs = sh.bale("queue", "logs", "q1", cwd=repo).stdout
    assert logs.startswith("Reproducing experiment 'q1'\nRunning stage 's':\n> python s.py\n")
    assert "hello 2\n" in logs
    _workspace_untouched(sh, repo)
    # the unnamed one was named when queued, as dvc names it
    other = next(n for n in status if n != "q1")
    assert sh.bale("exp", "apply", other, cwd=repo).returncode == 0
    assert (repo / "params.yaml").read_text() == "x: 3\n"
    p = sh.bale("queue", "remove", "--success", cwd=repo)
    assert p.stdout.startswith("Removed tasks in queue: ") and "q1" in p.stdout
    assert sh.bale("queue", "status", cwd=repo).stdout.startswith("No experiment tasks")
    # an idle worker exits by itself
    _until(lambda: not list((repo / ".dvc/tmp/bale/queue/workers").glob("*.json")))


def _running_slow(sh: Sh, root: Path, name: str) -> None:
    """Queues ``name`` with the sleeping stage and waits until it sleeps."""
    (root / "dvc.yaml").write_text(DVC_YAML + SLOW_STAGE)
    _commit(sh, root, "slow stage", 2)
    sh.bale("exp", "run", "--queue", "-n", name, cwd=root)
    sh.bale("queue", "start", cwd=root)

    def sleeping() -> bool:
        p = sh.bale("queue", "logs", name, cwd=root, check=False)
        return "start\n" in p.stdout

    _until(sleeping)
    assert _status(sh, root)[name] == "Running"


def test_queue_kill_interrupts_a_running_task(sh: Sh, repo: Path) -> None:
    _running_slow(sh, repo, "long")
    assert sh.bale("queue", "status", cwd=repo).stdout.endswith("Worker status: 1 active, 0 idle\n")
    follower = subprocess.Popen(
        [sys.executable, "-m", "bale", "queue", "logs", "-f", "long"],
        cwd=repo,
        env=sh.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    p = sh.bale("queue", "kill", "long", cwd=repo)
    assert p.stdout == "long has been killed.\n"
    # -f follows until the task ends
    followed, _ = follower.communicate(timeout=15)
    assert followed.startswith("Following logs for experiment 'long'. Use Ctrl+C")
    assert "\nstart\n" in followed and followed.endswith("the experiment was killed\n")
    _until(lambda: _status(sh, repo).get("long") == "Failed", 10)
    assert "long" not in sh.bale("exp", "list", "--name-only", cwd=repo).stdout
    assert "killed" in sh.bale("queue", "logs", "long", cwd=repo).stdout
    # exp show has it, as dvc shows a failed task: its state, no executor
    # (the Executor column, empty, is dropped)
    row = _csv_row(sh, repo, "long")
    assert row["State"] == "Failed" and "Executor" not in row, row
    _workspace_untouched(sh, repo)
    # a failed task leaves the queue: a restarted worker does not run it again
    assert not sh.git("for-each-ref", "refs/bale/exp-queue", cwd=repo).stdout


def test_queue_stop_kill_kills_at_once_and_loses_nothing(sh: Sh, repo: Path) -> None:
    sh.bale("exp", "run", "-q", "-S", "x=5", "-n", "before", cwd=repo)
    sh.git("checkout", "-q", "--", ".", cwd=repo)
    (repo / "m.json").unlink()
    _running_slow(sh, repo, "long")
    p = sh.bale("queue", "stop", "--kill", cwd=repo)
    assert p.stdout == (
        "long has been killed.\n"
        "All running tasks in the queue have been killed. Queue workers are stopping.\n"
    )
    _until(lambda: not list((repo / ".dvc/tmp/bale/queue/workers").glob("*.json")), 10)
    assert _status(sh, repo) == {"long": "Failed"}
    assert sh.bale("exp", "list", "--name-only", "-A", cwd=repo).stdout == "before\n"
    _workspace_untouched(sh, repo)
    # the worktree the SIGKILL left is gone, registration and all
    assert not list((repo / ".dvc/tmp/bale/exps").glob("*"))


def test_queue_errors_name_what_is_wrong(sh: Sh, repo: Path) -> None:
    sh.bale("exp", "run", "--queue", "-n", "waiting", cwd=repo)
    cases = {
        ("queue", "logs", "waiting"): "Experiment 'waiting' is in queue but has not been started",
        ("queue", "logs", "nope"): "'nope' is not a valid queued experiment name",
        ("queue", "kill", "nope"): "'nope' is not a valid running experiment name",
        ("queue", "kill", "waiting"): "'waiting' is not a valid running experiment name",
    }
    for args, said in cases.items():
        p = sh.bale(*args, cwd=repo, check=False)
        assert p.returncode == 1 and p.stderr == f"ERROR: {said}\n", (args, p.stderr)
    # exp show lists it as dvc lists a queued task (seen by hand: dvc's exp
    # show may crash while its worker stops, so the twin test shows no queued one)
    row = _csv_row(sh, repo, "waiting")
    assert (row["State"], row["Executor"]) == ("Queued", "Dvc-task"), row


def test_queue_session_prints_what_dvc_prints(sh: Sh, repo: Path, tmp_path: Path) -> None:
    """The same session with both tools; dvc's own workers (celery) run its queue."""
    waited = (
        "for i in $(seq 150); do git for-each-ref refs/exps | grep -q '/q1$' && break;"
        " sleep 0.2; done; sleep 2"  # dvc marks the task done just after the ref
    )
    steps: list[Step] = [
        ("exp", "run", "--queue", "-S", "x=2", "-n", "q1"),
        ("queue", "start"),
        waited,
        ("queue", "status"),
        # q1 Success by Dvc-task (dvc's exp show just after 'queue stop' can
        # crash, its worker's files half removed: shown before)
        ("exp", "show", "--csv"),
        ("exp", "show", "--json"),
        ("queue", "logs", "q1"),
        ("queue", "logs", "nope"),
        ("queue", "kill", "q1"),  # done: not running
        ("queue", "stop"),
        # dvc's celery worker stops a moment after 'queue stop' returns: in
        # that moment it would take q2, queued next
        "for i in $(seq 150); do pgrep -f 'exp queue-worker' >/dev/null || break; sleep 0.2; done",
        ("exp", "run", "--queue", "-n", "q2"),
        ("exp", "run", "--queue", "-S", "x=9"),  # named when queued, at random
        ("queue", "logs", "q2"),
        ("queue", "remove", "--success"),
        ("queue", "remove", "--queued"),
        ("queue", "status"),
    ]
    d_root = copy_repo(repo, tmp_path / "dvc")
    b_root = copy_repo(repo, tmp_path / "bale")
    batch = DvcBatch(sh, d_root, steps)
    bale = run_bale(sh, b_root, steps)
    try:
        dvc = batch.results()
    finally:
        sh.dvc("queue", "stop", cwd=d_root, check=False)
    for step, d, b in zip(steps, dvc, bale, strict=True):
        assert d.ok == b.ok, f"{step}: dvc exit {d.rc} {d.err!r}, bale exit {b.rc} {b.err!r}"
        if isinstance(step, str):
            continue
        if not d.ok:
            assert b.err.removeprefix("ERROR: ") in d.err, (step, b.err, d.err)
            continue
        # the random names of unnamed experiments: adjective-noun
        ours, theirs = (re.sub(r"\b[a-z]+-[a-z]+\b", "<name>", r.out).splitlines() for r in (b, d))
        if step == ("queue", "status"):
            # task ids are the queue entries' commits, each tool's own; dvc's
            # worker count comes from celery's inspect, which answers nothing
            # here (always "0 active, 0 idle"), bale counts its live workers
            # and the time each tool queued its entry may be a minute apart
            ours, theirs = (
                [
                    re.sub(r"\d\d:\d\d [AP]M", "<time>", ln[7:])
                    for ln in out
                    if not ln.startswith("Worker")
                ]
                for out in (ours, theirs)
            )
        if step[:3] == ("exp", "show", "--csv"):
            # revs and times are each tool's own
            ours, theirs = (
                [",".join(c[:1] + c[2:3] + c[4:]) for c in (ln.split(",") for ln in out)]
                for out in (ours, theirs)
            )
        elif step[:3] == ("exp", "show", "--json"):
            ours, theirs = (
                [
                    (e["name"], e["executor"] and (e["executor"]["state"], e["executor"]["name"]))
                    for b in json.loads(r.out)
                    for e in b["experiments"] or []
                ]
                for r in (b, d)
            )
            assert ours == [("q1", ("success", "dvc-task"))]
        elif step[0] == "exp":
            # dvc says "Queueing with overrides '{...}'." first, a Python dict; bale does not
            theirs = theirs[-1:]
        assert ours == theirs, (step, b.out, d.out)


def test_a_killed_worker_loses_no_result(sh: Sh, repo: Path) -> None:
    """The task runs in a process of its own: it finishes, and records its
    experiment, after its worker died."""
    (repo / "s.py").write_text("import time\nprint('start', flush=True)\ntime.sleep(2)\n" + SHORT)
    _commit(sh, repo, "slower", 2)
    sh.bale("exp", "run", "--queue", "-S", "x=4", "-n", "orphan", cwd=repo)
    sh.bale("queue", "start", cwd=repo)
    _until(lambda: "start\n" in sh.bale("queue", "logs", "orphan", cwd=repo, check=False).stdout)
    worker = json.loads((repo / ".dvc/tmp/bale/queue/workers/1.json").read_text())
    os.kill(worker["pid"], signal.SIGKILL)
    _until(lambda: _status(sh, repo).get("orphan") == "Success", 20)
    assert sh.bale("exp", "list", "--name-only", cwd=repo).stdout == "orphan\n"
    assert sh.bale("queue", "status", cwd=repo).stdout.endswith("0 active, 0 idle\n")
    _workspace_untouched(sh, repo)
    # the dead worker's file is what exp clean removes
    workers = repo / ".dvc/tmp/bale/queue/workers"
    assert (workers / "1.json").exists()
    sh.bale("exp", "clean", cwd=repo)
    assert not (workers / "1.json").exists()


def _slower(sh: Sh, root: Path) -> None:
    """The stage takes a second or two: long enough to act while it runs."""
    (root / "s.py").write_text("import time\nprint('start', flush=True)\ntime.sleep(1)\n" + SHORT)
    _commit(sh, root, "slower", 2)


def test_queue_stop_lets_the_running_task_finish(sh: Sh, repo: Path, tmp_path: Path) -> None:
    # the stage waits for a file the test makes after `queue stop`: on a
    # loaded machine a stage of fixed length could end, and the next start,
    # before the stop arrives
    go = tmp_path / "go"
    wait = (
        "import os, time\nprint('start', flush=True)\n"
        f"while not os.path.exists({str(go)!r}):\n    time.sleep(0.05)\n"
    )
    (repo / "s.py").write_text(wait + SHORT)
    _commit(sh, repo, "waits", 2)
    for x in ("6", "7"):
        sh.bale("exp", "run", "--queue", "-S", f"x={x}", "-n", f"q{x}", cwd=repo)
    sh.bale("queue", "start", cwd=repo)
    _until(lambda: "start\n" in sh.bale("queue", "logs", "q6", cwd=repo, check=False).stdout)
    p = sh.bale("queue", "stop", cwd=repo)
    assert p.stdout == "Queue workers will stop after running tasks finish.\n"
    go.touch()
    _until(lambda: not list((repo / ".dvc/tmp/bale/queue/workers").glob("*.json")), 20)
    assert _status(sh, repo) == {"q6": "Success", "q7": "Queued"}
    # started again, the rest runs
    sh.bale("queue", "start", cwd=repo)
    _until(lambda: _status(sh, repo) == {"q6": "Success", "q7": "Success"}, 20)


def test_queue_start_jobs_runs_each_task_once(sh: Sh, repo: Path) -> None:
    _slower(sh, repo)
    for x in ("6", "7", "8"):
        sh.bale("exp", "run", "--queue", "-S", f"x={x}", "-n", f"q{x}", cwd=repo)
    p = sh.bale("queue", "start", "-j", "2", cwd=repo)
    assert p.stdout == "Started '2' new experiments task queue workers.\n"
    _until(lambda: set(_status(sh, repo).values()) == {"Success"}, 40)
    for x in ("6", "7", "8"):
        logs = sh.bale("queue", "logs", f"q{x}", cwd=repo).stdout
        assert logs.count("Reproducing experiment") == 1 and f"hello {x}\n" in logs, logs
    listed = sh.bale("exp", "list", "--name-only", cwd=repo).stdout.split()
    assert sorted(listed) == ["q6", "q7", "q8"]
    _workspace_untouched(sh, repo)
