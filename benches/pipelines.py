#!/usr/bin/env python3
"""Pipelines (issue 5): no-op ``repro`` and ``status`` of a 50-stage
pipeline whose every stage depends on a 100,000-file directory, bale vs dvc.

    python benches/pipelines.py [--scale F] [--repeat N] [--stages N]
                                [--param-stage K] [--tools bale-md5,dvc]
                                [--markdown] [--json FILE] [--keep]

The directory is workload W1 of ``workloads.py`` (100,000 files of 1-8 KiB
in 100 directories; ``--scale 0.05`` gives 5,000), generated once into
``benches/work/src/W1`` (shared with ``run.py``).  Each tool gets a fresh
``git init`` repository (``bale init --hash md5`` / ``dvc init``) under
``benches/work/pipelines/``, into which W1 is copied as ``data/`` and
tracked with ``add data`` (so ``data.dvc`` is a node of the graph, as in
most real projects), and this pipeline is written (identical files for both
tools):

    s00        deps: data, src/s00.py                         outs: out/s00.txt
    sNN, N>0   deps: data, src/sNN.py, out/s(N-1).txt
               params: sNN.value, common.seed (params.yaml)    outs: out/sNN.txt
               every 5th stage also writes metrics/sNN.json (``metrics:``,
               ``cache: false``)

Every cmd is ``python src/sNN.py``: reads its param and the previous
stage's output and writes a few bytes (the real Python is put first on
PATH, so stages do not go through a pyenv shim).  The first ``repro`` (all
stages run) is timed and reported once; then everything is committed to git
and each repetition times, as whole processes (``run.py``'s ``run``), the
tools interleaved within each step (order rotated per repetition):

    repro (no-op)             nothing changed: no stage may run, dvc.lock unchanged
    status (no-op)            must print "Data and pipelines are up to date."
    status (10 touched)       after os.utime on 10 files of data/ (content
                              unchanged): must still be up to date
    repro (1 param changed)   sK.value (K = --param-stage, default 45 of 50)
                              set to a new value: exactly sK..s49 must run
                              (outputs carry the param downstream), and
                              dvc.lock must record the new value

``status --json`` must print ``{}`` after the first repro and at the end.
Cells are MEDIANS over ``--repeat``; ratios (dvc/bale) are the median of the
per-repetition ratios (paired), as in ``run.py``.  A failed step is recorded
and the run carries on.  Repositories are deleted at the end unless
``--keep`` (then also the W1 source is kept).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import chunks as cb
import history
import run as rb
import workloads as wl

WORK = rb.WORK / "pipelines"
rb.WORK = WORK  # run.py's scratch files (.stdout, .stderr) and trash go here
cb.WORK = WORK  # machine(): free disk of this file system
ENV = rb.ENV
ENV["PATH"] = str(Path(sys.executable).parent) + os.pathsep + ENV.get("PATH", "")
ENV.update(
    GIT_AUTHOR_NAME="bench",
    GIT_AUTHOR_EMAIL="bench@example.invalid",
    GIT_COMMITTER_NAME="bench",
    GIT_COMMITTER_EMAIL="bench@example.invalid",
)
log = rb.log

STEPS = ("repro (no-op)", "status (no-op)", "status (10 touched)", "repro (1 param changed)")
ONCE = ("add data", "first repro (all stages)")
TARGET = 10.0  # issue 5: no-op repro and status >= 10x faster than dvc
UP_TO_DATE = "Data and pipelines are up to date"


# --------------------------------------------------------------------------
# the pipeline


def metrics_stage(i: int) -> bool:
    return i % 5 == 4


def stage_script(i: int) -> str:
    name = f"s{i:02d}"
    prev = f"out/s{i - 1:02d}.txt" if i else ""
    return f'''import hashlib, json, os, re
NAME, PREV = "{name}", "{prev}"
text = open("params.yaml").read()
m = re.search(r"^" + NAME + r":\\n  value: (\\S+)", text, re.M)
value = m.group(1) if m else "-"
prev = hashlib.md5(open(PREV, "rb").read()).hexdigest() if PREV else "-"
os.makedirs("out", exist_ok=True)
with open("out/" + NAME + ".txt", "w") as f:
    f.write(f"{{NAME}} value={{value}} prev={{prev}}\\n")
if {metrics_stage(i)}:
    os.makedirs("metrics", exist_ok=True)
    with open("metrics/" + NAME + ".json", "w") as f:
        json.dump({{"stage": NAME, "score": len(value) + int(prev[:4], 16) / 65536}}, f)
'''


def params_text(n: int, values: dict[int, str]) -> str:
    lines = ["common:", "  seed: 7"]
    for i in range(1, n):
        lines += [f"s{i:02d}:", f"  value: {values.get(i, i)}"]
    return "\n".join(lines) + "\n"


def dvc_yaml(n: int) -> str:
    out = ["stages:"]
    for i in range(n):
        s = f"s{i:02d}"
        out += [
            f"  {s}:",
            f"    cmd: python src/{s}.py",
            "    deps:",
            "    - data",
            f"    - src/{s}.py",
        ]
        if i:
            out += [
                f"    - out/s{i - 1:02d}.txt",
                "    params:",
                f"    - {s}.value",
                "    - common.seed",
            ]
        out += ["    outs:", f"    - out/{s}.txt"]
        if metrics_stage(i):
            out += ["    metrics:", f"    - metrics/{s}.json:", "        cache: false"]
    return "\n".join(out) + "\n"


def write_pipeline(repo: Path, n: int) -> None:
    (repo / "src").mkdir()
    for i in range(n):
        (repo / "src" / f"s{i:02d}.py").write_text(stage_script(i))
    (repo / "params.yaml").write_text(params_text(n, {}))
    (repo / "dvc.yaml").write_text(dvc_yaml(n))


def source_fingerprint() -> str:
    """sha256 prefix of bale's Python sources: the checkout is installed
    editable and edited by others, so a run can straddle a code change."""
    import hashlib

    h = hashlib.sha256()
    for f in sorted((rb.HERE.parent / "python" / "bale").rglob("*.py")):
        h.update(f.as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:12]


def ran_stages(stdout: str) -> list[str]:
    return re.findall(r"^Running stage '([^']+)'", stdout, re.M)


# --------------------------------------------------------------------------
# measurements


class Bench:
    def __init__(self, args, tools: list[rb.Tool]) -> None:
        self.args = args
        self.tools = tools
        self.times: dict[tuple[str, str], dict[int, float]] = {}  # (step, tool) -> {rep: s}
        self.errors: list[tuple[str, str, str]] = []  # (tool, step, text)
        self.notes: list[str] = []
        self.repos: dict[str, Path] = {}
        self.loads: list = []
        self.relpaths: list[str] = []

    def record(self, step: str, tool: str, rep: int, s: float) -> None:
        self.times.setdefault((step, tool), {})[rep] = s

    def step(
        self, tool: rb.Tool, rep: int, name: str, args: list[str], verify=None
    ) -> rb.Proc | None:
        repo = self.repos[tool.name]
        try:
            p = rb.run(tool.cmd(*args), cwd=repo, capture=True)
            if verify:
                verify(p)
        except rb.StepFailed as e:
            self.errors.append((tool.name, name, f"r{rep + 1}: {e}"))
            log(f"[r{rep + 1} {tool.name}] {name}: FAILED: {e}")
            return None
        self.record(name, tool.name, rep, p.seconds)
        log(f"[r{rep + 1} {tool.name}] {name}: {p.seconds:.3f} s")
        return p

    def clean_json(self, tool: rb.Tool, when: str) -> None:
        try:
            p = rb.run(tool.cmd("status", "--json"), cwd=self.repos[tool.name], capture=True)
            if json.loads(p.stdout or "null") != {}:
                raise rb.StepFailed(f"status --json {when}: {p.stdout.strip()[:500]!r}")
        except (rb.StepFailed, ValueError) as e:
            self.errors.append((tool.name, f"status --json {when}", str(e)))
            log(f"[{tool.name}] status --json {when}: FAILED: {e}")

    # ---- setup: copy, add, pipeline, first repro, commit

    def setup(self, tool: rb.Tool, src: Path) -> None:
        repo = WORK / "repos" / tool.name
        rb.fresh_repo(repo, tool)
        self.repos[tool.name] = repo
        n = self.args.stages
        rb.sh(["cp", "-r", str(src), str(repo / "data")])
        p = rb.run(tool.cmd("add", "data"), cwd=repo)
        self.record("add data", tool.name, 0, p.seconds)
        write_pipeline(repo, n)
        rb.sh(["git", "add", "-A"], cwd=repo)
        rb.sh(["git", "commit", "-qm", "data and pipeline"], cwd=repo)
        log(f"[{tool.name}] add data: {p.seconds:.2f} s")

        def all_ran(p: rb.Proc) -> None:
            want = [f"s{i:02d}" for i in range(n)]
            if sorted(ran_stages(p.stdout)) != want:
                raise rb.StepFailed(f"first repro ran {ran_stages(p.stdout)}, expected all {n}")

        p = self.step(tool, 0, "first repro (all stages)", ["repro"], all_ran)
        if p is None:
            raise rb.StepFailed("first repro failed")
        rb.sh(["git", "add", "-A"], cwd=repo)
        rb.sh(["git", "commit", "-qm", "first repro"], cwd=repo)
        self.clean_json(tool, "after the first repro")

    # ---- one repetition, tools interleaved within every step

    def repetition(self, rep: int) -> None:
        k = rep % len(self.tools)
        order = self.tools[k:] + self.tools[:k]
        n, ks = self.args.stages, self.args.param_stage
        self.loads.append([f"r{rep + 1}", os.getloadavg()])

        def nothing_ran(repo: Path):
            lock_before = (repo / "dvc.lock").read_bytes()

            def verify(p: rb.Proc) -> None:
                ran = ran_stages(p.stdout)
                if ran:
                    raise rb.StepFailed(f"no-op repro ran {ran}")
                if "didn't change" not in p.stdout and UP_TO_DATE not in p.stdout:
                    raise rb.StepFailed(f"no-op repro said: {p.stdout.strip()[-300:]!r}")
                if (repo / "dvc.lock").read_bytes() != lock_before:
                    raise rb.StepFailed("no-op repro rewrote dvc.lock")

            return verify

        def up_to_date(p: rb.Proc) -> None:
            if UP_TO_DATE not in p.stdout:
                raise rb.StepFailed(f"status not up to date: {p.stdout.strip()[:500]!r}")

        for tool in order:
            repo = self.repos[tool.name]
            self.step(tool, rep, "repro (no-op)", ["repro"], nothing_ran(repo))
        for tool in order:
            self.step(tool, rep, "status (no-op)", ["status"], up_to_date)

        paths = self.relpaths
        touched = [paths[i * len(paths) // 10] for i in range(min(10, len(paths)))]
        for tool in order:
            data = self.repos[tool.name] / "data"
            for rel in touched:
                st = os.stat(data / rel)
                ns = st.st_mtime_ns + 7_000_000_000 + rep * 1_000_000_000
                os.utime(data / rel, ns=(ns, ns))
        for tool in order:
            self.step(tool, rep, "status (10 touched)", ["status"], up_to_date)

        value = f"{1000 + rep}"
        want = [f"s{i:02d}" for i in range(ks, n)]
        for tool in order:
            repo = self.repos[tool.name]
            (repo / "params.yaml").write_text(params_text(n, {ks: value}))

            def changed(p: rb.Proc, repo: Path = repo) -> None:
                ran = sorted(ran_stages(p.stdout))
                if ran != want:
                    raise rb.StepFailed(f"param change ran {ran}, expected {want}")
                lock = (repo / "dvc.lock").read_text()
                block = lock.split(f"\n  s{ks:02d}:\n", 1)[-1].split("\n  s", 1)[0]
                if not re.search(rf"\bvalue: '?{value}'?\b", block):
                    raise rb.StepFailed(f"dvc.lock does not record s{ks:02d}.value={value}")
                if f"value={value}" not in (repo / "out" / f"s{ks:02d}.txt").read_text():
                    raise rb.StepFailed(f"out/s{ks:02d}.txt does not carry the new value")

            self.step(tool, rep, "repro (1 param changed)", ["repro"], changed)

    # ---- report

    def rows(self) -> list[list[str]]:
        names = [t.name for t in self.tools]
        bale = next((t for t in names if t.startswith("bale")), None)
        rows = []
        for s in (*ONCE, *STEPS):
            samples = {t: self.times.get((s, t)) for t in names}
            errs = {t for t, ss, _ in self.errors if ss == s}

            def cell(t: str) -> str:
                v = rb.med(samples.get(t))
                if v is None:
                    return "ERR" if t in errs else "-"
                c = rb.fmt_s(v)
                if s in STEPS and len(samples[t]) < self.args.repeat:
                    c += f" (n={len(samples[t])})"
                return c + (" ERR" if t in errs else "")

            ratio = rr = None
            if bale and "dvc" in names:
                ratio = rb.paired_ratio(samples["dvc"], samples[bale])
                d, b = samples["dvc"] or {}, samples[bale] or {}
                rs = sorted(d[r] / b[r] for r in d if r in b and b[r] > 0)
                rr = f"{rb.fmt_x(rs[0])}-{rb.fmt_x(rs[-1])}" if len(rs) > 1 else ""
            target = met = ""
            if s in ("repro (no-op)", "status (no-op)"):
                target = f">= {TARGET:.0f}x"
                met = "-" if ratio is None else ("yes" if ratio >= TARGET else "NO")
            rows.append([s, *(cell(t) for t in names), rb.fmt_x(ratio), rr or "", target, met])
        return rows

    def header(self) -> list[str]:
        return ["step", *[t.name for t in self.tools], "dvc/bale", "range", "target", "met?"]

    def to_json(self) -> dict:
        return {
            "times": [[*k, v] for k, v in self.times.items()],
            "errors": self.errors,
            "notes": self.notes,
            "loads": self.loads,
        }


def plain(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(out)


def markdown(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    out += ["| " + " | ".join(rows_i) + " |" for rows_i in rows]
    return "\n".join(out)


# --------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--scale", type=float, default=1.0, help="shrink the 100,000-file directory")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--stages", type=int, default=50)
    ap.add_argument("--param-stage", type=int, default=None, help="default: 90%% of --stages")
    ap.add_argument("--tools", default="bale-md5,dvc")
    ap.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    ap.add_argument("--json", metavar="FILE", help="write the raw samples as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the repositories and W1")
    args = ap.parse_args()
    if args.param_stage is None:
        args.param_stage = max(1, args.stages * 9 // 10)
    if not 1 <= args.param_stage < args.stages:
        ap.error("--param-stage must be in 1..stages-1 (s00 has no params)")
    names = [t.strip() for t in args.tools.split(",") if t.strip()]
    if len(names) != len(set(names)) or not set(names) <= set(rb.ALL_TOOLS):
        ap.error(f"--tools: choose from {', '.join(rb.ALL_TOOLS)}")
    tools = rb.make_tools(names)

    WORK.mkdir(parents=True, exist_ok=True)
    meta = cb.machine()
    checkout = history.commit()
    commit, dirty = checkout["commit"], checkout["dirty"]
    meta.update(checkout, argv=sys.argv, started=time.strftime("%F %T"))
    log(f"machine: {meta}")
    if dirty:
        log(f"note: uncommitted changes under python/ or rust/: {' '.join(dirty)}")

    bench = Bench(args, tools)
    engines = [rb.engine_fingerprint()]
    sources = [source_fingerprint()]
    started = time.time()

    def save() -> None:
        if args.json:
            Path(args.json).write_text(
                json.dumps(
                    {
                        "meta": meta,
                        "args": vars(args),
                        "engines": engines,
                        "sources": sources,
                        **bench.to_json(),
                    },
                    indent=1,
                )
            )

    w = wl.workloads(args.scale)["W1"]
    t0 = time.perf_counter()
    src = wl.generate(w, rb.HERE / "work" / "src")
    bench.relpaths = wl.relpaths(w)
    log(f"data: {w.description}: ready in {time.perf_counter() - t0:.1f} s")
    try:
        for tool in tools:
            try:
                bench.setup(tool, src)
            except (rb.StepFailed, OSError, SystemExit) as e:
                bench.errors.append((tool.name, "(setup)", f"{type(e).__name__}: {e}"))
                log(f"[{tool.name}] setup failed: {e}")
        tools[:] = [t for t in tools if t.name in bench.repos]
        save()
        for rep in range(args.repeat):
            bench.repetition(rep)
            save()
            fp = rb.engine_fingerprint()
            if fp != engines[-1]:
                engines.append(fp)
                bench.notes.append(f"bale's engine changed during the run (after r{rep + 1}): {fp}")
            fp = source_fingerprint()
            if fp != sources[-1]:
                sources.append(fp)
                bench.notes.append(
                    f"bale's Python sources changed during the run (after r{rep + 1}): {fp}"
                )
        for tool in tools:
            # the last param change left params.yaml and dvc.lock consistent
            bench.clean_json(tool, "at the end")
    except KeyboardInterrupt:
        bench.notes.append("interrupted")
    meta["minutes"] = round((time.time() - started) / 60, 1)
    bench.loads.append(["end", os.getloadavg()])
    save()

    rows = bench.rows()
    print()
    print(
        f"pipelines: {args.stages} stages, every one depending on data/ ({w.description}); "
        f"medians of {args.repeat}, param change at s{args.param_stage:02d} "
        f"({args.stages - args.param_stage} stages rerun); {meta['minutes']} min"
    )
    print(
        f"machine: {meta['host']}, {meta['cpus']} cpus, python {meta['python']}, "
        f"bale {meta['bale']} (commit {commit}{', dirty' if dirty else ''}), {meta['dvc'] and 'dvc ' + meta['dvc']}, "
        f"kernel {meta['kernel']}"
    )
    print(f"bale engine: {engines[0]}; python sources sha256:{sources[0]}")
    print(plain(bench.header(), rows))
    print(
        "load (1/5/15 min): "
        + "; ".join(f"{k} {'/'.join(f'{x:.1f}' for x in v)}" for k, v in bench.loads)
    )
    for n in bench.notes:
        print(f"note: {n}")
    if bench.errors:
        print("\nERRORS:")
        for t, s, e in bench.errors:
            print(f"  {t} {s}: {e}")
    if args.markdown:
        print()
        print(markdown(bench.header(), rows))
    sys.stdout.flush()
    samples = {"engines": engines, "sources": sources, **bench.to_json()}
    history.record("pipelines.py", args, started, bench.header(), rows, samples, meta)
    if not args.keep:
        log(f"removing {WORK} and the W1 source")
        rb.rm_rf(WORK)
        rb.rm_rf(src.parent)
    return 1 if bench.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
