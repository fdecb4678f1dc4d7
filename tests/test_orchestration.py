"""The Dagster code location: what it defines, and the parts that need no warehouse.

- definitions load (``Definitions.validate_loadable``) with every dbt model and test, raw
  ingestion, groups by dbt folder, owners from dbt meta, partitions, pools, freshness;
- the nightly schedule (02:00 in a configurable time zone, running by default) asks for the
  right partition range, evaluated with Dagster's test utilities;
- the run-failure sensor posts to a webhook on a loopback server (and only logs without one);
- the warehouse lock refuses or queues a second writer with a message naming the first;
- the summary of ``churnguard run`` shows what exists.

The end-to-end run, partitions and backfills are in test_orchestration_pipeline.py, two
concurrent runs in test_orchestration_concurrency.py, the UI in test_orchestration_ui.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
from dagster import (
    AssetKey,
    AssetMaterialization,
    DagsterInstance,
    DailyPartitionsDefinition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    TimeWindow,
    build_run_status_sensor_context,
    build_schedule_context,
    instance_for_test,
    job,
    op,
)
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from churnguard.defs import build_definitions
from churnguard.defs.config import WAREHOUSE_POOL, ConfigError
from churnguard.defs.dbt_assets import DBT_DAILY_MODELS, daily_tables
from churnguard.defs.dbt_project import load_manifest
from churnguard.defs.instance import INSTANCE_OVERRIDES
from churnguard.defs.jobs import NIGHTLY_JOB, build_nightly_job
from churnguard.defs.locking import WarehouseBusyError, read_holder, warehouse_lock
from churnguard.defs.partitions import HISTORY_FLOOR, dbt_window_vars, nightly_range
from churnguard.defs.schedules import NIGHTLY_SCHEDULE, build_nightly_schedule
from churnguard.defs.sensors import FAILURE_SENSOR, WebhookError, notify_run_failure
from churnguard.defs.translator import ChurnguardDbtTranslator
from churnguard.pipeline import summarise
from orchestration_support import shared_dbt_target


@pytest.fixture(scope="module")
def dbt_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_dbt_target(tmp_path_factory)


@pytest.fixture(scope="module")
def manifest(dbt_target: Path) -> dict:
    return load_manifest(dbt_target)  # runs dbt parse: the manifest is not in the repo


@pytest.fixture(scope="module")
def defs(dbt_target: Path, manifest: dict) -> Definitions:
    return build_definitions(dbt_target)


def _daily_keys(defs: Definitions) -> list[AssetKey]:
    return [key for a in defs.assets if a.node_def.name == DBT_DAILY_MODELS for key in a.keys]


def test_definitions_load_with_every_dbt_model_test_and_raw_table(defs: Definitions, manifest: dict) -> None:
    Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = set(graph.get_all_asset_keys())
    # a lineage a person can read: six layers, the gate a node between the marts and delivery
    assert {graph.get(k).group_name for k in keys} == {"raw", "staging", "intermediate", "marts", "quality", "delivery"}
    assert AssetKey("quality_gate") in graph.get(AssetKey("alert_list_delivery")).parent_keys
    assert AssetKey("quality_gate") in graph.get(AssetKey("published_marts")).parent_keys
    # one step per job node, each named for what it does (no dbt_models_2, no great_expectations_gate_2)
    steps = sorted(node.name for node in defs.resolve_job_def(NIGHTLY_JOB).graph.nodes)
    assert steps == [
        "alert_list_delivery", "check_source_freshness", "dbt_build_alerts_and_kpis", "dbt_build_daily_facts", "dbt_build_staging_and_dimensions",
        "dbt_seed_reference_data", "great_expectations_gate", "great_expectations_health_scores",
        "great_expectations_kpis", "published_marts", "quality_gate", "raw_data", "run_report",
    ]
    checks = {c.name: graph.get_check_spec(c).description for c in graph.asset_check_keys}
    assert checks["unique_stg_billing__orders_order_id"] == "unique: order_id"
    assert all(checks.values())  # every check says what it asserts

    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] in ("model", "seed")}
    assert {AssetKey(name) for name in models} <= keys
    raw = {k for k in keys if graph.get(k).group_name == "raw" and len(k.path) == 2}  # + the seeds
    assert len(raw) == 14 and AssetKey(["crm", "accounts"]) in raw  # the contract tables, crm.product_events included

    for name, node in models.items():
        spec = graph.get(AssetKey(name))
        folders = node["fqn"][1:-1]
        layer = {"utilities": "intermediate"}.get(folders[0], folders[0]) if node["resource_type"] == "model" else "raw"
        assert spec.group_name == layer, name
        assert spec.pools == {WAREHOUSE_POOL}, name
        if node["resource_type"] == "model":
            assert spec.owners == ["team:analytics-engineering"], name
            assert spec.metadata["dbt_docs"].value.endswith(f"#!/model/{node['unique_id']}")
    assert graph.get(AssetKey(["crm", "accounts"])).pools == {WAREHOUSE_POOL}

    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    assert len(graph.asset_check_keys) >= len(tests) > 400  # every dbt test is an asset check
    fct_checks = [c for c in graph.asset_check_keys if c.asset_key == AssetKey("fct_customer_day")]
    assert fct_checks and all(graph.get_check_spec(c).blocking for c in fct_checks if "expression_is_true" not in c.name)

    facts = graph.get(AssetKey("fct_customer_day"))
    assert isinstance(facts.partitions_def, DailyPartitionsDefinition)
    assert facts.partitions_def.start.date().isoformat() == "2025-01-01"
    assert facts.backfill_policy is not None and facts.backfill_policy.max_partitions_per_run is None  # single run
    # the sample is historical (as of 2025-12-31): its partitions end there and no wall-clock freshness policy
    assert facts.partitions_def.get_last_partition_key() == "2025-12-31"
    assert facts.freshness_policy is None
    assert graph.get(AssetKey("dim_customers")).partitions_def is None
    live = ChurnguardDbtTranslator(live_data=True)
    unique_id = next(u for u, n in manifest["nodes"].items() if n["name"] == "current_alert_list")
    assert live.get_asset_spec(manifest, unique_id, None).freshness_policy is not None

    nightly = defs.resolve_job_def(NIGHTLY_JOB)
    assert keys <= set(nightly.asset_layer.executable_asset_keys)
    assert defs.resolve_schedule_def(NIGHTLY_SCHEDULE).default_status == DefaultScheduleStatus.RUNNING
    assert defs.resolve_sensor_def(FAILURE_SENSOR).default_status == DefaultSensorStatus.RUNNING


def test_translator_groups_by_layer_and_maps_meta_owner_to_owners() -> None:
    translator = ChurnguardDbtTranslator()

    def props(fqn, meta=None, resource_type="model"):
        return {"fqn": fqn, "resource_type": resource_type, "unique_id": f"model.p.{fqn[-1]}", "name": fqn[-1],
                "config": {"meta": meta or {}}, "meta": meta or {}}

    assert translator.get_group_name(props(["p", "marts", "health", "current_alert_list"])) == "marts"
    assert translator.get_group_name(props(["p", "marts", "kpis", "kpi_monthly"])) == "marts"
    assert translator.get_tags(props(["p", "marts", "kpis", "kpi_monthly"])) == {"domain": "kpis"}
    assert translator.get_group_name(props(["p", "intermediate", "health", "int_x"])) == "intermediate"
    assert translator.get_group_name(props(["p", "utilities", "util_calendar"])) == "intermediate"
    assert translator.get_group_name(props(["p", "reference", "health_tiers"], resource_type="seed")) == "raw"
    assert translator.get_group_name(props(["p", "semantic", "m"])) == "semantic"  # a new layer: a new group
    assert translator.get_group_name(props(["p", "top_level_model"])) == "models"
    assert translator.get_owners(props(["p", "m", "x"], {"owner": "customer-success"})) == ["team:customer-success"]
    assert translator.get_owners(props(["p", "m", "x"], {"owner": ["ana@example.com", "Data Team"]})) == [
        "ana@example.com", "team:data-team"]
    assert translator.get_owners(props(["p", "m", "x"])) is None
    assert translator.get_asset_key(props(["p", "marts", "health", "current_alert_list"])) == AssetKey("current_alert_list")


def test_partition_range_becomes_dbt_vars_and_the_first_partition_covers_earlier_history() -> None:
    partitions = DailyPartitionsDefinition(start_date="2025-01-01", timezone="UTC")

    def window(first: str, last: str) -> TimeWindow:
        return TimeWindow(partitions.time_window_for_partition_key(first).start,
                          partitions.time_window_for_partition_key(last).end)

    assert dbt_window_vars(window("2025-06-10", "2025-06-12"), partitions) == {
        "start_date": "2025-06-10", "end_date": "2025-06-12"}
    assert dbt_window_vars(window("2025-01-01", "2025-01-03"), partitions) == {
        "start_date": HISTORY_FLOOR, "end_date": "2025-01-03"}

    now = datetime(2025, 3, 10, 2, tzinfo=timezone.utc)
    assert nightly_range(partitions, now, materialized=None, lookback=3) == ("2025-03-07", "2025-03-09")
    assert nightly_range(partitions, now, full=True) == ("2025-01-01", "2025-03-09")
    built = {f"2025-{m:02d}-{d:02d}" for m in (1, 2, 3) for d in range(1, 32) if (m, d) not in ((2, 29), (2, 30), (2, 31))}
    assert nightly_range(partitions, now, materialized=built, lookback=3) == ("2025-03-07", "2025-03-09")
    assert nightly_range(partitions, now, materialized=built - {"2025-02-14"}, lookback=3) == ("2025-02-14", "2025-03-09")
    assert nightly_range(partitions, datetime(2024, 12, 31, tzinfo=timezone.utc)) is None


def test_nightly_schedule_runs_at_two_in_the_configured_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    partitions = DailyPartitionsDefinition(start_date="2025-01-01", timezone="UTC")
    monkeypatch.setenv("CHURNGUARD_SCHEDULE_TIMEZONE", "Europe/Berlin")
    schedule = build_nightly_schedule(build_nightly_job(), partitions, [AssetKey("fct_customer_day")])
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * *", "Europe/Berlin")
    assert schedule.default_status == DefaultScheduleStatus.RUNNING
    monkeypatch.setenv("CHURNGUARD_SCHEDULE_TIMEZONE", "Mars/Olympus_Mons")
    with pytest.raises(ConfigError, match="CHURNGUARD_SCHEDULE_TIMEZONE"):
        build_nightly_schedule(build_nightly_job(), partitions, [])


def _evaluate(schedule, instance: DagsterInstance, when: datetime):
    with build_schedule_context(instance=instance, scheduled_execution_time=when) as context:
        data = schedule.evaluate_tick(context)
    assert not data.skip_message, data.skip_message
    [request] = data.run_requests
    return request.tags[ASSET_PARTITION_RANGE_START_TAG], request.tags[ASSET_PARTITION_RANGE_END_TAG]


def _build_days_through(warehouse: Path, tables: list[tuple[str, str]], last_day: str | None) -> None:
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse)) as con:
        for schema, name in tables:
            con.execute(f'create schema if not exists "{schema}"')
            con.execute(f'create or replace table "{schema}"."{name}" (date_day date)')
            if last_day:
                con.execute(f'insert into "{schema}"."{name}" select cast(range as date) from '
                            f"range(date '2025-01-01', date '{last_day}' + interval 1 day, interval 1 day)")


DUCKDB_WRITER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("open", flush=True)
sys.stdin.readline()
"""


