"""Plots as dvc 3.67.1 defines them: definitions collected from ``dvc.yaml``
files at a revision (:mod:`bale.plots.collect`), turned into dvc-render's
renderers and ``--json`` entries (:mod:`bale.plots.render`)."""
