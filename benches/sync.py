#!/usr/bin/env python3
"""bale vs dvc: push and pull on folder, S3 and WebDAV remotes (stdlib + boto3).

    python benches/sync.py [--workloads W1,W2] [--remotes folder,s3]
                           [--tools bale-md5,bale-blake3,dvc] [--repeat N]
                           [--dvc-repeat N] [--scale F] [--no-raw]
                           [--stop-after MIN] [--json FILE] [--keep]
                           [--baseline CHECKOUT]
    python benches/sync.py --merge A.json B.json ...

Remotes ``s3-imds`` (the same SeaweedFS, the keys handed out by an EC2
instance-metadata endpoint on loopback: the credential chain's cost, paired
with ``s3``), ``webdav`` (WsgiDAV in this process, a folder per tool; dvc
needs dvc-webdav), ``gcs`` (fake-gcs-server, a bucket per tool; dvc-gs)
and ``ssh`` (OpenSSH's sshd, a folder per tool; dvc-ssh) come on top, each
server started as the tests start it.

Tools: ``dvc`` (md5, DVC's remote layout), ``bale-md5`` (``bale init --hash
md5``: DVC's layout), ``bale-blake3`` (``bale init --hash blake3``: bale's
packed layout, DESIGN.md section 11).  Remotes: ``folder`` (a directory on
the same disk as the repositories) and ``s3`` (a SeaweedFS ``weed mini`` on
127.0.0.1 started by this script, one server per repetition so that its
disk is freed, and a fresh bucket per tool, made with boto3; the keys and
endpoint go to ``.dvc/config.local`` with ``remote modify --local``).

For every workload (``workloads.py``), repetition, remote and tool, in a
fresh ``git init`` repository into which the workload is copied (``cp -r``)
and added (``add data``: untimed setup, its time is shown for reference),
these steps are timed as whole processes, as ``run.py`` times them
(``time.perf_counter`` around fork/exec/``wait4``):

    push (first)          everything to an empty remote (+ peak RSS, GNU time)
    push (no-op)          again: must print that everything is up to date
    push (1 changed)      one file rewritten and ``add data`` (both untimed),
                          then ``push``: must upload something
    pull (fresh clone)    into a new ``git init`` repository holding only the
                          ``.dvc`` file, ``.dvc/config``, ``.dvc/config.local``
                          (and ``.dvc/bale.conf`` for bale): no cache, no data

Every pull is verified: file count and total bytes of the pulled tree equal
the source's, and the changed file has the changed bytes.  A failing step is
recorded with its command and full stderr, and the run carries on.

Raw client (W2 on S3, WebDAV, SSH and GCS, unless ``--no-raw``; column
"raw"): on S3 boto3's TransferManager (``upload_file`` / ``download_file``,
64 MiB parts, 10 threads), on WebDAV curl (one PUT, one GET), on SSH
OpenSSH's ``sftp`` (one put, one get, 128 requests of 128 KiB in flight;
asyncssh's own ``put``/``get`` are timed after it and noted), on GCS
google-cloud-storage (``upload_from_filename``: a resumable upload in its
default 100 MiB chunks; the transfer manager's
``download_chunks_concurrently``: 32 MiB ranges, 8 threads, crc32c
checked), run as a process like the tools, rotated with them within each
repetition; each
tool's push/pull throughput is reported as a percentage of it (paired: the
raw time of the same repetition divided by the tool's time).

Noise: tools are interleaved within each repetition (order rotated per
repetition).  Cells are MEDIANS; every ratio is the median over repetitions
of the ratio within one repetition (paired), as in ``run.py``.

A/B (``--baseline CHECKOUT``, another checkout of bale with its extension
built): each bale tool also runs from CHECKOUT as ``bale-md5-old`` /
``bale-blake3-old``, rotated with the others, both sides started the same
way (``run.py``'s ``make_tools``); after the report, an A/B table of old and
new medians per step and new/old as a paired ratio.

Output: a plain table on stdout; with ``--json`` the raw samples (written
after every tool, so a killed run keeps what it measured); every run is
appended to ``benches/history/runs.jsonl`` (``history.py``: machine,
commit, options, table, samples).  ``--merge`` renders several JSON files
as one table (samples of different runs never pair with each other).
Generated data lives in ``benches/work`` (git-ignored) and is deleted at the
end unless ``--keep``; deleted trees are moved to ``benches/work/trash`` and
removed once per repetition (``rm -rf`` of 100,000 files is slow here).
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import history  # noqa: E402
import run as rb  # noqa: E402  (process timing, tools, table helpers)
import workloads as wl  # noqa: E402

WORK = rb.WORK
ALL_TOOLS = ("bale-md5", "bale-blake3", "dvc")
# the raw client of each remote's protocol, timed beside the tools on W2:
# its column is "raw" (runs before it was generalised called it "boto3")
RAW = "raw"
RAW_CLIENTS = {
    "s3": "boto3 TransferManager",
    "webdav": "curl (one PUT, one GET)",
    "ssh": "OpenSSH sftp",
    "gcs": "google-cloud-storage",
}
# OpenSSH's sftp as fast as it went on loopback (2 cores): bale's cipher,
# 128 requests of 128 KiB in flight (the defaults are 64 of 32 KiB; 256 KiB
# overflows the server's packet limit); scp and the defaults were no faster.
RAW_SFTP_OPTIONS = ["-c", "aes128-gcm@openssh.com", "-R", "128", "-B", "131072"]
# asyncssh's own parallel get/put, timed beside it and logged (notes): the
# library bale speaks SFTP with, at its best.
RAW_ASYNCSSH = """
import asyncio, sys, asyncssh
op, port, user, key, known, src, dst = sys.argv[1:8]
async def main():
    async with asyncssh.connect("127.0.0.1", port=int(port), username=user, client_keys=[key],
                                known_hosts=known, encryption_algs=["aes128-gcm@openssh.com"],
                                compression_algs=None) as c:
        async with c.start_sftp_client() as s:
            await (s.put if op == "put" else s.get)(src, dst)
