"""GTO's tags: their names (``gto/constants.py``'s grammar, gto 1.10) and
what git records of them (target, tagger, time, message).

Only annotated tags count, as in GTO: a lightweight tag of the same name is
no registry event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bale import scm

#: A ``:`` of a name (``dir/sub:model``) is written ``=`` in a tag.
SEPARATOR_IN_NAME = ":"
SEPARATOR_IN_TAG = "="

_DIRNAME = "[a-zA-Z0-9-_./]+"
_NAME = r"[a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?"
_SEMVER = (
    r"(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<buildmetadata>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
_FULLNAME = f"(?P<dirname>{_DIRNAME}{SEPARATOR_IN_NAME})?(?P<name>{_NAME})"

NAME_RE = re.compile(f"^{_NAME}$")
FULLNAME_RE = re.compile(f"^{_FULLNAME}$")
SEMVER_RE = re.compile(f"^v{_SEMVER}$")
TAG_RE = re.compile(
    f"^(?P<artifact>{_FULLNAME.replace(SEPARATOR_IN_NAME, SEPARATOR_IN_TAG)})"
    f"(((#(?P<stage>{_NAME})|@(?P<version>v{_SEMVER}))(?P<cancel>!?))"
    r"|@((?P<deprecated>deprecated)|(?P<created>created)))(#(?P<counter>[0-9]+))?$"
)
#: ``name@v1.2.0``, ``name@latest``, ``name#prod``: how a command names a version.
SHORTCUT_RE = re.compile(
    f"^(?P<artifact>{_FULLNAME})(#(?P<stage>{_NAME})|@(?P<version>latest|greatest|v{_SEMVER}))$"
)

REGISTER = "register"
DEREGISTER = "deregister"
ASSIGN = "assign"
UNASSIGN = "unassign"
DEPRECATE = "deprecate"
CREATE = "create"


@dataclass(frozen=True)
class Name:
    """What a tag's name says: whose, which event, of which version or stage."""

    artifact: str
    action: str
    version: str | None = None
    stage: str | None = None
    counter: int | None = None


def parse_name(tag: str) -> Name | None:
    """GTO's ``parse_name``: None for a tag that is no registry event."""
    m = TAG_RE.match(tag)
    if not m:
        return None
    artifact = m["artifact"].replace(SEPARATOR_IN_TAG, SEPARATOR_IN_NAME)
    counter = int(m["counter"]) if m["counter"] else None
    cancel = m["cancel"] == "!"
    if m["version"]:
        action = DEREGISTER if cancel else REGISTER
        return Name(artifact, action, version=m["version"], counter=counter)
    if m["stage"]:
        return Name(artifact, UNASSIGN if cancel else ASSIGN, stage=m["stage"], counter=counter)
    return Name(artifact, DEPRECATE if m["deprecated"] else CREATE, counter=counter)


@dataclass(frozen=True)
class Tag:
    """A registry event: an annotated tag, its parsed name, and what git
    records of it."""

    name: str
    parsed: Name
    #: the commit the tag points at
    target: str
    #: the tagger's time, seconds since the epoch, and as ISO 8601 with its offset
    time: int
    date: str
    tagger: str
    email: str
    message: str


def read(git_dir: Path) -> list[Tag]:
    """Every annotated tag of the repository at ``git_dir`` that names a
    registry event, in git's order (by name)."""
    fields = (
        "%(refname:strip=2)",
        "%(objecttype)",
        "%(*objectname)",
        "%(*objecttype)",
        "%(taggerdate:unix)",
        "%(taggerdate:iso-strict)",
        "%(taggername)",
        "%(taggeremail)",
        "%(contents)",
    )
    out = scm.git(git_dir, "for-each-ref", "--format=" + "%00".join(fields) + "%00", "refs/tags")
    parts = out.stdout.decode("utf-8", errors="replace").split("\0")
    tags = []
    for i in range(0, len(parts) - len(fields) + 1, len(fields)):
        name, kind, target, target_kind, when, date, tagger, email, message = parts[
            i : i + len(fields)
        ]
        name = name.lstrip("\n")  # the newline for-each-ref ends each record with
        parsed = parse_name(name)
        if parsed is None or kind != "tag" or target_kind != "commit":
            continue
        tags.append(
            Tag(name, parsed, target, int(when or 0), date, tagger, email.strip("<>"), message)
        )
    return tags


def find(
    tags: list[Tag], name: str, version: str | None = None, stage: str | None = None
) -> list[Tag]:
    """GTO's ``find``: the tags of artifact ``name`` (of ``version``, or of
    ``stage``: their cancellations too), oldest first."""
    found = [
        t
        for t in tags
        if t.parsed.artifact == name
        and (not version or t.parsed.version == version)
        and (not stage or t.parsed.stage == stage)
    ]
    return sorted(found, key=lambda t: t.time)


def semver_key(version: str | None) -> tuple[object, ...] | None:
    """SemVer 2.0's precedence of ``v1.2.3[-pre][+build]`` as a sort key
    (build metadata ignored); None for anything else."""
    m = SEMVER_RE.match(version or "")
    if not m:
        return None
    pre = m["prerelease"]
    # no pre-release ranks above any; numeric identifiers below alphanumeric ones
    rank = (
        (1,)
        if pre is None
        else (0, *((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")))
    )
    return (int(m["major"]), int(m["minor"]), int(m["patch"]), rank)
