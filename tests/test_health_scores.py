"""The health score, its rules and alert episodes, end to end on two hand-made customers.

- ``acc_decline`` (subscription, 500 a month) logs in every day until April 30 and then
  stops; its three proactive contacts of May and June go unanswered, its NPS falls from
  9 to 3, its June invoice goes unpaid and an urgent ticket stays open. It declines into
  red and has one open alert episode on the as-of date (2025-06-30).
- ``acc_steady`` (activity-based, no invoices, orders or surveys) logs in every day and
  last talked to the vendor on April 30. Its financial and satisfaction dimensions have
  no data and are left out: it stays green all along, with a reminder rule but no
  episode.

The raw files are written here (the loader test's CSV writer is reused), loaded and
built with dbt; the expected values are computed by hand from the formulas in
docs/HEALTH_SCORE.md and the default seeds. A second test changes a weight in a copy of
the seed, rebuilds the committed sample's scores, and checks the overall score of every
customer-day moves as the re-normalised weighted mean says.
"""

from __future__ import annotations

import csv
import shutil
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest

from churnguard import settings
from conftest import build_warehouse
from test_load import write_csvs

SYNCED = "2025-07-01T06:00:00Z"
AS_OF = date(2025, 6, 30)
HEALTH_MODELS = ["+customer_alert_reasons", "+current_alert_list", "+dim_customer_value"]


def _rows(cols: str, *rows: tuple) -> list[dict]:
    names = [c.strip() for c in cols.split(",")]
    return [dict(zip(names, row), _synced_at=SYNCED) for row in rows]


