"""The ``churnguard`` command line.

    churnguard generate --customers N --days D --seed S --out DIR
    churnguard load DIR
    churnguard build [--full-refresh] [--start-date D] [--end-date D] [--select ...]
    churnguard run [--data DIR]
    churnguard dbt -- <any dbt arguments>
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

from churnguard import settings


def _cmd_generate(args: argparse.Namespace) -> int:
    from churnguard.generator import generate

    started = time.perf_counter()
    result = generate(
        customers=args.customers,
        days=args.days,
        seed=args.seed,
        out_dir=Path(args.out),
        start_date=date.fromisoformat(args.start),
        file_format=args.format,
    )
    elapsed = time.perf_counter() - started
    print(f"Generated {args.customers:,} customers x {args.days} days (seed {args.seed}) in {elapsed:.1f}s -> {result.out_dir}")
    for name, count in sorted(result.row_counts.items()):
        print(f"  {name:<28} {count:>12,}")
    print(f"Ground truth (read by no model): {result.truth_path}")
    return 0


def _cmd_load(args: argparse.Namespace) -> int:
    from churnguard.loader import LoadError, load, validate

    warehouse = Path(args.warehouse) if args.warehouse else settings.warehouse_path()
    try:
        if args.check:
            warnings = validate(Path(args.directory))
            for warning in warnings:
                print(f"warning: {warning}")
            print(f"{args.directory}: every raw table passes the contract (nothing was loaded).")
            return 0
        report = load(Path(args.directory), warehouse)
    except LoadError as error:
        print(str(error), file=sys.stderr)
        return 2
    print(report.format())
    return 0


def _build_vars(args: argparse.Namespace) -> dict:
    dbt_vars = {}
    if getattr(args, "start_date", None):
        dbt_vars["start_date"] = args.start_date
    if getattr(args, "end_date", None):
        dbt_vars["end_date"] = args.end_date
    return dbt_vars


def _cmd_build(args: argparse.Namespace) -> int:
    from churnguard.dbt_cli import DbtError, run_dbt

    warehouse = Path(args.warehouse) if args.warehouse else settings.warehouse_path()
    command = ["build"]
    if args.full_refresh:
        command.append("--full-refresh")
    if args.select:
        command += ["--select", *args.select]
    try:
        run_dbt(command, warehouse=warehouse, dbt_vars=_build_vars(args))
    except DbtError as error:
        print(str(error), file=sys.stderr)
        return 1
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from churnguard.pipeline import run_pipeline

    warehouse = Path(args.warehouse) if args.warehouse else settings.warehouse_path()
    data = Path(args.data) if args.data else settings.SAMPLE_DATA_DIR
    return run_pipeline(data, warehouse, full_refresh=args.full_refresh)


def _cmd_dbt(args: argparse.Namespace) -> int:
    from churnguard.dbt_cli import run_dbt

    warehouse = Path(args.warehouse) if args.warehouse else settings.warehouse_path()
    dbt_args = [a for a in args.dbt_args if a != "--"]
    return run_dbt(dbt_args, warehouse=warehouse, check=False).returncode


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="churnguard", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--warehouse",
        help=f"DuckDB warehouse file (default: $CHURNGUARD_WAREHOUSE or {settings.DEFAULT_WAREHOUSE})",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write a realistic synthetic raw dataset")
    gen.add_argument("--customers", type=int, default=1000)
    gen.add_argument("--days", type=int, default=365)
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--out", required=True, help="output folder")
    gen.add_argument("--start", default="2025-01-01", help="first day of the simulated window")
    gen.add_argument("--format", choices=["csv", "parquet"], default="parquet")
    gen.set_defaults(func=_cmd_generate)

    ld = sub.add_parser("load", help="validate a folder of raw files and load it (all or nothing)")
    ld.add_argument("directory")
    ld.add_argument("--check", action="store_true", help="only validate; do not touch the warehouse")
    ld.set_defaults(func=_cmd_load)

    build = sub.add_parser("build", help="dbt seed + build the warehouse models and tests")
    build.add_argument("--full-refresh", action="store_true")
    build.add_argument("--start-date", help="first day of customer-day facts to (re)build")
    build.add_argument("--end-date", help="last day of customer-day facts to build")
    build.add_argument("--select", nargs="+", help="dbt selection")
    build.set_defaults(func=_cmd_build)

    run = sub.add_parser("run", help="the main job: load raw data and build everything, once")
    run.add_argument("--data", help=f"raw data folder (default: the sample in {settings.SAMPLE_DATA_DIR})")
    run.add_argument("--full-refresh", action="store_true")
    run.set_defaults(func=_cmd_run)

    dbt = sub.add_parser("dbt", help="run any dbt command against the project and warehouse")
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER)
    dbt.set_defaults(func=_cmd_dbt)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
