"""One way for every Python step to read the warehouse and write the delivery ledger, on any engine.

The engine is the dbt target's (`settings.target_engine`, ``CHURNGUARD_DBT_TARGET``):

| engine | marts and raw tables | delivery ledger (``delivery.*``) |
|---|---|---|
| ``duckdb`` | the file ``CHURNGUARD_WAREHOUSE`` (read-only for reads) | the same file |
| ``postgres`` | the database of the libpq ``PG*`` variables (read-only session for reads) | the same database |
| ``spark`` | a local Spark session on ``CHURNGUARD_SPARK_WAREHOUSE`` | a SQLite file, ``CHURNGUARD_STATE_DB`` |

    with warehouse_sql.connect() as con:                 # read-only
        rows = con.execute("select * from marts.current_alert_list where tier = ?", ["red"]).fetchall()
        frame = con.execute("select * from marts.kpi_monthly").df()
        warehouse_sql.relation_columns(con, "marts", "kpi_monthly")

Callers write DuckDB SQL with ``?`` parameters, as they always have; on DuckDB the
connection *is* a ``duckdb`` connection (same behaviour, same speed). On PostgreSQL and
Spark the statement is transpiled by sqlglot (the transpiler Ibis uses) and run through
psycopg or the Spark session; the cursor answers ``fetchall``, ``fetchone``, ``df`` and
``description`` like DuckDB's. Nothing opens a connection at import time; psycopg, sqlglot
and pyspark are imported when a connection to their engine is opened.

When another engine is configured, nothing here opens (or creates) the DuckDB file: an
unreachable server is a `WarehouseUnavailableError` naming the server, never a fallback.
"""

from __future__ import annotations

import math
import os
import re
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Sequence

import duckdb

from churnguard import settings


class WarehouseUnavailableError(RuntimeError):
    """The warehouse cannot be opened (missing, unreachable, or a writer has it open)."""


class QueryError(RuntimeError):
    """A statement failed on PostgreSQL or Spark (DuckDB raises ``duckdb.Error``)."""


ERRORS: tuple[type[BaseException], ...] = (duckdb.Error, QueryError)
"""Catch these where a failed query is tolerated, whatever the engine."""


def engine() -> str:
    return settings.target_engine()


def state_db_path() -> Path:
    """The delivery ledger of the ``spark`` engine (``CHURNGUARD_STATE_DB``; default
    ``<CHURNGUARD_SPARK_WAREHOUSE>/churnguard_delivery.sqlite``)."""
    value = os.environ.get("CHURNGUARD_STATE_DB", "").strip()
    if value:
        return Path(value).expanduser().resolve()
    return settings.spark_warehouse_dir() / "churnguard_delivery.sqlite"


def describe_target() -> str:
    """Where the warehouse is, for messages: the DuckDB file, the PostgreSQL database, the Spark folder."""
    kind = engine()
    if kind == "postgres":
        c = settings.postgres_conninfo()
        return f"PostgreSQL database {c['dbname']} on {c['host']}:{c['port']}"
    if kind == "spark":
        return f"Spark warehouse {settings.spark_warehouse_dir()}"
    return str(settings.warehouse_path())


# --- translation ------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def translate(sql: str, kind: str) -> str:
    """DuckDB SQL as ``kind`` (``postgres``, ``spark``, ``sqlite``) SQL; ``?`` stays a placeholder
    (``%s`` for psycopg)."""
    import sqlglot
    from sqlglot import exp

    statements = sqlglot.parse(sql, read="duckdb")
    out = []
    for tree in statements:
        if tree is None:
            continue
        if kind == "postgres":
            # sqlglot writes DuckDB's string_split as SPLIT, which PostgreSQL does not have.
            tree = tree.transform(
                lambda node: exp.Anonymous(this="string_to_array", expressions=[node.this, node.expression])
                if isinstance(node, exp.Split) else node
            )
        out.append(tree.sql(dialect=kind))
    return ";\n".join(out)


def _literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):  # 'nan', 'inf' are not SQL
        return f"double('{'NaN' if math.isnan(value) else ('Infinity' if value > 0 else '-Infinity')}')"
    if isinstance(value, (int, float, Decimal)):
        return repr(value) if not isinstance(value, Decimal) else str(value)
    if isinstance(value, datetime):
        return f"timestamp '{value.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"date '{value.isoformat()}'"
    if isinstance(value, (list, tuple)):
        return "array(" + ", ".join(_literal(v) for v in value) + ")"
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def _inline(sql: str, params: Sequence[Any] | None) -> str:
    """Spark SQL has no bound ``?`` parameters here: render them as literals (outside quotes)."""
    if not params:
        return sql
    values = iter(params)
    parts = re.split(r"('(?:[^'\\]|\\.|'')*')", sql)
    for i in range(0, len(parts), 2):  # even parts are outside string literals
        parts[i] = re.sub(r"\?", lambda _m: _literal(next(values)), parts[i])
    return "".join(parts)


