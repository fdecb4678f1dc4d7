"""Reverse-ETL to a real HTTP server on loopback with a scripted failure sequence: retries
with backoff, Retry-After, idempotency keys, dead letters and their replay, a server killed
mid-sync, the rate limit, and the Slack body."""

from __future__ import annotations

import json
import time

import pytest
from delivery_fixtures import Receiver, WebhookServer, alert_row, default_alerts, query, write_marts

from churnguard.delivery.config import DeliveryConfig, Destination
from churnguard.delivery.deadletter import dead_letter_path, read
from churnguard.delivery.engine import sync
from churnguard.quality.result import GateResult

PASSED = GateResult(checked_at="test", suites=[])


@pytest.fixture
def receiver():
    return Receiver()


@pytest.fixture
def server(receiver):
    server = WebhookServer(receiver)
    yield server
    server.stop()


def _config(url: str, **options) -> DeliveryConfig:
    base = {
        "url": url,
        "format": "json",
        "batch_size": 10,
        "rate_limit_per_second": 1000,
        "max_retries": 3,
        "backoff_initial_seconds": 0.01,
        "backoff_max_seconds": 0.05,
        "timeout_seconds": 5,
    }
    base.update(options)
    return DeliveryConfig(destinations=(Destination("crm_hook", "webhook", base),))


def _sync(warehouse, config, **kwargs):
    return sync(warehouse, config=config, gate=PASSED, log=lambda m: None, **kwargs)


def _alert_ids(records):
    return sorted(r["alert"]["alert_id"] for r in records)


