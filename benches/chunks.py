#!/usr/bin/env python3
"""Chunk-level dedup (issue 4, "an edit costs what changed"): bale vs dvc.

    python benches/chunks.py [--scale F] [--repeat N] [--versions N]
                             [--csv-mb MB] [--csv-appends N] [--skip PHASES]
                             [--s3] [--json FILE] [--work DIR] [--keep]
                             [--build-src DIR]

bale runs bale-native (``bale init``: blake3, the default, so files of
4 MiB or more are chunked, DESIGN.md section 13) and dvc runs ``dvc init``;
both push to a folder remote on the same disk (``remote add -d r <dir>``),
each in its own fresh ``git init`` repository.  Every command is timed as a
whole process (``time.perf_counter`` around fork/exec/``wait4``).  Bytes
are sums of file sizes (apparent sizes, each inode once): "uploaded" is the
growth of the remote folder over one push, "cached" the growth of
``.dvc/cache`` over one add.

Phases (``--skip`` takes a comma list of ``folder,whole,versions,csv``;
skipping ``folder`` skips ``versions`` too, which continues its repositories):

    W2        one 2 GiB random file (x --scale).  Per repetition and tool:
              ``cp`` of the file into the fresh repository (the raw-copy
              baseline, paired with that tool's push), ``add``, first
              ``push``.  ``bale-whole`` is bale with the file's chunk list
              deleted from the cache between add and push, so the push
              sends the object whole (DESIGN 13.0: a file without a list
              goes whole): the unchunked push of the same build, which the
              issue's throughput target ("within 10%") compares against.
    W4        1 MiB overwritten in the middle of the file (in place); add,
              push; uploaded and cached bytes.  Then one byte inserted at
              the start (the file rewritten); add, push.  Each version is
              committed to git.
    versions  (last repetition's repositories) ten more versions, each a
              1 MiB overwrite at another place, add + push + git commit
              each; remote and cache totals; for bale, the cache before
              and after ``bale gc -A --compact -f`` (all commits kept, old
              versions kept as chunks only), then a checkout of a compacted
              version (bale rebuilds it from chunks and verifies it; the
              harness checks its size and two 1 MiB regions).  bale runs
              all its versions, then dvc (disk: dvc keeps every version
              whole in cache and remote; when free space runs low its old
              versions are deleted from its cache with ``dvc gc -w -f``
              after being measured, and its cache total is then the sum of
              what each add stored).
    csv       a 500 MB CSV (x --scale; deterministic rows of numbers and
              words), then ten appends of 1% of its rows, add + push +
              commit each; remote and cache totals; bale's cache before
              and after ``gc -A --compact``.
    s3        (``--s3``) W2 first push, W4 and the insert again, on a
              SeaweedFS ``weed mini`` (tests/remotes/seaweed.py), one
              bucket per tool; uploaded bytes from a bucket listing.

Timing cells are medians over ``--repeat`` (W2/W4/insert) or over the ten
versions / appends; ratios are bale / dvc, paired within a repetition where
both tools have one.  The markdown table (step, bale, dvc, ratio, target,
met?) goes to stdout, progress to stderr, the raw samples to ``--json``.
Everything is generated under ``--work`` (default /tmp/bale-chunks-bench),
deleted at the end unless ``--keep``.  Use a bale build that nothing
rebuilds during the run (``--build-src`` records that checkout's commit).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import history

HERE = Path(__file__).resolve().parent
KIB, MIB, GIB = 1024, 1024**2, 1024**3
EDIT = MIB  # bytes of one overwrite
BLOCK = 16 * MIB  # random.randbytes cannot make more than ~256 MiB at once
ENV = dict(
    os.environ,
    DVC_NO_ANALYTICS="1",
    LC_ALL="C",
    GIT_AUTHOR_NAME="bench",
    GIT_AUTHOR_EMAIL="bench@example.invalid",
    GIT_COMMITTER_NAME="bench",
    GIT_COMMITTER_EMAIL="bench@example.invalid",
)
PHASES = ("folder", "whole", "versions", "csv")
WORK = Path("/tmp/bale-chunks-bench")


def log(msg: str) -> None:
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{time.strftime('%H:%M:%S')} [load {load}] {msg}", file=sys.stderr, flush=True)


def human(n: float) -> str:
    sign, n = ("-" if n < 0 else ""), abs(n)
    for unit, size in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if n >= size:
            return (
                f"{sign}{n / size:.3f} {unit}" if unit == "GiB" else f"{sign}{n / size:.2f} {unit}"
            )
    return f"{sign}{n:.0f} B"


# --------------------------------------------------------------------------
# processes


class StepFailed(Exception):
    pass


def run(cmd: list[str], cwd: Path) -> tuple[float, str]:
    """Runs ``cmd`` to completion: (seconds, stdout).  stdout and stderr go
    to scratch files (no pipe to drain while timing)."""
    with open(WORK / ".stdout", "w+b") as out, open(WORK / ".stderr", "w+b") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(
            cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=ENV
        )
        _, status, _ = os.wait4(p.pid, 0)
        seconds = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        stdout = out.read().decode(errors="replace")
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    if p.returncode != 0:
        tail = "\n".join((stderr.strip() or stdout.strip()).splitlines()[-10:])
        raise StepFailed(f"`{' '.join(map(str, cmd))}` exited {p.returncode}: {tail}")
    return seconds, stdout


def last_line(text: str) -> str:
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return lines[-1][:160] if lines else ""


def find_exe(name: str) -> str:
    cand = Path(sys.executable).parent / name
    if cand.exists():
        return str(cand)
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"chunks.py: {name} not found")
    return found


def rm_rf(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def tree_bytes(path: Path) -> int:
    """Sum of file sizes under ``path``, each inode once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                st = os.lstat(os.path.join(root, f))
            except FileNotFoundError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


