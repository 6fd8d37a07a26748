#!/usr/bin/env python3
"""bale at 100,000 and 1,000,000 files: wall time and peak RSS per step (issue 26).

    python benches/scale.py [--files 100000,1000000] [--modes md5,blake3]
                            [--steps add,status,change,checkout,push,noop,s3,pull]
                            [--repeat N] [--dvc] [--s3/--no-s3] [--stop-after MIN]
                            [--json FILE] [--markdown] [--keep]
    python benches/scale.py --merge 100K.json 1M.json [--markdown]

Workload: N files of 64-512 B of seeded random bytes (no two alike), 1,000
to a directory (100 directories at 100k, 1,000 at 1M; ``workloads.py``
generates it once into ``benches/work/scale/src``, git-ignored), copied with
``cp -r`` into each fresh ``git init`` repository (that copy is timed too, as
the floor of any step that writes every file).

For every file count, repetition and hash mode (``bale init --hash md5`` or
``--hash blake3``, as ``run.py`` makes them; the modes' order rotates each
repetition), these steps run in order, each a whole process, each verified
cheaply:

    add         ``add data`` in the fresh repository (data.dvc written)
    status      ``status``: must say up to date
    change      10 files rewritten (new inodes), then ``add data``: data.dvc changes
    checkout    ``cache.type hardlink``, ``rm -rf data`` (untimed), ``checkout``:
                every file back, a sample file has 2+ links
    push        ``push -r folder`` to an empty folder remote: N+ files pushed
    noop        ``push -r folder`` again: must say up to date
    s3          ``push -r s3`` to an empty bucket on SeaweedFS (``weed mini``
                on 127.0.0.1, one server per file count and repetition, as
                ``sync.py`` starts it): N+ files pushed
    pull        ``pull`` (the folder remote) into a fresh ``git init`` holding
                only data.dvc and .dvc's config files: file count and bytes equal

``--steps`` times a subset; a step another one needs (add; push before noop
and pull) still runs, untimed. ``--dvc``: dvc 3.x in its own repository,
once per file count (first repetition), for add, status and push to a folder,
side by side with bale's medians (issue 26's target: bale >= 20x faster at
<= 1/4 of dvc's peak memory).

Time and memory: each command runs under a small launcher (a bare ``python
-S -I``, about 7 MiB) that forks it, times fork-to-``wait4`` with
``perf_counter`` and reads the child's ``ru_maxrss`` from ``wait4``: the
peak RSS of that child (or of the largest of the children it waited for),
not of this process. (A child of this process would inherit its size: Linux
carries the parent's high-water mark through vfork and exec.) The floor,
the launcher running ``true``, is printed with the results.

Output: per hash mode, a table with one column group per file count (median
wall time, median peak RSS, microseconds per file) and, when two counts ran,
the per-file time and peak-RSS ratios largest/smallest (issue 26: per-file
time within 1.2x, peak RSS bounded, <= 256 MiB). With ``--dvc``, a table per
file count: dvc beside each mode. ``--merge`` renders the ``--json`` files
of several runs as one report (a 1M run beside a 100k one). Every run is appended to
``benches/history/runs.jsonl``; ``--json`` writes the samples after every
mode. Repositories and remotes are deleted as the run goes (moved to
``benches/work/trash``, emptied before each repetition and after the
report); the generated files too at the end, unless ``--keep``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import history  # noqa: E402
import run as rb  # noqa: E402  (tools, repositories, tables)
import sync  # noqa: E402  (the S3 client)
import workloads as wl  # noqa: E402

WORK = rb.WORK / "scale"
# this run's launcher result, stdout and stderr: another run may share WORK
SCRATCH = WORK / f".run-{os.getpid()}"
FILES_PER_DIR = 1000
MIN_SIZE, MAX_SIZE = 64, 512
SEED = 26
CHANGED = 10
MODES = ("md5", "blake3")
STEPS = {
    "add": "add",
    "status": "status (unchanged)",
    "change": f"change {CHANGED}, add",
    "checkout": "checkout (hardlink)",
    "push": "push (folder)",
    "noop": "push (no-op)",
    "s3": "push (S3)",
    "pull": "pull (fresh clone)",
}
DVC_STEPS = ("add", "status", "push")
FILL = "cp -r"  # the copy that fills each repository: a baseline row
RSS_TARGET_MIB = 256
PER_FILE_TARGET = 1.2

# Forks the command, times it to wait4 and writes "seconds maxrss_kib
# cpu_seconds exit_code" to argv[1]; small so that the child's peak RSS is its own.
LAUNCHER = """import os, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
t1 = time.perf_counter()
with open(out, "w") as f:
    f.write(f"{t1 - t0} {ru.ru_maxrss} {ru.ru_utime + ru.ru_stime} {os.waitstatus_to_exitcode(status)}")
