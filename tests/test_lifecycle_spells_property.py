"""Item 15 of issue 16: lifecycle spells of order customers, checked against an
independent merge of coverage intervals over many random order histories.

The defect: an order customer whose account was created on the day of its first order
has the same coverage interval twice (the account anchor and the first order), the two
window functions of the model could order that tie differently, and the customer got
a spell 0 and a spell 1 starting the same day; the test `next_spell_start_date >
churn_date` then failed the nightly. The issue's customer is c_issue below: orders on
1997-02-22, 03-06, 06-24, 07-27 and 1998-05-20 give one spell 1997-02-22 -> churn
1998-01-23 (180 days after 07-27), then the reactivation on 1998-05-20."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import build_warehouse
from world import write_world

NO_ORDER_DAYS = 180
HISTORY_START = date(1997, 1, 1)
AS_OF = date(1998, 6, 30)


def _histories(seed: int = 16, customers: int = 600) -> dict[str, tuple[date, list[date]]]:
    """customer -> (created date, order days); many created on their first order's day."""
    rng = random.Random(seed)
    histories = {
        "c_issue": (date(1997, 2, 22), [date(1997, 2, 22), date(1997, 3, 6), date(1997, 6, 24), date(1997, 7, 27),
                                        date(1998, 5, 20)]),
    }
    span = (AS_OF - HISTORY_START).days
    for i in range(customers):
        first = HISTORY_START + timedelta(days=rng.randrange(span))
        days, day = [first], first
        for _ in range(rng.randrange(0, 8)):
            day = day + timedelta(days=rng.choice([0, 1, 30, 90, 179, 180, 181, 200, 365]))
            if day > AS_OF:
                break
            days.append(day)
        kind = rng.random()
        if kind < 0.6:
            created = first  # the tie
        elif kind < 0.8:
            created = first - timedelta(days=rng.randrange(1, 400))  # before the first order (maybe before history)
        else:
            created = first
            days = days[1:]  # no order on the creation day
        histories[f"c{i:04d}"] = (created, sorted(days))
    return histories


def expected_spells(created: date, order_days: list[date]) -> list[tuple[date, date | None]]:
    """(spell start, churn date) per spell, merging [d, d + 180) intervals."""
    anchor = max(created, HISTORY_START)
    intervals = [(created, anchor + timedelta(days=NO_ORDER_DAYS))]
    intervals += [(d, d + timedelta(days=NO_ORDER_DAYS)) for d in order_days if d >= anchor]
    merged: list[list[date]] = []
    for start, end in sorted(i for i in intervals if i[0] <= AS_OF):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end if end <= AS_OF else None) for start, end in merged]


def test_order_spells_equal_an_independent_merge_over_random_histories(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the histories run in the 1990s, before the loader's default history start
    monkeypatch.setenv("CHURNGUARD_HISTORY_START", "1990-01-01")
    histories = _histories()
    accounts, orders = [], []
    for cid, (created, days) in histories.items():
        accounts.append({"account_id": cid, "account_name": cid, "segment": "smb", "owner_user_id": "u1",
                         "business_model": "order", "created_at": f"{created}T09:00:00Z",
                         "updated_at": f"{created}T09:00:00Z"})
        for n, day in enumerate(days):
            orders.append({"order_id": f"{cid}_{n}", "account_id": cid, "ordered_at": f"{day}T10:00:00Z",
                           "amount": "100.00", "currency": "USD", "status": "completed"})
    users = [{"user_id": "u1", "full_name": "Una One", "email": "u1@example.com", "role": "account_manager",
              "is_active": "true"}]
    data = write_world(tmp_path / "raw", {"crm.accounts": accounts, "crm.users": users, "billing.orders": orders})
    warehouse = build_warehouse(
        data, tmp_path / "wh", dbt_args=["build", "--select", "+int_customer_lifecycle_spells", "--indirect-selection", "cautious"],
        dbt_vars={"history_start_date": str(HISTORY_START), "as_of_date": str(AS_OF)},
    )
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute("""
            select customer_id, spell_start_date, churn_date
            from intermediate.int_customer_lifecycle_spells order by customer_id, spell_number
        """).fetchall()
        numbers = con.execute("""
            select customer_id, list(spell_number order by spell_number)
            from intermediate.int_customer_lifecycle_spells group by 1
        """).fetchall()
    finally:
        con.close()
    actual: dict[str, list] = {}
    for cid, start, churn in rows:
        actual.setdefault(cid, []).append((start, churn))
    expected = {cid: expected_spells(created, days) for cid, (created, days) in histories.items()}
    wrong = {cid: (expected[cid], actual.get(cid)) for cid in expected if actual.get(cid) != expected[cid]}
    assert not wrong, f"{len(wrong)} customers differ, e.g. {list(wrong.items())[:3]}"
    assert actual["c_issue"] == [(date(1997, 2, 22), date(1998, 1, 23)), (date(1998, 5, 20), None)]
    assert all(spells == list(range(1, len(spells) + 1)) for _, spells in numbers)
