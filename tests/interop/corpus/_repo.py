"""What the fixture builders write with: a git repository with a DVC project in
it, tracked files with their cache objects, and ``dvc.lock`` files whose hashes
are computed here the way dvc 3 computes them (md5 of the bytes; a directory's
md5 is that of its JSON listing, suffixed ``.dir``), so a fixture is built in
milliseconds and neither tool under test writes the state the other one reads.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

# What ``dvc init`` writes (dvc 3.67.1), byte for byte.
DVC_GITIGNORE = "/config.local\n/tmp\n/cache\n"
DVCIGNORE = (
    "# Add patterns of files dvc should ignore, which could improve\n"
    "# the performance. Learn more at\n"
    "# https://dvc.org/doc/user-guide/dvcignore\n"
)


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# Keys dvc leaves out of a stage's md5 (dvc.stage.utils.compute_md5).
_NOT_IN_STAGE_MD5 = {
    "desc",
    "type",
    "labels",
    "meta",
    "locked",
    "frozen",
    "metric",
    "persist",
    "isexec",
    "size",
    "nfiles",
}


def _drop(d: Any) -> Any:
    if isinstance(d, list):
        return [_drop(e) for e in d]
    if isinstance(d, dict):
        return {k: _drop(v) for k, v in d.items() if k not in _NOT_IN_STAGE_MD5}
    return d


def stage_md5(stage: dict[str, Any]) -> str:
    """The ``md5:`` dvc writes at the top of an import's ``.dvc`` file."""
    return _md5(json.dumps(_drop(stage), sort_keys=True).encode())


