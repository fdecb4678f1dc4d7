"""Write raw tables exactly as the contract describes them, as CSV or Parquet.

Generators hand columns over as numpy arrays in the internal representation:

| contract type | internal value | null |
|---|---|---|
| string | ``pyarrow`` string array, or numpy str/object array | ``None`` (or arrow null) |
| timestamp | int64 seconds since 1970-01-01 UTC | ``clock.NULL`` |
| date | int64 days since 1970-01-01 | ``clock.NULL`` |
| decimal | int64 cents | (never null) |
| integer | int64 | ``clock.NULL`` |
| boolean | bool | (never null) |

CSV: header row, UTF-8, comma separated, strings quoted, null = empty unquoted field,
timestamps ``2025-03-01T14:05:00Z``, dates ``2025-03-01``, booleans ``true``/``false``,
decimals with a dot and two decimals. Parquet: string, int64, decimal128(18, 2),
timestamp[us, tz=UTC], date32, bool; zstd compression.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..contract import Column, Table, file_stem
from .clock import NULL

PARQUET_TYPES = {
    "string": pa.string(),
    "integer": pa.int64(),
    "decimal": pa.decimal128(18, 2),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
}
CSV_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
FORMATS = ("csv", "parquet")


def _decimal_from_cents(cents: np.ndarray) -> pa.Array:
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    if cents.size and cents.min() < 0:
        raise ValueError("negative amounts are not written by the generator")
    words = np.zeros((cents.size, 2), dtype=np.int64)  # little-endian 128-bit, high word 0
    words[:, 0] = cents
    return pa.Array.from_buffers(pa.decimal128(18, 2), cents.size, [None, pa.py_buffer(words.tobytes())])


def to_arrow(col: Column, values: Any, fmt: str) -> pa.Array:
    """Convert one internal column to the Arrow array written for ``fmt``."""
    t = col.type
    if t == "string":
        arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values, type=pa.string())
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        arr = arr.cast(pa.string())
    elif t in ("timestamp", "date", "integer"):
        v = np.asarray(values, dtype=np.int64)
        mask = v == NULL
        if t == "integer":
            arr = pa.array(v, type=pa.int64(), mask=mask if mask.any() else None)
        elif t == "date":
            arr = pa.array(np.where(mask, 0, v).astype(np.int32), type=pa.int32(),
                           mask=mask if mask.any() else None).cast(pa.date32())
        else:
            secs = pa.array(np.where(mask, 0, v), type=pa.int64(), mask=mask if mask.any() else None)
            if fmt == "csv":
                arr = pc.strftime(secs.cast(pa.timestamp("s")), format=CSV_TIMESTAMP_FORMAT)
            else:
                arr = pc.multiply(secs, 1_000_000).cast(pa.timestamp("us", tz="UTC"))
    elif t == "decimal":
        arr = _decimal_from_cents(np.asarray(values))
    elif t == "boolean":
        arr = pa.array(np.asarray(values, dtype=bool), type=pa.bool_())
    else:  # pragma: no cover - contract guards the type list
        raise ValueError(f"unknown type {t}")
    if not col.nullable and arr.null_count:
        raise ValueError(f"generator bug: {col.name} has {arr.null_count} nulls but is not nullable")
    return arr


class TableSink:
    """Streams one raw table to ``<out_dir>/<system>__<name>.<csv|parquet>`` in chunks."""

    def __init__(self, table: Table, out_dir: Path, fmt: str, row_group_size: int = 1_000_000):
        if fmt not in FORMATS:
            raise ValueError(f"file_format must be one of {FORMATS}, got {fmt!r}")
        self.table = table
        self.fmt = fmt
        self.path = Path(out_dir) / f"{file_stem(table)}.{fmt}"
        self.rows = 0
        self.row_group_size = row_group_size
        fields = []
        for c in table.columns:
            typ = PARQUET_TYPES[c.type]
            if fmt == "csv" and c.type == "timestamp":
                typ = pa.string()
            fields.append(pa.field(c.name, typ, nullable=True))
        self.schema = pa.schema(fields)
        self._writer = None

    def _open(self):
        if self.fmt == "parquet":
            self._writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        else:
            self._writer = pacsv.CSVWriter(self.path, self.schema,
                                           write_options=pacsv.WriteOptions(quoting_style="needed"))

    def write(self, columns: Mapping[str, Any]) -> None:
        names = self.table.column_names
        missing = set(names) - set(columns)
        extra = set(columns) - set(names)
        if missing or extra:
            raise ValueError(f"{self.table.qualified_name}: missing {sorted(missing)} extra {sorted(extra)}")
        arrays = [to_arrow(c, columns[c.name], self.fmt) for c in self.table.columns]
        n = len(arrays[0])
        if any(len(a) != n for a in arrays):
            raise ValueError(f"{self.table.qualified_name}: columns of different lengths")
        if self._writer is None:
            self._open()
        batch = pa.Table.from_arrays(arrays, schema=self.schema)
        if self.fmt == "parquet":
            self._writer.write_table(batch, row_group_size=self.row_group_size)
        else:
            self._writer.write_table(batch)
        self.rows += n

    def close(self) -> int:
        if self._writer is None:  # an empty table still gets a file with the right columns
            self._open()
            if self.fmt == "parquet":
                self._writer.write_table(self.schema.empty_table())
        self._writer.close()
        return self.rows


def write_table(table: Table, out_dir: Path, fmt: str, columns: Mapping[str, Any]) -> int:
    sink = TableSink(table, out_dir, fmt)
    sink.write(columns)
    return sink.close()


def make_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded number, built in Arrow (fast for tens of millions of ids)."""
    nums = pa.array(np.asarray(numbers, dtype=np.int64))
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(pc.cast(nums, pa.string()), width, "0"), "")
