"""The default delivery: CSV and Parquet files under the warehouse folder, written atomically,
plus configuration loading and the payload's PII minimisation."""

from __future__ import annotations

import csv

import pyarrow.parquet as pq
import pytest
from delivery_fixtures import alert_row, default_alerts, query, write_marts

from churnguard.delivery.config import DeliveryConfigError, load_config, parse_config
from churnguard.delivery.destinations import files as files_module
from churnguard.delivery.engine import sync
from churnguard.delivery.payload import FIELD_NAMES, PayloadError, build_payloads
from churnguard.quality.result import GateResult

PASSED = GateResult(checked_at="test", suites=[])


def _sync(warehouse, **kwargs):
    return sync(warehouse, config=load_config(), gate=PASSED, log=lambda m: None, **kwargs)


@pytest.fixture(autouse=True)
def no_config_file(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("CHURNGUARD_DESTINATIONS_FILE", "CHURNGUARD_SYNC_POSTGRES_DSN", "CHURNGUARD_SYNC_WEBHOOK_URL", "CHURNGUARD_SYNC_FILES_DIR"):
        monkeypatch.delenv(name, raising=False)


def test_default_destination_writes_csv_and_parquet_under_the_warehouse_folder(isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    report = _sync(warehouse)
    assert [(d.name, d.kind, d.status, d.sent) for d in report.destinations] == [("files", "files", "success", 6)]
    folder = warehouse.parent / "deliveries" / "alerts"
    with open(folder / "alert_list.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["alert_id"] for r in rows] == [f"alert-{i:04d}" for i in range(1, 7)]
    assert list(rows[0]) == list(FIELD_NAMES)
    assert rows[0]["reasons"] == "inactive_60d" and rows[0]["respond_by"] == "2025-12-31"
    table = pq.read_table(folder / "alert_list.parquet")
    assert table.num_rows == 6 and table.column_names == list(FIELD_NAMES)
    changes = sorted((folder / "changes").glob("*.csv"))
    assert len(changes) == 1
    assert "Delivery summary" in report.format() and "files" in report.format()


def test_unchanged_rerun_writes_no_change_file_and_closures_are_listed(isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    _sync(warehouse)
    _sync(warehouse)
    folder = warehouse.parent / "deliveries" / "alerts"
    assert len(list((folder / "changes").glob("*.csv"))) == 1
    write_marts(warehouse, default_alerts()[1:])
    _sync(warehouse)
    latest = sorted((folder / "changes").glob("*.csv"))[-1]
    with open(latest, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["alert_id"], r["action"], r["status"]) for r in rows] == [("alert-0001", "close", "closed")]
    with open(folder / "alert_list.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 5


def test_a_failed_write_keeps_the_previous_files(isolated_warehouse, monkeypatch):
    warehouse = write_marts(isolated_warehouse)
    _sync(warehouse)
    snapshot = warehouse.parent / "deliveries" / "alerts" / "alert_list.csv"
    before = snapshot.read_bytes()
    write_marts(warehouse, [alert_row(i, score=20) for i in range(1, 8)])

    def broken(path, rows, columns, file_format):
        def write(tmp):
            tmp.write_text("half a fi")
            raise OSError("disk full")

        files_module.atomic_write(path, write)

    monkeypatch.setattr(files_module, "write_table", broken)
    report = _sync(warehouse)
    assert report.destination("files").status == "failed" and "disk full" in report.destination("files").error
    assert snapshot.read_bytes() == before
    assert not [p for p in snapshot.parent.rglob("*.tmp")]
    monkeypatch.undo()
    # The next run delivers what the failed one could not.
    assert _sync(warehouse).destination("files").sent == 1
    assert query(warehouse, "select status from delivery.sync_runs order by started_at") == [("success",), ("failed",), ("success",)]


def test_config_file_env_interpolation_and_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_DSN", "host=db user=churn")
    path = tmp_path / "churnguard.yml"
    path.write_text(
        "destinations:\n"
        "  - {name: crm_db, kind: postgres, dsn: '${CRM_DSN}', table: crm.alerts}\n"
        "  - {name: slack, kind: webhook, url: 'http://127.0.0.1:9/x', format: slack, send: [open, close]}\n"
        "quality: {max_growth_factor: 3}\n"
    )
    monkeypatch.setenv("CHURNGUARD_DESTINATIONS_FILE", str(path))
    config = load_config()
    assert [d.name for d in config.destinations] == ["crm_db", "slack"]
    assert config.destination("crm_db").options["dsn"] == "host=db user=churn"
    assert config.destination("slack").send == ("open", "close")
    assert config.quality == {"max_growth_factor": 3}
    with pytest.raises(DeliveryConfigError, match="MISSING_VAR"):
        parse_config({"destinations": [{"name": "x", "kind": "webhook", "url": "${MISSING_VAR}"}]})
    with pytest.raises(DeliveryConfigError, match="kind"):
        parse_config({"destinations": [{"name": "x", "kind": "ftp"}]})
    with pytest.raises(DeliveryConfigError, match="unique"):
        parse_config({"destinations": [{"name": "x", "kind": "files"}, {"name": "x", "kind": "files"}]})


def test_env_destination_replaces_the_default(monkeypatch, tmp_path):
    monkeypatch.setenv("CHURNGUARD_SYNC_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    config = load_config()
    assert [(d.name, d.kind) for d in config.destinations] == [("webhook", "webhook")]


def test_payload_has_no_contact_email_unless_configured():
    row = alert_row(1)
    minimal = build_payloads([row], row.keys())["alert-0001"]
    assert "contact_email" not in minimal and "buyer1" not in str(minimal)
    assert minimal["owner_email"] == "manager1@vendor.example" and minimal["reasons"] == ["inactive_60d"]
    full = build_payloads([row], row.keys(), include_contact_email=True)["alert-0001"]
    assert full["contact_email"] == "buyer1@customer1.example"
    with pytest.raises(PayloadError, match="contact_email"):
        build_payloads([row], [c for c in row if c != "key_contact_email"], include_contact_email=True)


def test_payload_says_which_tier_is_which_with_value_reason_texts_and_dates():
    """The delivered row names the episode's tier, the tier it opened with and today's, the
    customer's value, the reasons in words, the data day and the send time; a new day or a
    new sync alone does not change the content hash (nothing is resent), a recovery does."""
    from datetime import datetime, timezone

    from churnguard.delivery.payload import payload_hash

    row = {**alert_row(1), "alert_tier": "red", "opening_tier": "yellow", "health_tier": "green", "health_score": 86,
           "annual_revenue": 14400.0, "as_of_date": "2025-12-31",
           "reason_descriptions": "Logins fell by 40% | The decision maker left"}
    sent = datetime(2026, 1, 1, 2, 5, tzinfo=timezone.utc)
    payload = build_payloads([row], row.keys(), generated_at=sent)["alert-0001"]
    assert (payload["tier"], payload["tier_at_opening"], payload["current_tier"], payload["health_score"]) == (
        "red", "yellow", "green", 86)
    assert payload["annual_revenue"] == 14400.0
    assert payload["reason_texts"] == ["Logins fell by 40%", "The decision maker left"]
    assert (payload["as_of_date"], payload["generated_at"]) == ("2025-12-31", "2026-01-01T02:05:00")
    next_day = build_payloads([{**row, "as_of_date": "2026-01-01"}], row.keys(),
                              generated_at=datetime(2026, 1, 2, 2, 5, tzinfo=timezone.utc))["alert-0001"]
    assert payload_hash(next_day) == payload_hash(payload)
    recovered = build_payloads([{**row, "health_tier": "yellow"}], row.keys(), generated_at=sent)["alert-0001"]
    assert payload_hash(recovered) != payload_hash(payload)
    from churnguard.delivery.payload import flat_record

    assert flat_record(payload)["reason_texts"] == "Logins fell by 40% | The decision maker left"
