"""Write validated raw tables to PostgreSQL or Spark (the DuckDB path is `write.py`).

The loader validates in a scratch DuckDB connection whatever the target; only the last
step differs. Each writer takes the staged tables (``SELECT <typed columns> FROM <view>``
in the scratch connection) and replaces the raw tables of the target, all or nothing:

- **PostgreSQL** (`write_postgres`): ONE transaction on a psycopg connection (the driver
  dbt-postgres uses). Per table: create the schema and table from the contract when
  missing (or recreate it, ``CASCADE``, when its columns differ from the contract), then
  ``TRUNCATE`` and ``COPY ... FROM STDIN`` the rows, which DuckDB writes as CSV into the
  scratch folder. Truncating instead of dropping keeps dbt's staging views valid. PostgreSQL
  DDL and TRUNCATE are transactional: any failure rolls back to the previous raw tables.
- **Spark** (`write_spark`): Spark has no multi-table transaction, so the tables are
  *staged then swapped*, and the data is *registered in place*, never copied by Spark.
  DuckDB writes each typed table as Parquet straight into the Spark warehouse folder,
  ``<warehouse>/churnguard_raw_files/<schema>.<name>/<load_id>/``; a child process (so that
  its JVM and the Derby metastore lock end with it) starts a Spark session with the
  ``spark`` target's settings, registers each folder as an external Parquet table
  ``<schema>.<name>__loading`` with the contract's column types, counts its rows through
  Spark (the files must read back as written), and only when all are registered swaps them
  in (drop the old table, rename the staged one). Then the folder's ``CURRENT`` file names
  the new load and older loads' files are deleted. A failure before the swap drops the
  staged tables and deletes this load's files, leaving the previous raw tables untouched.
  Timestamps are written UTC-adjusted, so they read the same under any session time zone.

Table definitions come from `churnguard.contract`, with each engine's type names
(`PG_TYPES`, `SPARK_TYPES`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from churnguard import settings
from churnguard.contract import Table, table as contract_table

from .sources import StagedTable
from .write import LOAD_LOG, META_SCHEMA

PG_TYPES = {
    "string": "text",
    "integer": "bigint",
    "decimal": "numeric(18,2)",
    "boolean": "boolean",
    "timestamp": "timestamp",
    "date": "date",
}
SPARK_TYPES = {
    "string": "string",
    "integer": "bigint",
    "decimal": "decimal(18,2)",
    "boolean": "boolean",
    "timestamp": "timestamp",
    "date": "date",
}
LOAD_LOG_COLUMNS = (("load_id", "string"), ("loaded_at", "timestamp"), ("source_dir", "string"),
                    ("table", "string"), ("file", "string"), ("row_count", "integer"))
STAGE_SUFFIX = "__loading"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def describe_target(engine: str) -> str:
    """Where the raw tables go, for the load report."""
    if engine == "postgres":
        c = settings.postgres_conninfo()
        return f"PostgreSQL {c['user']}@{c['host']}:{c['port']}/{c['dbname']}"
    if engine == "spark":
        return f"Spark warehouse {settings.spark_warehouse_dir()}"
    raise ValueError(engine)


def _log_rows(staged: list[StagedTable], load_id: str, loaded_at: datetime, source_dir: Path) -> list[tuple]:
    return [(load_id, loaded_at, str(source_dir), st.table.qualified_name, f.source.rel, f.rows)
            for st in staged for f in st.files]


# ------------------------------------------------------------------ PostgreSQL

def _pg_ddl(t: Table) -> str:
    cols = ", ".join(f"{_q(c.name)} {PG_TYPES[c.type]}{'' if c.nullable else ' not null'}" for c in t.columns)
    return f"create table {_q(t.raw_schema)}.{_q(t.name)} ({cols})"


def _pg_columns_match(cur, t: Table) -> bool | None:
    """None: no such table; else whether its columns, types and nullability are the contract's."""
    cur.execute(
        "select column_name, data_type, is_nullable, numeric_precision, numeric_scale "
        "from information_schema.columns where table_schema = %s and table_name = %s order by ordinal_position",
        (t.raw_schema, t.name))
    rows = cur.fetchall()
    if not rows:
        return None
    names = {"text": "text", "bigint": "bigint", "numeric": "numeric", "boolean": "boolean",
             "timestamp without time zone": "timestamp", "date": "date"}
    found = [(r[0], names.get(r[1], r[1]) + (f"({r[3]},{r[4]})" if r[1] == "numeric" else ""), r[2] == "YES")
             for r in rows]
    wanted = [(c.name, PG_TYPES[c.type], c.nullable) for c in t.columns]
    return found == wanted


