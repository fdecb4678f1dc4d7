"""No customer-day rows for the days a churned customer did nothing (issue 14, item 1).

fct_customer_day keeps every day of each lifecycle spell through the day its churn is
recognised; after that, until the customer returns, only the days on which something
happened (the events that later windows and carried-forward dates read). The scores of a
customer that returns must not change: they are pinned here from the warehouse built when
every calendar day had a row.

The customer followed is acc_000062 of the committed sample, the sample's one customer that
churns and comes back (activity churn definition: 90 days without a login):
- last login before the churn on 2025-03-01, so the churn is recognised on 2025-05-30
  (2025-03-01 + 90 days) and the customer is churned from then on;
- while churned, two outbound contacts: a call on 2025-09-09 (never answered) and an email
  on 2025-09-15 (answered); the outcome of a contact is known 7 days later (the reply
  window), on 2025-09-16 and 2025-09-22, days without a fact row that the health score
  still counts;
- next login on 2025-09-23: a reactivation (spell 2).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from raw_sample import RawSample

CUSTOMER = "acc_000062"


@pytest.fixture(scope="module")
def raw(sample_dir: Path) -> RawSample:
    return RawSample(sample_dir)


@pytest.fixture(scope="module")
def con(sample_warehouse: Path):
    connection = duckdb.connect(str(sample_warehouse), read_only=True)
    yield connection
    connection.close()


def _days(con, sql: str, params: list) -> list[date]:
    return [row[0] for row in con.execute(sql, params).fetchall()]


def test_churned_customer_keeps_only_its_churn_day_and_days_with_events(con, raw):
    spells = raw.spells(CUSTOMER)
    assert [s["start"] for s in spells][1:] == [date(2025, 9, 23)]
    recognised = spells[0]["recognised_on"]
    assert recognised == date(2025, 5, 30)
    reactivated = spells[1]["start"]

    # Events while churned, from the raw files: interactions, logins, orders, tickets,
    # NPS answers (only the two contacts here).
    churned = lambda day: recognised < day < reactivated  # noqa: E731
    event_days: set[date] = set()
    for frame, column in [(raw.interactions, "day"), (raw.logins, "day"), (raw.orders, "day"),
                          (raw.tickets, "created"), (raw.nps, "day")]:
        event_days |= {d for d in frame.loc[frame["account_id"] == CUSTOMER, column] if churned(d)}
    assert sorted(event_days) == [date(2025, 9, 9), date(2025, 9, 15)]

    rows = _days(
        con,
        "select date_day from marts.fct_customer_day where customer_id = ? and customer_status = 'churned' "
        "order by date_day",
        [CUSTOMER],
    )
    # 116 churned calendar days (2025-05-30 to 2025-09-22) had a row each before; 3 remain.
    assert rows == [recognised, *sorted(event_days)]

    # The active days stay complete: every day of spell 1 from the history start
    # (2025-01-01; the account is older) up to the churn, and of spell 2 up to the as-of
    # date 2025-12-31.
    for spell, first, last in [(1, date(2025, 1, 1), date(2025, 5, 29)), (2, reactivated, date(2025, 12, 31))]:
        active = _days(
            con,
            "select date_day from marts.fct_customer_day where customer_id = ? and lifecycle_spell_number = ? "
            "and is_active order by date_day",
            [CUSTOMER, spell],
        )
        assert active == [first + timedelta(days=i) for i in range((last - first).days + 1)]


def test_every_churned_row_in_the_sample_is_a_churn_day_or_an_event_day(con):
    """Across the whole sample: no churned row without a reason to exist, and every spell's
    days through its recognised churn are all there."""
    unexplained = con.execute(
        """
        select count(*)
        from marts.fct_customer_day as facts
        inner join intermediate.int_customer_lifecycle_spells as spells
            on facts.customer_id = spells.customer_id
            and facts.lifecycle_spell_number = spells.spell_number
        where facts.customer_status = 'churned'
            and facts.date_day <> spells.churn_recognized_date
            and facts.logins + facts.interactions + facts.orders + facts.invoices_issued
                + facts.invoices_paid + facts.tickets_opened + facts.csat_responses + facts.nps_responses = 0
        """
    ).fetchone()[0]
    assert unexplained == 0
    gaps = con.execute(
        """
        select count(*)
        from intermediate.int_customer_lifecycle_spells as spells
        cross join utilities.util_date_bounds as bounds
        where (
            select count(*) from marts.fct_customer_day as facts
            where facts.customer_id = spells.customer_id
                and facts.lifecycle_spell_number = spells.spell_number
                and facts.date_day <= coalesce(spells.churn_recognized_date, bounds.as_of_date)
                and facts.date_day >= greatest(spells.spell_start_date, bounds.history_start_date)
        ) <> date_diff('day', greatest(spells.spell_start_date, bounds.history_start_date),
                       coalesce(spells.churn_recognized_date, bounds.as_of_date)) + 1
        """
    ).fetchone()[0]
    assert gaps == 0


def test_scores_after_the_return_are_those_of_the_every_day_table(con, raw):
    """Values pinned from the warehouse built before this change (a row on every calendar
    day). The comparisons of 2025-09-23 reach into the dropped days: 28 days before is
    2025-08-26, which no longer has a row."""
    assert _days(con, "select date_day from marts.fct_customer_day where customer_id = ? and date_day = ?",
                 [CUSTOMER, date(2025, 8, 26)]) == []

    dimension = con.execute(
        """
        select date_day, usage_baseline_logins_28d, outreach_decided_90d, reply_rate_90d,
            days_since_last_outreach_decided, days_since_last_interaction
        from intermediate.int_health_dimension_scores
        where customer_id = ? and date_day in ('2025-09-23', '2025-11-20')
        order by date_day
        """,
        [CUSTOMER],
    ).fetchall()
    # 2025-09-23: no login in the 90 days to 2025-08-26, too few for a usage baseline; the
    # two contacts decided while churned (2025-09-16, 2025-09-22, days without a fact row;
    # one answered) give a reply rate of 0.5, the last decided 1 day earlier; the last
    # interaction was 8 days earlier.
    assert dimension[0][1:] == (None, 2, pytest.approx(0.5), 1, 8)
    # 2025-11-20: the baseline is the 90 days to 2025-10-23 at a 28-day rate.
    logins = raw.logins[raw.logins["account_id"] == CUSTOMER]["day"]
    in_baseline = sum(1 for d in logins if date(2025, 7, 26) <= d <= date(2025, 10, 23))
    assert in_baseline == 9
    assert float(dimension[1][1]) == pytest.approx(round(in_baseline * 28 / 90, 4)) == pytest.approx(2.8)

    scores = con.execute(
        """
        select date_day, usage_score, engagement_score, health_score, health_tier, health_score_change_30d
        from marts.health_scores
        where customer_id = ? and date_day in ('2025-09-23', '2025-10-23')
        order by date_day
        """,
        [CUSTOMER],
    ).fetchall()
    assert [row[1:] for row in scores] == [(56, 84, 68, "yellow", None), (68, 86, 76, "green", 8)]

    # The KPI marts read the spells, not the customer-days: September 2025 (all segments).
    kpi = con.execute(
        """
        select customers_at_start, new_customers, reactivated_customers, churned_customers, customers_at_end
        from marts.kpi_monthly where is_all_segments and period_start_date = '2025-09-01'
        """
    ).fetchone()
    assert kpi == (198, 7, 1, 5, 201)
