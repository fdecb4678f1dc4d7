"""Metadata attached to materializations: what a user looks for in the UI.

Computed with a read-only connection after dbt has exited (DuckDB admits one process at a
time), and tolerant of models that do not exist yet:

- every table: ``dagster/row_count``;
- day-grain facts (a ``date_day`` column): rows and customers in the days this run built,
  first/last day;
- ``dim_*`` with ``current_status``: customers by status;
- the alert list (``current_alert_list``): a Markdown preview of its first rows (priority
  order, the useful columns) and the counts per tier;
- KPI marts (dbt folder ``kpis``): the headline numbers of the latest complete period, all
  segments.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Mapping, Sequence

import duckdb
from dagster import MetadataValue

ALERT_LIST_MODELS = ("current_alert_list",)
PREVIEW_ROWS = 20
BAND_COLUMNS = ("alert_tier", "health_tier", "health_band", "band", "risk_band", "health_status", "severity", "color", "colour", "alert_level")
PREVIEW_COLUMNS = (  # shown first in the alert-list preview when present (at most MAX_PREVIEW_COLUMNS)
    "priority_rank", "customer_name", "customer_id", "segment", "alert_tier", "health_score",
    "account_manager_name", "owner_id", "recommended_playbook", "response_due_date", "respond_by",
    "is_response_overdue", "days_open",
)
MAX_PREVIEW_COLUMNS = 10
KPI_HEADLINE_COLUMNS = (  # the headline of a KPI mart when present; else every number
    "customers_at_end", "new_customers", "churned_customers", "customer_churn_rate", "customer_retention_rate",
    "mrr_at_end", "net_revenue_retention", "gross_revenue_retention", "nps", "csat_satisfied_share",
    "save_rate", "historical_clv", "predictive_clv",
)
ORDER_COLUMNS = ("priority_rank", "respond_by", "alert_rank", "rank", "priority", "health_score", "risk_score", "score")
DESCENDING_ORDER_COLUMNS = ("risk_score", "score")  # higher = worse; the others: lower = worse


def relation_columns(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> dict[str, str]:
    from churnguard import warehouse_sql

    return warehouse_sql.relation_column_types(con, schema, name)


def relation_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return bool(relation_columns(con, schema, name))


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _number(value: Any) -> MetadataValue | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return MetadataValue.int(value)
    try:
        return MetadataValue.float(float(value))
    except (TypeError, ValueError):
        return None


def model_metadata(
    con: duckdb.DuckDBPyConnection,
    node: Mapping[str, Any],
    window: tuple[date, date] | None = None,
) -> dict[str, MetadataValue]:
    """Metadata for one dbt node just built (empty for views and missing relations)."""
    materialized = (node.get("config") or {}).get("materialized")
    if node.get("resource_type") not in ("model", "seed", "snapshot") or materialized in ("view", "ephemeral"):
        return {}
    schema, name = node["schema"], node.get("alias") or node["name"]
    columns = relation_columns(con, schema, name)
    if not columns:
        return {}
    relation = f"{_quote(schema)}.{_quote(name)}"
    metadata: dict[str, MetadataValue] = {
        "dagster/row_count": MetadataValue.int(int(con.execute(f"select count(*) from {relation}").fetchone()[0]))
    }
    if "date_day" in columns:
        first, last = con.execute(f"select min(date_day), max(date_day) from {relation}").fetchone()
        metadata["first_day"] = MetadataValue.text(str(first))
        metadata["last_day"] = MetadataValue.text(str(last))
        if window is not None:
            customer = "count(distinct customer_id)" if "customer_id" in columns else "null"
            rows, customers = con.execute(
                f"select count(*), {customer} from {relation} where date_day between ? and ?",
                [window[0], window[1]],
            ).fetchone()
            metadata["built_days"] = MetadataValue.text(f"{window[0]} .. {window[1]}")
            metadata["rows_in_built_days"] = MetadataValue.int(int(rows))
            if customers is not None:
                metadata["customers_in_built_days"] = MetadataValue.int(int(customers))
    if "current_status" in columns and name.startswith("dim_"):
        for status, count in con.execute(f"select current_status, count(*) from {relation} group by 1 order by 1").fetchall():
            metadata[f"customers_{status}"] = MetadataValue.int(int(count))
    if name in ALERT_LIST_MODELS:
        metadata.update(alert_list_metadata(con, relation, columns))
    if "kpis" in list(node.get("fqn", []))[1:-1]:
        metadata.update(kpi_headline(con, relation, columns))
    return metadata


def alert_list_metadata(con: duckdb.DuckDBPyConnection, relation: str, columns: Mapping[str, str]) -> dict[str, MetadataValue]:
    order = next((c for c in ORDER_COLUMNS if c in columns), None)
    descending = order in DESCENDING_ORDER_COLUMNS
    order_sql = f" order by {_quote(order)}{' desc' if descending else ''} nulls last" if order else ""
    shown = [c for c in PREVIEW_COLUMNS if c in columns]
    shown += [c for c in columns if c not in shown][: max(0, MAX_PREVIEW_COLUMNS - len(shown))]
    select = ", ".join(_quote(c) for c in shown[:MAX_PREVIEW_COLUMNS])
    cursor = con.execute(f"select {select} from {relation}{order_sql} limit {PREVIEW_ROWS}")
    names = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    metadata = {"preview": MetadataValue.md(markdown_table(names, rows) if rows else "_The alert list is empty._")}
    band = next((c for c in BAND_COLUMNS if c in columns), None)
    if band:
        for value, count in con.execute(f"select {_quote(band)}, count(*) from {relation} group by 1 order by 1").fetchall():
            metadata[f"alerts_{value}"] = MetadataValue.int(int(count))
    return metadata


def kpi_headline(con: duckdb.DuckDBPyConnection, relation: str, columns: Mapping[str, str]) -> dict[str, MetadataValue]:
    """The latest row of a KPI mart (ordered by its first date column), numbers as metadata."""
    period = next((c for c, t in columns.items() if t.upper() in ("DATE", "TIMESTAMP")), None)
    if period is None:
        return {}
    filters = []  # the headline: complete periods, all segments, when the mart has those columns
    if "is_complete_period" in columns:
        filters.append("is_complete_period")
    if "segment" in columns:
        filters.append("segment = 'all'")
    row, names = None, []
    for where in ([" where " + " and ".join(filters)] if filters else []) + [""]:
        cursor = con.execute(f"select * from {relation}{where} order by {_quote(period)} desc limit 1")
        row, names = cursor.fetchone(), [d[0] for d in cursor.description]
        if row is not None:
            break
    if row is None:
        return {}
    metadata: dict[str, MetadataValue] = {"kpi_period": MetadataValue.text(str(row[names.index(period)]))}
    if "segment" in names:
        metadata["kpi_segment"] = MetadataValue.text(str(row[names.index("segment")]))
    headline = [c for c in KPI_HEADLINE_COLUMNS if c in names] or names
    for column, value in zip(names, row):
        number = _number(value)
        if number is not None and column in headline and column not in (period, "segment"):
            metadata[f"kpi_{column}"] = number
    return metadata
