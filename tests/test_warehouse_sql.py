"""The engine-neutral warehouse layer (`churnguard.warehouse_sql`), without a server.

- With the postgres target, `churnguard sync --dry-run` against an unreachable server fails
  with a message naming the server, and never reads (or creates) the DuckDB file, even
  when a stale DuckDB warehouse with alerts is lying there.
- DuckDB SQL is transpiled for PostgreSQL and Spark by sqlglot: the statements our steps use.
"""

from __future__ import annotations

import socket
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from churnguard import warehouse_sql
from churnguard.cli import main


def _closed_port() -> int:
    with socket.socket() as s:  # bound then released: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stale_duckdb_with_alerts(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("create table marts.current_alert_list as select 'STALE-ALERT-1' as alert_id, 'C1' as customer_id")
    con.close()


def _postgres_target(monkeypatch: pytest.MonkeyPatch) -> int:
    port = _closed_port()
    monkeypatch.setenv("CHURNGUARD_DBT_TARGET", "postgres")
    for key, value in {"PGHOST": "127.0.0.1", "PGPORT": str(port), "PGUSER": "churnguard", "PGDATABASE": "crm_health",
                       "PGSSLMODE": "disable", "PGCONNECT_TIMEOUT": "3"}.items():
        monkeypatch.setenv(key, value)
    return port


def test_dry_run_on_postgres_names_the_unreachable_server_and_ignores_a_stale_duckdb_file(
    isolated_warehouse: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    _stale_duckdb_with_alerts(isolated_warehouse)
    port = _postgres_target(monkeypatch)

    code = main(["sync", "--dry-run"])

    out, err = capsys.readouterr()
    assert code == 2
    assert f"PostgreSQL database crm_health on 127.0.0.1:{port}" in err
    assert "CHURNGUARD_DBT_TARGET=postgres" in err
    assert "STALE-ALERT-1" not in out + err
    assert str(isolated_warehouse) not in out + err


def test_dry_run_on_postgres_never_creates_a_duckdb_file(
    isolated_warehouse: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    _postgres_target(monkeypatch)

    assert main(["sync", "--dry-run"]) == 2
    assert "cannot reach the warehouse" in capsys.readouterr().err
    assert not isolated_warehouse.exists()


def test_duckdb_target_still_reads_the_file(isolated_warehouse: Path) -> None:
    _stale_duckdb_with_alerts(isolated_warehouse)
    with warehouse_sql.connect() as con:
        assert isinstance(con, duckdb.DuckDBPyConnection)  # the same connection as before: same speed
        assert warehouse_sql.relation_columns(con, "marts", "current_alert_list") == ["alert_id", "customer_id"]
        assert warehouse_sql.relation_exists(con, "marts", "current_alert_list")
        assert not warehouse_sql.relation_exists(con, "marts", "kpi_monthly")
        assert ("marts", "current_alert_list") in warehouse_sql.tables(con)


def test_duckdb_sql_is_transpiled_for_postgres_and_spark() -> None:
    reasons = "select alert_id, unnest(string_split(reason_codes, '|')) as reason_code from marts.current_alert_list"
    assert "string_to_array(reason_codes, '|')" in warehouse_sql.translate(reasons, "postgres").lower()
    assert "explode(split(reason_codes" in warehouse_sql.translate(reasons, "spark").lower()
    ddl = "create table if not exists delivery.sync_runs (run_id varchar not null, duration_seconds double)"
    assert "DOUBLE PRECISION" in warehouse_sql.translate(ddl, "postgres")
    assert warehouse_sql.translate("select * from t where a = ? and b = ?", "postgres") == (
        "SELECT * FROM t WHERE a = %s AND b = %s"
    )


def test_spark_parameters_become_literals_outside_quotes() -> None:
    sql = "select '?' as q, x from t where a = ? and d between ? and ? and n = ?"
    assert warehouse_sql._inline(sql, ["it's", date(2024, 1, 1), date(2024, 1, 31), 3]) == (
        "select '?' as q, x from t where a = 'it\\'s' and d between date '2024-01-01' and date '2024-01-31' and n = 3"
    )
    # floats Python writes as 'nan' / 'inf' are not SQL literals
    assert warehouse_sql._inline("select ?, ?, ?, ?", [0.5, float("nan"), float("inf"), -float("inf")]) == (
        "select 0.5, double('NaN'), double('Infinity'), double('-Infinity')"
    )


def test_cursor_frames_are_typed_like_duckdb() -> None:
    cursor = warehouse_sql.Cursor(["day", "rate", "name"], [(date(2024, 1, 1), Decimal("0.25"), "a"), (None, None, "b")])
    frame = cursor.df()
    assert str(frame["day"].dtype).startswith("datetime64")
    assert frame["rate"].dtype == "float64" and frame["rate"].iloc[0] == 0.25
    assert list(frame["name"]) == ["a", "b"]
