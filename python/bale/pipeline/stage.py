"""A pipeline stage as ``dvc.yaml`` defines it, after templating.

Paths are kept as written (``def_path``, relative to the stage's ``wdir``)
because ``dvc.lock`` matches deps and outs by that spelling; ``abspath``
gives where they live.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

DEFAULT_PARAMS_FILE = "params.yaml"
PROJECT_FILE = "dvc.yaml"
LOCK_FILE = "dvc.lock"

OutKind = Literal["outs", "metrics", "plots"]


@dataclass(frozen=True)
class StageOut:
    """One entry of a stage's ``outs``, ``metrics`` or ``plots``."""

    path: str  # as written, relative to the stage's wdir
    kind: OutKind
    cache: bool = True
    persist: bool = False
    remote: str | None = None
    push: bool = True
    #: Everything else written for it (desc, type, labels, meta, plot
    #: properties), in file order: ``stage add`` writes these back.
    flags: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class ParamsDep:
    """The params a stage reads from one file; ``keys`` empty means the whole file."""

    path: str  # as written, relative to the stage's wdir
    keys: tuple[str, ...] = ()


@dataclass
class Stage:
    """A stage of a ``dvc.yaml``; ``name`` is the generated one (``train@0.1``)."""

    name: str
    dvcyaml: Path  # absolute path of the dvc.yaml that defines it
    cmd: str | list[str]
    wdir: Path  # absolute
    deps: list[str] = field(default_factory=list)
    params: list[ParamsDep] = field(default_factory=list)
    outs: list[StageOut] = field(default_factory=list)
    frozen: bool = False
    always_changed: bool = False
    desc: str | None = None
    meta: Any = None
    #: ``wdir`` as written, for messages and ``stage add``.
    wdir_raw: str | None = None

    def addressing(self, root: Path) -> str:
        """How dvc names the stage from ``root``: ``train`` in its
        ``dvc.yaml``, ``sub/dvc.yaml:train`` or ``../dvc.yaml:train`` elsewhere."""
        rel = Path(os.path.relpath(self.dvcyaml, root)).as_posix()
        return self.name if rel == PROJECT_FILE else f"{rel}:{self.name}"

    @property
    def lock_path(self) -> Path:
        """The ``dvc.lock`` that records the stage: beside its ``dvc.yaml``."""
        return self.dvcyaml.with_name(LOCK_FILE)

    def answers_to(self, name: str) -> bool:
        """Whether ``name`` targets the stage: its own name, or the group
        (``build`` for ``build@a``) that foreach/matrix generated it from."""
        return self.name == name or self.name.split("@")[0] == name

    def abspath(self, def_path: str) -> Path:
        return Path(os.path.normpath(self.wdir / def_path))

    def out_paths(self, root: Path) -> list[Path]:
        """Where the outputs live; an output outside the workspace at
        ``root`` (or inside ``.dvc/``) is an error, before anything touches it."""
        from bale.exceptions import MetafileError

        paths = []
        for o in self.outs:
            out = self.abspath(o.path)
            inside = out != root and out.is_relative_to(root)
            if not inside or (root / ".dvc") in (out, *out.parents):
                where = self.dvcyaml.relative_to(root).as_posix()
                raise MetafileError(
                    f"{where}: output '{o.path}' of stage '{self.name}' is outside the "
                    "repository's workspace"
                )
            paths.append(out)
        return paths

    @property
    def commands(self) -> list[str]:
        """``cmd`` as the list of commands run one after another (dvc splits a
        string on lines)."""
        return list(self.cmd) if isinstance(self.cmd, list) else self.cmd.splitlines()

    @property
    def cached_outs(self) -> list[StageOut]:
        return [o for o in self.outs if o.cache]


def merge_params(items: list[Any]) -> list[ParamsDep]:
    """``params:`` entries (``key`` strings for ``params.yaml``, ``{file:
    [keys]}`` maps) merged per file as ``dvc/dependency: _merge_params`` does:
    a file listed with no keys is tracked whole and its keys are dropped."""
    whole = {f for it in items if isinstance(it, dict) for f, keys in it.items() if not keys}
    merged: dict[str, list[str]] = {}
    for it in items:
        if isinstance(it, str):
            if DEFAULT_PARAMS_FILE not in whole:
                merged.setdefault(DEFAULT_PARAMS_FILE, []).append(it)
            continue
        for f, keys in it.items():
            if f in whole:
                merged[f] = []
            else:
                merged.setdefault(f, []).extend(keys)
    return [ParamsDep(f, tuple(dict.fromkeys(keys))) for f, keys in merged.items()]
