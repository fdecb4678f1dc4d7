"""The quality gate: suites serialized in expectations/, integrity and volume expectations,
Data Docs, and the proof that a corrupted mart blocks every delivery while PostgreSQL, the
webhook receiver and the files keep their previous contents."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from delivery_fixtures import (
    Receiver,
    WebhookServer,
    alert_row,
    default_alerts,
    query,
    start_postgres,
    write_marts,
)

from churnguard.delivery.config import DeliveryConfig, Destination
from churnguard.delivery.engine import sync
from churnguard.quality.runner import run_gate
from churnguard.quality.suites import EXPECTATIONS_DIR, delivery_suite_names, stale_suites, suite_names
from churnguard.quality.volume import VolumeConfig, volume_parameters

pytestmark = pytest.mark.xdist_group("test_quality_gate")  # one worker: its module fixture starts PostgreSQL once


def test_committed_suite_files_match_their_python_definitions():
    assert stale_suites() == [], "run: python -m churnguard.quality.suites --write"
    assert sorted(p.stem for p in EXPECTATIONS_DIR.glob("*.json")) == sorted(suite_names())


def test_suite_files_load_as_gx_expectation_suites():
    from churnguard.quality.runner import _gx

    gx = _gx()  # the gate's own import (safe in a pytest-xdist worker with pyspark installed)

    for name in suite_names():
        data = json.loads((EXPECTATIONS_DIR / f"{name}.json").read_text())
        suite = gx.ExpectationSuite(**data)
        assert suite.name == name and len(suite.expectations) == len(data["expectations"])
        assert {e["meta"]["kind"] for e in data["expectations"]} <= {"integrity", "volume"}


def test_volume_bounds():
    config = VolumeConfig(max_growth_factor=2.0, growth_min_alerts=5, max_active_share=0.5)
    assert volume_parameters(config, None, 100) == {
        "previous_delivered_alerts": None, "active_customers": 100,
        "max_alerts_by_growth": None, "max_alerts_by_share": 50, "min_alerts": 0,
    }
    assert volume_parameters(config, 2, 100)["max_alerts_by_growth"] == 7  # small lists: +5 allowed
    assert volume_parameters(config, 30, 100)["max_alerts_by_growth"] == 60
    assert volume_parameters(config, 30, 100)["min_alerts"] == 1


def test_volume_config_from_env(monkeypatch):
    monkeypatch.setenv("CHURNGUARD_ALERT_MAX_GROWTH_FACTOR", "3")
    config = VolumeConfig.load({"max_active_share": 0.2})
    assert (config.max_growth_factor, config.max_active_share) == (3.0, 0.2)
    monkeypatch.setenv("CHURNGUARD_ALERT_MAX_ACTIVE_SHARE", "2")
    with pytest.raises(ValueError, match="CHURNGUARD_ALERT_MAX_ACTIVE_SHARE"):
        VolumeConfig.load()


def test_gate_passes_on_clean_marts_and_renders_data_docs(isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    gate = run_gate(warehouse)
    assert gate.passed, gate.format()
    assert {s.suite for s in gate.suites} == set(suite_names())
    index = Path(gate.data_docs_index)
    assert index == warehouse.parent / "data_docs" / "index.html" and index.exists()
    page = Path(gate.suite("current_alert_list").data_docs_page)
    assert page.exists() and page.suffix == ".html"
    assert json.loads((index.parent / "latest_gate_result.json").read_text())["passed"] is True


def test_data_docs_keep_every_run_named_with_checked_bounds_and_render_offline(isolated_warehouse):
    import re
    from datetime import datetime, timezone

    from churnguard.quality import data_docs

    warehouse = write_marts(isolated_warehouse)
    first = run_gate(warehouse, suites=["current_alert_list"], run_name="nightly (dagster run 1a2b3c4d)")
    second = run_gate(warehouse, suites=["current_alert_list"], run_name="churnguard quality")
    site = warehouse.parent / "data_docs"
    first_page = Path(first.suite("current_alert_list").data_docs_page)
    second_page = Path(second.suite("current_alert_list").data_docs_page)
    # history: the first run's page survives the second run, both are listed on the index
    assert first_page.exists() and second_page.exists() and first_page != second_page
    assert first_page.parent.parent.name == "nightly (dagster run 1a2b3c4d)"
    stored = list((warehouse.parent / "gx" / "uncommitted" / "validations" / "current_alert_list").rglob("*.json"))
    assert len(stored) == 2
    index = (site / "index.html").read_text()
    assert "nightly (dagster run 1a2b3c4d)" in index and "churnguard quality" in index
    # the validation page names the relation read and the run
    page = first_page.read_text()
    assert "marts.current_alert_list" in page and "nightly (dagster run 1a2b3c4d)" in page
    assert "Data asset: None" not in page
    # the suite page shows the bound that was checked: 40 active customers x the default share
    share = first.parameters["max_alerts_by_share"]
    assert share == int(40 * VolumeConfig.load().max_active_share)
    suite_page = (site / "expectations" / "current_alert_list.html").read_text()
    assert "$PARAMETER" not in suite_page and re.search(rf">\s*{share}\s*<", suite_page)
    # offline: no page loads a script, stylesheet or image from the network
    for html in site.rglob("*.html"):
        text = html.read_text()
        assert not re.search(r"<(script|link|img)[^>]+(src|href)=\"https?://", text), html
        assert "newsletter" not in text
    assert (site / "static" / "vendor" / "bootstrap.min.css").stat().st_size > 100_000
    assert 'href="../../../../static/vendor/bootstrap.min.css"' in page  # relative to the page
    # pruning: 100 days later both results (and their pages) are gone
    import great_expectations as gx

    context = data_docs.file_context(gx, warehouse.parent, site, "churnguard")
    later = datetime.now(timezone.utc) + timedelta(days=100)
    assert data_docs.prune(context, site, 90, now=later) == 2
    assert not first_page.exists() and not second_page.exists()
    assert not list((warehouse.parent / "gx" / "uncommitted" / "validations").rglob("*.json"))


def test_missing_mart_fails_the_gate(isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    import duckdb

    con = duckdb.connect(str(warehouse))
    con.execute("drop table marts.customer_alerts")
    con.close()
    gate = run_gate(warehouse, suites=delivery_suite_names(), docs_dir=False)
    assert not gate.passed
    assert [f.expectation for f in gate.blocking_failures] == ["relation_readable"]


def test_each_integrity_rule_is_caught(isolated_warehouse):
    alerts = default_alerts()
    alerts[0]["alert_tier"] = "purple"
    alerts[1]["reason_codes"] = "inactive_60d|made_up_reason"
    alerts[2]["response_due_date"] = alerts[2]["opened_date"] - timedelta(days=1)
    alerts[3]["account_manager_id"] = None  # alert 4 is yellow: allowed
    alerts[4]["account_manager_id"] = None  # alert 5 is red: must have an owner
    warehouse = write_marts(isolated_warehouse, alerts)
    gate = run_gate(warehouse, suites=delivery_suite_names(), docs_dir=False)
    failed = {(f.suite, f.expectation, f.column) for f in gate.blocking_failures}
    assert ("current_alert_list", "expect_column_values_to_be_in_set", "alert_tier") in failed
    assert ("current_alert_list_reasons", "expect_column_values_to_be_in_set", "reason_code") in failed
    assert ("current_alert_list", "expect_column_pair_values_a_to_be_greater_than_b", "response_due_date > opened_date") in failed
    owner = next(f for f in gate.blocking_failures if f.suite == "current_alert_list" and f.column == "account_manager_id")
    assert [r["alert_id"] for r in owner.sample_rows] == ["alert-0005"]
    assert all(f.kind == "integrity" for f in gate.blocking_failures)


def test_health_score_consistency(isolated_warehouse):
    from delivery_fixtures import _health_rows

    health = _health_rows(10)
    health.loc[0, "health_score"] = 95  # dimensions range 50..100 -> fine
    health.loc[1, "health_score"] = 30  # below the lowest dimension score (50): inconsistent
    health = pd.concat([health, health.iloc[[2]]])  # a duplicate customer-day
    warehouse = write_marts(isolated_warehouse, health=health, customers=10)
    gate = run_gate(warehouse, suites=["health_scores"], docs_dir=False)
    failed = {f.expectation: f for f in gate.blocking_failures}
    assert failed["expect_column_values_to_be_between"].column == "score_outside_dimension_range"
    assert failed["expect_column_values_to_be_between"].unexpected_count == 1
    assert "expect_compound_columns_to_be_unique" in failed


# --- the gate in front of every destination -----------------------------------------------


@pytest.fixture(scope="module")
def postgres():
    cluster = start_postgres()
    if isinstance(cluster, str):
        pytest.skip(cluster)
    yield cluster
    cluster.stop()


@pytest.fixture
def receiver():
    return Receiver()


@pytest.fixture
def server(receiver):
    server = WebhookServer(receiver)
    yield server
    server.stop()


def _config(postgres, server, table: str) -> DeliveryConfig:
    return DeliveryConfig(
        destinations=(
            Destination("crm_db", "postgres", {"dsn": postgres.dsn, "table": table}),
            Destination("crm_hook", "webhook", {"url": server.url, "rate_limit_per_second": 1000, "backoff_initial_seconds": 0.01}),
            Destination("crm_files", "files", {"directory": "exports"}),
        ),
        quality={"max_growth_factor": 2.0, "growth_min_alerts": 5, "max_active_share": 0.5},
    )


def _corrupt_score(warehouse):
    from delivery_fixtures import _health_rows

    health = _health_rows(40)
    health.loc[5, "health_score"] = 140
    alerts = default_alerts()
    alerts[0]["health_score"] = 33  # a real change that must not go out either
    write_marts(warehouse, alerts, health=health)
    return "health_scores", "expect_column_values_to_be_between", "health_score"


def _duplicate_alert(warehouse):
    alerts = default_alerts()
    alerts.append(dict(alerts[2]))
    write_marts(warehouse, alerts)
    return "current_alert_list", "expect_column_values_to_be_unique", "alert_id"


def _volume_spike(warehouse):
    write_marts(warehouse, [alert_row(i) for i in range(1, 20)])  # 6 -> 19 > max(6 x 2, 6 + 5)
    return "current_alert_list", "expect_table_row_count_to_be_between", None


def _snapshot(postgres, table, warehouse) -> tuple:
    with psycopg.connect(postgres.dsn) as conn:
        rows = conn.execute(f"select * from {table} order by alert_id").fetchall()
    folder = warehouse.parent / "exports"
    files = {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    return rows, files


@pytest.mark.parametrize("corrupt", [_corrupt_score, _duplicate_alert, _volume_spike], ids=["score_out_of_range", "duplicate_alert", "volume_spike"])
def test_corrupted_mart_blocks_every_delivery_and_destinations_keep_their_contents(
    corrupt, postgres, server, receiver, isolated_warehouse
):
    table = f"gate_{corrupt.__name__.strip('_')}"
    warehouse = write_marts(isolated_warehouse)
    config = _config(postgres, server, table)
    first = sync(warehouse, config=config, log=lambda m: None)
    assert first.ok, first.format()
    before = _snapshot(postgres, table, warehouse)
    requests = len(receiver.requests)

    suite, expectation, column = corrupt(warehouse)
    report = sync(warehouse, config=config, log=lambda m: None)

    assert report.blocked and not report.ok
    assert {d.status for d in report.destinations} == {"blocked"}
    assert _snapshot(postgres, table, warehouse) == before
    assert len(receiver.requests) == requests
    failure = next(f for f in report.gate.blocking_failures if f.suite == suite and f.expectation == expectation)
    assert failure.column == column
    if column:
        assert failure.sample_rows, "failing rows are reported"
    summary = report.format()
    assert "delivery blocked" in summary and expectation in summary
    audit = query(warehouse, "select destination, status, error from delivery.sync_runs where run_id = ?", [report.run_id])
    assert sorted(a[0] for a in audit) == ["crm_db", "crm_files", "crm_hook"]
    assert all(status == "blocked" and expectation in error for _, status, error in audit)
    recorded = query(warehouse, "select suite, expectation, sample_rows from delivery.quality_failures where run_id = ?", [report.run_id])
    assert (suite, expectation) in {(s, e) for s, e, _ in recorded}
    assert Path(report.gate.data_docs_index).exists()
    assert query(warehouse, "select gate_passed, delivered from delivery.alert_list_history order by recorded_at") == [
        (True, True),
        (False, False),
    ]


def test_volume_check_override_delivers_once_and_is_recorded(postgres, server, receiver, isolated_warehouse):
    table = "gate_override"
    warehouse = write_marts(isolated_warehouse)
    config = _config(postgres, server, table)
    sync(warehouse, config=config, log=lambda m: None)
    _volume_spike(warehouse)
    messages: list[str] = []
    report = sync(warehouse, config=config, override_volume_reason="renewal campaign: spike expected", log=messages.append)
    assert report.ok and report.gate.volume_overridden
    assert any("renewal campaign" in m for m in messages)
    assert report.destination("crm_db").sent == 13
    assert {r[0] for r in query(warehouse, "select override_reason from delivery.sync_runs where run_id = ?", [report.run_id])} == {
        "renewal campaign: spike expected"
    }
    assert query(warehouse, "select bool_and(overridden) from delivery.quality_failures where run_id = ?", [report.run_id]) == [(True,)]


def test_integrity_failures_cannot_be_overridden(postgres, server, receiver, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    config = _config(postgres, server, "gate_no_override")
    sync(warehouse, config=config, log=lambda m: None)
    _duplicate_alert(warehouse)
    report = sync(warehouse, config=config, override_volume_reason="please", log=lambda m: None)
    assert report.blocked


def test_empty_list_after_a_non_empty_one_is_a_volume_failure(postgres, server, receiver, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    config = _config(postgres, server, "gate_empty")
    sync(warehouse, config=config, log=lambda m: None)
    write_marts(warehouse, [])
    report = sync(warehouse, config=config, log=lambda m: None)
    assert report.blocked
    assert [f.kind for f in report.gate.blocking_failures] == ["volume"]
    assert "Not empty" in report.gate.blocking_failures[0].description


@pytest.mark.slow
def test_suites_pass_on_the_sample_warehouse(sample_warehouse, tmp_path):
    """The suites fit the real marts: the committed sample passes every expectation."""
    gate = run_gate(sample_warehouse, docs_dir=tmp_path / "data_docs")
    assert gate.passed, gate.format()
    assert gate.suite("current_alert_list").rows > 0
    assert gate.suite("current_alert_list_reasons").rows >= gate.suite("current_alert_list").rows
    assert (tmp_path / "data_docs" / "index.html").exists()
