"""The ``churnguard`` command line.

    churnguard generate --customers N --days D --seed S --out DIR [--world NAME]
    churnguard load DIR
    churnguard build [--full-refresh] [--start-date D] [--end-date D] [--select ...]
    churnguard run [--data DIR] [--full-refresh]
    churnguard ui [--host H] [--port P] [--no-daemon]
    churnguard dbt -- <any dbt arguments>   (e.g. churnguard dbt -- docs generate)
    churnguard sync [--dry-run] [--destination NAME] [--override-volume-check REASON] [--retry-dead-letters]
    churnguard quality [--suite NAME] [--no-docs]
    churnguard backtest [--horizon-days N] [--truth CSV] [--json PATH] [--min-auc X]
    churnguard metrics METRIC... [--group-by NAME...] [--where SQL] [--order NAME...] [--list]
"""

from __future__ import annotations

import argparse
import os
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
        world=args.world,
    )
    elapsed = time.perf_counter() - started
    print(f"Generated {args.customers:,} customers x {args.days} days (seed {args.seed}, world {args.world}) "
          f"in {elapsed:.1f}s -> {result.out_dir}")
    for name, count in sorted(result.row_counts.items()):
        print(f"  {name:<28} {count:>12,}")
    print(f"Ground truth (read by no model): {result.truth_path}")
    return 0


def _cmd_load(args: argparse.Namespace) -> int:
    from churnguard.defs.locking import WarehouseBusyError
    from churnguard.loader import LoadError, load, validate

    warehouse = Path(args.warehouse) if args.warehouse else settings.warehouse_path()
    try:
        if args.check:
            warnings = validate(Path(args.directory))
            for warning in warnings:
                print(f"warning: {warning}")
            print(f"{args.directory}: every raw table passes the contract (nothing was loaded).")
            return 0
        with _writer_lock(warehouse, f"churnguard load {args.directory}"):
            report = load(Path(args.directory), warehouse, allow_shrink=args.allow_shrink or None)
    except WarehouseBusyError as error:
        print(str(error), file=sys.stderr)
        return 3
    except LoadError as error:
        print(str(error), file=sys.stderr)
        return 2
    print(report.format())
    return 0


def _iso_date(text: str) -> str:
    """argparse type: a real calendar date written YYYY-MM-DD (2025-13-01 is refused)."""
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a calendar date YYYY-MM-DD") from None


def _check_date_range(args: argparse.Namespace) -> str | None:
    """The problem with --start-date/--end-date, if any (a reversed range builds nothing useful)."""
    start, end = getattr(args, "start_date", None), getattr(args, "end_date", None)
    if start and end and start > end:
        return f"--start-date {start} is after --end-date {end}: give the first day, then the last"
    as_of = getattr(args, "as_of_date", None)
    for name, day in (("--start-date", start), ("--end-date", end)):
        if as_of and day and day > as_of:
            return f"{name} {day} is after --as-of-date {as_of}: the warehouse has no days after its as-of date"
    return None


def _build_vars(args: argparse.Namespace, warehouse: Path | None = None) -> dict:
    dbt_vars = {}
    if warehouse is not None:
        from churnguard import data_test_scope

        dbt_vars["test_scope"] = data_test_scope.choose(
            warehouse, getattr(args, "tests", "auto"), full_refresh=getattr(args, "full_refresh", False)
        )
    if getattr(args, "start_date", None):
        dbt_vars["start_date"] = args.start_date
    if getattr(args, "end_date", None):
        dbt_vars["end_date"] = args.end_date
    if getattr(args, "as_of_date", None):
        dbt_vars["as_of_date"] = args.as_of_date
    return dbt_vars


def _cmd_build(args: argparse.Namespace) -> int:
    from churnguard import history_batches
    from churnguard.data_test_scope import ScopeSettingError, dbt_build_args
    from churnguard.dbt_cli import DbtError, run_dbt
    from churnguard.defs.locking import WarehouseBusyError

    problem = _check_date_range(args)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    warehouse = Path(args.warehouse) if args.warehouse else settings.warehouse_path()
    command = ["build"]
    if args.full_refresh:
        command.append("--full-refresh")
    if args.select:
        command += ["--select", *args.select]

    def build() -> None:
        with _writer_lock(warehouse, "churnguard build"):
            dbt_vars = _build_vars(args, warehouse)
            extra = dbt_build_args(dbt_vars["test_scope"])
            if not args.select and history_batches.may_be_long(
                warehouse, full_refresh=args.full_refresh, start_date=args.start_date
            ):  # a long history: in batches of days when it is too big for one pass
                history_batches.build(warehouse, dbt_vars, full_refresh=args.full_refresh, extra_args=extra,
                                      progress=not args.dbt_log)
            else:
                run_dbt(command + extra, warehouse=warehouse, dbt_vars=dbt_vars, progress=not args.dbt_log)

    return _exit_code(build, {ScopeSettingError: 2, WarehouseBusyError: 3, DbtError: 1,
                              history_batches.BatchSettingError: 2})


