"""The ``bale`` command line: parses arguments, calls :mod:`bale.ops`, prints."""
