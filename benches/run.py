#!/usr/bin/env python3
"""bale vs dvc benchmark (stdlib only).

    python benches/run.py [--workloads W1,W2,W3] [--repeat N] [--scale F]
                          [--tools bale-md5,bale-blake3,dvc] [--markdown]
                          [--keep] [--json FILE] [--dvc-repeat N] [--no-startup]
                          [--baseline CHECKOUT]

For every workload (see ``workloads.py``) and every repetition, each tool gets
a fresh ``git init`` repository into which the workload is copied with
``cp -r`` (that copy is the ``cp -r`` baseline), and these steps are timed as
whole processes (``time.perf_counter`` around fork/exec/``wait4``):

    add                      ``add data`` in the fresh repo (+ peak RSS, via GNU time)
    status (unchanged)       ``status`` right after the add
    status (k touched)       ``status`` after os.utime on 10 files (content unchanged)
    change 1 file, add       one file rewritten (new inode, first bytes flipped), ``add data``
    checkout (copy)          ``rm -rf data`` (untimed), ``checkout`` with the default cache.type
    checkout (hardlink)      ``config cache.type hardlink``, ``rm -rf data``, ``checkout``
    gc -w -f                 the objects of the changed file's old version are garbage

Every checkout is verified (file count and bytes of the restored tree, link
count of a sample file), every status must say "up to date", the changed add
must change ``data.dvc`` and gc must remove something.  A failing step is
recorded with its stderr and the run carries on.

Noise: tools are interleaved within each repetition (order rotated each
repetition) and every step compared with a baseline has that baseline timed
shortly before it (the ``cp -r`` that filled the repository pairs with add
and with the copy checkout, a ``cp -al`` timed right before the hardlink
checkout pairs with it).  The table shows the
MEDIAN time of each cell, and every ratio is the median over repetitions of
the ratio measured within one repetition (paired), not a ratio of medians.
Peak RSS is measured with GNU time (see ``run``).  Every timed process
starts after an untimed ``sync``, as in ``sync.py``.

Startup: ``--version`` and ``status`` in a repository holding one small file.

A/B (``--baseline CHECKOUT``, another checkout of bale with its extension
built, e.g. a worktree of an older commit): each bale tool also runs from
CHECKOUT as a twin (``bale-md5-old``), interleaved and rotated with the
others like any tool; both sides run as ``python -c 'main()'`` with
PYTHONPATH=<checkout>/python (the log names the ``bale/__init__.py`` each
imports).  After the main table (which shows this checkout's bale), an A/B
table: per step, old and new medians and new/old as a paired ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import history
import workloads as wl

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
ALL_TOOLS = ("bale-md5", "bale-blake3", "dvc")
STEPS = (
    "add",
    "status (unchanged)",
    "status (touched)",
    "change 1 file, add",
    "checkout (copy)",
    "checkout (hardlink)",
    "gc -w -f",
)
ENV = dict(os.environ, DVC_NO_ANALYTICS="1", LC_ALL="C")


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S ") + msg, file=sys.stderr, flush=True)


def engine_fingerprint() -> str:
    """sha256 prefix and mtime of bale's compiled engine, so that a run that
    straddles a rebuild (``maturin develop`` in the same checkout) says so."""
    import hashlib

    r = subprocess.run(
        [sys.executable, "-c", "import bale._core as c; print(c.__file__)"],
        capture_output=True,
        text=True,
        env=ENV,
    )
    path = Path(r.stdout.strip()) if r.returncode == 0 else None
    if not path or not path.exists():
        return "unknown"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    mtime = time.strftime("%H:%M:%S", time.localtime(path.stat().st_mtime))
    return f"{path.name} sha256:{digest} mtime {mtime}"


def find_exe(name: str) -> str:
    """The real console script next to this Python (skips pyenv's bash shims,
    which add tens of milliseconds to every call), else whatever PATH has."""
    cand = Path(sys.executable).parent / name
    if cand.exists():
        return str(cand)
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"run.py: {name} not found")
    return found


# --------------------------------------------------------------------------
# processes


class StepFailed(Exception):
    pass


@dataclass
class Proc:
    seconds: float
    maxrss_kib: int
    stdout: str
    #: user + system CPU seconds of the process and its children (wait4's
    #: rusage): on a loaded machine, steadier than the wall clock
    cpu: float = 0.0


GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def run(
    cmd: list[str], cwd: Path, *, check: bool = True, capture: bool = False, rss: bool = False
) -> Proc:
    """Runs ``cmd`` to completion and times it (perf_counter around fork, exec
    and wait4).  stdout goes to /dev/null (or, with ``capture``, to a scratch
    file, to verify status output); stderr to a scratch file, shown if the
    command fails.

    Peak RSS: a child's ru_maxrss on Linux starts from its parent's RSS at
    fork time (the high-water mark survives exec), so wait4 on a child of this
    (big) Python process would floor every tool at this process's size.  With
    ``rss`` the command runs under GNU time (a ~1 MiB process) and its %M is
    read back; the extra fork/exec costs about a millisecond."""
    out_path = WORK / ".stdout" if capture else Path(os.devnull)
    err_path = WORK / ".stderr"
    rss_path = WORK / ".maxrss"
    full = cmd
    if rss and GNU_TIME:
        full = [GNU_TIME, "-f", "%M", "-o", str(rss_path), *cmd]
    with open(out_path, "w+b" if capture else "wb") as out, open(err_path, "w+b") as err:
        # Untimed: the dirty pages an earlier step left (gigabytes after a W2
        # add) would otherwise be written back during this one, and pace it.
        os.sync()
        t0 = time.perf_counter()
        p = subprocess.Popen(
            full, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=ENV
        )
        _, status, ru = os.wait4(p.pid, 0)
        t1 = time.perf_counter()
        p.returncode = os.waitstatus_to_exitcode(status)
        stdout = ""
        if capture:
            out.seek(0)
            stdout = out.read().decode(errors="replace")
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    maxrss = ru.ru_maxrss
    if rss and GNU_TIME:
        try:
            maxrss = int(rss_path.read_text().strip().splitlines()[-1])
        except (OSError, ValueError, IndexError):
            maxrss = -1
    if check and p.returncode != 0:
        tail = "\n".join((stderr.strip() or stdout.strip()).splitlines()[-8:])
        raise StepFailed(f"`{' '.join(map(str, cmd))}` exited {p.returncode}: {tail}")
    return Proc(t1 - t0, maxrss, stdout, ru.ru_utime + ru.ru_stime)


def sh(cmd: list[str], cwd: Path | None = None) -> None:
    """An untimed helper command that must succeed."""
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    if r.returncode != 0:
        raise SystemExit(
            f"run.py: `{' '.join(map(str, cmd))}` failed: {r.stderr.decode(errors='replace')}"
        )


def rm_rf(path: Path) -> None:
    if path.exists() or path.is_symlink():
        sh(["rm", "-rf", str(path)])


_trashed = [0]


def _few_files(path: Path, limit: int) -> bool:
    """Whether the tree at ``path`` holds at most ``limit`` entries."""
    if not path.is_dir() or path.is_symlink():
        return True
    n = 0
    for _dir, dirs, files in os.walk(path):
        n += len(dirs) + len(files)
        if n > limit:
            return False
    return True


def discard(path: Path) -> None:
    """``rm -rf``, now or later. A tree of many files is renamed into
    benches/work/trash (instant): deleting 100,000 files takes a minute on
    some disks (ext4 mounted with ``discard``), untimed but long; the trash
    goes when the run ends. A few large files are deleted now: kept in the
    trash, their gigabytes of page cache are what the next step's writes
    reclaim, and on this VM reusing memory that sat idle costs far more than
    the copy itself (W2's copy checkout took 4-10 s for every tool where
    ``cp`` of the same object took 1 s; with the old data deleted, 1 s)."""
    if _few_files(path, 2000):
        rm_rf(path)
        return
    if path.exists() or path.is_symlink():
        trash = WORK / "trash"
        trash.mkdir(parents=True, exist_ok=True)
        _trashed[0] += 1
        os.rename(path, trash / f"{_trashed[0]:05d}-{os.getpid()}-{path.name}")


# --------------------------------------------------------------------------
# tools


@dataclass
class Tool:
    name: str
    exe: str
    init: list[str]

    def cmd(self, *args: str) -> list[str]:
        return [self.exe, *args]


def bale_tool(name: str, exe: str) -> Tool:
    """``bale-md5`` or ``bale-blake3`` (the name says the hash) run as ``exe``."""
    return Tool(name, exe, [exe, "init", "-q", "--hash", name.split("-")[1]])


def tool_versions(tools: list[Tool]) -> dict[str, str]:
    """Each tool's ``--version`` line, for a run's record."""
    return {
        t.name: subprocess.run(t.cmd("--version"), capture_output=True, text=True, env=ENV)
        .stdout.strip()
        .splitlines()[0]
        for t in tools
    }


def make_tools(names: list[str], baseline: Path | None = None) -> list[Tool]:
    """The tools named; with ``baseline`` (another checkout of bale), each bale
    tool runs this checkout's code and has an ``-old`` twin running the
    baseline's, next to it in the list (see :func:`ab_wrapper`)."""
    if baseline is None:
        bale = find_exe("bale")
        news = {n: bale_tool(n, bale) for n in names if n.startswith("bale")}
        olds: dict[str, Tool] = {}
    else:
        new, old = ab_wrapper(HERE.parent, "new"), ab_wrapper(baseline, "old")
        news = {n: bale_tool(n, new) for n in names if n.startswith("bale")}
        olds = {n: bale_tool(n + OLD, old) for n in news}
    tools = []
    for n in names:
        if n == "dvc":
            dvc = find_exe("dvc")
            tools.append(Tool("dvc", dvc, [dvc, "init", "-q"]))
        else:
            tools += [news[n], *([olds[n]] if n in olds else [])]
    return tools


