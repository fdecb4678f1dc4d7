"""Readable progress for ``churnguard build``: dbt's JSON log events as short lines.

dbt's own console output is one START and one result line per node (about 2,000 lines for
the project's models and tests) with ANSI colours. `DbtProgress` reads dbt's structured log
(``--log-format json``) and prints, in the form ``churnguard run`` uses:

    [02:00:02] ==> dbt build --select marts
    [02:00:04]     1,071 nodes, 2 threads
    [02:00:05]       reference.health_tiers  seed  0.5s
    [02:00:31]       marts.fct_customer_day  incremental  25.8s
    [02:00:40] !     test failed: not_null_health_scores_customer_id (3 rows) on health_scores
    [02:01:10]     dbt build done in 66.1s: 74 models, 12 seeds, 985 tests passed, 1 failed

Tests that pass are counted, not listed (a line every 200); failures, warnings and errors are printed with
dbt's message. dbt's full log stays in ``dbt_project/logs/dbt.log``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

_RESULTS = {"LogModelResult", "LogSeedResult", "LogSnapshotResult"}
_FAILED = {"error", "fail", "skipped", "runtime error"}
TESTS_PER_LINE = 200


@dataclass
class DbtProgress:
    """Turns dbt JSON log lines into progress lines; `summary` after dbt exits."""

    stream: TextIO | None = None
    started: float = field(default_factory=time.monotonic)
    built: dict[str, int] = field(default_factory=dict)  # resource type -> count
    tests_passed: int = 0
    tests_failed: int = 0
    tests_warned: int = 0
    errors: list[str] = field(default_factory=list)
    stats: str = ""

    def _write(self, text: str) -> None:
        stream = self.stream or sys.stdout
        stream.write(f"[{time.strftime('%H:%M:%S')}] {text}\n")
        stream.flush()

    def feed(self, line: str) -> None:
        """One line of dbt's output (JSON; other lines are ignored: they are in dbt.log)."""
        line = line.strip()
        if not line.startswith("{"):
            return
        try:
            event = json.loads(line)
            info, data = event["info"], event.get("data") or {}
        except (ValueError, KeyError, TypeError):
            return
        text = self.format(info.get("name", ""), info, data)
        if text:
            self._write(text)

    def format(self, name: str, info: dict, data: dict) -> str | None:
        node = data.get("node_info") or {}
        if name == "ConcurrencyLine":
            return f"    {data.get('node_count', 0):,} nodes, {data.get('num_threads')} threads"
        if name in _RESULTS:
            relation = node.get("node_relation") or {}
            label = ".".join(p for p in (relation.get("schema"), relation.get("alias") or node.get("node_name")) if p)
            status = str(data.get("status", "")).lower()
            kind = node.get("materialized") or node.get("resource_type") or ""
            seconds = float(data.get("execution_time") or 0)
            if status in _FAILED or node.get("node_status") == "error":
                message = info.get("msg", "").strip()
                self.errors.append(message)
                return f"!!!   {label} {kind} FAILED: {message}"
            resource = node.get("resource_type") or "model"
            self.built[resource] = self.built.get(resource, 0) + 1
            return f"      {label}  {kind}  {seconds:.1f}s"
        if name == "LogTestResult":
            status = str(data.get("status", "")).lower()
            if status == "pass":
                self.tests_passed += 1
                if self.tests_passed % TESTS_PER_LINE == 0:  # a sign of life during long test runs
                    return f"      {self.tests_passed:,} tests passed so far"
                return None
            attached = str(data.get("attached_node") or "").split(".")[-1]
            failures = data.get("num_failures")
            where = f" on {attached}" if attached else ""
            rows = f" ({failures:,} rows)" if isinstance(failures, int) and failures else ""
            if status == "warn":
                self.tests_warned += 1
                return f"!     test warned: {data.get('name')}{rows}{where}"
            self.tests_failed += 1
            self.errors.append(f"test {data.get('name')}: {status}{rows}")
            return f"!     test {'failed' if status == 'fail' else status}: {data.get('name')}{rows}{where}"
        if name == "StatsLine":
            stats = data.get("stats") or {}
            self.stats = " ".join(f"{k.upper()}={stats.get(k, 0)}" for k in ("pass", "warn", "error", "skip", "total"))
            return None
        if info.get("level") == "error" and name not in ("RunResultError", "RunResultErrorNoMessage"):
            message = info.get("msg", "").strip()
            if message:
                self.errors.append(message)
                return f"!!!   {message}"
        if name in ("RunResultError",):
            message = info.get("msg", "").strip()
            return f"!!!   {message}" if message else None
        return None

    def summary(self, returncode: int) -> str:
        parts = [f"{n:,} {kind}{'' if n == 1 else 's'}" for kind, n in sorted(self.built.items())]
        parts.append(f"{self.tests_passed:,} tests passed")
        if self.tests_warned:
            parts.append(f"{self.tests_warned:,} warned")
        parts.append(f"{self.tests_failed:,} failed")
        verdict = "done" if returncode == 0 else f"FAILED (exit {returncode})"
        line = f"    dbt {verdict} in {time.monotonic() - self.started:.1f}s: {', '.join(parts)}"
        return line + (f"  [{self.stats}]" if self.stats else "")

    def start(self, command: str) -> None:
        self._write(f"==> dbt {command}")

    def finish(self, returncode: int) -> None:
        self._write(self.summary(returncode))


__all__ = ["DbtProgress"]
