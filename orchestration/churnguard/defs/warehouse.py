"""The DuckDB warehouse as a Dagster resource: a write lock for writers, read-only reads.

The file is always ``CHURNGUARD_WAREHOUSE`` (read when a step runs): dbt's profile reads
the same variable, so the Python assets and dbt can never disagree about which file they
write.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from datetime import date
from typing import Iterator, Optional, Sequence

import duckdb
from dagster import ConfigurableResource, get_dagster_logger
from pydantic import Field

from churnguard import settings, warehouse_sql
from churnguard.warehouse_sql import WarehouseUnavailableError  # noqa: F401 (re-exported)
from churnguard.defs import config
from churnguard.defs.locking import WarehouseBusyError, warehouse_lock


@contextmanager
def read_only_connection(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the configured engine's warehouse (`churnguard.warehouse_sql`;
    ``path`` is the DuckDB file, unused on other engines), with an error that says what to do."""
    with warehouse_sql.connect(Path(path), read_only=True) as con:
        yield con


def built_through(warehouse: Path, relations: Sequence[tuple[str, str]]) -> Optional[date]:
    """The last ``date_day`` present in *every* one of ``relations`` (schema, table).

    None when the warehouse, a relation or its rows are missing: nothing can be resumed, build
    everything. Raises `WarehouseUnavailableError` when another process is writing the file.
    """
    if not relations or not warehouse_sql.warehouse_exists(warehouse):
        return None
    with read_only_connection(warehouse) as con:
        existing = warehouse_sql.tables(con)
        if not all(tuple(relation) in existing for relation in relations):
            return None
        days = [
            con.execute(f"select max(date_day) from {schema}.{name}").fetchone()[0] for schema, name in relations
        ]
    if any(day is None for day in days):
        return None
    return min(days)


class WarehouseResource(ConfigurableResource):
    """The churnguard DuckDB warehouse (``CHURNGUARD_WAREHOUSE``)."""

    lock_timeout_seconds: Optional[float] = Field(
        default=None,
        description="Seconds a writer waits for the warehouse lock before failing "
        "(default: CHURNGUARD_LOCK_TIMEOUT, 3600; 0 = fail at once).",
    )

    @property
    def path(self) -> Path:
        return settings.warehouse_path()

    @contextmanager
    def write_lock(self, context, what: str) -> Iterator[Path]:
        """Hold the warehouse lock while ``what`` writes; logs when it has to wait."""
        log = getattr(context, "log", None) or get_dagster_logger()
        run_id = getattr(getattr(context, "run", None), "run_id", None) or getattr(context, "run_id", "")
        holder = f"{what} (Dagster run {run_id[:8]})" if run_id else what
        started = time.monotonic()
        timeout = config.lock_timeout_seconds() if self.lock_timeout_seconds is None else self.lock_timeout_seconds
        try:
            with warehouse_lock(self.path, holder=holder, timeout=timeout, on_wait=log.warning) as lock_file:
                waited = time.monotonic() - started
                if waited >= 1:
                    log.info(f"got the warehouse lock after waiting {waited:.1f}s")
                yield lock_file
        except WarehouseBusyError as error:
            log.error(str(error))
            raise

    @contextmanager
    def read_only(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with read_only_connection(self.path) as con:
            yield con