asyncio.run(main())
"""
ALL_REMOTES = ("folder", "s3", "s3-imds", "webdav", "gcs", "ssh")
# remotes whose W1 targets are issue 23's (blake3 >= 20x dvc, md5 >= 3x)
CLOUD_REMOTES = ("webdav", "gcs", "ssh")
STEPS = ("add (setup)", "push (first)", "push (no-op)", "push (1 changed)", "pull (fresh clone)")
RAW_STEP = {"push (first)": "upload", "pull (fresh clone)": "download"}
PART = 64 * wl.MIB
RAW_THREADS = 10

RAW_SCRIPT = """
import sys, boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
op, ep, ak, sk, bucket, key, path, part, threads = sys.argv[1:10]
c = boto3.client("s3", endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=sk,
                 region_name="us-east-1",
                 config=Config(s3={"addressing_style": "path"}, max_pool_connections=int(threads)))
cfg = TransferConfig(multipart_threshold=int(part), multipart_chunksize=int(part),
                     max_concurrency=int(threads), use_threads=True)
if op == "upload":
    c.upload_file(path, bucket, key, Config=cfg)
else:
    c.download_file(bucket, key, path, Config=cfg)
"""

# google-cloud-storage as its users run it: the upload in the library's
# default chunks; the download through its transfer manager (threads, not
# its default processes, which would add their start-up to a 256 MiB copy).
RAW_GCS_SCRIPT = """
import sys
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.cloud.storage import transfer_manager
op, bucket, key, path, part, threads = sys.argv[1:7]
client = storage.Client(credentials=AnonymousCredentials(), project="bench")
blob = client.bucket(bucket).blob(key)
if op == "upload":
    blob.upload_from_filename(path)
else:
    transfer_manager.download_chunks_concurrently(
        blob, path, chunk_size=int(part), max_workers=int(threads),
        worker_type=transfer_manager.THREAD,
    )
