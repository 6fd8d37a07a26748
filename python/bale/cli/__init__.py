"""The ``bale`` command line: parses arguments, calls :mod:`bale.ops`, prints.

``main`` is the entry point and error boundary, ``parser`` assembles the
grammar from the command groups (its ``GROUPS`` says which module holds
which command), ``common`` holds what the groups share.
"""
