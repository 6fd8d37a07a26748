"""A differential corpus: small repositories shaped like public DVC projects,
on which bale and dvc run the same metadata commands at every revision
(see ``run.py``; ``tests/interop/test_corpus.py`` asserts on the result)."""
