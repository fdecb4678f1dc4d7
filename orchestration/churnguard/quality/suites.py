"""The expectation suites, defined once in Python and serialized to ``expectations/*.json``.

The JSON files in ``expectations/`` are what the gate runs (and what a reviewer reads in a
pull request). They are generated, never edited by hand::

    python -m churnguard.quality.suites --write   # rewrite expectations/*.json
    python -m churnguard.quality.suites --check   # exit 1 when a file is out of date

A suite is a GX Core 1.x ``ExpectationSuite`` (``name``, ``expectations``, ``meta``) whose
``meta.churnguard`` says what data it validates:

- ``relation``: the mart (``schema.table``) the suite belongs to (Dagster asset = its name);
- ``query``: the DuckDB SQL the runner reads into pandas (read-only). It may add derived
  columns that an expectation checks (e.g. how far the overall score lies outside the range
  of its dimension scores); ``{health_days}`` is replaced by the lookback (see `runner`);
- ``gates_delivery``: whether a failure stops the alert-list delivery.

Each expectation's ``meta`` carries ``kind`` (``integrity``: never overridable; ``volume``:
an operator may override it for one run) and a ``description`` in business words.
Values that are configuration (tiers, reason codes, playbooks from the dbt seeds; volume
bounds from the delivered-list history) are suite parameters (``{"$PARAMETER": name}``)
filled in at run time (see `runner.suite_parameters`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from churnguard.quality.result import INTEGRITY, VOLUME
from churnguard.settings import PROJECT_ROOT

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"

ALERT_LIST = "current_alert_list"
ALERT_LIST_REASONS = "current_alert_list_reasons"
CUSTOMER_ALERTS = "customer_alerts"
HEALTH_SCORES = "health_scores"
KPI_MONTHLY = "kpi_monthly"
KPI_QUARTERLY = "kpi_quarterly"

DIMENSION_SCORE_COLUMNS = (
    "usage_score",
    "engagement_score",
    "financial_score",
    "satisfaction_score",
    "support_score",
)
RATE_COLUMNS = (
    "customer_churn_rate",
    "customer_churn_rate_annualized",
    "customer_retention_rate",
    "gross_revenue_retention",
    "csat_satisfied_share",
)
SCORE_TOLERANCE = 1.0
"""Points the overall score may lie outside its dimension scores' range (both are rounded to whole points)."""


def _param(name: str) -> dict[str, str]:
    return {"$PARAMETER": name}


def _where(column: str, value: str) -> dict[str, Any]:
    """A GX Core row condition ``column == value`` (the serialized form of ``Column(column) == value``)."""
    return {"type": "comparison", "column": {"name": column}, "operator": "==", "parameter": value}


def expectation(type_: str, description: str, kind: str = INTEGRITY, **kwargs: Any) -> dict[str, Any]:
    return {"type": type_, "kwargs": kwargs, "meta": {"kind": kind, "description": description}}


def _not_null(column: str, what: str) -> dict[str, Any]:
    return expectation("expect_column_values_to_not_be_null", f"Every row has {what}.", column=column)


def _unique(column: str, what: str) -> dict[str, Any]:
    return expectation("expect_column_values_to_be_unique", f"{what} is unique.", column=column)


def _between(column: str, low: float, high: float, what: str) -> dict[str, Any]:
    return expectation(
        "expect_column_values_to_be_between",
        f"{what} lies within {low:g}..{high:g} (nulls allowed).",
        column=column,
        min_value=low,
        max_value=high,
    )


