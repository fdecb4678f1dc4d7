"""Lines the run summary (`churnguard.pipeline.summarise`) adds for this package.

- `freshness_lines`: the data's clock (live or historical) and the stale sources, judged
  against that clock (`churnguard.defs.freshness`);
- `output_lines`: where the run report and the published marts are.
"""

from __future__ import annotations

from pathlib import Path

import duckdb


def _errors() -> tuple[type[BaseException], ...]:
    from churnguard import warehouse_sql

    return warehouse_sql.ERRORS


def freshness_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    from churnguard.defs.freshness import summary_lines

    try:
        return summary_lines(con)
    except _errors() as error:  # the summary never fails a run
        return [f"  (no freshness: {error})"]


def output_lines(warehouse: Path) -> list[str]:
    from churnguard.publish import STORAGE_VERSION, published_path, read_publication
    from churnguard.report import report_path

    lines = []
    published = published_path(warehouse)
    try:
        tables = read_publication(published)
    except duckdb.Error as error:
        tables = None
        lines.append(f"  published marts: unreadable ({error})")
    if tables is not None:
        lines.append(
            f"  published marts for BI tools (read-only, DuckDB {STORAGE_VERSION}+ clients): {published} "
            f"({len(tables)} marts)"
        )
    report = report_path(warehouse)
    if report.exists():
        lines.append(f"  run report: {report.resolve().as_uri()}")
    return lines
