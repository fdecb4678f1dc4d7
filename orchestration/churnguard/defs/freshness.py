"""Source freshness judged against the data's clock (`churnguard.defs.clock`).

``dbt source freshness`` compares each raw table's ``loaded_at_field`` (``_synced_at``) with
the wall clock, so on a historical data set every source "errors" and nobody looks. Here the
same thresholds (``freshness.warn_after`` / ``error_after`` of the dbt sources) are applied
against the data's "now": the end of its as-of day when the data is historical, the wall
clock when it is live. A source is then stale only when it lags behind the rest of the data.

The measuring is `churnguard.quality.freshness` (the delivery gate's, at the wall clock);
the thresholds are the raw-data contract's, which the dbt sources carry. The result is
reported twice: as a ``source_freshness`` asset check on every raw asset
(`build_freshness_checks`: non-blocking, severity WARN or ERROR, visible in the UI), and in
the run summary.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

import duckdb

from churnguard.quality.freshness import SourceFreshness, check_sources, source_rules

FRESHNESS_CHECK = "source_freshness"


def summary_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The run summary's clock and freshness lines (empty when there is no raw data)."""
    from churnguard.defs.clock import DataClock, clock_mode, live_max_lag_days

    row = None
    from churnguard import warehouse_sql

    tables = warehouse_sql.tables(con)
    if ("utilities", "util_date_bounds") in tables:
        row = con.execute("select history_start_date, as_of_date from utilities.util_date_bounds").fetchone()
    if not row or row[1] is None:
        return []
    today = datetime.now(timezone.utc).date()
    mode = clock_mode()
    live = (today - row[1]).days <= live_max_lag_days() if mode == "auto" else mode == "wall"
    clock = DataClock(history_start=row[0], as_of=row[1], origin="warehouse", live=live, today=today)
    judged = "now" if clock.live else f"the end of the as-of date {clock.as_of}"
    lines = [
        f"  data clock: {'live' if clock.live else 'historical'} data, as of {clock.as_of} "
        f"({clock.lag_days} days before today); freshness judged against {judged}"
    ]
    results = check_sources(con, clock.now())
    if not results:
        return lines
    stale = [r for r in results if r.status not in ("pass", "empty")]
    if not stale:
        lines.append(f"  sources: all {len(results)} fresh")
    else:
        lines.append(f"  STALE SOURCES: {len(stale)} of {len(results)} (see the source_freshness checks in the UI)")
        lines += [f"    {r.describe()}" for r in stale]
    return lines


def build_freshness_checks(source_keys: Mapping[str, Any]):
    """``source_freshness`` on every raw asset: one non-blocking multi-asset check step
    (``check_source_freshness``) that runs after the raw load.

    ``source_keys``: ``{system.table: AssetKey}`` of the raw assets. A check of its own (not
    part of the raw load) so that the raw tables can still be loaded without it.
    """
    from dagster import (
        AssetCheckKey,
        AssetCheckResult,
        AssetCheckSeverity,
        AssetCheckSpec,
        MetadataValue,
        multi_asset_check,
    )

    from churnguard import settings
    from churnguard.defs.config import WAREHOUSE_POOL
    from churnguard.defs.locking import warehouse_lock

    rules = source_rules()
    keys = {name: key for name, key in source_keys.items() if name in rules}
    if not keys:
        return None
    specs = [
        AssetCheckSpec(
            name=FRESHNESS_CHECK,
            asset=key,
            blocking=False,
            description=f"Latest {rules[name]['loaded_at_field']} against the data's clock (the end of its as-of "
            "date when the data is historical, now when it is live), with the dbt source's warn_after / error_after.",
        )
        for name, key in sorted(keys.items())
    ]

    # In the warehouse pool, under the lock: a read-only connection fails while another process writes.
    @multi_asset_check(specs=specs, name="check_source_freshness", can_subset=True, pool=WAREHOUSE_POOL,
                       description="Source freshness of the raw tables, judged against the data's clock.")
    def check_source_freshness(context):
        from churnguard.defs.clock import data_clock
        from churnguard.defs.warehouse import read_only_connection

        warehouse = settings.warehouse_path()
        run_id = getattr(getattr(context, "run", None), "run_id", "")
        with warehouse_lock(warehouse, holder=f"source freshness checks (Dagster run {run_id[:8]})"):
            clock = data_clock(warehouse)
            with read_only_connection(warehouse) as con:
                results = check_sources(con, clock.now(), rules)
        context.log.info(clock.describe())
        judged = "now (live data)" if clock.live else f"end of the as-of date {clock.as_of} (historical data)"
        selected = context.selected_asset_check_keys
        for result in results:
            key = keys.get(result.source)
            if key is None or AssetCheckKey(key, FRESHNESS_CHECK) not in selected:
                continue
            if result.status not in ("pass", "empty"):
                context.log.warning(f"stale source {result.describe()}")
            yield AssetCheckResult(
                asset_key=key,
                check_name=FRESHNESS_CHECK,
                passed=result.status in ("pass", "empty"),
                severity=AssetCheckSeverity.ERROR if result.status == "error" else AssetCheckSeverity.WARN,
                description=result.describe(),
                metadata={
                    "status": MetadataValue.text(result.status),
                    "latest": MetadataValue.text(str(result.latest) if result.latest else "none"),
                    "age_hours": MetadataValue.float(round(result.age_hours, 1) if result.age_hours is not None else -1.0),
                    "judged_against": MetadataValue.text(judged),
                },
            )

    return check_source_freshness


__all__ = ["FRESHNESS_CHECK", "SourceFreshness", "build_freshness_checks", "check_sources", "summary_lines"]
