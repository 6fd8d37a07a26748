"""kill -9 at the fragile moments of add, commit and checkout: the rerun of
the same command finishes without ``--force``, and nothing bale wrote is left
as data (issue: temp files of linked workspaces were recorded by the next
add, and a killed checkout blocked the next one)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.integration.conftest import Run, read_tree, write_tree
from tests.integration.kills import assert_settled, killed_at, temp_files

FILES = 30


def _version(tag: str) -> dict[str, str]:
    return {f"data/sub{i % 3}/f{i:02}": f"{tag} {i}\n" for i in range(FILES)} | {
        "one.txt": f"{tag}\n"
    }


@pytest.mark.parametrize("cache_type", ["hardlink", "symlink", "copy"])
def test_add_commit_and_checkout_killed_halfway_finish_on_the_rerun(
    repo: Path, run: Run, cache_type: str
) -> None:
    run("bale", "config", "cache.type", cache_type)
    v1 = _version("v1")
    write_tree(repo, v1)
    # Past the cache writes: in a linked workspace, while files are relinked.
    killed_at("temp", FILES + 10 if cache_type != "copy" else 10, repo, "add", "data", "one.txt")
    run("bale", "add", "data", "one.txt")
    assert_settled(repo, run)
    assert read_tree(repo / "data") == {k[5:]: v.encode() for k, v in v1.items() if k != "one.txt"}
    run("git", "add", "-A")
    assert not [p for p in run("git", "ls-files").stdout.split() if ".bale" in p]
    run("git", "commit", "-qm", "v1")

    # An edited version, committed: killed among its cache writes.
    run("bale", "unprotect", "data", "one.txt")
    v2 = _version("v2")
    write_tree(repo, v2)
    killed_at("temp", 5, repo, "commit", "-f")
    run("bale", "commit", "-f")
    assert_settled(repo, run)
    run("git", "commit", "-qam", "v2")

    # Back to v1: every file is replaced, and killed half-way through.
    run("git", "checkout", "-q", "HEAD~1")
    killed_at("temp", FILES // 2, repo, "checkout")
    run("bale", "checkout")
    assert_settled(repo, run)
    assert read_tree(repo / "data") == {k[5:]: v.encode() for k, v in v1.items() if k != "one.txt"}
    assert (repo / "one.txt").read_text() == "v1\n"


def test_a_relink_killed_halfway_leaves_nothing_the_next_add_records(repo: Path, run: Run) -> None:
    run("bale", "config", "cache.type", "hardlink")
    write_tree(repo, _version("v1"))
    run("bale", "add", "data", "one.txt")
    # Relinking what is linked already rewrote nothing and left one temp
    # link per file, which the next add recorded as data.
    run("bale", "checkout", "--relink")
    assert temp_files(repo) == []
    run("bale", "add", "data", "one.txt")
    assert "nfiles: 30" in (repo / "data.dvc").read_text()
    # Copies, relinked: each file goes through a temp link, killed half-way.
    run("bale", "unprotect", "data")
    killed_at("temp", FILES // 2, repo, "checkout", "--relink")
    run("bale", "add", "data", "one.txt")
    assert "nfiles: 30" in (repo / "data.dvc").read_text()
    assert_settled(repo, run)


def test_temp_files_an_older_bale_recorded_are_not_checked_out_and_named(
    md5_repo: Path, run: Run
) -> None:
    # What an older bale (or dvc, which takes any name for data) recorded:
    # a directory manifest listing a temp file beside the data.
    files = {".bale4000000000x1x2.tmp": b"leftover\n", "a": b"a\n"}
    cache = md5_repo / ".dvc" / "cache" / "files" / "md5"

    def store(data: bytes, suffix: str = "") -> str:
        digest = hashlib.md5(data).hexdigest()
        obj = cache / digest[:2] / (digest[2:] + suffix)
        obj.parent.mkdir(parents=True, exist_ok=True)
        obj.write_bytes(data)
        return digest + suffix

    entries = [{"md5": store(data), "relpath": rel} for rel, data in sorted(files.items())]
    oid = store(json.dumps(entries, sort_keys=True).encode(), ".dir")
    (md5_repo / "data.dvc").write_text(
        f"outs:\n- md5: {oid}\n  size: 12\n  nfiles: 2\n  hash: md5\n  path: data\n"
    )
    checkout = run("bale", "checkout")
    assert "records 1 bale temp file(s) in data" in checkout.stderr
    assert "bale add data" in checkout.stderr
    assert read_tree(md5_repo / "data") == {"a": b"a\n"}


def test_ctrl_c_stops_a_stage_command_that_python_runs(md5_repo: Path) -> None:
    """Ctrl-C (SIGINT to the process group) reaches the stage's command, which
    ends at once: bale used to ignore SIGINT while the command ran, and a
    command inherits an ignored signal as ignored (a Python one slept on)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    write_tree(
        md5_repo,
        {
            "slow.py": "import time\nprint('start', flush=True)\ntime.sleep(60)\n",
            "dvc.yaml": "stages:\n  w:\n    cmd: python slow.py\n",
        },
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bale", "repro"],
        cwd=md5_repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        # a terminal's Ctrl-C: SIGINT not ignored, whatever pytest runs under
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line == "start\n":
            break
    began = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert time.monotonic() - began < 15 and proc.returncode != 0