"""
RAW_GCS_PART = 32 * wl.MIB
RAW_GCS_THREADS = 8

log = rb.log


# --------------------------------------------------------------------------
# results: every sample keyed by "<run id>.<repetition>", so runs merge


class Results:
    def __init__(self) -> None:
        self.times: dict = {}  # (workload, remote, step, tool) -> {rep: s}
        self.rss: dict = {}  # (workload, remote, tool) -> {rep: MiB}
        self.errors: list = []  # dicts
        self.notes: list = []
        self.descriptions: dict = {}  # workload label -> description
        self.bytes: dict = {}  # workload label -> total bytes
        self.outputs: list = []  # (workload, remote, tool, rep, step, last line of stdout)
        self.runs: list = []  # metadata of each run merged in

    def add_time(self, w: str, r: str, step: str, tool: str, rep: str, s: float) -> None:
        self.times.setdefault((w, r, step, tool), {})[rep] = s

    def to_json(self) -> dict:
        return {
            "times": [[*k, v] for k, v in self.times.items()],
            "rss_mib": [[*k, v] for k, v in self.rss.items()],
            "errors": self.errors,
            "notes": self.notes,
            "descriptions": self.descriptions,
            "bytes": self.bytes,
            "outputs": self.outputs,
            "runs": self.runs,
        }

    def merge_json(self, d: dict) -> None:
        def key(k: list) -> tuple:
            return tuple(RAW if x == "boto3" else x for x in k)

        for *k, v in d["times"]:
            self.times.setdefault(key(k), {}).update(v)
        for *k, v in d["rss_mib"]:
            self.rss.setdefault(key(k), {}).update(v)
        self.errors += d["errors"]
        self.notes += d["notes"]
        self.descriptions.update(d["descriptions"])
        self.bytes.update(d["bytes"])
        self.outputs += d.get("outputs", [])
        self.runs += d["runs"]


# --------------------------------------------------------------------------
# one tool on one remote


def s3_client(server):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=server.region,
        config=Config(s3={"addressing_style": "path"}),
    )


class Ctx:
    """What one (workload, repetition, remote) shares."""

    def __init__(self, w, label, src, remote, rep, rep_key, server, run_id, res):
        self.w, self.label, self.src, self.remote = w, label, src, remote
        self.rep, self.rep_key, self.server, self.run_id, self.res = (
            rep,
            rep_key,
            server,
            run_id,
            res,
        )
        self.expect = wl.tree_stats(src)

    def bucket(self, tool: str) -> str:
        name = f"{self.run_id}-{self.label}-{tool}-r{self.rep + 1}".lower()
        return re.sub(r"[^a-z0-9-]", "-", name)[:63]


def last_line(text: str) -> str:
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return lines[-1][:200] if lines else ""


def bench_tool(ctx: Ctx, tool: rb.Tool) -> None:
    w, res, remote = ctx.w, ctx.res, ctx.remote
    base = WORK / "repos"
    repo = base / f"{ctx.label}-{remote}-{tool.name}"
    clone = base / f"{ctx.label}-{remote}-{tool.name}-clone"
    folder = WORK / "remotes" / f"{ctx.label}-{tool.name}-r{ctx.rep + 1}"
    tag = f"[{ctx.label} {remote} r{ctx.rep + 1} {tool.name}]"
    paths = wl.relpaths(w)
    changed_rel = paths[len(paths) // 2]

    def fail(step: str, cmd: list[str], msg: str, stderr: str | None = None) -> None:
        res.errors.append(
            {
                "workload": ctx.label,
                "remote": remote,
                "tool": tool.name,
                "rep": ctx.rep_key,
                "step": step,
                "cmd": " ".join(map(str, cmd)),
                "message": msg,
                "stderr": stderr,
            }
        )
        log(f"{tag} {step}: FAILED: {msg}")

    def step(name: str, cmd: list[str], cwd: Path, verify=None, rss: bool = False) -> bool:
        try:
            p = rb.run(cmd, cwd=cwd, capture=True, rss=rss)
        except rb.StepFailed as e:
            try:
                stderr = (WORK / ".stderr").read_text(errors="replace")[-6000:]
            except OSError:
                stderr = None
            fail(name, cmd, str(e), stderr)
            return False
        res.outputs.append([ctx.label, remote, tool.name, ctx.rep_key, name, last_line(p.stdout)])
        if verify:
            try:
                verify(p)
            except rb.StepFailed as e:
                fail(name, cmd, str(e), None)
                return False
        res.add_time(ctx.label, remote, name, tool.name, ctx.rep_key, p.seconds)
        extra = ""
        if rss:
            mib = p.maxrss_kib / 1024
            res.rss.setdefault((ctx.label, remote, tool.name), {})[ctx.rep_key] = mib
            extra = f"  (peak RSS {mib:.0f} MiB)"
        log(f"{tag} {name}: {p.seconds:.3f} s{extra}  | {last_line(p.stdout)}")
        return True

    def nothing_to_do(p: rb.Proc) -> None:
        if not re.search(r"up to date|nothing to push|^0 files pushed", p.stdout, re.I | re.M):
            raise rb.StepFailed(f"no-op push did not say up to date: {p.stdout.strip()[:300]!r}")

    def pushed_something(p: rb.Proc) -> None:
        if re.search(r"up to date", p.stdout, re.I):
            raise rb.StepFailed(f"push after a change uploaded nothing: {p.stdout.strip()[:300]!r}")

    def pulled(p: rb.Proc) -> None:
        got = wl.tree_stats(clone / "data") if (clone / "data").exists() else (0, 0)
        if got != ctx.expect:
            raise rb.StepFailed(
                f"pull gave {got[0]} files / {got[1]} bytes, expected {ctx.expect[0]} / {ctx.expect[1]}"
            )
        if not filecmp.cmp(
            repo / "data" / changed_rel, clone / "data" / changed_rel, shallow=False
        ):
            raise rb.StepFailed(f"pulled data/{changed_rel} differs from the pushed (changed) one")

    try:
        rb.fresh_repo(repo, tool)
        rb.run(["cp", "-r", str(ctx.src), str(repo / "data")], cwd=repo)
        # the remote
        if remote == "folder":
            rb.discard(folder)
            folder.parent.mkdir(parents=True, exist_ok=True)
            rb.sh(tool.cmd("remote", "add", "-d", "store", str(folder)), cwd=repo)
        elif remote == "gcs":
            bucket = ctx.server.new_bucket()
            rb.sh(tool.cmd("remote", "add", "-d", "store", f"gs://{bucket}/store"), cwd=repo)
        elif remote == "ssh":
            path = WORK / "remotes" / "sftp" / f"{ctx.label}-{tool.name}-r{ctx.rep + 1}"
            path.mkdir(parents=True)
            rb.sh(tool.cmd("remote", "add", "-d", "store", ctx.server.url(path)), cwd=repo)
            keyfile = str(ctx.server.keyfile)
            rb.sh(tool.cmd("remote", "modify", "store", "keyfile", keyfile), cwd=repo)
        elif remote == "webdav":
            name = f"{ctx.label}-{tool.name}-r{ctx.rep + 1}"
            (ctx.server.root / name).mkdir()  # dvc-webdav needs the collection to exist
            rb.sh(tool.cmd("remote", "add", "-d", "store", f"{ctx.server.url}/{name}"), cwd=repo)
        else:
            bucket = ctx.bucket(tool.name)
            s3_client(ctx.server).create_bucket(Bucket=bucket)
            rb.sh(tool.cmd("remote", "add", "-d", "store", f"s3://{bucket}/store"), cwd=repo)
            options = [("endpointurl", ctx.server.endpoint)]
            if remote == "s3":  # s3-imds: the keys come from instance metadata
                options += [
                    ("access_key_id", ctx.server.access_key),
                    ("secret_access_key", ctx.server.secret_key),
                ]
            for k, v in options:
                rb.sh(tool.cmd("remote", "modify", "--local", "store", k, v), cwd=repo)
    except (OSError, SystemExit, rb.StepFailed, Exception) as e:  # setup, not a timed step
        fail("(setup)", [], f"{type(e).__name__}: {e}")
        return

    if not step("add (setup)", tool.cmd("add", "data"), repo):
        fail("(rest)", [], "skipped: add failed")
        return
    ok = step("push (first)", tool.cmd("push"), repo, rss=True)
    if ok:
        step("push (no-op)", tool.cmd("push"), repo, verify=nothing_to_do)
    rb.rewrite_changed(repo / "data" / changed_rel)
    try:
        rb.run(tool.cmd("add", "data"), cwd=repo)
    except rb.StepFailed as e:
        fail("add (after change)", tool.cmd("add", "data"), str(e))
        return
    ok = step("push (1 changed)", tool.cmd("push"), repo, verify=pushed_something) and ok
    if not ok:
        fail("pull (fresh clone)", [], "skipped: a push failed, the remote is incomplete")
    else:
        rb.discard(clone)
        clone.mkdir(parents=True)
        rb.sh(["git", "init", "-q"], cwd=clone)
        (clone / ".dvc").mkdir()
        for name in ("config", "config.local", "bale.conf"):
            if (repo / ".dvc" / name).exists():
                shutil.copy2(repo / ".dvc" / name, clone / ".dvc" / name)
        shutil.copy2(repo / "data.dvc", clone / "data.dvc")
        step("pull (fresh clone)", tool.cmd("pull"), clone, verify=pulled)
    for p in (repo, clone, folder):
        rb.discard(p)


@contextlib.contextmanager
def gcs_emulator():
    """fake-gcs-server on loopback; the tools (bale, dvc-gs) find it through
    STORAGE_EMULATOR_HOST, as gcsfs does."""
    from tests.remotes.gcs_server import start_gcs

    # In memory, as the tests run it. Its filesystem backend does not slow
    # as a bucket fills, as this one does, but took 6-8 s per 1,000 small
    # objects from the first (RESULTS.md, issue 23): every md5 push, 1,000
    # files as well as 10,000, would time the emulator.
    server = start_gcs()
    with environment(STORAGE_EMULATOR_HOST=server.endpoint):
        try:
            yield server
        finally:
            server.stop()


@contextlib.contextmanager
def ssh_server():
    """OpenSSH's sshd on loopback, the tools' HOME one whose known_hosts knows it."""
    from tests.remotes.sshd import start_sshd

    server = start_sshd()
    with environment(HOME=str(server.home), SSH_AUTH_SOCK=None):
        try:
            yield server
        finally:
            server.stop()


@contextlib.contextmanager
def environment(**changes):
    """rb.ENV (the tools' environment) with ``changes`` (None unsets) for a while."""
    saved = dict(rb.ENV)
    for k, v in changes.items():
        if v is None:
            rb.ENV.pop(k, None)
        else:
            rb.ENV[k] = v
    try:
        yield
    finally:
        rb.ENV.clear()
        rb.ENV.update(saved)


@contextlib.contextmanager
def instance_metadata(server):
    """EC2 instance metadata (IMDSv2) on loopback handing out the server's
    keys, and the tools pointed at it with no other credentials: the chain
    dvc's botocore and bale resolve on an EC2 instance. The token is empty
    (SeaweedFS refuses session tokens for its static keys); botocore then
    signs without one, as it would with any IMDS answer."""
    from aiohttp import web

    from tests.remotes.http_server import running

    async def token(request):
        return web.Response(text="bench-token")

    async def roles(request):
        return web.Response(text="bench-role")

    async def role(request):
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 6 * 3600))
        body = {
            "Code": "Success",
            "AccessKeyId": server.access_key,
            "SecretAccessKey": server.secret_key,
            "Token": "",
            "Expiration": expires,
        }
        return web.json_response(body)

    app = web.Application()
    app.router.add_put("/latest/api/token", token)
    app.router.add_get("/latest/meta-data/iam/security-credentials/", roles)
    app.router.add_get("/latest/meta-data/iam/security-credentials/{name}", role)
    unset = dict.fromkeys((k for k in rb.ENV if k.startswith("AWS_")), None)
    with (
        running(app) as url,
        environment(
            **unset,
            AWS_EC2_METADATA_SERVICE_ENDPOINT=url + "/",
            AWS_EC2_METADATA_DISABLED="false",
            AWS_SHARED_CREDENTIALS_FILE=str(WORK / "no-credentials"),
            AWS_CONFIG_FILE=str(WORK / "no-config"),
        ),
    ):
        yield


