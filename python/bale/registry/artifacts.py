"""Artifacts as dvc declares and finds them: ``dvc.yaml``'s ``artifacts:``
section, and a name, version or stage resolved to a commit and a path
through the registry's tags (dvc 3.67.1's ``dvc/repo/artifacts.py``).

A name is ``model``, or ``path/to:model`` for one declared in
``path/to/dvc.yaml`` (``path/to/dvc.yaml:model`` is taken too, as dvc
takes it).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bale.exceptions import BaleError
from bale.registry import tags as gto

if TYPE_CHECKING:
    from bale.source import Source

PROJECT_FILE = "dvc.yaml"


class ArtifactNotFoundError(BaleError):
    """No such artifact, version or stage: dvc's words."""

    def __init__(self, name: str, version: str | None = None, stage: str | None = None) -> None:
        desc = f" @ {stage or version}" if (stage or version) else ""
        super().__init__(f"Unable to find artifact '{name}{desc}'")


class ArgumentsError(BaleError, ValueError):
    """A version and a stage both asked for (a ``ValueError`` too, as
    ``dvc.api.artifacts_show`` raises)."""


@dataclass(frozen=True)
class Artifact:
    """One entry of ``artifacts:``."""

    path: str
    desc: str | None = None
    type: str | None = None
    labels: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


def reformat_name(name: str) -> str:
    """``dir/dvc.yaml:model`` as GTO names it: ``dir:model``."""
    m = gto.FULLNAME_RE.match(name)
    if m and m["dirname"]:
        dirname, basename = posixpath.split(m["dirname"].rstrip(gto.SEPARATOR_IN_NAME))
        if basename == PROJECT_FILE:
            return f"{dirname}{gto.SEPARATOR_IN_NAME}{m['name']}"
    return name


def parse_path(name: str) -> tuple[str | None, str]:
    """The directory of the ``dvc.yaml`` declaring ``name`` (None: the
    root's), and the name within it."""
    m = gto.FULLNAME_RE.match(reformat_name(name))
    if not m:
        raise ArtifactNotFoundError(name)
    dirname = m["dirname"].rstrip(gto.SEPARATOR_IN_NAME) if m["dirname"] else None
    return dirname, m["name"]


def parse_shortcut(ref: str) -> tuple[str, str | None, str | None]:
    """``name@v1.2.0`` or ``name#prod`` (GTO's shortcuts; ``name@latest``
    is the latest version): the name, the version and the stage given."""
    m = gto.SHORTCUT_RE.match(ref)
    if not m:
        return ref, None, None
    version = m["version"] if m["version"] not in (None, "latest", "greatest") else None
    return m["artifact"], version, m["stage"]


def resolve_rev(
    tags: list[gto.Tag], name: str, version: str | None = None, stage: str | None = None
) -> str:
    """dvc's ``Artifacts.get_rev``: the commit of ``name``'s ``version``, or
    of the latest tag of ``stage`` (not both); with neither, of its greatest
    SemVer version (registered or not any more, as dvc counts them)."""
    name = reformat_name(name)
    found = gto.find(tags, name, version, stage)
    if not found:
        raise ArtifactNotFoundError(name, version=version, stage=stage)
    if version or stage:
        return found[-1].target
    versioned = [t for t in found if gto.semver_key(t.parsed.version) is not None]
    if not versioned:
        # no version at all (stages assigned to commits): dvc's sort fails
        # on more than one such tag; the latest is the one meant
        return found[-1].target
    # the greatest version; of its tags, the latest (sorted() keeps time order)
    ordered = sorted(versioned, key=lambda t: gto.semver_key(t.parsed.version) or ())
    return ordered[-1].target


def declared(src: Source, dirname: str | None) -> dict[str, Artifact]:
    """The ``artifacts:`` of ``dirname``'s ``dvc.yaml`` at the source's commit."""
    from bale.exceptions import OutputNotTrackedError
    from bale.pipeline.dvcyaml import artifacts_of

    rel = posixpath.join(dirname, PROJECT_FILE) if dirname else PROJECT_FILE
    try:
        data = src.read_git(rel)
    except OutputNotTrackedError:
        return {}  # no dvc.yaml there: no artifacts
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BaleError(f"{rel}: is not valid utf-8") from None
    return {str(k): Artifact(**v) for k, v in artifacts_of(text, rel).items()}


def path_of(src: Source, name: str) -> str:
    """The path (repository-relative, POSIX) of artifact ``name`` at the
    source's commit, as its ``dvc.yaml`` declares it."""
    dirname, short = parse_path(name)
    artifact = declared(src, dirname).get(short)
    if artifact is None:
        raise ArtifactNotFoundError(name)
    return posixpath.normpath(posixpath.join(dirname or "", artifact.path))
