"""fct_customer_day on the committed sample, checked against values computed here,
independently of dbt, straight from the raw CSV files with pandas."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from raw_sample import RawSample

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


def test_one_row_per_active_customer_day_from_start_to_as_of(facts, raw):
    assert facts["date_day"].max().date() == raw.as_of
    assert facts["date_day"].min().date() == raw.history_start
    # Every day of each spell while the customer is active, no gaps; the days after a
    # recognised churn have rows only when something happened (test_dead_customer_days.py).
    active = facts[facts["is_active"]]
    per_spell = active.groupby(["customer_id", "lifecycle_spell_number"])["date_day"].agg(["min", "max", "count"])
    spans = (per_spell["max"] - per_spell["min"]).dt.days + 1
    assert (per_spell["count"] == spans).all(), "every active customer-day has one row, no gaps"
    on_as_of = set(facts.loc[facts["date_day"].dt.date == raw.as_of, "customer_id"])
    not_churned = {c for c in facts["customer_id"].unique() if raw.status(c, raw.as_of)[0] != "churned"}
    assert not_churned <= on_as_of and len(not_churned) > 200


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
