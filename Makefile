# bale — make targets. `make help` lists them.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: help sysdeps dev demo test test-rust test-python lint bench bench-sync bench-chunks bench-pipelines bench-experiments bench-share bench-history bench-data-status bench-plots bench-registry bench-mlflow bench-scale clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

dev: sysdeps ## build the extension (release) and install bale with its test dependencies
	$(PIP) install -q -e '.[test]'
	@# Bytecode now, as a wheel install would: with PYTHONDONTWRITEBYTECODE set,
	@# every command would otherwise recompile bale's modules at start.
	$(PYTHON) -m compileall -q python/bale

sysdeps: ## xfsprogs (reflink tests on a loop-mounted XFS image), openssh-server (ssh:// remote tests), chromium (the plots page drawn headless); root + apt only
	@command -v mkfs.xfs >/dev/null 2>&1 && [ -x /usr/sbin/sshd ] && command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && apt-get install -y -qq xfsprogs openssh-server chromium) >/dev/null 2>&1 || true; \
	  fi; \
	  command -v mkfs.xfs >/dev/null 2>&1 || echo "note: no mkfs.xfs; the reflink test will be skipped"; \
	  [ -x /usr/sbin/sshd ] || echo "note: no sshd; the ssh:// remote tests will be skipped"; \
	  command -v chromium >/dev/null 2>&1 || echo "note: no chromium; the plots page browser tests will be skipped"; }

demo: dev ## version a generated dataset, push to a local remote, clone, pull, verify
	$(PYTHON) benches/demo.py

test-rust: ## cargo test for every crate
	cargo test --workspace --quiet

test-python: dev ## pytest: unit, CLI end to end, property tests, interop with dvc
	$(PYTHON) -m pytest -q -n 2 tests

test: test-rust test-python ## every test: Rust crates, then Python

# stubtest imports bale._core, and ruff and mypy are test extras: lint needs dev.
lint: dev ## formatting, lints, mypy --strict, the stub checked against the built extension
	cargo fmt --all -- --check
	cargo clippy --workspace --quiet -- -D warnings
	$(PYTHON) -m ruff check python tests benches
	$(PYTHON) -m ruff format --check python tests benches
	$(PYTHON) -m mypy
	$(PYTHON) -m mypy.stubtest bale._core

bench: dev ## bale against dvc on generated workloads (benches/RESULTS.md; every bench run appends to benches/history/)
	$(PYTHON) benches/run.py

bench-sync: dev ## push/pull vs dvc on folder and S3 (SeaweedFS) remotes; SYNC_ARGS="--scale 0.1" for a quick run
	$(PYTHON) benches/sync.py $(SYNC_ARGS)

bench-chunks: dev ## chunk-level dedup vs dvc: an edit, an insert, ten versions, CSV appends; CHUNK_ARGS="--scale 0.05" for a quick run
	$(PYTHON) benches/chunks.py $(CHUNK_ARGS)

bench-pipelines: dev ## no-op repro/status of a 50-stage pipeline on a 100k-file dir vs dvc; PIPE_ARGS="--scale 0.05 --repeat 2" for a quick run
	$(PYTHON) benches/pipelines.py $(PIPE_ARGS)

bench-registry: dev ## model show/history over 100 versions vs gto show/history; REG_ARGS="--versions 20 --repeat 2" for a quick run
	$(PYTHON) benches/registry.py $(REG_ARGS)

bench-mlflow: dev ## exp export --mlflow of 100 experiments vs a hand-written MLflow loop; MLF_ARGS="--experiments 10 --repeat 1" for a quick run
	$(PYTHON) benches/mlflow_export.py $(MLF_ARGS)

bench-experiments: dev ## exp show with 100 experiments vs dvc; EXP_ARGS="--experiments 10 --repeat 2" for a quick run
	$(PYTHON) benches/experiments.py $(EXP_ARGS)

bench-history: dev ## metrics show -A / -a -T over 200 commits vs dvc (issue 24); HIST_ARGS="--commits 50 --repeat 2" for a quick run
	$(PYTHON) benches/metrics_history.py $(HIST_ARGS)

bench-data-status: dev ## data status on W1 (100k files) vs dvc (issue 24); DS_ARGS="--scale 0.1 --repeat 2" for a quick run
	$(PYTHON) benches/data_status.py $(DS_ARGS)

bench-plots: dev ## plots show/diff, 20 plots of 10k rows over 10 commits, vs dvc (issue 24); PLOTS_ARGS="--rows 1000 --repeat 2" for a quick run
	$(PYTHON) benches/plots.py $(PLOTS_ARGS)

bench-scale: dev ## add/status/checkout/push/pull at 100k and 1M small files, wall time and peak RSS per step (issue 26); SCALE_ARGS="--files 10000 --no-s3" for a quick run
	$(PYTHON) benches/scale.py $(SCALE_ARGS)

bench-share: dev ## get/import/update, api.read, fsspec, streaming from S3 vs dvc (issue 22); SHARE_ARGS="--scale 0.01 --repeat 1" for a quick run
	$(PYTHON) benches/share.py $(SHARE_ARGS)

clean: ## remove build products
	cargo clean
	rm -rf benches/work
