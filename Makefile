# The two commands of SPEC §2 (`make run`, `make test`) and `make lint`.
# Needs Python 3.11 (`make PYTHON=/path/to/python3.11 ...` to choose one); `make test`
# also needs the PostgreSQL server binaries unless DATABASE_URL names a server.

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test lint
.DEFAULT_GOAL := run

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found: install Python 3.11 or pass PYTHON=..."; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Stamps: reinstall only when a requirements file changes.
$(VENV)/.installed-run: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements.txt requirements-test.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

# Development server on SQLite: web (gunicorn) and worker (qcluster) until Ctrl-C.
run: $(VENV)/.installed-run
	PORT=$(PORT) $(BIN)/python scripts/dev_run.py

# The whole suite on PostgreSQL: DATABASE_URL's server, or a throwaway one. Fails exactly when pytest does.
test: $(VENV)/.installed-test
	$(BIN)/python scripts/pgserver.py -- $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
