"""fct_customer_day on the committed sample, checked against values computed here,
independently of dbt, straight from the raw CSV files with pandas."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

GRACE_DAYS = 30
INACTIVITY_DAYS = 90
NO_ORDER_DAYS = 180


def _read(sample_dir: Path, stem: str) -> pd.DataFrame:
    return pd.read_csv(sample_dir / f"{stem}.csv", dtype=str, keep_default_na=False, na_values=[""])


def _day(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True).dt.date


class RawSample:
    """The raw sample as plain pandas frames, with the few derived columns the checks need."""

    def __init__(self, sample_dir: Path):
        self.accounts = _read(sample_dir, "crm__accounts")
        self.logins = _read(sample_dir, "crm__logins")
        self.logins["day"] = _day(self.logins["logged_in_at"])
        self.subs = _read(sample_dir, "billing__subscriptions")
        self.subs["start"] = _day(self.subs["started_at"])
        self.subs["end"] = [None if pd.isna(v) else pd.Timestamp(v).date() for v in self.subs["ended_at"]]
        self.subs["mrr"] = self.subs["mrr"].astype(float)
        self.tickets = _read(sample_dir, "support__tickets")
        self.tickets["created"] = _day(self.tickets["created_at"])
        self.tickets["solved"] = [None if pd.isna(v) else pd.Timestamp(v).date() for v in self.tickets["solved_at"]]
        self.nps = _read(sample_dir, "support__nps_responses")
        self.nps["day"] = _day(self.nps["responded_at"])
        self.nps["score"] = self.nps["score"].astype(float)
        self.orders = _read(sample_dir, "billing__orders")
        self.orders["day"] = _day(self.orders["ordered_at"])
        self.invoices = _read(sample_dir, "billing__invoices")
        self.payments = _read(sample_dir, "billing__payments")
        self.interactions = _read(sample_dir, "crm__interactions")
        self.interactions["day"] = _day(self.interactions["occurred_at"])
        self.as_of = max(
            self.logins["day"].max(),
            self.interactions["day"].max(),
            self.orders["day"].max(),
            _day(self.invoices["issued_at"]).max(),
            self.tickets["created"].max(),
        )
        self.history_start = min(
            self.logins["day"].min(),
            self.interactions["day"].min(),
            self.orders["day"].min(),
            _day(self.invoices["issued_at"]).min(),
            self.tickets["created"].min(),
        )
        self.invoice_paid_dates = self._invoice_paid_dates()

    def _invoice_paid_dates(self) -> dict[str, date | None]:
        invoices = self.invoices[self.invoices["status"] != "void"]
        paid: dict[str, date | None] = {}
        ok = self.payments[self.payments["status"] == "succeeded"].copy()
        ok["amount"] = ok["amount"].astype(float)
        ok = ok.sort_values(["invoice_id", "paid_at", "payment_id"])
        by_invoice = {k: g for k, g in ok.groupby("invoice_id")}
        for row in invoices.itertuples():
            paid[row.invoice_id] = None
            group = by_invoice.get(row.invoice_id)
            if group is None:
                continue
            running = 0.0
            for payment in group.itertuples():
                running += payment.amount
                if running >= float(row.amount_due) - 1e-9:
                    paid[row.invoice_id] = pd.Timestamp(payment.paid_at).date()
                    break
        return paid

    # --- independent definitions -------------------------------------------------
    def churn_definition(self, customer_id: str) -> str:
        value = self.accounts.loc[self.accounts["account_id"] == customer_id, "business_model"].iloc[0]
        return value if isinstance(value, str) and value else "subscription"

    def coverage(self, customer_id: str) -> tuple[list[tuple[date, date]], int]:
        """Coverage intervals [start, end) and the gap tolerance for the customer."""
        definition = self.churn_definition(customer_id)
        far = date(9999, 12, 31)
        if definition == "subscription":
            subs = self.subs[self.subs["account_id"] == customer_id]
            intervals = [(s, e if e is not None else far) for s, e in zip(subs["start"], subs["end"]) if e is None or e > s]
            return intervals, GRACE_DAYS
        created = pd.Timestamp(
            self.accounts.loc[self.accounts["account_id"] == customer_id, "created_at"].iloc[0]
        ).date()
        anchor = max(created, self.history_start)
        if definition == "activity":
            days, length = self.logins.loc[self.logins["account_id"] == customer_id, "day"], INACTIVITY_DAYS
        else:
            orders = self.orders[(self.orders["account_id"] == customer_id) & (self.orders["status"] == "completed")]
            days, length = orders["day"], NO_ORDER_DAYS
        intervals = [(anchor, anchor + timedelta(days=length))]
        intervals += [(d, d + timedelta(days=length)) for d in set(days) if d >= anchor]
        return intervals, 0

    def status(self, customer_id: str, day: date) -> tuple[str, int]:
        """(status as known at the end of `day`, spell number) by walking the intervals."""
        intervals, tolerance = self.coverage(customer_id)
        intervals = sorted(i for i in intervals if i[0] <= self.as_of)
        spells: list[list[date]] = []
        for start, end in intervals:
            if spells and (start - spells[-1][1]).days <= tolerance:
                spells[-1][1] = max(spells[-1][1], end)
            else:
                spells.append([start, end])
        number = 0
        for i, (start, end) in enumerate(spells):
            if start <= day:
                number = i + 1
                current_end = end
        churned = current_end <= self.as_of and current_end + timedelta(days=tolerance) <= day
        if churned:
            return "churned", number
        return ("reactivated" if number > 1 else "active"), number

    def logins_window(self, customer_id: str, day: date, days: int) -> int:
        frame = self.logins[self.logins["account_id"] == customer_id]
        return int(((frame["day"] > day - timedelta(days=days)) & (frame["day"] <= day)).sum())

    def days_since_last_login(self, customer_id: str, day: date) -> int | None:
        frame = self.logins[(self.logins["account_id"] == customer_id) & (self.logins["day"] <= day)]
        return None if frame.empty else (day - frame["day"].max()).days

    def mrr(self, customer_id: str, day: date) -> float:
        subs = self.subs[self.subs["account_id"] == customer_id]
        live = [(s <= day) and (e is None or day < e) for s, e in zip(subs["start"], subs["end"])]
        return round(float(subs.loc[live, "mrr"].sum()), 2)

    def open_tickets(self, customer_id: str, day: date) -> int:
        frame = self.tickets[self.tickets["account_id"] == customer_id]
        return int(sum((c <= day) and (s is None or s > day) for c, s in zip(frame["created"], frame["solved"])))

    def max_days_past_due(self, customer_id: str, day: date) -> int:
        frame = self.invoices[(self.invoices["account_id"] == customer_id) & (self.invoices["status"] != "void")]
        worst = 0
        for row in frame.itertuples():
            due = pd.Timestamp(row.due_at).date()
            paid = self.invoice_paid_dates[row.invoice_id]
            if due < day and (paid is None or paid > day):
                worst = max(worst, (day - due).days)
        return worst

    def latest_nps(self, customer_id: str, day: date) -> float | None:
        frame = self.nps[(self.nps["account_id"] == customer_id) & (self.nps["day"] <= day)]
        if frame.empty:
            return None
        last = frame["day"].max()
        return float(frame.loc[frame["day"] == last, "score"].mean())


@pytest.fixture(scope="module")
def raw(sample_dir: Path) -> RawSample:
    return RawSample(sample_dir)


@pytest.fixture(scope="module")
def facts(sample_warehouse: Path) -> pd.DataFrame:
    con = duckdb.connect(str(sample_warehouse), read_only=True)
    try:
        return con.execute("select * from marts.fct_customer_day").df()
    finally:
        con.close()


def _sampled_customer_days(facts: pd.DataFrame, raw: RawSample, n: int = 60) -> pd.DataFrame:
    """A fixed, seeded sample of customer-days with complete 90-day windows, covering every
    churn definition and status."""
    first_day = facts.groupby("customer_id")["date_day"].transform("min")
    eligible = facts[(facts["date_day"] - first_day).dt.days >= 89]
    picks = []
    rng = np.random.default_rng(7)
    for (_definition, _status), group in eligible.groupby(["churn_definition", "customer_status"]):
        take = min(len(group), max(3, n // 8))
        picks.append(group.iloc[rng.choice(len(group), size=take, replace=False)])
    return pd.concat(picks)


def test_sampled_customer_days_match_values_computed_from_raw_files(facts, raw):
    sample = _sampled_customer_days(facts, raw)
    assert set(sample["customer_status"]) == {"active", "churned", "reactivated"}
    assert set(sample["churn_definition"]) == {"subscription", "activity", "order"}
    mismatches = []
    for row in sample.itertuples():
        day = pd.Timestamp(row.date_day).date()
        cid = row.customer_id
        expected = {
            "customer_status": raw.status(cid, day)[0],
            "lifecycle_spell_number": raw.status(cid, day)[1],
            "logins_7d": raw.logins_window(cid, day, 7),
            "logins_28d": raw.logins_window(cid, day, 28),
            "logins_90d": raw.logins_window(cid, day, 90),
            "days_since_last_login": raw.days_since_last_login(cid, day),
            "mrr": raw.mrr(cid, day),
            "open_tickets": raw.open_tickets(cid, day),
            "max_days_past_due": raw.max_days_past_due(cid, day),
            "latest_nps_score": raw.latest_nps(cid, day),
        }
        for column, value in expected.items():
            actual = getattr(row, column)
            if value is None:
                ok = actual is None or pd.isna(actual)
            elif isinstance(value, float):
                ok = actual is not None and not pd.isna(actual) and abs(float(actual) - value) < 1e-6
            else:
                ok = actual == value
            if not ok:
                mismatches.append(f"{cid} {day} {column}: warehouse {actual!r}, raw files {value!r}")
    assert not mismatches, "\n".join(mismatches[:30])


def test_one_row_per_customer_day_from_start_to_as_of(facts, raw):
    assert facts["date_day"].max().date() == raw.as_of
    assert facts["date_day"].min().date() == raw.history_start
    per_customer = facts.groupby("customer_id")["date_day"].agg(["min", "max", "count"])
    spans = (per_customer["max"] - per_customer["min"]).dt.days + 1
    assert (per_customer["count"] == spans).all(), "every customer has one row per day, no gaps"
    assert (per_customer["max"].dt.date == raw.as_of).all()


def test_churn_dates_agree_with_the_generators_ground_truth(sample_warehouse, sample_dir):
    """Every churn the warehouse recognises is a true churn on the true date (ground truth
    is only read by tests)."""
    truth = pd.read_csv(sample_dir / "_truth" / "churn_truth.csv", dtype=str)
    con = duckdb.connect(str(sample_warehouse), read_only=True)
    try:
        spells = con.execute(
            "select customer_id, churn_date from intermediate.int_customer_lifecycle_spells where churn_date is not null"
        ).df()
    finally:
        con.close()
    true_churns = {
        (r.customer_id, r.churned_on) for r in truth.itertuples() if isinstance(r.churned_on, str) and r.churned_on
    }
    found = {(r.customer_id, pd.Timestamp(r.churn_date).date().isoformat()) for r in spells.itertuples()}
    assert len(found) >= 20
    assert found <= true_churns, sorted(found - true_churns)[:10]
