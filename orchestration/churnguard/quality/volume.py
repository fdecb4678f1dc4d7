"""Alert-volume thresholds: protect account managers from a bad-data storm.

The alert list fails its volume expectations (kind ``volume``) when it

- grew more than ``max_growth_factor`` times the last *delivered* list, unless the increase
  is at most ``growth_min_alerts`` alerts (small lists fluctuate: 3 -> 9 is no storm);
- holds more than ``max_active_share`` of the active customers;
- is empty while the last delivered list was not.

There is no growth or emptiness bound before the first delivery. The last delivered list is
the latest ``delivery.alert_list_history`` row with ``delivered = true`` (written by the
sync engine). An operator can override the volume expectations for one run
(``churnguard sync --override-volume-check "reason"``); integrity expectations cannot be
overridden.

| variable | default | meaning |
|---|---|---|
| ``CHURNGUARD_ALERT_MAX_GROWTH_FACTOR`` | ``2.0`` | most the list may grow day over day, as a factor |
| ``CHURNGUARD_ALERT_GROWTH_MIN_ALERTS`` | ``20`` | increases up to this many alerts never fail the growth check |
| ``CHURNGUARD_ALERT_MAX_ACTIVE_SHARE`` | ``0.8`` | most alerts as a share of active customers |

The same keys, lower-case without the prefix, can be set in the ``quality:`` section of
``churnguard.yml`` (environment variables win).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Mapping

import duckdb

DEFAULT_MAX_GROWTH_FACTOR = 2.0
DEFAULT_GROWTH_MIN_ALERTS = 20
DEFAULT_MAX_ACTIVE_SHARE = 0.8
ACTIVE_STATUSES = ("active", "reactivated")

_ENV = {
    "max_growth_factor": "CHURNGUARD_ALERT_MAX_GROWTH_FACTOR",
    "growth_min_alerts": "CHURNGUARD_ALERT_GROWTH_MIN_ALERTS",
    "max_active_share": "CHURNGUARD_ALERT_MAX_ACTIVE_SHARE",
}


class VolumeConfigError(ValueError):
    """A volume threshold has a value that cannot be used; the message names it."""


@dataclass(frozen=True)
class VolumeConfig:
    max_growth_factor: float = DEFAULT_MAX_GROWTH_FACTOR
    growth_min_alerts: int = DEFAULT_GROWTH_MIN_ALERTS
    max_active_share: float = DEFAULT_MAX_ACTIVE_SHARE

    @classmethod
    def load(cls, file_section: Mapping[str, Any] | None = None) -> "VolumeConfig":
        """Defaults, overridden by ``churnguard.yml``'s ``quality:`` section, then by env vars."""
        values: dict[str, Any] = {}
        for key, value in (file_section or {}).items():
            if key not in _ENV:
                raise VolumeConfigError(f"unknown key quality.{key} in churnguard.yml (known: {', '.join(_ENV)})")
            values[key] = (f"quality.{key}", value)
        for key, env in _ENV.items():
            raw = os.environ.get(env, "").strip()
            if raw:
                values[key] = (env, raw)
        parsed: dict[str, Any] = {}
        for key, (source, raw) in values.items():
            try:
                number = float(raw)
            except (TypeError, ValueError):
                raise VolumeConfigError(f"{source}={raw!r} is not a number") from None
            if key == "max_growth_factor" and number < 1:
                raise VolumeConfigError(f"{source}={raw!r} must be at least 1 (1 = the list may not grow)")
            if key == "max_active_share" and not 0 < number <= 1:
                raise VolumeConfigError(f"{source}={raw!r} must be a share in (0, 1]")
            if key == "growth_min_alerts":
                if number < 0 or number != int(number):
                    raise VolumeConfigError(f"{source}={raw!r} must be a whole number >= 0")
                number = int(number)
            parsed[key] = number
        return cls(**parsed)


def _relation_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    from churnguard import warehouse_sql

    return warehouse_sql.relation_exists(con, schema, name)


def last_delivered_count(con: duckdb.DuckDBPyConnection) -> int | None:
    """Size of the last delivered alert list (None before the first delivery)."""
    if not _relation_exists(con, "delivery", "alert_list_history"):
        return None
    row = con.execute(
        "select alert_count from delivery.alert_list_history where delivered order by recorded_at desc limit 1"
    ).fetchone()
    return None if row is None else int(row[0])


def active_customers(con: duckdb.DuckDBPyConnection) -> int | None:
    """Customers active on the as-of date (``marts.dim_customers``), None if unknown."""
    if not _relation_exists(con, "marts", "dim_customers"):
        return None
    placeholders = ", ".join("?" for _ in ACTIVE_STATUSES)
    return int(
        con.execute(
            f"select count(*) from marts.dim_customers where current_status in ({placeholders})", list(ACTIVE_STATUSES)
        ).fetchone()[0]
    )


def volume_parameters(config: VolumeConfig, previous: int | None, active: int | None) -> dict[str, Any]:
    """Suite parameters of the volume expectations (None = no bound)."""
    by_growth = None
    if previous is not None:
        by_growth = max(math.floor(previous * config.max_growth_factor), previous + config.growth_min_alerts)
    by_share = None if active is None else math.floor(active * config.max_active_share)
    return {
        "previous_delivered_alerts": previous,
        "active_customers": active,
        "max_alerts_by_growth": by_growth,
        "max_alerts_by_share": by_share,
        "min_alerts": 1 if previous else 0,
    }
