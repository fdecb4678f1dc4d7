"""Dead-letter files: records a destination rejected for good, kept for a replay.

One JSON-lines file per destination, ``<dead-letter dir>/<destination>.jsonl``
(``CHURNGUARD_DEAD_LETTER_DIR``, default ``<warehouse folder>/deliveries/dead_letters``).
Each line is one record: destination, alert id, action, idempotency key, payload hash,
payload, the error, when it failed and in which sync run.

``churnguard sync --retry-dead-letters`` replays them with their original idempotency keys.
A record is replayed only while it is still the destination's latest version of that alert
(``delivery.sync_state`` says ``dead_letter`` with the same hash); one superseded by a newer
version or closed since is dropped. Records that fail again stay in the file.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

from churnguard.delivery.destinations.base import Change
from churnguard.delivery.destinations.files import atomic_write


def dead_letter_path(directory: Path, destination: str) -> Path:
    return directory / f"{destination}.jsonl"


def append(directory: Path, destination: str, run_id: str, changes: Sequence[Change], error: str) -> None:
    path = dead_letter_path(directory, destination)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    failed_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # customer data: owner only
    with open(fd, "a", encoding="utf-8") as handle:
        for change in changes:
            record = {
                "destination": destination,
                "alert_id": change.alert_id,
                "action": change.action,
                "idempotency_key": change.idempotency_key,
                "payload_hash": change.payload_hash,
                "payload": change.payload,
                "error": error,
                "failed_at": failed_at,
                "run_id": run_id,
            }
            handle.write(json.dumps(record, default=str) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read(directory: Path, destination: str) -> list[dict[str, Any]]:
    """Every dead-letter record of ``destination``, the last one per alert (oldest first)."""
    path = dead_letter_path(directory, destination)
    if not path.exists():
        return []
    latest: dict[str, dict[str, Any]] = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                raise ValueError(f"{path} line {number} is not JSON; fix or remove it") from None
            latest.pop(record["alert_id"], None)
            latest[record["alert_id"]] = record
    return list(latest.values())


def as_change(record: dict[str, Any]) -> Change:
    return Change(
        alert_id=record["alert_id"],
        action=record["action"],
        payload=record["payload"],
        payload_hash=record["payload_hash"],
        idempotency_key=record["idempotency_key"],
    )


def rewrite(directory: Path, destination: str, records: Iterable[dict[str, Any]]) -> None:
    """Replace the file with ``records`` (removed when there are none), atomically."""
    path = dead_letter_path(directory, destination)
    records = list(records)
    if not records:
        path.unlink(missing_ok=True)
        return

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, default=str) + "\n")

    atomic_write(path, write)
