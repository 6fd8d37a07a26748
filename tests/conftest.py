import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "python"))

# dvc binds its log handlers to sys.stdout/sys.stderr as they are when it is
# first imported. Imported first inside a test that captures or swaps them,
# those handlers write to a closed stream in every later test of the worker;
# imported here, they get pytest's streams, which live as long as the session.
import dvc  # noqa: F401
