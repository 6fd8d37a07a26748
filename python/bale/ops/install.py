"""``bale install``: the git hooks ``dvc install`` writes, calling bale.

Three hooks, as dvc's ``install_hooks``: ``post-checkout`` checks out the
data of the commit git moved to, ``pre-commit`` shows ``status``, and
``pre-push`` pushes the data before git pushes the commits that name it.
Each is a two-line script, ``exec bale git-hook <hook> $@``, and the
``git-hook`` command decides what to run (so that a newer bale changes what
an installed hook does, as with dvc).

With ``use_pre_commit_tool`` the hooks go into ``.pre-commit-config.yaml``
for the pre-commit tool instead: as a ``local`` repository of hooks that
run the installed bale, where dvc names its own GitHub repository (which
installs dvc, not bale).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import scm
from bale.exceptions import BaleError
from bale.metafiles import yaml12
from bale.metafiles._fs import atomic_write

if TYPE_CHECKING:
    from bale.repo import Repo

#: The hooks, in dvc's order.
HOOKS = ("post-checkout", "pre-commit", "pre-push")
PRE_COMMIT_CONFIG = ".pre-commit-config.yaml"


def hook_script(hook: str) -> str:
    """The text of one hook file: dvc's (scmrepo's ``install_hook``), with bale."""
    return f"#!{shutil.which('sh') or '/bin/sh'}\nexec bale git-hook {hook} $@\n"


def install(repo: Repo, *, use_pre_commit_tool: bool = False) -> list[Path]:
    """Installs bale's git hooks; returns the files written. Does nothing
    outside git (or with ``core.no_scm``), as dvc. Refuses, before writing
    anything, when a hook of the same name is there already.

    >>> install(Repo("."))  # doctest: +SKIP
    [PosixPath('.git/hooks/post-checkout'), ...]
    """
    if not scm.uses_git(repo):
        return []
    if use_pre_commit_tool:
        return [_pre_commit_install(repo)]
    hooks_dir = _hooks_dir(repo)
    for hook in HOOKS:
        if (hooks_dir / hook).exists():
            raise BaleError(
                f"{hooks_dir / hook}: a '{hook}' hook exists already; "
                "bale install does not replace it (add 'exec bale git-hook "
                f"{hook} $@' to it, or remove it first)"
            )
    hooks_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for hook in HOOKS:
        path = hooks_dir / hook
        atomic_write(path, hook_script(hook).encode())
        # dvc makes them 0o777; group- and world-writable hooks would let
        # any local user run code as whoever runs git here
        path.chmod(0o755)
        written.append(path)
    return written


def _hooks_dir(repo: Repo) -> Path:
    """Where git looks for hooks: ``core.hooksPath`` or the git directory's
    ``hooks`` (a worktree's common directory's)."""
    out = scm.git(repo.root, "rev-parse", "--path-format=absolute", "--git-path", "hooks")
    return Path(out.stdout.decode().strip())


def pre_commit_entry() -> dict[str, Any]:
    """The ``repos`` entry for the pre-commit tool: dvc's three hooks, as a
    ``local`` repository running the installed bale."""

    def hook(name: str, stage: str, **extra: Any) -> dict[str, Any]:
        return {
            "id": f"bale-{name}",
            "name": f"bale {name}",
            "entry": f"bale git-hook {name}",
            "language": "system",
            "stages": [stage],
            "pass_filenames": False,
            **extra,
        }

    return {
        "repo": "local",
        "hooks": [
            hook("pre-commit", "pre-commit"),
            hook("pre-push", "pre-push"),
            hook("post-checkout", "post-checkout", always_run=True),
        ],
    }


def _pre_commit_install(repo: Repo) -> Path:
    path = scm.toplevel(repo.root) / PRE_COMMIT_CONFIG
    text = path.read_text(encoding="utf-8") if path.exists() else None
    config = yaml12.load_roundtrip(text) or {}
    if not isinstance(config, dict):
        raise BaleError(f"{path}: expected a mapping at the top level")
    repos = config.setdefault("repos", [])
    entry = pre_commit_entry()
    # as dvc: added once, whatever else the file holds
    if entry not in repos:
        repos.append(entry)
    atomic_write(path, yaml12.dumps(config).encode("utf-8"))
    return path
