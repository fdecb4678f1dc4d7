"""Write validated tables to the warehouse: all tables in ONE transaction, or nothing.

The warehouse file is attached to the scratch connection only now, after every
check passed. Inside a single transaction each raw table is dropped and recreated
(``CREATE OR REPLACE TABLE`` with contract types and NOT NULL constraints) and filled
from the scratch views, and one ``raw_meta.load_log`` row per file is appended.
DuckDB DDL is transactional: any failure rolls back to the previous raw tables.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from churnguard.contract import Table

from .parsing import SQL_TYPES, quote_ident, sql_str
from .sources import StagedTable

ALIAS = "churnguard_wh"
META_SCHEMA = "raw_meta"
LOAD_LOG = "load_log"

LOAD_LOG_DDL = (
    f"CREATE TABLE IF NOT EXISTS {ALIAS}.{META_SCHEMA}.{LOAD_LOG} ("
    "load_id VARCHAR NOT NULL, loaded_at TIMESTAMP NOT NULL, source_dir VARCHAR NOT NULL, "
    '"table" VARCHAR NOT NULL, file VARCHAR NOT NULL, row_count BIGINT NOT NULL)'
)


def relation(t: Table, alias: str | None = ALIAS) -> str:
    rel = f"{quote_ident(t.raw_schema)}.{quote_ident(t.name)}"
    return f"{alias}.{rel}" if alias else rel


def attach(con: duckdb.DuckDBPyConnection, warehouse: Path) -> None:
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"ATTACH {sql_str(str(warehouse))} AS {ALIAS}")


def _write_table(con: duckdb.DuckDBPyConnection, st: StagedTable) -> None:
    """Replace one raw table with the staged rows (inside the caller's transaction)."""
    t = st.table
    rel = relation(t)
    defs = ", ".join(
        f"{quote_ident(c.name)} {SQL_TYPES[c.type]}{'' if c.nullable else ' NOT NULL'}" for c in t.columns)
    con.execute(f"CREATE OR REPLACE TABLE {rel} ({defs})")
    cols = ", ".join(quote_ident(c.name) for c in t.columns)
    con.execute(f"INSERT INTO {rel} ({cols}) SELECT {st.typed} FROM {st.view}")
    con.execute(f"COMMENT ON TABLE {rel} IS {sql_str(t.description + ' (raw, loaded by churnguard.loader)')}")
    for c in t.columns:
        con.execute(f"COMMENT ON COLUMN {rel}.{quote_ident(c.name)} IS {sql_str(c.description)}")


def write_snapshot(con: duckdb.DuckDBPyConnection, staged: list[StagedTable], *, load_id: str,
                   loaded_at: datetime, source_dir: Path) -> None:
    """Replace all raw tables and log the load, atomically. Raises on failure after ROLLBACK."""
    con.execute("BEGIN TRANSACTION")
    try:
        for schema in sorted({st.table.raw_schema for st in staged} | {META_SCHEMA}):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {ALIAS}.{quote_ident(schema)}")
        con.execute(LOAD_LOG_DDL)
        log_rows = []
        for st in staged:
            _write_table(con, st)
            for f in st.files:
                log_rows.append((load_id, loaded_at, str(source_dir), st.table.qualified_name, f.source.rel, f.rows))
        con.executemany(f"INSERT INTO {ALIAS}.{META_SCHEMA}.{LOAD_LOG} VALUES (?, ?, ?, ?, ?, ?)", log_rows)
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass
        raise
