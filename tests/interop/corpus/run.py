"""Run bale and dvc 3.67.1 on every fixture of the corpus, at every revision,
and compare what each command prints, its exit status and the files it writes.

    python tests/interop/corpus/run.py            # the report
    python tests/interop/corpus/run.py --table    # the known-differences table
    python tests/interop/corpus/run.py -f get_started -c "status --json"

Each fixture (a module of this package with a ``build(fx) -> revisions``) is
built once and copied to two twins. The commands run in one batch process per
tool and fixture (dvc takes a second to import: the ``DVC_BATCH`` approach of
``tests/interop/test_dvc_differential.py``), which imports the tool once and
forks a child per command: each command starts from a clean process, as a
user's does, without paying the import again. Between revisions the batch runs
``git checkout -f <rev>``; the first visit is the workspace as the builder left
it (uncommitted edits included).

Only what must differ is normalised: the twins' paths, and the tool's own name
where it names itself (``bale push`` for ``dvc push``).
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.interop.corpus._repo import Fixture, git_env

FIXTURES = (
    "get_started",
    "subdir_pipelines",
    "foreach_matrix",
    "params_formats",
    "metrics_plots",
    "imports_dvcignore",
    "no_scm",
)

# (command, when): "each" at every visit, "ws" only at the first (the workspace).
# ``{prev}`` is the revision visited before (HEAD for the workspace); a command
# naming it is skipped where there is none.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("status", "each"),
    ("status --json", "each"),
    ("diff {prev}", "each"),
    ("diff --json {prev}", "each"),
    ("params diff {prev}", "each"),
    ("params diff --json {prev}", "ws"),
    ("metrics show", "each"),
    ("metrics show --json", "ws"),
    ("metrics diff --json {prev}", "each"),
    ("dag", "each"),
    ("stage list", "each"),
    ("repro --dry", "each"),
    ("diff", "ws"),
    ("diff --json", "ws"),
    ("params diff", "ws"),
    ("params diff --json", "ws"),
    ("params diff --all", "ws"),
    ("metrics diff", "ws"),
    ("dag --dot", "ws"),
    ("dag --md", "ws"),
    ("dag --mermaid", "ws"),
    ("exp show --json", "ws"),
    ("remote list", "ws"),
    ("status -c --json", "ws"),
    ("data status --json", "ws"),
    ("ls --json .", "ws"),
    ("plots show --json", "ws"),
    ("plots diff --json {prev}", "each"),
)

# Which item of issue 20 (and so which helper) owns a command's differences.
OWNERS = (
    ("status -c", "#20.3 status"),
    ("status", "#20.3 status"),
    ("diff", "#20.3 diff"),
    ("params", "#20.2/6 params"),
    ("metrics", "#20.6 metrics"),
    ("dag", "#20.4 dag"),
    ("stage list", "#20.6 stage list"),
    ("repro", "#20.5 repro --dry"),
    ("exp", "#20.1 exp show"),
    ("remote list", "#20.6 remote list"),
    ("data status", "#24 data status"),
    ("plots", "#24 plots"),
    ("ls", "bale lacks the command (a later issue)"),
)

BATCH = r"""
import json, os, sys, tempfile, traceback, hashlib

tool, root, steps, report = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
import importlib, pkgutil
if tool == "dvc":
    from dvc.cli import main
    import dvc.cli.parser
    # What the commands import lazily, imported once before the forks.
    WARM = ["dvc.commands", "dvc.repo"]
    EXTRA = ["dvc.repo.experiments.show", "dvc.repo.experiments.run", "dvc.repo.metrics.show",
             "dvc.repo.metrics.diff", "dvc.repo.params.show", "dvc.repo.params.diff",
             "dvc.repo.plots.diff", "dvc.dagascii", "networkx", "grandalf.layouts", "pygit2",
             "dulwich.repo", "scmrepo.git", "dvc_data.index", "dvc.repo.experiments.collect"]
    dvc.cli.parser.get_main_parser()
else:
    from bale.cli.main import main
    WARM = ["bale"]
    EXTRA = ["bale.cli.parser"]
for pkg in WARM:
    mod = importlib.import_module(pkg)
    for m in pkgutil.iter_modules(mod.__path__, pkg + "."):
        if m.name.endswith("__main__"):
            continue
        try:
            importlib.import_module(m.name)
        except Exception:
            pass
