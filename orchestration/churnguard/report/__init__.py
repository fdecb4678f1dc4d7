"""A small static HTML report of each run: ``<warehouse folder>/report/index.html``.

Charts (Altair, rendered to SVG by vl-convert and embedded inline, so the page needs no
internet and no JavaScript): the health-score distribution by tier over time, the monthly
KPIs against their targets, the alert funnel, and the backtest's AUC and lift when a
backtest results file exists (``CHURNGUARD_BACKTEST_RESULTS``, default
``docs/backtest_results.json``). Each chart's Vega-Lite spec, with the rows it plots, is
embedded beside it (``<script type="application/json" data-chart="...">``), so the numbers
can be checked, or the chart reopened in any Vega editor.

The report reads the published marts (`churnguard.publish`), never the warehouse, so it
takes no lock. ``churnguard report`` is not needed: the nightly job writes it (asset
``run_report``) and the run summary links it.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from churnguard import settings
from churnguard.report.charts import Chart, alert_funnel, backtest_lift, health_tiers_over_time, kpi_trends

REPORT_FILE = "index.html"


@dataclass(frozen=True)
class Report:
    path: Path
    charts: dict[str, Chart]

    @property
    def url(self) -> str:
        return self.path.resolve().as_uri()


def report_dir(warehouse: Path) -> Path:
    return Path(warehouse).expanduser().resolve().parent / "report"


def report_path(warehouse: Path) -> Path:
    return report_dir(warehouse) / REPORT_FILE


def backtest_results_path() -> Path:
    value = (os.environ.get("CHURNGUARD_BACKTEST_RESULTS") or "").strip()
    return Path(value).expanduser() if value else settings.PROJECT_ROOT / "docs" / "backtest_results.json"


def _json_default(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def _svg(chart: Chart) -> str:
    import vl_convert

    return vl_convert.vegalite_to_svg(chart.spec())


STYLE = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 2rem auto; max-width: 1100px;
       color: #222; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.meta { color: #666; font-size: 0.9rem; } .caption { color: #555; font-size: 0.9rem; max-width: 60rem; }
figure { margin: 0.5rem 0 1.5rem; overflow-x: auto; } table { border-collapse: collapse; font-size: 0.9rem; }
td, th { border-bottom: 1px solid #ddd; padding: 0.2rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
"""


def render_html(charts: list[Chart], *, title: str, meta: list[str], tables: dict[str, int] | None = None) -> str:
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        *(f'<p class="meta">{html.escape(line)}</p>' for line in meta),
    ]
    if not charts:
        parts.append("<p>No mart to chart yet.</p>")
    for chart in charts:
        spec = json.dumps(chart.spec(), default=_json_default).replace("</", "<\\/")
        parts += [
            f'<section id="{chart.key}"><h2>{html.escape(chart.title)}</h2>',
            f'<p class="caption">{html.escape(chart.caption)}</p>',
            f"<figure>{_svg(chart)}</figure>",
            # the spec with its data values: the numbers behind the picture
            f'<script type="application/json" data-chart="{chart.key}">{spec}</script>',
            "</section>",
        ]
    if tables:
        parts.append("<h2>Published marts</h2><table><tr><th>mart</th><th>rows</th></tr>")
        parts += [f"<tr><td>{html.escape(name)}</td><td>{rows:,}</td></tr>" for name, rows in sorted(tables.items())]
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def build_report(source: Path | None, out: Path, *, run_id: str = "", backtest: Path | None = None) -> Report:
    """Write the report for the marts in ``source`` (a DuckDB file, opened read-only) to ``out``.

    ``source`` None reads the configured engine's warehouse (`churnguard.warehouse_sql`): on
    PostgreSQL and Spark there is no published DuckDB copy."""
    from churnguard import warehouse_sql

    if source is None:
        con = warehouse_sql.open_connection(read_only=True)
        source_label = warehouse_sql.describe_target()
    else:
        con = duckdb.connect(str(source), read_only=True)
        source_label = str(source)
    try:
        charts = [c for c in (health_tiers_over_time(con), kpi_trends(con), alert_funnel(con)) if c is not None]
        as_of = None
        tables = None
        try:
            tables = dict(con.execute("select mart, row_count from marts.published_marts").fetchall())
            as_of = con.execute("select max(as_of_date) from marts.published_marts").fetchone()[0]
        except warehouse_sql.ERRORS:
            pass
    finally:
        con.close()
    backtest = backtest or backtest_results_path()
    if backtest.exists():
        try:
            chart = backtest_lift(json.loads(backtest.read_text(encoding="utf-8")))
        except (ValueError, TypeError, KeyError, AttributeError):
            chart = None
        if chart is not None:
            charts.append(chart)
    generated = datetime.now(timezone.utc).replace(microsecond=0)
    meta = [f"Data as of {as_of}" if as_of else "Data as of: unknown",
            f"Generated {generated:%Y-%m-%d %H:%M} UTC" + (f" by Dagster run {run_id}" if run_id else ""),
            f"Source: {source_label}"]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = out.with_name(f".{out.name}.tmp")
    scratch.write_text(render_html(charts, title="churnguard run report", meta=meta, tables=tables), encoding="utf-8")
    os.replace(scratch, out)
    return Report(path=out, charts={c.key: c for c in charts})


def chart_specs(path: Path) -> dict[str, dict[str, Any]]:
    """The Vega-Lite specs embedded in a report file, by chart key (for tests and tools)."""
    import re

    text = Path(path).read_text(encoding="utf-8")
    found = re.findall(r'<script type="application/json" data-chart="([^"]+)">(.*?)</script>', text, flags=re.S)
    return {key: json.loads(body.replace("<\\/", "</")) for key, body in found}


def plotted_rows(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The data values a chart spec plots (inline, named in ``datasets``, or in its first layer)."""
    datasets = spec.get("datasets") or {}

    def find(node: Any) -> list[dict[str, Any]] | None:
        if not isinstance(node, dict):
            return None
        data = node.get("data")
        if isinstance(data, dict):
            if "values" in data:
                return list(data["values"])
            if data.get("name") in datasets:
                return list(datasets[data["name"]])
        for child in ("spec", "layer", "hconcat", "vconcat", "concat"):
            value = node.get(child)
            for item in value if isinstance(value, list) else [value]:
                found = find(item)
                if found is not None:
                    return found
        return None

    return find(spec) or []
