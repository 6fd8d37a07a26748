#!/usr/bin/env python3
"""bale vs dvc: sharing and reading data (issue 22): get, import, update,
api.read, the fsspec filesystem, streaming a big file (stdlib + boto3).

    python benches/share.py [--workloads W1,W2] [--remotes folder,s3]
                            [--tools bale-md5,bale-blake3,dvc] [--repeat N]
                            [--dvc-repeat N] [--scale F] [--no-raw]
                            [--json FILE] [--markdown] [--keep]

Sources.  For every workload (``workloads.py``), remote and tool, a SOURCE
repository is built once (untimed): ``git init``, ``init`` (``bale init
--hash md5`` / ``--hash blake3``, ``dvc init``), the workload copied in,
``add data``, a default remote (``folder``: a directory given by its
absolute path; ``s3``: a bucket per tool on a SeaweedFS ``weed mini`` on
127.0.0.1 started by this script as ``sync.py`` does, its ``endpointurl``
committed in ``.dvc/config`` and the keys in the environment of every
process, since ``.dvc/config.local`` does not travel with a clone),
``git commit``, tag ``v1``, ``push``.  bale-md5 and bale-blake3 read a bale
source of their own hash, dvc a dvc source.

Remote only.  Every step names its source as a ``file://`` URL: both tools
then ``git clone`` it and read the data from the source's remote (dvc uses a
source's own cache only when it is given as a plain local path).  To make
sure no tool reads the source's cache anyway, ``.dvc/cache`` of the source
is renamed away during every timed step (W1) or deleted after the push (W2).

Steps, timed as whole processes as ``run.py`` times them
(``time.perf_counter`` around fork/exec/``wait4``, an untimed ``sync``
first), each verified:

W1 (many small files)
    get                ``get file://SRC data -o OUT`` into a fresh directory:
                       file count and bytes of OUT equal the source's
    import             ``import file://SRC data -o data`` in a fresh
                       ``git init`` + ``init`` repository: the same check
    update (10 changed)  untimed: 10 files rewritten in the source (other
                       files in each repetition), ``add``, ``git commit``,
                       ``push``; timed: ``update data.dvc`` in the import
                       repository; count, bytes and the 10 files' contents
    api.read (old rev) ``python -c "import bale.api as api; api.read(...)"``
                       (``dvc.api`` for dvc) of one small file at ``v1``, a
                       file the first repetition's update changed: its md5
                       must be the v1 bytes' md5
    api.read (2nd call)  the same process again, right after: bale keeps its
                       clone of the source (in XDG_CACHE_HOME), dvc clones
                       again
    fs.get (old rev)   ``bale.fs.BaleFileSystem(repo=URL, rev="v1").get("data",
                       OUT, recursive=True)`` vs ``dvc.api.DVCFileSystem``:
                       every file of W1 at v1, count, bytes and one file's
                       v1 contents
    read every file    a training loop's read, file after file, in memory
      (old rev)        (+ peak RSS): ``bale.api.stream("data", repo=URL,
                       rev="v1")`` vs ``DVCFileSystem.find`` + ``cat_file``;
                       the count and bytes read

W2 (one big file)
    stream             ``api.open(path, repo=URL, mode="rb")`` read in 8 MiB
                       blocks into nothing (+ peak RSS, via GNU time): byte
                       count and the md5 of the first MiB; on S3 against
                       boto3's ``download_fileobj`` of the same file (uploaded
                       untimed to a bucket of its own) into a null sink,
                       rotated with the tools (``--no-raw`` skips it)
    first byte         ``api.open`` and ``read(1)``; the process's time is the
                       step's, and the TTFB row is measured inside it: from
                       the ``open`` call (after ``import``) to the first byte
    1 MiB at offset    ``seek`` to half the file (1 GiB at scale 1) and read
                       1 MiB (md5 checked).  On S3 the bytes the server sent
                       for it are counted at the server: SeaweedFS's
                       Prometheus counter ``SeaweedFS_s3_bucket_traffic_sent_
                       bytes_total`` for the tool's bucket, read before and
                       after the process (``weed mini -metricsPort``)

Cold: every timed process runs with XDG_CACHE_HOME set to an empty
directory (bale keeps clones of source repositories there, and copies of a
packed remote's index), except the second api.read; dvc's ``get``,
``import``, ``update`` and ``api`` clone the source in every process.

A failing step is recorded with its command and stderr, and the run
carries on (a step that needs a failed one is recorded as skipped).

Noise: tools are interleaved within each repetition (order rotated per
repetition).  Cells are MEDIANS; every ratio is the median over repetitions
of the ratio within one repetition (paired), as in ``run.py``.  After the
table, the issue's targets with the measured value and met / not met
(targets are for scale 1; at another scale the table says so).

Output: a plain table on stdout; ``--json`` writes the raw samples (after
every tool); every run is appended to ``benches/history/runs.jsonl``
(``history.py``).  Generated data lives in ``benches/work`` (git-ignored),
deleted at the end unless ``--keep``.  The Python of this interpreter runs
the ``python -c`` steps: it must import the bale being measured (``make
dev``, or ``PYTHONPATH=<checkout>/python``) and dvc.
"""

from __future__ import annotations

