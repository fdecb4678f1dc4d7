"""Daily partitions of the customer-day facts, and which days a run rebuilds.

- A partition is one UTC day (``date_day``) of the data's own history (`churnguard.defs.clock`):
  from its first day (or ``CHURNGUARD_PARTITIONS_START_DATE`` when set) to its as-of date when
  the data is historical, to yesterday (the last complete UTC day) when it is live. With no
  data yet: from ``CHURNGUARD_PARTITIONS_START_DATE`` (default 2025-01-01) to yesterday.
- A run over partitions ``[first, last]`` calls dbt once with
  ``--vars {start_date: first, end_date: last}`` (single-run backfill policy). dbt clamps the
  window to the warehouse's history (``history_start_date`` .. ``as_of_date``). A range that
  starts at the *first* partition passes ``start_date = 0001-01-01``, so a full backfill also
  rebuilds any history before the first partition: it equals a full refresh whatever the
  start date setting.
- The nightly run rebuilds the last ``lookback_days`` partitions (dbt var, default 3, so rows
  that arrive up to that many days late are picked up, as with a plain incremental run),
  extended back to the last day the warehouse has built minus the lookback (the warehouse
  is the record of what was built: a night that failed is caught up by the next, whatever
  Dagster instance ran it). A new warehouse gets every partition in one run. Only when the
  warehouse cannot be read (a writer has it open) does the schedule fall back to the
  partitions this Dagster instance never materialized.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Iterable

import yaml
from dagster import AssetKey, DagsterInstance, DailyPartitionsDefinition, TimeWindow

from churnguard import settings
from churnguard.defs import config
from churnguard.defs.clock import DataClock

HISTORY_FLOOR = "0001-01-01"
"""``start_date`` for a range that starts at the first partition: dbt clamps it to the history start."""


def daily_partitions(start_date: str | None = None, clock: "DataClock | None" = None) -> DailyPartitionsDefinition:
    """Daily partitions over ``clock``'s history (see the module docstring)."""
    explicit = start_date or config.explicit_partitions_start_date()
    if clock is None or not clock.known:
        return DailyPartitionsDefinition(start_date=explicit or config.partitions_start_date(), timezone="UTC")
    start = explicit or clock.history_start.isoformat()
    end = None if clock.live else (clock.as_of + timedelta(days=1)).isoformat()  # end_date is exclusive
    if end is not None and end <= start:
        end = None  # a start setting after the data's last day: fall back to the wall clock
    return DailyPartitionsDefinition(start_date=start, end_date=end, timezone="UTC")


def lookback_days() -> int:
    """The dbt project's ``lookback_days`` var (default 3)."""
    project = yaml.safe_load((settings.DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    try:
        return max(1, int((project.get("vars") or {}).get("lookback_days", 3)))
    except (TypeError, ValueError):
        return 3


def window_dates(window: TimeWindow) -> tuple[date, date]:
    """First and last day (inclusive) of a daily partition time window."""
    return window.start.date(), (window.end - timedelta(days=1)).date()


def dbt_window_vars(window: TimeWindow, partitions_def: DailyPartitionsDefinition) -> dict[str, str]:
    """``start_date`` / ``end_date`` dbt vars for the partitions in ``window``."""
    first_day, last_day = window_dates(window)
    first_partition = partitions_def.start.date()
    start = HISTORY_FLOOR if first_day <= first_partition else first_day.isoformat()
    return {"start_date": start, "end_date": last_day.isoformat()}


def materialized_partitions(instance: DagsterInstance, asset_keys: Iterable[AssetKey]) -> set[str]:
    """Partitions materialized for *every* one of ``asset_keys`` in this instance."""
    result: set[str] | None = None
    for key in asset_keys:
        done = set(instance.get_materialized_partitions(key))
        result = done if result is None else result & done
    return result or set()


def nightly_range(
    partitions_def: DailyPartitionsDefinition,
    now: datetime,
    *,
    built_through: date | None = None,
    materialized: set[str] | None = None,
    lookback: int | None = None,
    full: bool = False,
) -> tuple[str, str] | None:
    """The partition range one nightly run rebuilds at ``now`` (None before the first partition).

    Always the last ``lookback`` complete days. Extended back, as dbt's own incremental window
    is, to ``built_through - (lookback - 1)`` when the warehouse says it is built through
    ``built_through``; else (warehouse unreadable) to the first partition this Dagster instance
    never materialized (``materialized``). ``full``: every partition (a new warehouse).
    """
    keys = partitions_def.get_partition_keys(current_time=now)
    if not keys:
        return None
    if full:
        return keys[0], keys[-1]
    days = lookback or lookback_days()
    first = keys[max(0, len(keys) - days)]
    if built_through is not None:
        resume = (built_through - timedelta(days=days - 1)).isoformat()
        first = min(first, max(resume, keys[0]))
    elif materialized is not None:
        missing = next((key for key in keys if key not in materialized), None)
        if missing is not None and missing < first:
            first = missing
    return first, keys[-1]
