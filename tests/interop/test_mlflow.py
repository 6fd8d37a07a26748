"""bale and MLflow as peers, checked with MLflow itself (3.x, a SQLite
tracking store with a local artifact root): experiments exported as runs,
bale datasets logged and loaded back, read through ``MlflowClient``.

MLflow's import and its store's first migration take most of this
module's time (~3 s in process); the CLI runs as a subprocess only where
the command line itself is under test.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
import yaml

import bale.mlflow
from bale.exceptions import (
    BaleError,
    CorruptObjectError,
    OutputNotTrackedError,
    TargetNotFoundError,
)
from bale.mlflow import BaleDatasetSource, HashMismatchError
from bale.repo import Repo
from tests.interop.conftest import Sh

PARAMS = "prepare:\n  keep: 3\ntrain:\n  lr: 0.1\n  epochs: 2\n"
PREPARE = """\
import os, yaml
keep = yaml.safe_load(open("params.yaml"))["prepare"]["keep"]
lines = open("data/raw.csv").read().splitlines()
os.makedirs("data/prepared", exist_ok=True)
open("data/prepared/train.csv", "w").write("\\n".join(lines[: keep + 1]) + "\\n")
open("data/prepared/test.csv", "w").write("\\n".join(lines[:1] + lines[keep + 1 :]) + "\\n")
"""
TRAIN = """\
import yaml
p = yaml.safe_load(open("params.yaml"))["train"]
rows = open("data/prepared/train.csv").read().splitlines()[1:]
open("model.bin", "wb").write(f"lr={p['lr']} epochs={p['epochs']} rows={len(rows)}".encode())
"""
EVALUATE = """\
import json
lr = float(open("model.bin").read().split()[0].split("=")[1])
m = {"loss": round(1 / (1 + 10 * lr), 4), "eval": {"n": 1, "split": "test"}}
json.dump(m, open("metrics.json", "w"))
"""
DVC_YAML = """\
stages:
  prepare:
    cmd: python src/prepare.py
    deps: [src/prepare.py, data/raw.csv]
    params: [prepare.keep]
    outs: [data/prepared]
  train:
    cmd: python src/train.py
    deps: [src/train.py, data/prepared]
    params: [train.lr, train.epochs]
    outs: [model.bin]
  evaluate:
    cmd: python src/evaluate.py
    deps: [src/evaluate.py, model.bin]
    metrics:
      - metrics.json:
          cache: false
artifacts:
  model:
    path: model.bin
    type: model
"""
EXPERIMENT = "bale-project"


@pytest.fixture(scope="module")
def project(sh: Sh, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with a raw dataset (``.dvc``), prepare -> train ->
    evaluate, a folder remote, and two experiments."""
    base = tmp_path_factory.mktemp("mlflow")
    root = base / "repo"
    root.mkdir()
    sh.git("init", "-q", cwd=root)
    sh.bale("init", "-q", cwd=root)
    (root / "src").mkdir()
    (root / "data").mkdir()
    (root / "params.yaml").write_text(PARAMS)
    (root / "data/raw.csv").write_text("x,y\n1,2\n3,4\n5,6\n7,8\n")
    (root / "src/prepare.py").write_text(PREPARE)
    (root / "src/train.py").write_text(TRAIN)
    (root / "src/evaluate.py").write_text(EVALUATE)
    (root / "dvc.yaml").write_text(DVC_YAML)
    sh.bale("add", "-q", "data/raw.csv", cwd=root)
    sh.bale("repro", "-q", cwd=root)
    sh.bale("remote", "add", "-d", "store", str(base / "store"), cwd=root)
    sh.git("add", "-A", cwd=root)
    sh.git("commit", "-qm", "baseline", cwd=root)
    sh.bale("exp", "run", "-q", "-S", "train.lr=0.2", "-n", "lr02", cwd=root)
    sh.bale(
        "exp", "run", "-q", "-S", "train.lr=0.3", "-S", "prepare.keep=2", "-n", "lr03", cwd=root
    )
    # the workspace back at HEAD: its files, and its data
    sh.git("checkout", "-q", "--", ".", cwd=root)
    sh.bale("checkout", "-q", "-f", cwd=root)
    return root


