"""The variables each stage interpolates from vars files (dvc's ``tracked_vars``, which
``params diff`` and ``exp show`` list), checked against dvc's own ``DataResolver`` on
every templating case of test_templating.py that dvc resolves, and on a few more."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest

from bale.exceptions import MetafileError
from tests.unit.test_templating import CASES, Files, Oracle, _y, oracle

__all__ = ["oracle"]

MORE: dict[str, Files] = {
    "subdir-params-and-vars-files": {
        "p/params.yaml": _y("""
train: {lr: 0.1, epochs: 3, layers: [8, 16]}
models: {a: {d: 1}, b: {d: 2}}
"""),
        "p/extra.json": '{"batch": 32, "opt": {"name": "adam"}}',
        "shared.yaml": "seed: 7\nunused: 1\n",
        "p/dvc.yaml": _y("""
vars:
  - extra.json
  - ../shared.yaml:seed
  - {inline: 1}
stages:
  fe:
    foreach: ${models}
    do:
      cmd: echo ${item.d} ${train.lr} ${inline}
  mx:
    matrix: {e: [1, 2]}
    cmd: echo ${item.e} ${train.layers[-1]} ${seed}
  whole:
    cmd: echo ${opt}
    desc: ${batch}
  own:
    vars: [{x: 2}]
    cmd: echo ${x} ${train.epochs}
"""),
    },
}


def _dvc_tracked(oracle: Oracle, files: Files, sub: str) -> dict[str, Any]:
    from dvc.parsing import DataResolver
    from dvc.utils.serialize import parse_yaml as dvc_parse_yaml

    oracle.write(files)
    data = dvc_parse_yaml(files[f"{sub}dvc.yaml"], "dvc.yaml")
    base = oracle.root / sub
    resolver = DataResolver(oracle.repo, str(base), copy.deepcopy(data))
    resolver.resolve()
    return {
        name: {
            Path(os.path.relpath(source, base)).as_posix(): dict(used)
            for source, used in by_file.items()
        }
        for name, by_file in resolver.tracked_vars.items()
        if by_file
    }


def _bale_tracked(oracle: Oracle, files: Files, sub: str) -> dict[str, Any]:
    tracked: dict[str, dict[str, dict[str, Any]]] = {}
    oracle.bale(files, sub, tracked=tracked)
    return {name: by_file for name, by_file in tracked.items() if by_file}


@pytest.mark.parametrize("case", [*CASES, *MORE])
def test_tracked_vars_match_dvc(oracle: Oracle, case: str) -> None:
    files = CASES.get(case) or MORE[case]
    sub = next(name for name in files if name.endswith("dvc.yaml"))[: -len("dvc.yaml")]
    try:
        want = _dvc_tracked(oracle, files, sub)
    except Exception:
        # a case dvc refuses: bale refuses it too (test_templating checks how)
        with pytest.raises(MetafileError):
            _bale_tracked(oracle, files, sub)
        return
    assert repr(_bale_tracked(oracle, files, sub)) == repr(want)


def test_the_subdirectory_case_tracks_what_dvc_shows(oracle: Oracle) -> None:
    files = MORE["subdir-params-and-vars-files"]
    assert _bale_tracked(oracle, files, "p/") == {
        # foreach over a variable: item keeps its origin (models.a), as dvc's nodes do
        "fe@a": {"params.yaml": {"models.a.d": 1, "train.lr": 0.1}},
        "fe@b": {"params.yaml": {"models.b.d": 2, "train.lr": 0.1}},
        "mx@1": {"params.yaml": {"train.layers.1": 16}, "../shared.yaml": {"seed": 7}},
        "mx@2": {"params.yaml": {"train.layers.1": 16}, "../shared.yaml": {"seed": 7}},
        "whole": {"extra.json": {"batch": 32}},
        "own": {"params.yaml": {"train.epochs": 3}},
    }
