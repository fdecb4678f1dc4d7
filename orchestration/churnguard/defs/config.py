"""Orchestration settings, read from environment variables when asked (never at import).

| variable | default | meaning |
|---|---|---|
| ``CHURNGUARD_RAW_DATA_DIR`` | ``seeds/sample`` | folder of raw files the ``raw`` assets load (see ``churnguard load``) |
| ``CHURNGUARD_PARTITIONS_START_DATE`` | the data's first day | first daily partition of the customer-day facts (UTC day; ``2025-01-01`` while there is no data) |
| ``CHURNGUARD_DATA_CLOCK`` | ``auto`` | ``auto``: the data is live when its as-of date is at most ``CHURNGUARD_LIVE_DATA_MAX_LAG_DAYS`` (30) days old, else historical; ``data``: historical; ``wall``: live (see `churnguard.defs.clock`) |
| ``CHURNGUARD_SCHEDULE_CRON`` | ``0 2 * * *`` | when the nightly run starts (cron, in the time zone below) |
| ``CHURNGUARD_SCHEDULE_TIMEZONE`` | ``UTC`` | IANA time zone of the nightly schedule (e.g. ``Europe/Berlin``) |
| ``CHURNGUARD_FAILURE_WEBHOOK_URL`` | unset | URL that receives a JSON POST when a run fails (unset: the sensor only logs) |
| ``CHURNGUARD_LOCK_TIMEOUT`` | ``3600`` | seconds a writer waits for the warehouse lock before failing (``0``: fail at once) |
| ``CHURNGUARD_ALERT_LIST_MAX_AGE_HOURS`` | ``26`` | the alert list (and the facts) turn stale in the UI when older than this |
| ``CHURNGUARD_DBT_DOCS_URL`` | ``http://localhost:8080`` | where ``dbt docs serve`` runs; asset pages link to it |
| ``CHURNGUARD_FULL_TESTS_WEEKDAY`` | ``sunday`` | night on which the nightly run tests every row, not only the days it wrote (``daily``, ``never``; see `churnguard.data_test_scope`) |
| ``CHURNGUARD_DAGSTER_HOME`` | ``<warehouse folder>/dagster_home`` | the one Dagster instance (run history) of ``churnguard run`` and ``churnguard ui``; ``memory``: ``churnguard run`` keeps no history |

The warehouse file itself is ``CHURNGUARD_WAREHOUSE`` and dbt's folders are
``CHURNGUARD_DBT_TARGET_PATH`` / ``CHURNGUARD_DBT_LOG_PATH`` (see ``churnguard.settings`` and
``churnguard.dbt_cli``).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from churnguard import settings

WAREHOUSE_POOL = "churnguard_warehouse"
"""The Dagster concurrency pool of every asset that writes the DuckDB warehouse (limit 1)."""

DEFAULT_PARTITIONS_START = "2025-01-01"
DEFAULT_SCHEDULE_CRON = "0 2 * * *"
DEFAULT_LOCK_TIMEOUT_SECONDS = 3600.0
DEFAULT_ALERT_LIST_MAX_AGE_HOURS = 26.0
DEFAULT_DBT_DOCS_URL = "http://localhost:8080"


class ConfigError(ValueError):
    """An environment variable has a value that cannot be used; the message names it."""


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def raw_data_dir() -> Path:
    """Folder the raw-ingestion assets load (``CHURNGUARD_RAW_DATA_DIR``, default the sample)."""
    value = _env("CHURNGUARD_RAW_DATA_DIR")
    return Path(value).expanduser().resolve() if value else settings.SAMPLE_DATA_DIR


def partitions_start_date() -> str:
    """First daily partition, ``YYYY-MM-DD`` (``CHURNGUARD_PARTITIONS_START_DATE``)."""
    value = _env("CHURNGUARD_PARTITIONS_START_DATE") or DEFAULT_PARTITIONS_START
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ConfigError(f"CHURNGUARD_PARTITIONS_START_DATE={value!r} is not a date (YYYY-MM-DD)") from None


def explicit_partitions_start_date() -> str | None:
    """``CHURNGUARD_PARTITIONS_START_DATE`` when set (it then wins over the data's first day)."""
    return partitions_start_date() if _env("CHURNGUARD_PARTITIONS_START_DATE") else None


def schedule_cron() -> str:
    return _env("CHURNGUARD_SCHEDULE_CRON") or DEFAULT_SCHEDULE_CRON


def schedule_timezone() -> str:
    """IANA time zone of the nightly schedule (``CHURNGUARD_SCHEDULE_TIMEZONE``, default UTC)."""
    value = _env("CHURNGUARD_SCHEDULE_TIMEZONE") or "UTC"
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"CHURNGUARD_SCHEDULE_TIMEZONE={value!r} is not an IANA time zone (e.g. UTC, Europe/Berlin)"
        ) from None
    return value


