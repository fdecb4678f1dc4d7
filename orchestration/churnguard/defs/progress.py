"""Concise console progress for ``churnguard run``: which step runs, how long it took, rows.

A Dagster logger (``churnguard_progress``) that prints one line per step start/end, per
materialized asset (with its row count), per failed check, and the steps' own info
messages, instead of Dagster's full debug event stream.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

from dagster import DagsterEventType, LoggerDefinition, logger

_QUIET_PREFIXES = (  # dagster-dbt's own chatter; the steps log what matters
    "A dbt subsetted execution",
    "A dbt subsetted",
    "Running dbt command",
    "Finished dbt command",
    "Overriding default",
    "DBT selection of",
    "Forwarding interrupt",
    "Copying project",
)

OUTPUT: TextIO | None = None
"""Where progress lines go (None: the current ``sys.stdout``); `runner` points it at the
real terminal while it diverts dbt's raw output to a log file."""


class ProgressHandler(logging.Handler):
    """Formats Dagster's log records as progress lines; a partitioned asset's many
    materializations (one per day of a range) become one line."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(level=logging.DEBUG)
        self.stream = stream
        self._partitions: dict[tuple[str, str], int] = {}

    def _write(self, text: str) -> None:
        stream = self.stream or OUTPUT or sys.stdout
        stream.write(f"[{time.strftime('%H:%M:%S')}] {text}\n")
        stream.flush()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format_record(record)
        except Exception:  # never break a run because of progress output
            return
        if line:
            self._write(line)

    def format_record(self, record: logging.LogRecord) -> str | None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        step = meta.get("step_key") or ""
        if event is None:
            if record.levelno < logging.INFO:
                return None
            message = str(meta.get("orig_message") or record.getMessage())
            if message.startswith(_QUIET_PREFIXES):
                return None
            prefix = "!" if record.levelno >= logging.WARNING else " "
            return f"{prefix}   {step}: {message}" if step else f"{prefix}   {message}"
        kind = event.event_type
        data = event.event_specific_data
        if kind == DagsterEventType.STEP_START:
            return f"==> {step}"
        if kind == DagsterEventType.STEP_SUCCESS:
            duration = getattr(data, "duration_ms", None)
            line = f"    {step} done" + (f" in {duration / 1000:.1f}s" if duration else "")
            ranges = [f"{key}: {n} partitions" for (s, key), n in self._partitions.items() if s == step and n > 1]
            return line + (f" ({'; '.join(ranges)})" if ranges else "")
        if kind == DagsterEventType.STEP_FAILURE:
            error = getattr(data, "error", None)
            detail = error.message.strip().splitlines()[0] if error and error.message else "failed"
            return f"!!! {step} FAILED: {detail}"
        if kind == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = data.materialization
            rows = materialization.metadata.get("dagster/row_count")
            count = f" ({rows.value:,} rows)" if rows is not None and isinstance(rows.value, int) else ""
            name = materialization.asset_key.to_user_string()
            partition = ""
            if materialization.partition:
                seen = self._partitions.get((step, name), 0)
                self._partitions[(step, name)] = seen + 1
                if seen:
                    return None  # one line per partitioned asset; the count comes at step end
                partition = f" [from {materialization.partition}]"
            return f"      {name}{partition}{count}"
        if kind == DagsterEventType.ASSET_CHECK_EVALUATION and not data.passed:
            return f"!     check failed: {data.asset_key.to_user_string()} {data.check_name} ({data.severity.value})"
        if kind == DagsterEventType.RUN_FAILURE:
            return f"!!! run failed: {event.message}"
        return None


def _progress_logger(init_context) -> logging.Logger:
    log = logging.getLogger("churnguard.progress")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    if not any(isinstance(h, ProgressHandler) for h in log.handlers):
        log.addHandler(ProgressHandler())
    return log


progress_logger: LoggerDefinition = logger(description="churnguard run: one line per step and asset")(_progress_logger)
