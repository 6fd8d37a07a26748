"""Who owns what in the experiment queue (``bale.ops.exp`` and
``bale.ops.exp_queue``): a worktree's ``.pid`` is written before the
worktree and held by one live process; a pid reused by another process is
not the process recorded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bale.exceptions import BaleError
from bale.ops import exp


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".dvc").mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def _open(root: Path):  # type: ignore[no-untyped-def]
    from bale.repo import Repo

    return Repo(root)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc start times")
def test_a_reused_pid_is_not_the_process_recorded() -> None:
    me = exp._identity()
    assert exp._running(me)
    pid, start = me.split()
    assert not exp._running(f"{pid} {int(start) + 1}")  # another process, same pid
    assert exp._running(pid)  # nothing recorded but the pid: alive


def test_clean_spares_a_live_owner_and_a_fresh_worktree(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    base = root / ".dvc/tmp/bale/exps"
    for name in ("live", "fresh", "dead"):
        (base / name).mkdir(parents=True)
    (base / "live.pid").write_text(exp._identity() + "\n")
    gone = subprocess.Popen([sys.executable, "-c", ""])
    gone.wait()
    (base / "dead.pid").write_text(f"{gone.pid}\n")
    removed = exp.clean(_open(root))
    assert removed == [base / "dead"]
    assert (base / "live").is_dir() and (base / "fresh").is_dir()
    assert not (base / "dead.pid").exists()


def test_only_one_live_process_owns_a_worktree(tmp_path: Path) -> None:
    owner = tmp_path / "1.pid"
    assert exp._own(owner, "e") == owner
    with pytest.raises(BaleError, match="running already"):
        exp._own(owner, "e")
    owner.write_text("999999999 1\n")  # gone
    assert exp._own(owner, "e") == owner
    assert owner.read_text() == exp._identity() + "\n"
    assert [p.name for p in tmp_path.iterdir()] == ["1.pid"]


def test_an_entry_is_claimed_once(tmp_path: Path) -> None:
    from bale.ops import exp_queue

    repo = _open(_repo(tmp_path))
    assert exp_queue.claim(repo, "1")
    assert not exp_queue.claim(repo, "1")  # a worker, or another run, has it
    assert exp_queue.claim_path(repo, "1").read_text() == exp._identity() + "\n"
    exp_queue.release(repo, "1")
    assert exp_queue.claim(repo, "1")
    exp_queue.claim_path(repo, "1").write_text("1 2\n")  # someone else's
    exp_queue.release(repo, "1")
    assert exp_queue.claim_path(repo, "1").exists()
    assert [p.name for p in exp_queue.claim_path(repo, "1").parent.iterdir()] == ["1.claim"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc start times")
def test_a_running_record_with_a_reused_pid_reads_as_failed() -> None:
    from bale.ops import exp_queue

    pid, start = exp._identity().split()
    rec = {"status": "Running", "pid": int(pid), "pid_start": start}
    assert exp_queue._record_status(rec) == "Running"
    assert exp_queue._record_status({**rec, "pid_start": str(int(start) + 1)}) == "Failed"
    worker = {"status": "Running", "pid": None, "worker": int(pid), "worker_start": "1"}
    assert exp_queue._record_status(worker) == "Failed"


def test_kill_signals_no_group_its_pid_does_not_lead() -> None:
    from bale.ops import exp_queue

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        t = exp_queue.Task("1", "abc", "t", 0, "Running", child.pid)  # in our group
        assert exp_queue._kill([t], force=True) == []
        assert child.poll() is None
    finally:
        child.kill()
        child.wait()


def test_kill_checks_every_task_before_killing_any(monkeypatch: pytest.MonkeyPatch) -> None:
    from bale.ops import exp_queue

    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True
    )
    try:
        running = [
            exp_queue.Task("1", "aaaa1111", "a", 0, "Running", child.pid),
            exp_queue.Task("2", "bbbb2222", "b", 0, "Running", None),  # initializing
        ]
        monkeypatch.setattr(exp_queue, "tasks", lambda repo: running)
        with pytest.raises(BaleError, match="'b' is initializing"):
            exp_queue.kill(None, ["a", "b"], force=True)  # type: ignore[arg-type]
        assert child.poll() is None
        assert exp_queue.kill(None, ["a"], force=True) == ["a"]  # type: ignore[arg-type]
        assert child.wait(10) == -9
    finally:
        child.kill()
        child.wait()


def _queued_entry(tmp_path: Path) -> tuple[Path, str]:
    root = _repo(tmp_path)
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "PATH": os.environ["PATH"],
    }
    for args in (
        ["commit", "-q", "--allow-empty", "-m", "base"],
        ["commit", "-q", "--allow-empty", "-m", "q"],
    ):
        subprocess.run(["git", *args], cwd=root, env=env, check=True)
    ref = "refs/bale/exp-queue/00000000000000000001"
    subprocess.run(["git", "update-ref", ref, "HEAD"], cwd=root, check=True)
    return root, ref


def test_an_entry_claimed_by_a_live_process_is_running(tmp_path: Path) -> None:
    from bale.ops import exp_queue

    root, _ref = _queued_entry(tmp_path)
    repo = _open(root)
    assert [t.status for t in exp_queue.tasks(repo)] == ["Queued"]
    assert exp_queue.claim(repo, "00000000000000000001")
    assert [t.status for t in exp_queue.tasks(repo)] == ["Running"]
    assert exp_queue.remove(repo, queued=True) == []  # not removed under its runner
    exp_queue.claim_path(repo, "00000000000000000001").write_text("999999999 1\n")
    assert [t.status for t in exp_queue.tasks(repo)] == ["Queued"]  # its claimer is gone


def test_a_worker_does_not_take_an_entry_removed_as_it_claims_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bale.ops import exp_queue

    root, ref = _queued_entry(tmp_path)
    repo = _open(root)
    real = exp_queue.claim

    def removed_meanwhile(repo, entry_id):  # type: ignore[no-untyped-def]
        subprocess.run(["git", "update-ref", "-d", ref], cwd=root, check=True)
        return real(repo, entry_id)

    monkeypatch.setattr(exp_queue, "claim", removed_meanwhile)
    assert exp_queue._claim_next(repo) is None
    assert not exp_queue.claim_path(repo, "00000000000000000001").exists()


def test_a_worker_slot_held_is_not_started_again(tmp_path: Path) -> None:
    import fcntl

    from bale.ops import exp_queue

    root, _ref = _queued_entry(tmp_path)
    repo = _open(root)
    workers = exp_queue.queue_dir(repo) / "workers"
    workers.mkdir(parents=True)
    with open(workers / "1.lock", "w") as held:  # as a live worker holds it
        fcntl.flock(held, fcntl.LOCK_EX)
        assert exp_queue.start(repo, 1) == 0
        assert exp_queue.worker_main(repo, 1) == 0  # one started by hand steps back
    assert not (workers / "1.json").exists()