for name in EXTRA:
    try:
        importlib.import_module(name)
    except Exception:
        pass
SKIP = {".git", "cache", "tmp"}

def files():
    seen = {}
    for d, dirs, names in os.walk(root):
        rel = os.path.relpath(d, root)
        if rel == ".":
            dirs[:] = [x for x in dirs if x != ".git"]
        elif rel == ".dvc":
            dirs[:] = [x for x in dirs if x not in SKIP]
        for n in names:
            p = os.path.join(d, n)
            with open(p, "rb") as f:
                seen[os.path.relpath(p, root)] = hashlib.md5(f.read()).hexdigest()
    return seen

results = []
for step in steps:
    os.chdir(root)
    if isinstance(step, str):
        rc = os.system(step + " >/dev/null 2>&1")
        results.append([rc, "", "", [], 0.0])
        continue
    before = files()
    out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    sys.stdout.flush(), sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.dup2(out.fileno(), 1), os.dup2(err.fileno(), 2)
        try:
            rc = main(list(step))
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            traceback.print_exc()
            rc = 1
        try:
            sys.stdout.flush(), sys.stderr.flush()
        finally:
            os._exit(rc or 0)
    _, status, usage = os.wait4(pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    out.seek(0), err.seek(0)
    after = files()
    written = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    results.append([rc, out.read(), err.read(), written, cpu])
with open(report, "w") as f:
    json.dump(results, f)
"""


@dataclass
class Outcome:
    rc: int
    out: str
    err: str
    written: list[str]
    cpu: float = 0.0  # seconds the command's process spent on the CPUs


@dataclass
class Pair:
    fixture: str
    rev: str
    command: str
    dvc: Outcome
    bale: Outcome

    @property
    def kind(self) -> str:
        """equal | different | bale-only-failure | bale-lacks | bale-crash"""
        b, d = self.bale, self.dvc
        if "Traceback (most recent call last)" in b.err:
            return "bale-crash"
        if b.rc == 2 and "invalid choice" in b.err:
            return "bale-lacks"
        if b.rc != 0 and d.rc == 0:
            return "bale-only-failure"
        if (b.rc == 0) != (d.rc == 0) or b.written != d.written or not same_output(d.out, b.out):
            return "different"
        return "equal"

    def first_difference(self, context: int = 0) -> str:
        b, d = self.bale, self.dvc
        if (b.rc == 0) != (d.rc == 0):
            return f"exit: dvc {d.rc}, bale {b.rc}: {(b.err or d.err).strip()[:200]}"
        if b.written != d.written:
            return f"files written: dvc {d.written}, bale {b.written}"
        if _json(d.out) is not None and _json(d.out) == _json(b.out):
            n_d, n_b = d.out.count("\n"), b.out.count("\n")
            return f"same JSON, dvc prints {n_d} line(s), bale {n_b}"
        if sorted(d.out.splitlines()) == sorted(b.out.splitlines()):
            return "same lines in another order: " + " | ".join(b.out.splitlines()[:3])
        lines = list(
            difflib.unified_diff(
                d.out.splitlines(), b.out.splitlines(), "dvc", "bale", n=context, lineterm=""
            )
        )
        return "\n".join(lines[2:8])


@dataclass
class Report:
    pairs: list[Pair] = field(default_factory=list)
    seconds: float = 0.0

    def differing(self) -> dict[tuple[str, str], Pair]:
        """(command, fixture) -> its first pair that is not equal."""
        found: dict[tuple[str, str], Pair] = {}
        for p in self.pairs:
            if p.kind != "equal":
                found.setdefault((p.command, p.fixture), p)
        return found

    def text(self, details: bool = True) -> str:
        kinds = ("equal", "different", "bale-only-failure", "bale-lacks", "bale-crash")
        by_cmd: dict[str, Counter[str]] = {}
        for p in self.pairs:
            by_cmd.setdefault(p.command, Counter())[p.kind] += 1
        width = max(len(c) for c in by_cmd)
        head = f"{'command':<{width}}  " + "  ".join(f"{k:>5}" for k in kinds)
        rows = [head.replace("bale-only-failure", "bale-fail")]
        total: Counter[str] = Counter()
        for cmd, c in by_cmd.items():
            total.update(c)
            rows.append(f"{cmd:<{width}}  " + "  ".join(f"{c[k]:>{len(k)}}" for k in kinds))
        rows.append(f"{'TOTAL':<{width}}  " + "  ".join(f"{total[k]:>{len(k)}}" for k in kinds))
        rows.append(
            f"{len(self.pairs)} pairs (fixture x revision x command), "
            f"{len(self.differing())} (command, fixture) pairs not equal, {self.seconds:.1f} s"
        )
        cpu_d = sum(p.dvc.cpu for p in self.pairs)
        cpu_b = sum(p.bale.cpu for p in self.pairs)
        rows.append(f"CPU time of the commands: dvc {cpu_d:.1f} s, bale {cpu_b:.1f} s")
        if details:
            for (cmd, fx), p in sorted(self.differing().items()):
                rows.append(f"\n== {p.kind}: {cmd}  [{fx} @ {p.rev}]")
                rows.append(p.first_difference())
        return "\n".join(rows)

    def table(self) -> str:
        """The differences as ``KNOWN`` entries for tests/interop/test_corpus.py:
        an entry already there keeps its reason; a new one gets the issue 20
        item that owns the command and what differs first, to be edited."""
        from tests.interop.test_corpus import KNOWN

        rows = ["KNOWN: dict[tuple[str, str], str] = {"]
        for (cmd, fx), p in sorted(self.differing().items()):
            why = KNOWN.get((cmd, fx))
            if why is None:
                item = next((v for k, v in OWNERS if cmd.startswith(k)), "")
                lines = [ln for ln in p.first_difference().splitlines() if not ln.startswith("@@")]
                hint = lines[0].strip() if lines else ""
                why = f"NEW {item}: {p.kind}: {hint}"[:80]
            why = why.replace("\\", "\\\\").replace('"', "'")
            line = f'    ("{cmd}", "{fx}"): "{why}",'
            if len(line) > 100:
                line = f'    ("{cmd}", "{fx}"): (\n        "{why}"\n    ),'
            rows.append(line)
        rows.append("}")
        return "\n".join(rows)


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return None


def same_output(dvc: str, bale: str) -> bool:
    """Equal text; for JSON, equal values in the same layout (as many lines).

    The order of keys in a JSON object is not compared: dvc builds some of its
    objects from sets (``metrics diff --json`` lists a file's keys in a
    different order from one run to the next), so no tool could match it.
    """
    if dvc == bale:
        return True
    if dvc.count("\n") != bale.count("\n"):
        return False
    try:
        return bool(json.loads(dvc) == json.loads(bale))
    except ValueError:
        return False


def _normalise(text: str, root: str) -> str:
    text = text.replace(root, "<ROOT>")
    # bale names itself where dvc names itself ("use `bale push`"): not a difference.
    return re.sub(r"\bbale\b", "dvc", text)


def _steps(revs: Sequence[str], scm: bool) -> tuple[list[str | list[str]], list[tuple[str, str]]]:
    """The batch's steps, and (revision, command) for each tool step."""
    steps: list[str | list[str]] = []
    index: list[tuple[str, str]] = []
    visits = ["workspace", *revs] if scm else ["workspace"]
    for i, rev in enumerate(visits):
        prev = "HEAD" if i == 0 else (visits[i - 1] if i > 1 else None)
        if i > 0:
            steps.append(f"git checkout -q -f {rev}")
        for cmd, when in COMMANDS:
            if when == "ws" and i > 0:
                continue
            if "{prev}" in cmd and (prev is None or not scm):
                continue
            argv = cmd.replace("{prev}", prev or "").split()
            steps.append(argv)
            index.append((rev, cmd))
    return steps, index


def _batch(
    tool: str, root: Path, steps: list[str | list[str]], env: dict[str, str]
) -> list[Outcome]:
    report = root.parent / f".{root.name}-report.json"
    argv = [sys.executable, "-c", BATCH, tool, str(root), json.dumps(steps), str(report)]
    p = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"the {tool} batch in {root} failed:\n{p.stdout}\n{p.stderr}")
    raw = json.loads(report.read_text(encoding="utf-8"))
    return [
        Outcome(rc, _normalise(out, str(root)), _normalise(err, str(root)), written, cpu)
        for rc, out, err, written, cpu in raw
    ]


