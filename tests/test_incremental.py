"""Incremental builds of fct_customer_day equal a full refresh, row for row.

- Two halves with late-arriving rows in between: the first half is built from an export
  taken at a cutoff (rows synced later are missing), then the full export is loaded and
  an incremental run picks up the new days and the late rows inside its lookback window.
- Partitions and a backfill: days built in three ranges (start/end vars), as a
  scheduler would, then a plain incremental run.
- A negative control: with a lookback shorter than the rows' lateness, the incremental
  result differs, so the comparison above can fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from churnguard.dbt_cli import run_dbt
from churnguard.loader import load

pytestmark = pytest.mark.xdist_group("test_incremental")  # one worker: its module fixtures build the full refresh and the cut-off export once

FACT_MODELS = ["--select", "+fct_customer_day"]
CUTOFF = pd.Timestamp("2025-09-15T00:00:00Z")
CUTOFF_DAY = "2025-09-14"  # last day fully exported at the cutoff
EVENT_TABLES = {
    "crm__logins": "logged_in_at",
    "crm__interactions": "occurred_at",
    "billing__orders": "ordered_at",
    "billing__payments": "paid_at",
    "support__csat_ratings": "rated_at",
    "support__nps_responses": "responded_at",
}


def _dbt(warehouse: Path, args: list[str], dbt_vars: dict | None = None) -> None:
    os.environ["CHURNGUARD_DBT_TARGET_PATH"] = str(warehouse.parent / "dbt_target")
    os.environ["CHURNGUARD_DBT_LOG_PATH"] = str(warehouse.parent / "dbt_logs")
    run_dbt(args, warehouse=warehouse, dbt_vars=dbt_vars, capture=True)


def _export_at_cutoff(sample_dir: Path, out: Path) -> int:
    """Copy the sample, dropping event rows not yet synced at the cutoff. Returns how many
    dropped rows are late: their event happened on or before the cutoff day."""
    out.mkdir(parents=True)
    late = 0
    for path in sample_dir.glob("*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        stem = path.name.removesuffix(".csv")
        if stem in EVENT_TABLES:
            synced = pd.to_datetime(frame["_synced_at"], utc=True)
            happened = pd.to_datetime(frame[EVENT_TABLES[stem]], utc=True)
            late += int(((synced >= CUTOFF) & (happened < CUTOFF)).sum())
            frame = frame[synced < CUTOFF]
        frame.to_csv(out / path.name, index=False)
    return late


def _differences(a: Path, b: Path) -> tuple[int, int, int]:
    """(rows in a, rows only in a, rows only in b) of marts.fct_customer_day."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{a}' as a (read_only)")
        con.execute(f"attach '{b}' as b (read_only)")
        rows = con.execute("select count(*) from a.marts.fct_customer_day").fetchone()[0]
        only_a = con.execute(
            "select count(*) from (select * from a.marts.fct_customer_day except all "
            "select * from b.marts.fct_customer_day)"
        ).fetchone()[0]
        only_b = con.execute(
            "select count(*) from (select * from b.marts.fct_customer_day except all "
            "select * from a.marts.fct_customer_day)"
        ).fetchone()[0]
    finally:
        con.close()
    return rows, only_a, only_b


@pytest.fixture(scope="module")
def full_refresh(tmp_path_factory, sample_dir) -> Path:
    warehouse = tmp_path_factory.mktemp("full") / "wh.duckdb"
    load(sample_dir, warehouse)
    _dbt(warehouse, ["run", *FACT_MODELS, "--full-refresh"])
    return warehouse


@pytest.fixture(scope="module")
def cutoff_export(tmp_path_factory, sample_dir) -> tuple[Path, int]:
    out = tmp_path_factory.mktemp("export") / "at_cutoff"
    late = _export_at_cutoff(sample_dir, out)
    return out, late


def _two_halves(tmp_path: Path, sample_dir: Path, export: Path, lookback_days: int) -> Path:
    warehouse = tmp_path / "wh.duckdb"
    load(export, warehouse)
    _dbt(warehouse, ["run", *FACT_MODELS], {"end_date": CUTOFF_DAY})
    load(sample_dir, warehouse)  # the next export: new days plus the late rows
    _dbt(warehouse, ["run", *FACT_MODELS], {"lookback_days": lookback_days})
    return warehouse


def test_incremental_run_after_late_rows_equals_full_refresh(tmp_path, sample_dir, cutoff_export, full_refresh):
    export, late_rows = cutoff_export
    assert late_rows >= 10, "the sample must contain rows that arrive after the cutoff for days before it"
    warehouse = _two_halves(tmp_path, sample_dir, export, lookback_days=7)
    rows, only_incremental, only_full = _differences(warehouse, full_refresh)
    assert rows > 50_000
    assert (only_incremental, only_full) == (0, 0)


def test_lookback_shorter_than_lateness_misses_late_rows(tmp_path, sample_dir, cutoff_export, full_refresh):
    export, _ = cutoff_export
    warehouse = _two_halves(tmp_path, sample_dir, export, lookback_days=1)
    _, only_incremental, only_full = _differences(warehouse, full_refresh)
    assert only_incremental > 0 and only_full > 0


def test_partitions_and_a_backfill_equal_full_refresh(tmp_path, sample_dir, full_refresh):
    warehouse = tmp_path / "wh.duckdb"
    load(sample_dir, warehouse)
    _dbt(warehouse, ["run", *FACT_MODELS], {"end_date": "2025-03-31"})
    _dbt(warehouse, ["run", "--select", "fct_customer_day"], {"start_date": "2025-04-01", "end_date": "2025-04-03"})
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        last_day = con.execute("select max(date_day) from marts.fct_customer_day").fetchone()[0]
    finally:
        con.close()
    assert str(last_day) == "2025-04-03"
    _dbt(warehouse, ["run", "--select", "fct_customer_day"])  # nightly run: everything since
    rows, only_partitioned, only_full = _differences(warehouse, full_refresh)
    assert rows > 50_000
    assert (only_partitioned, only_full) == (0, 0)


def test_rerunning_a_partition_gives_identical_rows(tmp_path, sample_dir, full_refresh):
    warehouse = tmp_path / "wh.duckdb"
    load(sample_dir, warehouse)
    _dbt(warehouse, ["run", *FACT_MODELS, "--full-refresh"])
    _dbt(warehouse, ["run", "--select", "fct_customer_day"], {"start_date": "2025-06-10", "end_date": "2025-06-12"})
    _dbt(warehouse, ["run", "--select", "fct_customer_day"], {"start_date": "2025-06-10", "end_date": "2025-06-12"})
    assert _differences(warehouse, full_refresh)[1:] == (0, 0)