def _exit_code(step, codes: dict[type[Exception], int]) -> int:
    """Run ``step``; an exception of a listed type prints its message (no traceback) and
    gives that exit code, anything else propagates."""
    try:
        step()
    except tuple(codes) as error:
        print(str(error), file=sys.stderr)
        return next(code for kind, code in codes.items() if isinstance(error, kind))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from churnguard.pipeline import run_pipeline

    warehouse = Path(args.warehouse) if args.warehouse else settings.warehouse_path()
    data = Path(args.data) if args.data else None  # None: $CHURNGUARD_RAW_DATA_DIR, else the sample
    return run_pipeline(data, warehouse, full_refresh=args.full_refresh)


def _cmd_ui(args: argparse.Namespace) -> int:
    from churnguard.defs.ui import start_ui

    warehouse = Path(args.warehouse) if args.warehouse else settings.warehouse_path()
    return start_ui(args.host, args.port, warehouse, daemon=not args.no_daemon)


def _writer_lock(warehouse: Path, what: str):
    """The warehouse's write lock (see churnguard.defs.locking), held by every writer."""
    from churnguard.defs.locking import warehouse_lock

    return warehouse_lock(warehouse, holder=f"{what} (pid {os.getpid()})")


DBT_USAGE = """\
usage: churnguard dbt -- <dbt command and arguments>

Runs the dbt installed with churnguard on the churnguard dbt project (dbt_project/) and
warehouse (--warehouse or $CHURNGUARD_WAREHOUSE); --project-dir and --profiles-dir are set
for you. Examples:

  churnguard dbt -- ls --select marts            list the marts
  churnguard dbt -- test --select kpi_monthly    run one model's tests
  churnguard dbt -- docs generate                build the dbt docs site
  churnguard dbt -- run --help                   dbt's own help for one command

For the nightly build use `churnguard run` (or `churnguard build`): they hold the warehouse
lock and choose the partitions and test scope; `churnguard dbt` does neither.
"""


def _cmd_dbt(args: argparse.Namespace) -> int:
    from churnguard.dbt_cli import run_dbt

    warehouse = Path(args.warehouse) if args.warehouse else settings.warehouse_path()
    dbt_args = [a for a in args.dbt_args if a != "--"]
    if not dbt_args:
        print(DBT_USAGE, file=sys.stderr, end="")
        return 2
    return run_dbt(dbt_args, warehouse=warehouse, check=False).returncode


def _cmd_metrics(args: argparse.Namespace) -> int:
    from churnguard.defs.warehouse import WarehouseUnavailableError
    from churnguard.metrics import MetricsError, list_metrics, query_metrics

    if args.list or not args.metric:
        for name, label in list_metrics():
            print(f"{name:<32} {label}")
        if not args.list:
            print("\nusage: churnguard metrics METRIC... [--group-by metric_time__month kpi_period__segment]",
                  file=sys.stderr)
            return 2
        return 0
    warehouse = Path(args.warehouse) if args.warehouse else settings.warehouse_path()
    try:
        result = query_metrics(
            args.metric, args.group_by or (), where=args.where or (), order_by=args.order or (), limit=args.limit,
            warehouse=warehouse,
        )
    except (MetricsError, WarehouseUnavailableError) as error:
        print(f"churnguard metrics: {error}", file=sys.stderr)
        return 2
    if args.sql:
        print(result.sql)
    print(result.format())
    return 0


