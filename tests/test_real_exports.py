"""Contract section of issue 16: real exports pass without invented values.

Two exports a new user would have, each run end to end with `churnguard run` (load,
dbt build with its tests, quality gate, delivery):

- a purchase log: crm.accounts with nothing but account_id, and billing.orders with
  order_id, account_id, ordered_at and amount (no status, currency, sync time, owner,
  segment, business model or the eleven other tables);
- a SaaS export: accounts (id, name, free-text segment), subscriptions with a 6-month
  billing period (billing_interval month, billing_interval_count 6) and a generic
  product event stream (crm.product_events), no logins.

Absent tables load as empty and the load report names them; the business model is
inferred from the data (order / subscription) and reported; accounts without an owner
go to the default owner queue."""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from project_copy import REPO_ROOT, run_churnguard


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _purchase_log(folder: Path) -> Path:
    rng = random.Random(7)
    folder.mkdir(parents=True)
    accounts, orders = [], []
    for i in range(40):
        cid = f"{1000 + i}"
        accounts.append([cid])
        day = date(2023, 1, 1) + timedelta(days=rng.randrange(120))
        last = date(2023, 6, 1) + timedelta(days=rng.randrange(560)) if i % 3 else date(2024, 12, 31)
        n = 0
        while day <= min(last, date(2024, 12, 31)):
            orders.append([f"{cid}-{n}", cid, f"{day}T12:00:00Z", f"{rng.randrange(10, 200)}.00"])
            n += 1
            day += timedelta(days=rng.choice([7, 20, 45, 90]))
    _write(folder / "crm__accounts.csv", ["account_id"], accounts)
    _write(folder / "billing__orders.csv", ["order_id", "account_id", "ordered_at", "amount"], orders)
    return folder


def _saas_export(folder: Path) -> Path:
    rng = random.Random(11)
    folder.mkdir(parents=True)
    accounts, subscriptions, events = [], [], []
    for i in range(30):
        cid = f"acct-{i:03d}"
        accounts.append([cid, f"Customer {i}", ["Startups", "Public sector", "Agencies"][i % 3]])
        start = date(2023, 1, 1) + timedelta(days=rng.randrange(200))
        end = None if i % 4 else start + timedelta(days=365)
        subscriptions.append([f"sub-{i:03d}", cid, "month", "6", f"{rng.randrange(50, 500)}.00",
                              f"{start}T00:00:00Z", f"{end}T00:00:00Z" if end else ""])
        day, n = start, 0
        stop = end or date(2024, 12, 31)
        while day <= stop:
            events.append([f"ev-{i}-{n}", cid, f"u{i}-{n % 3}", rng.choice(["report_viewed", "export", "api_call"]),
                           f"{day}T09:30:00Z"])
            n += 1
            day += timedelta(days=rng.choice([1, 2, 3, 10]) if i % 5 else 30)
    _write(folder / "crm__accounts.csv", ["account_id", "account_name", "segment"], accounts)
    _write(folder / "billing__subscriptions.csv",
           ["subscription_id", "account_id", "billing_interval", "billing_interval_count", "mrr", "started_at",
            "ended_at"], subscriptions)
    _write(folder / "crm__product_events.csv", ["event_id", "account_id", "user_id", "event_type", "occurred_at"],
           events)
    return folder


def _run(data: Path, work: Path) -> tuple[str, Path]:
    work.mkdir(parents=True)
    result = run_churnguard(REPO_ROOT, ["run", "--data", str(data)], work)
    assert result.returncode == 0, (result.stdout[-4000:], result.stderr[-4000:])
    return result.stdout, work / "churnguard.duckdb"


def _query(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_purchase_log_with_only_accounts_and_orders_runs_end_to_end(tmp_path: Path) -> None:
    data = _purchase_log(tmp_path / "raw")
    output, warehouse = _run(data, tmp_path / "work")
    assert "billing.invoices: absent" in output and "crm.users: absent" in output
    assert _query(warehouse, "select business_model, business_model_source, count(*) from staging.stg_crm__accounts "
                             "group by all") == [("order", "inferred", 40)]
    assert "business model inferred from the data for 40 accounts (order 40)" in output
    statuses = dict(_query(warehouse, "select current_status, count(*) from marts.dim_customers group by 1"))
    assert "not_started" not in statuses and statuses.get("churned", 0) > 0
    # Revenue comes from the orders: every month's revenue is the month's order total.
    orders = dict(_query(warehouse, "select date_trunc('month', ordered_at)::date, sum(amount) "
                                    "from raw_billing.orders group by 1"))
    revenue = dict(_query(warehouse, "select period_start_date, revenue from marts.kpi_monthly where segment = 'all'"))
    assert revenue and all(abs(float(revenue[m]) - float(orders.get(m, 0))) < 0.01 for m in revenue)
    assert _query(warehouse, "select count(*) from marts.kpi_monthly where historical_clv > 0") != [(0,)]
    assert _query(warehouse, "select count(*) from marts.kpi_monthly where predictive_clv = 0") == [(0,)]
    # Accounts without an owner: alerts go to the default owner queue, and were delivered.
    owners = _query(warehouse, "select distinct account_manager_id from marts.customer_alerts")
    assert owners == [("unassigned",)]
    assert "delivery" in output.lower()


def test_a_saas_export_with_subscriptions_and_product_events_runs_end_to_end(tmp_path: Path) -> None:
    data = _saas_export(tmp_path / "raw")
    output, warehouse = _run(data, tmp_path / "work")
    assert "crm.logins: absent" in output
    assert _query(warehouse, "select distinct business_model, business_model_source from staging.stg_crm__accounts") == [
        ("subscription", "inferred")]
    assert sorted(r[0] for r in _query(warehouse, "select distinct segment from marts.dim_customers")) == [
        "Agencies", "Public sector", "Startups"]
    assert _query(warehouse, "select distinct billing_interval, billing_interval_count "
                             "from staging.stg_billing__subscriptions") == [("month", 6)]
    # Usage comes from the product events: days with events are usage days.
    usage = _query(warehouse, "select sum(product_events), count(*) from intermediate.int_product_usage_daily")[0]
    events = _query(warehouse, "select count(*), count(distinct (account_id, occurred_at::date)) "
                               "from raw_crm.product_events")[0]
    assert usage == events
    segments = {r[0] for r in _query(warehouse, "select distinct segment from marts.kpi_monthly")}
    assert segments == {"all", "Agencies", "Public sector", "Startups"}