def _scalar(v: Any) -> str:
    """A value as dvc's YAML dumper writes it in ``dvc.lock``."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_scalar(x) for x in v) + "]"
    s = str(v)
    plain = s and s[0] not in "!&*-?{}[]|>'\"%@`#,:" and ": " not in s and " #" not in s
    try:
        json.loads(s)
        plain = False  # "1", "true": a string that would read back as a number
    except ValueError:
        pass
    return s if plain else "'" + s.replace("'", "''") + "'"


class Fixture:
    """A repository under construction at ``root`` (created empty by the caller's
    ``build``); ``env`` isolates git from the user's configuration."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.scm = True
        self._clock = 1_700_000_000  # commit dates fixed: both twins copy one history

    # -- set-up ------------------------------------------------------------
    def init(self, *, no_scm: bool = False, config: str = "") -> None:
        """``git init && dvc init`` (or ``dvc init --no-scm``), written directly."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.scm = not no_scm
        if self.scm:
            self.git("init", "-q", "-b", "main")
            self.write(".dvc/.gitignore", DVC_GITIGNORE)
        core = "[core]\n    no_scm = True\n" if no_scm else ""
        self.write(".dvc/config", core + config)
        self.write(".dvcignore", DVCIGNORE)

    def git(self, *args: str) -> str:
        env = dict(self.env)
        stamp = f"{self._clock} +0000"
        env.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
        p = subprocess.run(
            ["git", *args], cwd=self.root, env=env, capture_output=True, text=True, check=True
        )
        return p.stdout

    # -- files ---------------------------------------------------------------
    def write(self, rel: str, text: str) -> None:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")

    def remove(self, rel: str) -> None:
        (self.root / rel).unlink()

    def _cache(self, oid: str, data: bytes) -> None:
        p = self.root / ".dvc/cache/files/md5" / oid[:2] / oid[2:]
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)

    def hash_entry(self, rel: str, cache: bool = True) -> dict[str, Any]:
        """``md5``/``size``(/``nfiles``) of a file or directory, as dvc records
        them, its objects stored in the cache when ``cache``."""
        p = self.root / rel
        if p.is_file():
            data = p.read_bytes()
            oid = _md5(data)
            if cache:
                self._cache(oid, data)
            return {"md5": oid, "size": len(data)}
        listing, size = [], 0
        for f in sorted(q for q in p.rglob("*") if q.is_file()):
            data = f.read_bytes()
            oid = _md5(data)
            size += len(data)
            listing.append({"md5": oid, "relpath": f.relative_to(p).as_posix()})
            if cache:
                self._cache(oid, data)
        listing.sort(key=lambda e: e["relpath"])
        manifest = json.dumps(listing, sort_keys=True).encode()
        oid = _md5(manifest) + ".dir"
        if cache:
            self._cache(oid, manifest)
        return {"md5": oid, "size": size, "nfiles": len(listing)}

    def track(self, rel: str, *, extra: str = "") -> None:
        """``dvc add rel``: the ``.dvc`` file, the cache objects, the .gitignore line."""
        e = self.hash_entry(rel)
        lines = ["outs:", f"- md5: {e['md5']}", f"  size: {e['size']}"]
        if "nfiles" in e:
            lines.append(f"  nfiles: {e['nfiles']}")
        lines += ["  hash: md5", f"  path: {Path(rel).name}"]
        self.write(rel + ".dvc", "\n".join(lines) + "\n" + extra)
        self.ignore(rel)

    def ignore(self, rel: str) -> None:
        """The ``/name`` line dvc adds to the .gitignore next to an output."""
        path = Path(rel)
        gi = self.root / path.parent / ".gitignore"
        text = gi.read_text(encoding="utf-8") if gi.exists() else ""
        line = f"/{path.name}"
        if line not in text.splitlines():
            gi.write_text(text + line + "\n", encoding="utf-8")

    # -- pipelines -------------------------------------------------------------
    def lock(self, wdir: str, stages: dict[str, dict[str, Any]]) -> None:
        """Write ``<wdir>/dvc.lock`` for ``stages``: name -> {cmd, deps: [path],
        params: {file: {key: value}}, outs: [path] (or (path, cache))}; paths are
        relative to ``wdir`` and hashed from the workspace as it is now."""
        out = ["schema: '2.0'", "stages:"]
        base = Path(wdir)
        for name, st in stages.items():
            out.append(f"  {_stage_key(name)}:")
            out.append(f"    cmd: {_scalar(st['cmd'])}")
            for section in ("deps", "params", "outs"):
                if not st.get(section):
                    continue
                out.append(f"    {section}:")
                if section == "params":
                    for pfile, values in sorted(st["params"].items()):
                        out.append(f"      {pfile}:")
                        out += _mapping(values, 8)
                    continue
                items = [x if isinstance(x, tuple) else (x, True) for x in st[section]]
                for path, cache in sorted(items):
                    e = self.hash_entry((base / path).as_posix(), cache and section == "outs")
                    out.append(f"    - path: {path}")
                    out.append("      hash: md5")
                    out.append(f"      md5: {e['md5']}")
                    out.append(f"      size: {e['size']}")
                    if "nfiles" in e:
                        out.append(f"      nfiles: {e['nfiles']}")
        self.write((base / "dvc.lock").as_posix(), "\n".join(out) + "\n")

    def outputs(self, wdir: str, stages: dict[str, dict[str, Any]]) -> None:
        """Add every cached stage output to its .gitignore, as ``dvc repro`` does."""
        for st in stages.values():
            for x in st.get("outs", []):
                path, cache = x if isinstance(x, tuple) else (x, True)
                if cache:
                    self.ignore((Path(wdir) / path).as_posix())

    # -- history ---------------------------------------------------------------
    def commit(self, msg: str, tag: str | None = None) -> None:
        self._clock += 3600
        self.git("add", "-A")
        self.git("commit", "-q", "-m", msg)
        if tag:
            self.git("tag", tag)


def _mapping(values: dict[str, Any], indent: int) -> list[str]:
    """A params mapping as block YAML (a whole-file params dependency nests)."""
    lines = []
    for k, v in sorted(values.items()):
        if isinstance(v, dict):
            lines.append(" " * indent + f"{k}:")
            lines += _mapping(v, indent + 2)
        else:
            lines.append(" " * indent + f"{k}: {_scalar(v)}")
    return lines


def _stage_key(name: str) -> str:
    return f"'{name}'" if any(c in name for c in ":{}[], ") else name


def git_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment in which git ignores the user's configuration."""
    env = dict(os.environ if base is None else base)
    env.update(
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@t",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@t",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
    )
    return env
