# The README's two commands: `make run` and `make test`. Both bootstrap .venv themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
HOST ?= 127.0.0.1
PORT ?= 8000
# One test worker more than there are cores: the process tests wait seconds on the servers
# they start, and the extra worker runs other tests meanwhile (2 vCPUs: 237 s with two
# workers, 216 s with three).
TEST_WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) + 1 )))

.PHONY: run test contract lint format typecheck openapi migrate seed bench hadolint clean

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# --compile-bytecode: where PYTHONDONTWRITEBYTECODE is set (as on the CI machines), Python
# would otherwise compile every dependency from source in every process it starts: about
# 2 s of CPU per server or test worker.
$(VENV)/.synced: pyproject.toml uv.lock Makefile | $(BIN)/uv
	$(BIN)/uv sync --frozen --quiet --compile-bytecode
	@touch $@

run: $(VENV)/.synced ## migrate, seed and serve on 127.0.0.1:8000 (SQLite by default)
	$(BIN)/runstrong migrate
	$(BIN)/runstrong seed
	$(BIN)/runstrong serve --host $(HOST) --port $(PORT)

# PYTHONDONTWRITEBYTECODE (set on the CI machines) is emptied for pytest: its rewritten test
# modules are then kept in tests/__pycache__ instead of being rewritten and compiled again by
# every test worker (6 s of CPU each, 14.5 s of collecting against 8 s).
test: $(VENV)/.synced ## ruff, mypy, hadolint and the whole suite on SQLite and PostgreSQL
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile
	$(BIN)/python -m compileall -q app
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

contract: $(VENV)/.synced ## clients generated from openapi.json run the main journey on a live server; lint (node 20+)
	contract/run

lint: $(VENV)/.synced
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.synced
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(VENV)/.synced
	$(BIN)/mypy

openapi: $(VENV)/.synced ## regenerate openapi.json
	$(BIN)/runstrong openapi

migrate: $(VENV)/.synced
	$(BIN)/runstrong migrate

seed: $(VENV)/.synced
	$(BIN)/runstrong seed

hadolint: $(VENV)/.synced
	$(BIN)/hadolint Dockerfile

bench: $(VENV)/.synced ## load benchmarks (see bench/README.md; needs Debian's wrk)
	$(BIN)/python bench/catalogue.py
	$(BIN)/python bench/training.py
	$(BIN)/python bench/plans.py
	$(BIN)/python bench/analytics.py
	$(BIN)/python bench/scale.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache contract/build contract/node_modules
