"""benchmarks/scale.py's pure parts: the rows-written figure and the result file names."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def scale():
    spec = importlib.util.spec_from_file_location("bench_scale", REPO / "benchmarks" / "scale.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_scale"] = module
    spec.loader.exec_module(module)
    return module


def test_rows_written_per_raw_row_counts_tables_outside_the_raw_schemas(scale, tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "tiny.duckdb"))
    con.execute("create schema raw_crm; create schema raw_meta; create schema marts; create schema staging")
    con.execute("create table raw_crm.accounts as select range as id from range(4)")  # 4 raw rows
    con.execute("create table raw_meta.loads as select 1 as id")  # loader bookkeeping: not written by the build
    con.execute("create table marts.fct_customer_day as select range as id from range(6)")  # 6 written
    con.execute("create table marts.health_scores as select range as id from range(2)")  # 2 written
    con.execute("create view staging.stg_accounts as select * from raw_crm.accounts")  # a view writes nothing
    written = scale.written_rows(con)
    con.close()
    assert written == {"marts.fct_customer_day": 6, "marts.health_scores": 2}
    # 8 rows written for 4 raw rows; the fact alone 6 / 4
    assert scale.write_figures(written, raw_rows=4) == {
        "rows_written": 8,
        "tables_written": 2,
        "rows_written_per_raw_row": 2.0,
        "fct_customer_day_per_raw_row": 1.5,
    }
    assert scale.write_figures({}, raw_rows=0)["rows_written_per_raw_row"] is None


def test_result_file_names_keep_the_plain_size_for_the_default_world(scale) -> None:
    assert scale.result_name("S") == "S.json"
    assert scale.result_name("S", "saas") == "S.json"
    assert scale.result_name("S", "order_shop") == "S-order_shop.json"
    assert scale.label_of({"size": "M"}) == "M"
    assert scale.label_of({"size": "S", "world": "heavy_usage"}, long=True) == "Size S, world heavy_usage"


def test_order_log_reads_each_steps_time_from_the_progress_lines() -> None:
    spec = importlib.util.spec_from_file_location("bench_order_log", REPO / "benchmarks" / "order_log.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lines = [
        "[06:29:43]     dbt_seed_reference_data done in 42.7s\n",
        "[06:29:44]     raw_data: loaded 14 raw tables, 2,762,630 rows in 15.5s\n",  # not a step's end
        "[06:30:02]     raw_data done in 19.0s\n",
        "[06:38:16]     dbt_build_daily_facts: built fct_customer_day in 262.5s\n",  # a model, not a step
    ]
    assert module.step_seconds(lines) == {"dbt_seed_reference_data": 42.7, "raw_data": 19.0}


def _step(seconds: float, cpu: float | None = None) -> dict:
    step = {"seconds": seconds, "peak_rss_bytes": 10**8, "exit": 0}
    if cpu is not None:
        step["cpu_seconds"] = cpu
    return step


def test_check_compares_builds_on_cpu_time_not_wall_time(scale) -> None:
    # The CI run that failed: the machine slowed down during the nightly build (wall 328 s
    # against the full build's 257 s) although it did less work.
    slow_machine = {"steps": {"full_build": _step(257.2, cpu=240.0), "nightly_build": _step(327.7, cpu=150.0),
                              "incremental_run": _step(81.9, cpu=20.0)}}
    assert scale.check(slow_machine) == []
    # A nightly build that does more work than the full build is a regression.
    more_work = {"steps": {"full_build": _step(60.0, cpu=80.0), "nightly_build": _step(58.0, cpu=101.0),
                           "incremental_run": _step(10.0, cpu=12.0)}}
    assert scale.check(more_work) == ["nightly build 101.0 CPU s is more than 1.25 x the full build's 80.0 CPU s"]
    # Results stored before cpu_seconds existed are compared on wall time.
    old = {"steps": {"full_build": _step(60.0), "nightly_build": _step(76.0), "incremental_run": _step(70.0)}}
    assert scale.check(old) == [
        "incremental run 70.0 s is not less than the full build's 60.0 s",
        "nightly build 76.0 s is more than 1.25 x the full build's 60.0 s",
    ]


def test_batch_parts_dates_each_batch_of_a_build_from_its_log(scale) -> None:
    log = (
        "[    0.4s] building the models upstream of the day-grain facts\n"
        "[   30.0s] 3 batches of about 122 days (CHURNGUARD_HISTORY_BATCH_ROWS=30,000 customer-days per batch)\n"
        "[   30.1s] batch 1/3: 2025-01-01 .. 2025-05-02\n"
        "[   75.1s] batch 2/3: 2025-05-03 .. 2025-09-01\n"
        "[  130.6s] batch 3/3: 2025-09-02 .. 2025-12-31, then everything downstream\n"
    )
    parts = scale.batch_parts(log, 200.0)
    assert parts["batches"] == 3
    assert parts["batch_days"] == 122  # May 3 .. Sep 1 and Jan 1 .. May 2 are 122 days, the last 121
    assert parts["parts"] == {
        "upstream": 30.1,
        "batch 1 (2025-01-01 .. 2025-05-02)": 45.0,
        "batch 2 (2025-05-03 .. 2025-09-01)": 55.5,
        "batch 3 (2025-09-02 .. 2025-12-31), then everything downstream": 69.4,
    }
    assert scale.batch_parts("[    1.0s] one pass\n", 10.0) == {}
