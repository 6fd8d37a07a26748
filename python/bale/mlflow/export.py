"""bale/dvc experiments as MLflow runs (``bale exp export --mlflow``).

Each experiment (a ``refs/exps/...`` ref) becomes one run of the MLflow
experiment (default: the repository's directory name) named as the
experiment, holding what :mod:`bale.mlflow.record` reads: params and
metrics as ``exp show`` names them, tags for the commit, the baseline, the
ref and every dependency's hash, each tracked dependency as a dataset
input (:class:`~bale.mlflow.source.BaleDatasetSource`; MLflow keeps one
dataset per name and digest, so the same bytes in a later experiment are
the dataset, and the commit, an earlier one logged), and each model
(``dvc.yaml`` artifact of ``type: model``) as an external logged model:
MLflow's own record of a model whose bytes live elsewhere, shown in the
run's and the experiment's model lists with its tags (repository, commit,
path, hash) and a ``bale.json`` reference (hash and remote URL) beside its
``MLmodel``; no byte of the model is copied.

Runs are matched by the experiment's commit (tag ``bale.exp.commit``):

- a run of that commit with the same ref: ``unchanged``;
- one whose ref differs (the experiment was renamed): ``updated`` (its
  ref, name and run name set to the new ones);
- none: ``created``; runs of the same ref at another commit (the name run
  again with ``exp run -f``) stay, as the history they are, tagged
  ``bale.exp.superseded_by`` with the new run's id.

A run is written as: create, its params, metrics and tags in batches (at
most MLflow's 100 params and tags and 1000 metrics each), its dataset
inputs, its models, then the matching tags, then FINISHED; any failure
deletes the run and its models, so no half-written run is ever matched.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale.exceptions import BaleError
from bale.mlflow.record import (
    EXP_COMMIT_TAG,
    MAX_TAG_VALUE,
    REF_TAG,
    ModelRef,
    RunRecord,
    build,
    column_names,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

    from bale.experiments.refs import ExpRef
    from bale.repo import Repo

__all__ = ["Exported", "MlflowUnreachableError", "export_experiments", "reaching"]

SUPERSEDED_TAG = "bale.exp.superseded_by"
#: Tags written last: a run without them is not one this export finished.
_MATCH_TAGS = (REF_TAG, EXP_COMMIT_TAG)
_PARAMS_TAGS_PER_BATCH = 100
_METRICS_PER_BATCH = 1000


class MlflowUnreachableError(BaleError):
    """The tracking server did not answer."""


@dataclass(frozen=True)
class Exported:
    """One experiment's run: ``status`` is ``created``, ``updated`` or
    ``unchanged``; ``superseded`` the runs of its ref at other commits."""

    experiment: str
    ref: str
    commit: str
    run_id: str
    status: str
    superseded: tuple[str, ...] = ()

    def dumpd(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "ref": self.ref,
            "commit": self.commit,
            "run_id": self.run_id,
            "status": self.status,
            "superseded": list(self.superseded),
        }


def export_experiments(
    repo: Repo,
    names: Sequence[str] = (),
    *,
    tracking_uri: str | None = None,
    experiment: str | None = None,
) -> list[Exported]:
    """Exports every experiment of ``repo`` (or those ``names`` names, as
    ``exp push`` takes names) to the MLflow experiment ``experiment``
    (default: the repository's directory name; made if missing) of the
    tracking server ``tracking_uri`` (default: MLflow's own choice,
    ``MLFLOW_TRACKING_URI``), oldest first. Everything is read from the
    repository, and refused if MLflow would refuse it, before anything is
    written to the server. An unreachable server raises
    :class:`MlflowUnreachableError` once MLflow's own retries are spent
    (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, default 7 with backoff: minutes;
    ``bale exp export`` sets 1 unless it is set)."""
    from mlflow import MlflowClient

    from bale.experiments import refs, show

    exps = _selected(repo, refs.list_refs(repo.root), names)
    if not exps:
        return []  # nothing to say to the server (nor an experiment to make there)
    client = MlflowClient(tracking_uri)
    uri = client.tracking_uri
    name = experiment or repo.root.name
    # the server first (a read): unreachable, nothing else is said
    with reaching(uri):
        found = client.get_experiment_by_name(name)
    if found is not None and found.lifecycle_stage != "active":
        raise BaleError(
            f"MLflow experiment '{name}' at {uri} is deleted: restore it, or name another"
        )
    states = []
    for e in exps:
        state = show.state_of(repo, e.commit)
        if state.data is None:
            msg = (state.error or {}).get("msg")
            raise BaleError(f"experiment '{e.name}' ({e.commit[:7]}): cannot be read: {msg}")
        states.append(state.data)
    columns = column_names(states)
    # all of it read, and refused where MLflow would refuse it, before a write
    records = [build(repo, e, d, columns) for e, d in zip(exps, states, strict=True)]
    if found is not None:
        exp_id = found.experiment_id
    else:
        exp_id = client.create_experiment(name)
        _say_where_artifacts_go(repo, client, exp_id, name)
    existing = _bale_runs(client, exp_id)
    return [_export_one(client, exp_id, rec, existing) for rec in records]


def _say_where_artifacts_go(repo: Repo, client: MlflowClient, exp_id: str, name: str) -> None:
    """A local store puts a new experiment's artifacts where MLflow's
    default says (``./mlruns``, from the current directory): inside the
    repository, that is untracked files in its workspace, which is said."""
    from urllib.parse import urlsplit

    from bale.console import warn

    location = client.get_experiment(exp_id).artifact_location
    parts = urlsplit(location)
    if parts.scheme not in ("", "file"):
        return
    path = Path(parts.path if parts.scheme else location).resolve()
    if path.is_relative_to(repo.root.resolve()):
        warn(
            f"MLflow keeps the artifacts of the new experiment '{name}' in {path}, inside "
            "the repository: ignore it in git, or make the experiment first with an "
            "artifact location of its own (mlflow experiments create -l)"
        )


def _selected(repo: Repo, found: list[ExpRef], names: Sequence[str]) -> list[ExpRef]:
    if not names:
        return found
    from bale import scm
    from bale.experiments.select import resolve, unresolved_error

    by_ref = {e.ref: e for e in found}
    resolved = resolve(
        {r: e.commit for r, e in by_ref.items()}, names, scm.resolve_rev(repo.root, "HEAD")
    )
    unknown = [n for n, r in resolved.items() if r is None]
    if unknown:
        raise unresolved_error(unknown, None)
    wanted = {r for r in resolved.values() if r is not None}
    return [e for e in found if e.ref in wanted]


@contextlib.contextmanager
def reaching(uri: str) -> Iterator[None]:
    """Turns what MLflow raises at ``uri`` into one line: a server (or
    store) it cannot reach, or what the server answered."""
    try:
        yield
    except BaleError:
        raise
    except Exception as e:
        chain = _chain(e)
        if any(_unreachable(c) for c in chain):
            raise MlflowUnreachableError(
                f"cannot reach MLflow tracking server at {uri}: {_first_line(chain[-1])}"
            ) from None
        raise BaleError(f"MLflow at {uri}: {_first_line(e)}") from e


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes, innermost last (MLflow wraps requests' errors
    in paragraphs; the innermost says it in a few words)."""
    found = [exc]
    while (nxt := found[-1].__cause__ or found[-1].__context__) is not None and len(found) < 20:
        found.append(nxt)
    return found


def _unreachable(exc: BaseException) -> bool:
    import requests

    # a refused or timed-out connection (OSError), and a database file
    # SQLAlchemy cannot open (its OperationalError, named not imported)
    return isinstance(exc, (OSError, requests.RequestException)) or (
        type(exc).__name__ == "OperationalError"
    )


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    line = lines[0][:300] if lines else type(exc).__name__
    # "[Errno 111] Connection refused": the words are the news
    return line.split("] ", 1)[1] if line.startswith("[Errno ") else line


def _bale_runs(client: MlflowClient, exp_id: str) -> list[Run]:
    """The finished runs of the experiment that an export wrote."""
    runs: list[Run] = []
    token = None
    while True:
        page = client.search_runs(
            [exp_id],
            filter_string=f"tags.`{REF_TAG}` LIKE 'refs/exps/%' AND attributes.status = 'FINISHED'",
            max_results=1000,
            page_token=token,
        )
        runs += list(page)
        token = page.token
        if not token:
            return runs


def _export_one(client: MlflowClient, exp_id: str, rec: RunRecord, existing: list[Run]) -> Exported:
    exp = rec.exp
    same = [r for r in existing if r.data.tags.get(EXP_COMMIT_TAG) == exp.commit]
    if same:
        run = same[0]
        if run.data.tags.get(REF_TAG) == exp.ref:
            return Exported(exp.name, exp.ref, exp.commit, run.info.run_id, "unchanged")
        from mlflow.entities import RunTag

        renamed = {REF_TAG: exp.ref, "bale.exp.name": exp.name, "mlflow.runName": exp.name}
        tags = [RunTag(k, v) for k, v in renamed.items()]
        client.log_batch(run.info.run_id, tags=tags, synchronous=True)
        return Exported(exp.name, exp.ref, exp.commit, run.info.run_id, "updated")
    try:
        run_id = _create(client, exp_id, rec)
    except BaleError:
        raise
    except Exception as e:
        raise BaleError(
            f"experiment '{exp.name}': MLflow failed to take its run (removed again): "
            f"{_first_line(e)}"
        ) from e
    older = [
        r.info.run_id
        for r in existing
        if r.data.tags.get(REF_TAG) == exp.ref and SUPERSEDED_TAG not in r.data.tags
    ]
    for old in older:
        client.set_tag(old, SUPERSEDED_TAG, run_id)
    existing.append(client.get_run(run_id))
    return Exported(exp.name, exp.ref, exp.commit, run_id, "created", tuple(older))


def _create(client: MlflowClient, exp_id: str, rec: RunRecord) -> str:
    """The run of ``rec``, whole, or nothing (deleted on any failure)."""
    from mlflow.entities import Metric, Param, RunTag

    run = client.create_run(exp_id, start_time=rec.start_ms, run_name=rec.exp.name)
    run_id = str(run.info.run_id)
    models: list[str] = []
    try:
        params = [Param(k, v) for k, v in rec.params.items()]
        tags = [RunTag(k, v) for k, v in rec.tags.items() if k not in _MATCH_TAGS]
        metrics = [Metric(k, v, rec.start_ms, 0) for k, v in rec.metrics.items()]
        for p, t, m in _batches(params, tags, metrics):
            client.log_batch(run_id, metrics=m, params=p, tags=t, synchronous=True)
        if rec.inputs:
            client.log_inputs(run_id, datasets=[_dataset_input(s) for s in rec.inputs])
        for model in rec.models:
            models.append(_log_model(client, exp_id, run_id, rec, model))
        last = [RunTag(k, rec.tags[k]) for k in _MATCH_TAGS]
        client.log_batch(run_id, tags=last, synchronous=True)
        client.set_terminated(run_id, "FINISHED", end_time=rec.start_ms)
    except BaseException:
        for model_id in models:
            _quietly(client.delete_logged_model, model_id)
        _quietly(client.delete_run, run_id)
        raise
    return run_id


def _quietly(call: Any, *args: Any) -> None:
    # cleaning up after a failure that is being raised: that one is the news
    with contextlib.suppress(Exception):
        call(*args)


def _batches(params: list[Any], tags: list[Any], metrics: list[Any]) -> Iterator[tuple[Any, ...]]:
    """MLflow's ``log_batch`` limits: 100 params and tags, 1000 metrics."""
    pt = [("p", x) for x in params] + [("t", x) for x in tags]
    n = max(
        -(-len(pt) // _PARAMS_TAGS_PER_BATCH),
        -(-len(metrics) // _METRICS_PER_BATCH),
        1,
    )
    for i in range(n):
        chunk = pt[i * _PARAMS_TAGS_PER_BATCH : (i + 1) * _PARAMS_TAGS_PER_BATCH]
        yield (
            [x for k, x in chunk if k == "p"],
            [x for k, x in chunk if k == "t"],
            metrics[i * _METRICS_PER_BATCH : (i + 1) * _METRICS_PER_BATCH],
        )


def _dataset_input(src: Any) -> Any:
    from mlflow.entities import Dataset, DatasetInput, InputTag
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    entity = Dataset(
        name=src.path, digest=src.digest, source_type=src._get_source_type(), source=src.to_json()
    )
    return DatasetInput(entity, tags=[InputTag(MLFLOW_DATASET_CONTEXT, "dependency")])


def _log_model(client: MlflowClient, exp_id: str, run_id: str, rec: RunRecord, m: ModelRef) -> str:
    """An external logged model for ``m``: tags, an ``MLmodel`` as MLflow's
    ``create_external_model`` writes it, and ``bale.json``."""
    from mlflow.entities import LoggedModelOutput
    from mlflow.models.model import MLMODEL_FILE_NAME
    from mlflow.models.utils import get_external_mlflow_model_spec
    from mlflow.utils.mlflow_tags import MLFLOW_MODEL_IS_EXTERNAL

    src = m.source
    tags = {
        MLFLOW_MODEL_IS_EXTERNAL: "true",
        "bale.repo": src.url,
        "bale.commit": src.rev,
        "bale.path": src.path,
        "bale.algo": src.algo,
        "bale.hash": src.hash,
        "bale.exp.ref": rec.exp.ref,
    }
    if m.remote_url is not None:
        tags["bale.remote_url"] = m.remote_url[:MAX_TAG_VALUE]
    model = client.create_logged_model(
        exp_id, name=m.name, source_run_id=run_id, tags=tags, model_type="bale"
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            get_external_mlflow_model_spec(model).save(os.path.join(tmp, MLMODEL_FILE_NAME))
            Path(tmp, "bale.json").write_text(json.dumps(m.reference(), indent=2) + "\n")
            client.log_model_artifacts(model.model_id, tmp)
        client.finalize_logged_model(model.model_id, "READY")
        client.log_outputs(run_id, [LoggedModelOutput(model.model_id, 0)])
    except BaseException:
        _quietly(client.delete_logged_model, model.model_id)
        raise
    return str(model.model_id)
