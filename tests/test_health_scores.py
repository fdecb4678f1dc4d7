"""The health score, its rules and alert episodes, end to end on a small hand-made world.

Signals are ranked within the customer's cohort (same churn definition and tenure band)
on the same day, and a signal's points are the mean of the points curve
100 x (1 - (1 - p)^5) over the share of the cohort its value occupies
(docs/HEALTH_SCORE.md). The world:

- ``acc_decline`` (subscription, 500 a month) logs in every day until April 30 and then
  stops; its three proactive contacts of May and June go unanswered, its NPS falls from
  9 to 3, its June invoice goes unpaid and an urgent ticket stays open.
- four peers in its cohort (``acc_peer1``..``acc_peer4``, subscription, 500 a month,
  same age) keep logging in daily, answer the monthly contact, pay on time; peer1 also
  had a ticket solved in a day; peer3 answers no survey; peer4 moves from monthly to
  annual billing at 400 a month on May 1 (a longer commitment at a discount).
- ``acc_steady`` (activity-based, alone in its cohort, no invoices, orders, tickets or
  surveys) logs in every day and last talked to the vendor on April 30.

With five customers in a cohort the least healthy one occupies [0, 0.2] of it and earns
38.2 points on that signal; four tied ones occupy [0.2, 1] and earn 94.5; all five tied
earn 83.2 (the curve's mean); of two, the worse earns 67.0 and the better 99.5; of four,
the worst 44.9 and three tied 96.0 (``interval_points`` below recomputes these from the
curve's 21 knots). A second test changes a weight in a copy of the seed, rebuilds the
committed sample's scores, and checks the overall score of every customer-day moves as
the re-normalised weighted mean says.
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

pytestmark = pytest.mark.xdist_group("test_health_scores")  # one worker: its module fixture builds the hand-made warehouse once

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


PEERS = ["acc_peer1", "acc_peer2", "acc_peer3", "acc_peer4"]


def hand_made_dataset() -> dict[str, list[dict]]:
    logins = [(f"L-D-{d:%m%d}", "acc_decline", "pu-d1", f"{d}T09:00:00Z", "600")
              for d in _days(date(2025, 1, 1), date(2025, 4, 30))]
    logins += [(f"L-S-{d:%m%d}", "acc_steady", "pu-s1", f"{d}T10:00:00Z", "900")
               for d in _days(date(2025, 1, 1), AS_OF)]
    logins += [(f"L-{peer}-{d:%m%d}", peer, f"pu-{peer}", f"{d}T09:00:00Z", "600")
               for peer in PEERS for d in _days(date(2025, 1, 1), AS_OF)]
    invoices = [(f"N{m}", "acc_decline", "S1", "500.00", "USD", "paid" if m < 6 else "open",
                 f"2025-{m:02d}-01T00:00:00Z", f"2025-{m:02d}-15T00:00:00Z") for m in range(1, 7)]
    payments = [(f"P{m}", f"N{m}", "acc_decline", "500.00", "USD", "succeeded", f"2025-{m:02d}-05T12:00:00Z")
                for m in range(1, 6)]
    for peer in PEERS:
        months = range(1, 5) if peer == "acc_peer4" else range(1, 7)
        invoices += [(f"N-{peer}-{m}", peer, f"S-{peer}", "500.00", "USD", "paid",
                      f"2025-{m:02d}-01T00:00:00Z", f"2025-{m:02d}-15T00:00:00Z") for m in months]
        payments += [(f"P-{peer}-{m}", f"N-{peer}-{m}", peer, "500.00", "USD", "succeeded",
                      f"2025-{m:02d}-05T12:00:00Z") for m in months]
    invoices.append(("N-acc_peer4-annual", "acc_peer4", "S-acc_peer4-annual", "4800.00", "USD", "paid",
                     "2025-05-01T00:00:00Z", "2025-05-15T00:00:00Z"))
    payments.append(("P-acc_peer4-annual", "N-acc_peer4-annual", "acc_peer4", "4800.00", "USD", "succeeded",
                     "2025-05-05T12:00:00Z"))
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
            *[(peer, f"Peer {peer[-1]} Co", "smb", "Retail", "EMEA", "U1", "U2", "subscription",
               "2024-06-01T00:00:00Z", "2025-01-01T00:00:00Z") for peer in PEERS],
        ),
        "crm.contacts": _rows(
            "contact_id, account_id, full_name, email, title, is_decision_maker, valid_from, valid_to",
            ("C1", "acc_decline", "Dee Cline", "dee@decline.test", "Owner", "true", "2024-06-01T00:00:00Z", ""),
            ("C2", "acc_steady", "Stu Dee", "stu@steady.test", "CTO", "true", "2024-01-01T00:00:00Z", ""),
            *[(f"C-{peer}", peer, f"Pat {peer[-1]}", f"pat@{peer}.test", "Owner", "true",
               "2024-06-01T00:00:00Z", "") for peer in PEERS],
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
            *[(f"I-{peer}-{m}", peer, f"C-{peer}", "U1", "email", "outbound", f"2025-{m:02d}-10T10:00:00Z", "true",
               f"2025-{m:02d}-10T15:00:00Z") for peer in PEERS for m in range(1, 7)],
        ),
        "crm.logins": _rows("login_id, account_id, user_id, logged_in_at, session_seconds", *logins),
        "crm.interventions": [],
        "billing.subscriptions": _rows(
            "subscription_id, account_id, plan_name, status, billing_interval, mrr, currency, started_at, ended_at, "
            "renewal_date, canceled_at",
            ("S1", "acc_decline", "Growth", "past_due", "month", "500.00", "USD", "2024-06-01T00:00:00Z", "", "", ""),
            *[(f"S-{peer}", peer, "Growth", "active", "month", "500.00", "USD", "2024-06-01T00:00:00Z", "", "", "")
              for peer in PEERS[:3]],
            ("S-acc_peer4", "acc_peer4", "Growth", "canceled", "month", "500.00", "USD", "2024-06-01T00:00:00Z",
             "2025-05-01T00:00:00Z", "", ""),
            ("S-acc_peer4-annual", "acc_peer4", "Growth Annual", "active", "year", "400.00", "USD",
             "2025-05-01T00:00:00Z", "", "2026-05-01", ""),
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
            ("T2", "acc_peer1", "C-acc_peer1", "How to export", "how_to", "low", "solved", "2025-06-12T08:00:00Z",
             "2025-06-13T08:00:00Z", "0"),
        ),
        "support.csat_ratings": [],
        "support.nps_responses": _rows(
            "response_id, account_id, contact_id, score, responded_at, comment",
            ("Q1", "acc_decline", "C1", "9", "2025-02-01T12:00:00Z", ""),
            ("Q2", "acc_decline", "C1", "3", "2025-05-15T12:00:00Z", "it got worse"),
            *[(f"Q-{peer}-{n}", peer, f"C-{peer}", "9", f"2025-{m}T12:00:00Z", "")
              for peer in ["acc_peer1", "acc_peer2", "acc_peer4"] for n, m in enumerate(["02-01", "05-15"])],
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
    _check_peers(hand_made_warehouse)
    _check_steady_customer(hand_made_warehouse)


KNOTS = [k / 20 for k in range(21)]
CURVE = [100.0 * (1.0 - (1.0 - k) ** 5) for k in KNOTS]


def interval_points(low: float, high: float) -> float:
    """Mean of the default points curve (piecewise linear between its 21 knots) over the
    share [low, high] of the cohort that a signal's value occupies."""
    steps = 2000
    width = (high - low) / steps
    total = 0.0
    for i in range(steps):  # midpoint rule: exact enough for whole-number scores
        x = low + (i + 0.5) * width
        j = min(int(x * 20), 19)
        total += CURVE[j] + (CURVE[j + 1] - CURVE[j]) * (x - KNOTS[j]) * 20
    return total / steps


