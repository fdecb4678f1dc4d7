"""PostgreSQL destination: the operational CRM database pattern.

- One table (option ``table``, default ``churnguard_alerts``; ``schema.table`` allowed),
  created when missing (``create_table: false`` to require an existing one), with one column
  per payload field plus ``payload`` (jsonb), ``payload_hash``, ``idempotency_key``,
  ``first_synced_at``, ``last_synced_at`` and ``sync_run_id``. Missing payload columns are
  added (``add column if not exists``) so a new payload field never breaks a sync.
- Every change of a sync is an upsert by ``alert_id``, all in **one transaction**: the table
  is either fully updated or untouched. A closed episode is an upsert with
  ``status = 'closed'`` and ``closed_date``: rows are never deleted.
- An upsert whose content hash equals the row's leaves the row untouched.
- **Reconciled before every sync** (`reconcile`): the keys and content hashes the table holds
  are compared with what it confirmed; a dropped table is recreated and a truncated one
  refilled, because every alert missing (or edited) there is sent again.
- Connection options: ``dsn`` (libpq string or URL; use ``${VAR}`` in ``churnguard.yml``),
  ``connect_timeout_seconds`` (10).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from churnguard.delivery.config import Destination
from churnguard.delivery.destinations.base import Change, DestinationUnavailable, Sink
from churnguard.delivery.payload import CONTACT_EMAIL, PAYLOAD_FIELDS

_PG_TYPES = {f.name: f.pg_type for f in (*PAYLOAD_FIELDS, CONTACT_EMAIL)}
_META_COLUMNS = ("payload", "payload_hash", "idempotency_key", "sync_run_id")


def _table_identifier(name: str):
    from psycopg import sql

    parts = [p for p in name.split(".") if p]
    if not 1 <= len(parts) <= 2:
        raise ValueError(f"table {name!r}: use table or schema.table")
    return sql.Identifier(*parts)


class PostgresDestination:
    def __init__(self, destination: Destination, *, run_id: str, fields: Sequence[str]) -> None:
        self.destination = destination
        self.dsn = str(destination.option("dsn"))
        self.table = str(destination.option("table", "churnguard_alerts"))
        self.create_table = bool(destination.option("create_table", True))
        self.connect_timeout = int(float(destination.option("connect_timeout_seconds", 10)))
        self.run_id = run_id
        self.fields = list(fields)

    def _ddl(self, conn: Any) -> None:
        from psycopg import sql

        table = _table_identifier(self.table)
        columns = [
            sql.SQL("{} {}").format(
                sql.Identifier(name),
                sql.SQL(_PG_TYPES.get(name, "text") + (" primary key" if name == "alert_id" else "")),
            )
            for name in self.fields
        ]
        columns += [
            sql.SQL("payload jsonb not null"),
            sql.SQL("payload_hash text not null"),
            sql.SQL("idempotency_key text not null"),
            sql.SQL("first_synced_at timestamptz not null default now()"),
            sql.SQL("last_synced_at timestamptz not null default now()"),
            sql.SQL("sync_run_id text not null"),
        ]
        if "." in self.table:
            conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(self.table.split(".")[0])))
        conn.execute(sql.SQL("create table if not exists {} ({})").format(table, sql.SQL(", ").join(columns)))
        for name in self.fields:
            conn.execute(
                sql.SQL("alter table {} add column if not exists {} {}").format(
                    table, sql.Identifier(name), sql.SQL(_PG_TYPES.get(name, "text"))
                )
            )

    def _unavailable(self, error: Exception, detail: str) -> DestinationUnavailable:
        from churnguard.delivery.redact import redact_text

        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return DestinationUnavailable(
            redact_text(f"{self.destination.name}: PostgreSQL {type(error).__name__}: {message} ({detail})", [self.dsn])
        )

    def reconcile(self, confirmed: Mapping[str, Any]) -> set[str]:
        """Alert ids of ``confirmed`` (state rows with ``payload_hash``) the table does not hold as confirmed."""
        if not confirmed:
            return set()
        import psycopg
        from psycopg import sql

        table = _table_identifier(self.table)
        try:
            with psycopg.connect(self.dsn, connect_timeout=self.connect_timeout) as conn:
                exists = conn.execute("select to_regclass(%s)", [table.as_string(conn)]).fetchone()[0]
                if exists is None:
                    if not self.create_table:
                        raise DestinationUnavailable(
                            f"{self.destination.name}: table {self.table} does not exist and create_table is false"
                        )
                    return set(confirmed)
                held = dict(
                    conn.execute(
                        sql.SQL("select alert_id, payload_hash from {} where alert_id = any(%s)").format(table),
                        [list(confirmed)],
                    ).fetchall()
                )
        except psycopg.Error as error:
            raise self._unavailable(error, "while reading the table back to reconcile it; nothing was sent") from None
        return {alert_id for alert_id, row in confirmed.items() if held.get(alert_id) != row.payload_hash}

    def deliver(self, changes: Sequence[Change], sink: Sink, current: Sequence[dict[str, Any]]) -> None:
        if not changes:
            return
        import psycopg
        from psycopg import sql
        from psycopg.types.json import Jsonb

        table = _table_identifier(self.table)
        columns = [*self.fields, *_META_COLUMNS]
        updates = [name for name in columns if name != "alert_id"]
        statement = sql.SQL(
            "insert into {table} ({columns}) values ({values}) "
            "on conflict (alert_id) do update set {updates}, last_synced_at = now() "
            "where {table}.payload_hash is distinct from excluded.payload_hash"
        ).format(
            table=table,
            columns=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            values=sql.SQL(", ").join(sql.Placeholder() for _ in columns),
            updates=sql.SQL(", ").join(
                sql.SQL("{} = excluded.{}").format(sql.Identifier(c), sql.Identifier(c)) for c in updates
            ),
        )
        rows = [
            [*(change.payload.get(name) for name in self.fields), Jsonb(change.payload), change.payload_hash,
             change.idempotency_key, self.run_id]
            for change in changes
        ]
        try:
            with psycopg.connect(self.dsn, connect_timeout=self.connect_timeout) as conn:
                if self.create_table:
                    with conn.transaction():
                        self._ddl(conn)
                with conn.transaction():
                    with conn.cursor() as cursor:
                        cursor.executemany(statement, rows)
        except psycopg.Error as error:
            raise self._unavailable(error, "the transaction was rolled back; the table is unchanged") from None
        sink.delivered(changes)
