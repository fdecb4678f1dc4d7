"""Load a folder of raw files into the warehouse, validated against the contract.

The warehouse is the engine of ``CHURNGUARD_DBT_TARGET`` (`settings.target_engine`): the
DuckDB file (default), PostgreSQL or Spark (`churnguard.loading.targets`). Validation is the
same for all three; only the write phase differs, all or nothing on each.

    from churnguard.loader import load, LoadError
    report = load(Path("seeds/sample"))          # -> LoadReport; print(report.format())
    # raises LoadError(problems=[Problem, ...]) when anything is wrong

Input: each raw table of `churnguard.contract` is one entry of ``source_dir``: a file
``<system>__<name>.csv`` / ``.csv.gz`` / ``.parquet``, or a folder ``<system>__<name>/``
of part files in one of those formats. Entries starting with ``_`` or ``.`` are
ignored (``_truth/``); other unknown entries are warnings.

Two phases:

1. Validate, in a scratch in-memory DuckDB connection, never touching the warehouse:
   file readable and non-empty, UTF-8, well-formed CSV lines, required columns
   present, every value of the column's type, nulls, accepted values, min/max,
   timestamps not in the future, currency = the reporting currency, unique primary
   keys, and references between tables. EVERY problem is collected (with the first
   `MAX_EXAMPLES` rows and the total count per problem) and raised together as one
   `LoadError`.
2. Write: attach the warehouse and, in ONE transaction, replace every raw table
   (``raw_crm.accounts`` ...) and append to ``raw_meta.load_log``. A failure rolls
   everything back; the previous raw data stays intact. PostgreSQL: COPY in one
   transaction; Spark: Parquet tables staged, then swapped in (see `loading.targets`).

Decisions (see the project's DECISIONS.md):

- Full snapshot: a load replaces every raw table with the folder's contents; rows
  absent from the folder disappear from ``raw_*``. A table with no file is loaded
  as empty and named in the report's warnings (so is a header-only CSV or a zero-row
  Parquet file); a 0-byte file is an error.
- Columns not in the contract are dropped, with a warning naming them; the raw
  tables always have exactly the contract's columns and types. A missing optional
  column (``required=False``) loads as null, with a warning.
- Row numbers: CSV problems name ``line N`` (physical line, header = line 1);
  Parquet problems name ``row index N`` (0-based, as pandas/pyarrow show it).
- Future: event timestamps may be at most 1 hour ahead of the load's clock (clock
  skew between source systems); dates at most today (UTC). Scheduled columns
  (`checks.FUTURE_ALLOWED`: invoice due dates, subscription end and renewal) may be
  in the future.
- Past: no date or timestamp before the history start (``CHURNGUARD_HISTORY_START``,
  default 20 years before today): placeholders such as 0001-01-01 are rejected instead of
  stretching the calendar and every KPI series back to year 1.
- Empty strings are nulls (CSV cannot tell them apart); currency codes are compared
  and stored trimmed and upper-cased (Stripe exports ``usd``); decimals are rounded
  to 2 places.
- Types in the warehouse: string VARCHAR, integer BIGINT, decimal DECIMAL(18,2),
  boolean BOOLEAN, timestamp TIMESTAMP (naive UTC), date DATE.
- Shrink guard: a table that would lose more than ``CHURNGUARD_MAX_SHRINK_SHARE`` (default
  0.5) of the rows the warehouse holds, when it holds at least ``CHURNGUARD_SHRINK_MIN_ROWS``
  (default 100), is rejected (``table_shrank``) unless the load is confirmed with
  ``allow_shrink`` (``churnguard load --allow-shrink``, or ``CHURNGUARD_ALLOW_SHRINK=1`` for
  ``churnguard run``). A header-only export of a large table is almost always a broken
  export, and replacing the table would half-rebuild the marts.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb

from churnguard import settings
from churnguard.contract import tables_in_load_order
from churnguard.delivery.permissions import apply_umask, tighten

from .loading.checks import FUTURE_ALLOWED, Settings, check_references, check_table
from .loading.discovery import discover
from .loading.report import LINE, MAX_EXAMPLES, ROW_INDEX, LoadError, LoadReport, Problem, TableLoad
from .loading.sources import Stager, StagedTable
from .loading import write as _write

__all__ = [
    "load", "validate", "LoadError", "LoadReport", "Problem", "TableLoad",
    "FUTURE_TOLERANCE", "FUTURE_ALLOWED", "MAX_EXAMPLES", "LINE", "ROW_INDEX",
]

FUTURE_TOLERANCE = timedelta(hours=1)
DEFAULT_MAX_SHRINK_SHARE = 0.5
DEFAULT_SHRINK_MIN_ROWS = 100


def _env_number(name: str, default: float, low: float, high: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if not low <= value <= high:
        raise ValueError(f"{name}={raw!r} must be between {low:g} and {high:g}")
    return value


def shrink_problems(con, staged: list[StagedTable], *, max_share: float | None = None,
                    min_rows: int | None = None) -> list[Problem]:
    """Tables of ``staged`` that would lose more than ``max_share`` of the rows the attached warehouse holds."""
    max_share = _env_number("CHURNGUARD_MAX_SHRINK_SHARE", DEFAULT_MAX_SHRINK_SHARE, 0, 1) if max_share is None else max_share
    min_rows = int(_env_number("CHURNGUARD_SHRINK_MIN_ROWS", DEFAULT_SHRINK_MIN_ROWS, 0, 1e18)) if min_rows is None else min_rows
    existing = {
        (schema, name)
        for schema, name in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ?", [_write.ALIAS]
        ).fetchall()
    }
    counts = {st.table.qualified_name: con.execute(f"SELECT count(*) FROM {_write.relation(st.table)}").fetchone()[0]
              for st in staged if (st.table.raw_schema, st.table.name) in existing}
    return shrink_problems_from_counts(staged, counts, max_share=max_share, min_rows=min_rows)


def shrink_problems_from_counts(staged: list[StagedTable], counts: dict[str, int], *, max_share: float,
                                min_rows: int) -> list[Problem]:
    """Tables of ``staged`` that would lose more than ``max_share`` of ``counts`` (rows held now, by table)."""
    problems = []
    for st in staged:
        t = st.table
        if t.qualified_name not in counts:
            continue
        before = counts[t.qualified_name]
        if before < max(min_rows, 1) or st.rows >= before * (1 - max_share):
            continue
        problems.append(Problem(
            "table_shrank",
            f"{st.rows:,} rows would replace the {before:,} the warehouse holds "
            f"({(before - st.rows) / before:.0%} fewer; at most {max_share:.0%} allowed, CHURNGUARD_MAX_SHRINK_SHARE). "
            "A header-only or truncated export? If the table really shrank, load with --allow-shrink "
            "(CHURNGUARD_ALLOW_SHRINK=1 for churnguard run)",
            file=st.source.entry, table=t.qualified_name, list_rows=False))
    return problems


DEFAULT_HISTORY_YEARS = 20


def history_start(today: date) -> date:
    """The earliest date a raw row may carry: ``CHURNGUARD_HISTORY_START`` (YYYY-MM-DD), else
    20 years before ``today``. One row dated 0001-01-01 would otherwise widen the warehouse
    clock, the calendar and every KPI series back to year 1."""
    raw = os.environ.get("CHURNGUARD_HISTORY_START", "").strip()
    if raw:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"CHURNGUARD_HISTORY_START={raw!r} is not a date YYYY-MM-DD") from None
    try:
        return today.replace(year=today.year - DEFAULT_HISTORY_YEARS)
    except ValueError:  # 29 February
        return today.replace(year=today.year - DEFAULT_HISTORY_YEARS, day=28)


def _allow_shrink_from_env() -> bool:
    return os.environ.get("CHURNGUARD_ALLOW_SHRINK", "").strip().lower() in ("1", "true", "yes")


def _tolerance_text(tol: timedelta) -> str:
    secs = int(tol.total_seconds())
    if secs % 3600 == 0:
        return f"{secs // 3600} h"
    if secs % 60 == 0:
        return f"{secs // 60} min"
    return f"{secs} s"


def _scratch(tmpdir: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:", config={"preserve_insertion_order": True, "temp_directory": tmpdir})
    con.execute("SET enable_progress_bar = false")
    # TIMESTAMPTZ -> TIMESTAMP conversions and offset-less text use the session zone: pin it to UTC.
    con.execute("SET TimeZone = 'UTC'")
    return con


def validate(source_dir: Path | str, *, currency: str | None = None, now: datetime | None = None,
             future_tolerance: timedelta = FUTURE_TOLERANCE) -> list[str]:
    """Dry run: run every check of `load` without opening the warehouse.

    Returns the warnings; raises `LoadError` exactly as `load` would.
    """
    source_dir = Path(source_dir).expanduser().resolve()
    with tempfile.TemporaryDirectory(prefix="churnguard-validate-") as tmp:
        con = _scratch(tmp)
        try:
            _, problems, warnings = _validate(con, source_dir, currency, now, future_tolerance)
        finally:
            con.close()
    if problems:
        raise LoadError(problems, warnings, source_dir)
    return warnings


def _validate(con, source_dir: Path, currency: str | None, now: datetime | None,
              tolerance: timedelta) -> tuple[list[StagedTable], list[Problem], list[str]]:
    problems: list[Problem] = []
    warnings: list[str] = []
    if not source_dir.is_dir():
        problems.append(Problem("source_missing", f"source folder {source_dir} does not exist or is not a folder"))
        return [], problems, warnings
    now_utc = (now.astimezone(timezone.utc).replace(tzinfo=None) if now and now.tzinfo
               else now or datetime.now(timezone.utc).replace(tzinfo=None))
    s = Settings(currency=(currency or settings.reporting_currency()).strip().upper(),
                 now=now_utc + tolerance, tolerance_text=_tolerance_text(tolerance),
                 today=now_utc.date(), history_start=history_start(now_utc.date()))

    # Absent tables load as empty (header-only CSVs in the scratch connection's temp folder).
    scratch = con.execute("select current_setting('temp_directory')").fetchone()[0]
    sources, found, warns = discover(source_dir, Path(scratch) / "absent_tables")
    problems += found
    warnings += warns
    stager = Stager(con, problems, warnings)
    staged: dict[str, StagedTable] = {}
    for t in tables_in_load_order():
        src = sources.get(t.qualified_name)
        if src is None:
            continue
        st = stager.stage(src)
        if st is not None and check_table(con, st, s, problems, warnings):
            staged[t.qualified_name] = st
    for st in staged.values():
        try:
            check_references(con, st, staged, problems)
        except duckdb.Error as e:
            problems.append(Problem("unreadable", f"cannot read while checking references: {e}",
                                    file=st.source.entry, table=st.table.qualified_name))
    return list(staged.values()), problems, warnings


def load(source_dir: Path | str, warehouse: Path | str | None = None, *, currency: str | None = None,
         now: datetime | None = None, future_tolerance: timedelta = FUTURE_TOLERANCE,
         allow_shrink: bool | None = None) -> LoadReport:
    """Validate every raw file in ``source_dir``, then replace the raw tables in ``warehouse``.

    ``warehouse`` defaults to `settings.warehouse_path()` (parent folders are created);
    ``currency`` overrides `settings.reporting_currency()`; ``now`` (default: the
    clock) and ``future_tolerance`` define "in the future". ``allow_shrink`` (default:
    ``CHURNGUARD_ALLOW_SHRINK``) lets tables lose more than the allowed share of their rows.

    Raises `LoadError` listing every problem; then the warehouse is unchanged.
    """
    started = time.monotonic()
    apply_umask()
    source_dir = Path(source_dir).expanduser().resolve()
    wh = Path(warehouse).expanduser().resolve() if warehouse is not None else settings.warehouse_path()
    tighten(wh, wh.with_name(wh.name + ".wal"))
    tmp = tempfile.mkdtemp(prefix="churnguard-load-")
    con = None
    try:
        con = _scratch(tmp)
        staged, problems, warnings = _validate(con, source_dir, currency, now, future_tolerance)
        if problems:
            raise LoadError(problems, warnings, source_dir)

        load_id = uuid.uuid4().hex
        loaded_at = datetime.now(timezone.utc).replace(tzinfo=None)
        engine = settings.target_engine()
        if engine != "duckdb":
            return _load_other_engine(engine, con, staged, warnings, source_dir, Path(tmp), load_id, loaded_at,
                                      allow_shrink, started)
        from churnguard.defs.locking import WarehouseBusyError, retry_while_open_elsewhere  # imports dagster

        try:
            retry_while_open_elsewhere(lambda: _write.attach(con, wh), wh)
        except WarehouseBusyError as e:
            raise LoadError([Problem("warehouse_unavailable", str(e), file=str(wh))], warnings, source_dir) from None
        except (duckdb.Error, OSError) as e:
            raise LoadError([Problem(
                "warehouse_unavailable",
                f"cannot open the warehouse: {e} (close other connections to it first: dbt, Dagster, "
                f"a notebook or another duckdb.connect() on that file)", file=str(wh))],
                warnings, source_dir) from e
        if not (_allow_shrink_from_env() if allow_shrink is None else allow_shrink):
            shrunk = shrink_problems(con, staged)
            if shrunk:
                raise LoadError(shrunk, warnings, source_dir)
        try:
            _write.write_snapshot(con, staged, load_id=load_id, loaded_at=loaded_at, source_dir=source_dir)
        except Exception as e:
            raise LoadError([Problem("write_failed", f"writing the raw tables failed and was rolled back: {e}",
                                     file=str(wh))], warnings, source_dir, written=True) from e

        tables = {
            st.table.qualified_name: TableLoad(
                table=st.table.qualified_name,
                relation=f"{st.table.raw_schema}.{st.table.name}",
                source=st.source.entry,
                format=st.source.format,
                files=[f.source.rel for f in st.files],
                rows=st.rows,
            )
            for st in staged
        }
        return LoadReport(source_dir=source_dir, warehouse=wh, load_id=load_id, loaded_at=loaded_at,
                          tables=tables, warnings=warnings, duration_seconds=time.monotonic() - started)
    finally:
        if con is not None:
            con.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _load_other_engine(engine: str, con, staged: list[StagedTable], warnings: list[str], source_dir: Path,
                       scratch: Path, load_id: str, loaded_at: datetime, allow_shrink: bool | None,
                       started: float) -> LoadReport:
    """The write phase on the PostgreSQL or Spark target (`loading.targets`), all or nothing."""
    from .loading import targets

    where = targets.describe_target(engine)
    tables = [st.table for st in staged]
    try:
        counts = (targets.postgres_row_counts if engine == "postgres" else targets.spark_row_counts)(tables)
    except Exception as e:
        raise LoadError([Problem("warehouse_unavailable", f"cannot reach the {engine} target: {e}", file=where)],
                        warnings, source_dir) from e
    if not (_allow_shrink_from_env() if allow_shrink is None else allow_shrink):
        shrunk = shrink_problems_from_counts(
            staged, counts,
            max_share=_env_number("CHURNGUARD_MAX_SHRINK_SHARE", DEFAULT_MAX_SHRINK_SHARE, 0, 1),
            min_rows=int(_env_number("CHURNGUARD_SHRINK_MIN_ROWS", DEFAULT_SHRINK_MIN_ROWS, 0, 1e18)))
        if shrunk:
            raise LoadError(shrunk, warnings, source_dir)
    writer = targets.write_postgres if engine == "postgres" else targets.write_spark
    try:
        writer(con, staged, load_id=load_id, loaded_at=loaded_at, source_dir=source_dir, scratch=scratch)
    except Exception as e:
        raise LoadError([Problem("write_failed", f"writing the raw tables failed and was rolled back: {e}",
                                 file=where)], warnings, source_dir, written=True) from e
    tables_loaded = {
        st.table.qualified_name: TableLoad(
            table=st.table.qualified_name, relation=f"{st.table.raw_schema}.{st.table.name}",
            source=st.source.entry, format=st.source.format, files=[f.source.rel for f in st.files], rows=st.rows)
        for st in staged
    }
    return LoadReport(source_dir=source_dir, warehouse=where, load_id=load_id, loaded_at=loaded_at,
                      tables=tables_loaded, warnings=warnings, duration_seconds=time.monotonic() - started)
