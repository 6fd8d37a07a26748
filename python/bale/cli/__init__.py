"""The ``bale`` command line: parses arguments, calls :mod:`bale.ops`, prints.

``main`` is the entry point and error boundary, ``parser`` assembles the
grammar from the command groups, ``common`` holds what the groups share.
One module per group: ``data`` (init, add, status, checkout, commit, diff,
remove, unprotect), ``storage`` (gc, du, serve), ``config`` (cache, config),
``sync`` (push, fetch, pull), ``remote``, ``pipeline`` (repro, stage,
lineage), ``metrics`` (metrics, params), ``dag``, ``experiments`` (exp),
``about`` (version, doctor).
"""