import argparse
import filecmp
import hashlib
import re
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import history  # noqa: E402
import run as rb  # noqa: E402  (process timing, tools, table helpers)
import sync  # noqa: E402  (results, S3 client, machine, percentages)
import workloads as wl  # noqa: E402

WORK = rb.WORK
ALL_TOOLS = ("bale-md5", "bale-blake3", "dvc")
ALL_REMOTES = ("folder", "s3")
RAW = "boto3"
READ_COLD, READ_WARM = "api.read (old rev)", "api.read (2nd call)"
FS_GET, EVERY = "fs.get (old rev)", "read every file (old rev)"
W1_STEPS = ("get", "import", "update (10 changed)", READ_COLD, READ_WARM, FS_GET, EVERY)
W2_STEPS = ("stream (8 MiB blocks)", "first byte", "1 MiB at offset")
STREAM, FIRST, RANGED = W2_STEPS
TTFB, SENT_ROW = "TTFB (in process, from open)", "bytes sent by S3 for 1 MiB at offset"
BLOCK = 8 * wl.MIB
RANGE = 1 * wl.MIB
CHANGED = 10
XDG = WORK / "xdg-cache"  # XDG_CACHE_HOME of every process (see Runner.step)
GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
SENT = "SeaweedFS_s3_bucket_traffic_sent_bytes_total"
log = rb.log

# The python -c steps.  ``{mod}`` is bale.api or dvc.api, so each side's
# command is literally ``import bale.api as api`` / ``import dvc.api as api``.
READ = """import hashlib, sys
import {mod} as api
path, repo, rev = sys.argv[1:4]
b = api.read(path, repo=repo, rev=rev, mode="rb")
print(len(b), hashlib.md5(b).hexdigest())
"""
FS_GET_PY = {
    "bale": """import sys
from bale.fs import BaleFileSystem
repo, rev, out = sys.argv[1:4]
BaleFileSystem(repo=repo, rev=rev).get("data", out, recursive=True)
""",
    "dvc": """import sys
from dvc.api import DVCFileSystem
repo, rev, out = sys.argv[1:4]
DVCFileSystem(repo=repo, rev=rev).get("data", out, recursive=True)
""",
}
# A training loop's read of a directory, file after file: bale.api.stream
# (reads ahead, bounded memory) against DVCFileSystem's find and cat_file
# (dvc has no iterator of its own).
EVERY_PY = {
    "bale": """import sys
import bale.api as api
repo, rev = sys.argv[1:3]
n = total = 0
for _name, data in api.stream("data", repo=repo, rev=rev):
    n, total = n + 1, total + len(data)
print(n, total)
""",
    "dvc": """import sys
from dvc.api import DVCFileSystem
repo, rev = sys.argv[1:3]
fs = DVCFileSystem(repo=repo, rev=rev)
n = total = 0
for path in fs.find("data"):
    n, total = n + 1, total + len(fs.cat_file(path))
print(n, total)
""",
}
# Reads in 8 MiB blocks; keeps the first MiB only, to check it (hashing every
# block would cost the reader CPU that boto3's side does not spend).
STREAM_PY = """import hashlib, sys
import {mod} as api
path, repo, block = sys.argv[1], sys.argv[2], int(sys.argv[3])
n, head = 0, b""
with api.open(path, repo=repo, mode="rb") as f:
    while True:
        b = f.read(block)
        if not b:
            break
        if len(head) < 1048576:
            head += b[: 1048576 - len(head)]
        n += len(b)
print(n, hashlib.md5(head).hexdigest())
"""
FIRST_PY = """import sys, time
import {mod} as api
path, repo = sys.argv[1:3]
t0 = time.perf_counter()
with api.open(path, repo=repo, mode="rb") as f:
    b = f.read(1)
    t1 = time.perf_counter()
print(len(b), f"{{t1 - t0:.6f}}")
"""
RANGED_PY = """import hashlib, sys
import {mod} as api
path, repo, off, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
got = b""
with api.open(path, repo=repo, mode="rb") as f:
    f.seek(off)
    while len(got) < size:
        b = f.read(size - len(got))
        if not b:
            break
        got += b
print(len(got), hashlib.md5(got).hexdigest())
"""
# boto3's managed download (threads, 8 MiB parts: its defaults) into a sink
# that discards; seek/tell make boto3 write parts in place instead of
# buffering the out-of-order ones.
RAW_PY = """import sys, boto3
from botocore.config import Config
ep, ak, sk, bucket, key = sys.argv[1:6]
class Null:
    n = 0
    def write(self, b):
        self.n += len(b)
        return len(b)
    def seek(self, *a):
        return 0
    def tell(self):
        return 0
c = boto3.client("s3", endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=sk,
                 region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
sink = Null()
c.download_fileobj(bucket, key, sink)
print(sink.n)
"""


# --------------------------------------------------------------------------
# results


