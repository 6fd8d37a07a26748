"""Several pipelines in sub-directories, each ``dvc.yaml`` with its own
``params.yaml`` next to it, reading shared data at the root through ``../..``
paths: the layout of projects that keep one pipeline per directory (dvc.org's
"pipelines files" guide, iterative/dvc.org content/docs/user-guide/
project-structure/pipelines-files.md: "DVC evaluates all the dvc.yaml files in
the workspace"; public pipelines such as the forest-fires example with
``-d ../../../data/forestfires.csv`` run from ``pipelines/<name>/``). History:
one pipeline, then a second one, then a tuned param; the workspace edits a
param of the second pipeline only."""

from __future__ import annotations

from tests.interop.corpus._repo import Fixture


def _pipeline(fx: Fixture, name: str, alpha: float, epochs: int, score: float) -> None:
    wdir = f"pipelines/{name}"
    fx.write(
        f"{wdir}/dvc.yaml",
        "stages:\n"
        "  prepare:\n"
        "    cmd: python prepare.py ../../data/raw\n"
        "    deps:\n    - ../../data/raw\n    - prepare.py\n"
        "    params:\n    - prepare.alpha\n"
        "    outs:\n    - prepared\n"
        "  train:\n"
        "    cmd: python train.py\n"
        "    deps:\n    - prepared\n    - train.py\n"
        "    params:\n    - train.epochs\n    - prepare.alpha\n"
        "    outs:\n    - model.bin\n"
        "    metrics:\n    - scores.json:\n        cache: false\n",
    )
    fx.write(f"{wdir}/params.yaml", f"prepare:\n  alpha: {alpha}\ntrain:\n  epochs: {epochs}\n")
    fx.write(f"{wdir}/prepare.py", f"# {name} prepare\n")
    fx.write(f"{wdir}/train.py", f"# {name} train\n")
    fx.write(f"{wdir}/prepared/part-0.csv", f"{name},{alpha}\n")
    fx.write(f"{wdir}/model.bin", f"{name} {alpha} {epochs}\n")
    fx.write(f"{wdir}/scores.json", f'{{"accuracy": {score}, "loss": {1 - score:.2f}}}\n')
    stages: dict[str, dict[str, object]] = {
        "prepare": {
            "cmd": "python prepare.py ../../data/raw",
            "deps": ["../../data/raw", "prepare.py"],
            "params": {"params.yaml": {"prepare.alpha": alpha}},
            "outs": ["prepared"],
        },
        "train": {
            "cmd": "python train.py",
            "deps": ["prepared", "train.py"],
            "params": {"params.yaml": {"prepare.alpha": alpha, "train.epochs": epochs}},
            "outs": ["model.bin", ("scores.json", False)],
        },
    }
    fx.outputs(wdir, stages)
    fx.lock(wdir, stages)


def build(fx: Fixture) -> list[str]:
    fx.init()
    fx.write("data/raw/a.csv", "x,y\n1,2\n")
    fx.write("data/raw/b.csv", "x,y\n3,4\n")
    fx.track("data/raw")
    _pipeline(fx, "nlp", 0.5, 10, 0.8)
    fx.commit("nlp pipeline", tag="v1")
    _pipeline(fx, "vision", 0.1, 3, 0.7)
    fx.commit("vision pipeline", tag="v2")
    _pipeline(fx, "nlp", 0.25, 10, 0.85)
    fx.commit("tune nlp", tag="v3")
    fx.write("pipelines/vision/params.yaml", "prepare:\n  alpha: 0.2\ntrain:\n  epochs: 3\n")
    return ["v1", "v2"]
