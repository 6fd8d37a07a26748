"""The model registry, kept as GTO keeps it: git tags.

A version is registered by an annotated tag ``name@v1.2.0``, assigned to a
stage by ``name#prod#3``, deprecated by ``name@deprecated#4`` (a ``!`` after
the version or stage cancels it); ``dvc artifacts``, ``gto`` and bale read
the same tags. :mod:`bale.registry.tags` reads and names them;
:mod:`bale.registry.artifacts` resolves an artifact of ``dvc.yaml``'s
``artifacts:`` to a commit and a path, as dvc does.
"""
