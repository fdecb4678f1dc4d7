"""Fast checks (no engine needed) that the dbt project and the engine comparison stay portable.

The builds on PostgreSQL and Spark themselves run in tests/engines (``make test-engines``)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import jinja2
import pytest
import yaml

from churnguard import settings
from engine_compare import mart_differences, normalize

MODEL_YMLS = sorted((settings.DBT_PROJECT_DIR / "models").rglob("_*__models.yml"))

# Type names each engine accepts in a CREATE TABLE and reports back unchanged enough for
# dbt's contract and on_schema_change checks.
PORTABLE = {
    "duckdb": {"text", "double precision", "bigint", "integer", "boolean", "date", "timestamp"},
    "postgres": {"text", "double precision", "bigint", "integer", "boolean", "date", "timestamp"},
    "spark": {"string", "double", "bigint", "integer", "boolean", "date", "timestamp"},
}
DECIMAL = re.compile(r"^(numeric|decimal)\(\d+,\d+\)$")


def _contract_types(target_type: str) -> list[tuple[str, str, str]]:
    """(file, column, data_type rendered for ``target_type``) of every model column with a data_type."""
    env = jinja2.Environment()
    found = []
    for path in MODEL_YMLS:
        doc = yaml.safe_load(path.read_text()) or {}
        for model in doc.get("models", []):
            for col in model.get("columns", []):
                if "data_type" in col:
                    rendered = env.from_string(str(col["data_type"])).render(target={"type": target_type})
                    found.append((path.name, f"{model['name']}.{col['name']}", rendered.strip().lower()))
    return found


@pytest.mark.parametrize("target_type", sorted(PORTABLE))
def test_contract_data_types_are_valid_on_every_engine(target_type: str) -> None:
    """`double` is no PostgreSQL type, `varchar` becomes `character varying` on PostgreSQL (the
    incremental temp table says `text`: on_schema_change fails) and needs a length on Spark."""
    types = _contract_types(target_type)
    assert len(types) > 200  # the marts' enforced contracts are all read
    wrong = [(f, c, t) for f, c, t in types if t not in PORTABLE[target_type] and not DECIMAL.match(t)]
    assert wrong == []


def test_contract_text_and_double_types_per_engine() -> None:
    by_column = {c: t for _, c, t in _contract_types("postgres")}
    assert by_column["customer_alerts.alert_id"] == "text"
    assert by_column["kpi_monthly.customer_churn_rate"] == "double precision"
    spark = {c: t for _, c, t in _contract_types("spark")}
    assert spark["customer_alerts.alert_id"] == "string"
    assert spark["kpi_monthly.customer_churn_rate"] == "double"


# ------------------------------------------------------------------ the rounding rule

def test_rounding_rule_ignores_last_bits_and_printed_scale() -> None:
    assert normalize(0.050000000000000044) == normalize(0.05)
    assert normalize(16.666666666666668) == normalize(16.666666666666664)
    assert normalize(Decimal("80.000000")) == normalize(80) == 80.0
    assert normalize(-0.0) == 0.0


def test_rounding_rule_keeps_real_differences() -> None:
    assert normalize(0.1) != normalize(0.2)
    assert normalize(123456.78) != normalize(123456.79)  # cents on a large amount
    assert normalize(1.0000001) != normalize(1.0)  # the 8th significant digit counts
    assert normalize(1e-12) != normalize(0.0)
    assert normalize(True) is True and normalize(1) == 1.0  # a flag is not a number


def test_mart_comparison_sorts_rows_and_columns_and_names_differences() -> None:
    expected = (["b", "A"], [(2, "x"), (1.0000000000000002, "y")])
    same = (["a", "b"], [("y", Decimal("1.000000")), ("x", 2)])  # other order, other types
    assert mart_differences("m", expected, same) == []
    other = (["a", "b"], [("y", 1), ("x", 3)])
    problems = mart_differences("m", expected, other)
    assert problems == ["m: missing row a='x', b=2.0", "m: unexpected row a='x', b=3.0"]
    assert mart_differences("m", expected, (["a"], [("y",), ("x",)]))[0].startswith("m: columns differ")


def test_unit_tests_give_every_input_inline() -> None:
    """A unit-test input without rows reads the live relation (a seed a user edited, a seed an
    engine types differently); every input carries its rows."""
    live = []
    for path in MODEL_YMLS:
        for test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", []) or []:
            live += [f"{test['name']}: {given['input']}" for given in test.get("given", []) if "rows" not in given]
    assert live == []
