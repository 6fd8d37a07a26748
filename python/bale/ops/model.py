"""``bale model``: register versions of an artifact, assign them to stages,
deprecate them, as GTO does it (gto 1.10's ``gto/registry.py``): each act is
one annotated git tag, named so that ``gto show`` and dvc's ``artifacts
get`` read it (``model@v1.2.0``, ``model#prod#3``, ``model@deprecated``).

Beyond GTO, registering a version checks that it can be got back: the
artifact is declared in ``dvc.yaml`` at that commit, its data is recorded
there (not only in the workspace), and that data is on a remote.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bale import scm
from bale.console import warn
from bale.exceptions import BaleError, RemoteConfigError
from bale.registry import state
from bale.registry import tags as gto
from bale.registry.artifacts import ArtifactNotFoundError, reformat_name

if TYPE_CHECKING:
    from bale.index import Tracked
    from bale.ops.lineage import Lineage
    from bale.repo import Repo

#: GTO's configuration file, at the top of the repository.
GTO_CONFIG = ".gto"
#: GTO's own index of artifacts (before dvc.yaml declared them), not read.
GTO_INDEX = "artifacts.yaml"

_BUMPS = ("major", "minor", "patch")


class RegistryError(BaleError):
    """A registry act refused: what is wrong, and how to go on."""


class NotReadyError(RegistryError):
    """A version that could not be got back: not committed, or not on a remote."""


@dataclass(frozen=True)
class Created:
    """A tag made: its name, and what it did (GTO's words)."""

    tag: str
    did: str


def _check_name(name: str) -> None:
    if not gto.FULLNAME_RE.match(name):
        raise RegistryError(
            f"invalid artifact name '{name}': only letters, numbers, '_', '-', '/' are "
            "allowed, and it must start and end with a letter or a number"
        )


def _check_stage(repo: Repo, stage: str) -> None:
    if not gto.NAME_RE.match(stage):
        raise RegistryError(
            f"invalid stage name '{stage}': only letters, numbers, '_', '-', '/' are "
            "allowed, and it must start and end with a letter or a number"
        )
    allowed = allowed_stages(repo)
    if allowed is not None and stage not in allowed:
        raise RegistryError(
            f"unknown stage '{stage}': {GTO_CONFIG} allows {', '.join(allowed) or 'none'}"
        )


def _check_version(version: str) -> None:
    if gto.semver_key(version) is None:
        raise RegistryError(f"invalid version '{version}': a version is like v1.0.0")


def allowed_stages(repo: Repo) -> list[str] | None:
    """The stages ``.gto`` allows (None: any, as without the file)."""
    path = scm.toplevel(repo.root) / GTO_CONFIG
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    from bale.pipeline.params import loads_as

    data = loads_as(text, GTO_CONFIG, ".yaml") or {}
    if not isinstance(data, dict):
        raise RegistryError(f"{GTO_CONFIG}: expected a mapping, got {type(data).__name__}")
    for key in data:
        if key not in ("stages", "types"):
            warn(f"{GTO_CONFIG}: '{key}' is not read by bale (only 'stages' and 'types' are)")
    stages = data.get("stages")
    if stages is None:
        return None
    if not isinstance(stages, list) or not all(isinstance(s, str) for s in stages):
        raise RegistryError(f"{GTO_CONFIG}: 'stages' must be a list of names")
    return stages


def load(repo: Repo) -> state.Registry:
    """The registry of ``repo``'s git repository."""
    scm.require_git(repo, "the model registry")
    top = scm.toplevel(repo.root)
    if (top / GTO_INDEX).exists():
        warn(
            f"{GTO_INDEX}: GTO's index of artifacts is not read by bale; "
            "declare artifacts in dvc.yaml's 'artifacts:'"
        )
    return state.build(repo.root)


def _commit(repo: Repo, rev: str) -> str:
    scm.require_git(repo, "the model registry")
    proc = scm.git(repo.root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    if proc.returncode != 0:
        raise RegistryError(f"unknown git revision '{rev}'")
    return proc.stdout.decode().strip()


def _tag(repo: Repo, name: str, commit: str, message: str) -> None:
    """One annotated tag: git writes the tag object before its ref, so no
    ref ever points at a tag without its annotation."""
    ref = _check_ref(repo, name)
    if scm.git(repo.root, "rev-parse", "--verify", "--quiet", ref, check=False).returncode == 0:
        raise RegistryError(f"tag '{name}' already exists")
    scm.git(repo.root, "tag", "-a", name, "-m", message, commit)


def _check_ref(repo: Repo, tag: str) -> str:
    """``refs/tags/<tag>``, if git takes it as a tag name."""
    ref = f"refs/tags/{tag}"
    if scm.git(repo.root, "check-ref-format", ref, check=False).returncode != 0:
        raise RegistryError(f"git refuses the tag name '{tag}'")
    return ref


def _counted(repo: Repo, base: str, artifact: str) -> str:
    """``base#N``: N one above any counter of the artifact's tags (GTO's
    ``name_tag``, lightweight tags counted too)."""
    out = scm.git(repo.root, "for-each-ref", "--format=%(refname:strip=2)", "refs/tags")
    counters = [
        p.counter
        for n in out.stdout.decode("utf-8", errors="replace").split()
        if (p := gto.parse_name(n)) is not None and p.artifact == artifact and p.counter
    ]
    return f"{base}#{max(counters, default=0) + 1}"


def _in_tag(name: str) -> str:
    return name.replace(gto.SEPARATOR_IN_NAME, gto.SEPARATOR_IN_TAG)


# Registering


def register(
    repo: Repo,
    name: str,
    rev: str = "HEAD",
    *,
    version: str | None = None,
    bump: str | None = None,
    message: str | None = None,
    force: bool = False,
) -> Created:
    """Registers ``name``'s version at ``rev``: ``version``, or the latest
    registered one bumped (``bump``: major, minor or patch; default patch),
    or v0.0.1 for the first. Unless ``force``, the artifact must be
    committed at ``rev`` and its data on a remote (see :func:`check_ready`)."""
    _check_name(name)
    if version and bump:
        raise RegistryError("give either a version or a bump, not both")
    if bump is not None and bump not in _BUMPS:
        raise RegistryError(f"unknown bump '{bump}': major, minor or patch")
    if version:
        _check_version(version)
    commit = _commit(repo, rev)
    reg = load(repo)
    artifact = reg.find(name) or state.Artifact(name)
    at = artifact.version_at(commit)
    if at is not None:
        if not force and at.is_registered and at.is_active:
            raise RegistryError(
                f"'{name}' is already registered at {commit[:7]} as version '{at.version}'"
            )
        if version and version != at.version:
            raise RegistryError(
                f"at {commit[:7]}, '{name}' can only be registered as '{at.version}'"
            )
        version = at.version
    if version:
        if artifact.find(version) is not at:
            raise RegistryError(f"version '{version}' of '{name}' is registered already")
    else:
        version = _next_version(artifact, bump)
    if not force:
        check_ready(repo, name, commit, rev)
    tag = f"{_in_tag(name)}@{version}"
    _tag(repo, tag, commit, message or f"Registering artifact {name} version {version}")
    return Created(tag, "registers version")


def _next_version(artifact: state.Artifact, bump: str | None) -> str:
    last = artifact.latest(registered_only=True)
    if last is None:
        if bump:
            raise RegistryError(
                f"cannot bump the {bump} version: no version of '{artifact.name}' is registered"
            )
        return "v0.0.1"
    key = gto.semver_key(last.version)
    assert key is not None
    major, minor, patch = (int(x) for x in key[:3])  # type: ignore[call-overload]
    if bump == "major":
        return f"v{major + 1}.0.0"
    if bump == "minor":
        return f"v{major}.{minor + 1}.0"
    return f"v{major}.{minor}.{patch + 1}"


def check_ready(repo: Repo, name: str, commit: str, rev: str) -> None:
    """Raises :class:`NotReadyError` unless version ``commit`` of ``name``
    can be got back by anyone: the artifact is declared in ``dvc.yaml`` at
    the commit, its path is in the commit (in git, or recorded by a ``.dvc``
    file or ``dvc.lock``, committed as the workspace has it when the commit
    is HEAD's), and recorded data is on a remote."""
    from bale.registry.artifacts import path_of
    from bale.source import Source

    where = f"at {rev}" + (f" ({commit[:7]})" if rev != commit else "")
    hint = "; --force registers it anyway"
    with Source.open(str(repo.root), commit, repo_type=type(repo)) as src:
        try:
            path = path_of(src, reformat_name(name))
        except ArtifactNotFoundError:
            raise NotReadyError(
                f"artifact '{name}' is not declared in dvc.yaml's 'artifacts:' {where}{hint}"
            ) from None
        found = src.locate(path)
        if found is None:
            if src.git_files(path):
                return  # in git itself: the commit holds it
            raise NotReadyError(
                f"artifact '{name}': {path} is not committed {where} "
                f"(no .dvc file or dvc.lock in the commit records it){hint}"
            )
        tracked, _sub = found
    head = scm.head(repo.root)
    metafile = tracked.dvcfile.path
    if head is not None and head[0] == commit and scm.is_modified(repo.root, metafile):
        rel = os.path.relpath(metafile, repo.root)
        raise NotReadyError(
            f"artifact '{name}': {rel} has changes not committed; commit them, "
            f"or register another revision{hint}"
        )
    _check_on_remote(repo, name, path, tracked, hint)


def _remote_names(repo: Repo) -> list[str]:
    names = []
    for key, _value in repo.config.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "remote" and parts[2] == "url":
            names.append(parts[1])
    return names


def _check_on_remote(repo: Repo, name: str, path: str, tracked: Tracked, hint: str) -> None:
    """Whether every object of ``tracked`` is on one remote: its own remote
    or the default first, then any other configured."""
    from bale.ops.status import presence
    from bale.remotes import resolve_remote

    first = tracked.out.remote or repo.config.core_remote()
    candidates = list(dict.fromkeys([*([first] if first else []), *_remote_names(repo)]))
    if not candidates:
        raise NotReadyError(f"artifact '{name}': {path} is on no remote (none is configured){hint}")
    asked = []
    for remote in candidates:
        try:
            rem = resolve_remote(repo, remote)
        except RemoteConfigError as e:
            warn(f"remote '{remote}' not checked: {e}")
            continue
        known, _unsure = presence(repo, rem, [tracked], None)
        if known and all(there for _cached, there in known.values()):
            return
        asked.append(remote)
    raise NotReadyError(
        f"artifact '{name}': the data of {path} is not on remote "
        f"{', '.join(repr(r) for r in asked) or 'any'} (push it first: bale push {path}){hint}"
    )


# Stages


def assign(
    repo: Repo,
    name: str,
    stage: str,
    *,
    version: str | None = None,
    rev: str | None = None,
    message: str | None = None,
    force: bool = False,
) -> list[Created]:
    """Assigns ``stage`` to ``name``'s ``version``, or to its version at
    ``rev`` (registering one there first, as ``version`` or the next, if
    there is none; default rev: HEAD)."""
    _check_name(name)
    _check_stage(repo, stage)
    # before a version is registered for it: no act done by halves
    _check_ref(repo, f"{_in_tag(name)}#{stage}#1")
    if version:
        _check_version(version)
    made = []
    reg = load(repo)
    artifact = reg.find(name) or state.Artifact(name)
    if rev is None and version is not None:
        found = artifact.find(version)
        if found is None:
            raise RegistryError(f"version '{version}' of '{name}' is not registered")
    else:
        commit = _commit(repo, rev or "HEAD")
        found = artifact.version_at(commit)
        if found is not None and version and found.version != version:
            raise RegistryError(
                f"cannot register '{version}': '{found.version}' is registered at "
                f"{commit[:7]} already"
            )
        if found is None:
            made.append(register(repo, name, commit, version=version, force=force))
            found = load(repo).artifacts[name].version_at(commit)
            assert found is not None
    if not force and any(s.stage == stage for s in found.active_stages()):
        raise RegistryError(
            f"version '{found.version}' of '{name}' is in stage '{stage}' already "
            "(--force makes a new tag nevertheless)"
        )
    tag = _counted(repo, f"{_in_tag(name)}#{stage}", name)
    text = f"Assigning stage {stage} to artifact {name} version {found.version}"
    _tag(repo, tag, found.commit, message or text)
    made.append(Created(tag, f"assigns stage to version '{found.version}'"))
    return made


# Taking back


def deprecate(
    repo: Repo,
    name: str,
    version: str | None = None,
    stage: str | None = None,
    *,
    message: str | None = None,
    force: bool = False,
) -> Created:
    """Deprecates artifact ``name``; with ``version``, deregisters that
    version; with ``stage`` too, unassigns the stage from it (GTO's
    ``deprecate NAME [VERSION [STAGE]]``)."""
    _check_name(name)
    if stage is not None and version is None:
        raise RegistryError("a stage is unassigned from a version: give the version too")
    if stage is not None:
        _check_stage(repo, stage)
    if version is not None:
        _check_version(version)
    reg = load(repo)
    artifact = reg.find(name)
    if artifact is None:
        raise ArtifactNotFoundError(name)
    if version is None:
        return _deprecate(repo, artifact, message, force)
    found = artifact.find(version)
    if found is None:
        raise ArtifactNotFoundError(name, version=version)
    if stage is None:
        if not force and not found.is_registered:
            raise RegistryError(f"version '{version}' of '{name}' is not registered")
        if not force and not found.is_active:
            raise RegistryError(f"version '{version}' of '{name}' was deregistered already")
        tag = f"{_in_tag(name)}@{version}!"
        if force:
            tag = _counted(repo, tag, name)
        text = f"Deregistering artifact {name} version {version}"
        _tag(repo, tag, found.commit, message or text)
        return Created(tag, "deregisters version")
    if not force and stage not in found.stages:
        raise RegistryError(f"stage '{stage}' is not assigned to version '{version}' of '{name}'")
    tag = _counted(repo, f"{_in_tag(name)}#{stage}!", name)
    text = f"Unassigning stage '{stage}' to artifact '{name}' version '{version}'"
    _tag(repo, tag, found.commit, message or text)
    return Created(tag, "unassigns stage from version")


def _deprecate(repo: Repo, artifact: state.Artifact, message: str | None, force: bool) -> Created:
    name = artifact.name
    if not force and not artifact.is_active:
        raise RegistryError(f"artifact '{name}' was deprecated already")
    events = artifact.events()
    commit = events[0].commit if events else _commit(repo, "HEAD")
    tag = f"{_in_tag(name)}@deprecated"
    if force:
        tag = _counted(repo, tag, name)
    _tag(repo, tag, commit, message or f"Deprecating artifact '{name}'")
    return Created(tag, "deprecates artifact")


@dataclass(frozen=True)
class VersionLineage:
    """``model show NAME@VERSION --lineage``: the version, and where its
    artifact came from as its commit records it."""

    artifact: str
    version: str
    commit: str
    stages: list[str]
    path: str
    lineage: Lineage

    def to_json(self) -> dict[str, Any]:
        return {
            "artifact": self.artifact,
            "version": self.version,
            "commit": self.commit,
            "stages": self.stages,
            "path": self.path,
            "lineage": self.lineage.to_json(),
        }


def lineage_of(repo: Repo, ref: str) -> VersionLineage:
    """The lineage of the version ``ref`` names (``NAME@v1.2.0``,
    ``NAME#prod``, ``NAME@latest``; a bare ``NAME`` with one version), read
    at its commit from git and the cache (:func:`bale.ops.lineage.lineage_at`)."""
    from bale.ops.lineage import lineage_at
    from bale.registry import show
    from bale.registry.artifacts import parse_shortcut, path_of
    from bale.source import Source

    name, _v, _s = parse_shortcut(ref)
    artifact = load(repo).find(name)
    if artifact is None:
        raise ArtifactNotFoundError(name)
    shortcut = ref[len(name) :] or None
    # GTO's reading of the shortcut (``gto show NAME#prod``: the stage's
    # version in effect), as ``model show`` prints it; ``artifacts get
    # --stage`` follows dvc's instead (the stage's latest tag, even an
    # unassignment). A deprecated artifact's or deregistered version's
    # lineage too: it was used once.
    found = show.versions(artifact, shortcut, deprecated=True)
    if not found:
        raise ArtifactNotFoundError(name, version=_v, stage=_s)
    if len(found) > 1:
        raise RegistryError(
            f"'{name}' has {len(found)} versions: name one (NAME@v1.2.0, NAME#prod, NAME@latest)"
        )
    version, commit = found[0]["version"], found[0]["commit_hexsha"]
    with Source.open(str(repo.root), commit, repo_type=type(repo)) as src:
        try:
            path = path_of(src, reformat_name(name))
        except ArtifactNotFoundError:
            raise RegistryError(
                f"'{name}@{version}': not declared in dvc.yaml's 'artifacts:' at its commit "
                f"{commit[:7]}, so its path is unknown"
            ) from None
    stages = [s["stage"] for s in found[0]["stages"]]
    found_lineage = lineage_at(repo, commit, path, f"{name}@{version}")
    return VersionLineage(name, version, commit, stages, path, found_lineage)


def push_hint(made: list[Created]) -> str:
    """How to publish the tags (they are local until pushed)."""
    names = " ".join(c.tag for c in made)
    return f"To push the changes upstream, run:\n    git push origin {names}"