def _days(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def hand_made_dataset() -> dict[str, list[dict]]:
    logins = [(f"L-D-{d:%m%d}", "acc_decline", "pu-d1", f"{d}T09:00:00Z", "600")
              for d in _days(date(2025, 1, 1), date(2025, 4, 30))]
    logins += [(f"L-S-{d:%m%d}", "acc_steady", "pu-s1", f"{d}T10:00:00Z", "900")
               for d in _days(date(2025, 1, 1), AS_OF)]
    invoices = [(f"N{m}", "acc_decline", "S1", "500.00", "USD", "paid" if m < 6 else "open",
                 f"2025-{m:02d}-01T00:00:00Z", f"2025-{m:02d}-15T00:00:00Z") for m in range(1, 7)]
    payments = [(f"P{m}", f"N{m}", "acc_decline", "500.00", "USD", "succeeded", f"2025-{m:02d}-05T12:00:00Z")
                for m in range(1, 6)]
    return {
        "crm.users": _rows(
            "user_id, full_name, email, role, manager_user_id, is_active",
            ("U1", "Ann Lee", "ann@vendor.test", "account_manager", "U3", "true"),
            ("U2", "Bo Chen", "bo@vendor.test", "customer_success_manager", "U3", "true"),
            ("U3", "Cy Diaz", "cy@vendor.test", "sales_lead", "", "true"),
        ),
        "crm.accounts": _rows(
            "account_id, account_name, segment, industry, region, owner_user_id, csm_user_id, business_model, "
            "created_at, updated_at",
            ("acc_decline", "Declining Co", "smb", "Retail", "EMEA", "U1", "U2", "subscription",
             "2024-06-01T00:00:00Z", "2025-01-01T00:00:00Z"),
            ("acc_steady", "Steady Ltd", "smb", "Software", "NA", "U1", "", "activity",
             "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"),
        ),
        "crm.contacts": _rows(
            "contact_id, account_id, full_name, email, title, is_decision_maker, valid_from, valid_to",
            ("C1", "acc_decline", "Dee Cline", "dee@decline.test", "Owner", "true", "2024-06-01T00:00:00Z", ""),
            ("C2", "acc_steady", "Stu Dee", "stu@steady.test", "CTO", "true", "2024-01-01T00:00:00Z", ""),
        ),
        "crm.interactions": _rows(
            "interaction_id, account_id, contact_id, user_id, channel, direction, occurred_at, is_answered, answered_at",
            *[(f"I-D{m}", "acc_decline", "C1", "U1", "email", "outbound", f"2025-{m:02d}-10T10:00:00Z", "true",
               f"2025-{m:02d}-10T15:00:00Z") for m in range(1, 5)],
            ("I-D5", "acc_decline", "C1", "U1", "email", "outbound", "2025-05-10T10:00:00Z", "false", ""),
            ("I-D6", "acc_decline", "C1", "U1", "call", "outbound", "2025-05-20T10:00:00Z", "false", ""),
            ("I-D7", "acc_decline", "C1", "U1", "email", "outbound", "2025-06-01T10:00:00Z", "false", ""),
            *[(f"I-S{i}", "acc_steady", "C2", "U1", "chat", "inbound", f"2025-{m}T11:00:00Z", "true",
               f"2025-{m}T11:30:00Z") for i, m in enumerate(["01-15", "02-15", "03-15", "04-30"])],
        ),
        "crm.logins": _rows("login_id, account_id, user_id, logged_in_at, session_seconds", *logins),
        "crm.interventions": [],
        "billing.subscriptions": _rows(
            "subscription_id, account_id, plan_name, status, billing_interval, mrr, currency, started_at, ended_at, "
            "renewal_date, canceled_at",
            ("S1", "acc_decline", "Growth", "past_due", "month", "500.00", "USD", "2024-06-01T00:00:00Z", "", "", ""),
        ),
        "billing.invoices": _rows(
            "invoice_id, account_id, subscription_id, amount_due, currency, status, issued_at, due_at", *invoices
        ),
        "billing.payments": _rows(
            "payment_id, invoice_id, account_id, amount, currency, status, paid_at", *payments
        ),
        "billing.orders": [],
        "support.tickets": _rows(
            "ticket_id, account_id, requester_contact_id, subject, category, priority, status, created_at, "
            "solved_at, reopen_count",
            ("T1", "acc_decline", "C1", "Export broken", "bug", "urgent", "open", "2025-06-10T08:00:00Z", "", "0"),
        ),
        "support.csat_ratings": [],
        "support.nps_responses": _rows(
            "response_id, account_id, contact_id, score, responded_at, comment",
            ("Q1", "acc_decline", "C1", "9", "2025-02-01T12:00:00Z", ""),
            ("Q2", "acc_decline", "C1", "3", "2025-05-15T12:00:00Z", "it got worse"),
        ),
    }


@pytest.fixture(scope="module")
def hand_made_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hand_made")
    raw = write_csvs(root / "raw", hand_made_dataset())
    return build_warehouse(raw, root, ["build", "--select", *HEALTH_MODELS, "--exclude-resource-type", "test", "unit_test"])


def _query(warehouse: Path, sql: str, params: list | None = None) -> list[dict]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cursor = con.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]
    finally:
        con.close()


def _score(warehouse: Path, customer_id: str, day: date) -> dict:
    rows = _query(warehouse, "select * from marts.health_scores where customer_id = ? and date_day = ?",
                  [customer_id, day])
    assert len(rows) == 1, (customer_id, day, rows)
    return rows[0]


def test_two_hand_made_customers_through_the_warehouse(hand_made_warehouse: Path) -> None:
    """One build, three checks (a module fixture would be rebuilt on each xdist worker)."""
    _check_declining_customer_scores(hand_made_warehouse)
    _check_declining_customer_episode(hand_made_warehouse)
    _check_steady_customer(hand_made_warehouse)


