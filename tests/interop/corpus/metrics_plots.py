"""Metrics and plots in the places real projects put them: a dvclive directory
(iterative/example-get-started ``dvclive/dvc.yaml``: ``metrics:
- dvclive/metrics.json``, ``plots: - dvclive/plots/metrics: x: step``), a
metrics *directory* declared top-level, a YAML metric with nested keys, a
stage ``plots`` output with ``x``/``y`` and a ``template``, a top-level
``plots`` entry comparing two files (example-get-started's ROC plot), and a
metric declared but not produced yet (the shape that issue 20 names for
``metrics show``). History: metrics improve over two commits; the workspace has
a fresh, uncommitted metric value."""

from __future__ import annotations

from tests.interop.corpus._repo import Fixture

DVC_YAML = """\
metrics:
- reports/metrics
- dvclive/metrics.json
- missing/metrics.json
plots:
- dvclive/plots/metrics:
    x: step
- Precision-Recall:
    template: linear
    x: recall
    y:
      reports/prc/train.json: precision
      reports/prc/test.json: precision
stages:
  evaluate:
    cmd: python evaluate.py
    deps:
    - evaluate.py
    outs:
    - reports/prc:
        cache: false
    metrics:
    - reports/metrics:
        cache: false
    plots:
    - reports/confusion.csv:
        cache: false
        template: confusion
        x: actual
        y: predicted
"""


def _write(fx: Fixture, acc: float, steps: int) -> None:
    fx.write("reports/metrics/train.json", f'{{"acc": {acc}, "loss": {{"mean": {1 - acc:.2f}}}}}\n')
    fx.write(
        "reports/metrics/test.yaml",
        f"acc: {acc - 0.05:.2f}\nper_class:\n  cat: 0.5\n  dog: {acc}\n",
    )
    fx.write("reports/prc/train.json", f'[{{"recall": 0.1, "precision": {acc}}}]\n')
    fx.write("reports/prc/test.json", f'[{{"recall": 0.1, "precision": {acc - 0.1:.2f}}}]\n')
    fx.write("reports/confusion.csv", "actual,predicted\ncat,cat\ndog,cat\n")
    fx.write("dvclive/metrics.json", f'{{"step": {steps}, "train": {{"loss": {1 - acc:.2f}}}}}\n')
    rows = "".join(f"{i}\t{1 - acc + 0.01 * (steps - i):.2f}\n" for i in range(steps))
    fx.write("dvclive/plots/metrics/train/loss.tsv", "step\tloss\n" + rows)


def build(fx: Fixture) -> list[str]:
    fx.init()
    fx.write("evaluate.py", "# evaluate\n")
    fx.write("dvc.yaml", DVC_YAML)
    stages = {
        "evaluate": {
            "cmd": "python evaluate.py",
            "deps": ["evaluate.py"],
            "outs": [
                ("reports/confusion.csv", False),
                ("reports/metrics", False),
                ("reports/prc", False),
            ],
        }
    }
    _write(fx, 0.7, 2)
    fx.lock(".", stages)
    fx.commit("first evaluation", tag="v1")
    _write(fx, 0.8, 3)
    fx.lock(".", stages)
    fx.commit("better model", tag="v2")
    _write(fx, 0.85, 3)
    return ["v1", "v2"]