# --------------------------------------------------------------------------
# A/B: this checkout's bale against another checkout's (``--baseline``)

OLD = "-old"  # suffix of a baseline twin: "bale-md5-old"
AB_COLUMNS = ("old", "new", "new/old")
# Both sides start the same way: this interpreter, PYTHONPATH=<checkout>/python,
# the CLI's main.  BENCH_WHICH_BALE makes it print the package it imported
# instead, so the log shows that each side runs the code it should.
WRAPPER = """import os, sys
import bale
if os.environ.get("BENCH_WHICH_BALE"):
    print(bale.__file__)
    raise SystemExit(0)
from bale.cli.main import main
sys.argv[0] = "bale"
raise SystemExit(main())
"""


def ab_wrapper(checkout: Path, side: str) -> str:
    """A script under benches/work that runs the bale of ``checkout`` (its
    python/ with the extension built in place); checks and logs which
    ``bale/__init__.py`` it imports."""
    checkout = checkout.resolve()
    want = checkout / "python" / "bale" / "__init__.py"
    if not any((want.parent).glob("_core*.so")):
        raise SystemExit(f"run.py: {want.parent} has no built _core extension (--baseline)")
    # Bytecode for both sides, as an install has (`make dev` compiles): with
    # PYTHONDONTWRITEBYTECODE set, a side without it would recompile every
    # module it imports at each start and look slower than it is.
    sh([sys.executable, "-m", "compileall", "-q", str(want.parent)])
    exe = WORK / "ab" / f"bale-{side}"
    exe.parent.mkdir(parents=True, exist_ok=True)
    env = f"PYTHONPATH={shlex.quote(str(checkout / 'python'))}"
    exe.write_text(
        f'#!/bin/sh\n{env} exec {shlex.quote(sys.executable)} -c {shlex.quote(WRAPPER)} "$@"\n'
    )
    exe.chmod(0o755)
    r = subprocess.run(
        [str(exe)], capture_output=True, text=True, env=dict(ENV, BENCH_WHICH_BALE="1")
    )
    got = r.stdout.strip()
    if r.returncode != 0 or Path(got).resolve() != want:
        raise SystemExit(f"run.py: {exe} imports {got or r.stderr.strip()!r}, not {want}")
    log(f"bale ({side}): {exe} runs {got} at {git_head(checkout)}")
    return str(exe)


