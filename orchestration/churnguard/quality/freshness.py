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
from typing import Any, Mapping

import duckdb

from churnguard import settings, warehouse_sql
from churnguard.contract import TABLES
from churnguard.quality.result import FRESHNESS, ExpectationFailure, SuiteResult

SUITE = "source_freshness"
OVERRIDE_ENV = "CHURNGUARD_OVERRIDE_STALE_DATA"


@dataclass(frozen=True)
class SourceFreshness:
    """How old the newest row of one raw table is, at a given "now"."""

    source: str  # crm.logins
    relation: str  # raw_crm.logins
    loaded_at_field: str
    latest: datetime | None  # UTC; None: the table has no rows
    age_hours: float | None
    warn_after_hours: float
    error_after_hours: float

    @property
    def status(self) -> str:
        """``pass``, ``warn``, ``error`` or ``empty``: a table without rows is one the export
        does not carry (an absent table loads as empty); there is no age to judge, and
        flagging it stale every night would only be noise."""
        if self.age_hours is None:
            return "empty"
        if self.age_hours > self.error_after_hours:
            return "error"
        if self.age_hours > self.warn_after_hours:
            return "warn"
        return "pass"

    def describe(self) -> str:
        if self.latest is None:
            return f"{self.source}: no rows (the export does not carry this table): nothing to judge"
        limit = self.error_after_hours if self.status == "error" else self.warn_after_hours
        return (
            f"{self.source}: last {self.loaded_at_field} {self.latest:%Y-%m-%d %H:%M}, "
            f"{_age(self.age_hours)} old ({self.status} after {_age(limit)})"
        )


def _age(hours: float | None) -> str:
    if hours is None:
        return "?"
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.0f} h"


def source_rules() -> dict[str, dict[str, Any]]:
    """``{system.table: {relation, loaded_at_field, warn, error}}`` from the raw-data contract
    (the numbers the dbt sources' ``freshness`` blocks carry, see test_contract_docs)."""
    return {
        table.qualified_name: {
            "relation": (table.raw_schema, table.name),
            "loaded_at_field": "_synced_at",
            "warn": float(table.freshness_warn_hours),
            "error": float(table.freshness_error_hours),
        }
        for table in TABLES
    }


def check_sources(
    con: duckdb.DuckDBPyConnection, now: datetime | None = None, rules: Mapping[str, Mapping[str, Any]] | None = None
) -> list[SourceFreshness]:
    """Freshness at ``now`` (default: the wall clock) of every raw table in ``rules`` (default:
    the contract's) that exists in the warehouse; tables without rows are ``empty``."""
    now = now or datetime.now(timezone.utc)
    now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    tables = warehouse_sql.tables(con)
    results = []
    for name, rule in sorted((rules if rules is not None else source_rules()).items()):
        schema, table = rule["relation"]
        if (schema, table) not in tables:
            continue
        field = rule["loaded_at_field"]
        latest = con.execute(f'select max(cast("{field}" as timestamptz)) from "{schema}"."{table}"').fetchone()[0]
        if latest is not None and latest.tzinfo is None:
            latest = latest.replace(tzinfo=timezone.utc)
        results.append(
            SourceFreshness(
                source=name,
                relation=f"{schema}.{table}",
                loaded_at_field=field,
                latest=latest.astimezone(timezone.utc) if latest is not None else None,
                age_hours=(now - latest).total_seconds() / 3600 if latest is not None else None,
                warn_after_hours=rule["warn"],
                error_after_hours=rule["error"],
            )
        )
    return results


def _loaded_from_sample(con: duckdb.DuckDBPyConnection) -> bool:
    try:
        row = con.execute("select source_dir from raw_meta.load_log order by loaded_at desc limit 1").fetchone()
    except warehouse_sql.ERRORS:
        return False
    if row is None:
        return False
    try:
        return Path(row[0]).resolve() == Path(settings.SAMPLE_DATA_DIR).resolve()
    except OSError:
        return False


def freshness_suite(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> SuiteResult | None:
    """The gate's ``source_freshness`` suite (None when no raw table has rows)."""
    sources = [source for source in check_sources(con, now) if source.status != "empty"]
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