def bench_raw(ctx: Ctx) -> None:
    """The raw client of ctx.remote's protocol: upload the W2 file, download it again."""
    if ctx.remote == "webdav":
        bench_raw_dav(ctx)
    elif ctx.remote == "ssh":
        bench_raw_ssh(ctx)
    elif ctx.remote == "gcs":
        bench_raw_gcs(ctx)
    else:
        bench_raw_s3(ctx)


def bench_raw_dav(ctx: Ctx) -> None:
    """curl: one PUT of the file, one GET of it back (WsgiDAV has no
    parallel-upload protocol to be faster with)."""
    res, tag = ctx.res, f"[{ctx.label} webdav r{ctx.rep + 1} {RAW}]"
    f = ctx.src / wl.relpaths(ctx.w)[0]
    url = ctx.server.url.replace("webdav://", "http://") + f"/raw-r{ctx.rep + 1}.bin"
    dst_dir = WORK / "repos" / "raw-download"
    rb.discard(dst_dir)
    dst_dir.mkdir(parents=True)
    dst = dst_dir / f.name
    for step, cmd in (
        ("push (first)", ["curl", "-sSf", "-T", str(f), url]),
        ("pull (fresh clone)", ["curl", "-sSf", "-o", str(dst), url]),
    ):
        try:
            p = rb.run(cmd, cwd=WORK, rss=step == "push (first)")
        except rb.StepFailed as e:
            res.errors.append(
                {
                    "workload": ctx.label,
                    "remote": "webdav",
                    "tool": RAW,
                    "rep": ctx.rep_key,
                    "step": step,
                    "cmd": " ".join(cmd),
                    "message": str(e),
                    "stderr": None,
                }
            )
            log(f"{tag} {step}: FAILED: {e}")
            break
        res.add_time(ctx.label, "webdav", step, RAW, ctx.rep_key, p.seconds)
        log(f"{tag} {step}: {p.seconds:.3f} s ({ctx.expect[1] / p.seconds / 1e6:.0f} MB/s)")
    if dst.exists() and dst.stat().st_size != ctx.expect[1]:
        log(f"{tag} download has {dst.stat().st_size} bytes, expected {ctx.expect[1]}")
    rb.rm_rf(dst_dir)
    (ctx.server.root / f"raw-r{ctx.rep + 1}.bin").unlink(missing_ok=True)