def test_nightly_schedule_resumes_from_what_the_warehouse_has_built(defs: Definitions, isolated_warehouse: Path) -> None:
    schedule = defs.resolve_schedule_def(NIGHTLY_SCHEDULE)
    tables = daily_tables(defs.assets)
    assert ("marts", "fct_customer_day") in tables
    tick = datetime(2025, 3, 10, 2, 0, tzinfo=ZoneInfo("UTC"))  # last complete UTC day: 2025-03-09
    with instance_for_test(overrides=INSTANCE_OVERRIDES) as instance:  # a deployment's instance
        assert _evaluate(schedule, instance, tick) == ("2025-01-01", "2025-03-09")  # no warehouse: every day
        _build_days_through(isolated_warehouse, tables, "2025-02-20")  # a few nights missed
        assert _evaluate(schedule, instance, tick) == ("2025-02-18", "2025-03-09")
        _build_days_through(isolated_warehouse, tables, "2025-03-09")  # up to date: the lookback only
        assert _evaluate(schedule, instance, tick) == ("2025-03-07", "2025-03-09")
        _build_days_through(isolated_warehouse, tables, None)  # empty facts: every day
        assert _evaluate(schedule, instance, tick) == ("2025-01-01", "2025-03-09")

    # a writer has the file open: fall back to the partitions this Dagster instance has built
    early_tick = datetime(2025, 1, 20, 2, 0, tzinfo=ZoneInfo("UTC"))  # partitions 2025-01-01 .. 2025-01-19
    writer = subprocess.Popen([sys.executable, "-c", DUCKDB_WRITER, str(isolated_warehouse)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        with instance_for_test() as instance:
            for key in _daily_keys(defs):
                for day in range(1, 20):
                    if day != 10:  # one night that never ran
                        instance.report_runless_asset_event(
                            AssetMaterialization(asset_key=key, partition=f"2025-01-{day:02d}"))
            assert writer.stdout.readline().strip() == "open"
            assert _evaluate(schedule, instance, early_tick) == ("2025-01-10", "2025-01-19")
    finally:
        writer.kill()
        writer.wait()


class _Webhook(BaseHTTPRequestHandler):
    received: list[dict] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def webhook():
    _Webhook.received, _Webhook.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Webhook
    server.shutdown()
    server.server_close()


@op
def explode():
    raise RuntimeError("the warehouse caught fire")


@job
def doomed():
    explode()


def _failure_context(instance: DagsterInstance):
    result = doomed.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    return build_run_status_sensor_context(
        sensor_name=FAILURE_SENSOR,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
    ).for_run_failure()


def test_run_failure_sensor_posts_the_failure_to_the_webhook(webhook, monkeypatch: pytest.MonkeyPatch) -> None:
    url, server = webhook
    monkeypatch.setenv("CHURNGUARD_FAILURE_WEBHOOK_URL", url)
    with instance_for_test() as instance:
        context = _failure_context(instance)
        notify_run_failure(context)
    [payload] = server.received
    assert payload["run_id"] == context.dagster_run.run_id
    assert payload["job"] == "doomed"
    assert payload["failed_steps"][0]["step"] == "explode"
    assert "the warehouse caught fire" in payload["failed_steps"][0]["error"]
    assert payload["text"].startswith("churnguard: run ") and "explode" in payload["text"]

    server.status = 500  # a broken webhook fails the tick (visible in the UI), it is not swallowed
    with instance_for_test() as instance, pytest.raises(WebhookError, match="500"):
        notify_run_failure(_failure_context(instance))


def test_run_failure_sensor_without_a_webhook_only_logs(webhook, monkeypatch: pytest.MonkeyPatch) -> None:
    _, server = webhook
    monkeypatch.delenv("CHURNGUARD_FAILURE_WEBHOOK_URL", raising=False)
    with instance_for_test() as instance:
        assert notify_run_failure(_failure_context(instance)) is None
    assert server.received == []


HOLDER = """
import sys
from churnguard.defs.locking import warehouse_lock
with warehouse_lock(sys.argv[1], holder="nightly run 1a2b3c4d", timeout=0):
    print("locked", flush=True)
    sys.stdin.readline()
"""


def test_warehouse_lock_refuses_or_queues_a_second_writer(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(warehouse)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert read_holder(warehouse)["what"] == "nightly run 1a2b3c4d"
        with pytest.raises(WarehouseBusyError) as refused:
            with warehouse_lock(warehouse, holder="second writer", timeout=0):
                pass
        message = str(refused.value)
        assert "nightly run 1a2b3c4d" in message and f"pid {holder.pid}" in message
        assert "CHURNGUARD_LOCK_TIMEOUT" in message and "Nothing was written" in message

        waiting, acquired = threading.Event(), threading.Event()

        def second_writer() -> None:
            with warehouse_lock(warehouse, holder="second writer", timeout=60, on_wait=lambda _: waiting.set()):
                acquired.set()

        thread = threading.Thread(target=second_writer)
        thread.start()
        assert waiting.wait(30) and not acquired.is_set()  # queued behind the first writer
        holder.stdin.write("\n")
        holder.stdin.flush()
        thread.join(60)
        assert acquired.is_set()
    finally:
        holder.kill()
        holder.wait()
    assert read_holder(warehouse) is None  # released locks leave no holder behind
    with warehouse_lock(warehouse, holder="outer", timeout=0), warehouse_lock(warehouse, holder="inner", timeout=0):
        pass  # re-entrant within a process (a step inside `churnguard run`)


def test_summary_shows_what_exists_and_skips_what_does_not(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("create schema utilities; create schema marts; create schema delivery")
    con.execute("create table utilities.util_date_bounds as select date '2025-01-01' as history_start_date, "
                "date '2025-12-31' as as_of_date")
    con.close()
    summary = summarise(warehouse)
    assert "history 2025-01-01 .. 2025-12-31" in summary and "alert list" not in summary and "KPIs" not in summary
    con = duckdb.connect(str(warehouse))
    con.execute("create table marts.current_alert_list as select * from (values ('a1', 'red'), ('a2', 'yellow'), "
                "('a3', 'red')) as t(alert_id, alert_tier)")
    con.execute("create table marts.kpi_monthly as select date '2025-11-01' as period_start_date, true as "
                "is_complete_period, 'all' as segment, 0.02 as customer_churn_rate, 48.0 as nps")
    con.execute("create table delivery.sync_runs (run_id varchar, destination varchar, started_at timestamp, "
                "status varchar, dry_run boolean, sent int, updated int, closed int, failed int)")
    con.execute("insert into delivery.sync_runs values ('r1', 'csv', now(), 'ok', false, 3, 0, 1, 0)")
    con.close()
    summary = summarise(warehouse)
    assert "3 open alerts: red 2, yellow 1" in summary
    assert "KPIs of the last complete month (2025-11, all segments): churn rate 2.0%, NPS 48" in summary
    assert "csv" in summary and "3 sent" in summary


READER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("open", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def test_a_dbt_step_waits_for_a_reader_holding_the_warehouse(
    defs: Definitions, dbt_target: Path, isolated_warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A BI tool with the file open when a dbt step starts: the step waits with one message
    and then builds; it does not fail on DuckDB's lock after the earlier steps' work."""
    monkeypatch.setenv("CHURNGUARD_DBT_TARGET_PATH", str(dbt_target))
    isolated_warehouse.parent.mkdir(parents=True, exist_ok=True)
    duckdb.connect(str(isolated_warehouse)).close()
    seeds = {key for a in defs.assets if a.node_def.name == "dbt_seed_reference_data" for key in a.keys}
    assert seeds
    job = defs.resolve_job_def(NIGHTLY_JOB).get_subset(asset_selection=seeds, asset_check_selection=set())
    # held long enough that the step starts while it is open, even on a loaded machine (the
    # step reaches its wait a few seconds after the job starts; 4 s was too short under load)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(isolated_warehouse), "12"], stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "open"
        instance = DagsterInstance.ephemeral()
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    finally:
        reader.wait(timeout=30)
    assert result.success
    messages = [record.user_message for record in instance.all_logs(result.run_id)]
    waits = [m for m in messages if m.startswith(f"waiting for pid {reader.pid}")]
    assert len(waits) == 1 and "readers should read a copy" in waits[0]
    with duckdb.connect(str(isolated_warehouse), read_only=True) as con:
        assert con.execute("select count(*) from information_schema.tables where table_name = 'health_tiers'").fetchone()[0] == 1
