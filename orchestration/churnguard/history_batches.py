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
``churnguard build`` does the same when it builds a long history (`build`): the models
upstream of the day-grain chain first, then the batches, then the rest.

The estimate counts the days of each customer's lifecycle spells (``int_customer_lifecycle_spells``,
built by the step before) that fall in the window: the rows ``fct_customer_day`` will have,
give or take the churned customers' event days.
"""

from __future__ import annotations

import math
import os
from datetime import date, timedelta
from typing import Optional

INCREMENTAL = "config.materialized:incremental"
DAILY_SELECT = f"{INCREMENTAL}+,+{INCREMENTAL}"
"""Incremental models and every model between two of them (e.g. a view that one incremental
model reads from another): the per-day chain, built together for a range of days."""
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


def earlier_batches(batches: list[tuple[date, date]], dbt_vars: dict, full_refresh: bool):
    """For every batch but the last: (number, (first, last), dbt vars, extra ``dbt run``
    arguments). The first batch keeps the window's own start (none: the history start) and
    alone gets ``--full-refresh`` when asked: it makes the tables the others add to."""
    for number, (first, last) in enumerate(batches[:-1], start=1):
        start = dbt_vars.get("start_date") if number == 1 else first.isoformat()
        batch_vars = {**dbt_vars, "start_date": start, "end_date": last.isoformat()}
        refresh = ["--full-refresh"] if number == 1 and full_refresh else []
        yield number, (first, last), {k: v for k, v in batch_vars.items() if v is not None}, refresh


def last_batch_vars(batches: list[tuple[date, date]], dbt_vars: dict) -> dict:
    """The dbt vars of the build of the last batch: its first day as ``start_date``; the data
    tests read every day of the window (``test_start_date``), not only the last batch."""
    final = {**dbt_vars, "start_date": batches[-1][0].isoformat()}
    if dbt_vars.get("start_date"):
        final["test_start_date"] = dbt_vars["start_date"]
    return final


def may_be_long(warehouse, *, full_refresh: bool, start_date: Optional[str]) -> bool:
    """Whether a whole-project ``churnguard build`` may cover a long history of the day-grain
    models (and so is planned in batches): a full refresh, an explicit ``--start-date``, or
    a warehouse whose facts are not built yet. A nightly build (a built warehouse, no
    dates) rebuilds only its lookback days: one pass, planned by nobody."""
    from churnguard import data_test_scope

    if batch_rows() <= 0:
        return False
    return full_refresh or bool(start_date) or not data_test_scope.warehouse_is_built(warehouse)


def describe_plan(batches: list[tuple[date, date]]) -> str:
    """The one-line account of a batch plan that ``churnguard build`` prints and the Dagster
    step logs, e.g. ``27 batches of about 27 days (CHURNGUARD_HISTORY_BATCH_ROWS=2,000,000
    customer-days per batch)``."""
    days = (batches[0][1] - batches[0][0]).days + 1
    return f"{len(batches)} batches of about {days} days ({BATCH_ROWS_ENV}={batch_rows():,} customer-days per batch)"


def build(warehouse, dbt_vars: dict, *, full_refresh: bool, extra_args: list[str], progress: bool = True,
          say=print) -> list[tuple[date, date]]:
    """``churnguard build`` of a long history in three parts, as the nightly job's steps do:

    1. ``dbt build`` of everything not downstream of an incremental model (seeds, staging,
       lifecycle spells, dimensions) with the tests whose parents are all among them;
    2. the batches (`plan`, from the spells just built): ``dbt run`` of the day-grain chain
       for every batch but the last (the first with ``--full-refresh`` when asked);
    3. ``dbt build`` of the incremental models and everything downstream for the last batch,
       with every remaining test; in window scope they read the whole window
       (``test_start_date``).

    Returns the batches (one: the window fitted, built in part 3 alone)."""
    from churnguard import warehouse_sql
    from churnguard.dbt_cli import run_dbt

    refresh = ["--full-refresh"] if full_refresh else []
    say("building the models upstream of the day-grain facts")
    run_dbt(["build", *refresh, "--exclude", f"{INCREMENTAL}+", "--indirect-selection", "cautious", *extra_args],
            warehouse=warehouse, dbt_vars=dbt_vars, progress=progress)
    start = date.fromisoformat(dbt_vars["start_date"]) if dbt_vars.get("start_date") else None
    end = date.fromisoformat(dbt_vars["end_date"]) if dbt_vars.get("end_date") else None
    with warehouse_sql.connect(warehouse, read_only=True) as con:
        batches = plan(con, start, end)
    final_vars = dict(dbt_vars)
    if len(batches) > 1:
        say(describe_plan(batches))
        for number, (first, last), batch_vars, batch_refresh in earlier_batches(batches, dbt_vars, full_refresh):
            say(f"batch {number}/{len(batches)}: {first} .. {last}")
            run_dbt(["run", *batch_refresh, "--select", DAILY_SELECT], warehouse=warehouse, dbt_vars=batch_vars,
                    progress=progress)
        say(f"batch {len(batches)}/{len(batches)}: {batches[-1][0]} .. {batches[-1][1]}, then everything downstream")
        final_vars = last_batch_vars(batches, dbt_vars)
        refresh = []  # the first batch made the tables
    run_dbt(["build", *refresh, "--select", f"{INCREMENTAL}+", *extra_args], warehouse=warehouse,
            dbt_vars=final_vars, progress=progress)
    return batches