def _alert_expectations(*, current: bool) -> list[dict[str, Any]]:
    rows = [
        _not_null("alert_id", "an alert id"),
        _unique("alert_id", "The alert id"),
        _not_null("customer_id", "a customer"),
        _not_null("alert_tier", "a tier"),
        expectation(
            "expect_column_values_to_be_in_set",
            "The tier is one of the alerting tiers of the health_tiers seed (red, yellow).",
            column="alert_tier",
            value_set=_param("alert_tiers"),
        ),
        _not_null("opened_date", "an open date"),
        _not_null("response_due_date", "a response deadline"),
        expectation(
            "expect_column_pair_values_a_to_be_greater_than_b",
            "The response deadline is after the day the alert opened.",
            column_A="response_due_date",
            column_B="opened_date",
            or_equal=False,
        ),
        expectation(
            "expect_column_values_to_not_be_null",
            "Every red alert has an owner to notify (the customer's account manager).",
            column="account_manager_id",
            row_condition=_where("alert_tier", "red"),
        ),
        expectation(
            "expect_column_values_to_be_in_set",
            "The recommended playbook is one of the retention_playbooks seed.",
            column="recommended_playbook",
            value_set=_param("playbooks"),
        ),
    ]
    if current:
        rows.insert(2, _unique("customer_id", "The customer (one open alert per customer)"))
        rows += [
            _between("health_score", 0, 100, "The health score"),
            _not_null("priority_rank", "a priority rank"),
            _unique("priority_rank", "The priority rank"),
            expectation(
                "expect_table_row_count_to_be_between",
                "Growth: the alert list is at most CHURNGUARD_ALERT_MAX_GROWTH_FACTOR times the last delivered "
                "list (plus CHURNGUARD_ALERT_GROWTH_MIN_ALERTS), so a bad-data storm never floods account managers.",
                kind=VOLUME,
                max_value=_param("max_alerts_by_growth"),
            ),
            expectation(
                "expect_table_row_count_to_be_between",
                "Share: the alert list is at most CHURNGUARD_ALERT_MAX_ACTIVE_SHARE of the active customers.",
                kind=VOLUME,
                max_value=_param("max_alerts_by_share"),
            ),
            expectation(
                "expect_table_row_count_to_be_between",
                "Not empty: the alert list is not empty when the last delivered list was not.",
                kind=VOLUME,
                min_value=_param("min_alerts"),
            ),
        ]
    else:
        rows += [
            *[_between(c, 0, 100, f"The {c.replace('_', ' ')}") for c in ("opening_health_score", "lowest_health_score", "last_health_score")],
            expectation(
                "expect_column_values_to_be_in_set",
                "An episode is open or closed.",
                column="alert_status",
                value_set=["open", "closed"],
            ),
            expectation(
                "expect_column_values_to_not_be_null",
                "Every closed episode has a close date.",
                column="closed_date",
                row_condition=_where("alert_status", "closed"),
            ),
            expectation(
                "expect_column_values_to_be_null",
                "An open episode has no close date.",
                column="closed_date",
                row_condition=_where("alert_status", "open"),
            ),
            expectation(
                "expect_column_pair_values_a_to_be_greater_than_b",
                "An episode closes on or after the day it opened.",
                column_A="closed_date",
                column_B="opened_date",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            ),
        ]
    return rows


