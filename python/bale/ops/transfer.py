"""``bale push``, ``bale fetch`` and ``bale pull`` for folder remotes.

md5 data goes in DVC's remote layout, and a directory's ``.dir`` manifest is
uploaded only after every one of its files: DVC treats a remote ``.dir`` as
"this directory is complete", so uploading it first could make a remote claim
data it does not hold. Every object is verified by hash as it is copied, in
both directions.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bale.exceptions import ObjectMissingError, RemoteConfigError
from bale.ops.outputs import Tracked, resolve
from bale.progress import Bar
from bale.remotes import Remote, resolve_remote

if TYPE_CHECKING:
    from bale import _core
    from bale.repo import Repo


@dataclass
class TransferResult:
    """What one push or fetch moved."""

    copied: int = 0
    bytes: int = 0
    present: int = 0
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0
    remotes: list[str] = field(default_factory=list)


def _group(
    repo: Repo, targets: Sequence[str | Path] | None, remote: str | None, pushing: bool
) -> dict[Remote, list[Tracked]]:
    groups: dict[Remote, list[Tracked]] = defaultdict(list)
    for t, _sub in resolve(repo, targets):
        if t.out.oid is None or not t.out.cache or (pushing and not t.out.push):
            continue
        if t.algo == "blake3":
            raise RemoteConfigError(
                f"{t.rel(repo)}: blake3 (bale-native) data needs the packed remote layout, "
                "which is not implemented yet; md5 repositories sync today"
            )
        groups[resolve_remote(repo, remote or t.out.remote)].append(t)
    return groups


def _add(total: TransferResult, part: _core.Transferred) -> None:
    total.copied += part.copied
    total.bytes += part.bytes
    total.present += part.present
    total.missing += part.missing


def push(
    repo: Repo,
    targets: Sequence[str | Path] | None = None,
    *,
    remote: str | None = None,
    jobs: int | None = None,
) -> TransferResult:
    """Copies the cached data of the targeted outputs to their remote."""
    start = time.monotonic()
    result = TransferResult()
    ws = repo.workspace
    for rem, outs in _group(repo, targets, remote, pushing=True).items():
        result.remotes.append(rem.name)
        files: list[tuple[str, str]] = []
        dirs: list[tuple[str, str, list[tuple[str, str]]]] = []
        for t in outs:
            assert t.out.oid is not None
            if t.out.is_dir:
                if not ws.exists(t.algo, t.out.oid):
                    result.missing.append(t.rel(repo))
                    continue
                members = [(t.algo, oid) for _rel, oid, _s, _x in ws.manifest(t.algo, t.out.oid)]
                dirs.append((t.algo, t.out.oid, members))
            else:
                files.append((t.algo, t.out.oid))
        members = list(dict.fromkeys([m for _a, _o, ms in dirs for m in ms] + files))
        with Bar(f"Pushing to {rem.name}") as bar:
            part = ws.transfer(rem.path, members, True, bar.progress, bar.tick, jobs)
        _add(result, part)
        lacking = set(part.missing)
        complete = [(a, o) for a, o, ms in dirs if not lacking & {m[1] for m in ms}]
        if complete:
            _add(result, ws.transfer(rem.path, complete, True, jobs=jobs))
    result.seconds = time.monotonic() - start
    if result.missing:
        raise ObjectMissingError(
            f"{len(result.missing)} object(s) are not in the cache and were not pushed "
            f"(first: {result.missing[0]}); directories missing files were not marked complete"
        )
    return result


def fetch(
    repo: Repo,
    targets: Sequence[str | Path] | None = None,
    *,
    remote: str | None = None,
    jobs: int | None = None,
) -> TransferResult:
    """Copies the data of the targeted outputs from their remote into the cache."""
    start = time.monotonic()
    result = TransferResult()
    ws = repo.workspace
    for rem, outs in _group(repo, targets, remote, pushing=False).items():
        if not rem.path.is_dir():
            raise RemoteConfigError(f"remote '{rem.name}': {rem.path} is not a directory")
        result.remotes.append(rem.name)
        dirs = [(t.algo, t.out.oid) for t in outs if t.out.is_dir and t.out.oid]
        files = [(t.algo, t.out.oid) for t in outs if not t.out.is_dir and t.out.oid]
        part = ws.transfer(rem.path, dirs, False, jobs=jobs)
        _add(result, part)
        for algo, oid in dirs:
            if oid not in part.missing:
                files += [(algo, o) for _r, o, _s, _x in ws.manifest(algo, oid)]
        with Bar(f"Fetching from {rem.name}") as bar:
            part = ws.transfer(
                rem.path, list(dict.fromkeys(files)), False, bar.progress, bar.tick, jobs
            )
        _add(result, part)
    result.seconds = time.monotonic() - start
    if result.missing:
        raise ObjectMissingError(
            f"{len(result.missing)} object(s) are on no remote (first: {result.missing[0]})"
        )
    return result


def pull(
    repo: Repo,
    targets: Sequence[str | Path] | None = None,
    *,
    remote: str | None = None,
    force: bool = False,
    jobs: int | None = None,
) -> TransferResult:
    """Fetches, then checks out the targeted outputs."""
    from bale.ops.checkout import checkout

    with repo.locked():
        result = fetch(repo, targets, remote=remote, jobs=jobs)
    checkout(repo, targets, force=force)
    return result
