"""Files destination: CSV and Parquet for CRM imports, written atomically.

In ``directory`` (relative paths are under the warehouse folder; default
``deliveries/alerts``), for each format in ``formats`` (default ``[csv, parquet]``):

- ``<basename>.<ext>``: the full current alert list (open alerts), replaced on every sync
  that has changes (or when the file is missing);
- ``changes/<basename>_changes_<UTC time>_<run>.<ext>``: the changes of one sync (new,
  updated, closed alerts, column ``action``), only when there are any.

``basename`` defaults to ``alert_list``. Every file is written to a temporary file in the
same folder, flushed and fsynced, then renamed over the target (``os.replace``, atomic on
POSIX): a reader sees the old file or the new one, never a partial one, and a failed sync
leaves the previous files untouched. Lists (reasons) are joined with ``;``.

**Spreadsheet formulas are neutralised in CSV files**: a text cell starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return (a customer named ``=HYPERLINK(...)``) is
written with a leading ``'``, so Excel, LibreOffice and Google Sheets show it as text
instead of evaluating it. Plain numbers (``-5``) are left alone. Parquet keeps the values
as they are (typed columns, no formula evaluation).
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from churnguard.delivery.config import Destination
from churnguard.delivery.destinations.base import Change, DestinationUnavailable, Sink
from churnguard.delivery.payload import flat_record

FORMATS = ("csv", "parquet")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def neutralise_formula(text: str) -> str:
    """``text`` safe to open in a spreadsheet: a leading formula character is escaped with ``'``."""
    if text.startswith(FORMULA_PREFIXES) and not _NUMBER.match(text):
        return "'" + text
    return text


def atomic_write(target: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` for a temporary file next to ``target``, then rename it over."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _arrow_type(column: str):
    import pyarrow as pa

    return pa.int64() if column == "health_score" else pa.string()


def write_table(path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str], file_format: str) -> None:
    """Write ``rows`` (payloads) with exactly ``columns``, atomically, as CSV or Parquet."""
    records = [flat_record(r) for r in rows]

    def value(record: dict[str, Any], column: str) -> Any:
        item = record.get(column)
        if item is None or column == "health_score":
            return item
        return str(item).lower() if isinstance(item, bool) else str(item)

    def write(tmp: Path) -> None:
        if file_format == "csv":
            with open(tmp, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(columns)
                for record in records:
                    writer.writerow(["" if (v := value(record, c)) is None else
                                     neutralise_formula(v) if isinstance(v, str) else v for c in columns])
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            schema = pa.schema([(c, _arrow_type(c)) for c in columns])
            table = pa.Table.from_pylist([{c: value(r, c) for c in columns} for r in records], schema=schema)
            pq.write_table(table, tmp)

    atomic_write(path, write)


class FilesDestination:
    def __init__(self, destination: Destination, *, base_dir: Path, run_id: str, fields: Sequence[str]) -> None:
        self.destination = destination
        directory = Path(str(destination.option("directory", "deliveries/alerts"))).expanduser()
        self.directory = directory if directory.is_absolute() else (base_dir / directory)
        formats = destination.option("formats", list(FORMATS))
        if isinstance(formats, str):
            formats = [formats]
        bad = [f for f in formats if f not in FORMATS]
        if bad or not formats:
            raise ValueError(f"destination {destination.name}: formats={formats!r}, use {', '.join(FORMATS)}")
        self.formats = list(formats)
        self.basename = str(destination.option("basename", "alert_list"))
        self.run_id = run_id
        self.fields = list(fields)

    def snapshot_paths(self) -> list[Path]:
        return [self.directory / f"{self.basename}.{ext}" for ext in self.formats]

    def deliver(self, changes: Sequence[Change], sink: Sink, current: Sequence[dict[str, Any]] | None) -> None:
        """Write the changes file and the snapshot (``current``; None keeps the snapshot)."""
        missing = current is not None and any(not p.exists() for p in self.snapshot_paths())
        if not changes and not missing:
            return
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        try:
            if changes:
                rows = [{**c.payload, "action": c.action, "idempotency_key": c.idempotency_key} for c in changes]
                for ext in self.formats:
                    path = self.directory / "changes" / f"{self.basename}_changes_{stamp}_{self.run_id[:8]}.{ext}"
                    write_table(path, rows, [*self.fields, "action", "idempotency_key"], ext)
            if current is not None:
                snapshot = sorted(current, key=lambda p: str(p.get("alert_id")))
                for path, ext in zip(self.snapshot_paths(), self.formats):
                    write_table(path, snapshot, self.fields, ext)
        except OSError as error:
            raise DestinationUnavailable(f"{self.destination.name}: cannot write {self.directory}: {error}") from None
        sink.delivered(changes)