def git_head(checkout: Path) -> str:
    r = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True)
    return r.stdout.decode().strip() or "?"


def ab_rows(times: dict, groups: list[tuple], tools: list[str]) -> list[list[str]]:
    """One row per group (a key of ``times`` without its tool, e.g.
    (workload, step)) that a baseline twin measured: per bale tool, the
    baseline's median, this checkout's, and new/old as the median of the
    ratios within one repetition."""
    rows = []
    for g in groups:
        pairs = [(times.get((*g, t + OLD)), times.get((*g, t))) for t in tools]
        if any(old for old, _ in pairs):
            rows.append(list(g))
            for old, new in pairs:
                rows[-1] += [fmt_s(med(old)), fmt_s(med(new)), fmt_x(paired_ratio(new, old))]
    return rows


def ab_table(
    baseline: Path, keys: list[str], tools: list[str], rows: list[list[str]], markdown: bool
) -> dict:
    """Prints the A/B table (``rows`` from :func:`ab_rows`, whose groups are
    named by ``keys``; with ``markdown`` also as Markdown) and returns it as
    the history record keeps it."""
    header = keys + [f"{t.removeprefix('bale-')} {c}" for t in tools for c in AB_COLUMNS]
    head = git_head(baseline)
    print(f"\nA/B: this checkout (new) against {baseline} at {head} (old); medians, paired ratio")
    print(plain_table(rows, header, len(keys) - 1))
    if markdown:
        print("\n" + markdown_table(rows, header, len(keys)))
    return {"checkout": str(baseline), "commit": head, "header": header, "rows": rows}


