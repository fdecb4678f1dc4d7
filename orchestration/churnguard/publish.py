"""A read-only copy of the marts for BI tools: ``<warehouse folder>/published/churnguard_marts.duckdb``.

The warehouse file belongs to the nightly run: DuckDB lets one process write it, and while
it does, every other process (a dashboard, a notebook) is locked out. And DuckDB 2.x writes
storage format v2, which the DuckDB 1.x clients inside many BI connectors cannot open.

So after each successful run the marts are published as a *separate* DuckDB file:

- every table and view of the ``marts`` schema, copied as a table (``marts.<name>``), plus
  ``marts.published_marts`` (one row per mart: rows, run id, as-of date, published at);
- written with ``STORAGE_VERSION 'v1.0.0'``: readable by every DuckDB client from 1.0 on;
- written to a temporary file in the same folder, checkpointed, closed, and then renamed
  over the previous copy (``os.replace``, atomic on one file system). A reader that has
  the old file open keeps reading the old, complete copy; the next ``connect`` sees the new
  one. Nobody ever sees a lock or a half-written mart.

Types are the ones BI connectors expect (`bi_column_type`): integers as BIGINT (DuckDB's
sums of integers are HUGEINT, which many drivers cannot map), every money column as
``DECIMAL(18,4)`` (the marts mix DECIMAL(38,6), DECIMAL(28,6) and DOUBLE), everything else
as in the marts.

Open it read-only: ``duckdb.connect('warehouse/published/churnguard_marts.duckdb', read_only=True)``.
``CHURNGUARD_PUBLISHED_DIR`` moves the folder.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

PUBLISHED_FILE = "churnguard_marts.duckdb"
STORAGE_VERSION = "v1.0.0"
"""The oldest DuckDB storage format still read by current clients: DuckDB 1.0 and later open it."""
PUBLISHED_SCHEMA = "marts"
SOURCE_SCHEMAS = ("marts",)
MANIFEST_TABLE = "published_marts"
MONEY_TYPE = "DECIMAL(18,4)"
"""One type for every amount of money: 4 decimals (prorated MRR keeps its fractions of a cent)."""
_MONEY = re.compile(r"(^|_)(mrr|arpa|revenue|amount|cost|clv|lifetime_value|roi)(_|$)")
_NOT_MONEY = re.compile(r"_(retention|rate|share|ratio)$")
_NUMERIC = re.compile(r"^(DECIMAL|NUMERIC|DOUBLE|FLOAT|REAL|HUGEINT|BIGINT|INTEGER)")


def is_money_column(name: str) -> bool:
    """Amounts of money by the marts' naming: ``mrr``, ``*_revenue``, ``*_amount*``, ``*_cost``,
    ``*clv*``, ``customer_lifetime_value``, ``retention_roi``; not the ratios named after them
    (``net_revenue_retention``)."""
    return bool(_MONEY.search(name)) and not _NOT_MONEY.search(name)


def bi_column_type(name: str, data_type: str) -> str | None:
    """The type of a column in the published copy, or None to keep the mart's type."""
    upper = data_type.upper()
    if is_money_column(name) and _NUMERIC.match(upper):
        return MONEY_TYPE
    if upper in ("HUGEINT", "UHUGEINT", "UBIGINT", "INT128"):
        return "BIGINT"
    return None


@dataclass(frozen=True)
class Publication:
    path: Path
    tables: dict[str, int]  # mart -> rows
    published_at: datetime
    as_of_date: str | None

    def describe(self) -> str:
        return (
            f"published {len(self.tables)} marts ({sum(self.tables.values()):,} rows, as of {self.as_of_date}) "
            f"to {self.path} (DuckDB storage {STORAGE_VERSION}: DuckDB 1.0+ clients read it)"
        )


