"""Experiment refs of a git remote (a remote's name or any URL ``git`` takes),
read with ``git ls-remote`` and moved with ``git push`` / ``git fetch``, as
dvc's ``exp list/push/pull <git_remote>`` move them."""

from __future__ import annotations

from pathlib import Path

from bale import scm
from bale.exceptions import BaleError
from bale.experiments.refs import NAMESPACE


def parse_ref(ref: str) -> tuple[str, str] | None:
    """``(baseline, name)`` of an experiment ref, or None for any other ref
    under ``refs/exps`` (dvc's stashes, ``exec/`` and ``apply/`` bookkeeping)."""
    parts = ref.split("/")
    if len(parts) != 5 or "/".join(parts[:2]) != NAMESPACE:
        return None
    if len(parts[2]) != 2 or len(parts[3]) != 38:
        return None
    return parts[2] + parts[3], parts[4]


def remote_refs(root: Path, git_remote: str) -> dict[str, str]:
    """The experiment refs of ``git_remote`` (ref -> commit id)."""
    out = scm.git(root, "ls-remote", "--refs", git_remote, f"{NAMESPACE}/*", check=False)
    if out.returncode != 0:
        # dvc's words; git's own reason is for -v
        from bale.console import debug

        debug(out.stderr.decode(errors="replace").strip())
        raise BaleError(f"'{git_remote}' is not a valid Git remote or URL")
    found = {}
    for line in out.stdout.decode().splitlines():
        commit, _, ref = line.partition("\t")
        if parse_ref(ref) is not None:
            found[ref] = commit
    return found
