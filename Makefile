# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
CDK_STAMP := $(VENV)/.installed-cdk
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled

.PHONY: run test test-suite test-fuzz test-fast test-faults lint bench fuzz setup setup-cdk clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check 'pip<26.3'
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# One pip run for both extras (a fresh `make test` resolved and installed twice before).
$(CDK_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check 'pip<26.3'
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,cdk]'
	touch $(STAMP) $@

setup: $(STAMP)

setup-cdk: $(CDK_STAMP)

run: $(STAMP)
	$(BIN)/python -m infra.local

# tests/fuzz runs in a process of its own (schemathesis's tests do not run under xdist),
# beside the suite's two workers: the fuzzer keeps one core about busy, the suite leaves
# some of two idle. --output-sync prints each one's output whole, when it ends.
test: $(CDK_STAMP)
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-suite test-fuzz

test-suite: $(CDK_STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup --ignore=tests/fuzz

# (on $(CDK_STAMP) too, so that `make -j2 test-suite test-fuzz` never runs two pips at once)
test-fuzz: $(CDK_STAMP)
	$(BIN)/python -m pytest tests/fuzz

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m "not slow" --ignore=tests/fuzz

# Every fault case at every AWS call of every route, consumer and schedule; make test runs
# a sample of them (every call site, and a share that rotates daily: tests/harness/sampling.py).
FAULT_TESTS := tests/functional/test_faults.py tests/functional/test_faults_consumers.py
test-faults: $(STAMP)
	FAULTS=all $(BIN)/python -m pytest -n 2 --dist loadgroup $(FAULT_TESTS)

lint: $(CDK_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app.py chalicelib infra bench tests

# Schemathesis against make run's stack: 200 examples per operation (make test runs 10).
FUZZ_EXAMPLES ?= 200
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/fuzz

# One table and bench/results.json: cold start, AWS calls and HTTP latency of every route,
# and load. Figures only: nothing here fails on a time.
bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) cdk.out .pytest_cache .mypy_cache .ruff_cache
