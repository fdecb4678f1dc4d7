"""The main job, run once end to end: ``churnguard run`` (and ``make run``).

`run_pipeline` executes the Dagster nightly job in this process (see
`churnguard.defs.runner`): raw ingestion, every dbt model and test, the daily facts for
the partition range the nightly schedule would pick, and whatever assets are added
downstream (quality gate, delivery). The Dagster instance is the one ``churnguard ui``
opens (``<warehouse folder>/dagster_home``, see `churnguard.defs.config.run_dagster_home`),
so the UI shows the run. It prints one
progress line per step and asset, then `summarise`.

`summarise` reads the warehouse read-only and shows what exists: the clock, customers by
status, health tiers, the alert list, the latest deliveries, and last month's KPIs.
Sections whose marts do not exist (yet) are left out.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import duckdb

from churnguard.defs.warehouse import WarehouseUnavailableError, read_only_connection

EXIT_OK, EXIT_RUN_FAILED, EXIT_LOAD_FAILED, EXIT_WAREHOUSE_BUSY = 0, 1, 2, 3


def _columns(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> list[str]:
    from churnguard import warehouse_sql

    return warehouse_sql.relation_columns(con, schema, name)


def _first_existing(con, candidates: list[tuple[str, str]], required: set[str]) -> tuple[str, list[str]] | None:
    for schema, name in candidates:
        columns = _columns(con, schema, name)
        if columns and required <= set(columns):
            return f"{schema}.{name}", columns
    return None


def _counts(pairs: list[tuple[Any, int]], order: tuple[str, ...] = ("red", "yellow", "green")) -> str:
    ranked = sorted(pairs, key=lambda p: (order.index(p[0]) if p[0] in order else len(order), str(p[0])))
    return ", ".join(f"{value} {count:,}" for value, count in ranked)


def _clock_and_customers(con) -> list[str]:
    lines = []
    if _columns(con, "utilities", "util_date_bounds"):
        as_of, history_start = con.execute(
            "select as_of_date, history_start_date from utilities.util_date_bounds"
        ).fetchone()
        lines.append(f"  history {history_start} .. {as_of} (as-of date)")
    if _columns(con, "marts", "fct_customer_day"):
        customers, customer_days = con.execute(
            "select count(distinct customer_id), count(*) from marts.fct_customer_day"
        ).fetchone()
        lines.append(f"  {customers:,} customers, {customer_days:,} customer-days in marts.fct_customer_day")
    if {"current_status", "current_mrr"} <= set(_columns(con, "marts", "dim_customers")):
        lines.append("  customers by status on the as-of date:")
        for status, count, mrr in con.execute(
            "select current_status, count(*), sum(current_mrr) from marts.dim_customers group by 1 order by 1"
        ).fetchall():
            lines.append(f"    {status:<12} {count:>8,}   MRR {float(mrr or 0):>14,.2f}")
    if "business_model_source" in _columns(con, "staging", "stg_crm__accounts"):
        # The export did not say how churn is defined for these accounts: say what was assumed.
        inferred = con.execute(
            "select business_model, business_model_source, count(*) from staging.stg_crm__accounts "
            "where business_model_source <> 'recorded' group by 1, 2 order by 2 desc, 1"
        ).fetchall()
        for source in ("inferred", "default"):
            parts = [(model, count) for model, src, count in inferred if src == source]
            if parts:
                what = "inferred from the data" if source == "inferred" else "set to the default churn_definition"
                lines.append(f"  business model {what} for {sum(c for _, c in parts):,} accounts ("
                             + ", ".join(f"{model} {count:,}" for model, count in parts) + ")")
    return lines


def _health(con) -> list[str]:
    found = _first_existing(
        con,
        [("marts", "health_scores"), ("intermediate", "int_health_overall_scores")],
        {"customer_id", "date_day", "health_tier"},
    )
    if not found:
        return []
    relation, _ = found
    day = con.execute(f"select max(date_day) from {relation}").fetchone()[0]
    if day is None:
        return [f"  health ({relation}): no scores yet"]
    scored = con.execute(f"select count(distinct customer_id) from {relation} where date_day = ?", [day]).fetchone()[0]
    tiers = con.execute(
        f"select health_tier, count(distinct customer_id) from {relation} where date_day = ? group by 1", [day]
    ).fetchall()
    return [f"  health on {day} ({relation}): {scored:,} customers scored: {_counts(tiers)}"]


def _alerts(con) -> list[str]:
    columns = _columns(con, "marts", "current_alert_list")
    if not columns:
        return []
    total = con.execute("select count(*) from marts.current_alert_list").fetchone()[0]
    line = f"  alert list (marts.current_alert_list): {total:,} open alerts"
    tier = next((c for c in ("alert_tier", "health_tier", "severity") if c in columns), None)
    if tier and total:
        line += ": " + _counts(con.execute(f"select {tier}, count(*) from marts.current_alert_list group by 1").fetchall())
    return [line]


def _deliveries(con) -> list[str]:
    columns = set(_columns(con, "delivery", "sync_runs"))
    if not {"run_id", "destination", "started_at", "status", "dry_run", "sent", "updated", "closed", "failed"} <= columns:
        return []
    rows = con.execute(
        "select destination, status, dry_run, sent, updated, closed, failed from delivery.sync_runs "
        "where run_id = (select run_id from delivery.sync_runs order by started_at desc limit 1) order by destination"
    ).fetchall()
    if not rows:
        return ["  alerts delivered: no delivery run yet"]
    lines = ["  alerts delivered (latest delivery run):"]
    for destination, status, dry_run, sent, updated, closed, failed in rows:
        mode = " (dry run)" if dry_run else ""
        lines.append(
            f"    {destination:<16} {status}{mode}: {sent} sent, {updated} updated, {closed} closed, {failed} failed"
        )
    return lines


_KPIS: list[tuple[str, str, Callable[[Any], str]]] = [
    ("customers_at_end", "customers", lambda v: f"{int(v):,}"),
    ("new_customers", "new", lambda v: f"{int(v):,}"),
    ("churned_customers", "churned", lambda v: f"{int(v):,}"),
    ("customer_churn_rate", "churn rate", lambda v: f"{float(v):.1%}"),
    ("customer_retention_rate", "retention", lambda v: f"{float(v):.1%}"),
    ("mrr_at_end", "MRR", lambda v: f"{float(v):,.0f}"),
    ("net_revenue_retention", "NRR", lambda v: f"{float(v):.1%}"),
    ("gross_revenue_retention", "GRR", lambda v: f"{float(v):.1%}"),
    ("nps", "NPS", lambda v: f"{float(v):.0f}"),
    ("csat_satisfied_share", "CSAT satisfied", lambda v: f"{float(v):.0%}"),
]


def _kpis(con) -> list[str]:
    columns = set(_columns(con, "marts", "kpi_monthly"))
    if "period_start_date" not in columns:
        return []
    where = ["1 = 1"]
    if "is_complete_period" in columns:
        where.append("is_complete_period")
    if "segment" in columns:
        where.append("segment = 'all'")
    shown = [(column, label, fmt) for column, label, fmt in _KPIS if column in columns]
    select = ", ".join(["period_start_date", *(column for column, _, _ in shown)])
    row = con.execute(
        f"select {select} from marts.kpi_monthly where {' and '.join(where)} order by period_start_date desc limit 1"
    ).fetchone()
    if row is None:
        return ["  KPIs (marts.kpi_monthly): no complete month yet"]
    provisional = {"customer_churn_rate", "customer_retention_rate"}
    pending = None
    if {"is_churn_rate_provisional", "pending_churn_customers"} <= columns:
        flag, count = con.execute(
            f"select is_churn_rate_provisional, pending_churn_customers from marts.kpi_monthly "
            f"where {' and '.join(where)} and period_start_date = ?",
            [row[0]],
        ).fetchone()
        pending = int(count or 0) if flag else None
    values = []
    for (column, label, fmt), value in zip(shown, row[1:]):
        if column in provisional and pending is not None:
            # Churns still inside their grace gap: the rate so far is not a fact yet.
            values.append(f"{label} provisional ({pending:,} churns pending)")
        elif value is not None:
            values.append(f"{label} {fmt(value)}")
    return [f"  KPIs of the last complete month ({row[0]:%Y-%m}, all segments): " + ", ".join(values)]


def summarise(warehouse: Path) -> str:
    """A short, human summary of the warehouse, read with a read-only connection.

    Tolerant of marts that do not exist yet: each section appears once its tables do.
    """
    from churnguard.defs.summary import freshness_lines, output_lines

    lines = [f"Warehouse {warehouse}"]
    try:
        with read_only_connection(Path(warehouse)) as con:
            for section in (_clock_and_customers, freshness_lines, _health, _alerts, _deliveries, _kpis):
                lines += section(con)
    except WarehouseUnavailableError as error:
        lines.append(f"  (no summary: {error})")
    lines += output_lines(Path(warehouse))  # the report and the published marts, read without the warehouse
    return "\n".join(lines)


def run_pipeline(data_dir: Path | None, warehouse: Path, *, full_refresh: bool = False) -> int:
    """Run the nightly Dagster job once on ``warehouse``; print progress and the summary.

    ``data_dir`` None loads ``CHURNGUARD_RAW_DATA_DIR`` (default: the sample). Returns the
    exit code: 0 ok, 1 the run failed, 2 the raw data was rejected, 3 another process is
    writing the warehouse.
    """
    from dagster import DagsterInstance

    from churnguard.defs import config
    from churnguard.defs.dbt_project import ManifestError
    from churnguard.defs.instance import instance_at
    from churnguard.defs.locking import WarehouseBusyError
    from churnguard.defs.raw import RAW_ASSETS_NAME
    from churnguard.defs.runner import dbt_output_log, run_nightly_once

    from churnguard.delivery.permissions import apply_umask

    started = time.perf_counter()
    apply_umask()  # warehouse, Data Docs, dead letters, deliveries: owner-only (CHURNGUARD_UMASK)
    warehouse = Path(warehouse).expanduser().resolve()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    os.environ["CHURNGUARD_WAREHOUSE"] = str(warehouse)  # dbt's profile and every step read it
    home = config.run_dagster_home()
    print(f"==> churnguard nightly job on {warehouse}", flush=True)
    if home:
        print(f"    Dagster instance {home} (browse it with `churnguard ui`)", flush=True)
    else:
        print("    Dagster instance in memory (CHURNGUARD_DAGSTER_HOME=memory): no run history kept", flush=True)
    try:
        with (instance_at(home) if home else DagsterInstance.ephemeral()) as instance:
            from churnguard.defs import build_definitions

            # partitions span the history of the data this run loads (churnguard.defs.clock)
            defs = build_definitions(raw_dir=data_dir or config.raw_data_dir())
            from churnguard.defs.progress import PlanningProgress

            with PlanningProgress(instance):  # a line every 10 s while Dagster plans, before the first step
                result = run_nightly_once(data_dir=data_dir, full_refresh=full_refresh, instance=instance, defs=defs)
    except WarehouseBusyError as error:
        print(str(error), file=sys.stderr)
        return EXIT_WAREHOUSE_BUSY
    except ManifestError as error:
        print(str(error), file=sys.stderr)
        return EXIT_RUN_FAILED
    if not result.success:
        print(f"The run {result.run_id} failed: {result.error}", file=sys.stderr)
        if result.failed_steps == [RAW_ASSETS_NAME]:
            return EXIT_LOAD_FAILED  # the loader's message says what to fix; the warehouse is unchanged
        print(f"dbt's full output: {dbt_output_log()}", file=sys.stderr)
        return EXIT_RUN_FAILED
    print(summarise(warehouse))
    print(f"Finished in {time.perf_counter() - started:.1f}s (Dagster run {result.run_id})")
    return EXIT_OK
