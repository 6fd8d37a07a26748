"""The registry's state as GTO computes it from its tags (gto 1.10's
``gto/base.py``): per artifact, its versions, each version's stages, and
which of them are in effect.

Every event is a tag, except one per version: its commit, which GTO calls an
enrichment and counts as an event of the version (it dates a version that
has no registration). The rules that look arbitrary are GTO's, kept so that
``bale model show`` answers as ``gto show`` does on the same repository:
events of a kind sort by time, ties stay in tag-name order, and "newest
first" is an ascending sort reversed (ties reversed with it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bale import scm
from bale.registry import tags as gto

#: ``gto show``'s defaults: every stage of a version; one version per stage.
ASSIGNMENTS_PER_VERSION = -1
VERSIONS_PER_STAGE = 1

#: GTO's event classes: their name (``history``'s ``event``), their
#: priority (ties in ``history``), whether they add or take away.
_KINDS = {
    "commit": (0, True),
    "creation": (1, True),
    "deprecation": (2, False),
    "registration": (3, True),
    "deregistration": (4, False),
    "assignment": (5, True),
    "unassignment": (6, False),
}
_OF_ACTION = {
    gto.REGISTER: "registration",
    gto.DEREGISTER: "deregistration",
    gto.ASSIGN: "assignment",
    gto.UNASSIGN: "unassignment",
    gto.DEPRECATE: "deprecation",
    gto.CREATE: "creation",
}


@dataclass
class Event:
    kind: str
    artifact: str
    created_at: datetime
    author: str
    author_email: str
    message: str
    commit: str
    tag: str | None = None
    version: str | None = None
    stage: str | None = None
    #: a commit event's committer, name and email
    committer: tuple[str, str] | None = None

    @property
    def priority(self) -> int:
        return _KINDS[self.kind][0]

    @property
    def addition(self) -> bool:
        return _KINDS[self.kind][1]

    @property
    def ref(self) -> str:
        return self.tag or self.commit

    def to_json(self, event: bool = False) -> dict[str, Any]:
        """As GTO's pydantic model dumps it (``event``: with its kind, as
        ``dict_state`` adds it)."""
        out: dict[str, Any] = {
            "priority": self.priority,
            "addition": self.addition,
            "artifact": self.artifact,
            "created_at": self.created_at.isoformat(),
            "author": self.author,
            "author_email": self.author_email,
            "message": self.message,
            "commit_hexsha": self.commit,
        }
        if self.kind == "commit":
            assert self.committer is not None
            out.update(version=self.version, enrichments=[])
            out.update(committer=self.committer[0], committer_email=self.committer[1])
        else:
            out["tag"] = self.tag
            if self.version is not None:
                out["version"] = self.version
            if self.stage is not None:
                out["stage"] = self.stage
        if event:
            out["event"] = self.kind
        return out


def _newest_first(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: e.created_at)[::-1]


def _authoring(direct: list[Event], indirect: list[Event]) -> Event:
    """GTO's ``authoring_event``: the newest addition of the object's own,
    else its newest event of any kind."""
    additions = [e for e in _newest_first(direct) if e.addition]
    return additions[0] if additions else _newest_first(indirect)[0]


def _authored(obj: VStage | Version) -> dict[str, Any]:
    e = obj.authoring
    activated = obj.activated_at
    return {
        "is_active": obj.is_active,
        "activated_at": activated.isoformat() if activated else None,
        "created_at": e.created_at.isoformat(),
        "author": e.author,
        "author_email": e.author_email,
        "message": e.message,
        "ref": e.ref,
    }


@dataclass
class VStage:
    """One stage of one version: its assignments and unassignments."""

    artifact: str
    version: str
    commit: str
    stage: str
    events: list[Event] = field(default_factory=list)

    def newest_first(self) -> list[Event]:
        return _newest_first(self._of("assignment") + self._of("unassignment"))

    @property
    def is_active(self) -> bool:
        return self.newest_first()[0].kind == "assignment"

    @property
    def activated_at(self) -> datetime | None:
        newest = self.newest_first()[0]
        return newest.created_at if newest.kind == "assignment" else None

    @property
    def authoring(self) -> Event:
        return _authoring(self._of("assignment") + self._of("unassignment"), [])

    @property
    def created_at(self) -> datetime:
        return self.authoring.created_at

    def to_json(self) -> dict[str, Any]:
        return {
            "artifact": self.artifact,
            "commit_hexsha": self.commit,
            "version": self.version,
            "stage": self.stage,
            "assignments": [e.to_json(True) for e in self._of("assignment")],
            "unassignments": [e.to_json(True) for e in self._of("unassignment")],
            **_authored(self),
        }

    def _of(self, kind: str) -> list[Event]:
        return sorted((e for e in self.events if e.kind == kind), key=lambda e: e.created_at)


@dataclass
class Version:
    artifact: str
    version: str
    commit: str
    #: registrations and deregistrations
    direct: list[Event] = field(default_factory=list)
    enrichments: list[Event] = field(default_factory=list)
    stages: dict[str, VStage] = field(default_factory=dict)

    def _of(self, kind: str) -> list[Event]:
        return sorted((e for e in self.direct if e.kind == kind), key=lambda e: e.created_at)

    def own(self) -> list[Event]:
        """Registrations, then deregistrations (GTO's order, which ties keep)."""
        return self._of("registration") + self._of("deregistration")

    def indirect(self) -> list[Event]:
        return self.enrichments + [e for s in self.stages.values() for e in s.newest_first()]

    def events(self) -> list[Event]:
        """Every event of the version, newest first."""
        return _newest_first(self.own() + self.indirect())

    @property
    def is_registered(self) -> bool:
        return any(e.kind == "registration" for e in self.direct)

    @property
    def discovered(self) -> bool:
        return not self.direct

    @property
    def is_active(self) -> bool:
        if self.direct:
            return _newest_first(self.own())[0].kind == "registration"
        return bool(self.indirect())

    @property
    def activated_at(self) -> datetime:
        registrations = self._of("registration")
        if registrations:
            return registrations[0].created_at
        return sorted(self.own() + self.indirect(), key=lambda e: e.created_at)[0].created_at

    @property
    def authoring(self) -> Event:
        return _authoring(self.own(), self.indirect())

    @property
    def created_at(self) -> datetime:
        return self.authoring.created_at

    def active_stages(self, ascending: bool = False) -> list[VStage]:
        found = sorted(
            (s for s in self.stages.values() if s.is_active),
            key=lambda s: s.activated_at or datetime.min,
        )
        return found if ascending else found[::-1]

    def to_json(self, stages: list[VStage]) -> dict[str, Any]:
        return {
            "artifact": self.artifact,
            "commit_hexsha": self.commit,
            "version": self.version,
            "enrichments": [e.to_json() for e in self.enrichments],
            "registrations": [e.to_json() for e in self._of("registration")],
            "deregistrations": [e.to_json() for e in self._of("deregistration")],
            "stages": [s.to_json() for s in stages],
            **_authored(self),
            "discovered": self.discovered,
        }


def sort_versions(versions: list[Version], by: str = "semver") -> list[Version]:
    """Newest first: by SemVer precedence (then anything that is no version,
    by name), or by ``created_at``."""
    if by == "timestamp":
        return sorted(versions, key=lambda v: v.created_at)[::-1]
    semver = [v for v in versions if gto.semver_key(v.version) is not None]
    other = [v for v in versions if gto.semver_key(v.version) is None]
    return (
        sorted(semver, key=lambda v: gto.semver_key(v.version))[::-1]  # type: ignore[arg-type, return-value]
        + sorted(other, key=lambda v: v.version)[::-1]
    )


@dataclass
class Artifact:
    name: str
    versions: list[Version] = field(default_factory=list)
    #: creations and deprecations
    direct: list[Event] = field(default_factory=list)

    def events(self) -> list[Event]:
        return _newest_first(self.direct + [e for v in self.versions for e in v.events()])

    @property
    def is_active(self) -> bool:
        events = self.events()
        return bool(events) and events[0].kind != "deprecation"

    @property
    def is_registered(self) -> bool:
        return any(e.kind != "commit" for e in self.events())

    def version_at(self, commit: str) -> Version | None:
        """The version registered (or once registered) at ``commit``."""
        return next((v for v in self.versions if v.commit == commit and not v.discovered), None)

    def find(self, version: str) -> Version | None:
        return next((v for v in self.versions if v.version == version and not v.discovered), None)

    def get_versions(
        self,
        active_only: bool = True,
        include_non_explicit: bool = False,
        include_discovered: bool = False,
        sort: str = "semver",
    ) -> list[Version]:
        found = [
            v
            for v in self.versions
            if not active_only
            or (
                v.is_active
                and (
                    (v.is_registered and not v.discovered)
                    or (include_discovered and v.discovered)
                    or (include_non_explicit and not v.is_registered)
                )
            )
        ]
        return sort_versions(found, sort)

    def latest(self, registered_only: bool = True) -> Version | None:
        found = self.get_versions(include_non_explicit=not registered_only)
        return found[0] if found else None

    def vstages(
        self,
        registered_only: bool = False,
        assignments_per_version: int = ASSIGNMENTS_PER_VERSION,
        versions_per_stage: int = VERSIONS_PER_STAGE,
        sort: str = "semver",
    ) -> dict[str, list[VStage]]:
        """Per stage, the versions in it, newest first (GTO's ``get_vstages``)."""
        versions = self.get_versions(include_non_explicit=not registered_only, sort=sort)
        assignments = [
            s
            for v in versions
            for s in (
                v.active_stages(ascending=True)[:assignments_per_version]
                if assignments_per_version > -1
                else v.active_stages(ascending=True)
            )
        ]
        if sort == "timestamp":
            assignments = sorted(assignments, key=lambda s: s.created_at)[::-1]
        stages: dict[str, list[VStage]] = {}
        for s in assignments:
            held = stages.setdefault(s.stage, [])
            if -1 < versions_per_stage <= len(held):
                continue
            if s.version not in [h.version for h in held]:
                held.append(s)
        return stages

    def stage_names(self) -> set[str]:
        return set(self.vstages())


@dataclass
class Registry:
    """Every artifact the tags name."""

    artifacts: dict[str, Artifact]

    def find(self, name: str) -> Artifact | None:
        return self.artifacts.get(name)

    def stages(self, allowed: list[str] | None = None) -> list[str]:
        """The stages ``show`` has a column for: those allowed, or those in use."""
        if allowed is not None:
            return allowed
        return sorted({s for a in self.artifacts.values() for s in a.stage_names()})


def _event(tag: gto.Tag, version: str | None) -> Event:
    p = tag.parsed
    return Event(
        kind=_OF_ACTION[p.action],
        artifact=p.artifact,
        created_at=datetime.fromisoformat(tag.date),
        author=tag.tagger,
        author_email=tag.email,
        message=tag.message.strip(),
        commit=tag.target,
        tag=tag.name,
        version=version,
        stage=p.stage,
    )


def _version(a: Artifact, version: str, commit: str) -> Version:
    """The version ``version`` at ``commit``, made if there is none (GTO's
    ``find_version(create_new=True)``)."""
    found = next(
        (v for v in a.versions if v.version == version and v.commit == commit and not v.discovered),
        None,
    ) or next((v for v in a.versions if v.version == version and v.commit == commit), None)
    if found is None:
        found = Version(a.name, version, commit)
        a.versions.append(found)
    return found


def build(git_dir: Path) -> Registry:
    """The registry of the repository at ``git_dir``, from its tags and the
    commits they point at."""
    found = gto.read(git_dir)
    artifacts: dict[str, Artifact] = {}
    # GTO indexes deprecations, then versions, then stages, each oldest first.
    order = [
        (gto.DEPRECATE, gto.CREATE),
        (gto.REGISTER, gto.DEREGISTER),
        (gto.ASSIGN, gto.UNASSIGN),
    ]
    for actions in order:
        for tag in sorted((t for t in found if t.parsed.action in actions), key=lambda t: t.time):
            p = tag.parsed
            a = artifacts.setdefault(p.artifact, Artifact(p.artifact))
            if p.action in (gto.DEPRECATE, gto.CREATE):
                a.direct.append(_event(tag, None))
            elif p.version is not None:
                _version(a, p.version, tag.target).direct.append(_event(tag, p.version))
            else:
                assert p.stage is not None
                # a stage of a commit no version was registered at: the commit is the version
                v = a.version_at(tag.target) or _version(a, tag.target, tag.target)
                vs = v.stages.setdefault(p.stage, VStage(a.name, v.version, tag.target, p.stage))
                vs.events.append(_event(tag, v.version))
    _enrich(git_dir, artifacts)
    return Registry(artifacts)


def _enrich(git_dir: Path, artifacts: dict[str, Artifact]) -> None:
    """Every version's commit, as an event of the version."""
    commits = {v.commit for a in artifacts.values() for v in a.versions}
    info = scm.commit_info(git_dir, sorted(commits))
    for a in artifacts.values():
        for v in a.versions:
            c = info[v.commit]
            v.enrichments.append(
                Event(
                    kind="commit",
                    artifact=a.name,
                    created_at=datetime.fromisoformat(c["committer_date"]),
                    author=c["author"],
                    author_email=c["author_email"],
                    message=c["message"],
                    commit=v.commit,
                    version=v.version,
                    committer=(c["committer"], c["committer_email"]),
                )
            )
