"""The data's clock: which days the data covers, and whether it is live or historical.

The warehouse's "today" is the data's as-of date (``utilities.util_date_bounds``: the latest
event date in the raw data, or the dbt var ``as_of_date``), not the wall clock. Dagster's
daily partitions span the data's own history (``history_start_date`` .. ``as_of_date``), so a
2025 sample shows 365 partitions and a 1997 data set shows 1997's days.

Where the clock is read from, first that answers:

1. the raw files a run is about to load (``churnguard run`` passes its folder), so the run's
   partitions match the data it loads, even on a new warehouse;
2. the warehouse (``utilities.util_date_bounds``, read-only);
3. the raw tables already loaded in the warehouse (same rule as ``util_date_bounds``);
4. the raw files of ``CHURNGUARD_RAW_DATA_DIR`` (default: the sample);
5. none: partitions from ``CHURNGUARD_PARTITIONS_START_DATE`` to yesterday (wall clock).

**Live or historical** (``CHURNGUARD_DATA_CLOCK``): ``auto`` (default) calls the data live
when its as-of date is at most ``CHURNGUARD_LIVE_DATA_MAX_LAG_DAYS`` (default 30) days before
today, else historical; ``data`` always historical, ``wall`` always live. Historical data
has a fixed last partition (its as-of date) and freshness is judged against the end of its
as-of day; live data's partitions run to yesterday and freshness is judged against now.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Iterable

import duckdb
import yaml

from churnguard import settings

CLOCK_SETTING = "CHURNGUARD_DATA_CLOCK"
LAG_SETTING = "CHURNGUARD_LIVE_DATA_MAX_LAG_DAYS"
DEFAULT_LIVE_MAX_LAG_DAYS = 30

EVENT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    # (system, table, timestamp column): the events util_date_bounds reads, in the same order
    ("crm", "logins", "logged_in_at"),
    ("crm", "interactions", "occurred_at"),
    ("billing", "orders", "ordered_at"),
    ("billing", "invoices", "issued_at"),
    ("support", "tickets", "created_at"),
)


class ClockSettingError(ValueError):
    """``CHURNGUARD_DATA_CLOCK`` or ``CHURNGUARD_LIVE_DATA_MAX_LAG_DAYS`` has an unusable value."""


@dataclass(frozen=True)
class DataClock:
    history_start: date | None
    as_of: date | None
    origin: str
    """Where the dates were read: ``raw files <dir>``, ``warehouse``, ``raw tables``, ``none``."""
    live: bool
    today: date

    @property
    def known(self) -> bool:
        return self.as_of is not None and self.history_start is not None

    @property
    def lag_days(self) -> int | None:
        return (self.today - self.as_of).days if self.as_of else None

    def now(self) -> datetime:
        """The instant freshness is judged against: the end of the as-of day when historical, else now."""
        if self.live or self.as_of is None:
            return datetime.now(timezone.utc)
        return datetime.combine(self.as_of + timedelta(days=1), time(0), tzinfo=timezone.utc)

    def describe(self) -> str:
        if not self.known:
            return "data clock unknown (no data yet): partitions follow the wall clock"
        kind = (
            "live data: freshness against now"
            if self.live
            else f"historical data ({self.lag_days} days before today): freshness against its as-of date"
        )
        return f"data history {self.history_start} .. {self.as_of} (as-of date), {kind}; read from {self.origin}"


def clock_mode() -> str:
    value = (os.environ.get(CLOCK_SETTING) or "auto").strip().lower()
    if value not in ("auto", "data", "wall"):
        raise ClockSettingError(f"{CLOCK_SETTING}={value!r}: use auto (default), data (historical) or wall (live)")
    return value


def live_max_lag_days() -> int:
    from churnguard.settings import whole_days_setting

    return whole_days_setting(LAG_SETTING, DEFAULT_LIVE_MAX_LAG_DAYS, ClockSettingError)


def _pinned_vars() -> tuple[date | None, date | None]:
    """``history_start_date`` / ``as_of_date`` pinned in dbt_project.yml (None when null)."""
    try:
        project = yaml.safe_load((settings.DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
        dbt_vars = project.get("vars") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return None, None

    def parse(value) -> date | None:
        if value in (None, ""):
            return None
        try:
            return value if isinstance(value, date) else date.fromisoformat(str(value))
        except ValueError:
            return None

    return parse(dbt_vars.get("history_start_date")), parse(dbt_vars.get("as_of_date"))


def _bounds(con: duckdb.DuckDBPyConnection, selects: Iterable[str]) -> tuple[date | None, date | None]:
    union = " union all ".join(selects)
    first, last = con.execute(f"select min(first_date), max(last_date) from ({union}) as bounds").fetchone()
    return first, last


def _event_select(relation: str, column: str) -> str:
    day = f"try_cast(substr(cast({column} as varchar), 1, 10) as date)"
    return f"select min({day}) as first_date, max({day}) as last_date from {relation}"


def bounds_from_raw_files(folder: Path) -> tuple[date | None, date | None]:
    """The first and last event day in a folder of raw files (before it is loaded)."""
    from churnguard.loading.discovery import discover

    sources, _problems, _warnings = discover(Path(folder))
    selects = []
    for system, name, column in EVENT_COLUMNS:
        source = sources.get(f"{system}.{name}")
        if source is None or not source.files:
            continue
        files = "[" + ", ".join("'" + str(f.path).replace("'", "''") + "'" for f in source.files) + "]"
        reader = (
            f"read_parquet({files}, union_by_name = true)"
            if source.format == "parquet"
            else f"read_csv({files}, header = true, all_varchar = true, union_by_name = true)"
        )
        selects.append(_event_select(reader, f'"{column}"'))
    if not selects:
        return None, None
    con = duckdb.connect()
    try:
        return _bounds(con, selects)
    finally:
        con.close()


def bounds_from_warehouse(warehouse: Path) -> tuple[tuple[date | None, date | None], str] | None:
    """(first, last) from ``util_date_bounds``, else from the loaded raw tables; None if unreadable."""
    from churnguard.defs.warehouse import WarehouseUnavailableError, read_only_connection

    from churnguard import warehouse_sql

    if not warehouse_sql.warehouse_exists(warehouse):
        return None
    try:
        with read_only_connection(warehouse) as con:
            tables = warehouse_sql.tables(con)
            if ("utilities", "util_date_bounds") in tables:
                row = con.execute("select history_start_date, as_of_date from utilities.util_date_bounds").fetchone()
                if row and row[1] is not None:
                    return (row[0], row[1]), "warehouse (utilities.util_date_bounds)"
            selects = [
                _event_select(f'"raw_{system}"."{name}"', f'"{column}"')
                for system, name, column in EVENT_COLUMNS
                if (f"raw_{system}", name) in tables
            ]
            if selects:
                bounds = _bounds(con, selects)
                if bounds[1] is not None:
                    return bounds, "warehouse (raw tables)"
    except (WarehouseUnavailableError, *warehouse_sql.ERRORS):
        return None
    return None


def data_clock(
    warehouse: Path | None = None,
    raw_dir: Path | None = None,
    *,
    today: date | None = None,
) -> DataClock:
    """The data's clock (see the module docstring for where it is read from)."""
    from churnguard.defs import config

    today = today or datetime.now(timezone.utc).date()
    warehouse = Path(warehouse or settings.warehouse_path())
    bounds: tuple[date | None, date | None] = (None, None)
    origin = "none"
    candidates = []
    if raw_dir is not None:
        candidates.append(("files", Path(raw_dir)))
    candidates.append(("warehouse", warehouse))
    if raw_dir is None:
        candidates.append(("files", config.raw_data_dir()))
    for kind, where in candidates:
        if kind == "warehouse":
            found = bounds_from_warehouse(where)
            if found is not None:
                bounds, origin = found
                break
        elif where.is_dir():
            try:
                found_bounds = bounds_from_raw_files(where)
            except (duckdb.Error, OSError):
                continue
            if found_bounds[1] is not None:
                bounds, origin = found_bounds, f"raw files in {where}"
                break
    pinned_start, pinned_as_of = _pinned_vars()
    first = pinned_start or bounds[0]
    last = pinned_as_of or bounds[1]
    mode = clock_mode()
    if last is None:
        live = True
    elif mode == "auto":
        live = (today - last).days <= live_max_lag_days()
    else:
        live = mode == "wall"
    return DataClock(history_start=first, as_of=last, origin=origin, live=live, today=today)