def _store(base: Path) -> tuple[str, str]:
    """A SQLite tracking store and the experiment runs go to, its artifacts
    under ``base`` (never in the repository's workspace)."""
    uri = f"sqlite:///{base / 'mlflow.db'}"
    mlflow.MlflowClient(uri).create_experiment(
        EXPERIMENT, artifact_location=(base / "artifacts").as_uri()
    )
    return uri, EXPERIMENT


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return _store(tmp_path_factory.mktemp("tracking"))


@pytest.fixture(scope="module")
def exported(project: Path, store: tuple[str, str]) -> list[bale.mlflow.Exported]:
    uri, name = store
    return bale.mlflow.export_experiments(Repo(project), tracking_uri=uri, experiment=name)


def _refs(sh: Sh, root: Path) -> dict[str, tuple[str, str]]:
    """Each experiment's ``(ref, commit)``, as git lists them."""
    out = sh.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/exps", cwd=root)
    found = (line.split() for line in out.stdout.splitlines())
    return {ref.rsplit("/", 1)[1]: (ref, commit) for ref, commit in found}


def _at(sh: Sh, root: Path, commit: str, path: str) -> Any:
    return yaml.safe_load(sh.git("show", f"{commit}:{path}", cwd=root).stdout)


def _lock_hashes(sh: Sh, root: Path, commit: str) -> dict[str, str]:
    """``path -> md5`` of every dep and out dvc.lock records at ``commit``."""
    lock = _at(sh, root, commit, "dvc.lock")["stages"]
    return {
        e["path"]: e["md5"] for s in lock.values() for e in [*s.get("deps", []), *s.get("outs", [])]
    }


def _dvc_hash(out: dict[str, Any]) -> tuple[str, str]:
    """The id a ``.dvc`` file's output records: dvc's md5, or bale's blake3."""
    if "md5" in out:
        return "md5", str(out["md5"])
    return "blake3", str(out["meta"]["bale"]["blake3"])


def _runs(uri: str, name: str) -> list[Any]:
    client = mlflow.MlflowClient(uri)
    exp = client.get_experiment_by_name(name)
    return list(client.search_runs([exp.experiment_id]))


