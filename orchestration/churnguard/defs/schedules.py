"""The nightly schedule: 02:00 every day in ``CHURNGUARD_SCHEDULE_TIMEZONE``, running by default.

Each tick asks for one run of the nightly job over a partition range (one dbt invocation
for the daily facts): the last ``lookback_days`` complete UTC days, extended back to the
last day the warehouse has built (every day for a new warehouse; see `nightly_window` and
`churnguard.defs.partitions.nightly_range`).
``CHURNGUARD_SCHEDULE_CRON`` changes the time of day.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Sequence

from dagster import (
    AssetKey,
    DagsterInstance,
    DailyPartitionsDefinition,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from churnguard import data_test_scope, settings
from churnguard.defs import config
from churnguard.defs.partitions import materialized_partitions, nightly_range
from churnguard.defs.warehouse import WarehouseUnavailableError, built_through

NIGHTLY_SCHEDULE = "churnguard_nightly_schedule"


def nightly_window(
    partitions_def: DailyPartitionsDefinition,
    now: datetime,
    instance: DagsterInstance,
    daily_keys: Sequence[AssetKey],
    daily_tables: Sequence[tuple[str, str]],
    *,
    full_refresh: bool = False,
) -> tuple[str, str] | None:
    """The partitions of the next nightly run: resume from what the warehouse has built.

    Reads ``CHURNGUARD_WAREHOUSE`` read-only; when another process is writing it, falls back
    to the partitions this instance has materialized.
    """
    if full_refresh:
        return nightly_range(partitions_def, now, full=True)
    try:
        through = built_through(settings.warehouse_path(), daily_tables)
    except WarehouseUnavailableError:
        done = materialized_partitions(instance, daily_keys) if daily_keys else set()
        return nightly_range(partitions_def, now, materialized=done)
    if through is None:  # new or empty warehouse: everything
        return nightly_range(partitions_def, now, full=True)
    return nightly_range(partitions_def, now, built_through=through)


def range_tags(first: str, last: str) -> dict[str, str]:
    """Run tags that make one run cover partitions ``first``..``last`` (a single-run backfill)."""
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}


def build_nightly_schedule(
    job,
    partitions_def: DailyPartitionsDefinition,
    daily_keys: Sequence[AssetKey],
    daily_tables: Sequence[tuple[str, str]] = (),
) -> ScheduleDefinition:
    @schedule(
        name=NIGHTLY_SCHEDULE,
        job=job,
        cron_schedule=config.schedule_cron(),
        execution_timezone=config.schedule_timezone(),
        default_status=DefaultScheduleStatus.RUNNING,
        description="Nightly: raw load, dbt build, the last days of facts (plus any day never built).",
    )
    def nightly(context: ScheduleEvaluationContext):
        now = context.scheduled_execution_time or datetime.now(timezone.utc)
        window = nightly_window(partitions_def, now, context.instance, daily_keys, daily_tables)
        if window is None:
            return SkipReason(f"no complete day since the first partition {partitions_def.start.date()} yet")
        first, last = window
        return RunRequest(
            run_key=None,
            tags={
                **range_tags(first, last),
                "churnguard/trigger": "schedule",
                data_test_scope.RUN_TAG: data_test_scope.choose(settings.warehouse_path(), "auto", today=now.date()),
            },
        )

    return nightly
