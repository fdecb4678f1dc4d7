"""Reverse-ETL to a real PostgreSQL server (a throwaway cluster started for this module):
upsert by alert_id in one transaction, unchanged reruns send nothing, changes update,
closed episodes are marked closed, dry runs send nothing, an unreachable server changes nothing."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from delivery_fixtures import alert_row, default_alerts, query, start_postgres, write_marts

from churnguard.delivery.config import DeliveryConfig, Destination
from churnguard.delivery.engine import sync
from churnguard.quality.result import GateResult

pytestmark = pytest.mark.xdist_group("test_delivery_postgres")  # one worker: its module fixture starts PostgreSQL once

PASSED = GateResult(checked_at="test", suites=[])
"""A passing gate: these tests are about delivery; the gate has its own tests."""


@pytest.fixture(scope="module")
def postgres():
    cluster = start_postgres()
    if isinstance(cluster, str):
        pytest.skip(cluster)
    yield cluster
    cluster.stop()


@pytest.fixture
def table(request) -> str:
    return f"crm.alerts_{request.node.name.replace('[', '_').replace(']', '')[:40]}"


def _config(dsn: str, table: str) -> DeliveryConfig:
    return DeliveryConfig(destinations=(Destination("crm_db", "postgres", {"dsn": dsn, "table": table}),))


def _rows(dsn: str, table: str) -> dict[str, dict]:
    with psycopg.connect(dsn) as conn:
        cursor = conn.execute(
            f"select alert_id, tier, health_score, status, closed_date, reasons, owner_email, payload, last_synced_at, sync_run_id from {table}"
        )
        names = [d.name for d in cursor.description]
        return {row[0]: dict(zip(names, row)) for row in cursor.fetchall()}


def _sync(warehouse: Path, config: DeliveryConfig, **kwargs):
    return sync(warehouse, config=config, gate=PASSED, log=lambda m: None, **kwargs)


def test_first_sync_inserts_every_alert(postgres, table, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    report = _sync(warehouse, _config(postgres.dsn, table))
    result = report.destination("crm_db")
    assert (result.status, result.sent, result.updated, result.closed) == ("success", 6, 0, 0)
    rows = _rows(postgres.dsn, table)
    assert sorted(rows) == [f"alert-{i:04d}" for i in range(1, 7)]
    first = rows["alert-0001"]
    assert (first["tier"], first["health_score"], first["status"], first["reasons"]) == ("red", 40, "open", ["inactive_60d"])
    assert first["owner_email"] == "manager1@vendor.example"
    assert "buyer1@customer1.example" not in str(first["payload"])  # no contact e-mail by default
    audit = query(warehouse, "select destination, status, sent, updated, closed, failed from delivery.sync_runs")
    assert audit == [("crm_db", "success", 6, 0, 0, 0)]


def test_unchanged_rerun_sends_nothing(postgres, table, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    config = _config(postgres.dsn, table)
    _sync(warehouse, config)
    before = _rows(postgres.dsn, table)
    report = _sync(warehouse, config)
    result = report.destination("crm_db")
    assert (result.sent, result.updated, result.closed, result.unchanged) == (0, 0, 0, 6)
    assert _rows(postgres.dsn, table) == before  # not even last_synced_at moved


def test_changed_score_updates_the_row(postgres, table, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    config = _config(postgres.dsn, table)
    first = _sync(warehouse, config)
    alerts = default_alerts()
    alerts[0]["health_score"] = 31
    write_marts(warehouse, alerts)
    report = _sync(warehouse, config)
    result = report.destination("crm_db")
    assert (result.sent, result.updated, result.closed, result.unchanged) == (0, 1, 0, 5)
    rows = _rows(postgres.dsn, table)
    assert rows["alert-0001"]["health_score"] == 31
    assert rows["alert-0001"]["sync_run_id"] == report.run_id
    assert rows["alert-0002"]["sync_run_id"] == first.run_id


def test_closed_episode_is_marked_closed_not_deleted(postgres, table, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    config = _config(postgres.dsn, table)
    _sync(warehouse, config)
    alerts = default_alerts()
    leaving = alerts.pop(1)
    write_marts(warehouse, alerts, closed=[{**leaving, "closed_date": "2025-12-31"}])
    report = _sync(warehouse, config)
    assert report.destination("crm_db").closed == 1
    rows = _rows(postgres.dsn, table)
    assert len(rows) == 6
    closed = rows[leaving["alert_id"]]
    assert closed["status"] == "closed"
    assert str(closed["closed_date"]) == "2025-12-31"
    assert {r["status"] for k, r in rows.items() if k != leaving["alert_id"]} == {"open"}
    # A closed episode is sent once: the next run has nothing to do.
    again = _sync(warehouse, config).destination("crm_db")
    assert (again.sent, again.updated, again.closed) == (0, 0, 0)


def test_dry_run_sends_nothing_and_writes_nothing(postgres, table, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    report = _sync(warehouse, _config(postgres.dsn, table), dry_run=True)
    result = report.destination("crm_db")
    assert (result.status, result.sent, len(result.planned)) == ("dry_run", 6, 6)
    with psycopg.connect(postgres.dsn) as conn:
        assert conn.execute("select to_regclass(%s)", [table]).fetchone()[0] is None
    assert query(warehouse, "select count(*) from information_schema.schemata where schema_name = 'delivery'") == [(0,)]


def test_unreachable_server_changes_nothing_and_next_run_delivers(postgres, table, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    broken = DeliveryConfig(
        destinations=(Destination("crm_db", "postgres", {"dsn": "host=127.0.0.1 port=1 user=postgres connect_timeout=2", "table": table}),)
    )
    report = _sync(warehouse, broken)
    result = report.destination("crm_db")
    assert result.status == "failed" and result.failed == 6 and "rolled back" in result.error
    assert not report.ok
    report = _sync(warehouse, _config(postgres.dsn, table))
    assert report.destination("crm_db").sent == 6
    assert query(warehouse, "select status from delivery.sync_runs order by started_at") == [("failed",), ("success",)]


def test_contact_email_only_when_configured(postgres, table, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse, [alert_row(1)])
    config = DeliveryConfig(
        destinations=(Destination("crm_db", "postgres", {"dsn": postgres.dsn, "table": table}),),
        include_contact_email=True,
    )
    _sync(warehouse, config)
    with psycopg.connect(postgres.dsn) as conn:
        assert conn.execute(f"select contact_email from {table}").fetchone()[0] == "buyer1@customer1.example"


def test_a_truncated_table_is_refilled_including_closed_rows(postgres, table, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    config = _config(postgres.dsn, table)
    _sync(warehouse, config)
    alerts = default_alerts()
    leaving = alerts.pop(1)
    write_marts(warehouse, alerts, closed=[{**leaving, "closed_date": "2025-12-31"}])
    _sync(warehouse, config)
    with psycopg.connect(postgres.dsn) as conn:
        conn.execute(f"truncate {table}")
    report = _sync(warehouse, config)
    result = report.destination("crm_db")
    assert (result.status, result.sent, result.closed, result.unchanged, result.repaired) == ("success", 5, 1, 0, 6)
    assert "6 of them re-sent" in report.format()
    rows = _rows(postgres.dsn, table)
    assert sorted(rows) == [f"alert-{i:04d}" for i in range(1, 7)]
    assert (rows[leaving["alert_id"]]["status"], str(rows[leaving["alert_id"]]["closed_date"])) == ("closed", "2025-12-31")
    again = _sync(warehouse, config).destination("crm_db")
    assert (again.sent, again.closed, again.unchanged, again.repaired) == (0, 0, 5, 0)


def test_a_dropped_table_is_recreated_and_a_deleted_row_sent_again(postgres, table, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    config = _config(postgres.dsn, table)
    _sync(warehouse, config)
    with psycopg.connect(postgres.dsn) as conn:
        conn.execute(f"drop table {table}")
    result = _sync(warehouse, config).destination("crm_db")
    assert (result.status, result.sent, result.repaired) == ("success", 6, 6)
    assert len(_rows(postgres.dsn, table)) == 6
    with psycopg.connect(postgres.dsn) as conn:
        conn.execute(f"delete from {table} where alert_id = 'alert-0004'")
        conn.execute(f"update {table} set payload_hash = 'edited' where alert_id = 'alert-0005'")
    result = _sync(warehouse, config).destination("crm_db")
    assert (result.sent, result.unchanged, result.repaired) == (2, 4, 2)
    rows = _rows(postgres.dsn, table)
    assert len(rows) == 6 and rows["alert-0004"]["health_score"] == 70


def test_full_resync_sends_every_open_alert_and_leaves_equal_rows_untouched(postgres, table, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    config = _config(postgres.dsn, table)
    _sync(warehouse, config)
    before = _rows(postgres.dsn, table)
    result = _sync(warehouse, config, full_resync=True).destination("crm_db")
    assert (result.status, result.sent, result.unchanged) == ("success", 6, 0)
    assert _rows(postgres.dsn, table) == before  # same content: the upserts changed nothing