def _check_declining_customer_scores(hand_made_warehouse: Path) -> None:
    row = _score(hand_made_warehouse, "acc_decline", AS_OF)
    # usage: no login for 61 days, none in 28 days against a baseline of 57 logins in
    # Mar 5-Jun 2 (17.73 per 28 days): baseline part 0, level 0, recency 0 -> 0.
    assert row["usage_score"] == 0
    # engagement: 4 contacts decided in 90 days, 3 unanswered -> reply rate 25% scores
    # (0.25-0.1)/(0.6-0.1) = 30; 3 unanswered in a row -> 0; last interaction 29 days ago
    # -> 100. Mean 43.3 -> 43.
    assert row["engagement_score"] == 43
    # financial: revenue stable (MRR 500 now and 90 days ago) -> 85; the June invoice is
    # 15 days overdue (danger above 10): 39 - 39 * (15 - 10) / 10 = 19.5. Mean 52.25 -> 52.
    assert row["financial_score"] == 52
    # satisfaction: NPS 3 scores (3-2)/(9-2) = 14.3; it fell 6 points (4 or more -> 0).
    # Mean 7.1 -> 7.
    assert row["satisfaction_score"] == 7
    # support: 1 open ticket (-5), urgent (-45), 1 ticket in 28 days against a baseline of
    # 0: (1+1)/(0+1) = 2, half the volume penalty (-15) -> 35.
    assert row["support_score"] == 35
    # overall: .25*0 + .20*43 + .25*52 + .20*7 + .10*35 = 26.5 -> 27 (half away from zero).
    assert row["dimensions_scored"] == 5
    assert row["health_score"] == 27
    assert row["health_tier"] == "red"
    assert row["alert_tier"] == "red"
    assert row["pulled_down_most_by"] == "usage"
    assert row["reason_codes"] == (
        "activity_down_40pct_3w|inactive_60d|key_indicator_down_20pct|payment_delay_danger|"
        "score_drop_20_in_90d|two_unanswered_outreach"
    )
    assert row["health_score_90d_ago"] - row["health_score"] > 20
    # Before the decline it was green.
    assert _score(hand_made_warehouse, "acc_decline", date(2025, 4, 1))["health_tier"] == "green"


def _check_declining_customer_episode(hand_made_warehouse: Path) -> None:
    episodes = _query(hand_made_warehouse, "select * from marts.customer_alerts where customer_id = 'acc_decline'")
    assert len(episodes) == 1
    episode = episodes[0]
    assert date(2025, 5, 1) <= episode["opened_date"] <= date(2025, 6, 30)
    assert episode["alert_status"] == "open" and episode["closed_date"] is None
    assert episode["alert_tier"] == "red" and episode["risk_level"] == "high"
    assert episode["value_tier"] == "low"  # 500 x 12 = 6,000 a year
    assert episode["value_risk_cell"] == "low_value_high_risk"
    assert episode["recommended_playbook"] == "roi_review"
    # CLV 6,000 / 12 x 24 = 12,000; ROI = 12,000 x 0.40 (default save rate) - 300 = 4,500.
    assert float(episode["retention_roi"]) == pytest.approx(4500.0)
    assert episode["account_manager_email"] == "ann@vendor.test"
    assert "two_unanswered_outreach" in episode["reason_codes"]
    # The SLA: 24 hours from the day it turned red (or 7 days from a yellow opening).
    if episode["opening_tier"] == "red":
        assert episode["response_due_date"] == episode["opened_date"] + timedelta(days=1)
    else:
        assert episode["response_due_date"] == min(episode["opened_date"] + timedelta(days=7),
                                                   episode["first_red_date"] + timedelta(days=1))
    reasons = _query(hand_made_warehouse,
                     "select reason_code from marts.customer_alert_reasons where alert_id = ? order by 1",
                     [episode["alert_id"]])
    assert [r["reason_code"] for r in reasons] == sorted(episode["reason_codes"].split("|"))
    listed = _query(hand_made_warehouse, "select * from marts.current_alert_list order by priority_rank")
    assert [(r["priority_rank"], r["alert_id"]) for r in listed] == [(1, episode["alert_id"])]
    assert listed[0]["health_score"] == 27