def _cmd_backtest(args: argparse.Namespace) -> int:
    from churnguard.backtest import BacktestError, run_backtest, write_json

    warehouse = Path(args.warehouse) if args.warehouse else settings.warehouse_path()
    try:
        result = run_backtest(
            warehouse,
            horizon_days=args.horizon_days,
            warmup_days=args.warmup_days,
            label_delay_days=args.label_delay_days,
            truth_path=Path(args.truth) if args.truth else None,
        )
    except BacktestError as error:
        print(str(error), file=sys.stderr)
        return 2
    print(result.format())
    if args.json:
        write_json(result, Path(args.json))
    if args.min_auc is not None and result.health_score.auc < args.min_auc:
        print(f"health score AUC {result.health_score.auc:.3f} is below the floor {args.min_auc}", file=sys.stderr)
        return 1
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from churnguard.calibrate import CalibrationError, apply, calibrate, reset_seed, write_seed
    from churnguard.dbt_cli import DbtError
    from churnguard.defs.locking import WarehouseBusyError

    warehouse = Path(args.warehouse) if args.warehouse else settings.warehouse_path()

    def run() -> None:
        if args.reset:
            path = reset_seed()
            print(f"calibration removed ({path} is back to its shipped state): the score uses its defaults")
        else:
            result = calibrate(warehouse, horizon_days=args.horizon_days, holdout_share=args.holdout_share)
            print(result.format())
            path = write_seed(result)
            print(f"written to {path}")
        if args.no_apply:
            print("not applied: run `churnguard dbt seed --select health_calibration` and "
                  "`churnguard build --full-refresh --select int_health_dimension_scores+`")
            return
        with _writer_lock(warehouse, "churnguard calibrate"):
            apply(warehouse)
        print("applied: health scores, alerts and KPIs rebuilt with the calibration")

    return _exit_code(run, {CalibrationError: 2, WarehouseBusyError: 3, DbtError: 1})