def postgres_row_counts(tables: list[Table]) -> dict[str, int]:
    """Rows each existing raw table holds now (for the shrink guard); absent tables are left out."""
    import psycopg

    counts = {}
    with psycopg.connect(**settings.postgres_conninfo()) as conn, conn.cursor() as cur:
        for t in tables:
            cur.execute("select to_regclass(%s)", (f"{_q(t.raw_schema)}.{_q(t.name)}",))
            if cur.fetchone()[0] is not None:
                cur.execute(f"select count(*) from {_q(t.raw_schema)}.{_q(t.name)}")
                counts[t.qualified_name] = cur.fetchone()[0]
    return counts


def write_postgres(con, staged: list[StagedTable], *, load_id: str, loaded_at: datetime,
                   source_dir: Path, scratch: Path) -> None:
    """Replace every raw table on the PostgreSQL target in one transaction (see the module doc)."""
    import psycopg

    files = {}
    for st in staged:
        path = scratch / f"{st.table.raw_schema}.{st.table.name}.csv"
        con.execute(f"COPY (SELECT {st.typed} FROM {st.view}) TO {_sql_str(str(path))} (FORMAT CSV, HEADER false)")
        files[st.table.qualified_name] = path
    with psycopg.connect(**settings.postgres_conninfo()) as conn:  # commits on success, rolls back on error
        with conn.cursor() as cur:
            for schema in sorted({st.table.raw_schema for st in staged} | {META_SCHEMA}):
                cur.execute(f"create schema if not exists {_q(schema)}")
            cur.execute(f"create table if not exists {_q(META_SCHEMA)}.{_q(LOAD_LOG)} ("
                        + ", ".join(f"{_q(n)} {PG_TYPES[k]} not null" for n, k in LOAD_LOG_COLUMNS) + ")")
            for st in staged:
                t = st.table
                rel = f"{_q(t.raw_schema)}.{_q(t.name)}"
                match = _pg_columns_match(cur, t)
                if match is False:  # an older contract's table: dependent dbt views are rebuilt by dbt
                    cur.execute(f"drop table {rel} cascade")
                if not match:
                    cur.execute(_pg_ddl(t))
                    cur.execute(f"comment on table {rel} is {_sql_str(t.description + ' (raw, loaded by churnguard.loader)')}")
                    for c in t.columns:
                        cur.execute(f"comment on column {rel}.{_q(c.name)} is {_sql_str(c.description)}")
                else:
                    cur.execute(f"truncate table {rel}")
                cols = ", ".join(_q(c.name) for c in t.columns)
                with cur.copy(f"copy {rel} ({cols}) from stdin with (format csv)") as copy, \
                        open(files[t.qualified_name], "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        copy.write(chunk)
            with cur.copy(f"copy {_q(META_SCHEMA)}.{_q(LOAD_LOG)} from stdin") as copy:
                for row in _log_rows(staged, load_id, loaded_at, source_dir):
                    copy.write_row(row)


# ------------------------------------------------------------------ Spark

def spark_files_root(spark_warehouse: Path | None = None) -> Path:
    """Where the raw tables' Parquet files live on the Spark target (inside its warehouse folder)."""
    return (spark_warehouse or settings.spark_warehouse_dir()) / "churnguard_raw_files"


def spark_table_files(t: Table, spark_warehouse: Path | None = None) -> list[Path]:
    """The Parquet files the raw table ``t`` reads on the Spark target (its current load), or
    the files of a managed table an older churnguard wrote (``<warehouse>/<schema>.db/<name>``)."""
    folder = spark_files_root(spark_warehouse) / f"{t.raw_schema}.{t.name}"
    current = folder / "CURRENT"
    if current.is_file():
        return sorted((folder / current.read_text(encoding="utf-8").strip()).rglob("*.parquet"))
    managed = (spark_warehouse or settings.spark_warehouse_dir()) / f"{t.raw_schema}.db" / t.name
    return sorted(managed.rglob("*.parquet"))


def _spark_select(st: StagedTable) -> str:
    """The typed columns, timestamps UTC-adjusted (Parquet's isAdjustedToUTC): Spark reads them
    as the same instants whatever its session time zone."""
    cols = ", ".join(
        f"timezone('UTC', {_q(c.name)}) AS {_q(c.name)}" if c.type == "timestamp" else _q(c.name)
        for c in st.table.columns
    )
    return f"SELECT {cols} FROM (SELECT {st.typed} FROM {st.view})"


def write_spark(con, staged: list[StagedTable], *, load_id: str, loaded_at: datetime,
                source_dir: Path, scratch: Path) -> None:
    """Register every raw table on the Spark target in place, then swap them in (see the module doc)."""
    import shutil

    tables, written = [], []
    try:
        for st in staged:
            folder = spark_files_root() / f"{st.table.raw_schema}.{st.table.name}" / load_id
            folder.mkdir(parents=True, exist_ok=True)
            written.append(folder)
            con.execute(f"COPY ({_spark_select(st)}) TO {_sql_str(str(folder / 'part-0.parquet'))} (FORMAT PARQUET)")
            tables.append({"table": st.table.qualified_name, "location": str(folder), "rows": st.rows})
        job = {
            "tables": tables,
            "log": [[r[0], r[1].isoformat(sep=" "), *r[2:]] for r in _log_rows(staged, load_id, loaded_at, source_dir)],
            "conf": settings.spark_conf(),
        }
        job_file = scratch / "spark_job.json"
        job_file.write_text(json.dumps(job))
        result = subprocess.run([sys.executable, "-m", "churnguard.loading.targets", str(job_file)],
                                capture_output=True, text=True, env=dict(os.environ))
        if result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout or "").strip().splitlines()[-15:])
            raise RuntimeError(f"the Spark load failed (exit {result.returncode}):\n{tail}")
    except BaseException:
        for folder in written:  # the staged tables are dropped by the child; their files here
            shutil.rmtree(folder, ignore_errors=True)
        raise
    # Swapped in: this load is current; older loads' files are no longer read by any table.
    for folder in written:
        current = folder.parent / "CURRENT"
        partial = folder.parent / f".CURRENT.{load_id}"
        partial.write_text(load_id, encoding="utf-8")
        os.replace(partial, current)
        for old in folder.parent.iterdir():
            if old.is_dir() and old.name != load_id:
                shutil.rmtree(old, ignore_errors=True)