def failure_webhook_url() -> str | None:
    """Where the run-failure sensor posts (``CHURNGUARD_FAILURE_WEBHOOK_URL``); None = log only."""
    return _env("CHURNGUARD_FAILURE_WEBHOOK_URL")


def _float(name: str, default: float, minimum: float) -> float:
    value = _env(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a number") from None
    if number < minimum:
        raise ConfigError(f"{name}={value!r} must be at least {minimum:g}")
    return number


def lock_timeout_seconds() -> float:
    """How long a writer waits for the warehouse lock (``CHURNGUARD_LOCK_TIMEOUT``)."""
    return _float("CHURNGUARD_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT_SECONDS, 0)


def alert_list_max_age_hours() -> float:
    """Freshness window of the alert list (``CHURNGUARD_ALERT_LIST_MAX_AGE_HOURS``)."""
    return _float("CHURNGUARD_ALERT_LIST_MAX_AGE_HOURS", DEFAULT_ALERT_LIST_MAX_AGE_HOURS, 1)


def dbt_docs_url() -> str:
    return (_env("CHURNGUARD_DBT_DOCS_URL") or DEFAULT_DBT_DOCS_URL).rstrip("/")


def dbt_target_path() -> Path:
    """dbt's target folder (``CHURNGUARD_DBT_TARGET_PATH``, default ``dbt_project/target``)."""
    value = _env("CHURNGUARD_DBT_TARGET_PATH")
    return Path(value).expanduser().resolve() if value else settings.DBT_PROJECT_DIR / "target"


IN_MEMORY = "memory"
"""``CHURNGUARD_DAGSTER_HOME=memory``: ``churnguard run`` records to an in-memory instance."""


def run_dagster_home(warehouse: Path | None = None) -> Path | None:
    """The instance ``churnguard run`` records to: the one ``churnguard ui`` opens.

    Same folder as `dagster_home` (``CHURNGUARD_DAGSTER_HOME``, else ``dagster_home/`` next to
    the warehouse), so the UI shows the run just made. None (in memory, nothing kept) only
    when ``CHURNGUARD_DAGSTER_HOME=memory``.
    """
    if (_env("CHURNGUARD_DAGSTER_HOME") or "").lower() == IN_MEMORY:
        return None
    return dagster_home(warehouse)


def dagster_home(warehouse: Path | None = None) -> Path:
    """The Dagster instance folder of ``churnguard ui`` (``dagster dev``).

    ``CHURNGUARD_DAGSTER_HOME``, else ``dagster_home/`` next to the warehouse file, so run
    history lives (and is deleted) with the warehouse it describes. ``DAGSTER_HOME`` is not
    read: a global Dagster instance of another project is never written by churnguard.
    """
    value = _env("CHURNGUARD_DAGSTER_HOME")
    if value and value.lower() != IN_MEMORY:
        return Path(value).expanduser().resolve()
    return Path(warehouse or settings.warehouse_path()).expanduser().resolve().parent / "dagster_home"
