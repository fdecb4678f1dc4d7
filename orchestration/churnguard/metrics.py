"""``churnguard metrics``: the semantic layer (MetricFlow) on the warehouse, read-only.

The KPIs are defined once, as MetricFlow semantic models and metrics in
``dbt_project/models/semantic/_semantic__metrics.yml`` (churn and retention rate, save rate,
GRR, NRR, NPS, historical CLV, alert episodes by tier...). dbt writes them into
``semantic_manifest.json`` when it parses the project; this module asks MetricFlow for the
SQL of a query (DuckDB SQL) and runs it on a read-only connection to the configured engine
(`churnguard.warehouse_sql`, which transpiles it for PostgreSQL and Spark):

    churnguard metrics customer_churn_rate --group-by metric_time__month kpi_period__segment
    churnguard metrics --list

``mf query`` works as well, from ``dbt_project/`` after ``dbt parse`` (it reads
``target/semantic_manifest.json`` and connects through the dbt profile).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import duckdb

from churnguard import settings


class MetricsError(RuntimeError):
    """The semantic manifest is missing or invalid, or MetricFlow rejected the query."""


@dataclass
class MetricsResult:
    sql: str
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def format(self) -> str:
        widths = [max(len(str(c)), *(len(_cell(r[i])) for r in self.rows)) if self.rows else len(str(c))
                  for i, c in enumerate(self.columns)]
        lines = ["  ".join(str(c).ljust(w) for c, w in zip(self.columns, widths))]
        lines += ["  ".join(_cell(v).ljust(w) for v, w in zip(row, widths)) for row in self.rows]
        return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


class _DuckDbClient:
    """The SqlClient MetricFlow needs, on one read-only DuckDB connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        from metricflow.protocols.sql_client import SqlEngine
        from metricflow.sql.render.duckdb_renderer import DuckDbSqlPlanRenderer

        self._con = con
        self._engine = SqlEngine.DUCKDB
        self._renderer = DuckDbSqlPlanRenderer()

    @property
    def sql_engine_type(self):
        return self._engine

    @property
    def sql_plan_renderer(self):
        return self._renderer

    def query(self, stmt: str, sql_bind_parameter_set=None):
        from metricflow.data_table.mf_table import MetricFlowDataTable

        cursor = self._con.execute(stmt)
        return MetricFlowDataTable.create_from_rows(
            column_names=[d[0] for d in cursor.description], rows=cursor.fetchall()
        )

    def execute(self, stmt: str, sql_bind_parameter_set=None) -> None:
        self._con.execute(stmt)

    def dry_run(self, stmt: str, sql_bind_parameter_set=None) -> None:
        self._con.execute(f"explain {stmt}")

    def close(self) -> None:
        pass

    def render_bind_parameter_key(self, bind_parameter_key: str) -> str:
        return f"${bind_parameter_key}"


def semantic_manifest_path(target_path: Path | None = None) -> Path:
    from churnguard.defs import config

    return Path(target_path or config.dbt_target_path()) / "semantic_manifest.json"


def _engine(con: duckdb.DuckDBPyConnection, target_path: Path | None):
    from churnguard.defs.dbt_project import prepare_manifest
    from metricflow.engine.metricflow_engine import MetricFlowEngine
    from metricflow_semantics.model.dbt_manifest_parser import parse_manifest_from_dbt_generated_manifest
    from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup

    prepare_manifest(target_path)  # dbt parse writes semantic_manifest.json beside manifest.json
    path = semantic_manifest_path(target_path)
    try:
        manifest = parse_manifest_from_dbt_generated_manifest(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise MetricsError(f"cannot read the semantic manifest {path}: {error}") from error
    return MetricFlowEngine(semantic_manifest_lookup=SemanticManifestLookup(manifest), sql_client=_DuckDbClient(con))


def list_metrics(target_path: Path | None = None) -> list[tuple[str, str]]:
    """(name, label) of every metric of the semantic layer."""
    from churnguard.defs.dbt_project import prepare_manifest

    prepare_manifest(target_path)
    manifest = json.loads(semantic_manifest_path(target_path).read_text(encoding="utf-8"))
    return sorted((m["name"], m.get("label") or "") for m in manifest.get("metrics", []))


def query_metrics(
    metrics: Sequence[str],
    group_by: Sequence[str] = (),
    *,
    where: Sequence[str] = (),
    order_by: Sequence[str] = (),
    limit: int | None = None,
    warehouse: Path | None = None,
    target_path: Path | None = None,
) -> MetricsResult:
    """Run a MetricFlow query on the warehouse (read-only); raises `MetricsError`."""
    from churnguard.defs.warehouse import read_only_connection
    from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

    warehouse = Path(warehouse or settings.warehouse_path())
    with read_only_connection(warehouse) as con:
        engine = _engine(con, target_path)
        request = MetricFlowQueryRequest.create(
            metric_names=list(metrics),
            group_by_names=list(group_by) or None,
            where_constraints=list(where) or None,
            order_by_names=list(order_by) or None,
            limit=limit,
        )
        try:
            sql = engine.explain(request).sql_statement.sql
        except Exception as error:  # MetricFlow raises many types for a bad query; all say what is wrong
            raise MetricsError(str(error)) from error
        cursor = con.execute(sql)
        return MetricsResult(sql=sql, columns=[d[0] for d in cursor.description], rows=cursor.fetchall())
