"""The sync engine: gate, diff against the last successful sync, deliver, audit.

    report = sync()                                   # every configured destination
    report = sync(dry_run=True)                       # what would be sent; writes nothing
    report = sync(destinations=["crm_db"], override_volume_reason="campaign week")
    report = sync(retry_dead_letters=True)            # replay dead letters only
    report = sync(full_resync=True)                   # send every open alert again
    print(report.format())

One sync run:

1. Takes the warehouse lock (DuckDB has one writer per file; the sync writes its state
   there) for reading: the quality gate over the alert list and the marts it rests on
   (`churnguard.quality`, read-only). A blocking failure stops **every** destination: nothing
   is sent, files and tables keep their previous contents, and each destination gets an
   audit row with status ``blocked`` naming the failed expectations.
2. Reads ``marts.current_alert_list`` and builds the minimal payloads (`payload`).
3. Per destination, first reconciles ``delivery.sync_state`` with what the destination really
   holds when it can be read back (PostgreSQL: table present, keys and content hashes): an
   alert it confirmed but lost is sent again. ``full_resync`` forgets the state of every
   alert on the list and sends them all. Then diffs against the state: alerts never sent are ``open``,
   alerts whose payload changed are ``update``, alerts the destination has open that left
   the list are ``close`` (with ``closed_date`` from ``marts.customer_alerts``). Unchanged
   alerts are not sent. A dead-lettered alert is sent again by every sync (same content:
   same idempotency key) until the destination accepts it or it leaves the list; the summary
   and ``delivery.sync_runs.parked`` say how many are still parked.
4. Releases the lock and the warehouse, then delivers through each destination's adapter:
   a slow, rate-limiting or unreachable receiver never holds loads and builds back.
   Confirmed and dead-lettered records are kept in memory (dead letters also go to their
   file at once).
5. Takes the lock again and writes, per destination, the state of every confirmed record,
   one ``delivery.sync_runs`` row, and one ``delivery.alert_list_history`` row (the next
   run's volume baseline). A crash before this step loses only the confirmations: those
   records are sent again by the next sync with the same idempotency keys (at-least-once).

Dry run: the gate and the diff run, nothing is sent and nothing is written.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import duckdb

from churnguard import settings, warehouse_sql
from churnguard.delivery import deadletter, state
from churnguard.delivery.config import DeliveryConfig, Destination, load_config
from churnguard.delivery.permissions import apply_umask
from churnguard.delivery.destinations.base import Change, DestinationUnavailable, build_adapter
from churnguard.delivery.redact import destination_secrets, redact_text
from churnguard.delivery.payload import (
    CONTACT_EMAIL,
    build_payloads,
    closure_payload,
    idempotency_key,
    payload_fields,
    payload_hash,
)
from churnguard.quality import freshness
from churnguard.quality.result import GateResult

ALERT_LIST_RELATION = "marts.current_alert_list"
EPISODES_RELATION = "marts.customer_alerts"
CONTACTS_RELATION = "staging.stg_crm__contacts"


class SyncError(RuntimeError):
    """The sync could not start (configuration, warehouse); nothing was sent."""


@dataclass
class DestinationReport:
    name: str
    kind: str
    status: str = "pending"  # success | partial | failed | blocked | dry_run | skipped
    sent: int = 0
    updated: int = 0
    closed: int = 0
    failed: int = 0
    dead_lettered: int = 0
    unchanged: int = 0
    replayed: int = 0
    repaired: int = 0
    """Alerts the destination had confirmed but no longer held (reconciled and sent again)."""
    parked: int = 0
    """Records of this destination in the dead letters after the run (retried by the next sync)."""
    seconds: float = 0.0
    error: str | None = None
    planned: list[Change] = field(default_factory=list)

    def counts(self) -> str:
        text = f"{self.sent} new, {self.updated} updated, {self.closed} closed, {self.unchanged} unchanged"
        if self.failed:
            text += f", {self.failed} failed ({self.dead_lettered} to dead letters)"
        if self.replayed:
            text += f", {self.replayed} replayed"
        if self.repaired:
            text += f" ({self.repaired} of them re-sent: missing or changed at the destination)"
        if self.parked:
            text += f", {self.parked} parked in dead letters (retried by the next sync)"
        return text


@dataclass
class SyncReport:
    run_id: str
    dry_run: bool
    destinations: list[DestinationReport]
    gate: GateResult | None = None
    alert_count: int | None = None
    override_reason: str | None = None
    config_source: str = ""

    @property
    def blocked(self) -> bool:
        return self.gate is not None and not self.gate.passed

    @property
    def ok(self) -> bool:
        return not self.blocked and all(d.status in ("success", "dry_run", "skipped") for d in self.destinations)

    def destination(self, name: str) -> DestinationReport:
        return next(d for d in self.destinations if d.name == name)

    def format(self) -> str:
        mode = " (dry run: nothing sent)" if self.dry_run else ""
        lines = [f"Delivery summary, sync run {self.run_id[:8]}{mode}"]
        if self.gate is not None and (
            not self.gate.passed
            or self.gate.volume_overridden
            or (self.gate.stale_override_reason and self.gate.freshness_failures)
            or any(s.warnings for s in self.gate.suites)
        ):
            lines.append(self.gate.format())
        if self.alert_count is not None:
            lines.append(f"  alert list: {self.alert_count} open alerts")
        for d in self.destinations:
            verb = "would send" if d.status == "dry_run" else d.status
            line = f"  {d.name:<16} {d.kind:<9} {verb:<10} {d.counts()}  ({d.seconds:.1f}s)"
            lines.append(line)
            if d.error:
                lines.append(f"      {d.error}")
            if d.status == "dry_run":
                for change in d.planned[:10]:
                    alert = change.payload
                    lines.append(
                        f"      {change.action:<6} {change.alert_id} {alert.get('customer_name') or alert.get('customer_id')}"
                        f" {alert.get('tier')} score={alert.get('health_score')}"
                    )
                if len(d.planned) > 10:
                    lines.append(f"      ... and {len(d.planned) - 10} more")
        if self.override_reason:
            lines.append(f"  override: {self.override_reason}")
        return "\n".join(lines)


def _dead_letter_dir(config: DeliveryConfig, warehouse: Path) -> Path:
    return config.dead_letter_dir or warehouse.parent / "deliveries" / "dead_letters"


@contextmanager
def _lock(warehouse: Path, holder: str, enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    from churnguard.defs.locking import warehouse_lock

    with warehouse_lock(warehouse, holder=holder):
        yield


@contextmanager
def _unlocked(warehouse: Path, holder: str, enabled: bool) -> Iterator[None]:
    """Release a lock an enclosing run holds (``churnguard run``) while destinations are reached."""
    if not enabled:
        yield
        return
    from churnguard.defs.locking import lock_released

    with lock_released(warehouse, holder=holder):
        yield


def _connect(warehouse: Path, read_only: bool):
    """The warehouse of the configured engine (`churnguard.warehouse_sql`); never a DuckDB file
    when another engine is set."""
    from churnguard.defs.locking import WarehouseBusyError

    try:
        return warehouse_sql.open_connection(warehouse, read_only=read_only, wait=not read_only)
    except WarehouseBusyError as error:
        raise SyncError(str(error)) from None
    except warehouse_sql.WarehouseUnavailableError as error:
        raise SyncError(str(error)) from error


def _relation_columns(con, relation: str) -> list[str]:
    schema, name = relation.split(".", 1)
    return warehouse_sql.relation_columns(con, schema, name)


def read_alert_list(con: duckdb.DuckDBPyConnection, include_contact_email: bool) -> dict[str, dict[str, Any]]:
    columns = _relation_columns(con, ALERT_LIST_RELATION)
    if not columns:
        raise SyncError(f"{ALERT_LIST_RELATION} does not exist: build the warehouse first (`churnguard run`)")
    cursor = con.execute(f"select * from {ALERT_LIST_RELATION}")
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row)) for row in cursor.fetchall()]
    if include_contact_email and not set(CONTACT_EMAIL.sources) & set(names):
        emails = read_key_contact_emails(con)
        for row in rows:
            row["key_contact_email"] = emails.get(str(row.get("customer_id")))
        names.append("key_contact_email")
    return build_payloads(rows, names, include_contact_email)


def read_key_contact_emails(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Customer -> e-mail of its current key contact (the decision maker whose role has not
    ended, the most recent one), from ``staging.stg_crm__contacts``; empty when it is absent."""
    columns = set(_relation_columns(con, CONTACTS_RELATION))
    if not {"customer_id", "email", "is_decision_maker", "valid_to", "valid_from"} <= columns:
        return {}
    rows = con.execute(
        f"select customer_id, email from {CONTACTS_RELATION} "
        "where is_decision_maker and valid_to is null and email is not null "
        "qualify row_number() over (partition by customer_id order by valid_from desc, email) = 1"
    ).fetchall()
    return {str(customer): email for customer, email in rows}


