"""What a quality-gate run found, in plain data (no Great Expectations objects).

A `GateResult` is what the CLI prints, what the Dagster asset checks attach as metadata and
what ``<warehouse folder>/data_docs/latest_gate_result.json`` stores.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

INTEGRITY = "integrity"
VOLUME = "volume"
FRESHNESS = "freshness"
KINDS = (INTEGRITY, VOLUME, FRESHNESS)
ID_COLUMNS = ("alert_id", "customer_id", "date_day", "kpi_row_id", "reason_code")


@dataclass
class ExpectationFailure:
    """One failed expectation: which, on what, why, and a few of the rows that broke it."""

    suite: str
    expectation: str
    kind: str
    description: str
    column: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    unexpected_count: int | None = None
    element_count: int | None = None
    observed_value: Any = None
    sample_rows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def format(self) -> str:
        what = f"{self.suite}: {self.expectation}"
        if self.column:
            what += f" on {self.column}"
        details = []
        if self.unexpected_count is not None:
            details.append(f"{self.unexpected_count} of {self.element_count} rows")
        if self.observed_value is not None:
            details.append(f"observed {self.observed_value}")
        if self.error:
            details.append(self.error)
        text = f"[{self.kind}] {what} ({'; '.join(details)})" if details else f"[{self.kind}] {what}"
        text += f"\n      {self.description}"
        for row in self.sample_rows[:5]:
            text += "\n      e.g. " + ", ".join(f"{k}={row[k]}" for k in self.sample_keys(row))
        return text

    def sample_keys(self, row: dict[str, Any]) -> list[str]:
        """The columns worth showing of a sample row: its keys and the checked columns."""
        checked = [self.kwargs.get(k) for k in ("column", "column_A", "column_B")] + list(self.kwargs.get("column_list") or [])
        keys = [k for k in ID_COLUMNS if k in row] + [k for k in checked if k and k in row]
        return list(dict.fromkeys(keys)) or list(row)[:6]


@dataclass
class SuiteResult:
    suite: str
    relation: str
    passed: bool
    rows: int
    evaluated: int
    failures: list[ExpectationFailure] = field(default_factory=list)
    data_docs_page: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class GateResult:
    """The outcome of one gate run over several suites."""

    checked_at: str
    suites: list[SuiteResult]
    parameters: dict[str, Any] = field(default_factory=dict)
    override_reason: str | None = None
    data_docs_index: str | None = None
    stale_override_reason: str | None = None
    """Reason given to deliver despite error-level stale sources (``freshness`` failures)."""

    @property
    def failures(self) -> list[ExpectationFailure]:
        return [f for s in self.suites for f in s.failures]

    @property
    def integrity_failures(self) -> list[ExpectationFailure]:
        return [f for f in self.failures if f.kind not in (VOLUME, FRESHNESS)]

    @property
    def freshness_failures(self) -> list[ExpectationFailure]:
        return [f for f in self.failures if f.kind == FRESHNESS]

    @property
    def volume_failures(self) -> list[ExpectationFailure]:
        return [f for f in self.failures if f.kind == VOLUME]

    @property
    def volume_overridden(self) -> bool:
        return bool(self.override_reason) and bool(self.volume_failures)

    @property
    def blocking_failures(self) -> list[ExpectationFailure]:
        """Failures that stop delivery: every integrity failure, volume and freshness ones unless overridden."""
        blocking = list(self.integrity_failures)
        if not self.override_reason:
            blocking += self.volume_failures
        if not self.stale_override_reason:
            blocking += self.freshness_failures
        return blocking

    @property
    def passed(self) -> bool:
        return not self.blocking_failures

    def suite(self, name: str) -> SuiteResult | None:
        return next((s for s in self.suites if s.suite == name), None)

    def format(self) -> str:
        state = "passed" if self.passed else "FAILED: delivery blocked"
        lines = [f"Quality gate {state} ({sum(s.evaluated for s in self.suites)} expectations, {len(self.suites)} suites)"]
        for suite in self.suites:
            mark = "ok  " if suite.passed else "FAIL"
            lines.append(f"  {mark} {suite.suite:<28} {suite.rows:>9,} rows  {suite.evaluated:>3} expectations")
        for failure in self.failures:
            lines.append("    " + failure.format())
        if self.volume_overridden:
            lines.append(f"  volume checks overridden for this run: {self.override_reason}")
        if self.stale_override_reason and self.freshness_failures:
            lines.append(f"  stale sources accepted for this run: {self.stale_override_reason}")
        for suite in self.suites:
            for warning in suite.warnings:
                lines.append(f"  warning: {warning}")
        if self.data_docs_index:
            lines.append(f"  Data Docs: {self.data_docs_index}")
        return "\n".join(lines)

    def summary(self) -> str:
        """One line naming the blocking failures (for audit rows and errors)."""
        failures = self.blocking_failures
        if not failures:
            return "quality gate passed"
        names = "; ".join(f"{f.suite}.{f.expectation}" + (f"({f.column})" if f.column else "") for f in failures)
        return f"quality gate failed: {names}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        data["volume_overridden"] = self.volume_overridden
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)