class Results(sync.Results):
    """sync.py's results, plus measured values that are not times."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict = {}  # (workload, remote, metric, tool) -> {rep: value}

    def add_value(self, w: str, r: str, metric: str, tool: str, rep: str, v: float) -> None:
        self.values.setdefault((w, r, metric, tool), {})[rep] = v

    def to_json(self) -> dict:
        return {**super().to_json(), "values": [[*k, v] for k, v in self.values.items()]}


# --------------------------------------------------------------------------
# sources


@dataclass
class Source:
    """One tool's source repository on one remote."""

    repo: Path
    url: str  # file:// URL of repo
    bucket: str | None  # s3: the bucket of its remote
    rels: list[str]  # the workload's files, relative to data/
    expect: tuple[int, int]  # (files, bytes) of data/ (the same at every commit)

    def hide_cache(self) -> None:
        cache = self.repo / ".dvc" / "cache"
        if cache.exists():
            cache.rename(cache.with_name("cache.hidden"))

    def show_cache(self) -> None:
        hidden = self.repo / ".dvc" / "cache.hidden"
        if hidden.exists():
            hidden.rename(hidden.with_name("cache"))


class Ctx:
    """What one (workload, remote) shares across repetitions."""

    def __init__(self, w, label, data, remote, server, run_id, res):
        self.w, self.label, self.data, self.remote = w, label, data, remote
        self.slug = label.replace("@", "-")  # in paths: "@" would be escaped in file:// URLs
        self.server, self.run_id, self.res = server, run_id, res
        self.expect = wl.tree_stats(data)
        self.rep = 0
        self.rep_key = ""
        self.sources: dict[str, Source] = {}

    def bucket(self, tool: str) -> str:
        name = f"{self.run_id}-share-{self.label}-{tool}".lower()
        return re.sub(r"[^a-z0-9-]", "-", name)[:63]