def read_closed_dates(con: duckdb.DuckDBPyConnection, alert_ids: Sequence[str]) -> dict[str, Any]:
    """``closed_date`` of the given episodes from ``marts.customer_alerts`` (when it has them)."""
    columns = _relation_columns(con, EPISODES_RELATION)
    if not alert_ids or "alert_id" not in columns or "closed_date" not in columns:
        return {}
    rows = []
    ids = list(alert_ids)
    for at in range(0, len(ids), 1000):  # plain placeholders: the same SQL on every engine
        chunk = ids[at:at + 1000]
        rows += con.execute(
            f"select alert_id, closed_date from {EPISODES_RELATION} where alert_id in ({', '.join('?' for _ in chunk)})",
            chunk,
        ).fetchall()
    return {str(alert_id): closed for alert_id, closed in rows}


def plan_changes(
    destination: Destination,
    current: dict[str, dict[str, Any]],
    known: dict[str, state.StateRow],
    closed_dates: dict[str, Any],
    now: datetime,
) -> tuple[list[Change], int, list[tuple]]:
    """The changes to send, the number of unchanged alerts, and silent state updates.

    Silent updates: dead-lettered alerts that left the list and were never delivered are
    marked closed without sending anything (the destination never saw them).
    """
    changes: list[Change] = []
    silent: list[tuple] = []
    unchanged = 0

    def change(alert_id: str, action: str, payload: dict[str, Any]) -> Change:
        digest = payload_hash(payload)
        return Change(alert_id, action, payload, digest, idempotency_key(destination.name, alert_id, action, digest))

    for alert_id, payload in current.items():
        row = known.get(alert_id)
        digest = payload_hash(payload)
        if row is None or row.status == "closed":
            changes.append(change(alert_id, "open", payload))
        elif row.status == "dead_letter":
            # Retried on every sync; same content -> same action and idempotency key as before.
            changes.append(change(alert_id, "open" if row.last_action == "open" else "update", payload))
        elif row.payload_hash == digest:
            unchanged += 1
        else:
            changes.append(change(alert_id, "update", payload))
    for alert_id, row in known.items():
        if alert_id in current or row.status == "closed":
            continue
        if row.status == "dead_letter" and row.last_action == "open":
            silent.append((alert_id, "closed", "close", row.payload_hash, row.payload, row.idempotency_key))
            continue
        when = closed_dates.get(alert_id) or now.date()
        changes.append(change(alert_id, "close", closure_payload(row.payload, when)))
    wanted = [c for c in changes if c.action in destination.send]
    unchanged += len(changes) - len(wanted)
    return wanted, unchanged, silent