# --- result ---------------------------------------------------------------------------------


class Cursor:
    """The rows of one statement, with DuckDB's cursor methods."""

    def __init__(self, names: list[str], rows: list[tuple]):
        self.description = [(name, None, None, None, None, None, None) for name in names]
        self._rows = rows
        self._at = 0

    def fetchall(self) -> list[tuple]:
        rows, self._at = self._rows[self._at:], len(self._rows)
        return rows

    def fetchone(self) -> tuple | None:
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    def df(self):
        """A pandas DataFrame typed like DuckDB's ``.df()``: numerics as floats, dates as datetime64."""
        import pandas as pd

        names = [d[0] for d in self.description]
        frame = pd.DataFrame.from_records(self.fetchall(), columns=names)
        for column in frame.columns:
            values = frame[column].dropna()
            if frame[column].dtype != object or values.empty:
                continue
            first = values.iloc[0]
            if isinstance(first, Decimal):
                frame[column] = pd.to_numeric(frame[column].map(lambda v: None if v is None else float(v)))
            elif isinstance(first, date) and not isinstance(first, datetime):
                frame[column] = pd.to_datetime(frame[column])
        return frame

    fetchdf = df


# --- PostgreSQL -----------------------------------------------------------------------------


class PostgresConnection:
    """A psycopg connection answering DuckDB-style calls (autocommit; explicit ``begin``/``commit``)."""

    engine = "postgres"

    def __init__(self, read_only: bool):
        import psycopg

        info = settings.postgres_conninfo()
        options = "-c default_transaction_read_only=on" if read_only else ""
        try:
            self._con = psycopg.connect(
                **{k: v for k, v in info.items() if v != ""}, autocommit=True, options=options,
                connect_timeout=int(os.environ.get("PGCONNECT_TIMEOUT", "10")),
            )
        except psycopg.Error as error:
            raise WarehouseUnavailableError(
                f"cannot reach the warehouse, {describe_target()} (CHURNGUARD_DBT_TARGET="
                f"{settings.dbt_target()}): {str(error).strip().splitlines()[0] if str(error).strip() else error}; "
                "check the PG* variables and that the server runs"
            ) from error

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Cursor:
        import psycopg

        try:
            cur = self._con.execute(translate(sql, "postgres"), list(params) if params is not None else None)
            if cur.description is None:
                return Cursor([], [])
            return Cursor([d.name for d in cur.description], cur.fetchall())
        except psycopg.Error as error:
            raise QueryError(f"PostgreSQL: {str(error).strip()}") from error

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        import psycopg

        try:
            with self._con.cursor() as cur:
                cur.executemany(translate(sql, "postgres"), [list(r) for r in rows])
        except psycopg.Error as error:
            raise QueryError(f"PostgreSQL: {str(error).strip()}") from error

    def close(self) -> None:
        self._con.close()


# --- Spark (+ SQLite ledger) ----------------------------------------------------------------


def _is_ledger_statement(sql: str) -> bool:
    lowered = " ".join(sql.lower().split())
    return lowered in ("begin", "begin transaction", "commit", "rollback") or bool(
        re.search(r"\bdelivery\s*\.", lowered)
    )