def build_source(ctx: Ctx, tool: rb.Tool) -> Source:
    """The source repository of ``tool`` (untimed); raises on any failure."""
    repo = WORK / "repos" / f"{ctx.slug}-{ctx.remote}-{tool.name}-src"
    rb.fresh_repo(repo, tool)
    rb.sh(["cp", "-r", str(ctx.data), str(repo / "data")])
    bucket = None
    if ctx.remote == "folder":
        folder = WORK / "remotes" / f"{ctx.slug}-{tool.name}"
        rb.discard(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        rb.sh(tool.cmd("remote", "add", "-d", "store", str(folder)), cwd=repo)
    else:
        bucket = ctx.bucket(tool.name)
        sync.s3_client(ctx.server).create_bucket(Bucket=bucket)
        rb.sh(tool.cmd("remote", "add", "-d", "store", f"s3://{bucket}/store"), cwd=repo)
        # committed (a clone has no config.local); the keys are in the environment
        rb.sh(tool.cmd("remote", "modify", "store", "endpointurl", ctx.server.endpoint), cwd=repo)
    rb.sh(tool.cmd("add", "data"), cwd=repo)
    commit(repo, "v1")
    rb.sh([*GIT, "tag", "v1"], cwd=repo)
    rb.sh(tool.cmd("push"), cwd=repo)
    src = Source(repo, repo.resolve().as_uri(), bucket, wl.relpaths(ctx.w), wl.tree_stats(ctx.data))
    if ctx.w.nfiles == 1:  # W2: nothing changes later; free the disk, keep the remote only
        rb.discard(repo / "data")
        rb.discard(repo / ".dvc" / "cache")
    src.hide_cache()
    return src


def commit(repo: Path, msg: str) -> None:
    rb.sh([*GIT, "add", "-A"], cwd=repo)
    rb.sh([*GIT, "commit", "-q", "-m", msg], cwd=repo)


def change_source(src: Source, tool: rb.Tool, rep: int) -> list[str]:
    """Rewrites 10 files of the source (other ones in each repetition), adds,
    commits and pushes them; returns their paths relative to data/."""
    n = len(src.rels)
    k = min(CHANGED, n)
    rels = sorted({src.rels[(i * n // k + rep) % n] for i in range(k)})
    src.show_cache()
    try:
        for rel in rels:
            rb.rewrite_changed(src.repo / "data" / rel)
        rb.sh(tool.cmd("add", "data"), cwd=src.repo)
        commit(src.repo, f"change {len(rels)} files (repetition {rep + 1})")
        rb.sh(tool.cmd("push"), cwd=src.repo)
    finally:
        src.hide_cache()
    return rels


def first_changed(src: Source) -> str:
    """The file the first repetition's update changes: at v1 it differs from HEAD."""
    return src.rels[0]


def md5_of(path: Path, off: int = 0, size: int = -1) -> str:
    with open(path, "rb") as f:
        f.seek(off)
        return hashlib.md5(f.read(size)).hexdigest()


# --------------------------------------------------------------------------
# one tool, one repetition


class Runner:
    """Runs and records the steps of one tool in one repetition."""

    def __init__(self, ctx: Ctx, tool: rb.Tool) -> None:
        self.ctx, self.tool, self.res = ctx, tool, ctx.res
        self.tag = f"[{ctx.label} {ctx.remote} r{ctx.rep + 1} {tool.name}]"
        self.side = "dvc" if tool.name == "dvc" else "bale"

    def fail(self, step: str, cmd: list[str], msg: str, stderr: str | None = None) -> None:
        ctx = self.ctx
        self.res.errors.append(
            {
                "workload": ctx.label,
                "remote": ctx.remote,
                "tool": self.tool.name,
                "rep": ctx.rep_key,
                "step": step,
                "cmd": shown(cmd),
                "message": msg,
                "stderr": stderr,
            }
        )
        log(f"{self.tag} {step}: FAILED: {msg}")

    def step(self, name: str, cmd: list[str], cwd: Path, verify=None, rss: bool = False, cold=True):
        """Times ``cmd``; returns its Proc once verified, None (recorded) on failure.

        ``cold``: in an empty XDG_CACHE_HOME, where bale keeps its clones of
        source repositories (and dvc nothing a step could reuse): every step
        clones its source, as dvc's do."""
        ctx = self.ctx
        if cold:
            rb.rm_rf(XDG)
            XDG.mkdir(parents=True)
        try:
            p = rb.run(cmd, cwd=cwd, capture=True, rss=rss)
        except rb.StepFailed as e:
            try:
                stderr = (WORK / ".stderr").read_text(errors="replace")[-6000:]
            except OSError:
                stderr = None
            # the command is recorded on its own (shorter): not in the message
            self.fail(name, cmd, str(e).replace(f"`{' '.join(map(str, cmd))}` ", ""), stderr)
            return None
        out = sync.last_line(p.stdout)
        self.res.outputs.append([ctx.label, ctx.remote, self.tool.name, ctx.rep_key, name, out])
        if verify:
            try:
                verify(p)
            except rb.StepFailed as e:
                self.fail(name, cmd, str(e))
                return None
            except (OSError, ValueError, IndexError) as e:  # output not as expected
                self.fail(name, cmd, f"{type(e).__name__}: {e}; stdout {p.stdout[-300:]!r}")
                return None
        self.res.add_time(ctx.label, ctx.remote, name, self.tool.name, ctx.rep_key, p.seconds)
        extra = ""
        if rss:
            mib = p.maxrss_kib / 1024
            self.value(f"peak RSS, {name}", mib)
            extra = f"  (peak RSS {mib:.0f} MiB)"
        log(f"{self.tag} {name}: {p.seconds:.3f} s{extra}  | {out}")
        return p

    def value(self, metric: str, v: float) -> None:
        ctx = self.ctx
        self.res.add_value(ctx.label, ctx.remote, metric, self.tool.name, ctx.rep_key, v)

    def py(self, template: str, *args: str) -> list[str]:
        return [sys.executable, "-c", template.format(mod=f"{self.side}.api"), *args]

    def scratch(self, what: str) -> Path:
        """A fresh empty directory (outside any data repository) for a step."""
        d = WORK / "repos" / f"{self.ctx.slug}-{self.ctx.remote}-{self.tool.name}-{what}"
        rb.discard(d)
        d.mkdir(parents=True)
        return d

    # -- W1 ---------------------------------------------------------------

    def w1(self, src: Source) -> None:
        tool, expect = self.tool, src.expect

        def tree(path: Path, what: str):
            def verify(p: rb.Proc) -> None:
                got = wl.tree_stats(path) if path.exists() else (0, 0)
                if got != expect:
                    raise rb.StepFailed(
                        f"{what} gave {got[0]} files / {got[1]} bytes, "
                        f"expected {expect[0]} / {expect[1]}"
                    )

            return verify

        get_dir = self.scratch("get")
        out = get_dir / "data"
        self.step(
            "get", tool.cmd("get", src.url, "data", "-o", str(out)), get_dir, tree(out, "get")
        )
        rb.discard(get_dir)

        dst = WORK / "repos" / f"{self.ctx.slug}-{self.ctx.remote}-{tool.name}-import"
        rb.fresh_repo(dst, tool)
        imported = self.step(
            "import",
            tool.cmd("import", src.url, "data", "-o", "data"),
            dst,
            tree(dst / "data", "import"),
        )
        # The source changes whether or not the import worked: the api.read
        # and fs.get steps read v1, which must differ from HEAD.
        rels = None
        try:
            rels = change_source(src, tool, self.ctx.rep)
        except (SystemExit, rb.StepFailed, OSError) as e:
            self.fail("update (10 changed)", [], f"source change failed (untimed): {e}")
        if imported is None:
            self.fail("update (10 changed)", [], "skipped: import failed")
        elif rels is not None:

            def updated(p: rb.Proc) -> None:
                tree(dst / "data", "update")(p)
                for rel in rels:
                    if not filecmp.cmp(src.repo / "data" / rel, dst / "data" / rel, shallow=False):
                        raise rb.StepFailed(f"data/{rel} is not the source's new version")

            self.step("update (10 changed)", tool.cmd("update", "data.dvc"), dst, updated)
        rb.discard(dst)

        rel = first_changed(src)
        want = (Path(self.ctx.data / rel).stat().st_size, md5_of(self.ctx.data / rel))

        def same_read(p: rb.Proc) -> None:
            n, digest = p.stdout.split()[-2:]
            if (int(n), digest) != want:
                raise rb.StepFailed(f"read {n} bytes, md5 {digest}; v1 has {want[0]}, {want[1]}")

        cwd = self.scratch("api")
        cmd = self.py(READ, f"data/{rel}", src.url, "v1")
        if self.step(READ_COLD, cmd, cwd, same_read):
            # the same again, keeping what the first call left in the user's cache
            self.step(READ_WARM, cmd, cwd, same_read, cold=False)

        fs_dir = self.scratch("fs")
        out = fs_dir / "out"

        def fs_got(p: rb.Proc) -> None:
            tree(out, "fs.get")(p)
            hits = [c for c in (out / rel, out / "data" / rel) if c.exists()]
            if not hits or md5_of(hits[0]) != want[1]:
                raise rb.StepFailed(f"{rel} missing or not its v1 bytes under {out}")

        cmd = [sys.executable, "-c", FS_GET_PY[self.side], src.url, "v1", str(out)]
        self.step(FS_GET, cmd, fs_dir, fs_got)
        rb.discard(fs_dir)

        def every(p: rb.Proc) -> None:
            got = tuple(int(x) for x in p.stdout.split()[-2:])
            if got != expect:
                raise rb.StepFailed(f"read {got[0]} files / {got[1]} bytes, expected {expect}")

        cmd = [sys.executable, "-c", EVERY_PY[self.side], src.url, "v1"]
        self.step(EVERY, cmd, cwd, every, rss=True)
        rb.discard(cwd)

    # -- W2 ---------------------------------------------------------------

    def w2(self, src: Source) -> None:
        ctx = self.ctx
        rel = src.rels[0]
        path, local = f"data/{rel}", ctx.data / rel
        size = src.expect[1]
        cwd = self.scratch("api")
        head = md5_of(local, 0, wl.MIB)

        def streamed(p: rb.Proc) -> None:
            n, digest = p.stdout.split()[-2:]
            if (int(n), digest) != (size, head):
                raise rb.StepFailed(f"streamed {n} bytes (first MiB md5 {digest}), expected {size}")

        p = self.step(
            STREAM, self.py(STREAM_PY, path, src.url, str(BLOCK)), cwd, streamed, rss=True
        )
        if p is not None:
            self.value("stream MB/s", size / p.seconds / 1e6)

        def first(p: rb.Proc) -> None:
            n, secs = p.stdout.split()[-2:]
            if int(n) != 1:
                raise rb.StepFailed(f"read(1) gave {n} bytes")
            self.value(TTFB, float(secs))

        self.step(FIRST, self.py(FIRST_PY, path, src.url), cwd, first)

        off = size // 2  # 1 GiB of the 2 GiB file at scale 1
        length = min(RANGE, size - off)
        want = (length, md5_of(local, off, length))

        def ranged(p: rb.Proc) -> None:
            n, digest = p.stdout.split()[-2:]
            if (int(n), digest) != want:
                raise rb.StepFailed(f"read {n} bytes md5 {digest}, expected {want[0]} {want[1]}")

        before = sent_bytes(ctx.server, src.bucket)
        cmd = self.py(RANGED_PY, path, src.url, str(off), str(length))
        if self.step(RANGED, cmd, cwd, ranged) is not None and before is not None:
            after = sent_bytes(ctx.server, src.bucket)
            if after is not None:
                self.value(SENT_ROW, after - before)
        rb.discard(cwd)


def shown(cmd: list[str]) -> str:
    """``cmd`` for a report: a ``python -c`` script shown by its import line."""
    if len(cmd) > 2 and cmd[1] == "-c":
        lines = [x for x in cmd[2].splitlines() if re.match(r"(import|from) (bale|dvc|boto3)", x)]
        return " ".join(["python -c", repr(lines[0] + "; ...") if lines else "...", *cmd[3:]])
    return " ".join(map(str, cmd))


def sent_bytes(server, bucket: str | None) -> float | None:
    """What SeaweedFS has sent from ``bucket`` so far (its Prometheus counter)."""
    if server is None or bucket is None or server.metrics_port is None:
        return None
    url = f"http://127.0.0.1:{server.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as r:
        text = r.read().decode()
    m = re.search(rf'^{SENT}{{bucket="{re.escape(bucket)}"}} (\S+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def bench_raw(ctx: Ctx, key: str, bucket: str) -> None:
    """boto3's download_fileobj of the W2 file into a null sink (S3 only)."""
    srv, res = ctx.server, ctx.res
    tag = f"[{ctx.label} s3 r{ctx.rep + 1} {RAW}]"
    cmd = [sys.executable, "-c", RAW_PY, srv.endpoint, srv.access_key, srv.secret_key, bucket, key]
    try:
        p = rb.run(cmd, cwd=WORK, capture=True, rss=True)
        n = int(p.stdout.split()[-1])
        if n != ctx.expect[1]:
            raise rb.StepFailed(f"boto3 received {n} bytes, expected {ctx.expect[1]}")
    except (rb.StepFailed, ValueError, IndexError) as e:
        res.errors.append(
            {
                "workload": ctx.label,
                "remote": "s3",
                "tool": RAW,
                "rep": ctx.rep_key,
                "step": STREAM,
                "cmd": "boto3 download_fileobj",
                "message": str(e),
                "stderr": None,
            }
        )
        log(f"{tag} download_fileobj: FAILED: {e}")
        return
    res.add_time(ctx.label, "s3", STREAM, RAW, ctx.rep_key, p.seconds)
    res.add_value(ctx.label, "s3", f"peak RSS, {STREAM}", RAW, ctx.rep_key, p.maxrss_kib / 1024)
    res.add_value(ctx.label, "s3", "stream MB/s", RAW, ctx.rep_key, n / p.seconds / 1e6)
    log(f"{tag} download_fileobj: {p.seconds:.3f} s ({n / p.seconds / 1e6:.0f} MB/s)")


# --------------------------------------------------------------------------
# table

HEADER = sync.HEADER
METRICS = {  # rows that are not times: metric -> (workload, format, lower is better)
    f"peak RSS, {EVERY}": ("W1", lambda v: f"{v:.0f} MiB", True),
    "stream MB/s": ("W2", lambda v: f"{v:.0f} MB/s", False),
    f"peak RSS, {STREAM}": ("W2", lambda v: f"{v:.0f} MiB", True),
    TTFB: ("W2", rb.fmt_s, True),
    SENT_ROW: ("W2", lambda v: f"{v / wl.MIB:.2f} MiB", True),
}


def build_rows(res: Results) -> list[list[str]]:
    rows = []
    for w in list(res.descriptions):
        for r in ALL_REMOTES:
            if not any(k[0] == w and k[1] == r for k in res.times) and not any(
                e["workload"] == w and e["remote"] == r for e in res.errors
            ):
                continue
            steps = W2_STEPS if w.startswith("W2") else W1_STEPS
            for s in steps:
                samples = {t: res.times.get((w, r, s, t)) for t in (*ALL_TOOLS, RAW)}
                errs = {
                    e["tool"]
                    for e in res.errors
                    if e["workload"] == w and e["remote"] == r and e["step"] in (s, "(setup)")
                }
                nmax = max((len(v) for v in samples.values() if v), default=0)

                def cell(t: str) -> str:
                    v = samples[t]
                    if not v:
                        return "ERR" if t in errs else "-"
                    c = rb.fmt_s(rb.med(v))
                    if len(v) < nmax:
                        c += f" (n={len(v)})"
                    if t in errs:
                        c += " ERR"
                    return c

                raw = samples[RAW] if s == STREAM else None
                pct = sync.fmt_pct
                rows.append(
                    [
                        w,
                        r,
                        s,
                        cell("bale-md5"),
                        cell("bale-blake3"),
                        cell("dvc"),
                        rb.fmt_x(rb.paired_ratio(samples["dvc"], samples["bale-md5"])),
                        rb.fmt_x(rb.paired_ratio(samples["dvc"], samples["bale-blake3"])),
                        cell(RAW) if raw else "",
                        pct(rb.paired_ratio(raw, samples["bale-md5"])) if raw else "",
                        pct(rb.paired_ratio(raw, samples["bale-blake3"])) if raw else "",
                        pct(rb.paired_ratio(raw, samples["dvc"])) if raw else "",
                    ]
                )
            for metric, (wname, fmt, lower) in METRICS.items():
                vals = {t: res.values.get((w, r, metric, t)) for t in (*ALL_TOOLS, RAW)}
                if not w.startswith(wname) or not any(vals.values()):
                    continue
                rows.append(
                    [
                        w,
                        r,
                        metric,
                        *[fmt(rb.med(vals[t])) if vals[t] else "-" for t in ALL_TOOLS],
                        # dvc/bale where more is worse (for MB/s the row says it)
                        rb.fmt_x(rb.paired_ratio(vals["dvc"], vals["bale-md5"])) if lower else "",
                        rb.fmt_x(rb.paired_ratio(vals["dvc"], vals["bale-blake3"]))
                        if lower
                        else "",
                        fmt(rb.med(vals[RAW])) if vals[RAW] else "",
                        "",
                        "",
                        "",
                    ]
                )
    return rows


BALES = ("bale-md5", "bale-blake3")


def targets(res: Results) -> list[list[str]]:
    """The issue's targets, checked on whatever this run measured."""
    out = []

    def verdict(ok: bool) -> str:
        return "met" if ok else "not met"

    def times(w, r, s, t):
        return res.times.get((w, r, s, t))

    order = list(res.descriptions)
    w1 = [w for w in order if w.startswith("W1")]
    w2 = [w for w in order if w.startswith("W2")]
    for w in w1:
        for r in ALL_REMOTES:
            for t in BALES:
                for s, goal in (
                    ("get", 10),
                    ("import", 10),
                    (READ_COLD, 10),
                    (READ_WARM, 10),
                    (FS_GET, 10),
                ):
                    x = rb.paired_ratio(times(w, r, s, "dvc"), times(w, r, s, t))
                    if x is not None:
                        out.append(
                            [
                                f"{w} {r} {s} {t} >= {goal}x faster than dvc",
                                rb.fmt_x(x),
                                verdict(x >= goal),
                            ]
                        )
                for s, goal in (
                    ("update (10 changed)", 2.0),
                    (READ_COLD, 0.5),
                    (READ_WARM, 0.5),
                ):
                    v = times(w, r, s, t)
                    if v:
                        m = rb.med(v)
                        out.append(
                            [
                                f"{w} {r} {s} {t} <= {goal:g} s",
                                f"{rb.fmt_s(m)} (max {rb.fmt_s(max(v.values()))})",
                                verdict(m <= goal),
                            ]
                        )
    for w in w2:
        for t in BALES:
            raw, mine = times(w, "s3", STREAM, RAW), times(w, "s3", STREAM, t)
            x = rb.paired_ratio(raw, mine)
            if x is not None:
                out.append(
                    [
                        f"{w} s3 stream {t} >= 80% of boto3's throughput",
                        f"{x * 100:.1f}%",  # one decimal: 79.8% is not 80%
                        verdict(x >= 0.8),
                    ]
                )
            for r in ALL_REMOTES:
                rss = res.values.get((w, r, f"peak RSS, {STREAM}", t))
                if rss:
                    mx = max(rss.values())
                    out.append(
                        [
                            f"{w} {r} stream {t} peak RSS <= 256 MiB",
                            f"{rb.med(rss):.0f} MiB median, {mx:.0f} MiB max",
                            verdict(mx <= 256),
                        ]
                    )
            v = res.values.get((w, "s3", TTFB, t))
            if v:
                m = rb.med(v)
                out.append(
                    [f"{w} s3 time to first byte {t} <= 0.3 s", rb.fmt_s(m), verdict(m <= 0.3)]
                )
            v = res.values.get((w, "s3", SENT_ROW, t))
            if v:
                mx = max(v.values())
                out.append(
                    [
                        f"{w} s3 1 MiB at offset {t} transfers <= 2 MiB",
                        f"{mx / wl.MIB:.2f} MiB (max)",
                        verdict(mx <= 2 * wl.MIB),
                    ]
                )
    return out


def report(res: Results, scale: float, markdown: bool = False) -> str:
    rows = build_rows(res)
    lines = [f"  {w}: {res.descriptions.get(w, '')}" for w in list(res.descriptions)]
    note = "" if scale == 1 else f" (scale {scale:g}: the targets are for scale 1)"
    goals = targets(res)
    if markdown:
        body = [
            "Workloads: " + "; ".join(x.strip() for x in lines) + ".",
            "",
            rb.markdown_table(rows, HEADER, left=3),
            "",
            f"Targets{note}:",
            "",
            "| target | measured | verdict |",
            "|---|---|---|",
            *[f"| {a} | {b} | {c} |" for a, b, c in goals],
        ]
    else:
        body = [
            *lines,
            rb.plain_table(rows, HEADER, group=2),
            "",
            f"targets{note}:",
            rb.plain_table(goals, ["target", "measured", "verdict"], group=0)
            if goals
            else "  (none measured)",
        ]
    if res.errors:
        body += ["", "ERRORS:" if not markdown else "Errors:", ""]
        for e in res.errors:
            head = f"{e['workload']} {e['remote']} {e['tool']} rep {e['rep']} {e['step']}: `{e['cmd']}`: {e['message']}"
            if e.get("stderr"):  # the message's tail is the stderr's: show it once
                head = head.split("\n")[0]
            body.append(("- " if markdown else "  ") + head)
            if e.get("stderr"):
                tail = e["stderr"].rstrip().splitlines()[-12:]
                body += ["", "```", *tail, "```", ""]
    if res.notes:
        body += ["", "notes:"] + [("- " if markdown else "  - ") + n for n in res.notes]
    return "\n".join(body)


# --------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--workloads", default="W1,W2", help="W1 and/or W2 (default: both)")
    ap.add_argument("--remotes", default="folder,s3", help="folder,s3 (default: both)")
    ap.add_argument("--tools", default=",".join(ALL_TOOLS), help="subset of the default")
    ap.add_argument("--repeat", type=int, default=3, help="repetitions (default: 3)")
    ap.add_argument(
        "--dvc-repeat", type=int, default=None, help="repetitions for dvc (default: --repeat)"
    )
    ap.add_argument("--scale", type=float, default=1.0, help="shrink W1's file count and W2's size")
    ap.add_argument("--no-raw", action="store_true", help="skip boto3's download_fileobj (W2, S3)")
    ap.add_argument(
        "--json", metavar="FILE", help="write the raw samples as JSON (after each tool)"
    )
    ap.add_argument("--markdown", action="store_true", help="also print the report as Markdown")
    ap.add_argument("--keep", action="store_true", help="keep benches/work (generated workloads)")
    args = ap.parse_args()

    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    remotes = [r.strip() for r in args.remotes.split(",") if r.strip()]
    tool_names = [t.strip() for t in args.tools.split(",") if t.strip()]
    specs = wl.workloads(args.scale)
    for n in names:
        if n not in ("W1", "W2"):
            ap.error(f"unknown workload {n} (choose from W1, W2)")
    for r in remotes:
        if r not in ALL_REMOTES:
            ap.error(f"unknown remote {r} (choose from {', '.join(ALL_REMOTES)})")
    for t in tool_names:
        if t not in ALL_TOOLS:
            ap.error(f"unknown tool {t} (choose from {', '.join(ALL_TOOLS)})")
    WORK.mkdir(parents=True, exist_ok=True)
    rb.ENV["XDG_CACHE_HOME"] = str(XDG)  # nothing from the user's cache, emptied per step
    tools = rb.make_tools(tool_names)
    dvc_repeat = args.dvc_repeat if args.dvc_repeat is not None else args.repeat

    start_seaweed = None
    if "s3" in remotes:
        sys.path.insert(0, str(HERE.parent))
        from tests.remotes.seaweed import ACCESS_KEY, SECRET_KEY, start_seaweed

        # every process reaches S3 with these (a cloned source has no config.local)
        rb.ENV.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)

    res = Results()
    started = time.time()
    run_id = time.strftime("%H%M%S", time.gmtime(started))
    versions = rb.tool_versions(tools)
    which = subprocess.run(
        [sys.executable, "-c", "import bale, dvc; print(bale.__file__, dvc.__file__)"],
        capture_output=True,
        text=True,
        env=rb.ENV,
    ).stdout.strip()
    if not which:
        raise SystemExit(
            "share.py: this Python cannot import bale and dvc (make dev, or PYTHONPATH)"
        )
    # Bytecode for the bale measured, as an install has (`make dev` compiles;
    # dvc's came with pip): with PYTHONDONTWRITEBYTECODE set, every bale
    # process would otherwise recompile each module it imports.
    rb.sh([sys.executable, "-m", "compileall", "-q", str(Path(which.split()[0]).parent)])
    record = sync.RunRecord(res, run_id, started, versions, tools, **{"python -c imports": which})
    meta = record.meta
    log(
        f"tools: {versions}; {meta['executables']}; python -c imports {which}; engine {record.engines[0]}"
    )

    def save() -> None:
        record.save(args.json)

    check_engine = record.check_engine

    for n in names:
        w = specs[n]
        label = n if args.scale == 1 else f"{n}@{args.scale:g}"
        t0 = time.perf_counter()
        data = wl.generate(w, WORK / "src" / f"scale-{args.scale:g}")
        res.descriptions[label] = w.description
        res.bytes[label] = wl.tree_stats(data)[1]
        log(f"[{label}] {w.description}: ready in {time.perf_counter() - t0:.1f} s")
        for remote in remotes:
            server = None
            if remote == "s3":
                (WORK / "seaweed").mkdir(parents=True, exist_ok=True)
                server = start_seaweed(WORK / "seaweed", metrics=True)
                log(f"[{label}] weed mini at {server.endpoint}, metrics on :{server.metrics_port}")
            try:
                ctx = Ctx(w, label, data, remote, server, run_id, res)
                for tool in tools:
                    t0 = time.perf_counter()
                    try:
                        ctx.sources[tool.name] = build_source(ctx, tool)
                    except (SystemExit, rb.StepFailed, OSError, Exception) as e:
                        res.errors.append(
                            {
                                "workload": label,
                                "remote": remote,
                                "tool": tool.name,
                                "rep": "",
                                "step": "(setup)",
                                "cmd": "source repository (init, add, commit, push)",
                                "message": f"{type(e).__name__}: {e}",
                                "stderr": None,
                            }
                        )
                        log(f"[{label} {remote} {tool.name}] source failed: {e}")
                        continue
                    log(
                        f"[{label} {remote} {tool.name}] source ready in {time.perf_counter() - t0:.1f} s"
                    )
                raw_key = None
                if remote == "s3" and w.nfiles == 1 and not args.no_raw:
                    raw_key = "raw/" + wl.relpaths(w)[0]
                    raw_bucket = ctx.bucket(RAW)
                    client = sync.s3_client(server)
                    client.create_bucket(Bucket=raw_bucket)
                    client.upload_file(str(data / wl.relpaths(w)[0]), raw_bucket, raw_key)
                for rep in range(args.repeat):
                    ctx.rep, ctx.rep_key = rep, f"{run_id}.{rep}"
                    order = [t for t in tools if t.name in ctx.sources]
                    k = rep % max(1, len(order))
                    entries: list = order[k:] + order[:k]
                    if raw_key:
                        entries.insert(rep % (len(entries) + 1), RAW)
                    for tool in entries:
                        if tool == RAW:
                            bench_raw(ctx, raw_key, raw_bucket)
                            continue
                        if tool.name == "dvc" and rep >= dvc_repeat:
                            continue
                        runner = Runner(ctx, tool)
                        try:
                            src = ctx.sources[tool.name]
                            if w.nfiles == 1:
                                runner.w2(src)
                            else:
                                runner.w1(src)
                        except Exception as e:  # a bug here must not lose the run
                            runner.fail("(harness)", [], f"{type(e).__name__}: {e}")
                        if tool.name.startswith("bale"):
                            check_engine(f"after {label} {remote} r{rep + 1} {tool.name}")
                        save()
                    rb.rm_rf(WORK / "trash")
            finally:
                if server is not None:
                    server.stop()
                for tool in tools:
                    rb.discard(WORK / "repos" / f"{ctx.slug}-{remote}-{tool.name}-src")
                rb.rm_rf(WORK / "remotes")
                rb.rm_rf(WORK / "trash")
        save()

    print()
    print(
        f"bale vs dvc, sharing and reading: medians of {args.repeat} runs, scale {args.scale:g}, "
        f"{time.strftime('%Y-%m-%d %H:%M')}, {(time.time() - started) / 60:.1f} min"
    )
    print(report(res, args.scale))
    if args.markdown:
        print()
        print(report(res, args.scale, markdown=True))
    save()
    sys.stdout.flush()
    history.record(
        "share.py", args, started, HEADER, build_rows(res), res.to_json(), meta["machine"]
    )
    if not args.keep:
        log("cleaning up benches/work")
        rb.rm_rf(WORK)
    return 1 if res.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
