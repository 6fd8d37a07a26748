# bale — make targets. `make help` lists them.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: help dev demo test test-rust test-python lint bench clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

dev: ## build the extension (release) and install bale with its test dependencies
	$(PIP) install -q -e '.[test]'

demo: dev ## version a generated dataset, push to a local remote, clone, pull, verify
	$(PYTHON) benches/demo.py

test-rust: ## cargo test for every crate
	cargo test --workspace --quiet

test-python: dev ## pytest: unit, CLI end to end, property tests, interop with dvc
	$(PYTHON) -m pytest -q -n 2 tests

test: test-rust test-python ## everything CI runs

lint: ## formatting, lints, the type-checked stub
	cargo fmt --all -- --check
	cargo clippy --workspace --quiet -- -D warnings
	ruff check python tests benches
	ruff format --check python tests benches
	$(PYTHON) -m mypy
	$(PYTHON) -m mypy.stubtest bale._core

bench: dev ## bale against dvc on generated workloads (see benches/RESULTS.md)
	$(PYTHON) benches/run.py

clean: ## remove build products
	cargo clean
	rm -rf benches/work
