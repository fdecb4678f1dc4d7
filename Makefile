# Quick start (Python 3.11 and make are all you need):
#   make run    install everything, then run the main job on the sample data
#   make test   install everything, then run the test suite and the size-S benchmark check
#   make ui     install everything, then open the Dagster UI (http://127.0.0.1:3000)
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run ui test bench-check clean sample

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/churnguard run

ui: $(STAMP)
	$(BIN)/churnguard ui

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=15
	$(MAKE) --no-print-directory bench-check

# The size-S benchmark (about 3 minutes): fails only on gross regressions, see docs/BENCHMARKS.md.
bench-check: $(STAMP)
	$(BIN)/python benchmarks/scale.py --size S --check

sample: $(STAMP)
	rm -rf seeds/sample
	$(BIN)/churnguard generate --customers 250 --days 365 --seed 42 --start 2025-01-01 --format csv --out seeds/sample

clean:
	rm -rf warehouse dbt_project/target dbt_project/logs .pytest_cache
