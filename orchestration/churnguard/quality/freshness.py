"""Source freshness: how old is the newest row of each raw table, by its ``_synced_at``.

The thresholds are the contract's (`churnguard.contract.Table.freshness_warn_hours` /
``freshness_error_hours``, the same numbers dbt's ``source freshness`` reads from the
sources YAML). The clock is the wall clock (UTC): stale data means the export stopped.

- **warn**: reported in the gate output, never blocks;
- **error**: a ``freshness`` failure of the gate: the alert list is not delivered unless the
  run is confirmed with a reason (``churnguard sync --override-stale-data REASON``, the run
  tag ``churnguard/override_stale_data=<reason>``, or ``CHURNGUARD_OVERRIDE_STALE_DATA`` for
  ``churnguard run``), which the audit tables record.

Empty and absent tables are not judged (no row to date). The bundled sample
(``seeds/sample``, generated for a fixed year) is judged but never blocks: its staleness is
reported as a warning.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from churnguard import settings
from churnguard.contract import TABLES
from churnguard.quality.result import FRESHNESS, ExpectationFailure, SuiteResult

SUITE = "source_freshness"
OVERRIDE_ENV = "CHURNGUARD_OVERRIDE_STALE_DATA"


@dataclass
class SourceFreshness:
    table: str  # crm.logins
    latest: datetime | None
    age_hours: float | None
    warn_hours: int
    error_hours: int

    @property
    def status(self) -> str:
        if self.age_hours is None:
            return "unknown"
        if self.age_hours > self.error_hours:
            return "error"
        if self.age_hours > self.warn_hours:
            return "warn"
        return "ok"

    def describe(self) -> str:
        days = self.age_hours / 24 if self.age_hours is not None else 0
        return (
            f"{self.table}: newest row synced {self.latest:%Y-%m-%d %H:%M} UTC, {days:,.1f} days ago "
            f"(warn after {self.warn_hours} h, error after {self.error_hours} h)"
        )


def _existing(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    return {
        (schema, name)
        for schema, name in con.execute(
            "select table_schema, table_name from information_schema.columns where column_name = '_synced_at'"
        ).fetchall()
    }


def check_sources(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> list[SourceFreshness]:
    """The freshness of every raw table that exists and has rows."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None)
    existing = _existing(con)
    found = []
    for table in TABLES:
        if (table.raw_schema, table.name) not in existing:
            continue
        latest = con.execute(f'select max("_synced_at") from "{table.raw_schema}"."{table.name}"').fetchone()[0]
        if latest is None:
            continue
        latest = latest.astimezone(timezone.utc).replace(tzinfo=None) if latest.tzinfo else latest
        found.append(
            SourceFreshness(
                table.qualified_name,
                latest,
                (now - latest).total_seconds() / 3600,
                table.freshness_warn_hours,
                table.freshness_error_hours,
            )
        )
    return found


def _loaded_from_sample(con: duckdb.DuckDBPyConnection) -> bool:
    try:
        row = con.execute("select source_dir from raw_meta.load_log order by loaded_at desc limit 1").fetchone()
    except duckdb.Error:
        return False
    if row is None:
        return False
    try:
        return Path(row[0]).resolve() == Path(settings.SAMPLE_DATA_DIR).resolve()
    except OSError:
        return False


def freshness_suite(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> SuiteResult | None:
    """The gate's ``source_freshness`` suite (None when no raw table has rows)."""
    sources = check_sources(con, now)
    if not sources:
        return None
    sample = _loaded_from_sample(con)
    failures = []
    for source in sources:
        if source.status == "error" and not sample:
            failures.append(
                ExpectationFailure(
                    suite=SUITE,
                    expectation="source_is_fresh",
                    kind=FRESHNESS,
                    description=source.describe()
                    + ": the export looks stopped; delivering would send stale alerts. Override with a reason "
                    "(churnguard sync --override-stale-data REASON) if this is expected.",
                    column="_synced_at",
                    observed_value=f"{source.age_hours:,.0f} h old",
                )
            )
    warnings = [source.describe() for source in sources if source.status == "warn"]
    stale_sample = [source for source in sources if source.status == "error" and sample]
    if stale_sample:
        oldest = max(stale_sample, key=lambda source: source.age_hours or 0)
        warnings.append(
            f"bundled sample data: {len(stale_sample)} raw table(s) past their freshness error threshold "
            f"(oldest {oldest.describe()}); not enforced for the sample"
        )
    return SuiteResult(SUITE, "raw_*", not failures, len(sources), len(sources), failures, warnings=warnings)


def override_from_env() -> str | None:
    return (os.environ.get(OVERRIDE_ENV) or "").strip() or None
