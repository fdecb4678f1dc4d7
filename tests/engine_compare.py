"""Compare marts built on different engines, row by row, with one documented rounding rule.

Rule (docs/ENGINES.md): two marts are equal when they have the same columns and, after
normalising every value and sorting the rows, the same rows. Normalising:

- numbers (integers, decimals, floats; not booleans) become floats rounded to
  ``SIGNIFICANT_DIGITS`` (9) significant digits: engines differ in the last bits of floating
  point results (16.666666666666668 vs 16.666666666666664, the order a sum adds its terms)
  and in the scale they print decimals with (80 vs 80.000000), never in the 9th digit of a
  real result; a difference in an id, a count, a date or a flag is never rounded away;
- NaN and infinities stay as they are; -0.0 becomes 0.0;
- dates and timestamps become ISO text (engines return date, datetime or pandas Timestamp);
- text and booleans are compared exactly; null equals only null.

Column names are compared case-insensitively (Spark lower-cases them) and in sorted order
(Spark moves partition columns last).
"""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterable, Sequence

SIGNIFICANT_DIGITS = 9

MARTS = (
    "dim_customers", "fct_customer_day",
    "health_scores", "customer_alerts", "customer_alert_reasons", "current_alert_list", "dim_customer_value",
    "kpi_monthly", "kpi_quarterly", "kpi_alert_outcomes", "kpi_playbook_outcomes", "kpi_intervention_sla",
    "kpi_churn_reasons",
)


def normalize(value: Any) -> Any:
    """One value, normalised by the rule of the module docstring."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)) or type(value).__module__ == "numpy":
        if hasattr(value, "item") and not isinstance(value, Decimal):
            value = value.item()  # numpy scalar
            if isinstance(value, bool):
                return value
        x = float(value)
        if math.isnan(x) or math.isinf(x) or x == 0:
            return 0.0 if x == 0 else x
        return float(f"{x:.{SIGNIFICANT_DIGITS}g}")
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        return normalize(value.to_pydatetime())
    return value


def _sort_key(row: Sequence[Any]) -> tuple:
    return tuple((v is None, type(v).__name__ if v is not None else "", v if v is not None else 0) for v in row)


def normalized_rows(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> tuple[list[str], list[tuple]]:
    """Columns lower-cased and sorted; every row normalised and reordered to match; rows sorted."""
    names = [c.lower() for c in columns]
    order = sorted(range(len(names)), key=lambda i: names[i])
    out = [tuple(normalize(row[i]) for i in order) for row in rows]
    out.sort(key=_sort_key)
    return [names[i] for i in order], out


def mart_differences(name: str, expected: tuple[Sequence[str], list], actual: tuple[Sequence[str], list],
                     limit: int = 5) -> list[str]:
    """Human-readable differences between two (columns, rows) results of the same mart; [] when equal."""
    e_cols, e_rows = normalized_rows(*expected)
    a_cols, a_rows = normalized_rows(*actual)
    if e_cols != a_cols:
        return [f"{name}: columns differ: only in expected {sorted(set(e_cols) - set(a_cols))}, "
                f"only in actual {sorted(set(a_cols) - set(e_cols))}"]
    problems = []
    if len(e_rows) != len(a_rows):
        problems.append(f"{name}: {len(e_rows)} rows expected, {len(a_rows)} found")
    e_set, a_set = _counts(e_rows), _counts(a_rows)
    missing = [r for r in e_rows if e_set.get(r, 0) > a_set.get(r, 0)]
    extra = [r for r in a_rows if a_set.get(r, 0) > e_set.get(r, 0)]
    for label, rows in (("missing", missing), ("unexpected", extra)):
        for row in rows[:limit]:
            problems.append(f"{name}: {label} row " + ", ".join(f"{c}={v!r}" for c, v in zip(e_cols, row)))
        if len(rows) > limit:
            problems.append(f"{name}: ... {len(rows) - limit} more {label} rows")
    return problems


def _counts(rows: list[tuple]) -> dict[tuple, int]:
    counts: dict[tuple, int] = {}
    for r in rows:
        counts[r] = counts.get(r, 0) + 1
    return counts
