import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "python"))

# dvc binds its log handlers to sys.stdout/sys.stderr as they are when it is
# first imported. Imported first inside a test that captures or swaps them,
# those handlers write to a closed stream in every later test of the worker;
# imported here, they get pytest's streams, which live as long as the session.
import dvc  # noqa: F401
import pytest

# Never ask a real instance-metadata service for AWS credentials (outside EC2
# it costs a timeout per lookup); the tests that exercise it serve their own.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``--dist loadgroup`` (pyproject's addopts), the tests of a module
    that share a module-scoped fixture run on one worker: spread over two,
    each worker would build the fixture (a dvc session, the corpus) again.
    The other tests are still handed out one at a time."""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs.values() if info is not None else ()
        if any(d[-1].scope in ("module", "package") for d in defs if d):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