def test_each_experiment_is_a_run_with_its_params_metrics_tags_inputs_and_model(
    sh: Sh, project: Path, store: tuple[str, str], exported: list[bale.mlflow.Exported]
) -> None:
    uri, name = store
    client = mlflow.MlflowClient(uri)
    refs = _refs(sh, project)
    head = sh.git("rev-parse", "HEAD", cwd=project).stdout.strip()
    assert [(e.experiment, e.status) for e in exported] == [
        ("lr02", "created"),
        ("lr03", "created"),
    ]
    runs = {r.info.run_name: r for r in _runs(uri, name)}
    assert set(runs) == {"lr02", "lr03"}
    for exp_name, lr, keep in (("lr02", "0.2", "3"), ("lr03", "0.3", "2")):
        run = runs[exp_name]
        ref, commit = refs[exp_name]
        assert run.info.status == "FINISHED"
        assert run.data.params == {"train.lr": lr, "train.epochs": "2", "prepare.keep": keep}
        metrics = json.loads(sh.git("show", f"{commit}:metrics.json", cwd=project).stdout)
        assert run.data.metrics == {"loss": metrics["loss"], "eval.n": 1.0}
        assert run.data.tags["bale.metric.eval.split"] == "test"  # not a number: a tag
        tags = run.data.tags
        assert tags["mlflow.source.git.commit"] == commit == tags["bale.exp.commit"]
        assert tags["bale.exp.ref"] == ref
        assert tags["bale.exp.baseline"] == head
        assert tags["bale.repo"] == str(project)
        # every dependency's hash, as the experiment's dvc.lock records it
        locked = _lock_hashes(sh, project, commit)
        deps = json.loads(tags["bale.deps"])
        assert set(deps) == {
            "src/prepare.py",
            "src/train.py",
            "src/evaluate.py",
            "data/raw.csv",
            "data/prepared",
            "model.bin",
        }
        assert deps == {p: locked[p] for p in deps}
        assert tags["bale.dep.data/prepared"] == locked["data/prepared"]
        # the tracked data among them as dataset inputs: what .dvc and dvc.lock record
        raw_algo, raw_hash = _dvc_hash(_at(sh, project, commit, "data/raw.csv.dvc")["outs"][0])
        inputs = {d.dataset.name: d.dataset for d in run.inputs.dataset_inputs}
        assert set(inputs) == {"data/raw.csv", "data/prepared", "model.bin"}
        sources = {n: json.loads(d.source) for n, d in inputs.items()}
        assert all(d.source_type == "bale" for d in inputs.values())
        # MLflow keeps one dataset per name and digest: the same bytes in a
        # later experiment are the dataset the first one logged
        assert sources["data/raw.csv"] == {
            "url": str(project),
            "rev": refs["lr02"][1],
            "path": "data/raw.csv",
            "algo": raw_algo,
            "hash": raw_hash,
        }
        assert sources["data/prepared"]["hash"] == locked["data/prepared"]
        assert sources["model.bin"]["rev"] == commit  # a model of its own
        # a directory's md5 id, <md5>.dir, is 36 characters: MLflow's digest whole
        assert inputs["data/prepared"].digest == locked["data/prepared"]
        assert locked["data/prepared"].endswith(".dir")
        # a blake3 id (64) is cut to fit MLflow's digest (36)
        assert inputs["data/raw.csv"].digest == (raw_hash if len(raw_hash) <= 36 else raw_hash[:32])
        # the model, by reference: an external logged model, no copy of its bytes
        models = client.search_logged_models(
            [run.info.experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'"
        )
        assert [m.name for m in models] == ["model"]
        model = models[0]
        assert model.tags["mlflow.model.isExternal"] == "true"
        assert model.tags["bale.hash"] == locked["model.bin"]
        assert model.tags["bale.commit"] == commit
        assert [o.model_id for o in run.outputs.model_outputs] == [model.model_id]
        files = sorted(f.path for f in client.list_logged_model_artifacts(model.model_id))
        assert files == ["MLmodel", "bale.json"]
        local = mlflow.artifacts.download_artifacts(f"{model.artifact_location}/bale.json")
        ref_json = json.loads(Path(local).read_text())
        assert ref_json["hash"] == locked["model.bin"] and ref_json["path"] == "model.bin"
        # where dvc's layout keeps it on the remote (once pushed: not checked)
        h = locked["model.bin"]
        assert ref_json["remote_url"] == str(project.parent / "store/files/md5" / h[:2] / h[2:])


def test_export_again_changes_nothing(
    project: Path,
    store: tuple[str, str],
    exported: list[bale.mlflow.Exported],
    capsys: pytest.CaptureFixture[str],
) -> None:
    uri, name = store
    capsys.readouterr()
    again = bale.mlflow.export_experiments(Repo(project), tracking_uri=uri, experiment=name)
    assert [(e.run_id, e.status) for e in again] == [(e.run_id, "unchanged") for e in exported]
    assert len(_runs(uri, name)) == 2
    # what is not logged as it is, is said
    said = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("WARNING")]
    assert said == [
        f"WARNING: metrics.json: metric 'eval.split' of experiment '{e.experiment}' "
        f"({e.commit[:7]}) is not a number: logged as a tag"
        for e in exported
    ]


def test_recorded_reads_back_what_the_run_recorded(
    sh: Sh, project: Path, store: tuple[str, str], exported: list[bale.mlflow.Exported]
) -> None:
    uri, _name = store
    first = exported[0]
    got = bale.mlflow.recorded(first.run_id, tracking_uri=uri)
    assert (got.repo, got.commit, got.exp_ref) == (str(project), first.commit, first.ref)
    inputs = {i.path: i for i in got.inputs}
    locked = _lock_hashes(sh, project, first.commit)
    assert inputs["src/train.py"].hash == locked["src/train.py"]
    assert inputs["src/train.py"].source is None
    assert {i.rev for i in got.inputs} == {first.commit}
    with pytest.raises(BaleError, match=r"^MLflow at sqlite:///.*: Run with id=nope not found$"):
        bale.mlflow.recorded("nope", tracking_uri=uri)
    prepared = inputs["data/prepared"]
    assert prepared.hash == locked["data/prepared"] and prepared.source is not None
    assert prepared.source.rev == first.commit


