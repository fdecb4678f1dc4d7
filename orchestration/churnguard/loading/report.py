"""Result and error types of a raw-data load: `Problem`, `LoadError`, `LoadReport`.

Row numbers: a `Problem` carries the rows as a person finds them in the file:

- CSV: ``line N``, the physical line in the (decompressed) file, the header being
  line 1, so the first data row is line 2 and a quoted field spanning several
  lines moves the following rows down, exactly as in an editor or ``sed -n Np``.
- Parquet: ``row index N``, the 0-based position of the row in that file, as
  ``pandas.read_parquet(f).iloc[N]`` or ``pyarrow`` ``table.slice(N, 1)`` shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

MAX_EXAMPLES = 5  # example rows listed per problem; `Problem.row_count` has the total
_MAX_VALUE_CHARS = 60

LINE = "line"
ROW_INDEX = "row index"


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def visible(text: str) -> str:
    """``text`` with control characters (ESC, NUL, C1 controls, line breaks, bidi overrides)
    written as escapes, so a value in a message cannot move the cursor or recolour the terminal."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in _NAMED:
            out.append(_NAMED[ch])
        elif code < 0x20 or code == 0x7F or 0x80 <= code < 0xA0:
            out.append(f"\\x{code:02x}")
        elif 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def show_value(value: object) -> str:
    """A sample value as it appears in a message: quoted, shortened, control characters escaped."""
    if value is None:
        return "null"
    text = visible(str(value))
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 1] + "…"
    return f"'{text}'"


@dataclass
class Problem:
    """One thing wrong with the input, precise enough to fix without a debugger.

    ``rows`` holds at most `MAX_EXAMPLES` example rows (numbered per ``row_label``:
    ``"line"`` for CSV, header = line 1; ``"row index"`` for Parquet, 0-based);
    ``row_count`` is how many rows break the rule in total (0 when the problem is
    not about rows, e.g. a missing column). ``values`` are the offending values of
    the example rows, in the same order, when that makes sense.
    """

    rule: str
    message: str
    file: str | None = None  # path relative to the source folder, e.g. "crm__accounts.csv"
    table: str | None = None  # "crm.accounts"
    column: str | None = None
    rows: list[int] = field(default_factory=list)
    row_count: int = 0
    row_label: str = LINE
    values: list[str] = field(default_factory=list)
    list_rows: bool = True  # False when the message already names the rows (duplicate keys)

    @property
    def where(self) -> str:
        parts = [self.file or (self.table or "load")]
        if self.column:
            parts.append(f"column {self.column}")
        return ", ".join(parts)

    def rows_text(self) -> str:
        if not self.rows or not self.list_rows:
            return ""
        if self.values and len(self.values) == len(self.rows):
            items = [f"{self.row_label} {r} {v}" for r, v in zip(self.rows, self.values)]
        else:
            items = [f"{self.row_label} {r}" for r in self.rows]
        total = max(self.row_count, len(self.rows))
        noun = "row" if total == 1 else "rows"
        head = f"{total} {noun}" if total <= len(self.rows) else f"{total} {noun}, first {len(self.rows)}"
        return f" ({head}: {', '.join(items)})"

    def __str__(self) -> str:
        return visible(f"{self.where}: {self.message}{self.rows_text()} [{self.rule}]")


class LoadError(Exception):
    """The raw files were rejected; nothing was written to the warehouse.

    ``problems`` lists every problem found (not just the first); ``str()`` is a
    readable multi-line report. ``warnings`` are the non-blocking findings.
    """

    def __init__(self, problems: list[Problem], warnings: list[str] | None = None,
                 source_dir: Path | None = None, written: bool = False):
        self.problems = list(problems)
        self.warnings = list(warnings or [])
        self.source_dir = source_dir
        self.written = written  # True: the failure happened while writing (and was rolled back)
        super().__init__(self._text(written))

    def __reduce__(self):  # picklable (e.g. across Dagster process boundaries)
        return (type(self), (self.problems, self.warnings, self.source_dir, self.written))

    def _text(self, written: bool) -> str:
        n = len(self.problems)
        src = f" of {self.source_dir}" if self.source_dir else ""
        tail = "the warehouse is unchanged" if not written else "the write was rolled back; the warehouse is unchanged"
        lines = [f"Load{src} rejected: {n} problem{'s' if n != 1 else ''}; {tail}."]
        lines += [f"  - {p}" for p in self.problems]
        if self.warnings:
            lines.append("Warnings:")
            lines += [f"  - {w}" for w in self.warnings]
        return "\n".join(lines)


@dataclass
class TableLoad:
    table: str  # "crm.accounts"
    relation: str  # "raw_crm.accounts" in the warehouse
    source: str  # "crm__accounts.csv" or "crm__logins/" (a folder of parts)
    format: str  # "csv" | "parquet"
    files: list[str]
    rows: int


@dataclass
class LoadReport:
    source_dir: Path
    warehouse: Path
    load_id: str
    loaded_at: datetime  # UTC, naive
    tables: dict[str, TableLoad]  # by qualified name, contract order
    warnings: list[str]
    duration_seconds: float

    @property
    def total_rows(self) -> int:
        return sum(t.rows for t in self.tables.values())

    def row_counts(self) -> dict[str, int]:
        return {name: t.rows for name, t in self.tables.items()}

    def format(self) -> str:
        lines = [
            f"Loaded {len(self.tables)} raw tables, {self.total_rows:,} rows, from {self.source_dir} "
            f"into {self.warehouse} in {self.duration_seconds:.1f} s (load {self.load_id}).",
        ]
        width = max((len(t.relation) for t in self.tables.values()), default=0)
        for t in self.tables.values():
            lines.append(f"  {t.relation:<{width}}  {t.rows:>12,} rows  {t.source}")
        if self.warnings:
            lines.append(f"Warnings ({len(self.warnings)}):")
            lines += [f"  - {w}" for w in self.warnings]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()
