"""What ``model show`` and ``model history`` print, in the shapes ``gto show
--json`` and ``gto history --json`` print (gto 1.10's ``gto/api.py``), so
that a script written for one reads the other."""

from __future__ import annotations

from typing import Any

from bale.registry import tags as gto
from bale.registry.state import (
    ASSIGNMENTS_PER_VERSION,
    VERSIONS_PER_STAGE,
    Artifact,
    Registry,
)


def registry(
    reg: Registry,
    stages: list[str],
    *,
    registered_only: bool = False,
    deprecated: bool = False,
    assignments_per_version: int = ASSIGNMENTS_PER_VERSION,
    versions_per_stage: int = VERSIONS_PER_STAGE,
    sort: str = "timestamp",
) -> dict[str, dict[str, Any]]:
    """Per artifact: its greatest registered version, per stage the versions
    in it (``"v1, v2"``, or None), whether it is registered and active."""
    out = {}
    for a in reg.artifacts.values():
        if not (a.is_active or deprecated):
            continue
        latest = a.latest(registered_only=True)
        held = a.vstages(registered_only, assignments_per_version, versions_per_stage, sort)
        out[a.name] = {
            "version": latest.version if latest else None,
            "stage": {s: ", ".join(v.version for v in held.get(s, [])) or None for s in stages},
            "registered": a.is_registered,
            "active": a.is_active,
        }
    return out


def versions(
    a: Artifact,
    shortcut: str | None = None,
    *,
    registered_only: bool = False,
    deprecated: bool = False,
    assignments_per_version: int = ASSIGNMENTS_PER_VERSION,
    versions_per_stage: int = VERSIONS_PER_STAGE,
    sort: str = "timestamp",
) -> list[dict[str, Any]]:
    """Every version of ``a`` (greatest first), or those ``shortcut``
    (``@v1.2.0``, ``@latest``, ``#prod``) names, each with its stages."""
    held = a.vstages(registered_only, assignments_per_version, versions_per_stage, sort)
    out = []
    if a.is_active or deprecated:
        for v in a.get_versions(
            active_only=not deprecated,
            include_non_explicit=not registered_only,
            include_discovered=True,
        ):
            stages = [s for vs in held.values() for s in vs if s.version == v.version]
            out.append(v.to_json(stages))
    if shortcut is None:
        return out
    m = gto.SHORTCUT_RE.match(a.name + shortcut)
    assert m, shortcut
    if m["version"] in ("latest", "greatest"):
        return out[:1]
    if m["version"]:
        return [v for v in out if v["version"] == m["version"]]
    return [v for v in out for s in v["stages"] if s["stage"] == m["stage"]]


def history(
    reg: Registry, name: str | None = None, ascending: bool = False
) -> list[dict[str, Any]]:
    """Every event but commits, newest first (ties: the higher priority
    first), as ``gto history --json`` lists them."""
    events = [e for a in reg.artifacts.values() for e in a.events() if e.kind != "commit"]
    events.sort(key=lambda e: (e.created_at, e.priority))
    if not ascending:
        events.reverse()
    return [
        {
            "timestamp": e.created_at.isoformat(),
            "artifact": e.artifact,
            "event": e.kind,
            "priority": e.priority,
            "version": e.version,
            "stage": e.stage,
            "commit": e.commit,
            "author": e.author,
            "author_email": e.author_email,
            "message": e.message,
            "ref": e.ref,
        }
        for e in events
        if not name or e.artifact == name
    ]
