"""The hand-made boundary world (tests/boundary_world.py) built end to end: the KPI and
alert rules of issue 16 checked on customers whose values can be worked out by hand.

Items: 3 (provisional months and pending counts), 4 (order revenue), 5 (a save window
that can see an order customer's churn), 6 (the SLA clock of an escalated episode), 7
(the sales lead told about red alerts), 8 (one rule linking interventions), 9 (an
episode opened in the grace gap valued at the last active revenue).

The world is built twice: once to read the episodes the health score raised, then with
retention interventions recorded against them (without alert ids, as CRM tasks often
are) at the moments each check needs. Nothing in the health score reads interventions,
so the episodes are the same in both builds."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from boundary_world import AS_OF, DBT_VARS, write_boundary_world
from conftest import build_warehouse

from churnguard.pipeline import summarise

pytestmark = pytest.mark.xdist_group("test_boundary_world")  # one worker: its module fixtures build the boundary world once


def _frame(warehouse: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def _day(value) -> date:
    return pd.Timestamp(value).date()


@pytest.fixture(scope="module")
def first_episodes(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("boundary_first")
    data = write_boundary_world(root / "raw")
    warehouse = build_warehouse(data, root / "wh", dbt_args=["build", "--select", "+customer_alerts", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"], dbt_vars=DBT_VARS)
    return _frame(warehouse, "select * from marts.customer_alerts").set_index("customer_id")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory, first_episodes: pd.DataFrame) -> Path:
    escalated = first_episodes.loc["e_escalate"]
    red = first_episodes.loc["r_red"]
    due = _day(escalated["response_due_date"])
    opened = _day(red["opened_date"])
    interventions = [
        # Contact on the escalated episode's own deadline day (first red day + 1), 15:00.
        {"intervention_id": "i_escalate", "account_id": "e_escalate", "user_id": "am1", "playbook": "roi_review",
         "channel": "call", "opened_at": f"{due}T14:00:00Z", "first_contact_at": f"{due}T15:00:00Z", "cost": "100",
         "currency": "USD", "outcome": "saved"},
        # r_red answered the day after its episode opened, logged without the alert id.
        {"intervention_id": "i_red", "account_id": "r_red", "user_id": "am1", "playbook": "roi_review",
         "channel": "call", "opened_at": f"{opened + timedelta(days=1)}T09:00:00Z",
         "first_contact_at": f"{opened + timedelta(days=1)}T10:00:00Z", "cost": "100", "currency": "USD",
         "outcome": "pending"},
    ]
    root = tmp_path_factory.mktemp("boundary")
    data = write_boundary_world(root / "raw", interventions)
    # Seeds and models only: the checks here read the marts' values, not dbt's data tests
    # (those run on the sample in test_seed_changes / test_orchestration_*).
    return build_warehouse(data, root / "wh", dbt_args=["build", "--exclude-resource-type", "test", "unit_test"],
                           dbt_vars=DBT_VARS)


@pytest.fixture(scope="module")
def alerts(warehouse: Path) -> pd.DataFrame:
    return _frame(warehouse, "select * from marts.customer_alerts").set_index("customer_id")


@pytest.fixture(scope="module")
def outcomes(warehouse: Path) -> pd.DataFrame:
    return _frame(warehouse, "select * from marts.kpi_alert_outcomes").set_index("customer_id")


@pytest.fixture(scope="module")
def monthly(warehouse: Path) -> pd.DataFrame:
    frame = _frame(warehouse, "select * from marts.kpi_monthly where segment = 'all'")
    frame["month"] = frame["period_start_date"].dt.strftime("%Y-%m")
    return frame.set_index("month")


def test_the_world_raises_the_episodes_the_checks_need(first_episodes, alerts) -> None:
    assert set(alerts.index) == set(first_episodes.index)
    assert {"e_escalate", "g_grace", "o_late", "p_pending", "r_red", "r_red_csm"} <= set(alerts.index)
    assert "h_healthy" not in alerts.index and "o_steady" not in alerts.index
    escalated = alerts.loc["e_escalate"]
    assert (escalated["opening_tier"], escalated["alert_tier"]) == ("yellow", "red")
    assert _day(escalated["first_red_date"]) > _day(escalated["opened_date"])


def test_escalated_episode_is_measured_against_its_own_deadline(alerts, outcomes) -> None:
    """Item 6: the deadline is min(first red day + 1, opened + 7), met before its end."""
    alert, outcome = alerts.loc["e_escalate"], outcomes.loc["e_escalate"]
    first_red, opened = _day(alert["first_red_date"]), _day(alert["opened_date"])
    due = min(first_red + timedelta(days=1), opened + timedelta(days=7))
    assert _day(alert["response_due_date"]) == due
    assert pd.Timestamp(outcome["response_due_at"]) == pd.Timestamp(datetime.combine(due + timedelta(days=1), datetime.min.time()))
    assert outcome["intervention_id"] == "i_escalate"
    assert bool(outcome["is_contacted_within_sla"]) is True


def test_red_alerts_notify_the_csm_or_owner_and_the_sales_lead(warehouse, alerts) -> None:
    """Item 7: red -> CSM (the account manager when there is none) and the sales lead."""
    assert alerts.loc["r_red", "sales_lead_user_id"] == "sl1"
    assert alerts.loc["r_red", "notify_user_ids"] == "am1|sl1"
    assert alerts.loc["r_red_csm", "notify_user_ids"] == "csm1|sl1"
    listed = _frame(warehouse, "select customer_id, notify_user_ids, sales_lead_email from marts.current_alert_list")
    listed = listed.set_index("customer_id")
    assert listed.loc["r_red_csm", "notify_user_ids"] == "csm1|sl1"
    assert listed.loc["r_red", "sales_lead_email"] == "sl1@example.com"


def test_alert_list_and_kpis_link_the_same_interventions(warehouse, alerts, outcomes) -> None:
    """Item 8: a contact logged without the alert id answers the open episode in both."""
    listed = _frame(warehouse, "select * from marts.current_alert_list").set_index("customer_id")
    assert listed.loc["r_red", "intervention_count"] == 1
    assert bool(listed.loc["r_red", "is_response_overdue"]) is False
    assert outcomes.loc["r_red", "intervention_id"] == "i_red"
    # Nobody answered r_red_csm: overdue in the list, missed in the KPI.
    assert bool(listed.loc["r_red_csm", "is_response_overdue"]) is True
    assert bool(outcomes.loc["r_red_csm", "is_contacted_within_sla"]) is False


def test_episode_in_the_grace_gap_is_valued_at_the_last_active_revenue(alerts) -> None:
    """Item 9: g_grace paid 10,000 MRR until 2025-03-01; its episode opens in the gap."""
    alert = alerts.loc["g_grace"]
    assert _day(alert["opened_date"]) >= date(2025, 3, 1)
    assert float(alert["opening_annual_revenue"]) == 0.0
    assert float(alert["annual_revenue_at_open"]) == 120000.0
    assert (alert["value_tier"], alert["value_risk_cell"]) == ("high", "high_value_high_risk")
    assert float(alert["retention_roi"]) > 0


def test_order_customer_churn_falls_inside_its_save_window(alerts, outcomes) -> None:
    """Item 5: o_late's last order is 2024-05-24, its churn 180 days later (2024-11-20),
    more than 90 days after its episode opened; the window is 90 + 180 days."""
    outcome = outcomes.loc["o_late"]
    opened = _day(alerts.loc["o_late", "opened_date"])
    assert _day(outcome["save_window_end_date"]) == opened + timedelta(days=270)
    assert _day(outcome["churn_date"]) == date(2024, 11, 20)
    assert (_day(outcome["churn_date"]) - opened).days > 90
    assert outcome["save_outcome"] == "churned"


def test_months_that_can_still_change_are_provisional(warehouse, monthly, outcomes) -> None:
    """Item 3: p_pending's subscription ended 2025-06-10, its grace gap runs past the
    as-of date: June's churn is pending, not 0%. Months with a warned customer still in
    its save window have no save rate."""
    june = monthly.loc["2025-06"]
    assert bool(june["is_complete_period"]) is True
    assert june["pending_churn_customers"] == 1
    assert bool(june["is_churn_rate_provisional"]) and bool(june["is_provisional"])
    assert pd.isna(june["churn_rate_target_met"]) and pd.isna(june["retention_rate_target_met"])
    # The month of r_red's opening: two warned customers pending, none decided yet.
    opened = pd.Timestamp(outcomes.loc["r_red", "opened_date"]).strftime("%Y-%m")
    month = monthly.loc[opened]
    assert month["pending_save_customers"] >= 2 and bool(month["is_save_rate_provisional"])
    assert pd.isna(month["save_rate"]) and pd.isna(month["save_rate_target_met"])
    # A settled month is not provisional: January 2025, nothing pending.
    january = monthly.loc["2025-01"]
    assert not bool(january["is_provisional"]) and january["pending_churn_customers"] == 0
    assert "churn rate provisional (1 churns pending)" in summarise(warehouse)


def test_order_revenue_counts_in_revenue_clv_and_arpa(monthly) -> None:
    """Item 4: no invoices in this world; the order customers' 200 orders are revenue."""
    may = monthly.loc["2025-05"]
    # o_steady orders every 14 days from 2024-01-05: 2025-05-09 and 2025-05-23 in May.
    assert float(may["revenue"]) == float(may["order_revenue"]) == 400.0
    assert float(may["arpa"]) > 0 and float(may["historical_clv"]) > 0
    assert all(pd.isna(v) or v > 0 for v in monthly["predictive_clv"])


def test_every_episode_has_reasons_in_words_with_observed_values(warehouse, alerts) -> None:
    """Item 12: shares print as percentages, the value that fired the rule is on the
    reason, and no episode is without a reason code."""
    reasons = _frame(warehouse, "select * from marts.customer_alert_reasons")
    assert alerts["reason_codes"].notna().all() and (alerts["reason_count"] >= 1).all()
    assert set(reasons["alert_id"]) == set(alerts["alert_id"])
    activity = reasons[reasons["reason_code"] == "activity_down_40pct_3w"]
    assert not activity.empty
    assert set(activity["reason_description"]) == {"Logins in the last 21 days at least 40% below the customer's baseline"}
    assert (activity["observed_value"] >= 0.40).all()
    inactive = reasons[(reasons["reason_code"] == "inactive_60d") & (reasons["customer_id"] == "r_red")]
    assert len(inactive) == 1 and inactive["observed_value"].iloc[0] >= 60
    assert not reasons["reason_description"].str.contains(r"\{|0\.\d", regex=True).any()
