"""KPI marts on the committed sample, checked against churn rate, retention rate, NPS and
historical CLV recomputed here straight from the raw CSV files (independently of dbt)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from raw_sample import RawSample


def _months(first: date, last: date) -> list[tuple[date, date]]:
    months, start = [], first.replace(day=1)
    while start <= last:
        following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
        months.append((start, min(following - timedelta(days=1), last)))
        start = following
    return months


def expected_monthly_kpis(raw: RawSample) -> pd.DataFrame:
    accounts = raw.accounts.set_index("account_id")
    spells = {cid: raw.spells(cid) for cid in accounts.index}
    # Revenue counted once: subscription invoices, completed orders, and the one-off
    # invoices (which bill orders) only of customers without any completed order.
    invoices = raw.invoices[raw.invoices["status"] != "void"].copy()
    invoices["day"] = pd.to_datetime(invoices["issued_at"], utc=True).dt.date
    invoices["amount_due"] = invoices["amount_due"].astype(float)
    orders = raw.orders[raw.orders["status"] == "completed"]
    with_orders = set(orders["account_id"])
    one_off = invoices["subscription_id"].isna()
    revenue = pd.concat([
        invoices.loc[~one_off | ~invoices["account_id"].isin(with_orders), ["account_id", "day", "amount_due"]],
        pd.DataFrame({"account_id": orders["account_id"], "day": orders["day"], "amount_due": orders["amount"].astype(float)}),
    ])
    rows = []
    for start, end in _months(raw.history_start, raw.as_of):
        before = start - timedelta(days=1)
        per_customer = {}
        for cid, customer_spells in spells.items():
            def active_on(day: date) -> bool:
                return any(s["start"] <= day and (s["churn_date"] is None or s["churn_date"] > day) for s in customer_spells)

            at_start = active_on(before)
            churned = any(s["churn_date"] is not None and start <= s["churn_date"] <= end for s in customer_spells)
            per_customer[cid] = {
                "at_start": int(at_start),
                "at_end": int(active_on(end)),
                "new": int(bool(customer_spells) and start <= customer_spells[0]["start"] <= end),
                "reactivated": sum(start <= s["start"] <= end for s in customer_spells[1:]),
                "churned_from_start": int(at_start and churned),
                "started": int(bool(customer_spells) and customer_spells[0]["start"] <= end),
                "revenue_to_date": revenue.loc[(revenue["account_id"] == cid) & (revenue["day"] <= end), "amount_due"].sum(),
            }
        frame = pd.DataFrame.from_dict(per_customer, orient="index").join(accounts["segment"])
        nps = raw.nps[(raw.nps["day"] >= start) & (raw.nps["day"] <= end)].join(accounts["segment"], on="account_id")
        for segment in ["all", *sorted(frame["segment"].unique())]:
            part = frame if segment == "all" else frame[frame["segment"] == segment]
            answers = nps if segment == "all" else nps[nps["segment"] == segment]
            at_start = part["at_start"].sum()
            promoters, detractors = (answers["score"] >= 9).sum(), (answers["score"] <= 6).sum()
            rows.append({
                "period_start_date": start,
                "segment": segment,
                "customers_at_start": at_start,
                "customers_at_end": part["at_end"].sum(),
                "customer_churn_rate": part["churned_from_start"].sum() / at_start if at_start else None,
                "customer_retention_rate": (
                    (part["at_end"].sum() - part["new"].sum() - part["reactivated"].sum()) / at_start if at_start else None
                ),
                "nps": 100.0 * (promoters - detractors) / len(answers) if len(answers) else None,
                "historical_clv": round(part["revenue_to_date"].sum() / part["started"].sum(), 2),
            })
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def kpi_monthly(sample_warehouse: Path) -> pd.DataFrame:
    con = duckdb.connect(str(sample_warehouse), read_only=True)
    try:
        return con.execute("select * from marts.kpi_monthly").df()
    finally:
        con.close()


def test_monthly_kpis_equal_values_recomputed_from_raw_files(kpi_monthly, sample_dir):
    expected = expected_monthly_kpis(RawSample(sample_dir))
    actual = kpi_monthly.assign(period_start_date=kpi_monthly["period_start_date"].dt.date)
    merged = expected.merge(actual, on=["period_start_date", "segment"], suffixes=("_expected", "_actual"))
    assert len(merged) == len(expected) == len(actual) == 12 * 4
    for column in ["customers_at_start", "customers_at_end", "customer_churn_rate", "customer_retention_rate", "nps", "historical_clv"]:
        want, got = merged[f"{column}_expected"], merged[f"{column}_actual"]
        both_null = want.isna() & got.isna()
        close = (want.astype(float) - got.astype(float)).abs() < 1e-9
        bad = merged.loc[~(both_null | close), ["period_start_date", "segment", f"{column}_expected", f"{column}_actual"]]
        assert bad.empty, f"{column} differs:\n{bad.to_string()}"
    # The sample is a plausible B2B SaaS base: monthly churn around the generator's 1-3%.
    overall = merged[merged["segment"] == "all"]
    assert 0.0 < overall["customer_churn_rate_actual"].mean() < 0.05


def test_identities_hold_for_every_month_and_segment(kpi_monthly):
    identity = (
        kpi_monthly["customers_at_start"] + kpi_monthly["new_customers"] + kpi_monthly["reactivated_customers"]
        - kpi_monthly["churned_customers"]
    )
    assert (identity == kpi_monthly["customers_at_end"]).all()
    nps_parts = kpi_monthly["nps_promoters"] + kpi_monthly["nps_passives"] + kpi_monthly["nps_detractors"]
    assert (nps_parts == kpi_monthly["nps_responses"]).all()
    assert kpi_monthly["nps_responses"].sum() > 300
    # Each segment row adds up to the 'all' row.
    by_segment = kpi_monthly[kpi_monthly["segment"] != "all"].groupby("period_start_date")[
        ["customers_at_start", "churned_customers", "nps_responses", "mrr_at_end"]
    ].sum()
    overall = kpi_monthly[kpi_monthly["segment"] == "all"].set_index("period_start_date")[by_segment.columns]
    pd.testing.assert_frame_equal(by_segment.sort_index(), overall.sort_index(), check_dtype=False)


def _wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    p = successes / trials
    centre = p + z * z / (2 * trials)
    spread = z * ((p * (1 - p) / trials + z * z / (4 * trials * trials)) ** 0.5)
    return (centre - spread) / (1 + z * z / trials), (centre + spread) / (1 + z * z / trials)


def test_playbook_save_rates_carry_wilson_intervals(sample_warehouse):
    con = duckdb.connect(str(sample_warehouse), read_only=True)
    try:
        outcomes = con.execute("select * from marts.kpi_playbook_outcomes").df()
        episodes = con.execute("select applied_playbook, save_outcome from marts.kpi_alert_outcomes").df()
    finally:
        con.close()
    decided = outcomes[outcomes["decided_episodes"] > 0]
    assert len(decided) >= 3
    for row in decided.itertuples():
        low, high = _wilson(row.saved_episodes, row.decided_episodes)
        assert abs(row.save_rate_ci_lower - low) < 1e-9 and abs(row.save_rate_ci_upper - high) < 1e-9
        assert 0 <= row.save_rate_ci_lower <= row.save_rate <= row.save_rate_ci_upper <= 1
    # Counts per applied playbook add up to the episodes in kpi_alert_outcomes.
    counts = episodes.groupby(["applied_playbook", "save_outcome"]).size().unstack(fill_value=0)
    by_playbook = outcomes[outcomes["comparison"] == "applied_playbook"].set_index("group_value")
    for playbook, row in counts.iterrows():
        assert by_playbook.loc[playbook, "saved_episodes"] == row.get("saved", 0)
        assert by_playbook.loc[playbook, "lost_episodes"] == row.get("churned", 0)
        assert by_playbook.loc[playbook, "pending_episodes"] == row.get("pending", 0)
