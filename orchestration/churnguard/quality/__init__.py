"""The quality gate: Great Expectations suites over the marts that leave the warehouse.

- `suites`: the suites, defined in Python and serialized to ``expectations/*.json`` (the
  JSON files are what runs; ``python -m churnguard.quality.suites --write`` regenerates them
  and a test fails when they drift).
- `runner`: reads each suite's query from DuckDB with a *read-only* connection into pandas,
  validates it with GX Core (ephemeral context), renders Data Docs and returns a
  `GateResult` (passed?, failed expectations with sample rows, kind integrity|volume).
- `volume`: the alert-volume thresholds (growth day over day, share of active customers,
  empty after non-empty), computed from the delivered-list history.

Great Expectations is imported lazily (it takes seconds), never at import time.
"""

from churnguard.quality.result import ExpectationFailure, GateResult, SuiteResult

__all__ = ["ExpectationFailure", "GateResult", "SuiteResult"]
