"""Benchmark: generate a synthetic customer base, build the warehouse, backtest the health score.

    .venv/bin/python benchmarks/backtest.py                       # 3,000 customers x 730 days, seed 7
    .venv/bin/python benchmarks/backtest.py --customers 5000 --seed 11 --json docs/backtest_5000.json

Steps, each timed: ``churnguard generate`` (Parquet), ``load``, ``dbt seed`` and ``dbt run`` of
the models the health score needs (``+health_scores``; tests are not run here, the test
suite runs them),
then the backtest (``churnguard.backtest``) at the 90-day horizon of the SPEC and, for
context, at 30 and 60 days. The ground truth of the generator is compared with the
warehouse's churn dates. Everything happens in a temporary folder (or ``--workdir``), never
in the project's warehouse.

The figures reported in docs/BACKTEST.md come from this script.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", default="2024-01-01", help="first day of the simulated window (must end before today)")
    parser.add_argument("--horizons", type=int, nargs="+", default=[90, 60, 30])
    parser.add_argument("--workdir", help="keep the generated data and warehouse here (default: a temp folder)")
    parser.add_argument("--json", help="write the figures to this JSON file")
    args = parser.parse_args(argv)

    from churnguard.backtest import run_backtest
    from churnguard.dbt_cli import run_dbt
    from churnguard.generator import generate
    from churnguard.loader import load

    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="churnguard-backtest-"))
    workdir.mkdir(parents=True, exist_ok=True)
    raw = workdir / "raw"
    warehouse = workdir / "warehouse.duckdb"
    os.environ["CHURNGUARD_DBT_TARGET_PATH"] = str(workdir / "dbt_target")
    os.environ["CHURNGUARD_DBT_LOG_PATH"] = str(workdir / "dbt_logs")
    timings: dict[str, float] = {}

    def step(name: str, func):
        print(f"==> {name}", flush=True)
        started = time.perf_counter()
        value = func()
        timings[name] = round(time.perf_counter() - started, 1)
        print(f"    {timings[name]:.1f}s", flush=True)
        return value

    generated = step("generate", lambda: generate(
        customers=args.customers, days=args.days, seed=args.seed, out_dir=raw,
        start_date=date.fromisoformat(args.start), file_format="parquet",
    ))
    if warehouse.exists():
        warehouse.unlink()
    step("load", lambda: load(raw, warehouse))
    step("dbt seed + run +health_scores", lambda: (
        run_dbt(["seed"], warehouse=warehouse, capture=True),
        run_dbt(["run", "--select", "+health_scores"], warehouse=warehouse, capture=True),
    ))
    results = {}
    for horizon in args.horizons:
        results[horizon] = step(f"backtest {horizon}d", lambda h=horizon: run_backtest(
            warehouse, horizon_days=h, truth_path=generated.truth_path,
        ))

    print()
    print(f"Generator: {args.customers:,} customers x {args.days} days from {args.start}, seed {args.seed}")
    for horizon, result in results.items():
        print()
        print(result.format())
    print()
    print("Timings (s): " + ", ".join(f"{name} {seconds}" for name, seconds in timings.items()))
    if args.json:
        payload = {
            "generator": {"customers": args.customers, "days": args.days, "seed": args.seed, "start": args.start},
            "timings_seconds": timings,
            "results": {str(h): r.to_dict() for h, r in results.items()},
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"Wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
