"""``dvc`` commands for the tests, forked from a process that has imported
dvc once, instead of a new interpreter per command.

A new ``dvc`` process spends most of its second importing dvc. Here one
server process per test process (and per set of the variables an interpreter
reads as it starts: ``PYTHONHASHSEED``, ``PYTHONPATH``, the locale) imports
``dvc.cli`` and the modules its commands import lazily, then forks a child
per command: the child takes the command's working directory, environment
and output files, runs ``dvc.cli.main(argv)`` as the ``dvc`` console script
does, and exits with its return code. Each command still starts from a clean
process (a copy of one that has only imported dvc, and the remotes'
filesystems once a command has needed them), so nothing leaks from one
command to the next, as with ``tests/interop/corpus/run.py``'s batches.

``run(argv, cwd, env)`` answers as ``subprocess.run([...], capture_output=True)``
would. The corpus and the ``DVC_BATCH`` tests keep their own batch processes.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

SERVER = r"""
import atexit, importlib, json, os, pkgutil, sys, traceback

from dvc.cli import main
import dvc.cli.parser

# What the commands import lazily, imported once before the forks.
dvc.cli.parser.get_main_parser()
for pkg in ("dvc.commands", "dvc.repo"):
    mod = importlib.import_module(pkg)
    for m in pkgutil.iter_modules(mod.__path__, pkg + "."):
        try:
            importlib.import_module(m.name)
        except Exception:
            pass
EXTRA = ("dvc_data.index", "scmrepo.git", "pygit2", "dulwich.repo", "dvc.repo.experiments.show")
# The remotes' filesystems take a second or two each to import: imported here
# once a command has needed them (none starts a thread), not before.
LATER = ("s3fs", "gcsfs", "sshfs", "webdav4.fsspec")
for name in EXTRA:
    try:
        importlib.import_module(name)
    except Exception:
        pass

import threading
assert threading.active_count() == 1, "a thread would not survive the forks"
control_in, control_out = sys.stdin.buffer, sys.stdout.buffer
os.write(control_out.fileno(), b"ready\n")
for line in control_in:
    req = json.loads(line)
    needed_r, needed_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(needed_r)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(os.open(req["out"], os.O_WRONLY), 1)
            os.dup2(os.open(req["err"], os.O_WRONLY), 2)
            os.chdir(req["cwd"])
            os.environ.clear()
            os.environ.update(req["env"])
            sys.argv = ["dvc", *req["argv"]]
            try:
                rc = main(req["argv"])
                code = rc if isinstance(rc, int) else (0 if rc is None else 1)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            atexit._run_exitfuncs()
            needed = [m for m in LATER if m in sys.modules]
            os.write(needed_w, json.dumps(needed).encode())
        except BaseException:
            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code & 0xFF)
    os.close(needed_w)
    _, status = os.waitpid(pid, 0)
    # not waiting for EOF: a daemon the command forked holds the pipe open
    os.set_blocking(needed_r, False)
    try:
        needed = os.read(needed_r, 1 << 16)
    except BlockingIOError:
        needed = b""  # the command died before it could say
    os.close(needed_r)
    for name in json.loads(needed or b"[]"):
        importlib.import_module(name)
    assert threading.active_count() == 1, "a thread would not survive the forks"
    os.write(control_out.fileno(), (json.dumps(os.waitstatus_to_exitcode(status)) + "\n").encode())
"""


class _Server:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=tempfile.gettempdir(),
            env=self.env,
        )
        assert proc.stdout is not None
        if proc.stdout.readline() != b"ready\n":
            raise RuntimeError("the dvc fork server did not start")
        atexit.register(self.close)
        return proc

    def close(self) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait()
            self.proc = None

    def run(
        self, argv: Sequence[str], cwd: Path | str, env: Mapping[str, str]
    ) -> tuple[int, bytes, bytes]:
        with (
            tempfile.NamedTemporaryFile(prefix="dvc-out-") as out,
            tempfile.NamedTemporaryFile(prefix="dvc-err-") as err,
            self.lock,
        ):
            if self.proc is None or self.proc.poll() is not None:
                self.proc = self._start()
            assert self.proc.stdin is not None and self.proc.stdout is not None
            req = {
                "argv": list(argv),
                "cwd": str(Path(cwd).resolve()),
                "env": dict(env),
                "out": out.name,
                "err": err.name,
            }
            self.proc.stdin.write(json.dumps(req).encode() + b"\n")
            self.proc.stdin.flush()
            reply = self.proc.stdout.readline()
            if not reply:
                self.proc = None
                raise RuntimeError(f"the dvc fork server died running dvc {' '.join(argv)}")
            return int(json.loads(reply)), _read(out), _read(err)


def _read(f: IO[bytes]) -> bytes:
    f.seek(0)
    return f.read()


_servers: dict[tuple[tuple[str, str], ...], _Server] = {}
_servers_lock = threading.Lock()


def _startup(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """What of ``env`` an interpreter reads as it starts (a forked child keeps
    its server's): the hash seed, sys.path, the standard streams' encoding."""
    return tuple(sorted((k, v) for k, v in env.items() if k.startswith(("PYTHON", "LC_", "LANG"))))


def _server(env: Mapping[str, str]) -> _Server:
    with _servers_lock:
        return _servers.setdefault(_startup(env), _Server(env))


def _text(data: bytes) -> str:
    # as subprocess.run(..., text=True) decodes: universal newlines
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def run(
    argv: Sequence[str], cwd: Path | str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``dvc <argv>`` in ``cwd`` with ``env`` (this process's by default), its
    output captured as text, as ``subprocess.run(..., capture_output=True,
    text=True)`` gives it."""
    env = os.environ if env is None else env
    rc, out, err = _server(env).run(argv, cwd, env)
    return subprocess.CompletedProcess(["dvc", *argv], rc, _text(out), _text(err))
