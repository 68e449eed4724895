# Two entry points for a fresh machine: `make up` and `make test` (see README.md).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# MWAA's reference data: the shared copy beside the checkout when present (tests, CI);
# otherwise sandbox downloads it once from the official URLs into its cache.
SHARED_DATA := $(abspath ../shared/mwaa/2.9.2)
ifneq ($(wildcard $(SHARED_DATA)/constraints-2.9.2-py3.11.txt),)
export SANDBOX_MWAA_DATA_DIR ?= $(SHARED_DATA)
endif

.PHONY: up down test test-all unit integration engine bench clean

$(BIN)/sandbox: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

up: $(BIN)/sandbox
	$(BIN)/sandbox up --runtime native

down: $(BIN)/sandbox
	$(BIN)/sandbox down

# The compose runtime's tests need a Docker engine: installed and started when possible.
engine:
	bash scripts/docker_engine.sh

# CI runs `make test` (under 30 minutes); `make test-all` adds the longest scenario runs.
test: $(BIN)/sandbox engine
	$(BIN)/pytest -ra --durations=15 -m "not slow"

test-all: $(BIN)/sandbox engine
	$(BIN)/pytest -ra

unit: $(BIN)/sandbox
	$(BIN)/pytest -ra tests/unit

integration: $(BIN)/sandbox engine
	$(BIN)/pytest -ra tests/integration

bench: $(BIN)/sandbox
	$(BIN)/python scripts/bench_up.py

clean:
	rm -rf $(VENV) .pytest_cache
