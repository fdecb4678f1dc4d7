"""Planning the history batches of the daily models (`churnguard.history_batches`).

The Dagster step builds a window whose customer-days exceed CHURNGUARD_HISTORY_BATCH_ROWS
in batches of consecutive days; tests/test_orchestration_pipeline.py shows the batched
build equals a one-pass build on the sample; `churnguard build` of a new warehouse does the
same (the last test here).
"""

from __future__ import annotations

from datetime import date

from pathlib import Path

import duckdb
import pytest

from churnguard import history_batches
from churnguard.history_batches import BatchSettingError, plan, split
from conftest import identical, table_differences

D = date.fromisoformat


def test_split_makes_equal_runs_of_consecutive_days() -> None:
    # 365 days, 900,000 customer-days at 250,000 per batch: 4 batches of 92 days (the last 89)
    batches = split(D("2025-01-01"), D("2025-12-31"), 900_000, 250_000)
    assert batches == [
        (D("2025-01-01"), D("2025-04-02")),
        (D("2025-04-03"), D("2025-07-03")),
        (D("2025-07-04"), D("2025-10-03")),
        (D("2025-10-04"), D("2025-12-31")),
    ]
    assert split(D("2025-01-01"), D("2025-12-31"), 250_000, 250_000) == [(D("2025-01-01"), D("2025-12-31"))]
    assert split(D("2025-01-01"), D("2025-12-31"), 10**9, 0) == [(D("2025-01-01"), D("2025-12-31"))]  # 0: never split
    # never more batches than days
    assert split(D("2025-01-01"), D("2025-01-03"), 10**9, 1) == [
        (D("2025-01-01"), D("2025-01-01")), (D("2025-01-02"), D("2025-01-02")), (D("2025-01-03"), D("2025-01-03"))]


@pytest.fixture
def spells_warehouse():
    con = duckdb.connect()
    con.execute("create schema intermediate; create schema utilities")
    con.execute("create table utilities.util_date_bounds as select date '2025-01-01' as history_start_date, "
                "date '2025-04-10' as as_of_date")  # 100 days
    con.execute("""
        create table intermediate.int_customer_lifecycle_spells as
        select * from (values
            ('a', date '2025-01-01', cast(null as date)),      -- 100 days active
            ('b', date '2025-03-01', date '2025-03-10'),        -- 10 days
            ('c', date '2024-06-01', date '2025-01-05'),        -- 5 days in the history
            ('d', date '2024-01-01', date '2024-02-01')         -- before the history: none
        ) as spells(customer_id, spell_start_date, spell_end_date)
    """)
    yield con
    con.close()


def test_plan_counts_the_spell_days_in_the_window(spells_warehouse) -> None:
    # 115 customer-days over 100 days: at 50 per batch, 3 batches of 34 days (the last 32)
    assert plan(spells_warehouse, None, None, per_batch=50) == [
        (D("2025-01-01"), D("2025-02-03")), (D("2025-02-04"), D("2025-03-09")), (D("2025-03-10"), D("2025-04-10"))]
    assert plan(spells_warehouse, None, None, per_batch=115) == [(D("2025-01-01"), D("2025-04-10"))]
    # a window inside the history: days 2025-03-01..2025-03-20 hold a's 20 + b's 10 = 30
    assert plan(spells_warehouse, D("2025-03-01"), D("2025-03-20"), per_batch=15) == [
        (D("2025-03-01"), D("2025-03-10")), (D("2025-03-11"), D("2025-03-20"))]
    # a start before the history and an end after the as-of date are clamped to them
    assert plan(spells_warehouse, D("0001-01-01"), D("2030-01-01"), per_batch=200) == [(D("2025-01-01"), D("2025-04-10"))]
    assert plan(spells_warehouse, None, None, per_batch=0) == []


def test_plan_is_empty_before_the_spells_exist() -> None:
    con = duckdb.connect()
    try:
        assert plan(con, None, None, per_batch=10) == []
    finally:
        con.close()


def test_batch_rows_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(history_batches.BATCH_ROWS_ENV, raising=False)
    assert history_batches.batch_rows() == 2_000_000
    monkeypatch.setenv(history_batches.BATCH_ROWS_ENV, "500_000")
    assert history_batches.batch_rows() == 500_000
    monkeypatch.setenv(history_batches.BATCH_ROWS_ENV, "lots")
    with pytest.raises(BatchSettingError, match="CHURNGUARD_HISTORY_BATCH_ROWS='lots' is not a whole number"):
        history_batches.batch_rows()
    monkeypatch.setenv(history_batches.BATCH_ROWS_ENV, "-1")
    with pytest.raises(BatchSettingError, match="must be 0"):
        history_batches.batch_rows()


def test_describe_plan_names_the_batches_their_length_and_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    # the line `churnguard build` prints and the Dagster step logs (one function for both)
    monkeypatch.setenv(history_batches.BATCH_ROWS_ENV, "30000")
    batches = split(D("2024-01-01"), D("2024-12-31"), rows=90_000, per_batch=30_000)
    assert batches[0] == (D("2024-01-01"), D("2024-05-01"))  # 122 days in the first batch
    assert history_batches.describe_plan(batches) == (
        "3 batches of about 122 days (CHURNGUARD_HISTORY_BATCH_ROWS=30,000 customer-days per batch)"
    )


DAY_GRAIN_AND_MARTS = [
    ("marts", "fct_customer_day"), ("intermediate", "int_health_dimension_scores"),
    ("intermediate", "int_health_rule_hits"), ("marts", "health_scores"), ("marts", "customer_alerts"),
    ("marts", "kpi_monthly"),
]


def test_cli_build_of_a_new_warehouse_runs_in_batches_and_equals_one_pass(
    isolated_warehouse: Path, sample_dir: Path, sample_warehouse: Path,
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from churnguard import cli
    from churnguard.loader import load

    load(sample_dir, isolated_warehouse)
    # At 30,000 customer-days per batch the sample's ~76,000 make 3 batches of 122 days:
    # the upstream models, two `dbt run`s, then the build of the last batch and everything after.
    monkeypatch.setenv("CHURNGUARD_HISTORY_BATCH_ROWS", "30000")
    # window-scoped tests and no unit tests: the build is what is under test, not the data
    assert cli.main(["build", "--tests", "window"]) == 0
    out = capsys.readouterr().out
    assert "3 batches of about 122 days (CHURNGUARD_HISTORY_BATCH_ROWS=30,000 customer-days per batch)" in out, out[-3000:]
    assert "batch 2/3: 2025-05-03 .. 2025-09-01" in out
    assert "batch 3/3: 2025-09-02 .. 2025-12-31, then everything downstream" in out

    # the same rows as the one-pass build of the shared sample warehouse
    batched = table_differences(isolated_warehouse, sample_warehouse, DAY_GRAIN_AND_MARTS)
    assert batched["marts.fct_customer_day"][0] > 50_000 and identical(batched), batched
    with duckdb.connect(str(isolated_warehouse), read_only=True) as con:
        first, last = con.execute("select min(date_day), max(date_day) from marts.fct_customer_day").fetchone()
    assert (first, last) == (D("2025-01-01"), D("2025-12-31"))

    # a nightly build of the built warehouse (no dates, no full refresh) is one pass
    assert history_batches.may_be_long(isolated_warehouse, full_refresh=False, start_date=None) is False
    assert history_batches.may_be_long(isolated_warehouse, full_refresh=True, start_date=None) is True
    monkeypatch.setenv("CHURNGUARD_HISTORY_BATCH_ROWS", "0")
    assert history_batches.may_be_long(isolated_warehouse, full_refresh=True, start_date=None) is False