def bench_raw_ssh(ctx: Ctx) -> None:
    """OpenSSH's sftp (RAW_SFTP_OPTIONS): put the W2 file, get it back; then
    asyncssh's sftp.put/get the same way, logged as a note."""
    res, tag, srv = ctx.res, f"[{ctx.label} ssh r{ctx.rep + 1} {RAW}]", ctx.server
    f = ctx.src / wl.relpaths(ctx.w)[0]
    folder = WORK / "remotes" / "sftp" / f"{ctx.label}-{RAW}-r{ctx.rep + 1}"
    folder.mkdir(parents=True)
    dst_dir = WORK / "repos" / "raw-download"
    rb.discard(dst_dir)
    dst_dir.mkdir(parents=True)
    dst = dst_dir / f.name
    batch = WORK / "raw-sftp-batch"
    # OpenSSH reads ~/.ssh of the passwd entry, not $HOME: name what it needs
    ssh = ["-i", str(srv.keyfile), "-F", "/dev/null", "-o", "BatchMode=yes"]
    ssh += ["-o", f"UserKnownHostsFile={srv.known_hosts}", "-P", str(srv.port)]
    sftp = ["sftp", *ssh, *RAW_SFTP_OPTIONS, "-b", str(batch), f"{srv.user}@127.0.0.1"]
    for step, line in (
        ("push (first)", f"put {f} {folder}/raw.bin"),
        ("pull (fresh clone)", f"get {folder}/raw.bin {dst}"),
    ):
        batch.write_text(line + "\n")
        try:
            p = rb.run(sftp, cwd=WORK, rss=step == "push (first)")
        except rb.StepFailed as e:
            res.errors.append(
                {
                    "workload": ctx.label,
                    "remote": "ssh",
                    "tool": RAW,
                    "rep": ctx.rep_key,
                    "step": step,
                    "cmd": " ".join(sftp) + f" ({line})",
                    "message": str(e),
                    "stderr": None,
                }
            )
            log(f"{tag} {step}: FAILED: {e}")
            break
        res.add_time(ctx.label, "ssh", step, RAW, ctx.rep_key, p.seconds)
        log(f"{tag} {step}: {p.seconds:.3f} s ({ctx.expect[1] / p.seconds / 1e6:.0f} MB/s)")
    if dst.exists() and dst.stat().st_size != ctx.expect[1]:
        log(f"{tag} download has {dst.stat().st_size} bytes, expected {ctx.expect[1]}")
    rb.discard(dst)
    speeds = []
    for op, a, b in (("put", f, folder / "asyncssh.bin"), ("get", folder / "asyncssh.bin", dst)):
        args = [str(srv.port), srv.user, str(srv.keyfile), str(srv.known_hosts), str(a), str(b)]
        try:
            p = rb.run([sys.executable, "-c", RAW_ASYNCSSH, op, *args], cwd=WORK)
        except rb.StepFailed as e:
            log(f"{tag} asyncssh {op}: FAILED: {e}")
            break
        speeds.append(f"{op} {ctx.expect[1] / p.seconds / 1e6:.0f} MB/s")
        log(f"{tag} asyncssh {op}: {p.seconds:.3f} s")
    if speeds:
        res.notes.append(f"{ctx.label} ssh r{ctx.rep + 1}: asyncssh sftp " + ", ".join(speeds))
    rb.rm_rf(dst_dir)
    rb.discard(folder)


def bench_raw_gcs(ctx: Ctx) -> None:
    """google-cloud-storage: upload the W2 file, download it again (see RAW_GCS_SCRIPT)."""
    res, tag = ctx.res, f"[{ctx.label} gcs r{ctx.rep + 1} {RAW}]"
    f = ctx.src / wl.relpaths(ctx.w)[0]
    bucket = ctx.server.new_bucket()
    dst_dir = WORK / "repos" / "raw-download"
    rb.discard(dst_dir)
    dst_dir.mkdir(parents=True)
    dst = dst_dir / f.name
    for step, op, path in (
        ("push (first)", "upload", f),
        ("pull (fresh clone)", "download", dst),
    ):
        args = [bucket, "store/raw.bin", str(path), str(RAW_GCS_PART), str(RAW_GCS_THREADS)]
        cmd = [sys.executable, "-c", RAW_GCS_SCRIPT, op, *args]
        try:
            p = rb.run(cmd, cwd=WORK, rss=step == "push (first)")
        except rb.StepFailed as e:
            res.errors.append(
                {
                    "workload": ctx.label,
                    "remote": "gcs",
                    "tool": RAW,
                    "rep": ctx.rep_key,
                    "step": step,
                    "cmd": f"google-cloud-storage {op}",
                    "message": str(e),
                    "stderr": None,
                }
            )
            log(f"{tag} {op}: FAILED: {e}")
            break
        if step == "push (first)":
            res.rss.setdefault((ctx.label, "gcs", RAW), {})[ctx.rep_key] = p.maxrss_kib / 1024
        res.add_time(ctx.label, "gcs", step, RAW, ctx.rep_key, p.seconds)
        log(f"{tag} {op}: {p.seconds:.3f} s ({ctx.expect[1] / p.seconds / 1e6:.0f} MB/s)")
    if dst.exists() and dst.stat().st_size != ctx.expect[1]:
        log(f"{tag} download has {dst.stat().st_size} bytes, expected {ctx.expect[1]}")
    rb.rm_rf(dst_dir)


def bench_raw_s3(ctx: Ctx) -> None:
    """boto3 TransferManager: upload the W2 file, download it again."""
    res, tag = ctx.res, f"[{ctx.label} s3 r{ctx.rep + 1} {RAW}]"
    f = ctx.src / wl.relpaths(ctx.w)[0]
    bucket = ctx.bucket(RAW)
    s3_client(ctx.server).create_bucket(Bucket=bucket)
    dst_dir = WORK / "repos" / "raw-download"
    rb.discard(dst_dir)
    dst_dir.mkdir(parents=True)
    dst = dst_dir / f.name
    srv = ctx.server
    for step, op, path in (
        ("push (first)", "upload", f),
        ("pull (fresh clone)", "download", dst),
    ):
        cmd = [
            sys.executable,
            "-c",
            RAW_SCRIPT,
            op,
            srv.endpoint,
            srv.access_key,
            srv.secret_key,
            bucket,
            "store/raw.bin",
            str(path),
            str(PART),
            str(RAW_THREADS),
        ]
        try:
            p = rb.run(cmd, cwd=WORK, rss=step == "push (first)")
        except rb.StepFailed as e:
            ctx.res.errors.append(
                {
                    "workload": ctx.label,
                    "remote": "s3",
                    "tool": RAW,
                    "rep": ctx.rep_key,
                    "step": step,
                    "cmd": f"boto3 {op}_file",
                    "message": str(e),
                    "stderr": None,
                }
            )
            log(f"{tag} {op}: FAILED: {e}")
            break
        if step == "push (first)":
            res.rss.setdefault((ctx.label, "s3", RAW), {})[ctx.rep_key] = p.maxrss_kib / 1024
        res.add_time(ctx.label, "s3", step, RAW, ctx.rep_key, p.seconds)
        mbs = ctx.expect[1] / p.seconds / 1e6
        log(f"{tag} {op}: {p.seconds:.3f} s ({mbs:.0f} MB/s)")
    if dst.exists() and dst.stat().st_size != ctx.expect[1]:
        log(f"{tag} download has {dst.stat().st_size} bytes, expected {ctx.expect[1]}")
    rb.rm_rf(dst_dir)


