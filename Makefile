# ledgerbridge: `make demo`, `make up`, `make test`, `make docs` (each creates the environment first).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install up demo test lint typecheck check docs bench chaos fuzz-api clean contract-live

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

# Three test processes: most tests wait on services and the broker, so 2 cores run 3 well
# (TEST_ARGS="-n 0" runs them in one process).
TEST_ARGS ?= -n 3
test: install
	$(PY) -m pytest $(TEST_ARGS)

# The e-conomic client's contract tests against a real agreement (README "Live contract run"):
# needs LEDGERBRIDGE_LIVE_ECONOMIC_APP_SECRET_TOKEN and LEDGERBRIDGE_LIVE_ECONOMIC_AGREEMENT_GRANT_TOKEN.
contract-live: install
	@test -n "$$LEDGERBRIDGE_LIVE_ECONOMIC_APP_SECRET_TOKEN" && test -n "$$LEDGERBRIDGE_LIVE_ECONOMIC_AGREEMENT_GRANT_TOKEN" \
		|| { echo "Set LEDGERBRIDGE_LIVE_ECONOMIC_APP_SECRET_TOKEN and LEDGERBRIDGE_LIVE_ECONOMIC_AGREEMENT_GRANT_TOKEN (README: Live contract run)."; exit 2; }
	$(PY) -m pytest tests/connectors/test_economic_contract.py -k live -rs -s -q

# The scaled-out stack on PostgreSQL under faults (see README "make chaos"), e.g.
# make chaos CHAOS_ARGS="--orders 300 --kills-per-service 5 --broker-restarts 2"
CHAOS_ARGS ?=
chaos: install
	$(PY) scripts/chaos.py $(CHAOS_ARGS)

# Every admin API and the sandbox fuzzed from its own OpenAPI (scripts/fuzz_api.py): 200 cases
# per route, on SQLite and on PostgreSQL (FUZZ_ARGS="--stores postgresql" for one); CI runs the
# short pass, make fuzz-api FUZZ_ARGS=--ci
FUZZ_ARGS ?=
fuzz-api: install
	$(PY) scripts/fuzz_api.py $(FUZZ_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) scripts/generate_docs.py --check

# Rewrite the generated sections of docs/ (settings, message table, admin routes) from the code.
docs: install
	$(PY) scripts/generate_docs.py

typecheck: install
	$(VENV)/bin/mypy

check: lint typecheck test

clean:
	rm -rf data .pytest_cache .mypy_cache .ruff_cache
