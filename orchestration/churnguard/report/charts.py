"""The report's charts: Altair (Vega-Lite) specs built from the marts.

Each function reads one mart through a DuckDB connection and returns a `Chart`: the
Altair chart and the rows it plots (the same rows are in the Vega-Lite spec's ``data``
values, which is what the test compares with the marts). Charts whose mart is missing or
empty are left out (None).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import altair as alt
import duckdb

TIER_ORDER = ["green", "yellow", "red"]
TIER_COLOURS = ["#2e7d32", "#f9a825", "#c62828"]
FUNNEL_STAGES = ["opened", "contacted", "saved", "lost"]


@dataclass
class Chart:
    key: str
    title: str
    caption: str
    chart: alt.TopLevelMixin
    rows: list[dict[str, Any]]

    def spec(self) -> dict[str, Any]:
        return self.chart.to_dict()


def _exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> set[str]:
    from churnguard import warehouse_sql

    return set(warehouse_sql.relation_columns(con, schema, name))


def _records(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def health_tiers_over_time(con: duckdb.DuckDBPyConnection, schema: str = "marts") -> Chart | None:
    """Customers per health tier on the last scored day of each month (health_scores)."""
    if not {"date_day", "health_tier", "customer_id"} <= _exists(con, schema, "health_scores"):
        return None
    rows = _records(
        con.execute(
            f"""
            with month_ends as (
                select max(date_day) as date_day from {schema}.health_scores group by date_trunc('month', date_day)
            )
            select strftime(h.date_day, '%Y-%m-%d') as day, h.health_tier as tier, count(*) as customers
            from {schema}.health_scores as h
            join month_ends using (date_day)
            where h.health_tier is not null
            group by 1, 2
            order by 1, 2
            """
        )
    )
    if not rows:
        return None
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            x=alt.X("day:O", title="month end"),
            y=alt.Y("customers:Q", title="customers", stack="zero"),
            color=alt.Color("tier:N", scale=alt.Scale(domain=TIER_ORDER, range=TIER_COLOURS), title="health tier"),
            order=alt.Order("tier_order:Q"),
            tooltip=["day:O", "tier:N", "customers:Q"],
        )
        .transform_calculate(tier_order="indexof(['green', 'yellow', 'red'], datum.tier)")
        .properties(width=560, height=260)
    )
    return Chart(
        "health_tiers",
        "Health-score distribution by tier",
        "Scored customers per health tier on the last day of each month (marts.health_scores).",
        chart,
        rows,
    )


KPI_TRENDS = (  # (label, value column, target column, higher is better)
    ("customer churn rate", "customer_churn_rate", "churn_rate_target", False),
    ("customer retention rate", "customer_retention_rate", "retention_rate_target", True),
    ("save rate", "save_rate", "save_rate_target", True),
    ("NPS", "nps", "nps_target", True),
)


def kpi_trends(con: duckdb.DuckDBPyConnection, schema: str = "marts") -> Chart | None:
    """Monthly KPIs of all customers against their targets (kpi_monthly, segment 'all')."""
    columns = _exists(con, schema, "kpi_monthly")
    shown = [k for k in KPI_TRENDS if {k[1], k[2]} <= columns]
    if "period_start_date" not in columns or not shown:
        return None
    where = "segment = 'all'" if "segment" in columns else "true"
    selects = " union all ".join(
        f"select strftime(period_start_date, '%Y-%m') as month, '{label}' as kpi, "
        f"cast({value} as double) as actual, cast({target} as double) as target "
        f"from {schema}.kpi_monthly where {where}"
        for label, value, target, _ in shown
    )
    rows = _records(con.execute(f"select * from ({selects}) as trends where actual is not null or target is not null order by kpi, month"))
    if not rows:
        return None
    base = alt.Chart(alt.Data(values=rows)).encode(x=alt.X("month:O", title="month"))
    actual = base.mark_line(point=True).encode(y=alt.Y("actual:Q", title=None), tooltip=["month:O", "actual:Q", "target:Q"])
    target = base.mark_line(strokeDash=[6, 4], color="#888").encode(y="target:Q")
    chart = (
        alt.layer(actual, target)
        .properties(width=260, height=150)
        .facet(facet=alt.Facet("kpi:N", title=None, sort=[k[0] for k in shown]), columns=2)
        .resolve_scale(y="independent")
    )
    return Chart(
        "kpi_trends",
        "KPI trends against targets",
        "Monthly KPIs of all customers (marts.kpi_monthly, segment 'all'); the dashed line is the target. "
        "The last month is incomplete until its end.",
        chart,
        rows,
    )


def alert_funnel(con: duckdb.DuckDBPyConnection, schema: str = "marts") -> Chart | None:
    """Alert episodes opened, contacted, saved and lost (kpi_alert_outcomes)."""
    columns = _exists(con, schema, "kpi_alert_outcomes")
    if not {"alert_id", "first_contact_at", "save_outcome"} <= columns:
        return None
    opened, contacted, saved, lost = con.execute(
        f"""
        select count(*),
               count(*) filter (where first_contact_at is not null),
               count(*) filter (where save_outcome = 'saved'),
               count(*) filter (where save_outcome = 'churned')
        from {schema}.kpi_alert_outcomes
        """
    ).fetchone()
    rows = [
        {"stage": stage, "order": i, "episodes": int(value)}
        for i, (stage, value) in enumerate(zip(FUNNEL_STAGES, (opened, contacted, saved, lost)))
    ]
    if not opened:
        return None
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            y=alt.Y("stage:N", sort=FUNNEL_STAGES, title=None),
            x=alt.X("episodes:Q", title="alert episodes"),
            color=alt.Color("stage:N", sort=FUNNEL_STAGES, legend=None,
                            scale=alt.Scale(range=["#546e7a", "#1e88e5", "#2e7d32", "#c62828"])),
            tooltip=["stage:N", "episodes:Q"],
        )
        .properties(width=560, height=160)
    )
    text = chart.mark_text(align="left", dx=4).encode(text="episodes:Q", color=alt.value("#000"))
    return Chart(
        "alert_funnel",
        "Alert funnel",
        "Alert episodes opened, those whose customer was contacted, and the save outcome after the save window "
        "(saved, or lost = churned); episodes still inside their window are neither (marts.kpi_alert_outcomes).",
        alt.layer(chart, text),
        rows,
    )


def backtest_lift(results: dict[str, Any]) -> Chart | None:
    """ROC AUC and top-decile lift of the health score and its baselines (a backtest JSON file)."""
    rows = []
    for run in results.get("runs", []) or [results]:
        for horizon, result in (run.get("results") or {}).items():
            for item in [result.get("health_score") or {}, *(result.get("baselines") or [])]:
                if item.get("auc") is None:
                    continue
                rows.append({
                    "horizon_days": int(horizon), "predictor": item.get("name", "?"),
                    "auc": float(item["auc"]), "top_decile_lift": float(item.get("top_decile_lift") or 0.0),
                })
        if rows:
            break
    if not rows:
        return None
    auc = alt.Chart(alt.Data(values=rows)).mark_bar().encode(
        x=alt.X("auc:Q", scale=alt.Scale(domain=[0, 1]), title="ROC AUC"),
        y=alt.Y("predictor:N", title=None),
        row=alt.Row("horizon_days:O", title="horizon (days)"),
        tooltip=["predictor:N", "auc:Q", "top_decile_lift:Q"],
    ).properties(width=240, height=80)
    lift = alt.Chart(alt.Data(values=rows)).mark_bar(color="#6a1b9a").encode(
        x=alt.X("top_decile_lift:Q", title="top-decile lift"),
        y=alt.Y("predictor:N", title=None),
        row=alt.Row("horizon_days:O", title="horizon (days)"),
    ).properties(width=240, height=80)
    return Chart(
        "backtest",
        "Backtest: ROC AUC and lift",
        "How well the health score ranked customers who churned within the horizon, against baselines "
        "(from the backtest results file).",
        alt.hconcat(auc, lift),
        rows,
    )