def free_bytes() -> int:
    return shutil.disk_usage(WORK).free


# --------------------------------------------------------------------------
# data and edits (deterministic)


def gen_random(path: Path, size: int, seed: int) -> None:
    rng = random.Random(seed)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(BLOCK, left)
            f.write(rng.randbytes(n))
            left -= n


WORDS = [
    *("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india"),
    *("juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo"),
    *("sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu"),
]
SITES = [f"site-{i:03d}" for i in range(200)]
STATUS = ("ok", "ok", "ok", "ok", "warn", "error", "maintenance")


def csv_rows(first_id: int, n: int, seed: int) -> bytes:
    """``n`` rows from id ``first_id``: id, epoch seconds, site, sensor,
    three measurements, a status and a two-word note."""
    rng = random.Random(seed)
    temp = [f"{x / 100:.2f}" for x in range(-2000, 4500, 7)]
    hum = [f"{x / 10:.1f}" for x in range(0, 1000, 3)]
    press = [f"{x / 10:.1f}" for x in range(9500, 10500, 3)]
    sensors = [f"S{i:05d}" for i in range(5000)]
    rows = zip(
        range(first_id, first_id + n),
        rng.choices(SITES, k=n),
        rng.choices(sensors, k=n),
        rng.choices(temp, k=n),
        rng.choices(hum, k=n),
        rng.choices(press, k=n),
        rng.choices(STATUS, k=n),
        rng.choices(WORDS, k=n),
        rng.choices(WORDS, k=n),
    )
    return "".join(
        f"{i},{1_600_000_000 + 37 * i},{s},{se},{t},{h},{p},{st},{a} {b}\n"
        for i, s, se, t, h, p, st, a, b in rows
    ).encode()


CSV_HEADER = b"id,time,site,sensor,temperature_c,humidity_pct,pressure_hpa,status,note\n"


def gen_csv(path: Path, size: int, seed: int) -> int:
    """A CSV of about ``size`` bytes; returns its row count."""
    n, block = 0, 100_000
    with open(path, "wb") as f:
        f.write(CSV_HEADER)
        written = len(CSV_HEADER)
        while written < size:
            data = csv_rows(n, block, seed * 1_000_003 + n)
            f.write(data)
            written += len(data)
            n += block
    return n


def writable_in_place(path: Path) -> bool:
    st = os.lstat(path)
    return not path.is_symlink() and st.st_nlink == 1 and os.access(path, os.W_OK)


def private_copy(path: Path) -> None:
    """Makes ``path`` a file of its own (never writes through a link into a cache)."""
    if writable_in_place(path):
        return
    tmp = path.with_name(path.name + ".tmp")
    shutil.copyfile(path, tmp)
    os.replace(tmp, path)


def overwrite(path: Path, offset: int, seed: int) -> None:
    private_copy(path)
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(random.Random(seed).randbytes(EDIT))


