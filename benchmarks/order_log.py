"""The order-only world, end to end: generate a purchase-log-shaped
world (``churnguard generate --world order_shop``, by default 23,570 customers x 548 days,
about the real purchase log's shape), then ``churnguard run`` on it (load, dbt build, quality
gate, delivery: the nightly Dagster job, once) in a scratch folder, and print

- the wall time of the whole run and of each Dagster step (from the run's progress lines),
- the warehouse file size (the ``.duckdb`` file and its ``.wal``),
- raw rows loaded, ``fct_customer_day`` rows and how many of them are churned days,
- the rows written outside the raw schemas per raw row (``scale.written_rows``),
- the 1-minute load average before and after (the machine may be shared).

    .venv/bin/python benchmarks/order_log.py [--customers 23570] [--days 548] [--seed 7]
                                             [--workdir DIR] [--keep] [--json FILE]

Target: the run in <= 90 s and a warehouse <= 200 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import CHURNGUARD, FACT_TABLE, write_figures, written_rows  # noqa: E402

TARGET_SECONDS = 90
TARGET_BYTES = 200 * 1000**2
STEP_DONE = re.compile(r"^\[[\d:]+\]\s+(\S+) done in ([\d.]+)s")


def step_seconds(lines: list[str]) -> dict[str, float]:
    """``{step: seconds}`` from the run's ``    <step> done in 12.3s`` progress lines."""
    steps: dict[str, float] = {}
    for line in lines:
        match = STEP_DONE.match(line.rstrip())
        if match:
            steps[match.group(1)] = steps.get(match.group(1), 0.0) + float(match.group(2))
    return steps


def warehouse_figures(warehouse: Path) -> dict:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        raw = con.execute(
            "select table_schema, table_name from information_schema.tables where table_schema like 'raw\\_%' "
            "escape '\\' and table_schema != 'raw_meta' and table_type = 'BASE TABLE'"
        ).fetchall()
        raw_rows = sum(con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0] for s, t in raw)
        fact_rows, churned_days = con.execute(
            f"select count(*), count(*) filter (where customer_status = 'churned') from {FACT_TABLE}"
        ).fetchone()
        written = written_rows(con)
    finally:
        con.close()
    return {
        "raw_rows": raw_rows,
        "fct_customer_day_rows": fact_rows,
        "fct_customer_day_churned_days": churned_days,
        **write_figures(written, raw_rows),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=23_570)
    parser.add_argument("--days", type=int, default=548)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", default="2024-06-01")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/churnguard-order-log"))
    parser.add_argument("--keep", action="store_true", help="keep the raw data and the warehouse")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    workdir = args.workdir.resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    raw, warehouse = workdir / "raw", workdir / "warehouse" / "churnguard.duckdb"
    env = dict(os.environ)
    env.update(
        CHURNGUARD_WAREHOUSE=str(warehouse),
        CHURNGUARD_DBT_TARGET_PATH=str(workdir / "dbt_target"),
        CHURNGUARD_DBT_LOG_PATH=str(workdir / "dbt_logs"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        # the generated world ends in the past: the stale-data guard would stop the delivery
        CHURNGUARD_OVERRIDE_STALE_DATA="benchmark on a generated world that ends in the past",
    )
    env.pop("CHURNGUARD_DESTINATIONS_FILE", None)
    figures: dict = {"customers": args.customers, "days": args.days, "seed": args.seed, "start": args.start,
                     "world": "order_shop", "load_before": round(os.getloadavg()[0], 2)}

    started = time.perf_counter()
    subprocess.run([*CHURNGUARD, "generate", "--world", "order_shop", "--customers", str(args.customers),
                    "--days", str(args.days), "--seed", str(args.seed), "--start", args.start,
                    "--format", "parquet", "--out", str(raw)], env=env, check=True, stdout=subprocess.DEVNULL)
    figures["generate_seconds"] = round(time.perf_counter() - started, 1)

    log = workdir / "run.log"
    started = time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen([*CHURNGUARD, "run", "--data", str(raw)], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        lines = []
        for line in process.stdout:
            out.write(line)
            lines.append(line)
            print(line, end="", flush=True)
        figures["run_exit"] = process.wait()
    figures["run_seconds"] = round(time.perf_counter() - started, 1)
    figures["load_after"] = round(os.getloadavg()[0], 2)
    figures["step_seconds"] = step_seconds(lines)
    figures["warehouse_bytes"] = sum(p.stat().st_size for p in warehouse.parent.glob(warehouse.name + "*")
                                     if p.is_file())
    figures.update(warehouse_figures(warehouse))
    figures["target_met"] = (figures["run_exit"] == 0 and figures["run_seconds"] <= TARGET_SECONDS
                             and figures["warehouse_bytes"] <= TARGET_BYTES)

    print()
    print(f"run: {figures['run_seconds']} s (exit {figures['run_exit']}); load {figures['load_before']} before, "
          f"{figures['load_after']} after; generate {figures['generate_seconds']} s")
    for step, seconds in sorted(figures["step_seconds"].items(), key=lambda item: -item[1]):
        print(f"  {step:40s} {seconds:8.1f} s")
    print(f"warehouse: {figures['warehouse_bytes'] / 1000**2:.0f} MB; raw rows {figures['raw_rows']:,}; "
          f"fct_customer_day {figures['fct_customer_day_rows']:,} rows, "
          f"{figures['fct_customer_day_churned_days']:,} of them churned days; "
          f"rows written {figures['rows_written']:,} = {figures['rows_written_per_raw_row']} per raw row")
    print(f"target (<= {TARGET_SECONDS} s, <= {TARGET_BYTES / 1000**2:.0f} MB): "
          + ("met" if figures["target_met"] else "NOT met"))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if not args.keep:
        shutil.rmtree(raw, ignore_errors=True)
    return 0 if figures["run_exit"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
