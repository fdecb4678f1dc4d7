"""Item 14 of issue 16: wrong arguments and dbt vars stop before anything is built,
with a message that names them.

- `churnguard build --start-date 2025-13-01` is refused by the argument parser, and a
  reversed range by the command (exit 2), without running dbt;
- dbt vars are checked at the start of every dbt run (on-run-start), whatever passed
  them (`churnguard dbt -- build --vars ...`, the Dagster job, dbt itself): a month 13,
  a reversed range, churn_definition: weekly and churn_grace_days: abc are all reported
  in one message, and no model is built."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from churnguard.cli import main
from churnguard.dbt_cli import DbtError, run_dbt


def test_build_refuses_a_date_that_is_not_a_calendar_date(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["build", "--start-date", "2025-13-01"])
    assert exit_info.value.code == 2
    assert "'2025-13-01' is not a calendar date YYYY-MM-DD" in capsys.readouterr().err


def test_build_refuses_a_reversed_range_without_running_dbt(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    warehouse = tmp_path / "wh.duckdb"
    code = main(["--warehouse", str(warehouse), "build", "--start-date", "2025-03-10", "--end-date", "2025-03-01"])
    assert code == 2
    assert "--start-date 2025-03-10 is after --end-date 2025-03-01" in capsys.readouterr().err
    assert not warehouse.exists()


def test_build_refuses_a_window_after_its_as_of_date_without_running_dbt(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    warehouse = tmp_path / "wh.duckdb"
    code = main(["--warehouse", str(warehouse), "build", "--as-of-date", "2025-03-01", "--end-date", "2025-03-02"])
    assert code == 2
    assert "--end-date 2025-03-02 is after --as-of-date 2025-03-01" in capsys.readouterr().err
    assert not warehouse.exists()


def test_dbt_vars_are_checked_before_anything_is_built(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    bad = {"churn_definition": "weekly", "churn_grace_days": "abc", "start_date": "2025-13-01"}
    with pytest.raises(DbtError) as error:
        run_dbt(["build", "--select", "util_date_bounds"], warehouse=warehouse, dbt_vars=bad, capture=True)
    message = str(error.value)
    assert "churn_definition must be subscription, activity or order, not 'weekly'" in message
    assert "churn_grace_days must be a whole number of days (0 or more), not 'abc'" in message
    assert "start_date must be a calendar date YYYY-MM-DD, not '2025-13-01'" in message
    with pytest.raises(DbtError) as error:
        run_dbt(["build", "--select", "util_date_bounds"], warehouse=warehouse,
                dbt_vars={"start_date": "2025-03-10", "end_date": "2025-03-01"}, capture=True)
    assert "start_date 2025-03-10 is after end_date 2025-03-01" in str(error.value)
    if warehouse.exists():  # dbt may not even have created the file
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            built = con.execute("select count(*) from information_schema.tables where table_schema = 'utilities'").fetchone()[0]
        finally:
            con.close()
        assert built == 0