class SparkConnection:
    """The ``spark`` target: a local Spark session for the marts, the delivery ledger in a
    SQLite file (no transactions on plain Spark tables).

    The session lives in a child process (``python -m churnguard.warehouse_sql``) that this
    connection talks to through a pipe: when it is closed the child's JVM ends, and with it
    the embedded Derby metastore's lock, so the next dbt step (its own JVM) can open the
    metastore. Never keep one open while dbt runs."""

    engine = "spark"

    def __init__(self, read_only: bool):
        import subprocess
        import sys
        import tempfile

        self._read_only = read_only
        self._ledger = None
        self._log = tempfile.NamedTemporaryFile(prefix="churnguard-spark-step-", suffix=".log", delete=False)
        env = {**os.environ, "TZ": "UTC", "PYSPARK_PYTHON": sys.executable}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "churnguard.warehouse_sql"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._log, env=env,
        )
        try:
            self._call("start", settings.spark_conf())
        except QueryError as error:
            self.close()
            raise WarehouseUnavailableError(f"cannot start Spark on {describe_target()}: {error}") from error

    def _call(self, op: str, payload: Any = None) -> Any:
        import pickle

        try:
            pickle.dump((op, payload), self._proc.stdin)
            self._proc.stdin.flush()
            status, value = pickle.load(self._proc.stdout)
        except (EOFError, BrokenPipeError, OSError, pickle.UnpicklingError) as error:
            raise QueryError(f"the Spark session ended ({error}); its log: {self._log.name}\n{self._log_tail()}") from error
        if status != "ok":
            raise QueryError(str(value))
        return value

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(Path(self._log.name).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def ledger(self):
        import sqlite3

        if self._ledger is None:
            path = state_db_path()
            self._ledger = sqlite3.connect(":memory:", isolation_level=None, timeout=60)
            if self._read_only and not path.exists():
                self._ledger.execute("attach database ':memory:' as delivery")
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._ledger.execute("attach database ? as delivery", [str(path)])
        return self._ledger

    def _ledger_execute(self, sql: str, params: Sequence[Any] | None, many: bool = False):
        """DuckDB's ledger statements are SQLite statements too, but for two forms SQLite lacks."""
        import sqlite3

        lowered = " ".join(sql.lower().split())
        if lowered.startswith("create schema"):
            return None
        added = re.match(r"alter table delivery\.(\w+) add column if not exists (\w+)", lowered)
        if added:
            if added.group(2) in self.columns("delivery", added.group(1)):
                return None
            sql = re.sub(r"(?i)\s+if\s+not\s+exists", "", sql, count=1)
        try:
            if many:
                return self.ledger().executemany(sql, [[_sqlite_value(v) for v in r] for r in params or []])
            return self.ledger().execute(sql, [_sqlite_value(v) for v in (params or [])])
        except sqlite3.Error as error:
            raise QueryError(f"delivery ledger {state_db_path()}: {error}") from error

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Cursor:
        if _is_ledger_statement(sql):
            cur = self._ledger_execute(sql, params)
            if cur is None or not cur.description:
                return Cursor([], [])
            return Cursor([d[0] for d in cur.description], [tuple(r) for r in cur.fetchall()])
        names, rows = self._call("sql", _inline(translate(sql, "spark"), params))
        return Cursor(names, rows)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not _is_ledger_statement(sql):
            raise QueryError("Spark tables are written by dbt and the loader only")
        self._ledger_execute(sql, rows, many=True)

    def columns(self, schema: str, name: str) -> list[str]:
        return [column for column, _ in self.column_types(schema, name)]

    def column_types(self, schema: str, name: str) -> list[tuple[str, str]]:
        if schema == "delivery":
            return [(r[1], r[2]) for r in self.ledger().execute(f'pragma delivery.table_info("{name}")').fetchall()]
        return [tuple(c) for c in self._call("columns", (schema, name))]

    def tables(self) -> set[tuple[str, str]]:
        found = {tuple(t) for t in self._call("tables")}
        found |= {("delivery", r[0]) for r in self.ledger().execute(
            "select name from delivery.sqlite_master where type = 'table'").fetchall()}
        return found

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
        if self._proc.poll() is None:
            try:
                self._call("close")
            except QueryError:
                pass
            try:
                self._proc.stdin.close()
                self._proc.wait(timeout=120)
            except Exception:  # noqa: BLE001 (a stuck JVM: end it)
                self._proc.kill()
                self._proc.wait()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)


