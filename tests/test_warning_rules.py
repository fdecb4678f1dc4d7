"""Item 11 of issue 16: every parameter in warning_rules.csv is read by a model, and every
parameter a rule's text prints exists (the text never shows a number nothing uses).

The project is compiled by dbt; a parameter counts as read when a compiled model selects
that column of that rule from the warning_rules seed (`rule_param`), or when a model
reads it as a window literal (`rule_window_days_literal`) before compiling."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from churnguard import settings
from churnguard.dbt_cli import run_dbt

PARAMETERS = ("threshold", "window_days", "min_count")


def _rules() -> list[dict]:
    with (settings.SEEDS_DIR / "reference" / "warning_rules.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def compiled_sql(tmp_path_factory: pytest.TempPathFactory, sample_warehouse: Path) -> str:
    """The health models compiled against a copy of the built sample (incremental models
    read the warehouse's clock while compiling)."""
    import os

    from conftest import copy_warehouse

    root = tmp_path_factory.mktemp("compiled")
    warehouse = copy_warehouse(sample_warehouse, root)

    saved = os.environ.get("CHURNGUARD_DBT_TARGET_PATH")
    os.environ["CHURNGUARD_DBT_TARGET_PATH"] = str(root / "target")
    try:
        run_dbt(["compile", "--select", "path:models/intermediate/health", "path:models/marts/health", "--quiet"], warehouse=warehouse, capture=True)
    finally:
        if saved is None:
            os.environ.pop("CHURNGUARD_DBT_TARGET_PATH", None)
        else:
            os.environ["CHURNGUARD_DBT_TARGET_PATH"] = saved
    texts = [path.read_text(encoding="utf-8") for path in (root / "target" / "compiled").rglob("*.sql")]
    sources = [path.read_text(encoding="utf-8") for path in (settings.DBT_PROJECT_DIR / "models").rglob("*.sql")]
    return "\n".join(texts + sources)


def _is_read(sql: str, code: str, field: str) -> bool:
    selected = re.search(
        rf"select\s+{field}\s+from\s+\S*warning_rules\S*\s+where\s+reason_code\s*=\s*'{code}'", sql, re.IGNORECASE
    )
    literal = field == "window_days" and re.search(rf"rule_window_days_literal\(\s*'{code}'", sql)
    return bool(selected or literal)


def test_every_rule_parameter_in_the_seed_is_read_by_a_model(compiled_sql: str) -> None:
    unread = [
        f"{rule['reason_code']}.{field}={rule[field]}"
        for rule in _rules()
        for field in PARAMETERS
        if rule[field].strip() and not _is_read(compiled_sql, rule["reason_code"], field)
    ]
    assert unread == []


def test_every_parameter_a_rule_text_prints_is_set() -> None:
    missing = []
    for rule in _rules():
        for placeholder in re.findall(r"\{(\w+)\}", rule["description"]):
            field = "threshold" if placeholder == "threshold_pct" else placeholder
            assert field in PARAMETERS, f"{rule['reason_code']}: unknown placeholder {{{placeholder}}}"
            if not rule[field].strip():
                missing.append(f"{rule['reason_code']}: {{{placeholder}}}")
    assert missing == []
    # Shares print as percentages: every threshold below 1 is printed with {threshold_pct}.
    shares = [r["reason_code"] for r in _rules() if r["threshold"].strip() and float(r["threshold"]) < 1]
    assert shares and all("{threshold_pct}" in r["description"] for r in _rules() if r["reason_code"] in shares)