# --------------------------------------------------------------------------
# machine


def machine() -> dict:
    def version(*c: str) -> str:
        try:
            return subprocess.run(c, capture_output=True, text=True).stdout.strip()
        except OSError:
            return "?"

    return {
        **history.machine(WORK),
        "weed": version("weed", "version").splitlines()[0] if shutil.which("weed") else "?",
        "boto3": version(sys.executable, "-c", "import boto3; print(boto3.__version__)"),
        "google-cloud-storage": version(
            sys.executable, "-c", "import google.cloud.storage as s; print(s.__version__)"
        ),
    }


class RunRecord:
    """A run's entry in ``res.runs``: what ran, with which tools, on which
    machine and engine (``extra`` keys go after the versions). The engine is
    fingerprinted again after each step: a rebuild during the run is noted,
    so no figure is taken for the wrong build."""

    def __init__(self, res, run_id: str, started: float, versions: dict, tools, **extra) -> None:
        self.res = res
        self.engines = [rb.engine_fingerprint()]
        self.meta = {
            "run_id": run_id,
            "argv": sys.argv[1:],
            "started": started,
            "versions": versions,
            **extra,
            "engines": self.engines,
            "machine": machine(),
            "executables": {t.name: t.exe for t in tools},
        }
        res.runs.append(self.meta)

    def save(self, json_path: str | None) -> None:
        self.meta["ended"] = time.time()
        self.meta["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
        if json_path:
            Path(json_path).write_text(json.dumps(self.res.to_json(), indent=1))

    def check_engine(self, where: str) -> None:
        fp = rb.engine_fingerprint()
        if fp != self.engines[-1]:
            self.engines.append(fp)
            self.res.notes.append(f"bale's engine changed during the run ({where}): now {fp}")
            log(f"WARNING: bale's engine changed ({where}): {fp}")


# --------------------------------------------------------------------------
# table

HEADER = [
    "workload",
    "remote",
    "step",
    "bale-md5",
    "bale-blake3",
    "dvc",
    "dvc/md5",
    "dvc/blake3",
    "raw",
    "md5 % raw",
    "blake3 % raw",
    "dvc % raw",
]


def fmt_pct(v: float | None) -> str:
    return "" if v is None else f"{v * 100:.0f}%"


def workload_order(res: Results) -> list[str]:
    seen: list[str] = []
    for k in res.times:
        if k[0] not in seen:
            seen.append(k[0])
    return sorted(seen, key=lambda x: (x[:2], -res.bytes.get(x, 0)))


def build_rows(res: Results) -> list[list[str]]:
    rows = []
    for w in workload_order(res):
        for r in ALL_REMOTES:
            if not any(k[0] == w and k[1] == r for k in res.times):
                continue
            for s in STEPS:
                samples = {t: res.times.get((w, r, s, t)) for t in (*ALL_TOOLS, RAW)}
                errs = {
                    e["tool"]
                    for e in res.errors
                    if e["workload"] == w
                    and e["remote"] == r
                    and e["step"] in (s, "(rest)", "(setup)")
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

                raw = samples[RAW] if s in RAW_STEP else None
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
                        rb.fmt_s(rb.med(raw)) if raw else "",
                        fmt_pct(rb.paired_ratio(raw, samples["bale-md5"])) if raw else "",
                        fmt_pct(rb.paired_ratio(raw, samples["bale-blake3"])) if raw else "",
                        fmt_pct(rb.paired_ratio(raw, samples["dvc"])) if raw else "",
                    ]
                )
            rss = {t: res.rss.get((w, r, t)) for t in (*ALL_TOOLS, RAW)}
            rows.append(
                [
                    w,
                    r,
                    "push peak RSS",
                    *[f"{rb.med(rss[t]):.0f} MiB" if rss[t] else "-" for t in ALL_TOOLS],
                    rb.fmt_x(rb.paired_ratio(rss["dvc"], rss["bale-md5"])),
                    rb.fmt_x(rb.paired_ratio(rss["dvc"], rss["bale-blake3"])),
                    f"{rb.med(rss[RAW]):.0f} MiB" if rss[RAW] else "",
                    "",
                    "",
                    "",
                ]
            )
    return rows


def throughput_lines(res: Results) -> list[str]:
    """MB/s of the big-file rows (W2): median over repetitions."""
    out = []
    for w in workload_order(res):
        if not w.startswith("W2"):
            continue
        n = res.bytes.get(w)
        for r in ALL_REMOTES:
            for s in ("push (first)", "pull (fresh clone)"):
                parts = []
                for t in (*ALL_TOOLS, RAW):
                    v = res.times.get((w, r, s, t))
                    if v and n:
                        parts.append(f"{t} {n / rb.med(v) / 1e6:.0f}")
                if parts:
                    out.append(f"{w} {r} {s}: " + ", ".join(parts) + " MB/s (median)")
    return out


