"""Pipelines: ``dvc.yaml`` stages, ``dvc.lock`` records, params and metrics,
the run cache. Byte-compatible with DVC 3.x; data goes through the engine."""