class _StateSink:
    """Records confirmed and dead-lettered changes in the sync state.

    With a connection, as they happen; with ``con=None`` (a sync delivering without the
    warehouse lock) they are kept in ``pending`` and written by `flush` once the lock is
    taken again. Dead letters go to their file at once either way.
    """

    def __init__(self, con, destination: str, run_id: str, dead_dir: Path, report: DestinationReport, log) -> None:
        self.con = con
        self.destination = destination
        self.run_id = run_id
        self.dead_dir = dead_dir
        self.report = report
        self.log = log
        self.confirmed: set[str] = set()
        self.pending: list[tuple] = []

    def _record(self, items: list[tuple]) -> None:
        if self.con is None:
            self.pending.extend(items)
        else:
            state.record_state(self.con, self.destination, self.run_id, items)

    def flush(self, con) -> None:
        state.record_state(con, self.destination, self.run_id, self.pending)
        self.pending = []

    def delivered(self, changes: Sequence[Change]) -> None:
        self._record(
            [
                (c.alert_id, "closed" if c.action == "close" else "open", c.action, c.payload_hash, c.payload, c.idempotency_key)
                for c in changes
            ]
        )
        for c in changes:
            self.confirmed.add(c.idempotency_key)
            if c.action == "open":
                self.report.sent += 1
            elif c.action == "update":
                self.report.updated += 1
            else:
                self.report.closed += 1

    def dead_lettered(self, changes: Sequence[Change], error: str) -> None:
        deadletter.append(self.dead_dir, self.destination, self.run_id, changes, error)
        self._record([(c.alert_id, "dead_letter", c.action, c.payload_hash, c.payload, c.idempotency_key) for c in changes])
        for c in changes:
            self.confirmed.add(c.idempotency_key)
        self.report.failed += len(changes)
        self.report.dead_lettered += len(changes)
        self.log(f"{self.destination}: {len(changes)} record(s) to the dead-letter file: {error}")


