"""The shape of iterative/example-get-started (github.com/iterative/example-get-started):
``data/data.xml.dvc``, a ``prepare -> featurize -> train -> evaluate`` pipeline in
one ``dvc.yaml`` whose stages read ``params.yaml`` keys, directory outputs
(``data/prepared``, ``data/features``), metrics ``eval/live/metrics.json`` and
plots under ``eval/`` (not cached), an ``artifacts`` section, a default remote,
and the tagged history the project publishes (track data, pipeline, evaluation,
bigrams model) plus an experiment branch. The workspace is left with an edited
param and data file, as a user has it mid-iteration."""

from __future__ import annotations

from tests.interop.corpus._repo import Fixture

DVC_YAML = """\
artifacts:
  text-classification:
    path: model.pkl
    desc: Detect whether the given stackoverflow question should have R language tag
    type: model
    labels:
    - nlp
    - classification
stages:
  prepare:
    cmd: python src/prepare.py data/data.xml
    deps:
    - data/data.xml
    - src/prepare.py
    params:
    - prepare.seed
    - prepare.split
    outs:
    - data/prepared
  featurize:
    cmd: python src/featurization.py data/prepared data/features
    deps:
    - data/prepared
    - src/featurization.py
    params:
    - featurize.max_features
    - featurize.ngrams
    outs:
    - data/features
  train:
    cmd: python src/train.py data/features model.pkl
    deps:
    - data/features
    - src/train.py
    params:
    - train.min_split
    - train.n_est
    - train.seed
    outs:
    - model.pkl
"""

EVALUATE = """\
  evaluate:
    cmd: python src/evaluate.py model.pkl data/features
    deps:
    - data/features
    - model.pkl
    - src/evaluate.py
    outs:
    - eval:
        cache: false
metrics:
- eval/live/metrics.json
plots:
- ROC:
    template: simple
    x: fpr
    y:
      eval/live/plots/sklearn/roc/train.json: tpr
      eval/live/plots/sklearn/roc/test.json: tpr
- eval/importance.png
"""

PARAMS = """\
prepare:
  split: {split}
  seed: 20170428

featurize:
  max_features: {features}
  ngrams: {ngrams}

train:
  seed: 20170428
  n_est: 50
  min_split: 0.01
"""


def _params(fx: Fixture, split: float, features: int, ngrams: int) -> dict[str, dict[str, object]]:
    fx.write("params.yaml", PARAMS.format(split=split, features=features, ngrams=ngrams))
    return {
        "prepare": {"prepare.seed": 20170428, "prepare.split": split},
        "featurize": {"featurize.max_features": features, "featurize.ngrams": ngrams},
        "train": {"train.min_split": 0.01, "train.n_est": 50, "train.seed": 20170428},
    }


def _run(fx: Fixture, p: dict[str, dict[str, object]], evaluate: bool, auc: float) -> None:
    """What ``dvc repro`` leaves: outputs written, dvc.lock recorded."""
    fx.write("data/prepared/train.tsv", f"train {p['prepare']}\n")
    fx.write("data/prepared/test.tsv", f"test {p['prepare']}\n")
    fx.write("data/features/train.pkl", f"features {p['featurize']}\n")
    fx.write("data/features/test.pkl", f"features test {p['featurize']}\n")
    fx.write("model.pkl", f"model {p['train']} {p['featurize']}\n")
    stages: dict[str, dict[str, object]] = {
        "prepare": {
            "cmd": "python src/prepare.py data/data.xml",
            "deps": ["data/data.xml", "src/prepare.py"],
            "params": {"params.yaml": p["prepare"]},
            "outs": ["data/prepared"],
        },
        "featurize": {
            "cmd": "python src/featurization.py data/prepared data/features",
            "deps": ["data/prepared", "src/featurization.py"],
            "params": {"params.yaml": p["featurize"]},
            "outs": ["data/features"],
        },
        "train": {
            "cmd": "python src/train.py data/features model.pkl",
            "deps": ["data/features", "src/train.py"],
            "params": {"params.yaml": p["train"]},
            "outs": ["model.pkl"],
        },
    }
    if evaluate:
        fx.write(
            "eval/live/metrics.json",
            f'{{"avg_prec": {{"train": 0.9, "test": {auc}}}, '
            f'"roc_auc": {{"train": 0.97, "test": {auc + 0.1:.3f}}}}}\n',
        )
        fx.write(
            "eval/live/plots/sklearn/roc/train.json",
            '{"roc": [{"fpr": 0.0, "tpr": 0.0}, {"fpr": 1.0, "tpr": 1.0}]}\n',
        )
        fx.write(
            "eval/live/plots/sklearn/roc/test.json",
            f'{{"roc": [{{"fpr": 0.0, "tpr": 0.0}}, {{"fpr": 0.5, "tpr": {auc}}}]}}\n',
        )
        fx.write("eval/importance.png", "png\n")
        stages["evaluate"] = {
            "cmd": "python src/evaluate.py model.pkl data/features",
            "deps": ["data/features", "model.pkl", "src/evaluate.py"],
            "outs": [("eval", False)],
        }
    fx.outputs(".", stages)
    fx.lock(".", stages)


def build(fx: Fixture) -> list[str]:
    fx.init(config="[core]\n    remote = storage\n['remote \"storage\"']\n    url = ../storage\n")
    fx.write("README.md", "example-get-started shape\n")
    fx.commit("Initialize Git repository", tag="0-git-init")
    fx.write("data/data.xml", "<posts><row Id='1'/></posts>\n")
    fx.track("data/data.xml")
    fx.commit("Add raw data", tag="2-track-data")
    for name in ("prepare", "featurization", "train", "evaluate"):
        fx.write(f"src/{name}.py", f"# {name}\n")
    fx.write("dvc.yaml", DVC_YAML)
    _run(fx, _params(fx, 0.20, 100, 1), evaluate=False, auc=0.0)
    fx.commit("Create ML pipeline stages", tag="7-ml-pipeline")
    fx.write("dvc.yaml", DVC_YAML + EVALUATE)
    _run(fx, _params(fx, 0.20, 100, 1), evaluate=True, auc=0.61)
    fx.commit("Evaluate model", tag="8-evaluation")
    fx.git("checkout", "-q", "-b", "tune-features")
    _run(fx, _params(fx, 0.20, 200, 2), evaluate=True, auc=0.67)
    fx.commit("Try more features and bigrams")
    fx.git("checkout", "-q", "main")
    _run(fx, _params(fx, 0.20, 100, 2), evaluate=True, auc=0.64)
    fx.commit("Re-train with bigrams", tag="9-bigrams-model")
    # Mid-iteration: a param edited, the raw data changed, nothing reproduced.
    _params(fx, 0.25, 100, 2)
    fx.write("data/data.xml", "<posts><row Id='1'/><row Id='2'/></posts>\n")
    return ["2-track-data", "8-evaluation", "tune-features"]
