"""Paths and configuration, read from environment variables with documented defaults.

Nothing here opens a connection or touches the disk at import time.

| variable | default | meaning |
|---|---|---|
| ``CHURNGUARD_WAREHOUSE`` | ``<repo>/warehouse/churnguard.duckdb`` | DuckDB warehouse file |
| ``CHURNGUARD_CURRENCY`` | ``USD`` | the one reporting currency raw amounts must be in |
| ``CHURNGUARD_DBT_TARGET`` | ``duckdb`` | dbt target in ``dbt_project/profiles.yml`` |
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
SEEDS_DIR = PROJECT_ROOT / "seeds"
SAMPLE_DATA_DIR = SEEDS_DIR / "sample"
DEFAULT_WAREHOUSE = PROJECT_ROOT / "warehouse" / "churnguard.duckdb"


def warehouse_path() -> Path:
    """The DuckDB warehouse file (``CHURNGUARD_WAREHOUSE``)."""
    return Path(os.environ.get("CHURNGUARD_WAREHOUSE", str(DEFAULT_WAREHOUSE))).expanduser().resolve()


def reporting_currency() -> str:
    """ISO 4217 code every raw amount must be in (``CHURNGUARD_CURRENCY``)."""
    return os.environ.get("CHURNGUARD_CURRENCY", "USD").upper()


def dbt_target() -> str:
    return os.environ.get("CHURNGUARD_DBT_TARGET", "duckdb")


def whole_days_setting(name: str, default: int, error: type[Exception] = ValueError) -> int:
    """The environment variable ``name`` as a whole number of days, at least 1 (``default`` when
    unset or empty); a bad value raises ``error`` with a message naming the variable."""
    value = (os.environ.get(name) or "").strip()
    if not value:
        return default
    try:
        days = int(value)
    except ValueError:
        raise error(f"{name}={value!r} is not a whole number of days") from None
    if days < 1:
        raise error(f"{name}={value!r} must be at least 1")
    return days
