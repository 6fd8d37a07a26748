"""A project without git: ``core.no_scm = True`` in ``.dvc/config`` (``dvc init
--no-scm``), as projects shipped in container images or scratch directories
run it (the public deployment manifests that mount ``no_scm = true`` into
``.dvc/config.local`` so that ``dvc repro`` runs without ``.git``). Tracked
data, a two-stage pipeline, a ``.dvcignore``. No history exists, so every
command runs on the workspace only, as a user of such a project can."""

from __future__ import annotations

from tests.interop.corpus._repo import Fixture


def build(fx: Fixture) -> list[str]:
    fx.init(no_scm=True)
    fx.write(".dvcignore", fx.root.joinpath(".dvcignore").read_text() + "*.log\n")
    fx.write("data/raw.csv", "a,b\n1,2\n")
    fx.track("data/raw.csv")
    fx.write("params.yaml", "clean:\n  drop: 1\nfit:\n  k: 3\n")
    fx.write(
        "dvc.yaml",
        "stages:\n"
        "  clean:\n    cmd: python clean.py\n    deps:\n    - data/raw.csv\n    - clean.py\n"
        "    params:\n    - clean.drop\n    outs:\n    - data/clean.csv\n"
        "  fit:\n    cmd: python fit.py\n    deps:\n    - data/clean.csv\n"
        "    params:\n    - fit.k\n"
        "    outs:\n    - model.txt\n    metrics:\n    - metrics.json:\n        cache: false\n",
    )
    fx.write("clean.py", "# clean\n")
    fx.write("data/clean.csv", "a,b\n")
    fx.write("model.txt", "k=3\n")
    fx.write("metrics.json", '{"rmse": 1.5}\n')
    stages: dict[str, dict[str, object]] = {
        "clean": {
            "cmd": "python clean.py",
            "deps": ["clean.py", "data/raw.csv"],
            "params": {"params.yaml": {"clean.drop": 1}},
            "outs": ["data/clean.csv"],
        },
        "fit": {
            "cmd": "python fit.py",
            "deps": ["data/clean.csv"],
            "params": {"params.yaml": {"fit.k": 3}},
            "outs": ["model.txt", ("metrics.json", False)],
        },
    }
    fx.lock(".", stages)
    fx.write("params.yaml", "clean:\n  drop: 1\nfit:\n  k: 4\n")
    fx.write("run.log", "ignored\n")
    return []
