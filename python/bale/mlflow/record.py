"""What one bale/dvc experiment records, in MLflow's terms, read from bale's
own records at the experiment's commit (``exp show``'s params, metrics and
dependency hashes; ``.dvc`` and ``dvc.lock`` ids; ``dvc.yaml``'s
``artifacts:``), before anything is sent to MLflow.

Tags (besides MLflow's ``mlflow.source.git.commit``,
``mlflow.source.git.repoURL`` and ``mlflow.source.name``):

- ``bale.repo``: the repository as bale opened it (its datasets' ``url``);
- ``bale.exp.name``, ``bale.exp.ref`` (``refs/exps/...``),
  ``bale.exp.baseline`` and ``bale.exp.commit``;
- ``bale.deps``: every dependency of the pipeline as JSON, ``{path: hash}``
  (the hash its ``dvc.lock`` or ``.dvc`` file records), and one
  ``bale.dep.<path>`` tag each where the path makes a valid tag name.
"""

from __future__ import annotations

import json
import posixpath
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bale.console import warn
from bale.exceptions import BaleError
from bale.mlflow.source import BaleDatasetSource, repo_urls

if TYPE_CHECKING:
    from bale.experiments.refs import ExpRef
    from bale.experiments.show import ExpData
    from bale.repo import Repo
    from bale.tree import RepoTree

#: MLflow's limits (``mlflow/utils/validation.py``): the longest names of
#: params, metrics and tags, and the longest param and tag values.
MAX_NAME = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000

COMMIT_TAG = "mlflow.source.git.commit"
REF_TAG = "bale.exp.ref"
EXP_COMMIT_TAG = "bale.exp.commit"
DEPS_TAG = "bale.deps"


@dataclass(frozen=True)
class ModelRef:
    """A model output: a ``dvc.yaml`` artifact of ``type: model``, by reference."""

    name: str
    source: BaleDatasetSource
    remote_url: str | None  # where the remote keeps its object (md5 data), if said

    def reference(self) -> dict[str, Any]:
        """The JSON reference logged beside the model's ``MLmodel``."""
        return {**self.source.to_dict(), "name": self.name, "remote_url": self.remote_url}


@dataclass
class RunRecord:
    """One experiment as an MLflow run."""

    exp: ExpRef
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    inputs: list[BaleDatasetSource] = field(default_factory=list)
    models: list[ModelRef] = field(default_factory=list)

    @property
    def start_ms(self) -> int:
        return self.exp.timestamp * 1000


def valid_name(name: str) -> bool:
    """Whether MLflow takes ``name`` as a param, metric or tag name (its own
    checks, asked before anything is sent)."""
    from mlflow.utils.validation import path_not_unique, validate_param_and_metric_name

    # (MLflow's validators carry no annotations)
    chars = validate_param_and_metric_name(name)  # type: ignore[no-untyped-call]
    unique = not path_not_unique(name)  # type: ignore[no-untyped-call]
    return bool(chars) and unique and len(name) <= MAX_NAME


def column_names(data: Sequence[ExpData]) -> dict[tuple[str, str, str], str]:
    """``(kind, file, key) -> name`` for every flattened param and metric,
    named as ``exp show`` names its columns: the key alone, or
    ``file:key`` where another file (params or metrics) has the same key."""
    from bale.pipeline.params import flatten

    seen: dict[tuple[str, str, str], None] = {}
    for d in data:
        for kind, files in (("metrics", d.metrics), ("params", d.params)):
            for path, item in files.items():
                if isinstance(item.get("data"), dict):
                    seen.update(dict.fromkeys((kind, path, k) for k in flatten(item["data"])))
    files_of: dict[str, set[str]] = {}
    for _kind, path, key in seen:
        files_of.setdefault(key, set()).add(path)
    counts = Counter({k: len(v) for k, v in files_of.items()})
    return {(kind, p, k): (k if counts[k] == 1 else f"{p}:{k}") for kind, p, k in seen}


