"""Raw-data loader: happy paths (CSV, Parquet, parts), and every kind of bad input.

Each bad-input test asserts (a) the error names the rule, file, column and rows, and
(b) the raw data loaded before is untouched (row counts, a spot value, the load log).
The valid dataset is written here from the contract, independent of the generator.
"""

from __future__ import annotations

import copy
import csv
import shutil
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churnguard import contract
from churnguard import loader
from churnguard.contract import TABLES, file_stem
from churnguard.loader import LoadError, LoadReport, load
from churnguard.loading import write as write_mod

pytestmark = pytest.mark.xdist_group("test_load")  # one worker: its module fixture loads the template warehouse once

# ---------------------------------------------------------------- dataset

SYNC = "2025-06-01T03:00:00Z"


def _rows(cols: str, *rows: tuple) -> list[dict]:
    names = [c.strip() for c in cols.split(",")]
    out = []
    for r in rows:
        assert len(r) == len(names), (names, r)
        d = dict(zip(names, r))
        d["_synced_at"] = SYNC
        out.append(d)
    return out


def valid_dataset() -> dict[str, list[dict]]:
    """A few rows per table; every value as CSV text ('' = null)."""
    return {
        "crm.users": _rows(
            "user_id, full_name, email, role, manager_user_id, is_active",
            ("U1", "Ann Lee", "ann@vendor.test", "account_manager", "U3", "true"),
            ("U2", "Bo Chen", "bo@vendor.test", "customer_success_manager", "U3", "t"),
            ("U3", "Cy Diaz", "cy@vendor.test", "sales_lead", "", "No"),
        ),
        "crm.accounts": _rows(
            "account_id, account_name, segment, industry, region, owner_user_id, csm_user_id, "
            "business_model, created_at, updated_at",
            ("A1", "Acme Corp", "enterprise", "Manufacturing", "EMEA", "U1", "U2", "subscription",
             "2023-01-15T09:00:00Z", "2025-05-01T10:00:00+02:00"),
            ("A2", "Beta, Inc.", "mid_market", "", "NA", "U1", "", "activity",
             "2023-06-01 12:00:00", "2025-05-02T00:00:00Z"),
            ("A3", "Gamma \"G\" Ltd", "smb", "Retail", "", "U1", "U2", "",
             "2024-02-29T23:30:00-05:00", "2025-05-03T00:00:00Z"),
        ),
        "crm.contacts": _rows(
            "contact_id, account_id, full_name, email, title, is_decision_maker, valid_from, valid_to",
            ("C1", "A1", "Dana Fox", "dana@acme.test", "CTO", "1", "2023-02-01T00:00:00Z", ""),
            ("C2", "A2", "Eli Gray", "", "", "0", "2023-07-01T00:00:00Z", ""),
            ("C3", "A3", "Fay Hill", "fay@gamma.test", "Owner", "yes", "2024-03-01T00:00:00Z",
             "2025-01-31T00:00:00Z"),
        ),
        "crm.interactions": _rows(
            "interaction_id, account_id, contact_id, user_id, channel, direction, occurred_at, is_answered, "
            "answered_at",
            ("I1", "A1", "C1", "U1", "email", "outbound", "2025-04-01T10:00:00Z", "true", "2025-04-02T08:00:00Z"),
            ("I2", "A2", "", "U2", "call", "inbound", "2025-04-03T15:30:00Z", "false", ""),
            ("I3", "A3", "C3", "", "meeting", "outbound", "2025-04-05T09:00:00Z", "TRUE", "2025-04-05T09:00:00Z"),
        ),
        "crm.logins": _rows(
            "login_id, account_id, user_id, logged_in_at, session_seconds",
            ("L1", "A1", "pu-1", "2025-05-01T08:00:00Z", "1200"),
            ("L2", "A1", "pu-2", "2025-05-02T08:00:00Z", ""),
            ("L3", "A2", "pu-3", "2025-05-03T08:00:00Z", "30"),
            ("L4", "A3", "pu-4", "2025-05-04T08:00:00.250Z", "0"),
        ),
        "crm.product_events": _rows(
            "event_id, account_id, user_id, event_type, occurred_at",
            ("E1", "A2", "pu-3", "report_exported", "2025-05-03T08:05:00Z"),
            ("E2", "A3", "", "api_call", "2025-05-04T09:00:00Z"),
        ),
        "crm.interventions": _rows(
            "intervention_id, account_id, alert_id, user_id, playbook, channel, opened_at, first_contact_at, "
            "interview_at, solution_at, cost, currency, outcome, outcome_at, churn_reason",
            ("V1", "A2", "AL-9", "U1", "roi_review", "call", "2025-03-01T09:00:00Z", "2025-03-02T09:00:00Z",
             "", "", "250.00", "USD", "saved", "2025-03-20T09:00:00Z", ""),
            ("V2", "A3", "", "", "automated_nurture", "email", "2025-03-05T09:00:00Z", "", "", "", "0",
             "usd", "pending", "", "Price,\nand support"),
        ),
        "billing.subscriptions": _rows(
            "subscription_id, account_id, plan_name, status, billing_interval, billing_interval_count, mrr, "
            "currency, started_at, ended_at, renewal_date, canceled_at",
            ("S1", "A1", "Enterprise", "active", "year", "1", "5000.00", "USD", "2023-02-01T00:00:00Z", "",
             (date.today() + timedelta(days=200)).isoformat(), ""),
            ("S2", "A2", "Growth", "canceled", "month", "6", "799.5", "USD", "2023-07-01T00:00:00Z",
             "2025-05-01T00:00:00Z", "", "2025-04-01T00:00:00Z"),
        ),
        "billing.invoices": _rows(
            "invoice_id, account_id, subscription_id, amount_due, currency, status, issued_at, due_at",
            ("N1", "A1", "S1", "60000.00", "USD", "paid", "2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z"),
            ("N2", "A2", "S2", "799.50", "USD", "paid", "2025-04-01T00:00:00Z", "2025-04-15T00:00:00Z"),
            ("N3", "A3", "", "120", "USD", "open", "2025-05-01T00:00:00Z",
             (datetime.now(timezone.utc) + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ")),
        ),
        "billing.payments": _rows(
            "payment_id, invoice_id, account_id, amount, currency, status, paid_at",
            ("P1", "N1", "A1", "60000.00", "USD", "succeeded", "2025-02-10T00:00:00Z"),
            ("P2", "N2", "A2", "799.50", "USD", "succeeded", "2025-04-10T00:00:00Z"),
        ),
        "billing.orders": _rows(
            "order_id, account_id, ordered_at, amount, currency, status",
            ("O1", "A3", "2025-04-20T11:00:00Z", "45.90", "USD", "completed"),
            ("O2", "A3", "2025-05-20T11:00:00Z", "12.00", "USD", "refunded"),
        ),
        "support.tickets": _rows(
            "ticket_id, account_id, requester_contact_id, subject, category, priority, status, created_at, "
            "solved_at, reopen_count",
            ("T1", "A1", "C1", "Cannot export", "bug", "high", "solved", "2025-04-01T00:00:00Z",
             "2025-04-03T00:00:00Z", "1"),
            ("T2", "A2", "", "Invoice question", "billing", "normal", "open", "2025-05-01T00:00:00Z", "", "0"),
        ),
        "support.csat_ratings": _rows(
            "rating_id, ticket_id, account_id, score, rated_at, comment",
            ("R1", "T1", "A1", "5", "2025-04-04T00:00:00Z", "great"),
            ("R2", "T2", "A2", "2", "2025-05-02T00:00:00Z", ""),
        ),
        "support.nps_responses": _rows(
            "response_id, account_id, contact_id, score, responded_at, comment",
            ("Q1", "A1", "C1", "9", "2025-03-01T00:00:00Z", "love it"),
            ("Q2", "A2", "", "3", "2025-03-02T00:00:00Z", "too slow\nand \"buggy\""),
            ("Q3", "A3", "C3", "7", "2025-03-03T00:00:00Z", ""),
        ),
    }


ROWS = {name: len(rows) for name, rows in valid_dataset().items()}


def write_csvs(folder: Path, data: dict[str, list[dict]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in data.items():
        t = contract.table(name)
        cols = list(rows[0]) if rows else t.column_names
        with open(folder / f"{file_stem(t)}.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=cols, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
    return folder


def _arrow_value(col: contract.Column, v: str):
    if v == "":
        return None
    if col.type == "integer":
        return int(v)
    if col.type == "decimal":
        return float(v)
    if col.type == "boolean":
        return v.lower() in ("true", "t", "1", "yes")
    if col.type == "timestamp":
        return datetime.fromisoformat(v.replace("Z", "+00:00").replace(" ", "T"))
    if col.type == "date":
        return date.fromisoformat(v)
    return v


ARROW_TYPES = {"string": pa.string(), "integer": pa.int64(), "decimal": pa.float64(), "boolean": pa.bool_(),
               "timestamp": pa.timestamp("us", tz="UTC"), "date": pa.date32()}


def arrow_table(name: str, rows: list[dict]) -> pa.Table:
    t = contract.table(name)
    cols = [c for c in t.columns if c.name in rows[0]]
    return pa.table({c.name: pa.array([_arrow_value(c, r[c.name]) for r in rows], ARROW_TYPES[c.type])
                     for c in cols})


def write_parquets(folder: Path, data: dict[str, list[dict]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in data.items():
        pq.write_table(arrow_table(name, rows), folder / f"{file_stem(contract.table(name))}.parquet")
    return folder


# ---------------------------------------------------------------- fixtures

@pytest.fixture(autouse=True)
def _default_currency(monkeypatch):
    monkeypatch.delenv("CHURNGUARD_CURRENCY", raising=False)  # the reporting currency is USD here


@pytest.fixture(scope="module")
def template_wh(tmp_path_factory) -> Path:
    """A warehouse holding the valid dataset, loaded once; tests get a copy."""
    base = tmp_path_factory.mktemp("template")
    wh = base / "wh.duckdb"
    load(write_csvs(base / "raw", valid_dataset()), wh, currency="USD")
    return wh


@pytest.fixture
def wh(tmp_path, template_wh) -> Path:
    target = tmp_path / "wh.duckdb"
    shutil.copy(template_wh, target)
    return target


def snapshot(wh: Path) -> dict:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        counts = {t.qualified_name: con.execute(f"SELECT count(*) FROM {t.raw_schema}.{t.name}").fetchone()[0]
                  for t in TABLES}
        spot = con.execute("SELECT account_name FROM raw_crm.accounts WHERE account_id = 'A2'").fetchone()
        logs = con.execute("SELECT count(DISTINCT load_id), count(*) FROM raw_meta.load_log").fetchone()
        return {"counts": counts, "spot": spot, "logs": logs}
    finally:
        con.close()


BEFORE = {"counts": ROWS, "spot": ("Beta, Inc.",), "logs": (1, len(TABLES))}


def assert_untouched(wh: Path) -> None:
    assert snapshot(wh) == BEFORE


def bad_load(folder: Path, wh: Path, **kw) -> LoadError:
    with pytest.raises(LoadError) as info:
        load(folder, wh, **kw)
    assert_untouched(wh)
    return info.value


def find(err: LoadError, rule: str, file: str | None = None, column: str | None = None):
    hits = [p for p in err.problems if p.rule == rule and (file is None or p.file == file)
            and (column is None or p.column == column)]
    assert hits, f"no {rule} problem for {file} {column} in:\n{err}"
    return hits[0]


def set_value(data, name, index, column, value):
    data[name][index][column] = value
    return data


# ---------------------------------------------------------------- happy paths

def test_valid_csv_loads_all_tables_with_contract_types(tmp_path):
    wh = tmp_path / "sub" / "wh.duckdb"
    report = load(write_csvs(tmp_path / "raw", valid_dataset()), wh)
    assert isinstance(report, LoadReport)
    assert report.row_counts() == ROWS
    assert report.warehouse == wh.resolve()
    assert "raw_crm.accounts" in report.format() and "rows" in report.format()
    con = duckdb.connect(str(wh), read_only=True)
    try:
        for t in TABLES:
            types = dict(con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                [t.raw_schema, t.name]).fetchall())
            expected = {c.name: {"string": "VARCHAR", "integer": "BIGINT", "decimal": "DECIMAL(18,2)",
                                 "boolean": "BOOLEAN", "timestamp": "TIMESTAMP", "date": "DATE"}[c.type]
                        for c in t.columns}
            assert types == expected, t.qualified_name
        # offsets converted to UTC; no offset means UTC
        assert con.execute("SELECT updated_at FROM raw_crm.accounts WHERE account_id = 'A1'").fetchone()[0] \
            == datetime(2025, 5, 1, 8, 0)
        assert con.execute("SELECT created_at FROM raw_crm.accounts WHERE account_id = 'A3'").fetchone()[0] \
            == datetime(2024, 3, 1, 4, 30)
        assert con.execute("SELECT list(is_active ORDER BY user_id) FROM raw_crm.users").fetchone()[0] \
            == [True, True, False]
        assert con.execute("SELECT mrr FROM raw_billing.subscriptions WHERE subscription_id = 'S2'").fetchone()[0] \
            == Decimal("799.50")
        # empty string -> null; currency normalised; multi-line text kept
        assert con.execute("SELECT business_model IS NULL, industry FROM raw_crm.accounts "
                           "WHERE account_id = 'A3'").fetchone() == (True, "Retail")
        assert con.execute("SELECT currency, churn_reason FROM raw_crm.interventions "
                           "WHERE intervention_id = 'V2'").fetchone() == ("USD", "Price,\nand support")
        log = con.execute("SELECT \"table\", file, row_count FROM raw_meta.load_log ORDER BY \"table\"").fetchall()
        assert ("crm.accounts", "crm__accounts.csv", 3) in log and len(log) == len(TABLES)
    finally:
        con.close()


def test_parquet_happy_path_same_result(tmp_path):
    wh = tmp_path / "wh.duckdb"
    report = load(write_parquets(tmp_path / "raw", valid_dataset()), wh)
    assert report.row_counts() == ROWS
    assert {t.format for t in report.tables.values()} == {"parquet"}
    con = duckdb.connect(str(wh), read_only=True)
    try:
        assert con.execute("SELECT updated_at FROM raw_crm.accounts WHERE account_id = 'A1'").fetchone()[0] \
            == datetime(2025, 5, 1, 8, 0)
        assert con.execute("SELECT mrr FROM raw_billing.subscriptions WHERE subscription_id = 'S2'").fetchone()[0] \
            == Decimal("799.50")
        assert con.execute("SELECT data_type FROM information_schema.columns WHERE table_name = 'logins' "
                           "AND column_name = 'session_seconds'").fetchone()[0] == "BIGINT"
    finally:
        con.close()


def test_reload_replaces_snapshot_and_logs_each_load(tmp_path, wh):
    data = valid_dataset()
    data["crm.logins"] = data["crm.logins"][:2]
    report = load(write_csvs(tmp_path / "raw", data), wh)
    assert report.tables["crm.logins"].rows == 2
    con = duckdb.connect(str(wh), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM raw_crm.logins").fetchone()[0] == 2
        assert con.execute("SELECT count(DISTINCT load_id) FROM raw_meta.load_log").fetchone()[0] == 2
    finally:
        con.close()


def test_parts_folder_gzip_header_only_and_ignored_entries(tmp_path):
    raw = write_csvs(tmp_path / "raw", valid_dataset())
    # logins as a folder of Parquet parts
    (raw / "crm__logins.csv").unlink()
    logins = arrow_table("crm.logins", valid_dataset()["crm.logins"])
    (raw / "crm__logins").mkdir()
    pq.write_table(logins.slice(0, 2), raw / "crm__logins" / "part-0.parquet")
    pq.write_table(logins.slice(2), raw / "crm__logins" / "part-1.parquet")
    (raw / "crm__logins" / "_SUCCESS").write_text("")
    # orders: header-only CSV, gzipped
    import gzip
    (raw / "billing__orders.csv").unlink()
    with gzip.open(raw / "billing__orders.csv.gz", "wt") as f:
        f.write("order_id,account_id,ordered_at,amount,currency,status,_synced_at\n")
    (raw / "_truth").mkdir()
    (raw / "_truth" / "labels.csv").write_text("x\n1\n")
    (raw / "README.txt").write_text("hello")
    report = load(raw, tmp_path / "wh.duckdb")
    assert report.tables["crm.logins"].rows == 4
    assert report.tables["crm.logins"].files == ["crm__logins/part-0.parquet", "crm__logins/part-1.parquet"]
    assert report.tables["billing.orders"].rows == 0
    assert not any("README.txt" in w for w in report.warnings), "documentation files are skipped silently"
    assert not any("_truth" in w or "_SUCCESS" in w for w in report.warnings)


def test_extra_column_is_a_warning_and_dropped(tmp_path, wh):
    data = valid_dataset()
    for r in data["crm.accounts"]:
        r["favourite_colour"] = "blue"
    report = load(write_csvs(tmp_path / "raw", data), wh)
    assert any("crm__accounts.csv" in w and "favourite_colour" in w for w in report.warnings)
    con = duckdb.connect(str(wh), read_only=True)
    try:
        cols = [r[0] for r in con.execute("DESCRIBE raw_crm.accounts").fetchall()]
    finally:
        con.close()
    assert "favourite_colour" not in cols and cols == contract.table("crm.accounts").column_names


def test_optional_column_may_be_missing(tmp_path):
    data = valid_dataset()
    for r in data["crm.accounts"]:
        del r["business_model"]
    report = load(write_csvs(tmp_path / "raw", data), tmp_path / "wh.duckdb")
    assert any("business_model" in w for w in report.warnings)


# ---------------------------------------------------------------- bad input (each: message + untouched)

def test_missing_column(tmp_path, wh):
    data = valid_dataset()
    for r in data["crm.accounts"]:
        del r["account_id"]
    err = bad_load(write_csvs(tmp_path / "raw", data), wh)
    p = find(err, "missing_column", "crm__accounts.csv", "account_id")
    assert "crm__accounts.csv, column account_id: missing required column 'account_id'" in str(err)
    assert p.table == "crm.accounts"


def test_wrong_type_integer(tmp_path, wh):
    data = set_value(valid_dataset(), "crm.logins", 2, "session_seconds", "abc")
    err = bad_load(write_csvs(tmp_path / "raw", data), wh)
    p = find(err, "type", "crm__logins.csv", "session_seconds")
    assert p.rows == [4] and p.values == ["'abc'"] and p.row_label == "line"
    assert "crm__logins.csv, column session_seconds: value is not a whole number" in str(err)
    assert "line 4 'abc'" in str(err)


def test_duplicate_primary_key(tmp_path, wh):
    data = valid_dataset()
    data["crm.accounts"].append(dict(data["crm.accounts"][0], account_name="Acme again"))
    err = bad_load(write_csvs(tmp_path / "raw", data), wh)
    p = find(err, "duplicate_key", "crm__accounts.csv", "account_id")
    assert p.rows == [2, 5] and p.row_count == 2
    assert "'A1' 2x (lines 2, 5)" in str(err)
    assert len(err.problems) == 1


def test_unknown_customer_in_child_table(tmp_path, wh):
    data = set_value(valid_dataset(), "billing.invoices", 1, "account_id", "A999")
    err = bad_load(write_csvs(tmp_path / "raw", data), wh)
    p = find(err, "reference", "billing__invoices.csv", "account_id")
    assert p.rows == [3] and p.values == ["'A999'"]
    assert "account_id not found in crm.accounts.account_id" in str(err)


def test_negative_amount(tmp_path, wh):
    data = set_value(valid_dataset(), "billing.payments", 0, "amount", "-5.00")
    err = bad_load(write_csvs(tmp_path / "raw", data), wh)
    p = find(err, "min_value", "billing__payments.csv", "amount")
    assert p.rows == [2] and "below the minimum 0" in p.message
    assert "billing__payments.csv, column amount" in str(err) and "line 2 '-5.00'" in str(err)


def test_nps_outside_0_to_10_after_multiline_comment(tmp_path, wh):
    # Q2's comment spans two lines, so Q3 (third data row) sits on line 5, not 4.
    data = set_value(valid_dataset(), "support.nps_responses", 2, "score", "11")
    err = bad_load(write_csvs(tmp_path / "raw", data), wh)
    p = find(err, "range", "support__nps_responses.csv", "score")
    assert p.rows == [5] and "0 to 10" in p.message


def test_csat_6(tmp_path, wh):
    data = set_value(valid_dataset(), "support.csat_ratings", 1, "score", "6")
    err = bad_load(write_csvs(tmp_path / "raw", data), wh)
    p = find(err, "range", "support__csat_ratings.csv", "score")
    assert p.rows == [3] and "1 to 5" in p.message and p.values == ["'6'"]


def test_timestamp_in_the_future(tmp_path, wh):
    future = (datetime.now(timezone.utc) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    data = set_value(valid_dataset(), "crm.interactions", 0, "occurred_at", future)
    err = bad_load(write_csvs(tmp_path / "raw", data), wh)
    p = find(err, "future", "crm__interactions.csv", "occurred_at")
    assert p.rows == [2] and "in the future" in str(err)


def test_future_within_tolerance_is_fine(tmp_path):
    soon = (datetime.now(timezone.utc) + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    data = set_value(valid_dataset(), "crm.interactions", 0, "occurred_at", soon)
    load(write_csvs(tmp_path / "raw", data), tmp_path / "wh.duckdb")


def test_zero_byte_file(tmp_path, wh):
    raw = write_csvs(tmp_path / "raw", valid_dataset())
    (raw / "billing__orders.csv").write_bytes(b"")
    err = bad_load(raw, wh)
    p = find(err, "empty_file", "billing__orders.csv")
    assert "0 bytes" in str(err) and p.table == "billing.orders"


def test_not_utf8(tmp_path, wh):
    data = set_value(valid_dataset(), "crm.accounts", 1, "account_name", "Caf\u00e9 SARL")
    raw = write_csvs(tmp_path / "raw", data)
    path = raw / "crm__accounts.csv"
    path.write_bytes(path.read_bytes().replace("Caf\u00e9".encode(), "Caf\u00e9".encode("latin-1")))
    err = bad_load(raw, wh)
    p = find(err, "encoding", "crm__accounts.csv")
    assert p.rows == [3] and "UTF-8" in p.message and "byte offset" in p.message
    offset = path.read_bytes().index(b"\xe9")
    assert str(offset) in p.message


def test_unparseable_date_and_timestamp(tmp_path, wh):
    data = set_value(valid_dataset(), "billing.subscriptions", 0, "renewal_date", "2025-02-30")
    set_value(data, "billing.subscriptions", 1, "started_at", "01/07/2023")
    err = bad_load(write_csvs(tmp_path / "raw", data), wh)
    p = find(err, "type", "billing__subscriptions.csv", "renewal_date")
    assert p.rows == [2] and "YYYY-MM-DD" in p.message and p.values == ["'2025-02-30'"]
    p = find(err, "type", "billing__subscriptions.csv", "started_at")
    assert p.rows == [3] and "ISO 8601" in p.message


def test_wrong_field_count(tmp_path, wh):
    raw = write_csvs(tmp_path / "raw", valid_dataset())
    path = raw / "support__tickets.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2].rstrip("\n") + ",surplus\n"
    path.write_text("".join(lines))
    err = bad_load(raw, wh)
    p = find(err, "csv_parse", "support__tickets.csv")
    assert p.rows == [3] and "wrong number of fields" in p.message
    assert "support__tickets.csv: wrong number of fields" in str(err) and "line 3" in str(err)


def test_foreign_currency(tmp_path, wh):
    data = set_value(valid_dataset(), "billing.invoices", 2, "currency", "EUR")
    err = bad_load(write_csvs(tmp_path / "raw", data), wh)
    p = find(err, "currency", "billing__invoices.csv", "currency")
    assert p.rows == [4] and p.values == ["'EUR'"] and "USD" in p.message


def test_currency_argument_overrides_setting(tmp_path, wh):
    err = bad_load(write_csvs(tmp_path / "raw", valid_dataset()), wh, currency="eur")
    assert {p.rule for p in err.problems} == {"currency"}
    assert {p.file for p in err.problems} == {
        "billing__invoices.csv", "billing__payments.csv", "billing__orders.csv",
        "billing__subscriptions.csv", "crm__interventions.csv"}


def test_null_in_required_column(tmp_path, wh):
    data = set_value(valid_dataset(), "crm.contacts", 1, "full_name", "")
    err = bad_load(write_csvs(tmp_path / "raw", data), wh)
    p = find(err, "not_null", "crm__contacts.csv", "full_name")
    assert p.rows == [3]


def test_csv_and_parquet_for_one_table(tmp_path, wh):
    raw = write_csvs(tmp_path / "raw", valid_dataset())
    pq.write_table(arrow_table("crm.users", valid_dataset()["crm.users"]), raw / "crm__users.parquet")
    err = bad_load(raw, wh)
    p = find(err, "duplicate_source")
    assert "crm__users.csv" in p.message and "crm__users.parquet" in p.message


def test_absent_table_loads_empty_and_is_reported(tmp_path, wh):
    """Issue 16: a table with no data may be absent; it loads as empty and the report says so."""
    raw = write_csvs(tmp_path / "raw", valid_dataset())
    (raw / "support__nps_responses.csv").unlink()
    report = load(raw, wh)
    assert report.row_counts()["support.nps_responses"] == 0
    assert any("support.nps_responses: absent" in w and "loaded as an empty table" in w for w in report.warnings)
    assert "support.nps_responses: absent" in report.format()


def test_accepted_values_and_boolean(tmp_path, wh):
    data = set_value(valid_dataset(), "crm.users", 0, "role", "Boss")
    set_value(data, "crm.users", 2, "is_active", "maybe")
    err = bad_load(write_csvs(tmp_path / "raw", data), wh)
    p = find(err, "accepted_values", "crm__users.csv", "role")
    assert p.rows == [2] and "account_manager, customer_success_manager, sales_lead" in p.message
    p = find(err, "type", "crm__users.csv", "is_active")
    assert p.rows == [4] and p.values == ["'maybe'"]


def test_parquet_wrong_physical_type_reports_row_index(tmp_path, wh):
    data = valid_dataset()
    raw = write_parquets(tmp_path / "raw", data)
    logins = arrow_table("crm.logins", data["crm.logins"])
    bad = logins.set_column(
        logins.column_names.index("session_seconds"), "session_seconds",
        pa.array(["1200", None, "thirty", "0"], pa.string()))
    pq.write_table(bad, raw / "crm__logins.parquet")
    err = bad_load(raw, wh)
    p = find(err, "type", "crm__logins.parquet", "session_seconds")
    assert p.row_label == "row index" and p.rows == [2] and p.values == ["'thirty'"]
    assert "row index 2 'thirty'" in str(err)


def test_three_errors_in_three_files_all_reported(tmp_path, wh):
    data = set_value(valid_dataset(), "billing.payments", 1, "amount", "-1")
    set_value(data, "support.csat_ratings", 0, "score", "0")
    set_value(data, "crm.logins", 0, "logged_in_at", "yesterday")
    err = bad_load(write_csvs(tmp_path / "raw", data), wh)
    assert len(err.problems) == 3, str(err)
    find(err, "min_value", "billing__payments.csv", "amount")
    find(err, "range", "support__csat_ratings.csv", "score")
    find(err, "type", "crm__logins.csv", "logged_in_at")
    assert str(err).startswith(f"Load of {(tmp_path / 'raw').resolve()} rejected: 3 problems")


def test_example_rows_are_capped_with_total(tmp_path, wh):
    data = valid_dataset()
    base = data["crm.logins"][0]
    data["crm.logins"] = [dict(base, login_id=f"L{i}", session_seconds="-1") for i in range(12)]
    err = bad_load(write_csvs(tmp_path / "raw", data), wh)
    p = find(err, "min_value", "crm__logins.csv", "session_seconds")
    assert p.row_count == 12 and p.rows == [2, 3, 4, 5, 6]
    assert "12 rows, first 5" in str(err)


def test_failure_during_write_rolls_back(tmp_path, wh, monkeypatch):
    data = valid_dataset()
    data["crm.users"].append(dict(data["crm.users"][0], user_id="U4"))
    data["crm.accounts"][1]["account_name"] = "Changed"
    real = write_mod._write_table
    calls = []

    def flaky(con, st):
        calls.append(st.table.qualified_name)
        if len(calls) == 6:
            raise duckdb.IOException("disk full (injected)")
        real(con, st)

    monkeypatch.setattr(write_mod, "_write_table", flaky)
    err = bad_load(write_csvs(tmp_path / "raw", data), wh)
    assert len(calls) == 6
    p = find(err, "write_failed")
    assert "disk full (injected)" in p.message and "rolled back" in str(err)


def test_line_numbers_survive_crlf_blank_lines_and_multiline_fields(tmp_path, wh):
    data = valid_dataset()
    base = data["support.nps_responses"][0]
    data["support.nps_responses"] = [
        dict(base, response_id=f"Q{i}", comment="multi\nline\ncomment" if i % 3 == 0 else "short",
             score="12" if i in (5, 20) else "5") for i in range(30)]
    raw = write_csvs(tmp_path / "raw", data)
    path = raw / "support__nps_responses.csv"
    lines = path.read_text().split("\n")
    lines.insert(4, "")  # a blank line
    lines.insert(10, "bad,line")  # a malformed line
    path.write_bytes("\r\n".join(lines).encode())
    physical = path.read_bytes().decode().split("\r\n")
    expected = [i for i, line in enumerate(physical, 1) if line.startswith(("Q5,", "Q20,"))]
    err = bad_load(raw, wh)
    assert find(err, "range", "support__nps_responses.csv", "score").rows == expected
    p = find(err, "csv_parse", "support__nps_responses.csv")
    assert p.rows == [physical.index("bad,line") + 1] and "the header has 7, the line has 2" in p.message


def test_folder_with_mixed_formats(tmp_path, wh):
    raw = write_csvs(tmp_path / "raw", valid_dataset())
    (raw / "crm__logins").mkdir()
    (raw / "crm__logins.csv").rename(raw / "crm__logins" / "part-0.csv")
    pq.write_table(arrow_table("crm.logins", valid_dataset()["crm.logins"]), raw / "crm__logins" / "part-1.parquet")
    err = bad_load(raw, wh)
    assert find(err, "mixed_formats", "crm__logins/").table == "crm.logins"


def test_warehouse_held_open_is_a_clear_error(tmp_path, wh):
    con = duckdb.connect(str(wh))
    try:
        with pytest.raises(LoadError) as info:
            load(write_csvs(tmp_path / "raw", valid_dataset()), wh)
    finally:
        con.close()
    assert find(info.value, "warehouse_unavailable").file == str(wh.resolve())
    assert_untouched(wh)


def test_validate_is_a_dry_run_and_errors_pickle(tmp_path):
    import pickle
    raw = write_csvs(tmp_path / "raw", valid_dataset())
    assert loader.validate(raw) == []
    (raw / "crm__users.csv").write_bytes(b"")
    with pytest.raises(LoadError) as info:
        loader.validate(raw)
    assert not list(tmp_path.glob("*.duckdb"))
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == str(info.value) and again.problems[0].rule == "empty_file"
    with pytest.raises(LoadError, match="does not exist"):
        loader.validate(tmp_path / "nope")
