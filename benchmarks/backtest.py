"""Benchmark: the health score on several generated worlds, before and after calibration.

    .venv/bin/python benchmarks/backtest.py                                   # every world
    .venv/bin/python benchmarks/backtest.py --worlds saas order_shop --json out.json

For each world (``churnguard generate --world``): generate, load, ``dbt seed`` and
``dbt run +health_scores``, backtest the default score, ``churnguard calibrate`` (fitted
on the earlier cut-offs only), rebuild the health models with the calibration, and
backtest again. The backtest scores the later (holdout) cut-offs, next to single-signal
baselines and a gradient-boosting ceiling fitted on the earlier cut-offs
(``churnguard.backtest``). Prints one Markdown table row per world; the table in
docs/BACKTEST.md comes from this script. Everything happens in a temporary folder (or
``--workdir``) with its own copy of the dbt project, so the project's seeds and warehouse
are never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

# customers per world: heavy_usage writes ~40x the logins of saas per customer
DEFAULT_SIZES = {"saas": 1500, "heavy_usage": 300, "order_shop": 1500, "steady_churners": 1500,
                 "tenure_hazard": 1500}


def run_world(world: str, customers: int, days: int, seed: int, start: date, workdir: Path) -> dict:
    from churnguard import settings
    from churnguard.backtest import run_backtest
    from churnguard.calibrate import calibrate, write_seed
    from churnguard.dbt_cli import run_dbt
    from churnguard.generator import generate
    from churnguard.loader import load

    root = workdir / world
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    project = root / "project" / "dbt_project"
    shutil.copytree(settings.DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    shutil.copytree(settings.SEEDS_DIR / "reference", root / "project" / "seeds" / "reference")
    original_project = settings.DBT_PROJECT_DIR
    settings.DBT_PROJECT_DIR = project
    os.environ["CHURNGUARD_DBT_TARGET_PATH"] = str(root / "dbt_target")
    os.environ["CHURNGUARD_DBT_LOG_PATH"] = str(root / "dbt_logs")
    warehouse = root / "warehouse.duckdb"
    timings = {}
    try:
        started = time.perf_counter()
        generate(customers, days, seed, root / "raw", start_date=start, file_format="parquet", world=world)
        load(root / "raw", warehouse)
        run_dbt(["seed"], warehouse=warehouse, capture=True)
        run_dbt(["run", "--select", "+health_scores"], warehouse=warehouse, capture=True)
        timings["build_s"] = round(time.perf_counter() - started)
        default = run_backtest(warehouse)
        calibration = calibrate(warehouse)
        write_seed(calibration, root / "project" / "seeds" / "reference" / "health_calibration.csv")
        started = time.perf_counter()
        run_dbt(["seed", "--full-refresh", "--select", "health_calibration"], warehouse=warehouse, capture=True)
        run_dbt(["run", "--full-refresh", "--select", "int_health_dimension_scores+,+health_scores"],
                warehouse=warehouse, capture=True)
        timings["rebuild_s"] = round(time.perf_counter() - started)
        calibrated = run_backtest(warehouse)
    finally:
        settings.DBT_PROJECT_DIR = original_project
    print(f"\n### {world}: default score\n{default.format()}\n\n{calibration.format()}\n\n"
          f"### {world}: calibrated score\n{calibrated.format()}", flush=True)
    return {"world": world, "customers": customers, "days": days, "seed": seed, "timings": timings,
            "default": default.to_dict(), "calibrated": calibrated.to_dict(),
            "calibration": {"auc_before": calibration.auc_before, "auc_after_estimate": calibration.auc_after,
                            "dimension_weights": calibration.dimension_weights}}


def table(results: list[dict]) -> str:
    lines = [
        "| world | customers x days | churn in 90 d | default score AUC | calibrated score AUC | "
        "calibrated probability AUC | best single signal (AUC) | fitted ceiling AUC | calibrated score / ceiling | "
        "top-decile lift (calibrated) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        d, c = r["default"], r["calibrated"]
        best = c["best_single_signal"]
        prob = c["churn_probability"]["auc"] if c.get("churn_probability") else float("nan")
        ceiling = c["ceiling"]["auc"] if c.get("ceiling") else float("nan")
        lines.append(
            f"| {r['world']} | {r['customers']:,} x {r['days']} | {c['churn_rate']:.1%} | "
            f"{d['health_score']['auc']:.3f} | {c['health_score']['auc']:.3f} | {prob:.3f} | "
            f"{best['name']} ({best['auc']:.3f}) | {ceiling:.3f} | {c['health_score']['auc'] / ceiling:.1%} | "
            f"{c['health_score']['top_decile_lift']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worlds", nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--customers", type=int, help="customers in every world (default: per world)")
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", default="2024-01-01")
    parser.add_argument("--workdir", help="keep the data and warehouses here (default: a temp folder)")
    parser.add_argument("--json", help="write the figures to this JSON file")
    args = parser.parse_args(argv)

    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="churnguard-backtest-"))
    results = []
    for world in args.worlds:
        customers = args.customers or DEFAULT_SIZES.get(world, 2000)
        print(f"==> {world}: {customers} customers x {args.days} days, seed {args.seed}", flush=True)
        results.append(run_world(world, customers, args.days, args.seed, date.fromisoformat(args.start), workdir))
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    print("\n" + table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
