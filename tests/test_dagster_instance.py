"""The Dagster instance churnguard creates: its dagster.yaml and the batched SQLite event log.

A first ``churnguard run`` records about 7,000 Dagster events; stored one synchronous SQLite
commit at a time they took two of its five minutes. `BatchedSqliteEventLogStorage` keeps one
connection open per database and writes a batch in one transaction per database; these tests
pin that the rows are Dagster's own, that a batch is all-or-nothing, how many connections a
run opens, and that a watcher of the run (the UI) still sees new events.
"""

# No `from __future__ import annotations`: Dagster reads the context annotation.
import sqlite3
from pathlib import Path

import pytest
from dagster import (
    AssetExecutionContext,
    BackfillPolicy,
    DailyPartitionsDefinition,
    Definitions,
    asset,
    define_asset_job,
)
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from churnguard.defs import instance as instance_module
from churnguard.defs.instance import MARKER, BatchedSqliteEventLogStorage, ensure_dagster_home, instance_at

DAYS = DailyPartitionsDefinition(start_date="2025-01-01", end_date="2025-03-02")  # 60 days


@asset(partitions_def=DAYS, backfill_policy=BackfillPolicy.single_run())
def daily_facts(context: AssetExecutionContext) -> None:
    context.log.info(f"building {len(context.partition_keys)} days")


def _run_sixty_days(home: Path) -> tuple[object, str]:
    defs = Definitions(assets=[daily_facts], jobs=[define_asset_job("nightly", selection=[daily_facts])])
    tags = {ASSET_PARTITION_RANGE_START_TAG: "2025-01-01", ASSET_PARTITION_RANGE_END_TAG: "2025-03-01"}
    instance = instance_at(home)
    result = defs.resolve_job_def("nightly").execute_in_process(instance=instance, tags=tags)
    assert result.success
    return instance, result.run_id


def test_churnguards_yaml_is_written_kept_in_step_and_yours_is_left_alone(tmp_path: Path) -> None:
    home = ensure_dagster_home(tmp_path / "dagster_home")
    text = (home / "dagster.yaml").read_text()
    assert text.startswith(MARKER)
    assert "class: BatchedSqliteEventLogStorage" in text
    assert f'base_dir: "{home}/history/runs"' in text

    # churnguard's own file from an older version (or a moved folder) is brought up to date
    (home / "dagster.yaml").write_text(f"{MARKER}; edit freely, it is not overwritten.\ntelemetry:\n  enabled: false\n")
    ensure_dagster_home(home)
    assert (home / "dagster.yaml").read_text() == text

    # a file without the marker is the user's
    mine = "telemetry:\n  enabled: true\n"
    (home / "dagster.yaml").write_text(mine)
    ensure_dagster_home(home)
    assert (home / "dagster.yaml").read_text() == mine


def test_a_partitioned_run_stores_every_event_with_batches(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    instance, run_id = _run_sixty_days(tmp_path / "home")
    assert isinstance(instance.event_log_storage, BatchedSqliteEventLogStorage)
    # 60 daily partitions: 60 planned and 60 done materializations, all readable as Dagster's
    assert instance.get_materialized_partitions(daily_facts.key) == set(DAYS.get_partition_keys()[:60])
    # the run's own database and the cross-run index hold the same events
    query = "select dagster_event_type, count(*) from event_logs where dagster_event_type like 'ASSET_MATERIALIZATION%' group by 1"
    for shard in (run_id, "index"):
        with sqlite3.connect(tmp_path / "home" / "history" / "runs" / f"{shard}.db") as db:
            assert dict(db.execute(query).fetchall()) == {"ASSET_MATERIALIZATION": 60, "ASSET_MATERIALIZATION_PLANNED": 60}


def test_a_run_opens_each_database_once(tmp_path: Path, monkeypatch) -> None:
    """Dagster's own storage opens and closes the run's database and the index for each of the
    120 asset events (and every other event); here each database is opened once per process
    and its connection kept open."""
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    opened: list[str] = []
    real = instance_module.create_engine
    monkeypatch.setattr(instance_module, "create_engine", lambda url, **kw: opened.append(url) or real(url, **kw))
    asked: list[str] = []
    has_table = SqliteEventLogStorage.has_table
    monkeypatch.setattr(SqliteEventLogStorage, "has_table", lambda self, name: asked.append(name) or has_table(self, name))
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    instance, run_id = _run_sixty_days(tmp_path / "home")
    assert sorted(Path(url).name for url in opened) == sorted([f"{run_id}.db", "index.db"])
    # the index's tables are looked up once each (a new connection every time in Dagster's
    # class), not before each of the 120 asset events
    assert len(asked) == len(set(asked)) and "asset_event_tags" in asked, asked
    # committed without closing: another process reads every event (from the write-ahead log)
    with sqlite3.connect(tmp_path / "home" / "history" / "runs" / f"{run_id}.db") as db:
        assert db.execute("select count(*) from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION'").fetchone() == (60,)
        assert db.execute("pragma journal_mode").fetchone() == ("wal",)
    # the least recently used database is closed beyond OPEN_DATABASES
    storage = instance.event_log_storage
    for n in range(instance_module.OPEN_DATABASES + 2):
        with storage._connect(f"other-{n}"):
            pass
    assert len(storage._engines) == instance_module.OPEN_DATABASES
    assert list(storage._engines)[-1] == f"other-{instance_module.OPEN_DATABASES + 1}"
    storage.dispose()
    assert not storage._engines


def test_a_watcher_of_a_run_sees_events_written_through_the_open_connection(tmp_path: Path, monkeypatch) -> None:
    """The UI follows a run through a watchdog on its database file; the events land in the
    write-ahead log first, and the watcher wakes on that file too."""
    import threading

    from dagster._core.events.log import EventLogEntry

    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    instance, run_id = _run_sixty_days(tmp_path / "home")
    storage = instance.event_log_storage
    records = instance.get_records_for_run(run_id, limit=100_000)
    seen: list[str] = []
    woke = threading.Event()

    def callback(entry, cursor):
        seen.append(entry.user_message)
        if entry.user_message == "after the watch started":
            woke.set()

    storage.watch(run_id, records.cursor, callback)
    try:
        last = records.records[-1].event_log_entry
        storage.store_event(EventLogEntry(
            error_info=None, level=last.level, user_message="after the watch started", run_id=run_id,
            timestamp=last.timestamp + 1, step_key=None, job_name=last.job_name, dagster_event=None,
        ))
        assert woke.wait(timeout=15), seen
    finally:
        storage.end_watch(run_id, callback)
        storage.dispose()
    assert seen == ["after the watch started"]


def test_a_failing_batch_commits_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    instance, run_id = _run_sixty_days(tmp_path / "home")
    storage = instance.event_log_storage
    events = [r.event_log_entry for r in instance.get_records_for_run(run_id).records]
    before = len(instance.get_records_for_run(run_id, limit=100_000).records)

    calls = {"n": 0}
    store_event = BatchedSqliteEventLogStorage.store_event

    def fail_on_third(self, event):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return store_event(self, event)

    monkeypatch.setattr(BatchedSqliteEventLogStorage, "store_event", fail_on_third)
    with pytest.raises(RuntimeError, match="disk full"):
        storage.store_event_batch(events[:10])
    # the two events stored before the failure were rolled back with the batch
    assert len(instance.get_records_for_run(run_id, limit=100_000).records) == before
    monkeypatch.setattr(BatchedSqliteEventLogStorage, "store_event", store_event)
    storage.store_event_batch(events[:10])  # and the storage works after the failure
    assert len(instance.get_records_for_run(run_id, limit=100_000).records) == before + 10
