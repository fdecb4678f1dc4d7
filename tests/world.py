"""Hand-made raw worlds: a few rows per table, written as a CSV export the loader reads.

`write_world(folder, tables)` writes one `<system>__<table>.csv` per table of the
contract; tables not given are written with their header only (no data), unless
``omit`` names them (then no file at all). Columns a row leaves out are empty, and
`_synced_at` defaults to the row's event time (or a fixed instant)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterable

from churnguard.contract import TABLES

DEFAULT_SYNCED_AT = "2025-01-01T00:00:00Z"


def write_world(folder: Path, tables: dict[str, list[dict]], omit: Iterable[str] = ()) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    known = {table.qualified_name: table for table in TABLES}
    unknown = set(tables) - set(known)
    assert not unknown, f"not tables of the contract: {unknown}"
    for name, table in known.items():
        if name in omit:
            continue
        rows = tables.get(name, [])
        columns = table.column_names
        path = folder / f"{table.system}__{table.name}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            for row in rows:
                extra = set(row) - set(columns)
                assert not extra, f"{name}: unknown columns {extra}"
                values = dict(row)
                if "_synced_at" not in values:
                    event = table.event_time_column
                    values["_synced_at"] = values.get(event) if event and values.get(event) else DEFAULT_SYNCED_AT
                writer.writerow(["" if values.get(c) is None else values.get(c, "") for c in columns])
    return folder
