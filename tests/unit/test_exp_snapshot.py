"""Experiment commits (``bale.experiments.snapshot``) take each file as the
work tree holds it, even one rewritten within the second git last saw it."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from bale.experiments import snapshot

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}


def _git(root: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(
        ["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_a_file_rewritten_in_the_second_of_its_checkout_is_committed_as_it_is_now(
    tmp_path: Path,
) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q")
    # ctime cannot be set: git is told not to look at it, as on some systems
    _git(root, "config", "core.trustctime", "false")
    metrics = root / "metrics.json"
    then = time.time() - 100
    metrics.write_text('{"loss": 0.2941}')
    os.utime(metrics, (then, then))
    _git(root, "add", "metrics.json")
    _git(root, "commit", "-qm", "baseline")
    # A run rewrites it in the second git checked it out: same size, same
    # mtime (to the second), same inode; git's index dates from that second.
    metrics.write_text('{"loss": 0.0943}')
    os.utime(metrics, (then, then))
    os.utime(root / ".git" / "index", (then, then))
    head = _git(root, "rev-parse", "HEAD")
    commit = snapshot.commit_workspace(root, head, "experiment", [])
    assert _git(root, "show", f"{commit}:metrics.json") == '{"loss": 0.0943}'
