"""A long history of the day-grain models is built in batches of days, not in one pass.

The incremental day-grain models (``fct_customer_day``, ``int_health_dimension_scores``, the
rule hits...) rebuild whatever window of days they are given (dbt vars ``start_date`` /
``end_date``; see ``dbt_project/macros/customer_day/build_window.sql``) and give the same rows
for any split of the history into windows. Their window functions hold a window's rows
in memory: on 2 cores with DuckDB's 5 GB limit, one pass over 8.7 M customer-days
(23,570 customers x 548 days) spilled 44 GB in ``int_health_dimension_scores`` and 100,000
customers x 730 days filled the disk. So the Dagster step of the daily facts (a first run,
a full refresh, a long backfill) splits a window whose estimated customer-days exceed
``CHURNGUARD_HISTORY_BATCH_ROWS`` (default 2,000,000; ``0`` = never split) into equal runs
of consecutive days: every batch but the last is a ``dbt run`` of those models; the last is
the step's usual ``dbt build``, whose data tests then read the whole window.

The estimate counts the days of each customer's lifecycle spells (``int_customer_lifecycle_spells``,
built by the step before) that fall in the window: the rows ``fct_customer_day`` will have,
give or take the churned customers' event days.
"""

from __future__ import annotations

import math
import os
from datetime import date, timedelta
from typing import Optional

DEFAULT_BATCH_ROWS = 2_000_000
BATCH_ROWS_ENV = "CHURNGUARD_HISTORY_BATCH_ROWS"
SPELLS = ("intermediate", "int_customer_lifecycle_spells")
BOUNDS = ("utilities", "util_date_bounds")


class BatchSettingError(ValueError):
    """CHURNGUARD_HISTORY_BATCH_ROWS is not a whole number >= 0."""


def batch_rows() -> int:
    """Customer-days per batch (``CHURNGUARD_HISTORY_BATCH_ROWS``); 0: never split."""
    raw = os.environ.get(BATCH_ROWS_ENV, "").strip()
    if not raw:
        return DEFAULT_BATCH_ROWS
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise BatchSettingError(f"{BATCH_ROWS_ENV}={raw!r} is not a whole number (customer-days per batch, 0 = never split)") from None
    if value < 0:
        raise BatchSettingError(f"{BATCH_ROWS_ENV}={raw!r} must be 0 (never split) or a positive number of customer-days")
    return value


def split(first: date, last: date, rows: int, per_batch: int) -> list[tuple[date, date]]:
    """``[first, last]`` as consecutive runs of days of about equal length, as many as
    ``rows`` customer-days need at ``per_batch`` each (one run when ``per_batch`` is 0 or
    the rows fit)."""
    if last < first:
        return [(first, last)]
    days = (last - first).days + 1
    count = 1 if per_batch <= 0 or rows <= per_batch else min(days, math.ceil(rows / per_batch))
    size = math.ceil(days / count)
    batches = []
    start = first
    while start <= last:
        end = min(start + timedelta(days=size - 1), last)
        batches.append((start, end))
        start = end + timedelta(days=1)
    return batches


def plan(con, start: Optional[date], end: Optional[date], per_batch: Optional[int] = None) -> list[tuple[date, date]]:
    """The batches for the window ``[start, end]`` (``None``: the history's first / last
    day), clamped to the warehouse's history; ``[]`` when nothing is known yet (no spells
    or date bounds: the step runs in one pass)."""
    from churnguard import warehouse_sql

    per_batch = batch_rows() if per_batch is None else per_batch
    if per_batch <= 0:
        return []
    for schema, table in (SPELLS, BOUNDS):
        if not warehouse_sql.relation_exists(con, schema, table):
            return []
    history_start, as_of = con.execute(
        f"select history_start_date, as_of_date from {BOUNDS[0]}.{BOUNDS[1]}"
    ).fetchone()
    if history_start is None or as_of is None:
        return []
    history_start, as_of = _as_date(history_start), _as_date(as_of)
    first = max(start, history_start) if start else history_start
    last = min(end, as_of) if end else as_of
    if last < first:
        return []
    spells = con.execute(
        f"select spell_start_date, spell_end_date from {SPELLS[0]}.{SPELLS[1]} "
        "where spell_start_date <= ? and (spell_end_date is null or spell_end_date >= ?)",
        [last, first],
    ).fetchall()
    rows = 0
    for spell_start, spell_end in spells:  # one row per spell: summed here, the same on every engine
        days_from = max(_as_date(spell_start), first)
        days_to = min(_as_date(spell_end), last) if spell_end is not None else last
        rows += max(0, (days_to - days_from).days + 1)
    return split(first, last, rows, per_batch)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