def test_lineage_mlflow_goes_from_a_run_to_the_lineage_it_recorded(
    sh: Sh, project: Path, store: tuple[str, str], exported: list[bale.mlflow.Exported]
) -> None:
    from bale.mlflow.lineage import run_lineage
    from bale.ops.lineage import lineage_at

    uri, _name = store
    first = exported[0]
    found = run_lineage(Repo(project), first.run_id, uri)
    assert found.run.commit == first.commit
    by_path = {i.path: i for i in found.inputs}
    prepared = by_path["data/prepared"]
    assert prepared.commit == first.commit and prepared.matches is True
    assert prepared.lineage is not None and prepared.lineage.produced_by is not None
    assert prepared.lineage.produced_by.stage == "prepare"
    # what lineage --rev says of that path at that commit, exactly
    at = lineage_at(Repo(project), first.commit, "data/prepared", first.commit[:8])
    assert prepared.lineage.to_json() == at.to_json()
    assert all(i.error is None and i.matches for i in found.inputs), found.inputs
    code = by_path["src/train.py"]
    assert code.in_git and code.lineage is None  # code: its lineage is the commit
    out = sh.bale("lineage", "--mlflow", first.run_id, "--tracking-uri", uri, "--json", cwd=project)
    assert json.loads(out.stdout)["inputs"] == [i.to_json() for i in found.inputs]
    # a commit this repository does not hold: said per input, nothing invented
    elsewhere = project.parent / "elsewhere"
    shutil.rmtree(elsewhere, ignore_errors=True)
    sh.git("init", "-q", str(elsewhere), cwd=project.parent)
    sh.bale("init", "-q", cwd=elsewhere)
    sh.git("commit", "-q", "--allow-empty", "-m", "x", cwd=elsewhere)
    other = run_lineage(Repo(elsewhere), first.run_id, uri)
    assert other.inputs and all(i.lineage is None for i in other.inputs)
    assert "which this repository does not hold" in (other.inputs[0].error or "")
    p = sh.bale("lineage", "--mlflow", first.run_id, "data/raw.csv", cwd=project, check=False)
    assert p.returncode == 1 and "give no TARGET nor --rev" in p.stderr