def targets(res: Results) -> list[list[str]]:
    """The issue's targets, checked on whatever this run measured."""
    out = []

    def ratio(w, r, s, t):
        return rb.paired_ratio(res.times.get((w, r, s, "dvc")), res.times.get((w, r, s, t)))

    w1 = [w for w in workload_order(res) if w.startswith("W1")]
    w2 = [w for w in workload_order(res) if w.startswith("W2")]
    for w in w1:
        for t, goal in (("bale-blake3", 20), ("bale-md5", 3)):
            for s in ("push (first)", "pull (fresh clone)"):
                for r in ("folder", "s3"):
                    x = ratio(w, r, s, t)
                    if x is None:
                        continue
                    target = f"{w} {s.split()[0]} {t} >= {goal}x faster than dvc" + (
                        "" if r == "s3" else " (target is for S3; folder for reference)"
                    )
                    verdict = "met" if x >= goal else "MISSED"
                    if r != "s3":
                        verdict = f"reference only ({verdict.lower()} if it were S3)"
                    out.append([f"{target} [{r}]", rb.fmt_x(x), verdict])
    # issue 23: the same W1 goals on each new kind of remote
    for w in w1:
        for r in CLOUD_REMOTES:
            for t, goal in (("bale-blake3", 20), ("bale-md5", 3)):
                for s in ("push (first)", "pull (fresh clone)"):
                    x = ratio(w, r, s, t)
                    if x is not None:
                        verdict = "met" if x >= goal else "MISSED"
                        target = f"{w} {r} {s.split()[0]} {t} >= {goal}x faster than dvc"
                        out.append([target, rb.fmt_x(x), verdict])
    # issue 23: credentials from instance metadata cost nothing per request
    for w in w1 + w2:
        for s in ("push (first)", "pull (fresh clone)"):
            for t in ("bale-md5", "bale-blake3"):
                x = rb.paired_ratio(
                    res.times.get((w, "s3", s, t)), res.times.get((w, "s3-imds", s, t))
                )
                if x is not None:
                    out.append(
                        [
                            f"{w} {s.split()[0]} {t}: keys from instance metadata no slower "
                            "than static keys (s3 time / s3-imds time, paired)",
                            f"{x:.2f}",
                            "met" if x >= 0.95 else "MISSED",
                        ]
                    )
    for s, goal, ws in (("push (no-op)", 1.0, w1 + w2), ("push (1 changed)", 2.0, w1)):
        for w in ws:
            for r in ALL_REMOTES:
                for t in ("bale-md5", "bale-blake3"):
                    v = res.times.get((w, r, s, t))
                    if not v:
                        continue
                    m = rb.med(v)
                    out.append(
                        [
                            f"{w} {r} {s} {t} <= {goal:g} s",
                            f"{rb.fmt_s(m)} (max {rb.fmt_s(max(v.values()))})",
                            "met" if m <= goal else "MISSED",
                        ]
                    )
    for w in w2:
        for r, s in ((r, s) for r in RAW_CLIENTS for s in ("push (first)", "pull (fresh clone)")):
            raw = res.times.get((w, r, s, RAW))
            for t in ("bale-md5", "bale-blake3"):
                x = rb.paired_ratio(raw, res.times.get((w, r, s, t)))
                if x is None:
                    continue
                out.append(
                    [
                        f"{w} {r} {s.split()[0]} {t} >= 80% of {RAW_CLIENTS[r]}'s throughput",
                        fmt_pct(x),
                        "met" if x >= 0.8 else "MISSED",
                    ]
                )
    for w in w1:
        for r in ALL_REMOTES:
            for t in ("bale-md5", "bale-blake3"):
                v = res.rss.get((w, r, t))
                if not v:
                    continue
                mb = max(v.values()) * 1.048576
                out.append(
                    [
                        f"{w} {r} push peak memory {t} <= 300 MB",
                        f"{rb.med(v):.0f} MiB median, {mb:.0f} MB max",
                        "met" if mb <= 300 else "MISSED",
                    ]
                )
    return out


def report(res: Results, markdown: bool = False) -> str:
    rows = build_rows(res)
    lines = []
    for w in workload_order(res):
        lines.append(f"  {w}: {res.descriptions.get(w, '')}")
    if markdown:
        lines = [x.strip() for x in lines]
        body = [
            "Workloads: " + "; ".join(lines) + ".",
            "",
            rb.markdown_table(rows, HEADER, left=3),
            "",
            *[f"- {x}" for x in throughput_lines(res)],
            "",
            "| target | measured | verdict |",
            "|---|---|---|",
            *[f"| {a} | {b} | {c} |" for a, b, c in targets(res)],
        ]
    else:
        body = [
            *lines,
            rb.plain_table(rows, HEADER, group=2),
            "",
            *throughput_lines(res),
            "",
            "targets:",
            *[f"  {a}: {b}: {c}" for a, b, c in targets(res)],
        ]
    if res.errors:
        body += ["", "ERRORS:" if not markdown else "Errors:", ""]
        for e in res.errors:
            head = f"{e['workload']} {e['remote']} {e['tool']} rep {e['rep']} {e['step']}: `{e['cmd']}`: {e['message']}"
            body.append(("- " if markdown else "  ") + head)
            if e.get("stderr"):
                body += ["", "```", e["stderr"].rstrip(), "```", ""]
    if res.notes:
        body += ["", "notes:"] + [("- " if markdown else "  - ") + n for n in res.notes]
    return "\n".join(body)


