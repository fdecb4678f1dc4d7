"""The Dagster instance (``DAGSTER_HOME``) that ``churnguard run`` and ``churnguard ui`` share.

It lives next to the warehouse (``<warehouse folder>/dagster_home``, or
``CHURNGUARD_DAGSTER_HOME``), so the UI shows the runs of ``churnguard run`` and the
partitions they built. churnguard writes its ``dagster.yaml`` there:

- ``concurrency.pools.default_limit: 1`` -- the ``churnguard_warehouse`` pool admits one
  writer; ``granularity: run`` -- a run that contains a writer is queued while another such
  run is in progress (so a nightly run and a manual one never interleave their steps);
- ``event_log_storage``: Dagster's SQLite event log (same files, same schema) that writes a
  batch of events in one transaction per database (`BatchedSqliteEventLogStorage`);
- telemetry off.

A ``dagster.yaml`` without churnguard's first line is yours and left alone; one with it is
rewritten when churnguard's settings (or the folder) change.
"""

from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from dagster import DagsterInstance
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy.pool import NullPool

MARKER = "# Written by churnguard (churnguard/defs/instance.py)"

EVENT_BATCH_SIZE = "1000"
"""``DAGSTER_EVENT_BATCH_SIZE`` churnguard sets (unless you set it): Dagster then hands the
events it can batch (planned materializations and checks, a partitioned asset's
materializations) to the storage in batches of up to this many."""

DAGSTER_YAML = """\
{marker}; delete this line to keep your own edits.
concurrency:
  pools:
    default_limit: 1      # the churnguard_warehouse pool: one writer of the DuckDB file
    granularity: run      # a run with a writer waits in the queue while another one runs
event_log_storage:        # Dagster's SQLite event log, a batch of events per transaction
  module: churnguard.defs.instance
  class: BatchedSqliteEventLogStorage
  config:
    base_dir: {base_dir}  # this folder's history/runs, as Dagster's default
telemetry:
  enabled: false
"""

INSTANCE_OVERRIDES = {
    "concurrency": {"pools": {"default_limit": 1, "granularity": "run"}},
    "telemetry": {"enabled": False},
}
"""The same settings, for ``dagster.instance_for_test(overrides=...)``."""


def dagster_yaml(home: Path) -> str:
    """churnguard's ``dagster.yaml`` for the instance in ``home`` (an absolute folder)."""
    return DAGSTER_YAML.format(marker=MARKER, base_dir=json.dumps(str(home / "history" / "runs")))


def enable_event_batches() -> None:
    """Let Dagster batch the events it can (read by Dagster each time it stores an event)."""
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", EVENT_BATCH_SIZE)


def ensure_dagster_home(home: Path) -> Path:
    """Create ``home`` with churnguard's ``dagster.yaml``, or bring churnguard's own file up to date."""
    home = Path(home).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    wanted = dagster_yaml(home)
    current = config.read_text(encoding="utf-8") if config.exists() else None
    if current is None or (current.startswith(MARKER) and current != wanted):
        partial = config.with_name(f".dagster.yaml.{os.getpid()}.tmp")
        partial.write_text(wanted, encoding="utf-8")
        os.replace(partial, config)  # never a half-written file for a concurrent reader
    enable_event_batches()
    return home


def instance_at(home: Path) -> DagsterInstance:
    """A persistent instance in ``home`` (created with churnguard's dagster.yaml if new)."""
    return DagsterInstance.from_config(str(ensure_dagster_home(home)))


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log (one database per run plus ``index.db``), batch-aware.

    Dagster's own class commits every event on its own: one or two synchronous SQLite commits
    (about 10 ms each on an ordinary disk) per event. A first run of the sample plans and
    records about 7,000 events (planned and done materializations of 365 daily partitions of
    five models, a thousand dbt tests as asset checks), which took two of its five minutes.
    Here a batch handed over by Dagster (``store_event_batch``, enabled by
    ``DAGSTER_EVENT_BATCH_SIZE``) is written through one connection and one transaction per
    database, committed at the end of the batch; each event is stored by Dagster's own
    ``store_event``, so the rows are exactly Dagster's. If the batch fails, nothing of it is
    committed and Dagster stores its events one by one.
    """

    def __init__(self, base_dir: str, inst_data: Any = None):
        self._batch = threading.local()  # before Dagster's __init__, which already connects
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> "BatchedSqliteEventLogStorage":  # type: ignore[override]
        return cls(inst_data=inst_data, **config_value)

    def store_event_batch(self, events: Sequence[Any]) -> None:
        if len(events) < 2:
            for event in events:
                self.store_event(event)
            return
        opened: dict[str, tuple[Any, Any, Any]] = {}
        self._batch.opened = opened
        try:
            with self._db_lock:  # other threads of this process wait for the batch, as for one event
                try:
                    for event in events:
                        self.store_event(event)
                except BaseException:
                    for engine, conn, transaction in opened.values():
                        transaction.rollback()
                    raise
                else:
                    # the run's own database first: an index row never points at a missing event
                    for shard in sorted(opened, key=lambda name: name == "index"):
                        opened[shard][2].commit()
                finally:
                    for engine, conn, transaction in opened.values():
                        conn.close()
                        engine.dispose()
        finally:
            self._batch.opened = None

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Any]:
        opened = getattr(self._batch, "opened", None)
        if opened is None:  # not in a batch (or another thread): Dagster's own behaviour
            with super()._connect(shard) as conn:
                yield conn
            return
        if shard not in opened:  # the batch thread holds self._db_lock already
            engine = create_engine(
                self.conn_string_for_shard(shard),
                poolclass=NullPool,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            )
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            conn = engine.connect()
            opened[shard] = (engine, conn, conn.begin())
        yield opened[shard][1]
