# ledgerbridge: `make demo`, `make up`, `make test` (each creates the environment first).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install up demo test lint typecheck check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

up: install
	$(PY) scripts/stack.py

demo: install
	$(PY) scripts/demo.py

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) scripts/settings_reference.py --check docs/configuration.md

typecheck: install
	$(VENV)/bin/mypy

check: lint typecheck test

clean:
	rm -rf data .pytest_cache .mypy_cache .ruff_cache
