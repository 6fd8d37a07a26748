"""Params in every format dvc reads: ``params.yaml`` (default), ``params.json``,
``config/train.toml`` and ``params.py`` (module constants and a class), named
per stage as ``file:key`` and as lists under a file, plus a whole-file
dependency (``- config/train.toml:`` with no keys), and a top-level ``params``
section. The shapes are those of dvc.org's params reference
(iterative/dvc.org content/docs/command-reference/params/index.md: ``-p
params.py:BOOL,INT,TrainConfig.EPOCHS,TrainConfig.layers``, TOML and JSON
files) and of its dvc.yaml reference (top-level ``params:``). History: the
params files appear one by one, then values change; the workspace changes a
Python and a TOML value."""

from __future__ import annotations

from tests.interop.corpus._repo import Fixture

DVC_YAML = """\
params:
- extra.yaml
stages:
  train:
    cmd: python train.py
    deps:
    - train.py
    params:
    - seed
    - params.json:
      - lr
      - optimizer.name
    - params.py:
      - BOOL
      - INT
      - TrainConfig.EPOCHS
      - TrainConfig.layers
    - config/train.toml:
    outs:
    - model.bin
    metrics:
    - metrics.json:
        cache: false
"""


def _files(
    fx: Fixture, lr: float, epochs: int, batch: int, depth: int
) -> dict[str, dict[str, object]]:
    fx.write("params.yaml", "seed: 42\nunused: 1\n")
    fx.write("params.json", f'{{"lr": {lr}, "optimizer": {{"name": "adam", "beta": 0.9}}}}\n')
    fx.write(
        "params.py",
        "BOOL = True\nINT = 5\n\n\nclass TrainConfig:\n"
        f"    EPOCHS = {epochs}\n    layers = [8, 4]\n",
    )
    fx.write(
        "config/train.toml", f'[model]\ndepth = {depth}\nname = "tree"\n\n[data]\nbatch = {batch}\n'
    )
    fx.write("extra.yaml", f"note: run-{epochs}\n")
    return {
        "params.yaml": {"seed": 42},
        "params.json": {"lr": lr, "optimizer.name": "adam"},
        "params.py": {
            "BOOL": True,
            "INT": 5,
            "TrainConfig.EPOCHS": epochs,
            "TrainConfig.layers": [8, 4],
        },
        "config/train.toml": {"data": {"batch": batch}, "model": {"depth": depth, "name": "tree"}},
    }


def build(fx: Fixture) -> list[str]:
    fx.init()
    fx.write("train.py", "# train\n")
    fx.write("dvc.yaml", DVC_YAML)
    params = _files(fx, 0.01, 10, 32, 3)
    fx.write("model.bin", "model 1\n")
    fx.write("metrics.json", '{"acc": 0.5, "nested": {"f1": 0.4}}\n')
    stages = {
        "train": {
            "cmd": "python train.py",
            "deps": ["train.py"],
            "params": params,
            "outs": ["model.bin", ("metrics.json", False)],
        }
    }
    fx.outputs(".", stages)
    fx.lock(".", stages)
    fx.commit("train with four params files", tag="v1")
    params = _files(fx, 0.02, 12, 64, 3)
    fx.write("model.bin", "model 2\n")
    fx.write("metrics.json", '{"acc": 0.6, "nested": {"f1": 0.45}}\n')
    stages["train"]["params"] = params
    fx.lock(".", stages)
    fx.commit("larger lr and batch", tag="v2")
    _files(fx, 0.02, 15, 64, 4)
    return ["v1", "v2"]
