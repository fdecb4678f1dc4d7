"""Concise console progress for ``churnguard run``: which step runs, how long it took, rows.

A Dagster logger (``churnguard_progress``) that prints one line per step start/end, per
materialized asset (with its row count), per failed check, and the steps' own info
messages, instead of Dagster's full debug event stream; and `PlanningProgress`, which
reports while Dagster records the run's plan, before the first step starts.
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
        self._partitions: dict[tuple[str, str, str], int] = {}  # (run, step, asset)

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
        run = str(meta.get("run_id") or getattr(event, "run_id", None) or "")
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
            ranges = [f"{key}: {n} partitions" for (r, s, key), n in self._partitions.items() if r == run and s == step and n > 1]
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
                # counted per run: the handler outlives a run (one per process)
                seen = self._partitions.get((run, step, name), 0)
                self._partitions[(run, step, name)] = seen + 1
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


class PlanningProgress:
    """Progress lines while Dagster plans a run, before its first step starts.

    Before the first step, Dagster records one "planned" event per asset check (about a
    thousand dbt tests) and per partition of each partitioned asset: on a persistent
    instance that takes minutes on a first run over a year of days, with nothing to show
    for it. This watcher polls the instance from a thread and prints how many planned
    events have been recorded (every ``interval`` seconds) until the first step starts.

        with PlanningProgress(instance):
            run_nightly_once(...)
    """

    def __init__(self, instance, *, interval: float = 10.0, stream: TextIO | None = None) -> None:
        import threading

        self.instance = instance
        self.interval = interval
        self.stream = stream
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="churnguard-planning-progress", daemon=True)
        self._started = time.time()

    def __enter__(self) -> "PlanningProgress":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _write(self, text: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {text}"
        self.lines.append(line)
        stream = self.stream or OUTPUT or sys.stdout
        stream.write(line + "\n")
        stream.flush()

    def _current_run_id(self) -> str | None:
        runs = self.instance.get_runs(limit=1)
        if runs and runs[0].run_id and self._run_created_after_start(runs[0]):
            return runs[0].run_id
        return None

    def _run_created_after_start(self, run) -> bool:
        record = self.instance.get_run_record_by_id(run.run_id)
        created = getattr(record, "create_timestamp", None)
        return created is None or created.timestamp() >= self._started - 1

    def _watch(self) -> None:
        planned_types = {
            DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
            DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED,
        }
        last = -1
        while not self._stop.wait(self.interval):
            try:
                run_id = self._current_run_id()
                if run_id is None:
                    continue
                if self.instance.all_logs(run_id, of_type=DagsterEventType.STEP_START):
                    return  # the steps report their own progress from here
                planned = len(self.instance.all_logs(run_id, of_type=planned_types))
                if planned != last:
                    self._write(f"    planning the run: {planned:,} planned asset and check events recorded so far")
                    last = planned
            except Exception:  # progress is a courtesy: never disturb the run
                continue
