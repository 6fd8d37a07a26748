"""``bale lineage --mlflow RUN_ID``: from an MLflow run back to the bale
lineage of what it recorded. The run names a commit and its inputs (paths
and hashes, :func:`bale.mlflow.recorded`); each input's lineage is read at
that commit (:func:`bale.ops.lineage.lineage_at`), and the hash MLflow
keeps is checked against what the commit records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bale import scm
from bale.exceptions import BaleError, StageNotFoundError
from bale.mlflow.recorded import Recorded, recorded

if TYPE_CHECKING:
    from bale.ops.lineage import Lineage
    from bale.repo import Repo

__all__ = ["InputLineage", "RunLineage", "run_lineage"]


@dataclass(frozen=True)
class InputLineage:
    """One input of the run: the hash MLflow recorded, the commit it was
    recorded at, and its lineage there (or why there is none)."""

    path: str
    recorded_hash: str | None
    commit: str | None
    lineage: Lineage | None
    #: whether the commit records the hash MLflow kept (None: not known)
    matches: bool | None
    error: str | None = None
    #: kept in git at the commit (code, a params file), not tracked data:
    #: its lineage is the commit itself
    in_git: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "recorded_hash": self.recorded_hash,
            "commit": self.commit,
            "matches": self.matches,
            "error": self.error,
            "in_git": self.in_git,
            "lineage": self.lineage.to_json() if self.lineage else None,
        }


@dataclass(frozen=True)
class RunLineage:
    run: Recorded
    inputs: list[InputLineage] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        r = self.run
        return {
            "run_id": r.run_id,
            "repo": r.repo,
            "commit": r.commit,
            "exp_ref": r.exp_ref,
            "inputs": [i.to_json() for i in self.inputs],
        }


def run_lineage(repo: Repo, run_id: str, tracking_uri: str | None = None) -> RunLineage:
    """The lineage of every input MLflow run ``run_id`` recorded, each at
    the commit it was recorded at, in ``repo`` (which must hold those
    commits: the run's repository, or a clone of it)."""
    from bale.ops.lineage import lineage_at

    run = recorded(run_id, tracking_uri)
    found = []
    for i in run.inputs:
        commit = i.rev or run.commit
        if commit is None or not _has_commit(repo, commit):
            where = f"commit {commit[:7]}" if commit else "no commit"
            found.append(
                InputLineage(
                    i.path,
                    i.hash,
                    commit,
                    None,
                    None,
                    f"the run recorded {where}, which this repository does not hold "
                    f"(the run's repository: {run.repo_url or 'unknown'})",
                )
            )
            continue
        try:
            got = lineage_at(repo, commit, i.path)
        except StageNotFoundError as e:
            in_git = _git_hash(repo, commit, i.path)
            if in_git is None:
                found.append(InputLineage(i.path, i.hash, commit, None, None, str(e)))
            else:
                matches = None if i.hash is None else in_git == i.hash
                found.append(InputLineage(i.path, i.hash, commit, None, matches, in_git=True))
            continue
        except BaleError as e:
            found.append(InputLineage(i.path, i.hash, commit, None, None, str(e)))
            continue
        matches = None if i.hash is None or got.md5 is None else got.md5 == i.hash
        found.append(InputLineage(i.path, i.hash, commit, got, matches))
    return RunLineage(run, found)


def _git_hash(repo: Repo, commit: str, path: str) -> str | None:
    """The md5 of ``path`` as git holds it at ``commit`` (a file or a
    directory, hashed by the engine as dvc.lock records it); None when git
    has nothing there."""
    from bale import index
    from bale.pipeline.changes import CommitHasher

    hasher = CommitHasher(repo, commit, commit[:8], index.collect_at(repo, commit))
    found = hasher.hash(index.abspath(repo.root / path), "md5")
    return found.oid if found is not None else None


def _has_commit(repo: Repo, commit: str) -> bool:
    proc = scm.git(repo.root, "cat-file", "-e", f"{commit}^{{commit}}", check=False)
    return proc.returncode == 0