def published_dir(warehouse: Path) -> Path:
    value = (os.environ.get("CHURNGUARD_PUBLISHED_DIR") or "").strip()
    if value:
        return Path(value).expanduser().resolve()
    return Path(warehouse).expanduser().resolve().parent / "published"


def published_path(warehouse: Path) -> Path:
    return published_dir(warehouse) / PUBLISHED_FILE


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def publish_marts(warehouse: Path, *, run_id: str = "", destination: Path | None = None) -> Publication:
    """Copy the marts of ``warehouse`` (opened read-only) into the published file, atomically.

    The caller makes sure no other process writes the warehouse meanwhile (the warehouse
    lock); the published file itself is never locked for readers.
    """
    warehouse = Path(warehouse).expanduser().resolve()
    target = Path(destination) if destination else published_path(warehouse)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    published_at = datetime.now(timezone.utc).replace(microsecond=0)
    con = duckdb.connect()
    tables: dict[str, int] = {}
    as_of = None
    try:
        con.execute(f"attach {_sql_path(warehouse)} as wh (read_only)")
        con.execute(f"attach {_sql_path(scratch)} as pub (storage_version '{STORAGE_VERSION}')")
        con.execute(f"create schema pub.{PUBLISHED_SCHEMA}")
        relations = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = 'wh' and table_schema in (" + ", ".join("?" for _ in SOURCE_SCHEMAS) + ") "
            "order by table_name",
            list(SOURCE_SCHEMAS),
        ).fetchall()
        for schema, name in relations:
            columns = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_catalog = 'wh' and table_schema = ? and table_name = ? order by ordinal_position",
                [schema, name],
            ).fetchall()
            select = ", ".join(
                f"cast({_quote(column)} as {bi_column_type(column, data_type)}) as {_quote(column)}"
                if bi_column_type(column, data_type)
                else _quote(column)
                for column, data_type in columns
            )
            con.execute(
                f"create table pub.{PUBLISHED_SCHEMA}.{_quote(name)} as "
                f"select {select} from wh.{_quote(schema)}.{_quote(name)}"
            )
            tables[name] = int(con.execute(f"select count(*) from pub.{PUBLISHED_SCHEMA}.{_quote(name)}").fetchone()[0])
        has_clock = con.execute(
            "select count(*) from information_schema.tables where table_catalog = 'wh' "
            "and table_schema = 'utilities' and table_name = 'util_date_bounds'"
        ).fetchone()[0]
        if has_clock:
            value = con.execute("select as_of_date from wh.utilities.util_date_bounds").fetchone()
            as_of = str(value[0]) if value and value[0] is not None else None
        con.execute(
            f"create table pub.{PUBLISHED_SCHEMA}.{MANIFEST_TABLE} (mart varchar, row_count bigint, "
            "as_of_date date, run_id varchar, published_at timestamp)"
        )
        con.executemany(
            f"insert into pub.{PUBLISHED_SCHEMA}.{MANIFEST_TABLE} values (?, ?, ?, ?, ?)",
            [(name, rows, as_of, run_id or None, published_at.replace(tzinfo=None)) for name, rows in tables.items()],
        )
        con.execute("checkpoint pub")
        con.execute("detach pub")
        con.execute("detach wh")
    except BaseException:
        con.close()
        scratch.unlink(missing_ok=True)
        scratch.with_name(scratch.name + ".wal").unlink(missing_ok=True)
        raise
    con.close()
    os.replace(scratch, target)  # atomic: readers see the old copy or the new one, never a part
    return Publication(path=target, tables=tables, published_at=published_at, as_of_date=as_of)


def read_publication(path: Path) -> dict[str, int] | None:
    """``{mart: rows}`` of a published file (None when there is none)."""
    if not Path(path).exists():
        return None
    con = duckdb.connect(str(path), read_only=True)
    try:
        return dict(con.execute(f"select mart, row_count from {PUBLISHED_SCHEMA}.{MANIFEST_TABLE}").fetchall())
    finally:
        con.close()