def build(
    repo: Repo, exp: ExpRef, data: ExpData, names: dict[tuple[str, str, str], str]
) -> RunRecord:
    """The run of experiment ``exp`` (``data`` its ``exp show`` state):
    refuses, naming it, what MLflow would refuse (a name or value it does
    not take), so that nothing is written for a run that would fail."""
    from bale.pipeline.params import flatten
    from bale.tree import RepoTree

    local, shared = repo_urls(repo.root)
    origin = shared if shared != local else None
    rec = RunRecord(exp)
    where = f"experiment '{exp.name}' ({exp.commit[:7]})"
    for kind, files in (("params", data.params), ("metrics", data.metrics)):
        for path, item in files.items():
            if "data" not in item:
                warn(f"{path}: not read in {where}, left out: {item.get('error')}")
                continue
            if not isinstance(item["data"], dict):
                warn(f"{path}: holds no mapping of names to values in {where}, left out")
                continue
            for key, value in flatten(item["data"]).items():
                name = names[(kind, path, key)]
                if not valid_name(name):
                    raise BaleError(f"{path}: '{name}' in {where} is not a name MLflow takes")
                if kind == "params":
                    text = str(value)
                    if len(text) > MAX_PARAM_VALUE:
                        raise BaleError(f"{path}: '{name}' in {where} is too long for MLflow")
                    rec.params[name] = text
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    rec.metrics[name] = float(value)
                else:
                    # MLflow's metrics are numbers: the others go as tags
                    warn(f"{path}: metric '{name}' of {where} is not a number: logged as a tag")
                    text = str(value)
                    if len(text) > MAX_TAG_VALUE:
                        raise BaleError(f"{path}: '{name}' in {where} is too long for MLflow")
                    rec.tags[f"bale.metric.{name}"] = text
    deps = {p: d.get("hash") for p, d in sorted(data.deps.items())}
    rec.tags.update(
        {
            COMMIT_TAG: exp.commit,
            "mlflow.source.git.repoURL": shared,
            "mlflow.source.name": shared,
            "bale.repo": local,
            "bale.exp.name": exp.name,
            REF_TAG: exp.ref,
            "bale.exp.baseline": exp.baseline,
            EXP_COMMIT_TAG: exp.commit,
        }
    )
    deps_json = json.dumps(deps, sort_keys=True)
    if len(deps_json) > MAX_TAG_VALUE:
        raise BaleError(f"{where}: its dependencies' hashes are too many for one MLflow tag")
    rec.tags[DEPS_TAG] = deps_json
    for path, value in deps.items():
        key = f"bale.dep.{path}"
        if valid_name(key) and value is not None:
            rec.tags[key] = str(value)
    with RepoTree(local, exp.commit) as tree:
        for path in deps:
            if "://" in path:
                continue  # an import-url's source: not in this repository
            info = tree.info(path)
            if info.get("oid") is not None:
                rec.inputs.append(
                    BaleDatasetSource(local, exp.commit, path, info["algo"], info["oid"], origin)
                )
        rec.models = _models(tree, local, origin, exp, where)
    return rec


def _models(
    tree: RepoTree, local: str, origin: str | None, exp: ExpRef, where: str
) -> list[ModelRef]:
    """The ``type: model`` artifacts every ``dvc.yaml`` at the commit declares."""
    from bale.registry.artifacts import PROJECT_FILE, declared

    source = tree.view.source
    assert source is not None
    found = []
    for rel, _size, _x in tree.view.git_files():
        if posixpath.basename(rel) != PROJECT_FILE:
            continue
        dirname = posixpath.dirname(rel) or None
        for name, art in declared(source, dirname).items():
            if art.type != "model":
                continue
            path = posixpath.normpath(posixpath.join(dirname or "", art.path))
            info = tree.info(path)
            if info.get("oid") is None:
                warn(f"model '{name}' of {where}: {path} is not tracked data, left out")
                continue
            try:
                url: str | None = tree.url(path)
            except BaleError:
                url = None  # no remote, or packed (blake3) data: the hash says what it is
            src = BaleDatasetSource(local, exp.commit, path, info["algo"], info["oid"], origin)
            found.append(ModelRef(name, src, url))
    return found