def spark_row_counts(tables: list[Table]) -> dict[str, int]:
    """Rows each existing raw table holds on the Spark target, read from its Parquet files (no JVM)."""
    import duckdb

    counts = {}
    con = duckdb.connect()
    try:
        for t in tables:
            files = spark_table_files(t)
            if files:
                counts[t.qualified_name] = con.execute(
                    "select count(*) from read_parquet(?)", [[str(f) for f in files]]
                ).fetchone()[0]
    finally:
        con.close()
    return counts


def _spark_main(job_file: str) -> int:
    from pyspark.sql import SparkSession

    job = json.loads(Path(job_file).read_text())
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in job["conf"].items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    staged_names = []
    try:
        for schema in sorted({contract_table(e["table"]).raw_schema for e in job["tables"]} | {META_SCHEMA}):
            spark.sql(f"create database if not exists `{schema}`")
        for entry in job["tables"]:
            t = contract_table(entry["table"])
            stage = f"`{t.raw_schema}`.`{t.name}{STAGE_SUFFIX}`"
            spark.sql(f"drop table if exists {stage}")
            staged_names.append(stage)
            cols = ", ".join(f"`{c.name}` {SPARK_TYPES[c.type]}" for c in t.columns)
            spark.sql(f"create table {stage} ({cols}) using parquet location {_sql_str(entry['location'])} "
                      f"comment {_sql_str(t.description + ' (raw, loaded by churnguard.loader)')}")
            rows = spark.sql(f"select count(*) from {stage}").collect()[0][0]
            if rows != entry["rows"]:
                raise RuntimeError(f"{t.qualified_name}: Spark reads {rows} rows from {entry['location']}, "
                                   f"{entry['rows']} were written")
        log = f"`{META_SCHEMA}`.`{LOAD_LOG}`"
        spark.sql(f"create table if not exists {log} ("
                  + ", ".join(f"`{n}` {SPARK_TYPES[k]}" for n, k in LOAD_LOG_COLUMNS) + ") using parquet")
    except BaseException:
        for stage in staged_names:
            spark.sql(f"drop table if exists {stage}")
        raise
    # Every table is staged: swap them in.
    for entry in job["tables"]:
        t = contract_table(entry["table"])
        spark.sql(f"drop table if exists `{t.raw_schema}`.`{t.name}`")
        spark.sql(f"alter table `{t.raw_schema}`.`{t.name}{STAGE_SUFFIX}` rename to `{t.raw_schema}`.`{t.name}`")
    if job["log"]:
        from datetime import datetime as _dt

        rows = [(r[0], _dt.fromisoformat(r[1]), *r[2:]) for r in job["log"]]
        spark.createDataFrame(rows, schema=", ".join(f"`{n}` {SPARK_TYPES[k]}" for n, k in LOAD_LOG_COLUMNS)) \
            .write.insertInto(log)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(_spark_main(sys.argv[1]))
