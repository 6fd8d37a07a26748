"""Experiments: runs of the pipeline with changed params, kept as git
commits under dvc's ``refs/exps/`` namespace so ``dvc exp show`` lists them."""
