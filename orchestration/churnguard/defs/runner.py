"""Run the nightly job once, in this process: what ``churnguard run`` does.

The nightly job (`jobs`) is executed with ``execute_in_process`` over the partition range
the schedule would choose now (`schedules.nightly_window`): on a new warehouse, every day;
afterwards, the days since the last one built (minus the lookback) through yesterday. The whole run holds the warehouse lock, so a second ``churnguard run`` (or a
Dagster run of another instance) on the same file waits or fails with a clear message
(``CHURNGUARD_LOCK_TIMEOUT``); a reader holding the DuckDB file open when the run starts is
waited for the same way, with one message. Progress goes to stdout, one line per step and asset.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping

from dagster import AssetKey, DagsterInstance, Definitions

from churnguard import data_test_scope, settings
from churnguard.defs import config
from churnguard.defs.dbt_assets import DBT_DAILY_MODELS, DBT_MODELS, DBT_MODELS_AFTER_DAILY, daily_tables
from churnguard.defs.jobs import NIGHTLY_JOB
from churnguard.defs.locking import retry_while_open_elsewhere, warehouse_lock
from churnguard.defs.raw import RAW_ASSETS_NAME
from churnguard.defs.schedules import nightly_window, range_tags
from churnguard.defs.sensors import step_failure_text


@dataclass
class NightlyRun:
    success: bool
    run_id: str
    first_partition: str | None
    last_partition: str | None
    seconds: float
    error: str | None = None
    failed_steps: list[str] = field(default_factory=list)


def daily_asset_keys(defs: Definitions) -> list[AssetKey]:
    return [key for a in defs.assets if getattr(a, "node_def", None) is not None and a.node_def.name == DBT_DAILY_MODELS for key in a.keys]


def run_config(defs: Definitions, *, data_dir: Path | None, full_refresh: bool, progress: bool) -> dict[str, Any]:
    job_ops = {node.name for node in defs.resolve_job_def(NIGHTLY_JOB).graph.node_defs}
    ops: dict[str, Any] = {}
    if data_dir is not None and RAW_ASSETS_NAME in job_ops:
        ops[RAW_ASSETS_NAME] = {"config": {"source": "folder", "data_dir": str(data_dir)}}
    if full_refresh:
        for name in (DBT_MODELS, DBT_DAILY_MODELS, DBT_MODELS_AFTER_DAILY):
            if name in job_ops:
                ops[name] = {"config": {"full_refresh": True}}
    config: dict[str, Any] = {"ops": ops}
    if progress:
        config["loggers"] = {"churnguard_progress": {}}
    return config


def dbt_output_log() -> Path:
    """Where ``churnguard run`` writes dbt's raw console output (the progress lines are on stdout)."""
    return config.dbt_target_path() / "churnguard_run_dbt_output.log"


@contextmanager
def _divert_stdout(path: Path | None) -> Iterator[None]:
    """Send what steps print (dbt's console output) to ``path``; progress stays on the terminal."""
    if path is None:
        yield
        return
    from churnguard.defs import progress as progress_module

    path.parent.mkdir(parents=True, exist_ok=True)
    terminal = sys.stdout
    previous = progress_module.OUTPUT
    progress_module.OUTPUT = terminal
    try:
        with open(path, "w", encoding="utf-8") as log, redirect_stdout(log):
            yield
    finally:
        progress_module.OUTPUT = previous


def run_nightly_once(
    *,
    data_dir: Path | None = None,
    full_refresh: bool = False,
    instance: DagsterInstance,
    defs: Definitions | None = None,
    now: datetime | None = None,
    progress: bool = True,
    lock_timeout: float | None = None,
    extra_tags: Mapping[str, str] | None = None,
) -> NightlyRun:
    """Execute the nightly job once against ``CHURNGUARD_WAREHOUSE``; never raises for a failed run."""
    from churnguard.defs import build_definitions
    from churnguard.defs.progress import progress_logger

    started = time.monotonic()
    warehouse = settings.warehouse_path()
    defs = defs or build_definitions()
    job = defs.resolve_job_def(NIGHTLY_JOB)
    if progress:
        job = job.with_logger_defs({**job.loggers, "churnguard_progress": progress_logger})
    window = nightly_window(
        job.partitions_def,
        now or datetime.now(timezone.utc),
        instance,
        daily_asset_keys(defs),
        daily_tables(defs.assets),
        full_refresh=full_refresh,
    ) if job.partitions_def is not None else None
    tags = dict(extra_tags or {})
    tags["churnguard/trigger"] = tags.get("churnguard/trigger", "churnguard run")
    if window is not None:
        tags.update(range_tags(*window))
        if progress:
            print(f"Nightly run over partitions {window[0]} .. {window[1]} (daily facts in one dbt invocation)", flush=True)
    log_path = dbt_output_log()
    with warehouse_lock(warehouse, holder=f"churnguard run (pid {os.getpid()})", timeout=lock_timeout):
        if warehouse.exists() and settings.target_engine() == "duckdb":  # a reader holding the file would fail dbt: wait
            import duckdb

            retry_while_open_elsewhere(lambda: duckdb.connect(str(warehouse)).close(), warehouse, timeout=lock_timeout)
        # One test scope for the whole run, decided before it writes anything.
        tags.setdefault(
            data_test_scope.RUN_TAG, data_test_scope.choose(warehouse, "auto", full_refresh=full_refresh)
        )
        with _divert_stdout(log_path if progress else None):
            result = job.execute_in_process(
                run_config=run_config(defs, data_dir=data_dir, full_refresh=full_refresh, progress=progress),
                instance=instance,
                tags=tags,
                raise_on_error=False,
            )
    error = None
    failures = [e for e in result.all_events if e.is_step_failure]
    if not result.success:
        error = "; ".join(f"{e.step_key}: {step_failure_text(e.step_failure_data)}" for e in failures) or "the run failed"
    return NightlyRun(
        success=result.success,
        run_id=result.run_id,
        first_partition=window[0] if window else None,
        last_partition=window[1] if window else None,
        seconds=time.monotonic() - started,
        error=error,
        failed_steps=[e.step_key for e in failures],
    )
