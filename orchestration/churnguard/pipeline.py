"""The main job, run once end to end: load raw data, build every model, summarise.

(The Dagster code location runs the same steps as assets on a nightly schedule.)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import duckdb

from churnguard.dbt_cli import DbtError, run_dbt
from churnguard.loader import LoadError, load


def _step(name: str):
    print(f"==> {name}", flush=True)
    return time.perf_counter()


def _done(started: float) -> None:
    print(f"    done in {time.perf_counter() - started:.1f}s", flush=True)


def summarise(warehouse: Path) -> str:
    """A short, human summary of the warehouse read with a read-only connection."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        as_of, history_start = con.execute(
            "select as_of_date, history_start_date from utilities.util_date_bounds"
        ).fetchone()
        customers, customer_days = con.execute(
            "select count(distinct customer_id), count(*) from marts.fct_customer_day"
        ).fetchone()
        status_rows = con.execute(
            "select current_status, count(*), sum(current_mrr) from marts.dim_customers group by 1 order by 1"
        ).fetchall()
    finally:
        con.close()
    lines = [
        f"Warehouse {warehouse}",
        f"  history {history_start} .. {as_of} (as-of date)",
        f"  {customers:,} customers, {customer_days:,} customer-days in marts.fct_customer_day",
        "  customers by status on the as-of date:",
    ]
    for status, count, mrr in status_rows:
        lines.append(f"    {status:<12} {count:>8,}   MRR {float(mrr or 0):>14,.2f}")
    return "\n".join(lines)


def run_pipeline(data_dir: Path, warehouse: Path, *, full_refresh: bool = False) -> int:
    started_all = time.perf_counter()
    started = _step(f"load raw data from {data_dir}")
    try:
        report = load(data_dir, warehouse)
    except LoadError as error:
        print(str(error), file=sys.stderr)
        return 2
    print(report.format())
    _done(started)

    started = _step("dbt build (seeds, models, tests)")
    try:
        run_dbt(["build", *(["--full-refresh"] if full_refresh else [])], warehouse=warehouse)
    except DbtError as error:
        print(str(error), file=sys.stderr)
        return 1
    _done(started)

    print(summarise(warehouse))
    print(f"Finished in {time.perf_counter() - started_all:.1f}s")
    return 0