def test_interval_points_of_the_default_curve() -> None:
    assert round(interval_points(0, 0.2), 1) == 38.2  # the least healthy of five
    assert round(interval_points(0.2, 1), 1) == 94.5  # four tied at the top
    assert round(interval_points(0, 1), 1) == 83.2  # all tied: the curve's mean
    assert round(interval_points(0, 0.5), 1) == 67.0 and round(interval_points(0.5, 1), 1) == 99.5
    assert round(interval_points(0, 0.25), 1) == 44.9 and round(interval_points(0.25, 1), 1) == 96.0


def _check_declining_customer_scores(hand_made_warehouse: Path) -> None:
    worst_of_5, tied_5 = interval_points(0, 0.2), interval_points(0, 1)
    row = _score(hand_made_warehouse, "acc_decline", AS_OF)
    assert row["cohort"] == "subscription|established"
    # usage: least healthy of its five-customer cohort on logins a week (0), its own trend
    # and days since the last login (61): 38.2 on each -> 38.
    assert row["usage_score"] == 38
    # engagement: least healthy on reply rate (25% vs 100%), unanswered run (3 vs 0) and
    # days since the last interaction (29 vs 20); key contact unchanged like everyone
    # (tied, 83.2): (3 x 38.2 + 83.2) / 4 = 49.5 -> 49.
    assert row["engagement_score"] == round((3 * worst_of_5 + tied_5) / 4) == 49
    # financial: revenue stable like everyone (tied: 83.2; peer4's move to annual billing at
    # a lower MRR is no decline); the June invoice is 15 days overdue, the worst payment
    # delay (38.2). Mean 60.7 -> 61.
    assert row["financial_score"] == round((tied_5 + worst_of_5) / 2) == 61
    # satisfaction: NPS 3 and a 6-point drop, the worst of the four who answered (44.9).
    assert row["satisfaction_score"] == round(interval_points(0, 0.25)) == 45
    # support: only acc_decline and peer1 have tickets; acc_decline is the worse of the two
    # on open and on open severe tickets (67.0), tied on volume and repeats (83.2) -> 75.
    assert row["support_score"] == round((2 * interval_points(0, 0.5) + 2 * tied_5) / 4) == 75
    # overall: .25*38 + .20*49 + .25*61 + .20*45 + .10*75 = 51.05 -> 51.
    assert row["dimensions_scored"] == 5
    assert row["health_score"] == 51
    assert row["health_tier"] == "red"
    assert row["alert_tier"] == "red"
    assert row["pulled_down_most_by"] == "usage"  # .25 x 62 = 15.5 points
    assert row["is_calibrated"] is False and row["churn_probability"] is None
    assert row["reason_codes"] == (
        "activity_down_40pct_3w|inactive_60d|key_indicator_down_20pct|payment_delay_danger|"
        "score_drop_20_in_90d|two_unanswered_outreach"
    )
    # 90 days earlier (April 1) it behaved like its peers: every signal tied, 83.
    assert row["health_score_90d_ago"] == 83
    assert _score(hand_made_warehouse, "acc_decline", date(2025, 4, 1))["health_tier"] == "green"


