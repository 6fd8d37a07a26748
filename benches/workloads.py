"""Deterministic benchmark workloads for ``benches/run.py`` (stdlib only).

Every workload is a directory of seeded random bytes (incompressible, no two
files alike), generated once into ``benches/work/src/<name>/data`` and then
copied into each fresh repository with ``cp -r``.

    W1  100,000 files of 1-8 KiB in 100 directories   (many small files)
    W2  one 2 GiB file                                 (one big file)
    W3  1,000 files of 1 MiB                           (medium files)

``scale`` shrinks W1/W3 file counts and the W2 file size (``--scale 0.1``
gives 10,000 / 100 files and a 205 MiB file) for quick runs.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

CHUNK = 16 * MIB  # random.randbytes cannot make more than ~256 MiB at once


@dataclass(frozen=True)
class Workload:
    name: str
    nfiles: int
    ndirs: int  # 0: files directly in data/
    min_size: int
    max_size: int
    seed: int
    description: str

    def spec(self) -> dict:
        return asdict(self)


def workloads(scale: float = 1.0) -> dict[str, Workload]:
    def count(n: int) -> int:
        return max(1, round(n * scale))

    return {
        "W1": Workload(
            "W1",
            count(100_000),
            min(100, count(100_000)),
            1 * KIB,
            8 * KIB,
            1,
            f"{count(100_000):,} files of 1-8 KiB random bytes in {min(100, count(100_000))} directories",
        ),
        "W2": Workload(
            "W2",
            1,
            0,
            count(2 * GIB),
            count(2 * GIB),
            2,
            f"one {_human(count(2 * GIB))} random file",
        ),
        "W3": Workload(
            "W3",
            count(1_000),
            0,
            1 * MIB,
            1 * MIB,
            3,
            f"{count(1_000):,} files of 1 MiB random bytes",
        ),
    }


def _human(n: int) -> str:
    for unit, size in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if n >= size:
            v = n / size
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.1f} {unit}"
    return f"{n} B"


def relpath(w: Workload, i: int) -> str:
    """The path of the workload's ``i``-th file relative to ``data/``."""
    name = f"f{i:06d}.bin"
    return f"d{i % w.ndirs:03d}/{name}" if w.ndirs else name


def relpaths(w: Workload) -> list[str]:
    """The workload's file paths relative to ``data/``, in generation order."""
    return [relpath(w, i) for i in range(w.nfiles)]


def _write_random(path: Path, size: int, rng: random.Random) -> None:
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, CHUNK)
            f.write(rng.randbytes(n))
            left -= n


def generate(w: Workload, root: Path) -> Path:
    """Generates ``w`` into ``root/<name>/data`` unless an identical one is
    already there (same spec, recorded in ``spec.json``); returns the data dir."""
    home = root / w.name
    data = home / "data"
    marker = home / "spec.json"
    if marker.exists() and data.is_dir():
        try:
            if json.loads(marker.read_text()) == w.spec():
                return data
        except ValueError:
            pass
    if home.exists():
        shutil.rmtree(home)
    data.mkdir(parents=True)
    rng = random.Random(w.seed)
    for d in range(w.ndirs):
        (data / f"d{d:03d}").mkdir()
    for rel in relpaths(w):
        size = w.min_size if w.min_size == w.max_size else rng.randint(w.min_size, w.max_size)
        _write_random(data / rel, size, rng)
    os.sync()
    marker.write_text(json.dumps(w.spec()))
    return data


def tree_stats(path: Path) -> tuple[int, int]:
    """(number of regular files, total bytes) under ``path``."""
    n = total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            st = os.lstat(os.path.join(dirpath, f))
            n += 1
            total += st.st_size
    return n, total