def build_parser() -> argparse.ArgumentParser:
    from churnguard import __version__

    parser = argparse.ArgumentParser(prog="churnguard", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"churnguard {__version__}")
    parser.add_argument(
        "--warehouse",
        help=f"DuckDB warehouse file (default: $CHURNGUARD_WAREHOUSE or {settings.DEFAULT_WAREHOUSE})",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write a realistic synthetic raw dataset")
    gen.add_argument("--customers", type=int, default=1000, help="number of customer accounts (default 1000)")
    gen.add_argument("--days", type=int, default=365, help="days of history to simulate (default 365)")
    gen.add_argument("--seed", type=int, default=42, help="random seed: the same seed writes the same data (default 42)")
    gen.add_argument("--out", required=True, help="output folder")
    gen.add_argument("--start", default="2025-01-01", help="first day of the simulated window")
    gen.add_argument("--format", choices=["csv", "parquet"], default="parquet", help="file format (default parquet)")
    gen.add_argument(
        "--world", choices=["saas", "heavy_usage", "order_shop", "steady_churners", "tenure_hazard"], default="saas",
        help="which simulated customer base (default saas); see docs/GENERATOR.md, 'Worlds'",
    )
    gen.set_defaults(func=_cmd_generate)

    ld = sub.add_parser("load", help="validate a folder of raw files and load it (all or nothing)")
    ld.add_argument("directory", help="folder of raw files, one per contract table (see docs/RAW_DATA_CONTRACT.md)")
    ld.add_argument("--check", action="store_true", help="only validate; do not touch the warehouse")
    ld.add_argument("--allow-shrink", action="store_true",
                    help="accept tables that lose more than CHURNGUARD_MAX_SHRINK_SHARE (50%%) of their rows")
    ld.set_defaults(func=_cmd_load)

    build = sub.add_parser("build", help="dbt seed + build the warehouse models and tests")
    build.add_argument("--full-refresh", action="store_true", help="rebuild the incremental models from scratch")
    build.add_argument("--start-date", type=_iso_date, help="first day of customer-day facts to (re)build (YYYY-MM-DD)")
    build.add_argument("--end-date", type=_iso_date, help="last day of customer-day facts to build (YYYY-MM-DD)")
    build.add_argument(
        "--as-of-date", type=_iso_date,
        help="build the warehouse as it was at the end of this day: facts, KPIs and tests stop there "
        "(default: the last day of the raw data)",
    )
    build.add_argument("--select", nargs="+", help="dbt selection (e.g. --select marts.kpis)")
    build.add_argument(
        "--tests", choices=["auto", "full", "window"], default="auto",
        help="rows the data tests read: every row (full), or only the days this build wrote (window); "
        "auto (default) = window on an already built warehouse, full when it is new, on --full-refresh "
        "and on $CHURNGUARD_FULL_TESTS_WEEKDAY (default sunday)",
    )
    build.add_argument(
        "--dbt-log", action="store_true",
        help="print dbt's own console log instead of one line per model and failed test",
    )
    build.set_defaults(func=_cmd_build)

    run = sub.add_parser("run", help="the main job: load raw data and build everything, once")
    run.add_argument(
        "--data", help=f"raw data folder (default: $CHURNGUARD_RAW_DATA_DIR, else the sample in {settings.SAMPLE_DATA_DIR})"
    )
    run.add_argument("--full-refresh", action="store_true", help="rebuild every model and every daily partition")
    run.set_defaults(func=_cmd_run)

    ui = sub.add_parser("ui", help="the Dagster UI (dg dev: webserver + daemon) on this warehouse")
    ui.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ui.add_argument("--port", type=int, default=3000, help="port to listen on (default 3000)")
    ui.add_argument("--no-daemon", action="store_true", help="webserver only: no schedule, sensors or run queue")
    ui.set_defaults(func=_cmd_ui)

    dbt = sub.add_parser(
        "dbt", help="run any dbt command against the project and warehouse: churnguard dbt -- <dbt arguments>"
    )
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER, help="dbt's command and arguments, after --")
    dbt.set_defaults(func=_cmd_dbt)

    cal = sub.add_parser(
        "calibrate",
        help="fit the health score's curves, weights and churn probability to the warehouse's own history",
    )
    cal.add_argument("--horizon-days", type=int, default=90, help="churn within this many days after a cut-off")
    cal.add_argument("--holdout-share", type=float, default=0.5,
                     help="share of the latest cut-offs kept out of the fit and used to compare before and after")
    cal.add_argument("--no-apply", action="store_true",
                     help="only write seeds/reference/health_calibration.csv; do not rebuild the warehouse")
    cal.add_argument("--reset", action="store_true", help="remove the calibration and go back to the defaults")
    cal.set_defaults(func=_cmd_calibrate)

    backtest = sub.add_parser(
        "backtest", help="score the health score as a churn predictor on the warehouse's history (no look-ahead)"
    )
    backtest.add_argument("--horizon-days", type=int, default=90, help="churn within this many days after a cut-off")
    backtest.add_argument("--warmup-days", type=int, default=120, help="first cut-off this long after the history start")
    backtest.add_argument("--label-delay-days", type=int, default=30,
                          help="last cut-off leaves this long for churn to be recognised (the grace gap)")
    backtest.add_argument("--truth", help="generator ground truth (_truth/churn_truth.csv) to compare churn dates with")
    backtest.add_argument("--json", help="also write the figures to this JSON file")
    backtest.add_argument("--min-auc", type=float, help="exit 1 when the health score's ROC AUC is below this floor")
    backtest.set_defaults(func=_cmd_backtest)

    metrics = sub.add_parser(
        "metrics", help="query the KPI semantic layer (MetricFlow): e.g. churnguard metrics customer_churn_rate "
        "--group-by metric_time__month kpi_period__segment"
    )
    metrics.add_argument("metric", nargs="*", help="metric names (see --list)")
    metrics.add_argument("--group-by", nargs="+", metavar="NAME",
                         help="dimensions, e.g. metric_time__month kpi_period__segment alert__alert_tier")
    metrics.add_argument("--where", action="append", metavar="SQL",
                         help="MetricFlow filter, e.g. \"{{ Dimension('kpi_period__segment') }} = 'all'\" (repeatable)")
    metrics.add_argument("--order", nargs="+", metavar="NAME", help="order by these (prefix - for descending)")
    metrics.add_argument("--limit", type=int, help="at most this many rows")
    metrics.add_argument("--sql", action="store_true", help="also print the SQL MetricFlow generated")
    metrics.add_argument("--list", action="store_true", help="list the metrics and exit")
    metrics.set_defaults(func=_cmd_metrics)

    from churnguard.delivery.cli import add_parsers as add_delivery_parsers

    add_delivery_parsers(sub)
    _list_suites_on_error(sub)
    return parser


def _suite_name(value: str) -> str:
    """``quality --suite``: a known suite, else an error that lists the valid names."""
    from churnguard.quality.suites import suite_names

    names = suite_names()
    if value not in names:
        raise argparse.ArgumentTypeError(f"unknown suite {value!r}; valid suites: {', '.join(names)}")
    return value


def _list_suites_on_error(sub) -> None:
    quality = sub.choices.get("quality")
    for action in getattr(quality, "_actions", []):
        if action.dest == "suite":
            action.type = _suite_name


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
