"""The raw-data contract (contract.py) is the single source of truth: the committed
contract page and the dbt sources YAML must say exactly what it says."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
STAGING_DIR = REPO_ROOT / "dbt_project" / "models" / "staging"

try:
    import churnguard  # noqa: F401
except ModuleNotFoundError:  # not installed: run from the source tree
    sys.path.insert(0, str(REPO_ROOT / "orchestration"))

from churnguard import contract_docs  # noqa: E402
from churnguard.contract import LOGICAL_TYPES, TABLES, Column, Table  # noqa: E402

SYSTEMS = sorted({t.system for t in TABLES})


def _load_yaml(path: Path) -> dict:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _sources() -> dict[str, dict]:
    """Each dbt source (keyed by name) from the staging folders' `_<system>__sources.yml`."""
    sources: dict[str, dict] = {}
    for path in sorted(STAGING_DIR.glob("*/_*__sources.yml")):
        for source in _load_yaml(path).get("sources", []):
            assert source["name"] not in sources, f"source {source['name']} defined twice ({path})"
            sources[source["name"]] = source
    return sources


def _models() -> dict[str, dict]:
    models: dict[str, dict] = {}
    for path in sorted(STAGING_DIR.glob("*/_*__models.yml")):
        for model in _load_yaml(path).get("models", []):
            models[model["name"]] = model
    return models


def _tests(entry: dict) -> dict[str, dict]:
    """A column's data tests as {test name: arguments}."""
    tests: dict[str, dict] = {}
    for test in entry.get("data_tests", []) or []:
        if isinstance(test, str):
            name, args = test, {}
        else:
            ((name, body),) = test.items()
            args = dict((body or {}).get("arguments", {}))
        assert name not in tests, f"test {name} listed twice on {entry['name']}"
        tests[name] = args
    return tests


def _expected_source_tests(t: Table, col: Column) -> dict[str, dict]:
    expected: dict[str, dict] = {}
    if col.name == t.primary_key:
        expected["unique"] = {}
    if not col.nullable:
        expected["not_null"] = {}
    if col.accepted_values:
        expected["accepted_values"] = {"values": list(col.accepted_values)}
    if col.references:
        system, table, column = col.references.split(".")
        expected["relationships"] = {"to": f"source('{system}', '{table}')", "field": column}
    if col.min_value is not None or col.max_value is not None:
        bounds = {"min_value": col.min_value, "max_value": col.max_value}
        expected["accepted_range"] = {k: v for k, v in bounds.items() if v is not None}
    return expected


def _source_table(sources: dict[str, dict], t: Table) -> dict:
    return next(tbl for tbl in sources[t.system]["tables"] if tbl["name"] == t.name)


def test_committed_contract_page_is_up_to_date() -> None:
    page = contract_docs.CONTRACT_PAGE
    assert page.exists(), "docs/RAW_DATA_CONTRACT.md is missing: run `python -m churnguard.contract_docs`"
    assert page.read_text(encoding="utf-8") == contract_docs.render_contract_markdown(), (
        "docs/RAW_DATA_CONTRACT.md is out of date: run `python -m churnguard.contract_docs`"
    )


def test_contract_page_shows_every_table_and_column() -> None:
    page = contract_docs.render_contract_markdown()
    for t in TABLES:
        assert f"### {t.qualified_name}\n" in page
        assert t.modeled_on in page
        for col in t.columns:
            assert f"`{col.name}`" in page, f"{t.qualified_name}.{col.name} missing from the page"


def test_every_logical_type_has_a_documented_format() -> None:
    assert set(contract_docs.TYPE_FORMATS) == set(LOGICAL_TYPES)
    assert set(contract_docs.RAW_SQL_TYPES) == set(LOGICAL_TYPES)


def test_contract_docs_check_mode_reports_a_stale_page(tmp_path: Path) -> None:
    stale = tmp_path / "RAW_DATA_CONTRACT.md"
    stale.write_text("# stale\n", encoding="utf-8")
    assert contract_docs.main(["--check", "--output", str(stale)]) == 1
    assert contract_docs.main(["--output", str(stale)]) == 0
    assert contract_docs.main(["--check", "--output", str(stale)]) == 0


def test_dbt_sources_are_the_contract_systems_and_schemas() -> None:
    sources = _sources()
    assert sorted(sources) == SYSTEMS
    for system, source in sources.items():
        assert source["schema"] == f"raw_{system}"


def test_dbt_sources_list_exactly_the_contract_tables_and_columns() -> None:
    sources = _sources()
    declared = {f"{name}.{tbl['name']}" for name, src in sources.items() for tbl in src["tables"]}
    assert declared == {t.qualified_name for t in TABLES}
    for t in TABLES:
        columns = [c["name"] for c in _source_table(sources, t)["columns"]]
        assert columns == t.column_names, f"source {t.qualified_name}: columns differ from the contract"


def test_dbt_source_columns_are_described_and_typed() -> None:
    sources = _sources()
    for t in TABLES:
        tbl = _source_table(sources, t)
        assert tbl.get("description"), f"source {t.qualified_name} has no description"
        for entry, col in zip(tbl["columns"], t.columns):
            assert entry.get("description"), f"{t.qualified_name}.{col.name} has no description"
            assert entry.get("data_type", "").upper() == contract_docs.RAW_SQL_TYPES[col.type], (
                f"{t.qualified_name}.{col.name}: data_type {entry.get('data_type')} for a {col.type}"
            )


@pytest.mark.parametrize("t", TABLES, ids=[t.qualified_name for t in TABLES])
def test_dbt_source_tests_match_contract_rules(t: Table) -> None:
    """Nullability, primary key, accepted values, ranges and references, nothing more or less."""
    tbl = _source_table(_sources(), t)
    for entry, col in zip(tbl["columns"], t.columns):
        assert _tests(entry) == _expected_source_tests(t, col), f"{t.qualified_name}.{col.name}"


def test_dbt_source_freshness_matches_contract_thresholds() -> None:
    sources = _sources()
    for t in TABLES:
        source_config = sources[t.system].get("config", {})
        table_config = _source_table(sources, t).get("config", {})
        loaded_at = table_config.get("loaded_at_field", source_config.get("loaded_at_field"))
        assert loaded_at == "_synced_at", t.qualified_name
        freshness = table_config.get("freshness", source_config.get("freshness"))
        assert freshness == {
            "warn_after": {"count": t.freshness_warn_hours, "period": "hour"},
            "error_after": {"count": t.freshness_error_hours, "period": "hour"},
        }, t.qualified_name


def test_every_contract_table_has_a_documented_staging_model() -> None:
    models = _models()
    for t in TABLES:
        name = f"stg_{t.system}__{t.name}"
        assert (STAGING_DIR / t.system / f"{name}.sql").exists(), f"{name}.sql is missing"
        assert name in models, f"{name} is not documented in _{t.system}__models.yml"
        columns = models[name]["columns"]
        assert all(c.get("description") for c in columns), f"{name}: undocumented column"
        key_tests = _tests(columns[0])
        assert {"unique", "not_null"} <= set(key_tests), f"{name}: primary key not tested"