def fresh_repo(path: Path, tool: Tool) -> None:
    discard(path)
    path.mkdir(parents=True)
    sh(["git", "init", "-q"], cwd=path)
    sh(tool.init, cwd=path)


# --------------------------------------------------------------------------
# results


@dataclass
class Results:
    # (workload, step, tool) -> {rep: seconds}
    times: dict = field(default_factory=dict)
    # (workload, step, tool) -> {rep: seconds of the baseline timed just before that step}
    paired: dict = field(default_factory=dict)
    rss: dict = field(default_factory=dict)  # (workload, tool) -> {rep: MiB}
    baselines: dict = field(default_factory=dict)  # (workload, name) -> [seconds]
    errors: list = field(default_factory=list)  # (workload, tool, step, text)
    notes: list = field(default_factory=list)

    def add_time(self, w: str, step: str, tool: str, rep: int, s: float) -> None:
        self.times.setdefault((w, step, tool), {})[rep] = s

    def add_base(self, w: str, name: str, s: float) -> None:
        self.baselines.setdefault((w, name), []).append(s)

    def to_json(self) -> dict:
        return {
            "times": [[*k, v] for k, v in self.times.items()],
            "paired_baselines": [[*k, v] for k, v in self.paired.items()],
            "rss_mib": [[*k, v] for k, v in self.rss.items()],
            "baselines": [[*k, v] for k, v in self.baselines.items()],
            "errors": self.errors,
            "notes": self.notes,
        }


def count_files(path: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(path))


def rewrite_changed(path: Path) -> None:
    """A new file (new inode: never writes through a hardlink into the cache)
    with the same size and the first 16 bytes flipped."""
    tmp = path.with_name(path.name + ".bench-tmp")
    shutil.copyfile(path, tmp)
    with open(tmp, "r+b") as f:
        head = f.read(16)
        f.seek(0)
        f.write(bytes(b ^ 0xFF for b in head))
    os.replace(tmp, path)


