"""The Dagster instance (``DAGSTER_HOME``) that ``churnguard run`` and ``churnguard ui`` share.

It lives next to the warehouse (``<warehouse folder>/dagster_home``, or
``CHURNGUARD_DAGSTER_HOME``), so the UI shows the runs of ``churnguard run`` and the
partitions they built. churnguard writes its ``dagster.yaml`` there:

- ``concurrency.pools.default_limit: 1`` -- the ``churnguard_warehouse`` pool admits one
  writer; ``granularity: run`` -- a run that contains a writer is queued while another such
  run is in progress (so a nightly run and a manual one never interleave their steps);
- ``event_log_storage``: Dagster's SQLite event log (same files, same schema) that keeps one
  connection open per database and writes a batch of events in one transaction per database
  (`BatchedSqliteEventLogStorage`);
- telemetry off.

A ``dagster.yaml`` without churnguard's first line is yours and left alone; one with it is
rewritten when churnguard's settings (or the folder) change.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from dagster import DagsterInstance
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SqliteEventLogStorage,
    SqliteEventLogStorageWatchdog,
)
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.pool import StaticPool

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
event_log_storage:        # Dagster's SQLite event log: open connections, a batch per transaction
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


OPEN_DATABASES = 8
"""Event-log databases (one per run, plus ``index``) a process keeps a connection open to."""


def _relaxed_sync(dbapi_connection: Any, _record: Any) -> None:
    # WAL (Dagster's journal mode for these files) with synchronous=NORMAL: a commit is not
    # flushed to disk on its own; a power cut may lose the last events, a crash of the
    # process loses nothing (SQLite's documented trade-off, the usual setting for WAL).
    dbapi_connection.execute("pragma synchronous=NORMAL")


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log (one database per run plus ``index.db``), with open
    connections and batches.

    Dagster's own class opens a new SQLite connection for every event and closes it after
    one commit; closing the last connection of a WAL database checkpoints it to disk. That is
    about 19 ms per event on an ordinary disk (two databases per asset event), and a first
    run of the sample records about 7,000 events (planned and done materializations of 365
    daily partitions of five models, a thousand dbt tests as asset checks). Here:

    - each database keeps one open connection (``synchronous=NORMAL`` under WAL), so an event
      is one commit without a disk flush (0.05 ms); at most ``OPEN_DATABASES`` stay open,
      the least recently used is closed;
    - a batch handed over by Dagster (``store_event_batch``, enabled by
      ``DAGSTER_EVENT_BATCH_SIZE``) is one transaction per database, committed at the end
      of the batch; if it fails nothing of it is committed and Dagster stores its events one
      by one;
    - whether the index has a table (asked before every asset event) is remembered once yes;
    - a watcher of a run's events (the UI following a run) also wakes on the run database's
      write-ahead log, where the events now land first.

    Each event is stored by Dagster's own ``store_event``, so the rows are exactly Dagster's;
    access from the threads of one process is serialised by Dagster's lock, as before.
    """

    def __init__(self, base_dir: str, inst_data: Any = None):
        # before Dagster's __init__, which already connects
        self._batch = threading.local()
        self._engines: "OrderedDict[str, Any]" = OrderedDict()
        self._present_tables: set[str] = set()
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> "BatchedSqliteEventLogStorage":  # type: ignore[override]
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Any:
        """The open engine of ``shard`` (the caller holds ``self._db_lock``)."""
        engine = self._engines.pop(shard, None)
        if engine is None:
            engine = create_engine(
                self.conn_string_for_shard(shard),
                poolclass=StaticPool,  # one connection, kept open; the lock serialises its users
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            sqlalchemy_event.listen(engine, "connect", _relaxed_sync)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
        self._engines[shard] = engine  # most recently used last
        while len(self._engines) > OPEN_DATABASES:
            _, oldest = self._engines.popitem(last=False)
            oldest.dispose()
        return engine

    def _close_all(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()

    def store_event_batch(self, events: Sequence[Any]) -> None:
        if len(events) < 2:
            for event in events:
                self.store_event(event)
            return
        opened: dict[str, tuple[Any, Any]] = {}
        self._batch.opened = opened
        try:
            with self._db_lock:  # other threads of this process wait for the batch, as for one event
                try:
                    for event in events:
                        self.store_event(event)
                except BaseException:
                    for conn, transaction in opened.values():
                        transaction.rollback()
                    raise
                else:
                    # the run's own database first: an index row never points at a missing event
                    for shard in sorted(opened, key=lambda name: name == "index"):
                        opened[shard][1].commit()
                finally:
                    for conn, transaction in opened.values():
                        conn.close()  # back to its engine: the SQLite connection stays open
        finally:
            self._batch.opened = None

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Any]:
        opened = getattr(self._batch, "opened", None)
        if opened is None:  # one event or one read: its own transaction, as Dagster's
            with self._db_lock:
                with self._engine(shard).connect() as conn:
                    with conn.begin():
                        yield conn
            return
        if shard not in opened:  # the batch thread holds self._db_lock already
            conn = self._engine(shard).connect()
            opened[shard] = (conn, conn.begin())
        yield opened[shard][0]

    def has_table(self, table_name: str) -> bool:
        # Dagster asks before storing every asset event and check (about 4,000 times in a
        # first run of the sample, a new SQLite connection each time); a table that exists
        # stays (until `wipe`), so a yes is remembered. A no is asked again, as Dagster does.
        if table_name in self._present_tables:
            return True
        present = super().has_table(table_name)
        if present:
            self._present_tables.add(table_name)
        return present

    def watch(self, run_id: str, cursor: Any, callback: Any) -> None:
        super().watch(run_id, cursor, callback)
        # Dagster's watchdog wakes when the run's database file changes; with the connection
        # kept open the events land in its write-ahead log first: wake on that file too.
        watchdog, watch = self._watchers[run_id][callback]
        self._obs.remove_handler_for_watch(watchdog, watch)
        wal_aware = _WalAwareWatchdog(self, run_id, callback, cursor)
        self._watchers[run_id][callback] = (wal_aware, self._obs.schedule(wal_aware, self._base_dir, recursive=True))

    def wipe(self) -> None:
        with self._db_lock:  # Dagster deletes the files: close them first
            self._close_all()
            self._present_tables.clear()
        super().wipe()

    def dispose(self) -> None:
        with self._db_lock:
            self._close_all()
        super().dispose()


class _WalAwareWatchdog(SqliteEventLogStorageWatchdog):
    """Dagster's watchdog of a run's events, woken by the run database or its write-ahead log."""

    def __init__(self, event_log_storage: Any, run_id: str, callback: Any, cursor: Any, **kwargs: Any):
        super().__init__(event_log_storage, run_id, callback, cursor, **kwargs)
        self._paths = (self._log_path, self._log_path + "-wal")
        super(SqliteEventLogStorageWatchdog, self).__init__(patterns=list(self._paths), **kwargs)

    def on_modified(self, event: Any) -> None:
        if event.src_path in self._paths:
            self._process_log()
