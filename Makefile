# Quick start (Python 3.11 and make are all you need):
#   make run    install everything, then run the main job on the sample data
#   make test   install everything, then run the test suite and the size-S benchmark check
#   make ui     install everything, then open the Dagster UI (http://127.0.0.1:3000)
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install install-engines run ui test test-engines bench-check clean sample

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The PostgreSQL and Spark adapters (extras churnguard[postgres], churnguard[spark]).
ENGINES_STAMP := $(VENV)/.installed-engines
$(ENGINES_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,postgres,spark]"
	touch $(ENGINES_STAMP)

install-engines: $(ENGINES_STAMP)

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

# The sample built on a throwaway PostgreSQL 15 cluster and on a local Spark session, every mart
# compared with DuckDB's (tests/engines; times in docs/SCALING.md). Needs initdb/pg_ctl (Debian's
# /usr/lib/postgresql/<version>/bin is added to PATH when they are not on it) and Java 17.
PG_BINDIR := $(lastword $(sort $(wildcard /usr/lib/postgresql/*/bin)))
test-engines: $(ENGINES_STAMP)
	PATH="$$PATH$(if $(PG_BINDIR),:$(PG_BINDIR))" $(BIN)/python -m pytest tests/engines -m engines -n 2 --dist loadgroup -rP -p no:cacheprovider --durations=0

sample: $(STAMP)
	rm -rf seeds/sample
	$(BIN)/churnguard generate --customers 250 --days 365 --seed 42 --start 2025-01-01 --format csv --out seeds/sample

clean:
	rm -rf warehouse dbt_project/target dbt_project/logs .pytest_cache
