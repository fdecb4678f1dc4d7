"""The sample on PostgreSQL 15 and on a local Spark session, every mart equal to DuckDB's.

Run with ``make test-engines`` (marker ``engines``; ``make test`` deselects it). Needs the
extras ``churnguard[postgres,spark]``, PostgreSQL's ``initdb``/``pg_ctl`` on PATH and Java 17.

- PostgreSQL: a throwaway cluster (as the ``postgres`` user when the tests run as root: the
  server refuses root) in a temporary folder, on a free loopback port; stopped and removed
  in teardown. ``churnguard load`` writes the whole sample, ``dbt build`` builds and tests
  everything, then a second, incremental ``dbt run`` of the day-grain models (the nightly
  run) must succeed too; every mart is compared with DuckDB's.
- Spark: a local session (``local[2]``) whose Parquet tables and Derby metastore live in a
  temporary folder. Spark runs each of the ~1,100 dbt nodes as its own job, so it builds
  a slice of the sample (the first ``SPARK_CUSTOMERS`` accounts, every day, every table
  cut to those accounts); DuckDB builds the same slice for the comparison. The marts are
  read from the tables' Parquet files (no second JVM in the test process).

Rows are compared by the rounding rule of tests/engine_compare.py.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest

from churnguard import settings
from churnguard.contract import TABLES, file_stem
from churnguard.loading.targets import spark_table_files
from conftest import build_warehouse
from engine_compare import MARTS, mart_differences

pytestmark = pytest.mark.engines

SPARK_CUSTOMERS = 80
CLI = [sys.executable, "-m", "churnguard.cli"]
TIMINGS: dict[str, float] = {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str], env: dict[str, str], what: str) -> float:
    started = time.monotonic()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=settings.PROJECT_ROOT)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-60:])
        pytest.fail(f"{what} failed (exit {result.returncode}):\n{tail}")
    return time.monotonic() - started


def _base_env(tmp: Path, target: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "CHURNGUARD_DBT_TARGET": target,
        "CHURNGUARD_WAREHOUSE": str(tmp / "unused.duckdb"),  # must never be created
        "CHURNGUARD_DBT_TARGET_PATH": str(tmp / "dbt_target"),
        "CHURNGUARD_DBT_LOG_PATH": str(tmp / "dbt_logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    })
    return env


def _duckdb_marts(warehouse: Path) -> dict[str, tuple[list[str], list]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        out = {}
        for mart in MARTS:
            cur = con.execute(f"select * from marts.{mart}")
            out[mart] = ([d[0] for d in cur.description], cur.fetchall())
        return out
    finally:
        con.close()


def _assert_marts_equal(expected: dict, actual: dict) -> None:
    problems = []
    for mart in MARTS:
        problems += mart_differences(mart, expected[mart], actual[mart])
    assert problems == [], "\n".join(problems[:40])
    assert all(expected[m][1] for m in ("dim_customers", "fct_customer_day", "health_scores", "kpi_monthly"))


def slice_sample(source: Path, out: Path, customers: int) -> Path:
    """The first ``customers`` accounts of ``source`` (by account_id) and every row of theirs."""
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    accounts = source / "crm__accounts.csv"
    keep = [r[0] for r in con.execute(
        f"select account_id from read_csv('{accounts}', all_varchar=true) order by account_id limit {customers}"
    ).fetchall()]
    con.execute("create table keep as select unnest(?) as account_id", [keep])
    for t in TABLES:
        src = source / f"{file_stem(t)}.csv"
        if not src.exists():
            continue
        rel = f"read_csv('{src}', all_varchar=true, header=true)"
        where = " where account_id in (select account_id from keep)" if "account_id" in t.column_names else ""
        con.execute(f"copy (select * from {rel}{where}) to '{out / src.name}' (format csv, header true)")
    con.close()
    return out


# ------------------------------------------------------------------ PostgreSQL

@pytest.fixture(scope="module")
def postgres_env() -> dict[str, str]:
    """A throwaway PostgreSQL cluster; yields the libpq variables pointing at its database."""
    for tool in ("initdb", "pg_ctl"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not on PATH: install PostgreSQL 15's server binaries")
    root = Path(tempfile.mkdtemp(prefix="churnguard-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        pw = pwd.getpwnam("postgres")
        os.chown(root, pw.pw_uid, pw.pw_gid)
        as_postgres = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()
    pg_env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    subprocess.run([*as_postgres, "initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync",
                    "-E", "UTF8", "--locale", "C"], check=True, capture_output=True, env=pg_env)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
    subprocess.run([*as_postgres, "pg_ctl", "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w",
                    "start"], check=True, capture_output=True, env=pg_env)
    try:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True) as c:
            c.execute("create database churnguard")
        yield {"PGHOST": "127.0.0.1", "PGPORT": str(port), "PGUSER": "postgres", "PGPASSWORD": "",
               "PGDATABASE": "churnguard", "PGSSLMODE": "disable"}
    finally:
        subprocess.run([*as_postgres, "pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True, env=pg_env)
        shutil.rmtree(root, ignore_errors=True)


def _postgres_marts(env: dict[str, str]) -> dict[str, tuple[list[str], list]]:
    import psycopg

    out = {}
    with psycopg.connect(host=env["PGHOST"], port=env["PGPORT"], user=env["PGUSER"], dbname=env["PGDATABASE"]) as c:
        for mart in MARTS:
            cur = c.execute(f"select * from marts.{mart}")
            out[mart] = ([d.name for d in cur.description], cur.fetchall())
    return out


@pytest.fixture(scope="module")
def duckdb_sample(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> dict:
    started = time.monotonic()
    warehouse = build_warehouse(sample_dir, tmp_path_factory.mktemp("duckdb_sample"))
    TIMINGS["duckdb: load + dbt build, full sample"] = time.monotonic() - started
    return _duckdb_marts(warehouse)


@pytest.mark.xdist_group("postgres")
def test_postgres_builds_the_sample_like_duckdb(postgres_env, duckdb_sample, sample_dir, tmp_path) -> None:
    env = {**_base_env(tmp_path, "postgres"), **postgres_env}
    TIMINGS["postgres: churnguard load"] = _run([*CLI, "load", str(sample_dir)], env, "churnguard load (postgres)")
    TIMINGS["postgres: dbt build"] = _run([*CLI, "dbt", "--", "build"], env, "dbt build (postgres)")
    # The nightly run: incremental day-grain models on the built warehouse (on_schema_change='fail').
    TIMINGS["postgres: incremental dbt run"] = _run(
        [*CLI, "dbt", "--", "run", "--select", "config.materialized:incremental"], env, "incremental run (postgres)")
    _assert_marts_equal(duckdb_sample, _postgres_marts(postgres_env))
    assert not (tmp_path / "unused.duckdb").exists()


@pytest.mark.xdist_group("postgres")
def test_postgres_load_is_all_or_nothing(postgres_env, sample_dir, tmp_path, monkeypatch) -> None:
    """A write that fails on the 5th table leaves every raw table as the previous load left it."""
    import psycopg

    from churnguard.loader import LoadError, load
    from churnguard.loading import targets

    for key, value in {**postgres_env, "CHURNGUARD_DBT_TARGET": "postgres"}.items():
        monkeypatch.setenv(key, value)
    small = slice_sample(sample_dir, tmp_path / "small", 10)
    load(small, allow_shrink=True)  # the cluster may hold the whole sample from another test
    conninfo = settings.postgres_conninfo()
    with psycopg.connect(**conninfo) as c:
        before = {t.qualified_name: c.execute(f"select count(*) from raw_{t.system}.{t.name}").fetchone()[0]
                  for t in TABLES}
        logs_before = c.execute("select count(*) from raw_meta.load_log").fetchone()[0]
    assert before["crm.accounts"] == 10

    real_ddl, calls = targets._pg_columns_match, []

    def failing(cur, t):
        calls.append(t.qualified_name)
        if len(calls) == 5:
            raise RuntimeError("disk full (simulated)")
        return real_ddl(cur, t)

    monkeypatch.setattr(targets, "_pg_columns_match", failing)
    with pytest.raises(LoadError, match="rolled back"):
        load(sample_dir)
    with psycopg.connect(**conninfo) as c:
        after = {t.qualified_name: c.execute(f"select count(*) from raw_{t.system}.{t.name}").fetchone()[0]
                 for t in TABLES}
        assert c.execute("select count(*) from raw_meta.load_log").fetchone()[0] == logs_before
    assert after == before


# ------------------------------------------------------------------ Spark

def _spark_marts(spark_warehouse: Path) -> dict[str, tuple[list[str], list]]:
    """Every mart read from its Parquet files (<warehouse>/marts.db/<mart>/, partition folders included)."""
    con = duckdb.connect()
    out = {}
    for mart in MARTS:
        folder = spark_warehouse / "marts.db" / mart
        files = sorted(str(p) for p in folder.rglob("*.parquet"))
        assert files, f"Spark wrote no Parquet file for marts.{mart} under {folder}"
        cur = con.execute("select * from read_parquet(?, hive_partitioning = true)", [files])
        out[mart] = ([d[0] for d in cur.description], cur.fetchall())
    con.close()
    return out


# The models that replace whole days (macro day_replacing_incremental), partitioned by
# date_day on Spark, folder under the Spark warehouse.
DAY_PARTITIONED = [
    "intermediate.db/int_health_dimension_scores",
    "intermediate.db/int_health_rule_hits",
    "marts.db/fct_customer_day",
    "marts.db/health_scores",
]


def parquet_files_per_day(table_folder: Path) -> dict[str, int]:
    """The number of Parquet files in each ``date_day=...`` partition folder of a Spark table."""
    return {day.name: len(list(day.glob("*.parquet"))) for day in table_folder.glob("date_day=*")}


@pytest.mark.xdist_group("spark")
def test_spark_builds_a_slice_of_the_sample_like_duckdb(sample_dir, tmp_path) -> None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.fail("Java 17 is needed for Spark: apt-get install openjdk-17-jre-headless")
    data = slice_sample(sample_dir, tmp_path / "slice", SPARK_CUSTOMERS)
    env = _base_env(tmp_path, "spark")  # copied before the DuckDB build sets its own dbt paths
    env["CHURNGUARD_SPARK_WAREHOUSE"] = str(tmp_path / "spark")

    def duckdb_build() -> dict:
        started = time.monotonic()
        marts = _duckdb_marts(build_warehouse(data, tmp_path / "duckdb_slice"))
        TIMINGS["duckdb: load + dbt build, Spark slice"] = time.monotonic() - started
        return marts

    # DuckDB builds the slice while Spark loads and builds it: Spark's jobs mostly wait on
    # latency, so the DuckDB build (a minute of CPU) leaves the critical path.
    with ThreadPoolExecutor(max_workers=1) as pool:
        duckdb_future = pool.submit(duckdb_build)
        TIMINGS["spark: churnguard load, slice"] = _run([*CLI, "load", str(data)], env, "churnguard load (spark)")
        # Registered in place, then swapped: the raw tables' files hold the slice's rows, no
        # staging table is left.
        con = duckdb.connect()
        for t in TABLES:
            src = data / f"{file_stem(t)}.csv"
            assert not (tmp_path / "spark" / f"raw_{t.system}.db" / f"{t.name}__loading").exists(), t.qualified_name
            files = [str(p) for p in spark_table_files(t, tmp_path / "spark")]
            loaded = con.execute("select count(*) from read_parquet(?)", [files]).fetchone()[0] if files else 0
            assert loaded == con.execute(f"select count(*) from read_csv('{src}', all_varchar=true)").fetchone()[0]
        con.close()
        TIMINGS["spark: dbt build, slice"] = _run([*CLI, "dbt", "--", "build"], env, "dbt build (spark)")
        expected = duckdb_future.result()
    _assert_marts_equal(expected, _spark_marts(tmp_path / "spark"))
    assert not (tmp_path / "unused.duckdb").exists()
    # One task writes each day (macro distribute_by_day): one Parquet file per day, not one
    # per task holding rows of that day (4 to 17 per day before, listed by every data test).
    columns, rows = expected["fct_customer_day"]
    days = {row[columns.index("date_day")] for row in rows}
    assert len(parquet_files_per_day(tmp_path / "spark" / "marts.db" / "fct_customer_day")) == len(days) == 365
    for table in DAY_PARTITIONED:
        per_day = parquet_files_per_day(tmp_path / "spark" / table)
        assert per_day and set(per_day.values()) == {1}, (table, sorted(per_day.items())[:5])


def teardown_module() -> None:
    if TIMINGS:
        print("\nengine timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in TIMINGS.items()), file=sys.stderr)