def suite_definitions() -> dict[str, dict[str, Any]]:
    """Every suite as GX Core ExpectationSuite JSON, keyed by name."""
    dimension_list = ", ".join(DIMENSION_SCORE_COLUMNS)
    suites: dict[str, dict[str, Any]] = {}

    def add(name: str, relation: str, query: str, gates_delivery: bool, description: str, expectations: list) -> None:
        suites[name] = {
            "name": name,
            "expectations": expectations,
            "meta": {
                "churnguard": {
                    "relation": relation,
                    "query": " ".join(query.split()),
                    "gates_delivery": gates_delivery,
                    "description": description,
                }
            },
        }

    add(
        ALERT_LIST,
        "marts.current_alert_list",
        "select * from marts.current_alert_list",
        True,
        "The alert list delivered to account managers: integrity of every row and volume against the last delivered list.",
        _alert_expectations(current=True),
    )
    add(
        ALERT_LIST_REASONS,
        "marts.current_alert_list",
        "select alert_id, unnest(string_split(reason_codes, '|')) as reason_code from marts.current_alert_list",
        True,
        "One row per reason on the alert list: every reason code is a rule of the warning_rules seed.",
        [
            _not_null("reason_code", "a reason code"),
            expectation(
                "expect_column_values_to_be_in_set",
                "Every reason code is a rule of the warning_rules seed.",
                column="reason_code",
                value_set=_param("reason_codes"),
            ),
        ],
    )
    add(
        CUSTOMER_ALERTS,
        "marts.customer_alerts",
        "select * from marts.customer_alerts",
        True,
        "Every alert episode, open and closed: the history the alert list and its closures come from.",
        _alert_expectations(current=False),
    )
    add(
        HEALTH_SCORES,
        "marts.health_scores",
        f"""
        with scores as (
            select * from marts.health_scores
            where date_day > (select max(date_day) from marts.health_scores) - {{health_days}}
        )
        select
            *,
            greatest(
                least({dimension_list}) - health_score,
                health_score - greatest({dimension_list}),
                0
            ) as score_outside_dimension_range
        from scores
        """,
        True,
        "Daily health scores (the last {health_days} days): one row per customer-day, scores within 0..100, "
        "the overall score a weighted mean of its dimension scores.",
        [
            _not_null("customer_id", "a customer"),
            _not_null("date_day", "a day"),
            expectation(
                "expect_compound_columns_to_be_unique",
                "One row per customer per day.",
                column_list=["customer_id", "date_day"],
            ),
            _not_null("health_score", "an overall score"),
            _between("health_score", 0, 100, "The overall health score"),
            *[_between(column, 0, 100, f"The {column.replace('_', ' ')}") for column in DIMENSION_SCORE_COLUMNS],
            expectation(
                "expect_column_values_to_be_between",
                "The overall score is a weighted mean of the dimension scores it has, so it lies between the lowest "
                f"and the highest of them (tolerance {SCORE_TOLERANCE:g} points for rounding).",
                column="score_outside_dimension_range",
                min_value=0,
                max_value=SCORE_TOLERANCE,
            ),
            expectation(
                "expect_column_values_to_be_in_set",
                "The health tier is one of the health_tiers seed.",
                column="health_tier",
                value_set=_param("health_tiers"),
            ),
        ],
    )
    for name, grain in ((KPI_MONTHLY, "month"), (KPI_QUARTERLY, "quarter")):
        add(
            name,
            f"marts.{name}",
            f"select * from marts.{name}",
            False,
            f"KPIs by {grain} and segment: rates are shares, NPS within -100..100.",
            [
                _not_null("kpi_row_id", "a key"),
                _unique("kpi_row_id", "The (period, segment) key"),
                *[_between(column, 0, 1, f"The {column.replace('_', ' ')}") for column in RATE_COLUMNS],
                _between("nps", -100, 100, "NPS"),
            ],
        )
    return suites


def suite_path(name: str, directory: Path | None = None) -> Path:
    return (directory or EXPECTATIONS_DIR) / f"{name}.json"


def render(suite: dict[str, Any]) -> str:
    return json.dumps(suite, indent=2, sort_keys=False) + "\n"


def write_suites(directory: Path | None = None) -> list[Path]:
    directory = directory or EXPECTATIONS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, suite in suite_definitions().items():
        path = suite_path(name, directory)
        path.write_text(render(suite), encoding="utf-8")
        written.append(path)
    return written


def stale_suites(directory: Path | None = None) -> list[str]:
    """Names of suites whose JSON file is missing or differs from `suite_definitions`."""
    stale = []
    for name, suite in suite_definitions().items():
        path = suite_path(name, directory)
        if not path.exists() or path.read_text(encoding="utf-8") != render(suite):
            stale.append(name)
    return stale


class SuiteError(ValueError):
    """A suite file is missing or unreadable."""


def load_suite(name: str, directory: Path | None = None) -> dict[str, Any]:
    """The suite JSON from ``expectations/<name>.json`` (what the gate runs)."""
    path = suite_path(name, directory)
    try:
        suite = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SuiteError(
            f"expectation suite {path} is missing: regenerate with `python -m churnguard.quality.suites --write`"
        ) from None
    except ValueError as error:
        raise SuiteError(f"expectation suite {path} is not valid JSON: {error}") from None
    if "churnguard" not in (suite.get("meta") or {}):
        raise SuiteError(f"expectation suite {path} has no meta.churnguard (relation, query)")
    return suite


def suite_names() -> list[str]:
    return list(suite_definitions())


def delivery_suite_names() -> list[str]:
    """Suites whose failure stops the alert-list delivery."""
    return [name for name, suite in suite_definitions().items() if suite["meta"]["churnguard"]["gates_delivery"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help="rewrite expectations/*.json")
    group.add_argument("--check", action="store_true", help="exit 1 when a suite file is out of date")
    args = parser.parse_args(argv)
    if args.write:
        for path in write_suites():
            print(f"wrote {path}")
        return 0
    stale = stale_suites()
    if stale:
        print(f"out of date: {', '.join(stale)} (run python -m churnguard.quality.suites --write)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
