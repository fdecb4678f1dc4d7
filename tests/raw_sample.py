"""The committed raw sample read with pandas, and the SPEC's definitions computed on it
directly, independently of dbt: the reference the warehouse's values are checked against."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd

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
        intervals = [(created, anchor + timedelta(days=length))]
        intervals += [(d, d + timedelta(days=length)) for d in set(days) if d >= anchor]
        return intervals, 0

    def spells(self, customer_id: str) -> list[dict]:
        """Lifecycle spells: start, coverage end (exclusive) and churn date (None while
        open or while the churn is not recognised by the as-of date)."""
        intervals, tolerance = self.coverage(customer_id)
        intervals = sorted(i for i in intervals if i[0] <= self.as_of)
        merged: list[list[date]] = []
        for start, end in intervals:
            if merged and (start - merged[-1][1]).days <= tolerance:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        spells = []
        for start, end in merged:
            recognised = end <= self.as_of and end + timedelta(days=tolerance) <= self.as_of
            spells.append({"start": start, "end": end, "churn_date": end if recognised else None,
                           "recognised_on": end + timedelta(days=tolerance) if recognised else None})
        return spells

    def status(self, customer_id: str, day: date) -> tuple[str, int]:
        """(status as known at the end of `day`, spell number)."""
        number, current = 0, None
        for i, spell in enumerate(self.spells(customer_id)):
            if spell["start"] <= day:
                number, current = i + 1, spell
        if current["recognised_on"] is not None and current["recognised_on"] <= day:
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
