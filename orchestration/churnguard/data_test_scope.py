"""Which rows a build's data tests read: every row, or only the build window.

A nightly build writes a few days of the day-grain models (the new day plus the lookback),
so it tests those days: the dbt var ``test_scope: window`` restricts the tests of every model
that declares ``meta.test_window_column`` (see ``dbt_project/macros/testing``). Every row is
tested (``test_scope: full``) when the warehouse is new, on a full refresh, when asked, and
once a week on ``CHURNGUARD_FULL_TESTS_WEEKDAY`` (default ``sunday``; ``daily`` tests every
row every night, ``never`` leaves the full suite to explicit runs).

dbt's unit tests check the models' SQL against fixed input rows, not the data: a
window-scoped (nightly) build skips them (``--exclude-resource-type unit_test``, as dbt
recommends for production runs); every full-scope build runs them.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Optional

SCOPES = ("auto", "full", "window")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULT_FULL_TESTS_WEEKDAY = "sunday"
RUN_TAG = "churnguard/tests"
"""Dagster run tag carrying the scope chosen when the run was requested (one scope per run)."""
BUILT_MARKER = ("marts", "fct_customer_day")
"""The warehouse counts as built once this table has rows."""


class ScopeSettingError(ValueError):
    """A test-scope setting that cannot be used; the message names it."""


def full_tests_weekday() -> Optional[int]:
    """``CHURNGUARD_FULL_TESTS_WEEKDAY`` as 0-6 (Monday = 0); -1 for ``daily``; None for ``never``."""
    value = (os.environ.get("CHURNGUARD_FULL_TESTS_WEEKDAY") or DEFAULT_FULL_TESTS_WEEKDAY).strip().lower()
    if value == "daily":
        return -1
    if value == "never":
        return None
    if value not in WEEKDAYS:
        raise ScopeSettingError(
            f"CHURNGUARD_FULL_TESTS_WEEKDAY={value!r} is not a weekday name, 'daily' or 'never'"
        )
    return WEEKDAYS.index(value)


def warehouse_is_built(warehouse: Path) -> bool:
    """True when the warehouse (of the configured engine) already holds customer-day facts
    (read-only check)."""
    from churnguard import warehouse_sql

    if not warehouse_sql.warehouse_exists(warehouse):
        return False
    try:
        con = warehouse_sql.open_connection(warehouse, read_only=True)
    except warehouse_sql.WarehouseUnavailableError:
        return False  # unreadable now: test everything, the safe side
    try:
        schema, table = BUILT_MARKER
        if not warehouse_sql.relation_exists(con, schema, table):
            return False
        return con.execute(f"select count(*) from (select 1 from {schema}.{table} limit 1) as probe").fetchone()[0] > 0
    except warehouse_sql.ERRORS:
        return False
    finally:
        con.close()


def choose(
    warehouse: Path,
    requested: str = "auto",
    *,
    full_refresh: bool = False,
    today: Optional[date] = None,
) -> str:
    """``full`` or ``window`` for a build of ``warehouse`` (``requested`` ``auto`` decides)."""
    if requested not in SCOPES:
        raise ScopeSettingError(f"test scope {requested!r} is not one of {', '.join(SCOPES)}")
    if requested != "auto":
        return requested
    weekday = full_tests_weekday()
    today = today or date.today()
    if full_refresh or weekday == -1 or (weekday is not None and today.weekday() == weekday):
        return "full"
    return "window" if warehouse_is_built(warehouse) else "full"


def dbt_build_args(scope: str) -> list[str]:
    """Extra ``dbt build`` arguments for a build whose data tests have ``scope``: a
    window-scoped build leaves out the unit tests (their input rows are fixed, so they
    cannot fail on a new day's data; a full-scope build runs them)."""
    return ["--exclude-resource-type", "unit_test"] if scope == "window" else []