def tool_env(base: Path) -> dict[str, str]:
    env = git_env()
    for d in ("site", "config", "home"):
        (base / d).mkdir(parents=True, exist_ok=True)
    env.update(
        DVC_NO_ANALYTICS="1",
        CI="1",
        DVC_SITE_CACHE_DIR=str(base / "site"),
        DVC_GLOBAL_CONFIG_DIR=str(base / "config"),
        DVC_SYSTEM_CONFIG_DIR=str(base / "config"),
        LC_ALL="C.UTF-8",
        # dvc orders some listings by Python's string hashing (``params diff``
        # over several dvc.yaml files lists their params files in an order that
        # changes from run to run): one seed makes each run of the corpus
        # reproducible. A difference in order only says so in the report.
        PYTHONHASHSEED="0",
        # dvc wraps a table line at the terminal's width (80 columns when
        # stdout is not a terminal): ``remote list`` breaks a long URL's line
        # in two, bale does not. A wide terminal keeps the result independent
        # of how long the temporary directory's path is.
        COLUMNS="200",
        PYTHONPATH=os.pathsep.join(
            [str(Path(__file__).resolve().parents[3] / "python"), env.get("PYTHONPATH", "")]
        ),
    )
    return env


def run_fixture(
    name: str, base: Path, env: dict[str, str], commands: set[str] | None = None
) -> list[Pair]:
    module = importlib.import_module(f"tests.interop.corpus.{name}")
    template = base / "template" / name
    fx = Fixture(template, env)
    revs = module.build(fx)
    steps, index = _steps(revs, fx.scm)
    if commands is not None:
        keep = [i for i, (_, c) in enumerate(index) if c in commands]
        steps, index = _filter(steps, index, keep)
    roots = {}
    for tool in ("dvc", "bale"):
        # Paths of one length in both twins, so that padded columns line up.
        roots[tool] = base / tool[0] / name
        shutil.copytree(template, roots[tool], symlinks=True)
    with ThreadPoolExecutor(2) as pool:
        jobs = {t: pool.submit(_batch, t, roots[t], steps, env) for t in roots}
        got = {
            t: [o for o, s in zip(j.result(), steps, strict=True) if not isinstance(s, str)]
            for t, j in jobs.items()
        }
    return [
        Pair(name, rev, cmd, d, b)
        for (rev, cmd), d, b in zip(index, got["dvc"], got["bale"], strict=True)
    ]