def _check_steady_customer(hand_made_warehouse: Path) -> None:
    row = _score(hand_made_warehouse, "acc_steady", AS_OF)
    assert row["financial_score"] is None and row["satisfaction_score"] is None
    assert row["usage_score"] == 100
    # engagement: only the recency part has data; 61 days since the last interaction:
    # (61 - 120) / (45 - 120) * 100 = 78.7 -> 79.
    assert row["engagement_score"] == 79
    assert row["support_score"] == 100
    # Re-normalised over the three dimensions present: (.25*100 + .20*79 + .10*100) / .55
    # = 92.4 -> 92. Counting the missing ones as 0 would have made it 51 (red).
    assert row["dimensions_scored"] == 3
    assert row["health_score"] == 92
    assert row["health_tier"] == "green"
    assert row["reason_codes"] == "no_interaction_30d"  # a reminder: it opens no episode
    tiers = _query(hand_made_warehouse,
                   "select distinct health_tier from marts.health_scores where customer_id = 'acc_steady'")
    assert tiers == [{"health_tier": "green"}]
    assert _query(hand_made_warehouse, "select * from marts.customer_alerts where customer_id = 'acc_steady'") == []
    value = _query(hand_made_warehouse, "select * from marts.dim_customer_value where customer_id = 'acc_steady'")[0]
    assert value["value_risk_cell"] == "low_value_low_risk" and value["open_alert_id"] is None


def _copy_project(destination: Path) -> Path:
    """A copy of the dbt project and its reference seeds (seed-paths is ../seeds/reference)."""
    project = destination / "dbt_project"
    shutil.copytree(settings.DBT_PROJECT_DIR, project,
                    ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml"))
    shutil.copytree(settings.SEEDS_DIR / "reference", destination / "seeds" / "reference")
    return project


def _expected_overall(row: dict, weights: dict[str, Decimal]) -> int:
    present = {d: row[f"{d}_score"] for d in weights if row[f"{d}_score"] is not None}
    total = sum(weights[d] for d in present)
    mean = sum(weights[d] * Decimal(present[d]) for d in present) / total
    return int(mean.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def test_changing_a_weight_in_the_seed_moves_the_score_as_the_formula_says(
    sample_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a copy of the sample warehouse and of the project: usage weight 0.25 -> 0.60 in
    health_dimensions.csv, `dbt seed`, rebuild health_scores, and every customer-day's
    overall score is the re-normalised weighted mean with the new weight."""
    from churnguard.dbt_cli import run_dbt

    warehouse = tmp_path / "wh.duckdb"
    shutil.copy(sample_warehouse, warehouse)
    project = _copy_project(tmp_path / "copy")
    seed = project.parent / "seeds" / "reference" / "health_dimensions.csv"
    rows = list(csv.DictReader(seed.open()))
    for row in rows:
        if row["dimension"] == "usage":
            assert row["weight"] == "0.25"
            row["weight"] = "0.60"
    with seed.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    monkeypatch.setattr(settings, "DBT_PROJECT_DIR", project)
    run_dbt(["seed", "--select", "health_dimensions"], warehouse=warehouse, capture=True)
    run_dbt(["run", "--full-refresh", "--select", "health_scores"], warehouse=warehouse, capture=True)

    weights = {"usage": Decimal("0.60"), "engagement": Decimal("0.20"), "financial": Decimal("0.25"),
               "satisfaction": Decimal("0.20"), "support": Decimal("0.10")}
    before = {(r["customer_id"], r["date_day"]): r["health_score"]
              for r in _query(sample_warehouse, "select customer_id, date_day, health_score from marts.health_scores")}
    after = _query(warehouse, "select * from marts.health_scores")
    assert len(after) == len(before)
    for row in after:
        assert row["health_score"] == _expected_overall(row, weights), row
    moved = [row for row in after if row["health_score"] != before[(row["customer_id"], row["date_day"])]]
    assert len(moved) > len(after) / 10, "a heavier usage weight must move many scores"
