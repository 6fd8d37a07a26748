import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "python"))

# dvc binds its log handlers to sys.stdout/sys.stderr as they are when it is
# first imported. Imported first inside a test that captures or swaps them,
# those handlers write to a closed stream in every later test of the worker;
# imported here, they get pytest's streams, which live as long as the session.
import dvc  # noqa: F401

# Never ask a real instance-metadata service for AWS credentials (outside EC2
# it costs a timeout per lookup); the tests that exercise it serve their own.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