def _filter(
    steps: list[str | list[str]], index: list[tuple[str, str]], keep: list[int]
) -> tuple[list[str | list[str]], list[tuple[str, str]]]:
    """The steps and index entries of the tool steps numbered in ``keep`` (every
    shell step stays: the checkouts between revisions)."""
    out_steps: list[str | list[str]] = []
    out_index: list[tuple[str, str]] = []
    k = 0
    for s in steps:
        if isinstance(s, str):
            out_steps.append(s)
            continue
        if k in keep:
            out_steps.append(s)
            out_index.append(index[k])
        k += 1
    return out_steps, out_index


def run(
    fixtures: Sequence[str] = FIXTURES, commands: set[str] | None = None, base: Path | None = None
) -> Report:
    start = time.monotonic()
    own = base is None
    base = Path(tempfile.mkdtemp(prefix="corpus-")) if base is None else base
    try:
        env = tool_env(base / "env")
        report = Report()
        # Two fixtures at a time: each runs a dvc and a bale batch, and bale's
        # finishes first; the pool keeps both cores busy.
        with ThreadPoolExecutor(2) as pool:
            jobs = [pool.submit(run_fixture, n, base, env, commands) for n in fixtures]
            for job in jobs:
                report.pairs += job.result()
    finally:
        if own:
            shutil.rmtree(base, ignore_errors=True)
    report.seconds = time.monotonic() - start
    return report


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-f", "--fixture", action="append", help="only these fixtures")
    ap.add_argument("-c", "--command", action="append", help="only these commands")
    ap.add_argument("--table", action="store_true", help="print the KNOWN table for test_corpus.py")
    ap.add_argument("--brief", action="store_true", help="counts only")
    args = ap.parse_args(argv)
    report = run(args.fixture or FIXTURES, set(args.command) if args.command else None)
    if args.table:
        # The counts on stderr, so that one run gives both and stdout stays pasteable.
        print(report.text(details=False), file=sys.stderr)
        print(report.table())
    else:
        print(report.text(details=not args.brief))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
