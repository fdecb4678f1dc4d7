"""Alert episodes and the alert list on the committed sample (read-only), and the health
models' incremental builds against the full refresh.

- Episodes of one customer never overlap, every red day belongs to an episode, and no
  episode opens on a day the customer is not active.
- alert_id is the documented hash of (customer_id, opened_date), so it is the same on
  every rebuild and downstream deliveries stay idempotent.
- current_alert_list is exactly the open episodes, in the documented priority order.
- Rebuilding the last weeks incrementally, or a range in the middle (as a scheduler's
  partition), gives the same rows as the full refresh.
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import timedelta
from pathlib import Path

import duckdb

from churnguard.dbt_cli import run_dbt

INCREMENTAL_HEALTH_MODELS = ["int_health_dimension_scores", "int_health_rule_hits", "health_scores"]


def _frame(warehouse: Path, sql: str):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def test_episodes_do_not_overlap_and_cover_every_red_day(sample_warehouse: Path) -> None:
    episodes = _frame(sample_warehouse, "select * from marts.customer_alerts order by customer_id, first_alert_date")
    assert len(episodes) > 0
    for _, group in episodes.groupby("customer_id"):
        rows = group.to_dict("records")
        for earlier, later in zip(rows, rows[1:]):
            end = earlier["closed_date"] if earlier["closed_date"] is not None else earlier["as_of_date"]
            assert later["first_alert_date"] > end, (earlier["alert_id"], later["alert_id"])
    uncovered = _frame(sample_warehouse, """
        select scores.customer_id, scores.date_day
        from marts.health_scores as scores
        where scores.alert_tier = 'red'
            and not exists (
                select 1 from marts.customer_alerts as alerts
                where alerts.customer_id = scores.customer_id
                    and scores.date_day between alerts.first_alert_date and alerts.last_alert_date
            )
    """)
    assert uncovered.empty, uncovered.head()
    not_active = _frame(sample_warehouse, """
        select alerts.alert_id
        from marts.customer_alerts as alerts
        left join marts.health_scores as scores
            on scores.customer_id = alerts.customer_id and scores.date_day = alerts.opened_date
        where scores.customer_id is null
    """)
    assert not_active.empty


def test_alert_id_is_the_hash_of_customer_and_opening_day(sample_warehouse: Path) -> None:
    episodes = _frame(sample_warehouse, "select alert_id, customer_id, cast(opened_date as varchar) as opened from marts.customer_alerts")
    for row in episodes.itertuples():
        expected = hashlib.md5(f"{row.customer_id}|{row.opened}".encode()).hexdigest()
        assert row.alert_id == expected


def test_current_alert_list_is_the_open_episodes_in_priority_order(sample_warehouse: Path) -> None:
    listed = _frame(sample_warehouse, "select * from marts.current_alert_list order by priority_rank")
    open_ids = set(_frame(sample_warehouse, "select alert_id from marts.customer_alerts where alert_status = 'open'")["alert_id"])
    assert set(listed["alert_id"]) == open_ids and len(listed) == len(open_ids)
    assert list(listed["priority_rank"]) == list(range(1, len(listed) + 1))
    priorities = _frame(sample_warehouse, "select alert_id, cell_priority from marts.customer_alerts")
    listed = listed.merge(priorities, on="alert_id")
    keys = list(zip(listed["cell_priority"], listed["response_due_date"], -listed["retention_roi"].astype(float),
                    listed["health_score"], listed["alert_id"]))
    assert keys == sorted(keys)
    assert set(listed["alert_tier"]) <= {"red", "yellow"}


def _differences(a: Path, b: Path, table: str) -> tuple[int, int, int]:
    con = duckdb.connect()
    try:
        con.execute(f"attach '{a}' as a (read_only)")
        con.execute(f"attach '{b}' as b (read_only)")
        rows = con.execute(f"select count(*) from a.{table}").fetchone()[0]
        only_a = con.execute(f"select count(*) from (select * from a.{table} except all select * from b.{table})").fetchone()[0]
        only_b = con.execute(f"select count(*) from (select * from b.{table} except all select * from a.{table})").fetchone()[0]
    finally:
        con.close()
    return rows, only_a, only_b


def test_incremental_health_builds_equal_the_full_refresh(sample_warehouse: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    shutil.copy(sample_warehouse, warehouse)
    con = duckdb.connect(str(warehouse))
    try:
        as_of = con.execute("select as_of_date from utilities.util_date_bounds").fetchone()[0]
        # Forget the last six weeks, as if the warehouse had last run then.
        con.execute("delete from intermediate.int_health_dimension_scores where date_day > ? - 42", [as_of])
        con.execute("delete from intermediate.int_health_rule_hits where date_day > ? - 42", [as_of])
        con.execute("delete from marts.health_scores where date_day > ? - 42", [as_of])
        # And scramble a month in the middle, which a partition run must restore.
        con.execute("delete from marts.health_scores where date_day between ? - 150 and ? - 120", [as_of, as_of])
        con.execute("delete from intermediate.int_health_rule_hits where date_day between ? - 150 and ? - 120",
                    [as_of, as_of])
    finally:
        con.close()
    start = (as_of - timedelta(days=150)).isoformat()
    end = (as_of - timedelta(days=120)).isoformat()
    run_dbt(["run", "--select", *INCREMENTAL_HEALTH_MODELS], warehouse=warehouse,
            dbt_vars={"start_date": start, "end_date": end}, capture=True)
    run_dbt(["run", "--select", *INCREMENTAL_HEALTH_MODELS], warehouse=warehouse, capture=True)
    for table in ["intermediate.int_health_dimension_scores", "intermediate.int_health_rule_hits", "marts.health_scores"]:
        rows, only_incremental, only_full = _differences(warehouse, sample_warehouse, table)
        assert rows > 0
        assert (only_incremental, only_full) == (0, 0), table
