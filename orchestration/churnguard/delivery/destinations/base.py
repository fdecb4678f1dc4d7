"""What every destination adapter shares: a change, the sink it reports to, its errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from churnguard.delivery.config import Destination


@dataclass(frozen=True)
class Change:
    """One record to send: an alert opened, updated or closed since the last successful sync."""

    alert_id: str
    action: str  # open | update | close
    payload: dict[str, Any]
    payload_hash: str
    idempotency_key: str


class Sink(Protocol):
    def delivered(self, changes: Sequence[Change]) -> None: ...

    def dead_lettered(self, changes: Sequence[Change], error: str) -> None: ...


class DestinationUnavailable(RuntimeError):
    """The destination could not be reached or kept failing; nothing more was sent this run."""


class Adapter(Protocol):
    def deliver(self, changes: Sequence[Change], sink: Sink, current: Sequence[dict[str, Any]]) -> None: ...


def build_adapter(
    destination: Destination,
    *,
    base_dir: Path,
    run_id: str,
    fields: Sequence[str],
    sleep: Callable[[float], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> Adapter:
    """The adapter of ``destination`` (imports only what its kind needs)."""
    if destination.kind == "postgres":
        from churnguard.delivery.destinations.postgres import PostgresDestination

        return PostgresDestination(destination, run_id=run_id, fields=fields)
    if destination.kind == "webhook":
        from churnguard.delivery.destinations.webhook import WebhookDestination

        return WebhookDestination(destination, sleep=sleep, log=log)
    if destination.kind == "files":
        from churnguard.delivery.destinations.files import FilesDestination

        return FilesDestination(destination, base_dir=base_dir, run_id=run_id, fields=fields)
    raise ValueError(f"unknown destination kind {destination.kind!r}")