# --------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--workloads", default="W1,W2", help="from workloads.py (default: W1,W2)")
    ap.add_argument("--remotes", default="folder,s3", help="folder,s3 (default: both)")
    ap.add_argument(
        "--tools",
        default=",".join(ALL_TOOLS),
        help=f"subset of {','.join(ALL_TOOLS)} (default: all)",
    )
    ap.add_argument("--repeat", type=int, default=3, help="repetitions (default: 3)")
    ap.add_argument(
        "--dvc-repeat",
        type=int,
        default=None,
        help="repetitions for dvc (default: --repeat); dvc W1 steps take minutes",
    )
    ap.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="shrink W1's file count and W2's size (0.1: 10,000 files, 205 MiB)",
    )
    ap.add_argument(
        "--no-raw", action="store_true", help="skip the raw client baseline (W2 on S3, WebDAV, GCS)"
    )
    ap.add_argument(
        "--stop-after",
        type=float,
        metavar="MIN",
        help="start no new repetition after MIN minutes (the ones done are reported)",
    )
    ap.add_argument(
        "--json", metavar="FILE", help="write the raw samples as JSON (after each tool)"
    )
    ap.add_argument(
        "--merge",
        nargs="+",
        metavar="FILE",
        help="do not measure: render these --json files as one table",
    )
    ap.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    ap.add_argument("--keep", action="store_true", help="keep benches/work (generated workloads)")
    ap.add_argument(
        "--baseline",
        metavar="CHECKOUT",
        help="A/B: also run the bale of CHECKOUT (another checkout, extension built) "
        "as bale-md5-old / bale-blake3-old, interleaved; prints an A/B table",
    )
    args = ap.parse_args()

    res = Results()
    if args.merge:
        for f in args.merge:
            res.merge_json(json.loads(Path(f).read_text()))
        return finish(res, args)[0]

    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    remotes = [r.strip() for r in args.remotes.split(",") if r.strip()]
    tool_names = [t.strip() for t in args.tools.split(",") if t.strip()]
    specs = wl.workloads(args.scale)
    for n in names:
        if n not in specs:
            ap.error(f"unknown workload {n} (choose from {', '.join(specs)})")
    for r in remotes:
        if r not in ALL_REMOTES:
            ap.error(f"unknown remote {r} (choose from {', '.join(ALL_REMOTES)})")
    for t in tool_names:
        if t not in ALL_TOOLS:
            ap.error(f"unknown tool {t} (choose from {', '.join(ALL_TOOLS)})")
    WORK.mkdir(parents=True, exist_ok=True)
    baseline = Path(args.baseline) if args.baseline else None
    tools = rb.make_tools(tool_names, baseline)
    dvc_repeat = args.dvc_repeat if args.dvc_repeat is not None else args.repeat

    start_seaweed = None
    sys.path.insert(0, str(HERE.parent))
    if "s3" in remotes or "s3-imds" in remotes:
        from tests.remotes.seaweed import start_seaweed

    started = time.time()
    run_id = time.strftime("%H%M%S", time.gmtime(started))
    versions = rb.tool_versions(tools)
    record = RunRecord(res, run_id, started, versions, tools)
    meta = record.meta
    log(f"tools: {versions}; {meta['executables']}; engine {record.engines[0]}")

    def save() -> None:
        record.save(args.json)

    check_engine = record.check_engine

    stop = False
    for n in names:
        w = specs[n]
        label = n if args.scale == 1 else f"{n}@{args.scale:g}"
        t0 = time.perf_counter()
        src = wl.generate(w, WORK / "src" / f"scale-{args.scale:g}")
        res.descriptions[label] = w.description
        res.bytes[label] = wl.tree_stats(src)[1]
        log(f"[{label}] {w.description}: ready in {time.perf_counter() - t0:.1f} s")
        for rep in range(args.repeat):
            if args.stop_after and time.time() - started > args.stop_after * 60:
                res.notes.append(
                    f"{label}: stopped after {rep} repetition(s) (--stop-after {args.stop_after:g})"
                )
                log(f"[{label}] --stop-after reached: no repetition {rep + 1}")
                stop = True
                break
            for remote in remotes:
                server = None
                served = contextlib.ExitStack()
                if remote.startswith("s3"):
                    (WORK / "seaweed").mkdir(parents=True, exist_ok=True)
                    server = start_seaweed(WORK / "seaweed")
                    log(f"[{label}] weed mini at {server.endpoint}")
                    if remote == "s3-imds":
                        served.enter_context(instance_metadata(server))
                elif remote == "webdav":
                    from tests.remotes.webdav_server import serving_webdav

                    root = WORK / "remotes" / "dav"
                    root.mkdir(parents=True, exist_ok=True)
                    server = served.enter_context(serving_webdav(root))
                    log(f"[{label}] WsgiDAV at {server.url}")
                elif remote == "gcs":
                    server = served.enter_context(gcs_emulator())
                    log(f"[{label}] fake-gcs-server at {server.endpoint}")
                elif remote == "ssh":
                    server = served.enter_context(ssh_server())
                    log(f"[{label}] sshd at {server.host_port}")
                try:
                    ctx = Ctx(w, label, src, remote, rep, f"{run_id}.{rep}", server, run_id, res)
                    order = list(tools)
                    k = rep % len(order)
                    order = order[k:] + order[:k]
                    entries: list = list(order)
                    if remote in RAW_CLIENTS and n == "W2" and not args.no_raw:
                        entries.insert(rep % (len(entries) + 1), RAW)
                    for tool in entries:
                        if tool == RAW:
                            bench_raw(ctx)
                            continue
                        if tool.name == "dvc" and rep >= dvc_repeat:
                            continue
                        try:
                            bench_tool(ctx, tool)
                        except Exception as e:  # a bug here must not lose the run
                            res.errors.append(
                                {
                                    "workload": label,
                                    "remote": remote,
                                    "tool": tool.name,
                                    "rep": ctx.rep_key,
                                    "step": "(harness)",
                                    "cmd": "",
                                    "message": f"{type(e).__name__}: {e}",
                                    "stderr": None,
                                }
                            )
                            log(f"[{label} {remote} r{rep + 1} {tool.name}] harness error: {e!r}")
                        if w.nfiles <= 10:  # big files: free the disk at once
                            rb.rm_rf(WORK / "trash")
                        if tool.name.startswith("bale"):
                            check_engine(f"after {label} {remote} r{rep + 1} {tool.name}")
                        save()
                finally:
                    served.close()
                    if server is not None and remote.startswith("s3"):
                        server.stop()
            t0 = time.perf_counter()
            rb.rm_rf(WORK / "trash")  # once per repetition
            log(f"[{label}] r{rep + 1} done; emptied the trash in {time.perf_counter() - t0:.1f} s")
            save()
        if stop:
            break
    save()
    code, ab = finish(res, args, baseline)
    history.record(
        "sync.py", args, started, HEADER, build_rows(res), res.to_json(), meta["machine"], ab
    )
    if not args.keep:
        log("cleaning up benches/work")
        rb.rm_rf(WORK)
    return code


def finish(res: Results, args, baseline: Path | None = None) -> tuple[int, dict | None]:
    """Prints the report (and with ``baseline`` the A/B table, returned for the history)."""
    print()
    print(report(res))
    ab = None
    if baseline:
        bales = [t.strip() for t in args.tools.split(",") if t.strip().startswith("bale")]
        groups = [(w, r, s) for w in workload_order(res) for r in ALL_REMOTES for s in STEPS]
        rows = rb.ab_rows(res.times, groups, bales)
        ab = rb.ab_table(baseline, ["workload", "remote", "step"], bales, rows, args.markdown)
    if args.markdown:
        print()
        print(rb.markdown_table(build_rows(res), HEADER, left=3))
    sys.stdout.flush()
    return 1 if res.errors else 0, ab


if __name__ == "__main__":
    raise SystemExit(main())
