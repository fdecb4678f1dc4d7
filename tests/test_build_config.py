"""Item 13 of issue 16: changing a dbt var on a built warehouse never mixes settings.

Incremental models keep the rows of earlier runs; a run with another churn_grace_days
would add rows computed under the new value to rows computed under the old one (and
fail its own tests). Each incremental model's settings are recorded when it is built;
a later run with other settings stops before building, names the models and says to
rebuild with --full-refresh, which then records the new settings."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from boundary_world import DBT_VARS, write_boundary_world
from conftest import build_warehouse

from churnguard.dbt_cli import DbtError, run_dbt

SELECT = ["--select", "+fct_customer_day", "--indirect-selection", "cautious"]


def _query(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_changed_var_on_a_built_warehouse_asks_for_a_full_refresh(tmp_path: Path) -> None:
    data = write_boundary_world(tmp_path / "raw")
    # the first build only has to record its settings: its models, without their tests (the
    # --full-refresh build below runs them under the changed var)
    warehouse = build_warehouse(data, tmp_path / "wh", dbt_args=["build", *SELECT, "--exclude-resource-type", "test",
                                                                 "unit_test"], dbt_vars=DBT_VARS)
    recorded = dict(_query(warehouse, "select model_name, config_text from utilities.util_build_config"))
    assert "churn_grace_days=30" in recorded["fct_customer_day"]
    # p_pending's subscription ended 2025-06-10: inside the 30-day gap on the as-of date.
    # Read on 2025-06-10, the churn day with a 0-day gap (a churned customer's later days
    # without events have no row).
    status = "select customer_status from marts.fct_customer_day where customer_id = 'p_pending' and date_day = '2025-06-10'"
    assert _query(warehouse, status) == [("active",)]

    changed = {**DBT_VARS, "churn_grace_days": 0}
    with pytest.raises(DbtError) as error:
        run_dbt(["build", *SELECT], warehouse=warehouse, dbt_vars=changed, capture=True)
    message = str(error.value)
    assert "models: fct_customer_day" in message
    assert "built with: churn_definition=subscription; churn_grace_days=30" in message
    assert "this run:   churn_definition=subscription; churn_grace_days=0" in message
    assert "--full-refresh" in message
    assert _query(warehouse, status) == [("active",)]  # nothing was rebuilt

    run_dbt(["build", "--full-refresh", *SELECT], warehouse=warehouse, dbt_vars=changed, capture=True)
    recorded = dict(_query(warehouse, "select model_name, config_text from utilities.util_build_config"))
    assert "churn_grace_days=0" in recorded["fct_customer_day"]
    assert _query(warehouse, status) == [("churned",)]
