"""``foreach`` and ``matrix`` stages with templated values from ``vars`` and
``params.yaml``: the shapes of dvc.org's dvc.yaml reference
(iterative/dvc.org content/docs/user-guide/project-structure/dvcyaml-files.md:
``foreach`` over a list and over a dict, ``matrix`` over model x dataset,
``${item.*}``/``${key}`` substitution) and of dvc's own benchmark fixture
(iterative/dvc ``PARAMETRIZED_DVC_YAML``: ``foreach: ${mapping}`` with
``cp ${item.from} ${item.to}``). Some generated stages are locked, some never
ran; a later commit adds a matrix entry."""

from __future__ import annotations

from tests.interop.corpus._repo import Fixture

DVC_YAML = """\
vars:
  - shared:
      threshold: 3
stages:
  copy:
    foreach: ${{mapping}}
    do:
      cmd: cp ${{item.src}} ${{item.dst}}
      deps:
      - ${{item.src}}
      outs:
      - ${{item.dst}}
  build:
    foreach:
    - us
    - uk
    do:
      cmd: python build.py ${{item}} ${{shared.threshold}}
      deps:
      - build.py
      params:
      - models.${{item}}.threshold
      outs:
      - model-${{item}}.bin
  train:
    matrix:
      model: {models}
      data: [small, large]
    cmd: python train.py ${{item.model}} ${{item.data}}
    deps:
    - train.py
    outs:
    - out/${{item.model}}-${{item.data}}.bin
"""

PARAMS = """\
mapping:
  first:
    src: lorem.txt
    dst: ipsum.txt
  second:
    src: hello.txt
    dst: world.txt
models:
  us:
    threshold: {us}
  uk:
    threshold: 5
"""


def build(fx: Fixture) -> list[str]:
    fx.init()
    fx.write("build.py", "# build\n")
    fx.write("train.py", "# train\n")
    fx.write("lorem.txt", "lorem\n")
    fx.write("hello.txt", "hello\n")
    fx.write("dvc.yaml", DVC_YAML.format(models="[cnn, rf]"))
    fx.write("params.yaml", PARAMS.format(us=10))
    fx.write("ipsum.txt", "lorem\n")
    fx.write("world.txt", "hello\n")
    fx.write("model-us.bin", "us 10\n")
    fx.write("out/cnn-small.bin", "cnn small\n")
    stages: dict[str, dict[str, object]] = {
        "copy@first": {
            "cmd": "cp lorem.txt ipsum.txt",
            "deps": ["lorem.txt"],
            "outs": ["ipsum.txt"],
        },
        "copy@second": {
            "cmd": "cp hello.txt world.txt",
            "deps": ["hello.txt"],
            "outs": ["world.txt"],
        },
        "build@us": {
            "cmd": "python build.py us 3",
            "deps": ["build.py"],
            "params": {"params.yaml": {"models.us.threshold": 10}},
            "outs": ["model-us.bin"],
        },
        "train@cnn-small": {
            "cmd": "python train.py cnn small",
            "deps": ["train.py"],
            "outs": ["out/cnn-small.bin"],
        },
    }
    fx.outputs(".", stages)
    fx.lock(".", stages)
    fx.commit("parametrized pipeline", tag="v1")
    fx.write("dvc.yaml", DVC_YAML.format(models="[cnn, rf, xgb]"))
    fx.write("params.yaml", PARAMS.format(us=12))
    fx.commit("add xgb, raise the us threshold", tag="v2")
    fx.write("hello.txt", "hello again\n")
    return ["v1", "v2"]