def _failed(report: DestinationReport, error: Exception, secrets: Sequence[str]) -> None:
    """Mark ``report`` failed with ``error``'s text, credentials redacted."""
    text = str(error) if isinstance(error, DestinationUnavailable) else f"{type(error).__name__}: {error}"
    report.status, report.error = "failed", redact_text(text, secrets)


def _audit(con, run_id: str, report: DestinationReport, started: datetime, dry_run: bool, override: str | None) -> None:
    state.record_run(
        con,
        {
            "run_id": run_id,
            "destination": report.name,
            "destination_kind": report.kind,
            "started_at": started,
            "finished_at": state.utcnow(),
            "duration_seconds": round(report.seconds, 3),
            "status": report.status,
            "dry_run": dry_run,
            "sent": report.sent,
            "updated": report.updated,
            "closed": report.closed,
            "failed": report.failed,
            "dead_lettered": report.dead_lettered,
            "unchanged": report.unchanged,
            "parked": report.parked,
            "error": redact_text(report.error) if report.error else None,
            "override_reason": override,
        },
    )


def _run_gate(warehouse: Path, config: DeliveryConfig, override: str | None, run_id: str) -> GateResult:
    from churnguard.quality.runner import run_gate
    from churnguard.quality.suites import delivery_suite_names
    from churnguard.quality.volume import VolumeConfig

    return run_gate(
        warehouse,
        suites=delivery_suite_names(),
        override_volume_reason=override,
        volume=VolumeConfig.load(config.quality),
        run_name=f"churnguard sync (run {run_id[:8]})",
    )