def test_cli_exports_the_named_experiment_only_and_a_rerun_as_a_new_run(
    sh: Sh,
    project: Path,
    store: tuple[str, str],
    exported: list[bale.mlflow.Exported],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bale.cli.main import main

    root = project.parent / "rerun"
    shutil.copytree(project, root, symlinks=True)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    shutil.copy(store[0].removeprefix("sqlite:///"), tmp_path / "mlflow.db")
    # the command in this process (MLflow is imported already): its settings
    # undone after; in the repository before MLflow opens this store, which
    # takes its default artifact root (./mlruns) from there
    monkeypatch.chdir(root)
    before = {r.info.run_name: r.info.run_id for r in _runs(uri, EXPERIMENT)}
    sh.bale("exp", "run", "-q", "-f", "-S", "train.lr=0.25", "-n", "lr02", cwd=root)
    for name in ("MAX_RETRIES", "BACKOFF_FACTOR", "BACKOFF_JITTER", "TIMEOUT"):
        monkeypatch.setenv(f"MLFLOW_HTTP_REQUEST_{name}", "1")
    capsys.readouterr()
    argv = ["exp", "export", "--mlflow", "--tracking-uri", uri, "--experiment", EXPERIMENT]
    assert main([*argv, "--json", "lr02"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert list(got) == ["lr02"]
    new = got["lr02"]
    assert new["status"] == "created" and new["superseded"] == [before["lr02"]]
    assert new["commit"] == _refs(sh, root)["lr02"][1]
    runs = {r.info.run_id: r for r in _runs(uri, EXPERIMENT)}
    assert len(runs) == 3
    assert runs[before["lr02"]].data.tags["bale.exp.superseded_by"] == new["run_id"]
    assert runs[new["run_id"]].data.params["train.lr"] == "0.25"
    assert "bale.exp.superseded_by" not in runs[before["lr03"]].data.tags
    # a renamed experiment is the same run, renamed; the others unchanged
    sh.bale("exp", "rename", "lr03", "lr03b", cwd=root)
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert sorted(out) == [
        f"lr02: run {new['run_id']} (unchanged)",
        f"lr03b: run {before['lr03']} (updated)",
    ]
    renamed = mlflow.MlflowClient(uri).get_run(before["lr03"])
    assert renamed.info.run_name == "lr03b"
    assert renamed.data.tags["bale.exp.ref"] == _refs(sh, root)["lr03b"][0]
    assert len(_runs(uri, EXPERIMENT)) == 3
    # a new experiment of a local store: MLflow's ./mlruns is in the workspace, as said
    assert main([*argv[:-1], "fresh", "lr02"]) == 0
    err = capsys.readouterr().err
    said = f"WARNING: MLflow keeps the artifacts of the new experiment 'fresh' in {root}/mlruns/"
    assert said in err


def test_a_run_mlflow_fails_to_take_is_removed_again(
    project: Path, store: tuple[str, str], exported: list[bale.mlflow.Exported], tmp_path: Path
) -> None:
    from mlflow.entities import ViewType

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    shutil.copy(store[0].removeprefix("sqlite:///"), tmp_path / "mlflow.db")
    client = mlflow.MlflowClient(uri)
    # artifacts under a file: the model's MLmodel cannot be written (as root too)
    (tmp_path / "file").write_text("")
    exp_id = client.create_experiment("broken", (tmp_path / "file" / "artifacts").as_uri())
    with pytest.raises(BaleError) as e:
        bale.mlflow.export_experiments(Repo(project), tracking_uri=uri, experiment="broken")
    assert str(e.value).startswith(
        "experiment 'lr02': MLflow failed to take its run (removed again): "
    )
    assert "\n" not in str(e.value)
    assert client.search_runs([exp_id]) == []
    deleted = client.search_runs([exp_id], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_name for r in deleted] == ["lr02"]
    assert list(client.search_logged_models([exp_id])) == []
    # a deleted experiment is said to be, not written into
    client.delete_experiment(exp_id)
    with pytest.raises(BaleError, match=r"^MLflow experiment 'broken' at sqlite:.* is deleted"):
        bale.mlflow.export_experiments(Repo(project), tracking_uri=uri, experiment="broken")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_server_is_one_line_and_quick(sh: Sh, project: Path) -> None:
    uri = f"http://127.0.0.1:{_closed_port()}"
    start = time.monotonic()
    p = sh.bale("exp", "export", "--mlflow", "--tracking-uri", uri, cwd=project, check=False)
    took = time.monotonic() - start
    assert p.returncode == 1
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert lines == [f"ERROR: cannot reach MLflow tracking server at {uri}: Connection refused"]
    assert p.stdout == ""
    assert took < 20, took
    # nothing written in the repository either (no ./mlruns)
    assert sh.git("status", "--porcelain", cwd=project).stdout == ""


@pytest.fixture
def tracking(store: tuple[str, str]) -> Iterator[str]:
    """MLflow's fluent API pointed at the store, for this test."""
    uri, _name = store
    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    # an experiment of its own: MLflow keeps one dataset per name and digest
    # in an experiment, the export's are in the other
    art = Path(uri.removeprefix("sqlite:///")).parent / "datasets"
    try:
        yield mlflow.MlflowClient(uri).create_experiment("datasets", artifact_location=art.as_uri())
    finally:
        mlflow.set_tracking_uri(before)


def test_a_logged_dataset_loads_back_the_exact_bytes(
    sh: Sh, project: Path, tracking: str, tmp_path: Path
) -> None:
    head = sh.git("rev-parse", "HEAD", cwd=project).stdout.strip()
    lr03 = _refs(sh, project)["lr03"][1]
    with mlflow.start_run(experiment_id=tracking) as run:
        mlflow.log_input(bale.mlflow.dataset("data/raw.csv", repo=project))
        # an experiment's own data, by its commit: not the workspace's
        mlflow.log_input(bale.mlflow.dataset("data/prepared", repo=project, rev=lr03))
    logged = mlflow.MlflowClient().get_run(run.info.run_id).inputs.dataset_inputs
    by_name = {d.dataset.name: d for d in logged}
    raw = mlflow.data.get_source(by_name["data/raw.csv"])
    assert isinstance(raw, BaleDatasetSource) and raw.rev == head
    got = Path(raw.load(os.fspath(tmp_path / "raw")))
    assert got == tmp_path / "raw" / "raw.csv"
    assert got.read_bytes() == (project / "data/raw.csv").read_bytes()
    prepared = mlflow.data.get_source(by_name["data/prepared"].dataset)
    got = Path(prepared.load())
    assert got.name == "prepared"
    files = {p.name: p.read_bytes() for p in got.iterdir()}
    assert files == {"train.csv": b"x,y\n1,2\n3,4\n", "test.csv": b"x,y\n5,6\n7,8\n"}  # keep=2
    # loaded again into the same place: refused, not nested inside the first
    with pytest.raises(BaleError, match=r"prepared: already exists"):
        prepared.load(os.fspath(got.parent))
    got = bale.mlflow.recorded(run.info.run_id)
    assert [(i.path, i.hash, i.rev) for i in got.inputs] == [
        ("data/prepared", prepared.hash, lr03),
        ("data/raw.csv", raw.hash, head),
    ]
    # two commits, no experiment: the commit is MLflow's own (the code's), if any
    assert got.exp_ref is None
    assert got.commit == mlflow.MlflowClient().get_run(run.info.run_id).data.tags.get(
        "mlflow.source.git.commit"
    )


def test_a_path_not_tracked_at_the_revision_is_refused(project: Path) -> None:
    with pytest.raises(OutputNotTrackedError, match=r"^src/train\.py: not tracked by bale or dvc"):
        bale.mlflow.dataset("src/train.py", repo=project)
    with pytest.raises(TargetNotFoundError, match=r"^nope\.csv: no such file"):
        bale.mlflow.dataset("nope.csv", repo=project)


def test_a_bale_url_or_a_dict_resolves_to_the_recorded_source(
    sh: Sh, project: Path, tmp_path: Path
) -> None:
    from mlflow.data.dataset_source_registry import resolve_dataset_source

    head = sh.git("rev-parse", "HEAD", cwd=project).stdout.strip()
    src = resolve_dataset_source(f"bale://data/raw.csv?repo={project}&rev={head}")
    assert src == bale.mlflow.locate("data/raw.csv", repo=project)
    assert (src.rev, src.path, src.url) == (head, "data/raw.csv", str(project))
    assert resolve_dataset_source({"path": "data/raw.csv", "url": str(project)}) == src
    wrong = {**src.to_dict(), "hash": "0" * 64}
    with pytest.raises(HashMismatchError, match=r"^data/raw\.csv: \w{7} records blake3:"):
        BaleDatasetSource._resolve(wrong)
    # a clone with an origin: recorded, and read from where its path is gone
    clone = tmp_path / "clone"
    sh.git("clone", "-q", str(project), str(clone), cwd=tmp_path)
    there = bale.mlflow.locate("data/raw.csv", repo=clone, rev=head)
    assert (there.url, there.origin) == (str(clone), str(project))
    assert BaleDatasetSource.from_json(there.to_json()) == there
    shutil.rmtree(clone)
    got = Path(there.load(os.fspath(tmp_path / "out")))
    assert got.read_bytes() == (project / "data/raw.csv").read_bytes()


def test_a_tampered_object_is_a_hash_error_not_wrong_bytes(
    sh: Sh, project: Path, tmp_path: Path
) -> None:
    root = tmp_path / "repo"
    shutil.copytree(project, root, symlinks=True)
    config = root / ".dvc" / "config"
    store = str(project.parent / "store")
    config.write_text(config.read_text().replace(store, str(tmp_path / "store")))
    sh.bale("push", "-q", cwd=root)
    src = bale.mlflow.locate("data/prepared/train.csv", repo=root)
    key = Path("files", "md5", src.hash[:2], src.hash[2:])
    good = (root / ".dvc/cache" / key).read_bytes()
    # in the repository's cache, then on its remote
    for where in (root / ".dvc/cache", tmp_path / "store"):
        obj = where / key
        obj.chmod(0o644)
        obj.write_bytes(good.replace(b"1", b"9"))
        out = tmp_path / f"out-{where.name}"
        with pytest.raises(CorruptObjectError, match=f"expected {src.hash}, content hashes to"):
            src.load(os.fspath(out))
        assert list(out.iterdir()) == []
        obj.unlink(missing_ok=True)  # bale moved a corrupt cache object aside
    # the run recorded another hash than the repository does
    wrong = BaleDatasetSource(src.url, src.rev, src.path, src.algo, "0" * 32)
    with pytest.raises(HashMismatchError, match=r"not the md5:0{32} this dataset was logged with"):
        wrong.load(os.fspath(tmp_path / "out"))
    # a change not committed yet is not what HEAD holds: on disk, then added
    (root / "data/raw.csv").unlink()  # (bale checks out read-only files)
    (root / "data/raw.csv").write_text("x,y\n0,0\n")
    with pytest.raises(BaleError, match=r"^data/raw\.csv: changed in the workspace since \w{7}"):
        bale.mlflow.dataset("data/raw.csv", repo=root)
    sh.bale("add", "-q", "data/raw.csv", cwd=root)
    with pytest.raises(BaleError, match=r"^data/raw\.csv: its record in the workspace differs"):
        bale.mlflow.dataset("data/raw.csv", repo=root)


def test_import_bale_never_imports_mlflow(project: Path) -> None:
    code = "import sys, bale, bale.api, bale.cli.main; assert 'mlflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=project)


def test_the_entry_point_lets_mlflow_resolve_a_bale_source_without_importing_bale(
    project: Path, store: tuple[str, str], exported: list[bale.mlflow.Exported]
) -> None:
    # NB: entry points come from the installed metadata (pip install of
    # this tree): this fails until the package is installed again.
    eps = importlib.metadata.entry_points(group="mlflow.dataset_source")
    assert "bale.mlflow.source:BaleDatasetSource" in [ep.value for ep in eps]
    run = mlflow.MlflowClient(store[0]).get_run(exported[0].run_id)
    dataset = next(d.dataset for d in run.inputs.dataset_inputs if d.dataset.name == "data/raw.csv")
    code = (
        "import sys, mlflow.data\n"
        "from mlflow.data.dataset_source_registry import get_dataset_source_from_json\n"
        "src = get_dataset_source_from_json(sys.argv[1], 'bale')\n"
        "sys.stdout.write(open(src.load(), 'rb').read().decode())\n"
    )
    p = subprocess.run(
        [sys.executable, "-c", code, dataset.source],
        capture_output=True,
        text=True,
        cwd=project,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout == (project / "data/raw.csv").read_text()


def test_params_and_metrics_are_named_as_exp_show_names_its_columns() -> None:
    from bale.experiments.show import ExpData, ExpState
    from bale.experiments.table import tabulate
    from bale.mlflow.record import column_names

    a = ExpData("a", 0)
    a.params = {
        "params.yaml": {"data": {"lr": 1, "opt": {"beta": 2}}},
        "o.yaml": {"data": {"lr": 3}},
    }
    a.metrics = {"m.json": {"data": {"beta": 0.5, "acc": 0.9}}}
    b = ExpData("b", 0)
    b.params = {"params.yaml": {"data": {"lr": 4, "x": 5}}}
    b.metrics = {"m.json": {"data": {"x": 0.1}}}
    _td, headers = tabulate([ExpState("a", data=a), ExpState("b", data=b)])
    names = column_names([a, b])
    assert sorted(names.values()) == sorted(headers["metrics"] + headers["params"])
    assert names[("params", "params.yaml", "lr")] == "params.yaml:lr"
    assert names[("metrics", "m.json", "acc")] == "acc"


def test_names_mlflow_refuses_are_known_before_anything_is_sent() -> None:
    from bale.mlflow.record import valid_name

    for ok in ("train.lr", "params.yaml:train.lr", "bale.dep.data/raw.csv", "a b-c_d"):
        assert valid_name(ok), ok
    for bad in ("a@b", "bale.dep.data/../x", "/abs", "x" * 251, "a=b"):
        assert not valid_name(bad), bad