def bench_tool(w: wl.Workload, src: Path, tool: Tool, rep: int, res: Results) -> None:
    repo = WORK / "repos" / f"{w.name}-{tool.name}"
    scratch = WORK / "repos" / "baseline-scratch"
    fresh_repo(repo, tool)
    data = repo / "data"
    paths = wl.relpaths(w)
    tag = f"[{w.name} r{rep + 1} {tool.name}]"

    def baseline(name: str, cmd: list[str], step: str) -> None:
        """A baseline timed right before ``step``, on the same machine state."""
        discard(scratch)
        p = run(cmd, cwd=WORK)
        res.add_base(w.name, name, p.seconds)
        res.paired.setdefault((w.name, step, tool.name), {})[rep] = p.seconds
        discard(scratch)

    # cp -r: the workload into the repo, and the cp -r baseline paired with add
    p = run(["cp", "-r", str(src), str(data)], cwd=repo)
    cp_r = p.seconds
    res.add_base(w.name, "cp -r", cp_r)
    res.paired.setdefault((w.name, "add", tool.name), {})[rep] = cp_r
    expect_n, expect_bytes = wl.tree_stats(data)
    assert expect_n == len(paths), (expect_n, len(paths))

    def step(name: str, cmd: list[str], verify=None, rss: bool = False) -> Proc | None:
        try:
            p = run(cmd, cwd=repo, capture=verify is up_to_date, rss=rss)
            if verify:
                verify(p)
        except StepFailed as e:
            res.errors.append((w.name, tool.name, name, str(e)))
            log(f"{tag} {name}: FAILED: {e}")
            return None
        res.add_time(w.name, name, tool.name, rep, p.seconds)
        extra = f"  (peak RSS {p.maxrss_kib / 1024:.0f} MiB)" if rss else ""
        log(f"{tag} {name}: {p.seconds:.3f} s{extra}")
        return p

    def up_to_date(p: Proc) -> None:
        if "up to date" not in p.stdout:
            raise StepFailed(f"status did not say up to date: {p.stdout.strip()[:500]!r}")

    def restored(link: str):
        def verify(p: Proc) -> None:
            n, total = wl.tree_stats(data) if data.exists() else (0, 0)
            if (n, total) != (expect_n, expect_bytes):
                raise StepFailed(
                    f"checkout restored {n} files / {total} bytes, expected {expect_n} / {expect_bytes}"
                )
            nlink = os.stat(data / paths[-1]).st_nlink
            if link == "hardlink" and nlink < 2:
                raise StepFailed(
                    f"checkout with cache.type hardlink made a file with {nlink} link(s)"
                )
            if link == "copy" and nlink != 1:
                raise StepFailed(
                    f"checkout with the copy cache type made a file with {nlink} links"
                )

        return verify

    # add in the fresh repo
    p = step("add", tool.cmd("add", "data"), rss=True)
    if p is None:
        res.errors.append((w.name, tool.name, "(rest)", "skipped: add failed"))
        discard(repo)
        return
    res.rss.setdefault((w.name, tool.name), {})[rep] = p.maxrss_kib / 1024
    dvcfile = repo / "data.dvc"

    step("status (unchanged)", tool.cmd("status"), up_to_date)

    k = min(10, len(paths))
    touched = [paths[i * len(paths) // k] for i in range(k)]
    for rel in touched:
        st = os.stat(data / rel)
        ns = st.st_mtime_ns + 7_000_000_000 + rep * 1_000_000_000
        os.utime(data / rel, ns=(ns, ns))
    step("status (touched)", tool.cmd("status"), up_to_date)

    before = dvcfile.read_text()
    rewrite_changed(data / paths[len(paths) // 2])
    expect_bytes = wl.tree_stats(data)[1]

    def dvcfile_changed(p: Proc) -> None:
        if dvcfile.read_text() == before:
            raise StepFailed("data.dvc did not change after adding a changed file")

    step("change 1 file, add", tool.cmd("add", "data"), dvcfile_changed)

    discard(data)
    # paired with the cp -r that filled this repo (a second 100,000-file copy
    # per run would add minutes on this machine)
    res.paired.setdefault((w.name, "checkout (copy)", tool.name), {})[rep] = cp_r
    step("checkout (copy)", tool.cmd("checkout"), restored("copy"))

    sh(tool.cmd("config", "cache.type", "hardlink"), cwd=repo)
    discard(data)
    baseline("cp -al", ["cp", "-al", str(src), str(scratch)], "checkout (hardlink)")
    step("checkout (hardlink)", tool.cmd("checkout"), restored("hardlink"))
    sh(tool.cmd("config", "--unset", "cache.type"), cwd=repo)

    cache = repo / ".dvc" / "cache"
    n_before = count_files(cache)

    def collected(p: Proc) -> None:
        n_after = count_files(cache)
        if n_after >= n_before:
            raise StepFailed(f"gc removed nothing ({n_before} cache files before, {n_after} after)")

    step("gc -w -f", tool.cmd("gc", "-w", "-f"), collected)

    discard(repo)


def bench_baselines(w: wl.Workload, src: Path, res: Results) -> None:
    """W2 only: reading and copying the one big file."""
    if w.nfiles != 1:
        return
    dst = WORK / "repos" / f"{w.name}-baseline"
    discard(dst)
    dst.mkdir(parents=True)
    f = src / wl.relpaths(w)[0]
    p = run(["cat", str(f)], cwd=dst)  # stdout is /dev/null
    res.add_base(w.name, "cat > /dev/null", p.seconds)
    p = run(["cp", str(f), str(dst / "copy.bin")], cwd=dst)
    res.add_base(w.name, "cp (file)", p.seconds)
    discard(dst)


def bench_startup(tools: list[Tool], n: int, res: Results) -> None:
    """``--version`` and ``status`` in a repository holding one small file."""
    repos = {}
    for tool in tools:
        repo = WORK / "repos" / f"startup-{tool.name}"
        fresh_repo(repo, tool)
        (repo / "small.txt").write_text("hello\n")
        sh(tool.cmd("add", "small.txt"), cwd=repo)
        repos[tool.name] = repo
    for i in range(n):  # interleaved
        for tool in tools:
            repo = repos[tool.name]
            p = run(tool.cmd("--version"), cwd=repo)
            res.add_time("startup", STARTUP_STEPS[0], tool.name, i, p.seconds)
            p = run(tool.cmd("status"), cwd=repo, capture=True)
            if "up to date" not in p.stdout:
                res.errors.append(("startup", tool.name, "status", f"not up to date: {p.stdout!r}"))
            res.add_time("startup", STARTUP_STEPS[1], tool.name, i, p.seconds)
    shim = shutil.which("bale")
    ab = any(t.name.endswith(OLD) for t in tools)  # then bale runs as a wrapper script
    if shim and not ab and Path(shim).resolve() != Path(find_exe("bale")).resolve():
        for _ in range(n):
            p = run([shim, "--version"], cwd=WORK)
            res.add_base("startup", "bale --version via PATH shim", p.seconds)
        res.notes.append(
            f"bale/dvc are run as {find_exe('bale')} / {find_exe('dvc')}; "
            f"PATH has {shim} (a pyenv shim), timed separately as a baseline row"
        )
    for repo in repos.values():
        rm_rf(repo)
    log(
        "startup: "
        + ", ".join(
            f"{k[2]} {k[1]} {statistics.median(v.values()) * 1000:.0f} ms"
            for k, v in res.times.items()
            if k[0] == "startup"
        )
    )


# --------------------------------------------------------------------------
# table

STARTUP_STEPS = ("--version", "status (1 small file)")
BASELINE_FOR = {  # step -> the baseline timed right before it
    "add": "cp -r",
    "checkout (copy)": "cp -r",
    "checkout (hardlink)": "cp -al",
}


def fmt_s(v: float | None) -> str:
    if v is None:
        return "-"
    if v < 1:
        return f"{v * 1000:.0f} ms"
    if v < 100:
        return f"{v:.2f} s"
    return f"{v:.0f} s"


def fmt_x(v: float | None) -> str:
    return "-" if v is None else (f"{v:.1f}x" if v >= 10 else f"{v:.2f}x")


def med(xs) -> float | None:
    xs = list(xs.values()) if isinstance(xs, dict) else list(xs or [])
    return statistics.median(xs) if xs else None


def paired_ratio(num: dict | None, den: dict | None) -> float | None:
    """Median over repetitions of num[rep] / den[rep] (both measured in the
    same repetition, minutes apart at most)."""
    if not num or not den:
        return None
    rs = [num[r] / den[r] for r in num if r in den and den[r] > 0]
    return statistics.median(rs) if rs else None


def build_rows(res: Results, names: list[str], tools: list[str], repeat: int) -> list[list[str]]:
    rows = []
    for w in names:
        for s in STEPS if w != "startup" else STARTUP_STEPS:
            samples = {t: res.times.get((w, s, t)) for t in ALL_TOOLS}
            vals = {t: med(samples[t]) for t in ALL_TOOLS}
            errs = {t for (ww, t, ss, _) in res.errors if ww == w and ss in (s, "(rest)")}
            bname = BASELINE_FOR.get(s) if w != "startup" else None
            pb = {t: res.paired.get((w, s, t)) for t in ALL_TOOLS}
            # the baseline column: median of the baselines paired with bale's runs
            bsamples = [v for t in ("bale-md5", "bale-blake3") for v in (pb[t] or {}).values()]
            bval = med(bsamples) if bname else None
            want = repeat if w != "startup" else None

            def cell(t: str) -> str:
                if t not in tools:
                    return "n/a"
                if vals[t] is None:
                    return "ERR" if t in errs else "-"
                c = fmt_s(vals[t])
                if want and len(samples[t]) < want:
                    c += f" (n={len(samples[t])})"
                if t in errs:
                    c += " ERR"
                return c

            label = s
            if s == "status (touched)":
                label = "status (10 touched)" if w != "W2" else "status (1 touched)"
            rows.append(
                [
                    w,
                    label,
                    cell("bale-md5"),
                    cell("bale-blake3"),
                    cell("dvc"),
                    fmt_x(paired_ratio(samples["dvc"], samples["bale-md5"])),
                    fmt_x(paired_ratio(samples["dvc"], samples["bale-blake3"])),
                    f"{bname} {fmt_s(bval)}" if bval is not None else "",
                    fmt_x(paired_ratio(samples["bale-md5"], pb["bale-md5"]))
                    if bval is not None
                    else "",
                    fmt_x(paired_ratio(samples["bale-blake3"], pb["bale-blake3"]))
                    if bval is not None
                    else "",
                ]
            )
        if w != "startup":
            rss = {t: res.rss.get((w, t)) for t in ALL_TOOLS}
            rows.append(
                [
                    w,
                    "add peak RSS",
                    *[f"{med(rss[t]):.0f} MiB" if rss[t] else "-" for t in ALL_TOOLS],
                    fmt_x(paired_ratio(rss["dvc"], rss["bale-md5"])),
                    fmt_x(paired_ratio(rss["dvc"], rss["bale-blake3"])),
                    "",
                    "",
                    "",
                ]
            )
        for (ww, bname), v in res.baselines.items():
            if ww == w:
                rows.append(
                    [
                        w,
                        f"[baseline] {bname} (all {len(v)})",
                        "",
                        "",
                        "",
                        "",
                        "",
                        fmt_s(med(v)),
                        "",
                        "",
                    ]
                )
    return rows


HEADER = [
    "workload",
    "step",
    "bale-md5",
    "bale-blake3",
    "dvc",
    "dvc/md5",
    "dvc/blake3",
    "baseline",
    "md5/base",
    "blake3/base",
]


def plain_table(rows: list[list[str]], header: list[str] = HEADER, group: int = 1) -> str:
    """A blank line where the first ``group`` columns change."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths)), line]
    prev = None
    for r in rows:
        if prev is not None and r[:group] != prev:
            out.append("")
        prev = r[:group]
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    return "\n".join(out)


def markdown_table(rows: list[list[str]], header: list[str] = HEADER, left: int = 2) -> str:
    """``left``: how many leading columns are text (left-aligned)."""
    align = ["---"] * left + ["---:"] * (len(header) - left)
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    for r in rows:
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
    return "\n".join(out)


# --------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workloads", default="W1,W2,W3")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--dvc-repeat",
        type=int,
        default=None,
        help="repetitions for dvc on W1 (default: --repeat); dvc W1 steps take minutes",
    )
    ap.add_argument("--tools", default=",".join(ALL_TOOLS))
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    ap.add_argument("--keep", action="store_true", help="keep benches/work (generated workloads)")
    ap.add_argument("--json", metavar="FILE", help="write the raw samples as JSON")
    ap.add_argument("--no-startup", action="store_true", help="skip the startup measurements")
    ap.add_argument(
        "--baseline",
        metavar="CHECKOUT",
        help="A/B: also run the bale of CHECKOUT (another checkout, extension built) "
        "as bale-md5-old / bale-blake3-old, interleaved; prints an A/B table",
    )
    args = ap.parse_args()

    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    tool_names = [t.strip() for t in args.tools.split(",") if t.strip()]
    specs = wl.workloads(args.scale)
    for n in names:
        if n not in specs:
            ap.error(f"unknown workload {n} (choose from {', '.join(specs)})")
    for t in tool_names:
        if t not in ALL_TOOLS:
            ap.error(f"unknown tool {t} (choose from {', '.join(ALL_TOOLS)})")
    WORK.mkdir(parents=True, exist_ok=True)
    baseline = Path(args.baseline) if args.baseline else None
    tools = make_tools(tool_names, baseline)
    dvc_repeat = args.dvc_repeat if args.dvc_repeat is not None else args.repeat

    res = Results()
    started = time.time()
    versions = {
        t.name: subprocess.run(t.cmd("--version"), capture_output=True, text=True, env=ENV)
        .stdout.strip()
        .splitlines()[0]
        for t in tools
    }
    log(f"tools: {versions}; python {platform.python_version()}; cpus {os.cpu_count()}")

    engines = [engine_fingerprint()]
    log(f"engine: {engines[0]}")

    def check_engine(where: str) -> None:
        fp = engine_fingerprint()
        if fp != engines[-1]:
            engines.append(fp)
            res.notes.append(f"bale's engine changed during the run ({where}): now {fp}")
            log(f"WARNING: bale's engine changed ({where}): {fp}")

    def samples() -> dict:
        return {"versions": versions, "engines": engines, "args": vars(args), **res.to_json()}

    def save() -> None:
        if args.json:
            Path(args.json).write_text(json.dumps(samples(), indent=1))

    if not args.no_startup:
        bench_startup(tools, max(10, args.repeat), res)
        check_engine("after startup")

    for n in names:
        w = specs[n]
        t0 = time.perf_counter()
        src = wl.generate(w, WORK / "src")
        log(f"[{n}] {w.description}: ready in {time.perf_counter() - t0:.1f} s")
        for rep in range(args.repeat):
            bench_baselines(w, src, res)
            k = rep % len(tools)  # rotate the order: no tool always runs first
            for tool in tools[k:] + tools[:k]:
                if tool.name == "dvc" and n == "W1" and rep >= dvc_repeat:
                    continue
                try:
                    bench_tool(w, src, tool, rep, res)
                except (OSError, SystemExit, AssertionError) as e:  # setup, not a timed step
                    res.errors.append((n, tool.name, "(setup)", f"{type(e).__name__}: {e}"))
                    log(f"[{n} r{rep + 1} {tool.name}] setup failed: {e}")
                if w.nfiles <= 10_000:
                    # few files: deleting is quick, and the big copies would fill the disk
                    rm_rf(WORK / "trash")
                if tool.name.startswith("bale"):
                    check_engine(f"after {n} r{rep + 1} {tool.name}")
        if not args.keep:
            discard(WORK / "src" / n)
        save()  # so far, in case a later workload dies

    order = (["startup"] if not args.no_startup else []) + names
    rows = build_rows(res, order, tool_names, args.repeat)
    print()
    print(
        f"bale vs dvc: medians of {args.repeat} runs, scale {args.scale}, "
        f"{time.strftime('%Y-%m-%d %H:%M')}, {(time.time() - started) / 60:.1f} min"
    )
    for n in names:
        print(f"  {n}: {specs[n].description}")
    print(plain_table(rows))
    ab = None
    if baseline:
        bales = [t for t in tool_names if t.startswith("bale")]
        steps = [(w, s) for w in order for s in (STARTUP_STEPS if w == "startup" else STEPS)]
        rows_ab = ab_rows(res.times, steps, bales)
        ab = ab_table(baseline, ["workload", "step"], bales, rows_ab, args.markdown)
    print(f"\nbale engine at start: {engines[0]}")
    if res.notes:
        print("\nnotes:\n" + "\n".join(f"  - {x}" for x in res.notes))
    if res.errors:
        print("\nERRORS:")
        for w, t, s, e in res.errors:
            print(f"  {w} {t} {s}: {e}")
    if args.markdown:
        print()
        print(markdown_table(rows))
    save()
    sys.stdout.flush()
    history.record("run.py", args, started, HEADER, rows, samples(), ab=ab)
    if not args.keep:
        log("cleaning up benches/work")
        rm_rf(WORK)
        log("done")
    return 1 if res.errors else 0


def git_identity() -> None:
    """A committer for the git repositories a bench makes (a fresh machine has none)."""
    for k in ("AUTHOR", "COMMITTER"):
        ENV.setdefault(f"GIT_{k}_NAME", "bench")
        ENV.setdefault(f"GIT_{k}_EMAIL", "bench@localhost")


def interleaved(
    steps: dict[str, tuple[list[str], list[str]]], root: Path, repeat: int
) -> dict[tuple[str, str], list[float]]:
    """Each step's bale and dvc commands ``repeat`` times in ``root``, the
    tools interleaved and their order alternated each repetition:
    ``(step, tool) -> seconds``."""
    times: dict[tuple[str, str], list[float]] = {}
    for rep in range(repeat):
        for step, (ours, theirs) in steps.items():
            order = [("bale", ours), ("dvc", theirs)]
            for tool, cmd in order if rep % 2 == 0 else order[::-1]:
                times.setdefault((step, tool), []).append(run(cmd, root).seconds)
        log(f"repetition {rep + 1}/{repeat} done")
    return times


def paired_table(steps: list[str], times: dict[tuple[str, str], list[float]]) -> list[list]:
    """Prints, and returns, per step the medians of bale and dvc and the
    median of the ratios dvc/bale paired within a repetition."""
    print(f"{'step':<20} {'bale':>9} {'dvc':>9} {'dvc/bale':>9}")
    rows: list[list] = []
    for step in steps:
        b, d = times[(step, "bale")], times[(step, "dvc")]
        ratio = statistics.median(x / y for x, y in zip(d, b, strict=True))
        rows.append([step, statistics.median(b), statistics.median(d), ratio])
        print(
            f"{step:<20} {statistics.median(b):>8.3f}s {statistics.median(d):>8.3f}s {ratio:>8.1f}x"
        )
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
