"""What an MLflow run recorded of bale: read back from the run, for
lineage (``bale lineage --mlflow RUN_ID``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from bale.exceptions import BaleError
from bale.mlflow.record import COMMIT_TAG, DEPS_TAG, EXP_COMMIT_TAG, REF_TAG
from bale.mlflow.source import SOURCE_TYPE, BaleDatasetSource

__all__ = ["Input", "Recorded", "recorded"]


@dataclass(frozen=True)
class Input:
    """One input of the run: a path, the hash recorded for it and the commit
    it was recorded at; ``source`` where it was logged as a bale dataset
    (it can be loaded)."""

    path: str
    hash: str | None
    rev: str | None
    source: BaleDatasetSource | None = None


@dataclass(frozen=True)
class Recorded:
    """What run ``run_id`` recorded: the repository (``repo``: as bale
    opened it; ``repo_url``: as MLflow's ``mlflow.source.git.repoURL`` has
    it), the git commit (an exported experiment's; else the one commit all
    its bale datasets were logged at, if they agree; else MLflow's
    ``mlflow.source.git.commit``, the code's), the experiment's ref (None for a run
    that ``exp export`` did not write), and its inputs, by path."""

    run_id: str
    repo: str | None
    repo_url: str | None
    commit: str | None
    exp_ref: str | None
    inputs: list[Input] = field(default_factory=list)


def recorded(run_id: str, tracking_uri: str | None = None) -> Recorded:
    """Reads run ``run_id`` of the tracking server ``tracking_uri`` (default:
    MLflow's): its bale datasets (``bale.mlflow.dataset`` or ``exp export``)
    and, for an exported run, every dependency's hash (``bale.deps``).
    A run that recorded no commit and no bale dataset is refused."""
    from mlflow import MlflowClient
    from mlflow.data import get_source

    from bale.mlflow.export import reaching

    client = MlflowClient(tracking_uri)
    with reaching(client.tracking_uri):
        run = client.get_run(run_id)
    tags = run.data.tags
    inputs: dict[str, Input] = {}
    exp_commit = tags.get(EXP_COMMIT_TAG)
    for di in run.inputs.dataset_inputs if run.inputs else []:
        if di.dataset.source_type != SOURCE_TYPE:
            continue
        src = get_source(di)
        assert isinstance(src, BaleDatasetSource)
        # MLflow keeps one dataset per name and digest: an exported run's
        # may name an earlier experiment's commit, with the same bytes
        inputs[src.path] = Input(src.path, src.hash, exp_commit or src.rev, src)
    if DEPS_TAG in tags:
        for path, h in json.loads(tags[DEPS_TAG]).items():
            inputs.setdefault(path, Input(path, h, exp_commit))
    sources = [i.source for i in inputs.values() if i.source is not None]
    revs = {s.rev for s in sources}
    # the data's commit before MLflow's own tag, which names the code's
    commit = exp_commit or (revs.pop() if len(revs) == 1 else None) or tags.get(COMMIT_TAG)
    if commit is None and not inputs:
        raise BaleError(f"MLflow run {run_id}: recorded no git commit and no bale dataset")
    repo = tags.get("bale.repo") or (sources[0].url if sources else None)
    return Recorded(
        run_id=run_id,
        repo=repo,
        repo_url=tags.get("mlflow.source.git.repoURL") or repo,
        commit=commit,
        exp_ref=tags.get(REF_TAG),
        inputs=sorted(inputs.values(), key=lambda i: i.path),
    )
