"""Nightly data tests read the build window; the full suite reads every row.

The dbt side (`macros/testing/get_where_subquery.sql`): with `test_scope: window`, the tests
of a model that declares `meta.test_window_column` read only the rows from the window start
(`start_date`, else as_of_date - lookback_days). Shown on a copy of the built sample: a
duplicate customer-day planted long before the window fails the full suite but not the
nightly one; planted inside the window it fails both. The Python side
(`churnguard.data_test_scope.choose`) decides which scope a build gets.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from churnguard import data_test_scope
from churnguard.dbt_cli import run_dbt
from conftest import copy_warehouse

UNIQUE_DAY_TEST = "unique_combination_of_columns_fct_customer_day_customer_id__date_day"


def _plant_duplicate(warehouse: Path, day: date) -> str:
    """Insert a second copy of one customer's row for ``day``; return the customer."""
    con = duckdb.connect(str(warehouse))
    try:
        customer = con.execute(
            "select min(customer_id) from marts.fct_customer_day where date_day = ?", [day]
        ).fetchone()[0]
        con.execute(
            "insert into marts.fct_customer_day select * from marts.fct_customer_day "
            "where customer_id = ? and date_day = ?",
            [customer, day],
        )
        assert con.execute(
            "select count(*) from marts.fct_customer_day where customer_id = ? and date_day = ?", [customer, day]
        ).fetchone()[0] == 2
    finally:
        con.close()
    return customer


def _failures(warehouse: Path, scope: str, extra_vars: dict | None = None) -> list[str]:
    result = run_dbt(
        ["test", "--select", "fct_customer_day,test_name:unique_combination_of_columns"],
        warehouse=warehouse,
        dbt_vars={"test_scope": scope, **(extra_vars or {})},
        capture=True,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if "FAIL" in line and UNIQUE_DAY_TEST in line]
    assert "Done." in result.stdout, result.stdout[-3000:]
    return lines


@pytest.fixture
def as_of(sample_warehouse: Path) -> date:
    con = duckdb.connect(str(sample_warehouse), read_only=True)
    try:
        return con.execute("select as_of_date from utilities.util_date_bounds").fetchone()[0]
    finally:
        con.close()


def test_window_scope_reads_only_the_build_window(sample_warehouse: Path, tmp_path: Path, as_of: date) -> None:
    warehouse = copy_warehouse(sample_warehouse, tmp_path / "old_duplicate")
    _plant_duplicate(warehouse, as_of - timedelta(days=100))
    assert _failures(warehouse, "full"), "the full suite must see a duplicate 100 days back"
    assert _failures(warehouse, "window") == [], "the nightly window (last 4 days) must not read 100 days back"
    # A scheduler's start_date widens the window to the partitions it rebuilt.
    assert _failures(warehouse, "window", {"start_date": (as_of - timedelta(days=120)).isoformat()})


def test_window_scope_still_catches_bad_rows_in_the_window(sample_warehouse: Path, tmp_path: Path, as_of: date) -> None:
    warehouse = copy_warehouse(sample_warehouse, tmp_path / "new_duplicate")
    _plant_duplicate(warehouse, as_of - timedelta(days=1))
    assert _failures(warehouse, "window")
    assert _failures(warehouse, "full")


def test_window_filter_is_compiled_into_window_scoped_tests_only(sample_warehouse: Path, tmp_path: Path, as_of: date) -> None:
    warehouse = copy_warehouse(sample_warehouse, tmp_path / "compiled")
    target = tmp_path / "dbt_target"
    run_dbt(["compile", "--select", "fct_customer_day dim_customers"], warehouse=warehouse,
            dbt_vars={"test_scope": "window"}, capture=True)
    results = json.loads((target / "run_results.json").read_text())["results"]
    compiled = {r["unique_id"].split(".")[2]: r["compiled_code"] for r in results if r["unique_id"].startswith("test.")}
    first = (as_of - timedelta(days=3)).isoformat()  # lookback_days = 3
    unique_day = next(sql for name, sql in compiled.items() if name.startswith(UNIQUE_DAY_TEST))
    assert f"date_day >= cast('{first}' as date)" in unique_day
    dim_tests = [sql for name, sql in compiled.items() if "dim_customers" in name and name.startswith("unique")]
    assert dim_tests and all("dbt_subquery" not in sql for sql in dim_tests)  # no test_window_column: every row