def sync(
    warehouse: Path | None = None,
    *,
    config: DeliveryConfig | None = None,
    destinations: Sequence[str] | None = None,
    dry_run: bool = False,
    override_volume_reason: str | None = None,
    retry_dead_letters: bool = False,
    full_resync: bool = False,
    override_stale_reason: str | None = None,
    gate: GateResult | None = None,
    run_id: str | None = None,
    lock: bool = True,
    log: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> SyncReport:
    """Deliver the alert list to ``destinations`` (default: all configured); see the module doc.

    ``gate``: a gate result computed by the caller (e.g. Dagster asset checks) instead of
    running the suites again.
    """
    apply_umask()
    warehouse = Path(warehouse or settings.warehouse_path()).resolve()
    config = config or load_config()
    selected = [config.destination(n) for n in destinations] if destinations else list(config.destinations)
    run_id = run_id or uuid.uuid4().hex
    secrets = [secret for d in config.destinations for secret in destination_secrets(d.options)]
    emit = log or (lambda message: print(message, flush=True))

    def log(message: str) -> None:
        emit(redact_text(message, secrets))

    override = (override_volume_reason or "").strip() or None
    stale_reason = (override_stale_reason or "").strip() or freshness.override_from_env()
    report = SyncReport(
        run_id=run_id,
        dry_run=dry_run,
        destinations=[DestinationReport(d.name, d.kind) for d in selected],
        override_reason=override,
        config_source=config.source,
    )
    with ExitStack() as held:
        if lock and not dry_run:  # lock order: delivery lock, then warehouse lock
            held.enter_context(_unlocked(warehouse, f"churnguard sync (run {run_id[:8]})", True))
            from churnguard.defs.locking import delivery_lock

            held.enter_context(delivery_lock(warehouse, holder=f"churnguard sync (run {run_id[:8]})"))
        return _sync(
            warehouse, config, selected, report, gate, run_id, dry_run, override, stale_reason, retry_dead_letters,
            full_resync, lock, log, sleep, secrets,
        )


def _sync(
    warehouse, config, selected, report, gate, run_id, dry_run, override, stale_reason, retry_dead_letters,
    full_resync, lock, log, sleep, secrets,
) -> SyncReport:
    with _lock(warehouse, f"churnguard sync (run {run_id[:8]})", lock and not dry_run):
        if retry_dead_letters:
            return _replay(warehouse, config, selected, report, log, sleep, secrets)
        if gate is None:
            gate = _run_gate(warehouse, config, override, run_id)
        elif override and not gate.override_reason:
            gate.override_reason = override
        report.gate = gate
        if gate.volume_overridden:
            log(f"volume check overridden for sync run {run_id[:8]}: {override} ({len(gate.volume_failures)} failure(s))")
        con = _connect(warehouse, read_only=dry_run)
        try:
            sources = freshness.freshness_suite(con)
            if sources is not None:  # a copy: the caller's gate result is not changed
                gate = dataclasses.replace(gate, suites=[*gate.suites, sources], stale_override_reason=stale_reason)
                report.gate = gate
                if gate.freshness_failures and stale_reason:
                    log(f"stale sources accepted for sync run {run_id[:8]}: {stale_reason}")
                    override = "; ".join(filter(None, [override, f"stale sources: {stale_reason}"]))
                    report.override_reason = override
            if not dry_run:
                state.ensure_schema(con)
                state.record_quality_failures(con, run_id, gate)
            active = gate.parameters.get("active_customers")
            if not gate.passed:
                error = gate.summary()
                for d in report.destinations:
                    d.status, d.error = "blocked", error
                    if not dry_run:
                        _audit(con, run_id, d, state.utcnow(), dry_run, override)
                if not dry_run:
                    count = _count_alerts(con)
                    state.record_history(con, run_id, count, active, False, False, override)
                log(f"delivery blocked: {error}")
                return report
            current = read_alert_list(con, config.include_contact_email)
            report.alert_count = len(current)
            known = {d.name: state.load_state(con, d.name) for d in selected}
            gone = sorted({a for rows in known.values() for a in rows if a not in current})
            closed_dates = read_closed_dates(con, gone)
        finally:
            con.close()
    # Destinations are reached without the warehouse lock: a slow or rate-limiting receiver
    # never blocks loads and builds. Their state is written when the lock is taken again.
    fields = [f.name for f in payload_fields(config.include_contact_email)]
    dead_dir = _dead_letter_dir(config, warehouse)
    with _unlocked(warehouse, f"churnguard sync (run {run_id[:8]})", lock and not dry_run):
        sinks = [
            _deliver_destination(
                warehouse, destination, d, current, known[destination.name], closed_dates, fields, run_id, dead_dir,
                dry_run, log, sleep, full_resync, secrets,
            )
            for destination, d in zip(selected, report.destinations)
        ]
    if dry_run:
        return report
    with _lock(warehouse, f"churnguard sync (run {run_id[:8]}, recording)", lock):
        con = _connect(warehouse, read_only=False)
        try:
            state.ensure_schema(con)
            for destination, d, (sink, silent, started_at) in zip(selected, report.destinations, sinks):
                state.record_state(con, destination.name, run_id, silent)
                sink.flush(con)
                _settle_dead_letters(con, dead_dir, destination.name, d)
                _audit(con, run_id, d, started_at, False, override)
            delivered = any(d.status in ("success", "partial") for d in report.destinations)
            state.record_history(con, run_id, len(current), active, True, delivered, override)
        finally:
            con.close()
    return report


def _count_alerts(con: duckdb.DuckDBPyConnection) -> int:
    if not _relation_columns(con, ALERT_LIST_RELATION):
        return 0
    return int(con.execute(f"select count(*) from {ALERT_LIST_RELATION}").fetchone()[0])


def _deliver_destination(
    warehouse, destination, report, current, known, closed_dates, fields, run_id, dead_dir, dry_run, log, sleep,
    full_resync=False, secrets: Sequence[str] = (),
) -> tuple[_StateSink, list[tuple], datetime]:
    """Reconcile, plan and deliver one destination (no warehouse connection is open).

    Returns the sink holding the state to record, the silent state updates and the start time.
    """
    started_at = state.utcnow()
    started = time.perf_counter()
    sink = _StateSink(None, destination.name, run_id, dead_dir, report, log)
    adapter = None
    try:
        adapter = build_adapter(destination, base_dir=warehouse.parent, run_id=run_id, fields=fields, sleep=sleep, log=log)
        if full_resync:
            known = {a: row for a, row in known.items() if a not in current}
        elif not dry_run:
            known = _reconcile(adapter, known, current, report, log)
    except Exception as error:  # a destination's bug must not stop the others or lose the audit row
        _failed(report, error, secrets)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    changes, unchanged, silent = plan_changes(destination, current, known, closed_dates, now)
    report.unchanged = unchanged
    if dry_run and report.status != "failed":
        report.planned = changes
        report.sent = sum(1 for c in changes if c.action == "open")
        report.updated = sum(1 for c in changes if c.action == "update")
        report.closed = sum(1 for c in changes if c.action == "close")
        report.status = "dry_run"
    elif report.status != "failed":
        try:
            adapter.deliver(changes, sink, list(current.values()))
            report.status = "partial" if report.dead_lettered else "success"
        except Exception as error:  # a destination's bug must not stop the others or lose the audit row
            _failed(report, error, secrets)
    if report.status == "failed":
        report.failed += sum(1 for c in changes if c.idempotency_key not in sink.confirmed)
        log(f"{destination.name}: {report.error}")
    report.seconds = time.perf_counter() - started
    return sink, silent, started_at


def _reconcile(adapter, known: dict[str, state.StateRow], current, report: DestinationReport, log) -> dict[str, state.StateRow]:
    """``known`` corrected by what the destination really holds (adapters that can read it back).

    An alert the destination confirmed but no longer holds (dropped or truncated table, row
    deleted or edited there) is sent again: as ``open`` when it is on the list, as ``close``
    (its last payload, closed) when it left it.
    """
    reconcile = getattr(adapter, "reconcile", None)
    if reconcile is None:
        return known
    lost = reconcile({a: row for a, row in known.items() if row.status in ("open", "closed")})
    if not lost:
        return known
    report.repaired = len(lost)
    log(
        f"{report.name}: {len(lost)} of the alerts it confirmed are missing or changed at the destination; "
        "sending them again"
    )
    fixed = dict(known)
    for alert_id in lost:
        row = fixed.pop(alert_id)
        if alert_id not in current:
            fixed[alert_id] = state.StateRow(alert_id, "open", "open", "", row.payload, None)
    return fixed


def _still_parked(records: list[dict[str, Any]], known: dict[str, state.StateRow]) -> list[dict[str, Any]]:
    """The dead-letter records that are still the destination's latest version of their alert."""
    return [
        r
        for r in records
        if (row := known.get(r["alert_id"])) is not None and row.status == "dead_letter" and row.payload_hash == r["payload_hash"]
    ]


def _settle_dead_letters(con, dead_dir: Path, name: str, report: DestinationReport) -> None:
    """Keep in the dead-letter file only what is still parked; count it in ``report.parked``.

    A record is parked while ``delivery.sync_state`` says ``dead_letter`` with its hash; one
    delivered since, superseded by newer content or closed is removed from the file.
    """
    known = state.load_state(con, name)
    records = deadletter.read(dead_dir, name)
    live = _still_parked(records, known)
    if len(live) != len(records):
        deadletter.rewrite(dead_dir, name, live)
    report.parked = sum(1 for row in known.values() if row.status == "dead_letter")
    if report.parked and report.status == "success":
        report.status = "partial"


def _replay(warehouse, config, selected, report, log, sleep, secrets=()) -> SyncReport:
    """Replay the dead letters; called under the warehouse lock, released while sending."""
    dead_dir = _dead_letter_dir(config, warehouse)
    con = _connect(warehouse, read_only=False)
    try:
        state.ensure_schema(con)
        known = {d.name: state.load_state(con, d.name) for d in selected}
    finally:
        con.close()
    fields = [f.name for f in payload_fields(config.include_contact_email)]
    with _unlocked(warehouse, f"churnguard sync (run {report.run_id[:8]}, replay)", True):
        outcomes = [
            _replay_destination(warehouse, destination, d, known[destination.name], fields, report.run_id, dead_dir, log, sleep, secrets)
            for destination, d in zip(selected, report.destinations)
        ]
    con = _connect(warehouse, read_only=False)
    try:
        for destination, d, (sink, started_at) in zip(selected, report.destinations, outcomes):
            sink.flush(con)
            _settle_dead_letters(con, dead_dir, destination.name, d)
            _audit(con, report.run_id, d, started_at, False, None)
    finally:
        con.close()
    return report


def _replay_destination(warehouse, destination, d, known, fields, run_id, dead_dir, log, sleep, secrets):
    started_at, started = state.utcnow(), time.perf_counter()
    sink = _StateSink(None, destination.name, run_id, dead_dir, d, log)
    records = deadletter.read(dead_dir, destination.name)
    live = _still_parked(records, known)
    dropped = len(records) - len(live)
    if dropped:
        log(f"{destination.name}: {dropped} dead letter(s) superseded by newer versions, dropped")
    # Failures of this replay are appended again by the sink: start from an empty file.
    deadletter.rewrite(dead_dir, destination.name, [])
    d.status = "success"
    if live:
        try:
            adapter = build_adapter(destination, base_dir=warehouse.parent, run_id=run_id, fields=fields, sleep=sleep, log=log)
            adapter.deliver([deadletter.as_change(r) for r in live], sink, None)  # None: files keep their snapshot
            d.status = "partial" if d.dead_lettered else "success"
        except Exception as error:
            _failed(d, error, secrets)
            pending = [r for r in live if r["idempotency_key"] not in sink.confirmed]
            existing = deadletter.read(dead_dir, destination.name)
            deadletter.rewrite(dead_dir, destination.name, [*pending, *existing])
            d.failed += len(pending)
        d.replayed = d.sent + d.updated + d.closed
    d.seconds = time.perf_counter() - started
    return sink, started_at
