"""The nightly Dagster job, end to end on the sample, then one partition and a backfill.

One test (one warehouse built once, ~2 min): the nightly job materializes every asset
in-process into a temporary warehouse; then rerunning a single partition of the
customer-day facts, and a 3-day backfill of days deleted from them (one run, one dbt
invocation), leave ``marts.fct_customer_day`` identical to the full build.
"""

from __future__ import annotations

import re

import shutil
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, Definitions

from churnguard.defs import build_definitions
from churnguard.defs.dbt_assets import DBT_DAILY_MODELS, daily_tables
from churnguard.defs.jobs import NIGHTLY_JOB
from churnguard.defs.runner import daily_asset_keys, run_nightly_once
from churnguard.defs.schedules import range_tags
from churnguard.pipeline import summarise
from conftest import identical, table_differences
from orchestration_support import dbt_target_env  # noqa: F401 (fixture)


def _messages(instance: DagsterInstance, run_id: str) -> list[str]:
    return [record.user_message for record in instance.all_logs(run_id)]


def test_nightly_job_runs_end_to_end_and_partitions_rebuild_identical_facts(
    isolated_warehouse: Path, dbt_target_env: Path, sample_dir: Path, sample_warehouse: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    warehouse = isolated_warehouse
    defs: Definitions = build_definitions(dbt_target_env)
    instance = DagsterInstance.ephemeral()

    # 1. the nightly job on a new warehouse: every asset, the daily models over every partition
    # "now" is the night after the sample's last day: the daily partitions are the sample's 365 days.
    # At 30,000 customer-days per batch the sample's ~76,000 make a history of 3 batches
    # (churnguard.history_batches): two `dbt run`s, then the step's `dbt build` of the last.
    monkeypatch.setenv("CHURNGUARD_HISTORY_BATCH_ROWS", "30000")
    run = run_nightly_once(data_dir=sample_dir, instance=instance, defs=defs, now=datetime(2026, 1, 1, 2, tzinfo=timezone.utc))
    assert run.success, run.error
    monkeypatch.delenv("CHURNGUARD_HISTORY_BATCH_ROWS")
    assert (run.first_partition, run.last_partition) == ("2025-01-01", "2025-12-31")
    progress = capsys.readouterr().out
    assert "==> raw_data" in progress and f"==> {DBT_DAILY_MODELS}" in progress
    messages = _messages(instance, run.run_id)
    assert any(m.startswith("3 batches of about 122 days") for m in messages), [m for m in messages if "batch" in m]
    assert any(m.startswith("batch 2/3: 2025-05-03 .. 2025-09-01 built in") for m in messages)
    last_build = [m for m in messages if m.startswith("dbt build") and "start_date=2025-09-02" in m]
    # the last batch's build; its data tests read the whole history (test_start_date)
    assert last_build and "test_start_date=0001-01-01" in last_build[0], last_build
    # built in batches, every day-grain table and the marts after them equal the one-pass `dbt build`
    batched = table_differences(
        warehouse, sample_warehouse,
        daily_tables(defs.assets) + [("marts", "health_scores"), ("marts", "customer_alerts"), ("marts", "kpi_monthly")],
    )
    assert batched["marts.fct_customer_day"][0] > 50_000 and identical(batched), batched
    # one line for the partitioned fact: the first partition materialized (events of a
    # 365-partition step do not always arrive in date order) and its row count
    assert re.search(r"fct_customer_day \[from 2025-\d\d-\d\d\]", progress), progress[-3000:]
    assert " rows)" in progress

    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert instance.get_latest_materialization_event(key) is not None, f"{key.to_user_string()} not materialized"
    facts = AssetKey("fct_customer_day")
    built = set(instance.get_materialized_partitions(facts))
    assert {"2025-01-01", "2025-06-11", run.last_partition} <= built

    checks = [
        record.get_dagster_event().event_specific_data
        for record in instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
    ]
    dbt_checks = [check for check in checks if check.check_name != "source_freshness"]
    assert len(dbt_checks) > 400 and all(check.passed for check in dbt_checks)  # every dbt test ran as a check
    # the sample's sources judged against its own as-of date: two lag behind (see test_orchestration_day_after)
    stale = {c.asset_key.to_user_string() for c in checks if c.check_name == "source_freshness" and not c.passed}
    assert stale == {"crm/interventions", "billing/orders"}

    metadata = instance.get_latest_materialization_event(facts).asset_materialization.metadata
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("select count(*) from marts.fct_customer_day").fetchone()[0]
    assert metadata["dagster/row_count"].value == rows > 50_000
    summary = summarise(warehouse)
    assert "customers by status on the as-of date" in summary and f"{rows:,} customer-days" in summary

    assert ("marts", "fct_customer_day") in daily_tables(defs.assets) and facts in daily_asset_keys(defs)
    tables = [("marts", "fct_customer_day")]
    full = tmp_path / "full_build.duckdb"
    shutil.copy(warehouse, full)
    # the customer-day facts only, without their dbt tests (they ran above): the rows are compared here
    job = defs.resolve_job_def(NIGHTLY_JOB).get_subset(asset_selection={facts}, asset_check_selection=set())

    # 2. rerunning one partition of the facts replaces that day with identical rows
    rerun = job.execute_in_process(instance=instance, partition_key="2025-06-11")
    assert rerun.success
    assert identical(table_differences(warehouse, full, tables))

    # 3. a 3-day backfill of days that were deleted: one run, one dbt invocation, same rows
    with duckdb.connect(str(warehouse)) as con:
        for schema, name in tables:
            con.execute(f'delete from "{schema}"."{name}" where date_day between date \'2025-06-10\' and date \'2025-06-12\'')
    assert not identical(table_differences(warehouse, full, tables))
    backfill = job.execute_in_process(instance=instance, tags=range_tags("2025-06-10", "2025-06-12"))
    assert backfill.success
    steps = [e.step_key for e in backfill.all_events if e.event_type == DagsterEventType.STEP_START]
    assert steps == [DBT_DAILY_MODELS]
    invocations = [m for m in _messages(instance, backfill.run_id) if m.startswith("dbt build")]
    assert invocations and len(invocations) == 1
    # the window goes to dbt by environment (CHURNGUARD_RUN_*), shown in the step's log line
    assert "(start_date=2025-06-10 end_date=2025-06-12 " in invocations[0]
    partitions = {
        e.event_specific_data.materialization.partition
        for e in backfill.all_events
        if e.event_type == DagsterEventType.ASSET_MATERIALIZATION and e.asset_key == facts
    }
    assert partitions == {"2025-06-10", "2025-06-11", "2025-06-12"}
    assert identical(table_differences(warehouse, full, tables))