def test_window_scoped_test_of_a_daily_aggregate_reads_its_table_not_the_raw_logins(
    sample_warehouse: Path, tmp_path: Path, as_of: date
) -> None:
    """int_product_usage_daily is a table: its nightly tests filter the table scan to the
    window. As a view they re-ran the de-duplication of every raw login (the filter cannot
    pass the staging view's window over login_id), whatever the window."""
    warehouse = copy_warehouse(sample_warehouse, tmp_path / "usage_plan")
    target = tmp_path / "dbt_target"
    run_dbt(["compile", "--select", "int_product_usage_daily"], warehouse=warehouse,
            dbt_vars={"test_scope": "window"}, capture=True)
    results = json.loads((target / "run_results.json").read_text())["results"]
    unique_usage_day = next(
        r["compiled_code"] for r in results
        if r["unique_id"].startswith("test.churnguard.unique_combination_of_columns_int_product_usage_daily")
    )
    first = (as_of - timedelta(days=3)).isoformat()
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        kinds = dict(con.execute(
            "select table_name, table_type from information_schema.tables where table_schema = 'intermediate' "
            "and table_name in ('int_product_usage_daily', 'int_subscriptions_daily')"
        ).fetchall())
        plan = "\n".join(row[1] for row in con.execute("explain " + unique_usage_day).fetchall())
    finally:
        con.close()
    assert kinds == {"int_product_usage_daily": "BASE TABLE", "int_subscriptions_daily": "VIEW"}
    assert "Table: churnguard.intermediate.int_product_usage_daily" in plan, plan
    assert f"date_day >= '{first}'::DATE" in plan, plan  # pushed into the scan of the table
    assert "logins" not in plan, plan  # no raw or staging logins read


def test_unknown_scope_is_a_clear_error(sample_warehouse: Path, tmp_path: Path) -> None:
    warehouse = copy_warehouse(sample_warehouse, tmp_path / "bad_scope")
    result = run_dbt(["test", "--select", "fct_customer_day,test_name:unique_combination_of_columns"],
                     warehouse=warehouse, dbt_vars={"test_scope": "weekly"}, capture=True, check=False)
    assert result.returncode != 0
    assert "var test_scope must be 'full' or 'window', not 'weekly'" in result.stdout


# ----------------------------------------------------------------- choosing the scope
MONDAY = date(2026, 11, 16)
SUNDAY = date(2026, 11, 22)


def test_new_warehouse_gets_full_tests(tmp_path: Path) -> None:
    assert data_test_scope.choose(tmp_path / "missing.duckdb", today=MONDAY) == "full"
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    assert data_test_scope.choose(empty, today=MONDAY) == "full"


def test_built_warehouse_gets_window_tests_except_weekly_and_full_refresh(
    sample_warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHURNGUARD_FULL_TESTS_WEEKDAY", raising=False)
    assert data_test_scope.choose(sample_warehouse, today=MONDAY) == "window"
    assert data_test_scope.choose(sample_warehouse, today=SUNDAY) == "full"
    assert data_test_scope.choose(sample_warehouse, today=MONDAY, full_refresh=True) == "full"
    assert data_test_scope.choose(sample_warehouse, "full", today=MONDAY) == "full"
    assert data_test_scope.choose(sample_warehouse, "window", today=SUNDAY) == "window"
    monkeypatch.setenv("CHURNGUARD_FULL_TESTS_WEEKDAY", "Monday")
    assert data_test_scope.choose(sample_warehouse, today=MONDAY) == "full"
    monkeypatch.setenv("CHURNGUARD_FULL_TESTS_WEEKDAY", "daily")
    assert data_test_scope.choose(sample_warehouse, today=MONDAY) == "full"
    monkeypatch.setenv("CHURNGUARD_FULL_TESTS_WEEKDAY", "never")
    assert data_test_scope.choose(sample_warehouse, today=SUNDAY) == "window"


def test_bad_settings_name_the_setting(sample_warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHURNGUARD_FULL_TESTS_WEEKDAY", "sundays")
    with pytest.raises(data_test_scope.ScopeSettingError, match="CHURNGUARD_FULL_TESTS_WEEKDAY='sundays'"):
        data_test_scope.choose(sample_warehouse, today=MONDAY)
    monkeypatch.delenv("CHURNGUARD_FULL_TESTS_WEEKDAY")
    with pytest.raises(data_test_scope.ScopeSettingError, match="'weekly' is not one of auto, full, window"):
        data_test_scope.choose(sample_warehouse, "weekly", today=MONDAY)


def _built_resource_types(warehouse: Path, target: Path, tests: str) -> dict[str, int]:
    from churnguard.cli import main

    assert main(["--warehouse", str(warehouse), "build", "--tests", tests, "--select", "current_alert_list"]) == 0
    results = json.loads((target / "run_results.json").read_text())["results"]
    kinds: dict[str, int] = {}
    for result in results:
        kind = result["unique_id"].split(".")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def test_window_scoped_build_skips_unit_tests(sample_warehouse: Path, tmp_path: Path) -> None:
    """Unit tests read fixed input rows, not the new day's data: a nightly (window-scoped)
    build leaves them out; a full-scope build runs them with the data tests."""
    warehouse = copy_warehouse(sample_warehouse, tmp_path / "unit_tests")
    target = tmp_path / "dbt_target"
    window = _built_resource_types(warehouse, target, "window")
    full = _built_resource_types(warehouse, target, "full")
    assert window.get("model") == full.get("model") == 1
    assert window.get("test", 0) > 0 and window.get("test") == full.get("test")
    assert "unit_test" not in window
    assert full.get("unit_test", 0) >= 1  # current_alert_list_priority_order
    assert data_test_scope.dbt_build_args("window") == ["--exclude-resource-type", "unit_test"]
    assert data_test_scope.dbt_build_args("full") == []