"""

log = rb.log


@dataclass
class Sample:
    seconds: float
    rss_mib: float
    cpu: float
    stdout: str


def measure(cmd: list[str], cwd: Path) -> Sample:
    """Runs ``cmd`` in ``cwd`` under the launcher: wall time, the child's peak
    RSS and CPU time; stdout kept (to verify), stderr shown if it fails. The
    page cache is synced first, untimed, as ``run.py`` does."""
    result = SCRATCH / "measure"
    result.unlink(missing_ok=True)
    os.sync()
    with open(SCRATCH / "stdout", "w+b") as out, open(SCRATCH / "stderr", "w+b") as err:
        p = subprocess.run(
            [sys.executable, "-S", "-I", "-c", LAUNCHER, str(result), *map(str, cmd)],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=rb.ENV,
        )
        out.seek(0)
        stdout = out.read().decode(errors="replace")
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    try:
        seconds, maxrss, cpu, code = result.read_text().split()
    except (OSError, ValueError) as e:
        raise rb.StepFailed(
            f"the launcher of `{' '.join(map(str, cmd))}` failed ({p.returncode}): {e}"
        ) from e
    if int(code) != 0:
        tail = "\n".join((stderr.strip() or stdout.strip()).splitlines()[-8:])
        raise rb.StepFailed(f"`{' '.join(map(str, cmd))}` exited {code}: {tail}")
    return Sample(float(seconds), int(maxrss) / 1024, float(cpu), stdout)


def scale_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return f"{n:,}"


def workload(n: int) -> wl.Workload:
    ndirs = max(1, n // FILES_PER_DIR)
    return wl.Workload(
        f"scale-{n}",
        n,
        ndirs,
        MIN_SIZE,
        MAX_SIZE,
        SEED,
        f"{n:,} files of {MIN_SIZE}-{MAX_SIZE} B random bytes in {ndirs:,} directories",
    )


# --------------------------------------------------------------------------
# results


@dataclass
class Results:
    samples: dict = field(default_factory=dict)  # (files, tool, step) -> {rep: [s, MiB, cpu]}
    errors: list = field(default_factory=list)  # (files, tool, rep, step, message)
    notes: list = field(default_factory=list)

    def add(self, n: int, tool: str, step: str, rep: int, s: Sample) -> None:
        self.samples.setdefault((n, tool, step), {})[rep] = [s.seconds, s.rss_mib, s.cpu]

    def median(self, n: int, tool: str, step: str, i: int) -> float | None:
        got = self.samples.get((n, tool, step))
        return statistics.median(v[i] for v in got.values()) if got else None

    def count(self, n: int, tool: str, step: str) -> int:
        return len(self.samples.get((n, tool, step), {}))

    def reps(self, n: int, tool: str) -> int:
        """How many repetitions ``tool`` ran at ``n`` files (its most-sampled step)."""
        return max((len(v) for k, v in self.samples.items() if k[:2] == (n, tool)), default=0)

    def to_json(self) -> dict:
        return {
            "samples": [[*k, v] for k, v in self.samples.items()],
            "errors": self.errors,
            "notes": self.notes,
        }

    def merge_json(self, d: dict, run: int) -> None:
        """Another run's ``--json`` samples, its repetitions kept apart (``run``)."""
        for n, tool, step, reps in d["samples"]:
            got = self.samples.setdefault((n, tool, step), {})
            got.update({f"{run}.{r}": v for r, v in reps.items()})
        self.errors += [tuple(e) for e in d["errors"]]
        self.notes += d["notes"]