def _spark_server() -> int:
    """The child process of `SparkConnection`: one Spark session, answering over stdin/stdout."""
    import pickle
    import sys

    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever Spark or py4j prints must not corrupt the channel
    requests = sys.stdin.buffer

    def send(status: str, value: Any = None) -> None:
        pickle.dump((status, value), channel)
        channel.flush()

    spark = None
    while True:
        try:
            op, payload = pickle.load(requests)
        except EOFError:
            break
        try:
            if op == "start":
                from pyspark.sql import SparkSession

                builder = SparkSession.builder.appName("churnguard-step").enableHiveSupport()
                for key, value in payload.items():
                    builder = builder.config(key, value)
                spark = builder.getOrCreate()
                spark.sparkContext.setLogLevel("ERROR")
                send("ok")
            elif op == "sql":
                frame = spark.sql(payload)
                send("ok", (list(frame.columns), [tuple(r) for r in frame.collect()]))
            elif op == "columns":
                schema, name = payload
                if not spark.catalog.databaseExists(schema) or not spark.catalog.tableExists(f"{schema}.{name}"):
                    send("ok", [])
                else:
                    send("ok", list(spark.table(f"{schema}.{name}").dtypes))
            elif op == "tables":
                send("ok", [(db.name, t.name) for db in spark.catalog.listDatabases()
                            for t in spark.catalog.listTables(db.name)])
            elif op == "close":
                send("ok")
                break
            else:
                send("error", f"unknown request {op!r}")
        except Exception as error:  # noqa: BLE001 (AnalysisException, Py4JJavaError, ...)
            text = str(error).strip()
            send("error", f"Spark: {text.splitlines()[0] if text else type(error).__name__}")
    if spark is not None:
        spark.stop()
    return 0


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


# --- opening ----------------------------------------------------------------------------------


def open_connection(warehouse: Path | None = None, *, read_only: bool = True, wait: bool = False):
    """A connection to the configured engine's warehouse; the caller closes it.

    DuckDB: ``warehouse`` (default ``CHURNGUARD_WAREHOUSE``) must exist; ``wait`` makes a writer
    wait for a reader holding the file (`retry_while_open_elsewhere`). Other engines ignore
    ``warehouse`` and never touch a DuckDB file.
    """
    kind = engine()
    if kind == "postgres":
        return PostgresConnection(read_only)
    if kind == "spark":
        return SparkConnection(read_only)
    path = Path(warehouse or settings.warehouse_path())
    if not path.exists():
        raise WarehouseUnavailableError(f"no warehouse at {path} yet: run `churnguard run` first")
    try:
        if read_only:
            return duckdb.connect(str(path), read_only=True)
        if wait:
            from churnguard.defs.locking import retry_while_open_elsewhere

            return retry_while_open_elsewhere(lambda: duckdb.connect(str(path)), path)
        return duckdb.connect(str(path))
    except duckdb.Error as error:
        raise WarehouseUnavailableError(
            f"cannot read {path} while another process writes it ({error}); try again when that run ends"
        ) from error


@contextmanager
def connect(warehouse: Path | None = None, *, read_only: bool = True, wait: bool = False) -> Iterator[Any]:
    con = open_connection(warehouse, read_only=read_only, wait=wait)
    try:
        yield con
    finally:
        con.close()


def warehouse_exists(warehouse: Path | None = None) -> bool:
    """False only when the DuckDB file is missing; a server engine is assumed to exist (opening
    it says so when it does not)."""
    if engine() != "duckdb":
        return True
    return Path(warehouse or settings.warehouse_path()).exists()


# --- catalog ----------------------------------------------------------------------------------


def relation_columns(con: Any, schema: str, name: str) -> list[str]:
    """The columns of ``schema.name`` in order; empty when it does not exist."""
    if isinstance(con, SparkConnection):
        return con.columns(schema, name)
    return [
        row[0]
        for row in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position",
            [schema, name],
        ).fetchall()
    ]


def relation_exists(con: Any, schema: str, name: str) -> bool:
    if isinstance(con, SparkConnection):
        return bool(con.columns(schema, name))
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
        ).fetchone()[0]
    )


def tables(con: Any) -> set[tuple[str, str]]:
    """Every (schema, table) of the warehouse."""
    if isinstance(con, SparkConnection):
        return con.tables()
    return {tuple(r) for r in con.execute("select table_schema, table_name from information_schema.tables").fetchall()}


def seed_schema(con: Any, seed: str) -> str | None:
    """The schema holding the dbt seed ``seed`` (first by name), None when it is not loaded."""
    if isinstance(con, SparkConnection):
        found = sorted(schema for schema, name in con.tables() if name == seed)
        return found[0] if found else None
    found = con.execute(
        "select table_schema from information_schema.tables where table_name = ? order by table_schema", [seed]
    ).fetchall()
    return found[0][0] if found else None


def relation_column_types(con: Any, schema: str, name: str) -> dict[str, str]:
    """``{column: data type}`` of ``schema.name`` in order; empty when it does not exist."""
    if isinstance(con, SparkConnection):
        return dict(con.column_types(schema, name))
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, name],
    ).fetchall()
    return {column: data_type for column, data_type in rows}


if __name__ == "__main__":
    raise SystemExit(_spark_server())