def _check_peers(hand_made_warehouse: Path) -> None:
    peers = {peer: _score(hand_made_warehouse, peer, AS_OF) for peer in PEERS}
    # usage: four tied at the top of the cohort (94.5 each) -> 94
    assert {row["usage_score"] for row in peers.values()} == {94}
    # peer4 moved from 500 a month billed monthly to 400 a month billed yearly: a longer
    # commitment at a discount is not a revenue decline, so its financial score equals
    # the peers' who did not move.
    dims = _query(hand_made_warehouse,
                  "select customer_id, revenue_decline, committed_mrr, billing_term_months, financial_score "
                  "from intermediate.int_health_dimension_scores where date_day = ? order by customer_id", [AS_OF])
    by_customer = {row["customer_id"]: row for row in dims}
    assert float(by_customer["acc_peer4"]["committed_mrr"]) == 400.0
    assert by_customer["acc_peer4"]["billing_term_months"] == 12
    assert float(by_customer["acc_peer4"]["revenue_decline"]) == 0.0
    assert by_customer["acc_peer4"]["financial_score"] == by_customer["acc_peer2"]["financial_score"]
    # No tickets and no surveys (peer3) is no evidence: it does not score above peer1, whose
    # only ticket was solved in a day and whose NPS is a steady 9.
    assert peers["acc_peer3"]["support_score"] is None and peers["acc_peer3"]["satisfaction_score"] is None
    assert peers["acc_peer1"]["support_score"] is not None and peers["acc_peer1"]["satisfaction_score"] is not None
    assert peers["acc_peer3"]["health_score"] <= peers["acc_peer1"]["health_score"]
    assert all(row["health_tier"] == "green" for row in peers.values())


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
    assert listed[0]["health_score"] == 51


def _check_steady_customer(hand_made_warehouse: Path) -> None:
    row = _score(hand_made_warehouse, "acc_steady", AS_OF)
    assert row["cohort"] == "activity|established"
    # No invoices, orders, surveys or tickets: financial, satisfaction and support have no
    # evidence and are left out (neither 100 nor 0), the weights re-normalised.
    assert row["financial_score"] is None and row["satisfaction_score"] is None and row["support_score"] is None
    # Alone in its cohort, every signal it has sits at the cohort's mean: 83.2 -> 83.
    assert row["usage_score"] == 83 and row["engagement_score"] == 83
    assert row["dimensions_scored"] == 2
    assert row["health_score"] == 83
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


def test_calibrate_recomputes_the_sql_score_exactly(sample_warehouse: Path) -> None:
    """`churnguard calibrate` judges a candidate calibration by recomputing the score in
    Python (cohort intervals, points curves, re-normalised weighted means, rounding half
    away from zero). With the default curve and weights that replica must give the SQL's
    score on every customer-day it looks at."""
    import numpy as np

    from churnguard.calibrate import catalog, default_curve, dimension_weights_in, load_signals, overall_score

    con = duckdb.connect(str(sample_warehouse), read_only=True)
    try:
        frame = con.execute(
            "select customer_id, date_day as cutoff_date, health_score from marts.health_scores "
            "where date_day in ('2025-03-01', '2025-06-01', '2025-09-01', '2025-12-01')"
        ).df()
    finally:
        con.close()
    signals = catalog(sample_warehouse)
    assert len(signals) == 23
    data = load_signals(sample_warehouse, signals, frame)
    score = overall_score(data, signals, {s: default_curve(5) for s in signals}, {s: 1.0 for s in signals},
                          dimension_weights_in(sample_warehouse))
    assert len(frame) > 600
    assert np.array_equal(score, frame["health_score"].to_numpy(dtype=float))