# --------------------------------------------------------------------------
# one tool at one file count


@dataclass
class Ctx:
    """What one (file count, repetition) shares."""

    w: wl.Workload
    src: Path
    rep: int
    steps: list[str]  # the timed ones
    server: object | None  # SeaweedServer, when S3 is on
    run_id: str
    res: Results


def changed_paths(w: wl.Workload) -> list[str]:
    """The files the change step rewrites, spread over the tree."""
    k = min(CHANGED, w.nfiles)
    return [wl.relpath(w, i * w.nfiles // k + (w.nfiles // k) // 2) for i in range(k)]


def pushed_count(stdout: str) -> int:
    m = re.search(r"^(\d+) files? pushed", stdout, re.M)
    return int(m.group(1)) if m else 0


def bench_tool(ctx: Ctx, tool: rb.Tool, steps: list[str]) -> None:
    """The steps in order for one tool (``bale-md5``, ``bale-blake3`` or
    ``dvc``); those in ``ctx.steps`` are recorded, the others only run when a
    recorded one needs them."""
    w, res, n = ctx.w, ctx.res, ctx.w.nfiles
    label = scale_label(n)
    repo = WORK / "repos" / f"{label}-{tool.name}"
    clone = WORK / "repos" / f"{label}-{tool.name}-clone"
    folder = WORK / "remotes" / f"{label}-{tool.name}"
    data = repo / "data"
    tag = f"[{label} r{ctx.rep + 1} {tool.name}]"

    def fail(step: str, msg: str) -> None:
        res.errors.append((n, tool.name, ctx.rep, step, msg))
        log(f"{tag} {step}: FAILED: {msg}")

    def step(key: str, cmd: list[str], cwd: Path = repo, verify=None) -> bool:
        try:
            s = measure(cmd, cwd)
            if verify:
                verify(s)
        except rb.StepFailed as e:
            fail(STEPS.get(key, key), str(e))
            return False
        timed = key in ctx.steps or key == FILL
        if timed:
            res.add(n, tool.name, key, ctx.rep, s)
        per_file = s.seconds / n * 1e6
        log(
            f"{tag} {STEPS.get(key, key)}: {s.seconds:.3f} s, {s.rss_mib:.0f} MiB, "
            f"{per_file:.1f} us/file{'' if timed else ' (untimed: needed by a later step)'}"
        )
        return True

    def up_to_date(s: Sample) -> None:
        if "up to date" not in s.stdout.lower():
            raise rb.StepFailed(f"did not say up to date: {s.stdout.strip()[:300]!r}")

    def pushed_all(s: Sample) -> None:
        got = pushed_count(s.stdout)
        if got < n:
            raise rb.StepFailed(f"pushed {got} files, expected {n}+: {s.stdout.strip()[:300]!r}")

    rb.fresh_repo(repo, tool)
    if not step(FILL, ["cp", "-r", str(ctx.src), str(data)]):
        return
    rb.discard(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    rb.sh(tool.cmd("remote", "add", "-d", "folder", str(folder)), cwd=repo)
    if "s3" in steps:
        bucket = re.sub(r"[^a-z0-9-]", "-", f"{ctx.run_id}-{label}-{tool.name}-r{ctx.rep + 1}")
        sync.s3_client(ctx.server).create_bucket(Bucket=bucket[:63])
        rb.sh(tool.cmd("remote", "add", "s3", f"s3://{bucket[:63]}/store"), cwd=repo)
        for k, v in (
            ("endpointurl", ctx.server.endpoint),
            ("access_key_id", ctx.server.access_key),
            ("secret_access_key", ctx.server.secret_key),
        ):
            rb.sh(tool.cmd("remote", "modify", "--local", "s3", k, v), cwd=repo)

    if not step("add", tool.cmd("add", "data")):
        fail("(rest)", "skipped: add failed")
        return
    if "status" in steps:
        step("status", tool.cmd("status"), verify=up_to_date)
    if "change" in steps:
        dvcfile = repo / "data.dvc"
        before = dvcfile.read_text()
        for rel in changed_paths(w):
            rb.rewrite_changed(data / rel)

        def dvcfile_changed(_s: Sample) -> None:
            if dvcfile.read_text() == before:
                raise rb.StepFailed("data.dvc did not change after adding 10 changed files")

        step("change", tool.cmd("add", "data"), verify=dvcfile_changed)
    if "checkout" in steps:
        rb.sh(tool.cmd("config", "cache.type", "hardlink"), cwd=repo)
        rb.discard(data)
        sample = data / wl.relpath(w, n - 1)

        def restored(_s: Sample) -> None:
            got = rb.count_files(data) if data.exists() else 0
            if got != n:
                raise rb.StepFailed(f"checkout restored {got} files, expected {n}")
            if os.stat(sample).st_nlink < 2:
                raise rb.StepFailed(f"{sample} has 1 link after a hardlink checkout")

        step("checkout", tool.cmd("checkout"), verify=restored)
        rb.sh(tool.cmd("config", "--unset", "cache.type"), cwd=repo)
    pushed = True
    if {"push", "noop", "pull"} & set(steps):
        pushed = step("push", tool.cmd("push", "-r", "folder"), verify=pushed_all)
        if pushed and "noop" in steps:
            step("noop", tool.cmd("push", "-r", "folder"), verify=up_to_date)
    if "s3" in steps:
        step("s3", tool.cmd("push", "-r", "s3"), verify=pushed_all)
    if "pull" in steps and not pushed:
        fail(STEPS["pull"], "skipped: the push to the folder failed")
    elif "pull" in steps:
        expect = wl.tree_stats(data)
        rb.discard(clone)
        (clone / ".dvc").mkdir(parents=True)
        rb.sh(["git", "init", "-q"], cwd=clone)
        for name in ("config", "config.local", "bale.conf"):
            if (repo / ".dvc" / name).exists():
                shutil.copy2(repo / ".dvc" / name, clone / ".dvc" / name)
        shutil.copy2(repo / "data.dvc", clone / "data.dvc")

        def pulled(_s: Sample) -> None:
            got = wl.tree_stats(clone / "data") if (clone / "data").exists() else (0, 0)
            if got != expect:
                raise rb.StepFailed(
                    f"pull gave {got[0]} files / {got[1]} bytes, expected {expect[0]} / {expect[1]}"
                )

        step("pull", tool.cmd("pull"), cwd=clone, verify=pulled)
    for path in (repo, clone, folder):
        rb.discard(path)


@contextlib.contextmanager
def seaweed(on: bool):
    """A fresh ``weed mini`` (or None), stopped and its files removed on exit."""
    if not on:
        yield None
        return
    sys.path.insert(0, str(HERE.parent))
    from tests.remotes.seaweed import start_seaweed

    (WORK / "seaweed").mkdir(parents=True, exist_ok=True)
    server = start_seaweed(WORK / "seaweed")
    log(f"weed mini at {server.endpoint}")
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------
# tables


def fmt_mib(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f} MiB"


def fmt_us(v: float | None) -> str:
    return "-" if v is None else (f"{v:.1f} us" if v < 100 else f"{v:.0f} us")


def cell_s(res: Results, n: int, tool: str, step: str) -> str:
    v = res.median(n, tool, step, 0)
    if v is None:
        failed = any(
            e[0] == n and e[1] == tool and e[3] == STEPS.get(step, step) for e in res.errors
        )
        return "ERR" if failed else "-"
    got = res.count(n, tool, step)
    return rb.fmt_s(v) + (f" (n={got})" if got < res.reps(n, tool) else "")


def mode_rows(res: Results, mode: str, counts: list[int], steps: list[str]):
    """Header and rows of one hash mode's table: per file count, median wall
    time, peak RSS and microseconds per file; with two counts or more, the
    ratios largest/smallest of the per-file time and of the peak RSS."""
    tool = f"bale-{mode}"
    header = ["step"]
    for n in counts:
        lab = scale_label(n)
        header += [f"{lab} wall", f"{lab} peak RSS", f"{lab} per file"]
    big, small = max(counts), min(counts)
    if big != small:
        header += [f"per file {scale_label(big)}/{scale_label(small)}", "peak RSS ratio"]
    rows = []
    for key in [FILL, *steps]:
        row = [STEPS.get(key, f"[baseline] {key}")]
        for n in counts:
            t = res.median(n, tool, key, 0)
            row += [
                cell_s(res, n, tool, key),
                fmt_mib(res.median(n, tool, key, 1)),
                fmt_us(t / n * 1e6 if t is not None else None),
            ]
        if big != small:
            tb, ts = res.median(big, tool, key, 0), res.median(small, tool, key, 0)
            rb_, rs = res.median(big, tool, key, 1), res.median(small, tool, key, 1)
            row.append(rb.fmt_x(tb / big / (ts / small)) if tb and ts else "-")
            row.append(rb.fmt_x(rb_ / rs) if rb_ and rs else "-")
        rows.append(row)
    return header, rows


def dvc_rows(res: Results, n: int, modes: list[str]):
    """dvc (one run) beside each mode's medians: dvc/bale time, bale/dvc RSS."""
    header = ["step", "dvc", "dvc peak RSS"]
    for m in modes:
        header += [m, f"{m} peak RSS", f"dvc/{m} time", f"{m}/dvc RSS"]
    rows = []
    for key in [FILL, *DVC_STEPS]:
        row = [STEPS.get(key, f"[baseline] {key}"), cell_s(res, n, "dvc", key)]
        dt, dr = res.median(n, "dvc", key, 0), res.median(n, "dvc", key, 1)
        row.append(fmt_mib(dr))
        for m in modes:
            t, r = res.median(n, f"bale-{m}", key, 0), res.median(n, f"bale-{m}", key, 1)
            row += [
                cell_s(res, n, f"bale-{m}", key),
                fmt_mib(r),
                rb.fmt_x(dt / t) if dt and t else "-",
                f"{r / dr:.2f}" if r and dr else "-",
            ]
        rows.append(row)
    return header, rows


def report(res: Results, floor: float, markdown: bool) -> list:
    """Prints every table (the file counts, modes and steps that ``res``
    holds); returns them (title, header, rows) for the history."""
    counts = sorted({k[0] for k in res.samples})
    tools = {k[1] for k in res.samples}
    modes = [m for m in MODES if f"bale-{m}" in tools]
    steps = [s for s in STEPS if any(k[2] == s and k[1] != "dvc" for k in res.samples)]
    tables = []
    for m in modes:
        header, rows = mode_rows(res, m, counts, steps)
        reps = ", ".join(f"{scale_label(n)} {res.reps(n, f'bale-{m}')}" for n in counts)
        tables.append((f"bale-{m}: medians (repetitions: {reps})", header, rows))
    if "dvc" in tools:
        for n in counts:
            header, rows = dvc_rows(res, n, modes)
            title = f"{scale_label(n)} files: dvc (one run) beside bale's medians"
            tables.append((title, header, rows))
    for title, header, rows in tables:
        print(f"\n{title}")
        print(rb.plain_table(rows, header, 0))
        if markdown:
            print("\n" + rb.markdown_table(rows, header, 1))
    print(
        f"\npeak RSS floor (the launcher running `true`): {floor:.1f} MiB; "
        f"targets (issue 26): per-file time at the largest count within "
        f"{PER_FILE_TARGET}x of the smallest, peak RSS <= {RSS_TARGET_MIB} MiB"
    )
    if res.notes:
        print("\nnotes:\n" + "\n".join(f"  - {x}" for x in res.notes))
    if res.errors:
        print("\nERRORS:")
        for n, tool, rep, step, msg in res.errors:
            print(f"  {scale_label(n)} {tool} r{rep + 1} {step}: {msg}")
    return tables


# --------------------------------------------------------------------------


def parse_list(text: str, allowed, what: str, ap) -> list[str]:
    items = [x.strip() for x in text.split(",") if x.strip()]
    for x in items:
        if x not in allowed:
            ap.error(f"unknown {what} {x} (choose from {', '.join(allowed)})")
    return items


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--files", default="100000,1000000", help="file counts (default: 100000,1000000)"
    )
    ap.add_argument("--modes", default="md5,blake3", help="hash modes (default: md5,blake3)")
    ap.add_argument("--steps", default=",".join(STEPS), help="the steps to time (default: all)")
    ap.add_argument("--repeat", type=int, default=1, help="repetitions, medians shown (default: 1)")
    ap.add_argument("--dvc", action="store_true", help="dvc add/status/push once per file count")
    ap.add_argument(
        "--s3",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the S3 push (SeaweedFS) (default: on)",
    )
    ap.add_argument(
        "--stop-after",
        type=float,
        metavar="MIN",
        help="start no new repetition after MIN minutes (what ran is reported)",
    )
    ap.add_argument("--json", metavar="FILE", help="write the samples as JSON (after each tool)")
    ap.add_argument("--markdown", action="store_true", help="also print the tables as Markdown")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument(
        "--merge",
        nargs="+",
        metavar="FILE",
        help="do not measure: render these --json files as one report (e.g. 100k and 1M runs)",
    )
    args = ap.parse_args()
    if args.merge:
        res = Results()
        floors = []
        for i, f in enumerate(args.merge):
            d = json.loads(Path(f).read_text())
            res.merge_json(d, i)
            floors.append(d["floor_mib"])
            print(f"{f}: {' '.join(d['argv'])}; load averages {d['loadavg']}")
        report(res, max(floors), args.markdown)
        return 1 if res.errors else 0

    try:
        counts = sorted({int(x) for x in args.files.split(",") if x.strip()})
    except ValueError:
        ap.error(f"--files: not a list of integers: {args.files}")
    if not counts or min(counts) < CHANGED:
        ap.error(f"--files: at least {CHANGED} files")
    modes = parse_list(args.modes, MODES, "mode", ap)
    steps = parse_list(args.steps, STEPS, "step", ap)
    steps = [s for s in STEPS if s in steps and (args.s3 or s != "s3")]
    if "add" not in steps:
        ap.error("--steps: add is every other step's start")

    SCRATCH.mkdir(parents=True, exist_ok=True)
    rb.git_identity()
    tools = rb.make_tools([f"bale-{m}" for m in modes])
    dvc = rb.make_tools(["dvc"])[0] if args.dvc else None
    res = Results()
    started = time.time()
    run_id = time.strftime("%H%M%S", time.gmtime(started))
    versions = rb.tool_versions([*tools, *([dvc] if dvc else [])])
    imported = subprocess.run(
        [sys.executable, "-c", "import bale; print(bale.__file__)"],
        capture_output=True,
        text=True,
        env=rb.ENV,
    ).stdout.strip()
    if not imported or Path(imported).resolve().parents[2] != HERE.parent:
        res.notes.append(f"bale runs {imported}, not this checkout's (set PYTHONPATH=python)")
        log(f"WARNING: bale imports {imported}, not this checkout's")
    engines = [rb.engine_fingerprint()]
    floor = measure(["true"], WORK).rss_mib
    meta = {
        "argv": sys.argv[1:],
        "versions": versions,
        "bale": imported,
        "engines": engines,
        "floor_mib": floor,
        "loadavg": [],
    }
    log(f"tools: {versions}; bale {imported}; engine {engines[0]}; RSS floor {floor:.1f} MiB")

    def samples() -> dict:
        return {**meta, **res.to_json()}

    def save() -> None:
        if args.json:
            Path(args.json).write_text(json.dumps(samples(), indent=1))

    stop = False
    for n in counts:
        w = workload(n)
        t0 = time.perf_counter()
        src = wl.generate(w, WORK / "src")
        log(f"[{scale_label(n)}] {w.description}: ready in {time.perf_counter() - t0:.1f} s")
        for rep in range(args.repeat):
            if args.stop_after and time.time() - started > args.stop_after * 60:
                res.notes.append(
                    f"{scale_label(n)}: stopped before repetition {rep + 1} "
                    f"(--stop-after {args.stop_after:g})"
                )
                stop = True
                break
            empty_trash(f"before {scale_label(n)} r{rep + 1}")
            meta["loadavg"].append([n, rep, Path("/proc/loadavg").read_text().split()[:3]])
            with seaweed("s3" in steps) as server:
                ctx = Ctx(w, src, rep, steps, server, run_id, res)
                k = rep % len(tools)
                for tool in tools[k:] + tools[:k]:
                    try:
                        bench_tool(ctx, tool, steps)
                    except Exception as e:  # a harness bug must not lose the run
                        res.errors.append(
                            (n, tool.name, rep, "(harness)", f"{type(e).__name__}: {e}")
                        )
                        log(f"[{scale_label(n)} r{rep + 1} {tool.name}] harness error: {e!r}")
                    fp = rb.engine_fingerprint()
                    if fp != engines[-1]:
                        engines.append(fp)
                        res.notes.append(f"bale's engine changed during the run: now {fp}")
                    save()
                if dvc and rep == 0:
                    dctx = Ctx(w, src, rep, list(DVC_STEPS), None, run_id, res)
                    try:
                        bench_tool(dctx, dvc, list(DVC_STEPS))
                    except Exception as e:
                        res.errors.append((n, "dvc", rep, "(harness)", f"{type(e).__name__}: {e}"))
                        log(f"[{scale_label(n)} dvc] harness error: {e!r}")
                    save()
        if not args.keep:
            rb.discard(WORK / "src" / w.name)
        if stop:
            break
    meta["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    save()
    print(
        f"\nscale: {', '.join(scale_label(n) for n in counts)} files, modes {', '.join(modes)}, "
        f"{args.repeat} repetition(s), {time.strftime('%Y-%m-%d %H:%M')}, "
        f"{(time.time() - started) / 60:.1f} min; load average at each start: "
        + "; ".join(f"{scale_label(n)} r{r + 1} {' '.join(la)}" for n, r, la in meta["loadavg"])
    )
    for n in counts:
        print(f"  {scale_label(n)}: {workload(n).description}")
    tables = report(res, floor, args.markdown)
    sys.stdout.flush()
    _title, header, rows = tables[0]
    history.record(
        "scale.py",
        args,
        started,
        header,
        rows,
        {**samples(), "tables": [[t, h, r] for t, h, r in tables]},
    )
    empty_trash("after the report")
    shutil.rmtree(SCRATCH, ignore_errors=True)
    return 1 if res.errors else 0


def empty_trash(when: str) -> None:
    """Deletes what the steps left (untimed): before each repetition, so that
    its disk is free, and after the report, which need not wait for it
    (deleting a million files takes minutes on a disk mounted with discard)."""
    trash = rb.WORK / "trash"
    if trash.exists():
        t0 = time.perf_counter()
        rb.rm_rf(trash)
        log(f"emptied the trash {when} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    raise SystemExit(main())
