"""MLflow as a peer of bale (needs ``pip install bale[mlflow]``; ``import
bale`` never imports MLflow, only ``import bale.mlflow`` does).

- :func:`dataset`: tracked data as an MLflow dataset whose source
  (:class:`BaleDatasetSource`) records the repository, the commit, the path
  and the content hash, and whose ``load()`` gives back those exact bytes::

      mlflow.log_input(bale.mlflow.dataset("data/train.csv"))
      ...
      mlflow.data.get_source(run.inputs.dataset_inputs[0].dataset).load()

- :func:`export_experiments`: bale/dvc experiments as MLflow runs (``bale
  exp export --mlflow``).
- :func:`recorded`: what such a run recorded, read back.

The source is registered with MLflow's ``mlflow.dataset_source`` entry
point, so ``mlflow.data.get_source`` resolves it in a process that never
imports bale; importing this module registers it too (where that entry
point is not installed, e.g. running from a source tree).
"""

from __future__ import annotations

# MLflow's registry, fully imported first: loading the entry point imports
# bale.mlflow.source, which must find this package being imported, not
# half of a module it needs.
import mlflow.data  # noqa: F401

from bale.mlflow.export import Exported, MlflowUnreachableError, export_experiments
from bale.mlflow.recorded import Input, Recorded, recorded
from bale.mlflow.source import BaleDatasetSource, HashMismatchError, dataset, locate

__all__ = [
    "BaleDatasetSource",
    "Exported",
    "HashMismatchError",
    "Input",
    "MlflowUnreachableError",
    "Recorded",
    "dataset",
    "export_experiments",
    "locate",
    "recorded",
    "register",
]

#: How the ``mlflow.dataset_source`` entry point names the source.
ENTRY_POINT = f"{BaleDatasetSource.__module__}:{BaleDatasetSource.__name__}"


def register() -> None:
    """Registers :class:`BaleDatasetSource` with MLflow's dataset source
    registry, once: unless it is there already, or MLflow's registry is
    loading it right now through the ``mlflow.dataset_source`` entry point
    (it adds it itself when that returns). Where the entry point is not
    installed, or failed to load, this is what registers it."""
    import sys
    from importlib.metadata import entry_points

    from mlflow.data.dataset_source_registry import (
        get_registered_sources,
        register_dataset_source,
    )

    # MLflow annotates its registry as holding instances; it holds classes
    if BaleDatasetSource in get_registered_sources():  # type: ignore[comparison-overlap]
        return
    spec = getattr(sys.modules.get("mlflow.data"), "__spec__", None)
    if getattr(spec, "_initializing", False) and any(
        ep.value == ENTRY_POINT for ep in entry_points(group="mlflow.dataset_source")
    ):
        return
    register_dataset_source(BaleDatasetSource)  # type: ignore[arg-type]


register()
