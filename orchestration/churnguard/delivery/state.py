"""Sync state and audit tables, in the warehouse's ``delivery`` schema (DuckDB, PostgreSQL; on
Spark a SQLite file attached as ``delivery``, see `churnguard.warehouse_sql`).

- ``delivery.sync_state``: per destination and alert, what the destination last received
  (payload, its hash, status ``open`` / ``closed`` / ``dead_letter``). The diff of the next
  sync is computed against it. A row is written right after the destination confirmed it
  (per webhook batch, per PostgreSQL transaction, per file write).
- ``delivery.sync_runs``: one audit row per sync run and destination (run id, destination,
  counts sent/updated/closed/failed, records still parked in dead letters, duration, error,
  dry run, volume override reason).
- ``delivery.alert_list_history``: one row per gate evaluation of the alert list (size,
  active customers, gate passed, delivered): the volume checks compare with the last
  delivered list.
- ``delivery.quality_failures``: the failed expectations of each gate run, with samples.

DuckDB admits one writing process per file: everything here runs inside the sync, which
holds the warehouse lock (`churnguard.defs.locking`) like every other writer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

import duckdb

DDL = [
    "create schema if not exists delivery",
    """
    create table if not exists delivery.sync_state (
        destination varchar not null,
        alert_id varchar not null,
        status varchar not null,
        last_action varchar not null,
        payload_hash varchar not null,
        payload json not null,
        idempotency_key varchar,
        first_sent_at timestamp,
        last_sent_at timestamp not null,
        last_run_id varchar not null,
        primary key (destination, alert_id)
    )
    """,
    """
    create table if not exists delivery.sync_runs (
        run_id varchar not null,
        destination varchar not null,
        destination_kind varchar not null,
        started_at timestamp not null,
        finished_at timestamp,
        duration_seconds double,
        status varchar not null,
        dry_run boolean not null,
        sent integer not null default 0,
        updated integer not null default 0,
        closed integer not null default 0,
        failed integer not null default 0,
        dead_lettered integer not null default 0,
        unchanged integer not null default 0,
        parked integer not null default 0,
        error varchar,
        override_reason varchar
    )
    """,
    """
    create table if not exists delivery.alert_list_history (
        run_id varchar not null,
        recorded_at timestamp not null,
        alert_count integer not null,
        active_customers integer,
        gate_passed boolean not null,
        delivered boolean not null,
        override_reason varchar
    )
    """,
    """
    create table if not exists delivery.quality_failures (
        run_id varchar not null,
        checked_at timestamp not null,
        suite varchar not null,
        expectation varchar not null,
        kind varchar not null,
        column_name varchar,
        unexpected_count bigint,
        observed_value varchar,
        description varchar,
        sample_rows json,
        overridden boolean not null
    )
    """,
]


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


MIGRATIONS = [
    # warehouses created before the column existed
    "alter table delivery.sync_runs add column if not exists parked integer default 0",
]


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    for statement in (*DDL, *MIGRATIONS):
        con.execute(statement)


def has_schema(con: duckdb.DuckDBPyConnection) -> bool:
    from churnguard import warehouse_sql

    return warehouse_sql.relation_exists(con, "delivery", "sync_state")


@dataclass
class StateRow:
    alert_id: str
    status: str
    last_action: str
    payload_hash: str
    payload: dict[str, Any]
    idempotency_key: str | None


def load_state(con: duckdb.DuckDBPyConnection, destination: str) -> dict[str, StateRow]:
    if not has_schema(con):
        return {}
    rows = con.execute(
        "select alert_id, status, last_action, payload_hash, payload, idempotency_key "
        "from delivery.sync_state where destination = ?",
        [destination],
    ).fetchall()
    return {
        alert_id: StateRow(alert_id, status, action, digest, json.loads(payload) if isinstance(payload, str) else payload, key)
        for alert_id, status, action, digest, payload, key in rows
    }


def record_state(
    con: duckdb.DuckDBPyConnection,
    destination: str,
    run_id: str,
    items: Iterable[tuple[str, str, str, str, Mapping[str, Any], str | None]],
) -> None:
    """Upsert ``(alert_id, status, last_action, payload_hash, payload, idempotency_key)`` rows, one transaction."""
    items = list(items)
    if not items:
        return
    now = utcnow()
    con.execute("begin transaction")
    try:
        con.executemany(
            """
            insert into delivery.sync_state
                (destination, alert_id, status, last_action, payload_hash, payload, idempotency_key,
                 first_sent_at, last_sent_at, last_run_id)
            values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            on conflict (destination, alert_id) do update set
                status = excluded.status,
                last_action = excluded.last_action,
                payload_hash = excluded.payload_hash,
                payload = excluded.payload,
                idempotency_key = excluded.idempotency_key,
                last_sent_at = excluded.last_sent_at,
                last_run_id = excluded.last_run_id
            """,
            [
                (destination, alert_id, status, action, digest, json.dumps(payload, default=str), key, now, now, run_id)
                for alert_id, status, action, digest, payload, key in items
            ],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def record_run(con: duckdb.DuckDBPyConnection, row: Mapping[str, Any]) -> None:
    columns = list(row)
    con.execute(
        f"insert into delivery.sync_runs ({', '.join(columns)}) values ({', '.join('?' for _ in columns)})",
        [row[c] for c in columns],
    )


def record_history(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    alert_count: int,
    active_customers: int | None,
    gate_passed: bool,
    delivered: bool,
    override_reason: str | None,
) -> None:
    con.execute(
        "insert into delivery.alert_list_history values (?, ?, ?, ?, ?, ?, ?)",
        [run_id, utcnow(), alert_count, active_customers, gate_passed, delivered, override_reason],
    )


def record_quality_failures(con: duckdb.DuckDBPyConnection, run_id: str, gate: Any) -> None:
    rows = []
    overridden = {"volume": bool(gate.override_reason), "freshness": bool(getattr(gate, "stale_override_reason", None))}
    for failure in gate.failures:
        rows.append(
            (
                run_id,
                utcnow(),
                failure.suite,
                failure.expectation,
                failure.kind,
                failure.column,
                failure.unexpected_count,
                None if failure.observed_value is None else json.dumps(failure.observed_value, default=str),
                failure.description,
                json.dumps(failure.sample_rows, default=str),
                overridden.get(failure.kind, False),
            )
        )
    if rows:
        con.executemany("insert into delivery.quality_failures values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
