"""The benchmarks' history: one JSON record per run, appended to
``benches/history/runs.jsonl`` by every bench script (stdlib only).

A record holds what a reader needs to trust or compare a number later:

    script     the bench script ("run.py", "sync.py", ...)
    date       UTC start and end of the run (ISO 8601)
    commit     ``git describe --always --dirty`` of this checkout, and the
               uncommitted files under python/ and rust/ (the code measured)
    machine    CPU, cores, memory, file system, kernel, Python, load averages
    args       the script's command-line options
    table      the table the script printed: its header and rows (medians per
               step and tool, and the paired ratios, as shown)
    samples    every timed sample, as the script's ``--json`` writes them
    ab         with ``--baseline``: the baseline checkout, its commit
               (``git rev-parse HEAD``) and the A/B table (header and rows)

``benches/RESULTS.md`` shows the latest numbers; this file keeps them all.
The runs before this file existed are in ``notebook-2026.md`` (prose) and
``notebook-2026.jsonl`` (its tables, one record per dated section).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = HERE / "history" / "runs.jsonl"


def _out(*cmd: str) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=HERE).stdout.strip()
    except OSError:
        return "?"


def machine(work: Path = HERE) -> dict:
    """The machine a run measures: ``work`` is the directory whose file system matters."""
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        mem = f"{kb / 1024 / 1024:.1f} GiB (MemTotal {kb:,} kB)"
    except (OSError, ValueError, IndexError):
        pass
    fs, best = "?", ""
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            dev, mnt, typ, opts, *_ = line.split()
            if str(work.resolve()).startswith(mnt) and len(mnt) >= len(best):
                best, fs = mnt, f"{typ} on {dev} mounted at {mnt}, {opts}"
    except OSError:
        pass
    return {
        "host": platform.node(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory": mem,
        "filesystem": fs,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "git": _out("git", "--version"),
        "loadavg": list(os.getloadavg()),
    }


def commit() -> dict:
    """The checkout measured: its commit, and what is uncommitted in the code."""
    dirty = _out("git", "status", "--short", "--", "../python", "../rust").splitlines()
    return {"commit": _out("git", "describe", "--always", "--dirty"), "dirty": dirty}


def record(
    script: str,
    args: argparse.Namespace | dict,
    started: float,
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    samples: object,
    machine_info: dict | None = None,
    ab: dict | None = None,
) -> dict:
    """Appends one run to :data:`RUNS` and returns the record."""
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    entry = {
        "script": script,
        "date": time.strftime(stamp, time.gmtime(started)),
        "ended": time.strftime(stamp, time.gmtime()),
        **commit(),
        "machine": machine_info or machine(),
        "args": vars(args) if isinstance(args, argparse.Namespace) else args,
        "table": {"header": list(header), "rows": [list(r) for r in rows]},
        "samples": samples,
        **({"ab": ab} if ab else {}),
    }
    RUNS.parent.mkdir(exist_ok=True)
    with RUNS.open("a") as f:
        f.write(json.dumps(entry, default=str) + "\n")
    print(f"recorded in {RUNS.relative_to(HERE.parent)}", file=sys.stderr, flush=True)
    return entry