def insert_front(path: Path, byte: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        dst.write(byte)
        shutil.copyfileobj(src, dst, BLOCK)
    os.replace(tmp, path)


def append(path: Path, data: bytes) -> None:
    private_copy(path)
    with open(path, "ab") as f:
        f.write(data)


def region_digest(path: Path, offset: int) -> str:
    with open(path, "rb") as f:
        f.seek(offset)
        return hashlib.sha256(f.read(EDIT)).hexdigest()


# --------------------------------------------------------------------------
# tools, remotes, repositories


@dataclass
class Tool:
    name: str  # bale, bale-whole, dvc
    exe: str

    def cmd(self, *args: str) -> list[str]:
        return [self.exe, *args]

    @property
    def is_bale(self) -> bool:
        return self.name.startswith("bale")


class FolderRemote:
    kind = "folder"

    def __init__(self, path: Path) -> None:
        self.path = path
        rm_rf(path)
        path.mkdir(parents=True)

    def setup(self, tool: Tool, repo: Path) -> None:
        run(tool.cmd("remote", "add", "-d", "r", str(self.path)), repo)

    def size(self) -> int:
        return tree_bytes(self.path)

    def drop(self) -> None:
        rm_rf(self.path)


class S3Remote:
    kind = "s3"

    def __init__(self, server, bucket: str) -> None:
        from sync import s3_client  # benches/sync.py: the same client setup

        self.server, self.bucket = server, bucket
        self.client = s3_client(server)
        self.client.create_bucket(Bucket=bucket)

    def setup(self, tool: Tool, repo: Path) -> None:
        run(tool.cmd("remote", "add", "-d", "r", f"s3://{self.bucket}/store"), repo)
        for k, v in (
            ("endpointurl", self.server.endpoint),
            ("access_key_id", self.server.access_key),
            ("secret_access_key", self.server.secret_key),
        ):
            run(tool.cmd("remote", "modify", "--local", "r", k, v), repo)

    def size(self) -> int:
        total = 0
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            total += sum(o["Size"] for o in page.get("Contents", []))
        return total

    def drop(self) -> None:
        pass  # the server's data directory goes when it stops


@dataclass
class Repo:
    tool: Tool
    path: Path
    remote: FolderRemote | S3Remote
    data: Path
    pruned: int = 0  # bytes of dvc cache deleted after being measured
    revs: list = field(default_factory=list)  # commit of each version

    @property
    def cache_dir(self) -> Path:
        return self.path / ".dvc" / "cache"

    def cache(self) -> int:
        return tree_bytes(self.cache_dir) + self.pruned

    def commit(self, msg: str) -> None:
        run(["git", "add", "--", self.data.name + ".dvc", ".gitignore", ".dvc"], self.path)
        run(["git", "commit", "-q", "-m", msg], self.path)
        self.revs.append(run(["git", "rev-parse", "HEAD"], self.path)[1].strip())

    def drop(self) -> None:
        rm_rf(self.path)
        self.remote.drop()


def new_repo(
    tool: Tool, path: Path, remote, src: Path, res: Results, metric: str, key: str
) -> Repo:
    """A fresh git + tool repository holding a copy of ``src`` (the copy is
    timed: the raw baseline ``<metric> cp s``)."""
    rm_rf(path)
    path.mkdir(parents=True)
    data = path / src.name
    t, _ = run(["cp", str(src), str(data)], path)
    res.add(f"{metric} cp s", tool.name, key, t)
    run(["git", "init", "-q"], path)
    run(tool.cmd("init", "-q"), path)
    remote.setup(tool, path)
    run(["git", "add", "-A", ".dvc"], path)
    run(["git", "commit", "-q", "-m", "init"], path)
    return Repo(tool, path, remote, data)


# --------------------------------------------------------------------------
# results


class Results:
    def __init__(self) -> None:
        self.samples: dict[str, dict[str, dict[str, float]]] = {}
        self.outputs: list = []
        self.errors: list = []
        self.notes: list[str] = []
        self.meta: dict = {}
        self.loads: list = []

    def add(self, metric: str, tool: str, key: str, value: float) -> None:
        self.samples.setdefault(metric, {}).setdefault(tool, {})[key] = value

    def get(self, metric: str, tool: str) -> dict[str, float]:
        return self.samples.get(metric, {}).get(tool, {})

    def med(self, metric: str, tool: str) -> float | None:
        v = self.get(metric, tool)
        return statistics.median(v.values()) if v else None

    def ratio(self, metric: str, a: str = "bale", b: str = "dvc", invert=False) -> float | None:
        """Median of paired ratios a/b (1/x first with ``invert``), else ratio of medians."""
        va, vb = self.get(metric, a), self.get(metric, b)
        if invert:
            va = {k: 1 / x for k, x in va.items() if x}
            vb = {k: 1 / x for k, x in vb.items() if x}
        keys = [k for k in va if vb.get(k)]
        if keys:
            return statistics.median(va[k] / vb[k] for k in keys)
        if va and vb:
            ma, mb = statistics.median(va.values()), statistics.median(vb.values())
            return ma / mb if mb else None
        return None

    def error(self, where: str, e: BaseException) -> None:
        self.errors.append({"where": where, "error": f"{type(e).__name__}: {e}"})
        log(f"{where}: FAILED: {e}")

    def to_json(self) -> dict:
        return {
            "meta": self.meta,
            "samples": self.samples,
            "outputs": self.outputs,
            "errors": self.errors,
            "notes": self.notes,
            "loads": self.loads,
        }


# --------------------------------------------------------------------------
# steps


def timed(res: Results, repo: Repo, metric: str, key: str, args: list[str]) -> float:
    t, out = run(repo.tool.cmd(*args), repo.path)
    res.add(metric, repo.tool.name, key, t)
    res.outputs.append([metric, repo.tool.name, key, " ".join(args), last_line(out)])
    return t


def add_push(res: Results, repo: Repo, prefix: str, key: str, note: str = "") -> None:
    """add + push of the workspace as it is, with the bytes each stored."""
    c0, r0 = repo.cache(), repo.remote.size()
    ta = timed(res, repo, f"{prefix} add s", key, ["add", repo.data.name])
    c1 = repo.cache()
    if repo.tool.name == "bale-whole":
        lists = [p for p in repo.cache_dir.rglob("*.chunks")]
        for p in lists:
            p.unlink()
        res.notes.append(f"bale-whole {key}: deleted {len(lists)} chunk list(s) before push")
        c1 = repo.cache()
    tp = timed(res, repo, f"{prefix} push s", key, ["push"])
    r1 = repo.remote.size()
    res.add(f"{prefix} add+push s", repo.tool.name, key, ta + tp)
    res.add(f"{prefix} up B", repo.tool.name, key, r1 - r0)
    res.add(f"{prefix} cache B", repo.tool.name, key, c1 - c0)
    res.add(f"{prefix} push MB/s", repo.tool.name, key, repo.data.stat().st_size / tp / 1e6)
    log(
        f"[{repo.tool.name} {prefix} {key}] add {ta:.2f} s, push {tp:.2f} s; "
        f"uploaded {human(r1 - r0)}, cached {human(c1 - c0)}{note}"
    )


def prune_dvc(res: Results, repo: Repo, need: int) -> None:
    """dvc keeps each version whole: delete old versions from its cache
    (after they were measured) when the disk runs short."""
    if repo.tool.name != "dvc" or free_bytes() > need:
        return
    before = tree_bytes(repo.cache_dir)
    run(repo.tool.cmd("gc", "-w", "-f"), repo.path)
    freed = before - tree_bytes(repo.cache_dir)
    repo.pruned += freed
    log(f"[dvc] disk short: dvc gc -w -f freed {human(freed)} of measured old versions")


def cp_into(src: Path, dst_dir: Path) -> float:
    rm_rf(dst_dir)
    dst_dir.mkdir(parents=True)
    t, _ = run(["cp", str(src), str(dst_dir / src.name)], dst_dir)
    rm_rf(dst_dir)
    return t


def w2_w4(
    args, res: Results, tools: list[Tool], src: Path, rep: int, remote_kind: str, server=None
):
    """W2 first add/push, W4 overwrite, 1-byte insert, for every tool (order
    rotated per repetition).  Returns the repositories of bale and dvc."""
    key = f"r{rep + 1}"
    pre = "" if remote_kind == "folder" else "s3 "
    size = src.stat().st_size
    order = tools[rep % len(tools) :] + tools[: rep % len(tools)]
    repos: dict[str, Repo] = {}
    for tool in order:
        tag = f"{pre}{tool.name}"
        path = WORK / f"{remote_kind}-{key}-{tool.name}"
        try:
            if remote_kind == "folder":
                remote = FolderRemote(WORK / f"remote-{key}-{tool.name}")
            else:
                remote = S3Remote(server, f"bench-{key}-{tool.name}".replace("_", "-"))
            repo = new_repo(tool, path, remote, src, res, f"{pre}W2", key)
            log(
                f"[{tag} W2 {key}] cp of the file: {res.get(f'{pre}W2 cp s', tool.name)[key]:.2f} s"
            )
            add_push(res, repo, f"{pre}W2", key)
            repo.commit("v0")
            if tool.name == "bale":
                n = len(list(repo.cache_dir.rglob("*.chunks")))
                if n != 1:
                    res.notes.append(
                        f"bale W2 {key}: {n} chunk lists in the cache after add (expected 1)"
                    )
            if tool.name == "bale-whole":
                repo.drop()
                continue
            overwrite(repo.data, size // 2 - EDIT // 2, 4)
            add_push(res, repo, f"{pre}W4", key)
            repo.commit("W4: 1 MiB overwritten in the middle")
            insert_front(repo.data, b"\x5a")
            add_push(res, repo, f"{pre}insert", key)
            repo.commit("1 byte inserted at the start")
            repos[tool.name] = repo
        except (StepFailed, OSError) as e:
            res.error(f"{tag} W2/W4 {key}", e)
            rm_rf(path)
    return repos


def versions(args, res: Results, repo: Repo, size: int) -> None:
    """Ten 1 MiB overwrites at other places, add + push + commit each."""
    name = repo.tool.name
    n = args.versions
    offsets = [min(size - EDIT, int((k + 0.5) / n * size)) for k in range(n)]
    regions: list[tuple[int, str, int, str, int]] = []
    first_rev = len(repo.revs)
    for k, off in enumerate(offsets):
        key = f"v{k + 1}"
        overwrite(repo.data, off, 100 + k)
        nxt = offsets[k + 1] if k + 1 < n else offsets[0]
        regions.append(
            (
                off,
                region_digest(repo.data, off),
                nxt,
                region_digest(repo.data, nxt),
                repo.data.stat().st_size,
            )
        )
        try:
            add_push(res, repo, "V", key)
            repo.commit(f"version {k + 1}: 1 MiB overwritten at {off}")
        except StepFailed as e:
            res.error(f"{name} versions {key}", e)
            return
        prune_dvc(res, repo, 3 * size + 15 * GIB)
    res.add("V remote total B", name, "r", repo.remote.size())
    cache = repo.cache()
    res.add("V cache total B", name, "r", cache)
    log(f"[{name} versions] remote {human(repo.remote.size())}, cache {human(cache)}")
    if name != "bale":
        return
    try:
        t, out = run(repo.tool.cmd("gc", "-A", "--compact", "-f", "--json"), repo.path)
    except StepFailed as e:
        res.error("bale gc -A --compact", e)
        return
    res.add("V gc compact s", name, "r", t)
    res.outputs.append(["V gc compact", name, "r", "gc -A --compact -f --json", out.strip()[:400]])
    after = repo.cache()
    res.add("V cache after compact B", name, "r", after)
    log(
        f"[bale versions] gc -A --compact: {t:.2f} s, cache {human(cache)} -> {human(after)}: {out.strip()[:300]}"
    )
    # a compacted version: check it out (rebuilt from chunks), check it
    j = min(n // 2, n - 2) if n > 1 else 0
    rev = repo.revs[first_rev + j]
    off, dig, nxt, dig_nxt, fsize = regions[j]
    try:
        run(["git", "checkout", "-q", rev, "--", repo.data.name + ".dvc"], repo.path)
        t, out = run(repo.tool.cmd("checkout", repo.data.name + ".dvc"), repo.path)
    except StepFailed as e:
        res.error(f"bale checkout of compacted version v{j + 1}", e)
        return
    res.add("V checkout compacted s", name, "r", t)
    ok = (
        repo.data.stat().st_size == fsize
        and region_digest(repo.data, off) == dig
        and region_digest(repo.data, nxt) == dig_nxt
    )
    res.add("V checkout compacted ok", name, "r", float(ok))
    log(
        f"[bale versions] checkout of compacted v{j + 1}: {t:.2f} s, content {'ok' if ok else 'WRONG'}"
    )
    if not ok:
        res.errors.append(
            {"where": f"bale checkout v{j + 1}", "error": "checked-out content differs"}
        )
    res.add("V checkout cache B", name, "r", repo.cache())


def csv_phase(args, res: Results, tool: Tool, src: Path, rows: int) -> None:
    name = tool.name
    path = WORK / f"csv-{name}"
    repo = None
    try:
        repo = new_repo(tool, path, FolderRemote(WORK / f"remote-csv-{name}"), src, res, "CSV", "r")
        add_push(res, repo, "CSV first", "r")
        repo.commit("csv v0")
        step = max(1, rows // 100)
        next_id = rows
        for k in range(args.csv_appends):
            append(repo.data, csv_rows(next_id, step, 7000 + k))
            next_id += step
            add_push(res, repo, "CSV append", f"a{k + 1}")
            repo.commit(f"csv: {step} rows appended")
        res.add("CSV remote total B", name, "r", repo.remote.size())
        cache = repo.cache()
        res.add("CSV cache total B", name, "r", cache)
        res.add("CSV final size B", name, "r", repo.data.stat().st_size)
        log(f"[{name} csv] remote {human(repo.remote.size())}, cache {human(cache)}")
        if name == "bale":
            t, out = run(tool.cmd("gc", "-A", "--compact", "-f", "--json"), repo.path)
            res.outputs.append(["CSV gc compact", name, "r", "gc -A --compact", out.strip()[:400]])
            res.add("CSV gc compact s", name, "r", t)
            after = repo.cache()
            res.add("CSV cache after compact B", name, "r", after)
            log(f"[bale csv] gc -A --compact: {t:.2f} s, cache {human(cache)} -> {human(after)}")
    except (StepFailed, OSError) as e:
        res.error(f"{name} csv", e)
    finally:
        if repo is not None:
            repo.drop()
        rm_rf(path)


# --------------------------------------------------------------------------
# report


def build_rows(res: Results, size: int, csv_size: int) -> list[list[str]]:
    rows: list[list[str]] = []
    s = f" ({human(size)})"

    def fmt(v: float | None, unit: str) -> str:
        if v is None:
            return "—"
        if unit == "s":
            return f"{v:.2f} s"
        if unit == "B":
            return human(v)
        if unit == "MB/s":
            return f"{v:.0f} MB/s"
        return f"{v:.3g}"

    def row(label, metric, unit, target="—", check=None, a="bale", b="dvc") -> None:
        va, vb = res.med(metric, a), res.med(metric, b)
        r = res.ratio(metric, a, b)
        met = "—"
        if check is not None and va is not None:
            met = "yes" if check(va) else "NO"
        rows.append(
            [label, fmt(va, unit), fmt(vb, unit), "—" if r is None else f"{r:.3g}", target, met]
        )

    for pre in ("", "s3 "):
        if not res.samples.get(f"{pre}W2 push s"):
            continue
        on = "folder" if not pre else "S3"
        row(f"1. W2 add{s} [{on}]", f"{pre}W2 add s", "s")
        row(f"1. W2 first push [{on}]", f"{pre}W2 push s", "s")
        row(f"1. W2 remote bytes after first push [{on}]", f"{pre}W2 up B", "B")
        row(f"1. W2 cache bytes after add [{on}]", f"{pre}W2 cache B", "B")
        row(f"2. W4 add (1 MiB overwrite) [{on}]", f"{pre}W4 add s", "s")
        row(f"2. W4 push [{on}]", f"{pre}W4 push s", "s")
        row(f"2. W4 add+push [{on}]", f"{pre}W4 add+push s", "s", "≤ 3 s", lambda v: v <= 3)
        row(f"2. W4 newly uploaded [{on}]", f"{pre}W4 up B", "B", "≤ 2 MiB", lambda v: v <= 2 * MIB)
        row(
            f"2. W4 newly cached [{on}]", f"{pre}W4 cache B", "B", "≤ 2 MiB", lambda v: v <= 2 * MIB
        )
        row(f"3. insert 1 B at start: add+push [{on}]", f"{pre}insert add+push s", "s")
        row(
            f"3. insert 1 B: newly uploaded [{on}]",
            f"{pre}insert up B",
            "B",
            "≤ 1 MiB",
            lambda v: v <= MIB,
        )
        row(f"3. insert 1 B: newly cached [{on}]", f"{pre}insert cache B", "B")
    if res.samples.get("V up B"):
        n = len(res.get("V up B", "bale")) or len(res.get("V up B", "dvc"))
        lim = size + 0.1 * GIB  # 2.1 GiB for the 2 GiB file
        row(
            f"4. {n} versions: add+push per version (median)",
            "V add+push s",
            "s",
            "≤ 3 s",
            lambda v: v <= 3,
        )
        row(
            f"4. {n} versions: uploaded per version (median)",
            "V up B",
            "B",
            "≤ 2 MiB",
            lambda v: v <= 2 * MIB,
        )
        row(f"4. {n} versions: cached per version (median)", "V cache B", "B")
        row(
            "4. remote total (v0, W4, insert + versions)",
            "V remote total B",
            "B",
            f"≤ {human(lim)}",
            lambda v: v <= lim,
        )
        row("4. cache total before gc", "V cache total B", "B")
        row(
            "4. bale cache after gc -A --compact",
            "V cache after compact B",
            "B",
            f"≤ {human(lim)}",
            lambda v: v <= lim,
        )
        row("4. bale gc -A --compact time", "V gc compact s", "s")
        row("4. bale checkout of a compacted version (rebuild)", "V checkout compacted s", "s")
    if res.samples.get("CSV up B") or res.samples.get("CSV first push s"):
        c = f" ({human(csv_size)})"
        row(f"5. CSV{c} first add", "CSV first add s", "s")
        row("5. CSV first push", "CSV first push s", "s")
        row("5. CSV append 1% rows: add+push (median)", "CSV append add+push s", "s")
        row("5. CSV append: uploaded per append (median)", "CSV append up B", "B")
        row("5. CSV append: cached per append (median)", "CSV append cache B", "B")
        nv = 1 + len(res.get("CSV append up B", "bale") or res.get("CSV append up B", "dvc"))
        row(f"5. CSV remote total ({nv} versions)", "CSV remote total B", "B")
        row("5. CSV cache total before gc", "CSV cache total B", "B")
        row("5. bale CSV cache after gc -A --compact", "CSV cache after compact B", "B")
    # 6. throughput of the first push
    if res.samples.get("W2 push MB/s"):
        whole = res.med("W2 push MB/s", "bale-whole")
        for t in ("bale", "dvc", "bale-whole"):
            for k, v in res.get("W2 cp s", t).items():
                res.add("W2 cp MB/s", t, k, size / v / 1e6)
        row(f"6. W2 first push throughput{s}", "W2 push MB/s", "MB/s")
        if whole is not None:
            pr = res.ratio("W2 push MB/s", "bale", "bale-whole")
            rows.append(
                [
                    "6. bale chunked / unchunked (list deleted) first push",
                    f"{res.med('W2 push MB/s', 'bale'):.0f} / {whole:.0f} MB/s",
                    "—",
                    f"{pr:.3g}" if pr else "—",
                    "≥ 0.9 (within 10%)",
                    "—" if pr is None else ("yes" if pr >= 0.9 else "NO"),
                ]
            )
        cps = [v for t in res.samples.get("W2 cp MB/s", {}).values() for v in t.values()]
        if cps:
            rows.append(
                [
                    f"6. cp of the file into a folder (raw baseline; median of {len(cps)})",
                    f"{statistics.median(cps):.0f} MB/s",
                    f"{statistics.median(cps):.0f} MB/s",
                    "—",
                    "—",
                    "—",
                ]
            )
        if res.samples.get("W2 cp MB/s"):
            for t in ("bale", "dvc"):
                pairs = [
                    res.get("W2 push MB/s", t)[k] / (size / res.get("W2 cp s", t)[k] / 1e6)
                    for k in res.get("W2 push MB/s", t)
                    if k in res.get("W2 cp s", t)
                ]
                if pairs:
                    res.add("W2 push / cp", t, "r", statistics.median(pairs))
            row("6. first push MB/s / cp MB/s (paired)", "W2 push / cp", "x")
    return rows


HEADER = ["step", "bale", "dvc", "ratio (bale/dvc)", "target (bale)", "met?"]


def markdown(rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def machine() -> dict:
    """The shared record of the machine, with the tools and engine measured."""

    def cmd(*c: str) -> str:
        try:
            return subprocess.run(c, capture_output=True, text=True, env=ENV).stdout.strip()
        except OSError:
            return ""

    core = cmd(sys.executable, "-c", "import bale._core as c; print(c.__file__)")
    fp = "unknown"
    if core and Path(core).exists():
        fp = f"{core} sha256:{hashlib.sha256(Path(core).read_bytes()).hexdigest()[:12]}"
    return {
        **history.machine(WORK),
        "bale": cmd(find_exe("bale"), "--version"),
        "bale_engine": fp,
        "dvc": cmd(find_exe("dvc"), "--version"),
        "disk_free_gb": round(shutil.disk_usage(WORK).free / 1e9, 1),
    }


# --------------------------------------------------------------------------


def main() -> int:
    global WORK
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--scale", type=float, default=1.0, help="shrink the 2 GiB file and the 500 MB CSV"
    )
    ap.add_argument(
        "--repeat", type=int, default=1, help="repetitions of W2/W4/insert (timing medians)"
    )
    ap.add_argument("--versions", type=int, default=10)
    ap.add_argument("--csv-mb", type=float, default=500.0)
    ap.add_argument("--csv-appends", type=int, default=10)
    ap.add_argument("--skip", default="", help=f"comma list of {','.join(PHASES)}")
    ap.add_argument("--s3", action="store_true", help="also W2/W4/insert on a SeaweedFS S3 remote")
    ap.add_argument("--json", type=Path, help="write the raw samples here")
    ap.add_argument("--work", type=Path, default=WORK)
    ap.add_argument("--keep", action="store_true", help="do not delete --work at the end")
    ap.add_argument(
        "--build-src", type=Path, help="checkout bale was built from (its commit is recorded)"
    )
    args = ap.parse_args()
    skip = {x for x in args.skip.split(",") if x}
    if skip - set(PHASES):
        ap.error(f"--skip: unknown {sorted(skip - set(PHASES))}")
    WORK = args.work
    rm_rf(WORK)
    WORK.mkdir(parents=True)
    res = Results()
    started = time.time()
    res.meta = machine()
    res.meta.update(
        argv=sys.argv, scale=args.scale, repeat=args.repeat, started=time.strftime("%F %T")
    )
    if args.build_src:
        r = subprocess.run(
            ["git", "-C", str(args.build_src), "rev-parse", "HEAD"], capture_output=True, text=True
        )
        res.meta["build_commit"] = r.stdout.strip()
    log(f"machine: {res.meta}")
    bale, dvc = find_exe("bale"), find_exe("dvc")
    gc_help = subprocess.run([bale, "gc", "--help"], capture_output=True, text=True).stdout
    if "--compact" not in gc_help:
        res.notes.append("this bale has no gc --compact: compaction rows are missing")
    tools = [Tool("bale", bale), Tool("dvc", dvc)]
    if "whole" not in skip:
        tools.insert(1, Tool("bale-whole", bale))

    def save() -> None:
        if args.json:
            args.json.write_text(json.dumps(res.to_json(), indent=1))

    t_start = time.perf_counter()
    size = int(2 * GIB * args.scale)
    csv_size = int(args.csv_mb * 1e6 * args.scale)
    try:
        src_dir = WORK / "src"
        src_dir.mkdir()
        src = src_dir / "big.bin"
        t0 = time.perf_counter()
        gen_random(src, size, 2)
        log(f"W2 source: {human(size)} of random bytes in {time.perf_counter() - t0:.1f} s")
        repos: dict[str, Repo] = {}
        for rep in range(0 if "folder" in skip else args.repeat):
            for r in repos.values():
                r.drop()
            res.loads.append([f"W2 r{rep + 1}", os.getloadavg()])
            repos = w2_w4(args, res, tools, src, rep, "folder")
            save()
        if "versions" not in skip:
            for name in ("bale", "dvc"):
                if name in repos:
                    res.loads.append([f"versions {name}", os.getloadavg()])
                    versions(args, res, repos[name], size)
                    repos[name].drop()
                    save()
        for r in repos.values():
            r.drop()
        if args.s3:
            sys.path.insert(0, str(HERE.parent))
            from tests.remotes.seaweed import start_seaweed

            (WORK / "seaweed").mkdir()
            server = start_seaweed(WORK / "seaweed")
            log(f"weed mini at {server.endpoint}")
            try:
                res.loads.append(["s3", os.getloadavg()])
                s3_tools = [t for t in tools if t.name != "bale-whole"]
                for r in w2_w4(args, res, s3_tools, src, 0, "s3", server).values():
                    r.drop()
            finally:
                server.stop()
            save()
        rm_rf(src)
        if "csv" not in skip:
            csv = src_dir / "table.csv"
            t0 = time.perf_counter()
            rows = gen_csv(csv, csv_size, 3)
            csv_size = csv.stat().st_size
            log(f"CSV source: {rows:,} rows, {human(csv_size)} in {time.perf_counter() - t0:.1f} s")
            for tool in tools:
                if tool.name != "bale-whole":
                    res.loads.append([f"csv {tool.name}", os.getloadavg()])
                    csv_phase(args, res, tool, csv, rows)
                    save()
    except KeyboardInterrupt:
        res.notes.append("interrupted")
    finally:
        res.meta["minutes"] = round((time.perf_counter() - t_start) / 60, 1)
        res.loads.append(["end", os.getloadavg()])
        rows = build_rows(res, size, csv_size)
        save()
        if not args.keep:
            log(f"removing {WORK}")
            rm_rf(WORK)
    print(
        f"bale chunk-level dedup vs dvc: {res.meta.get('bale')} (engine {res.meta.get('bale_engine')}), "
        f"{res.meta.get('dvc')}, commit {res.meta.get('build_commit', '?')}, scale {args.scale:g}, "
        f"repeat {args.repeat}, {res.meta['minutes']} min"
    )
    print()
    print(markdown(rows))
    for n in res.notes:
        print(f"- note: {n}")
    for e in res.errors:
        print(f"- ERROR {e['where']}: {e['error']}")
    print(
        "- load averages (1/5/15 min): "
        + "; ".join(f"{w} {'/'.join(f'{x:.1f}' for x in la)}" for w, la in res.loads)
    )
    history.record("chunks.py", args, started, HEADER, rows, res.to_json(), res.meta)
    return 1 if res.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