def test_first_sync_posts_every_alert_and_an_unchanged_rerun_sends_nothing(server, receiver, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    report = _sync(warehouse, _config(server.url))
    assert report.destination("crm_hook").sent == 6
    assert _alert_ids(receiver.applied_records()) == [f"alert-{i:04d}" for i in range(1, 7)]
    body = receiver.requests[0]["body"]
    record = body["records"][0]
    assert record["action"] == "open" and len(record["idempotency_key"]) == 40
    assert set(record["alert"]) >= {"customer_id", "tier", "reasons", "owner_name", "respond_by", "playbook"}
    assert "buyer" not in json.dumps(body)  # PII: no customer contact e-mails
    requests = len(receiver.requests)
    again = _sync(warehouse, _config(server.url)).destination("crm_hook")
    assert (again.sent, again.updated, again.closed, again.unchanged) == (0, 0, 0, 6)
    assert len(receiver.requests) == requests


def test_503_twice_then_success_is_retried_with_the_same_idempotency_key(server, receiver, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    receiver.script = [(503, {}), (503, {})]
    report = _sync(warehouse, _config(server.url))
    result = report.destination("crm_hook")
    assert (result.status, result.sent, result.failed) == ("success", 6, 0)
    assert len(receiver.requests) == 3
    assert len({r["key"] for r in receiver.requests}) == 1
    assert len(receiver.applied_records()) == 6


def test_429_waits_for_retry_after(server, receiver, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    receiver.script = [(429, {"Retry-After": "1"})]
    report = _sync(warehouse, _config(server.url))
    assert report.destination("crm_hook").status == "success"
    first, second = receiver.requests[0]["time"], receiver.requests[1]["time"]
    assert second - first >= 0.95  # the computed backoff would have been 0.01 s


def test_retries_exhausted_leave_records_pending_not_dead_lettered(server, receiver, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    receiver.script = [(500, {})] * 4
    report = _sync(warehouse, _config(server.url))
    result = report.destination("crm_hook")
    assert (result.status, result.failed, result.dead_lettered) == ("failed", 6, 0)
    assert "HTTP 500" in result.error
    assert not dead_letter_path(isolated_warehouse.parent / "deliveries" / "dead_letters", "crm_hook").exists()
    retry = _sync(warehouse, _config(server.url)).destination("crm_hook")
    assert (retry.status, retry.sent) == ("success", 6)


def test_permanently_rejected_record_lands_in_dead_letters_and_replays(server, receiver, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    receiver.reject_alerts = {"alert-0003"}
    report = _sync(warehouse, _config(server.url))
    result = report.destination("crm_hook")
    assert (result.status, result.sent, result.dead_lettered) == ("partial", 5, 1)
    assert _alert_ids(receiver.applied_records()) == ["alert-0001", "alert-0002", "alert-0004", "alert-0005", "alert-0006"]
    dead_dir = isolated_warehouse.parent / "deliveries" / "dead_letters"
    letters = read(dead_dir, "crm_hook")
    assert [(r["alert_id"], r["action"]) for r in letters] == [("alert-0003", "open")]
    assert "HTTP 400" in letters[0]["error"]

    # A normal rerun tries the parked record once more (one request), and it stays parked.
    requests = len(receiver.requests)
    rerun = _sync(warehouse, _config(server.url)).destination("crm_hook")
    assert (rerun.sent, rerun.dead_lettered, rerun.parked) == (0, 1, 1)
    assert len(receiver.requests) == requests + 1

    receiver.reject_alerts = set()
    replay = _sync(warehouse, _config(server.url), retry_dead_letters=True).destination("crm_hook")
    assert (replay.status, replay.replayed) == ("success", 1)
    assert receiver.requests[-1]["key"] != ""
    assert receiver.requests[-1]["body"]["records"][0]["idempotency_key"] == letters[0]["idempotency_key"]
    assert not dead_letter_path(dead_dir, "crm_hook").exists()
    assert _alert_ids(receiver.applied_records()) == [f"alert-{i:04d}" for i in range(1, 7)]
    assert query(warehouse, "select status from delivery.sync_state where alert_id = 'alert-0003'") == [("open",)]


def test_server_killed_mid_sync_next_run_delivers_the_rest_without_duplicates(server, receiver, isolated_warehouse):
    alerts = [alert_row(i) for i in range(1, 11)]
    warehouse = write_marts(isolated_warehouse, alerts)
    receiver.die_after = 2  # accepts 2 batches, applies the 3rd but never answers, then dies
    config = _config(server.url, batch_size=2, max_retries=2)
    report = _sync(warehouse, config)
    result = report.destination("crm_hook")
    assert result.status == "failed" and result.sent == 4 and result.failed == 6
    assert len(receiver.applied_records()) == 6  # 4 confirmed + 2 applied without an answer

    receiver.die_after = None
    restarted = WebhookServer(receiver, port=server.port)
    try:
        report = _sync(warehouse, config)
    finally:
        restarted.stop()
    result = report.destination("crm_hook")
    assert (result.status, result.sent, result.failed) == ("success", 6, 0)
    applied = _alert_ids(receiver.applied_records())
    assert applied == sorted(a["alert_id"] for a in alerts)  # each alert exactly once
    assert len(receiver.duplicates) == 1  # the unanswered batch came back with its key and was deduplicated
    assert query(warehouse, "select status, sent, failed from delivery.sync_runs order by started_at") == [
        ("failed", 4, 6),
        ("success", 6, 0),
    ]


def test_rate_limit_spaces_requests(server, receiver, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    started = time.monotonic()
    _sync(warehouse, _config(server.url, batch_size=1, rate_limit_per_second=20))
    times = [r["time"] for r in receiver.requests]
    assert len(times) == 6
    assert times[-1] - times[0] >= 5 / 20 - 0.02
    assert time.monotonic() - started < 5


def test_slack_body_and_closures(server, receiver, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    config = _config(server.url, format="slack")
    _sync(warehouse, config)
    body = receiver.requests[0]["body"]
    assert set(body) == {"text", "blocks"}
    assert len(body["blocks"]) == 6
    assert "Customer 1" in body["blocks"][0]["text"]["text"] and "owner: Manager 1" in body["text"]
    alerts = default_alerts()[1:]
    write_marts(warehouse, alerts)
    report = _sync(warehouse, config)
    assert report.destination("crm_hook").closed == 1
    assert "alert closed" in receiver.requests[-1]["body"]["text"]


def test_dry_run_sends_nothing(server, receiver, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    report = _sync(warehouse, _config(server.url), dry_run=True)
    assert report.destination("crm_hook").sent == 6
    assert receiver.requests == []
    assert "would send" in report.format()
