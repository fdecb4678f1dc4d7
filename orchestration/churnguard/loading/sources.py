"""Read raw files into the scratch DuckDB connection, without judging values yet.

CSV: every column is read as text (``all_varchar``, explicit column list taken from
the header, no sniffing), so a bad value is reported by the checks with its line
instead of aborting the read. Malformed lines (wrong number of fields, broken
quoting, invalid UTF-8) are collected with DuckDB's ``store_rejects`` and become
problems naming the line. Each CSV file is materialised into one scratch table, so
its ``rowid`` is the data row's position in the file (insertion order is preserved).

Every CSV file is first scanned as bytes (`scan_lines`, vectorised with numpy): a NUL byte
(a truncated or zero-padded file) and a physical line longer than `MAX_LINE_BYTES` reject
the file with the line's number, before DuckDB reads it (DuckDB silently drops lines of
~31 MiB and more). After staging, the lines DuckDB read (rows, their embedded line breaks,
blank lines, the header) must add up to the lines of the file; otherwise the file is
counted again with Python's csv module and a difference is a problem naming the line. The
row count a load reports is therefore the number of data rows in the file.

Parquet: files are not copied; a view over ``read_parquet(..., file_row_number=true)``
is checked and later written straight to the warehouse, which keeps memory flat for
tens of millions of rows.

Each table becomes a view ``src_<n>`` with ``__file`` (the path), ``__rid`` (0-based
position of the row among the rows read from that file) and the contract columns
present in the file(s), with their source names.
"""

from __future__ import annotations

import csv
import gzip
import io
import sys
from dataclasses import dataclass, field
from typing import BinaryIO

import duckdb
import numpy as np

from churnguard.contract import Table

from .discovery import SourceFile, TableSource
from .parsing import quote_ident, sql_str
from .report import LINE, MAX_EXAMPLES, ROW_INDEX, Problem, show_value

_HEADER_LIMIT = 1 << 20
_CHUNK = 1 << 22
MAX_LINE_BYTES = 2 << 20
"""Longest physical CSV line accepted (2 MiB, DuckDB's own default ``max_line_size``)."""

REJECT_MESSAGES = {
    "UNQUOTED VALUE": "malformed quoting (a quote inside an unquoted field, or a quoted field never closed)",
    "INVALID ENCODING": "not valid UTF-8 (save the file as UTF-8)",
    "LINE SIZE OVER MAXIMUM": "line longer than the maximum line size",
    "INVALID STATE": "malformed CSV line",
}


def _open_bytes(sf: SourceFile) -> BinaryIO:
    return gzip.open(sf.path, "rb") if sf.compressed else open(sf.path, "rb")


def physical_lines(sf: SourceFile, offsets: list[int]) -> dict[int, int]:
    """Byte offsets in the (decompressed) file -> 1-based physical line numbers."""
    want = sorted(set(offsets))
    out: dict[int, int] = {}
    if not want:
        return out
    newlines = 0
    pos = 0
    i = 0
    with _open_bytes(sf) as f:
        while i < len(want):
            chunk = f.read(_CHUNK)
            if not chunk:
                break
            end = pos + len(chunk)
            at = 0  # position in chunk up to which newlines are counted
            while i < len(want) and want[i] < end:
                newlines += chunk.count(b"\n", at, want[i] - pos)
                at = want[i] - pos
                out[want[i]] = newlines + 1
                i += 1
            newlines += chunk.count(b"\n", at)
            pos = end
    for o in want[i:]:
        out[o] = newlines + 1
    return out


def invalid_utf8(sf: SourceFile, lines: set[int]) -> dict[int, tuple[int, str]]:
    """For the given physical lines: (byte offset of the first invalid UTF-8 byte, the line shown safely)."""
    out: dict[int, tuple[int, str]] = {}
    last = max(lines, default=0)
    offset = 0
    with _open_bytes(sf) as f:
        for n, raw in enumerate(f, start=1):
            if n in lines:
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    out[n] = (offset + e.start, raw.decode("utf-8", "backslashreplace").rstrip("\r\n"))
            if n >= last:
                break
            offset += len(raw)
    return out


def _has_blank_line(sf: SourceFile) -> bool:
    tail = b""
    with _open_bytes(sf) as f:
        while True:
            chunk = f.read(_CHUNK)
            if not chunk:
                return False
            buf = tail + chunk
            if b"\n\n" in buf or b"\n\r\n" in buf:
                return True
            tail = buf[-2:]


@dataclass
class LineScan:
    """What a byte-level pass over a CSV file found (line numbers are 1-based, header = 1)."""

    lines: int = 0  # physical lines, an unterminated last line included
    blank: int = 0  # empty lines (DuckDB skips them)
    nul_line: int | None = None  # line of the first NUL byte
    nul_offset: int | None = None
    long_lines: list[tuple[int, int]] = field(default_factory=list)  # (line, bytes), first MAX_EXAMPLES
    long_count: int = 0
    longest: tuple[int, int] = (0, 0)  # (bytes, line)


def scan_lines(sf: SourceFile, max_line: int = MAX_LINE_BYTES) -> LineScan:
    """Count lines, blank lines, NUL bytes and over-long lines of ``sf`` in one streaming pass."""
    scan = LineScan()
    pos = 0  # offset of the chunk in the file
    line_start = 0  # offset where the current line starts
    with _open_bytes(sf) as f:
        while True:
            chunk = f.read(_CHUNK)
            if not chunk:
                break
            if scan.nul_offset is None:
                k = chunk.find(b"\0")
                if k >= 0:
                    scan.nul_offset = pos + k
                    scan.nul_line = scan.lines + chunk.count(b"\n", 0, k) + 1
            data = np.frombuffer(chunk, dtype=np.uint8)
            ends = np.flatnonzero(data == 10)
            if ends.size:
                starts = np.empty_like(ends)
                starts[0] = line_start - pos
                starts[1:] = ends[:-1] + 1
                lengths = ends - starts
                content = lengths.copy()
                cr = ends > 0
                content[cr] -= data[ends[cr] - 1] == 13  # "\r\n": the \r is not content
                scan.blank += int(np.count_nonzero(content == 0))
                over = np.flatnonzero(lengths > max_line)
                if over.size:
                    scan.long_count += int(over.size)
                    room = max(0, MAX_EXAMPLES - len(scan.long_lines))
                    scan.long_lines += [(scan.lines + int(i) + 1, int(lengths[i])) for i in over[:room]]
                i = int(lengths.argmax())
                if lengths[i] > scan.longest[0]:
                    scan.longest = (int(lengths[i]), scan.lines + i + 1)
                scan.lines += int(ends.size)
                line_start = pos + int(ends[-1]) + 1
            pos += len(chunk)
    tail = pos - line_start
    if tail:
        scan.lines += 1
        if tail > max_line:
            scan.long_count += 1
            if len(scan.long_lines) < MAX_EXAMPLES:
                scan.long_lines.append((scan.lines, tail))
        if tail > scan.longest[0]:
            scan.longest = (tail, scan.lines)
    return scan


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n:,} bytes"


def count_csv_records(sf: SourceFile) -> int:
    """Data records of ``sf`` per Python's csv module (header and blank lines not counted)."""
    csv.field_size_limit(sys.maxsize)
    with _open_bytes(sf) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
        records = sum(1 for rec in csv.reader(text) if rec)
    return max(0, records - 1)


@dataclass
class CsvLines:
    """Maps a CSV data row (0-based position among the rows DuckDB accepted) to its line.

    Fast path (no malformed lines, no blank lines, no line breaks inside quoted
    fields): line = position + 2. Otherwise the file is re-read with Python's csv
    module up to the last row asked for, counting physical lines; only done when an
    error has to be reported.
    """

    con: duckdb.DuckDBPyConnection
    sf: SourceFile
    stage: str
    rejects: str
    ncols: int
    _fast: bool | None = None
    _cache: dict[int, int] = field(default_factory=dict)

    def _is_fast(self) -> bool:
        if self._fast is None:
            n_rej = self.con.execute(f"SELECT count(*) FROM {self.rejects}").fetchone()[0]
            cond = " OR ".join(f"contains(c{i}, chr(10)) OR contains(c{i}, chr(13))" for i in range(self.ncols))
            multi = self.con.execute(f"SELECT 1 FROM {self.stage} WHERE {cond} LIMIT 1").fetchone() is not None
            self._fast = not n_rej and not multi and not _has_blank_line(self.sf)
        return self._fast

    def lines(self, rids: list[int]) -> list[int]:
        if self._is_fast():
            return [r + 2 for r in rids]
        need = sorted({r for r in rids if r not in self._cache})
        if need:
            self._scan(need)
        return [self._cache.get(r, r + 2) for r in rids]

    def _rejected_lines(self) -> set[int]:
        offs = [r[0] for r in self.con.execute(
            f"SELECT DISTINCT line_byte_position FROM {self.rejects} WHERE line_byte_position IS NOT NULL").fetchall()]
        return set(physical_lines(self.sf, offs).values())

    def _scan(self, need: list[int]) -> None:
        rejected = self._rejected_lines()
        csv.field_size_limit(sys.maxsize)
        with _open_bytes(self.sf) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
            reader = csv.reader(text)
            try:
                next(reader)
            except StopIteration:
                return
            prev_end = reader.line_num
            rid = -1
            i = 0
            for rec in reader:
                start = prev_end + 1
                prev_end = reader.line_num
                if not rec or start in rejected or len(rec) != self.ncols:
                    continue
                rid += 1
                if rid == need[i]:
                    self._cache[rid] = start
                    i += 1
                    if i == len(need):
                        return


@dataclass
class StagedFile:
    source: SourceFile
    key: str  # value of __file in the views
    columns: dict[str, str]  # name in the file -> DuckDB type
    rows: int = 0
    rejected: int = 0  # CSV lines DuckDB could not parse (reported as problems, not staged)
    stage: str | None = None  # CSV: scratch table
    internal: dict[str, str] = field(default_factory=dict)  # CSV: column name -> stage column
    lines: CsvLines | None = None

    @property
    def row_label(self) -> str:
        return LINE if self.source.format == "csv" else ROW_INDEX

    def display_rows(self, rids: list[int]) -> list[int]:
        if self.lines is not None:
            return self.lines.lines(rids)
        return list(rids)


@dataclass
class StagedTable:
    table: Table
    source: TableSource
    files: list[StagedFile]
    view: str  # scratch view: __file, __rid, contract columns present
    types: dict[str, str]  # contract column present in the view -> DuckDB type
    broken: set[str] = field(default_factory=set)  # required columns missing from some file
    parses: dict = field(default_factory=dict)  # contract column -> parsing.ColumnParse, set by the checks
    typed: str | None = None  # SELECT list of typed contract columns over `view`, set by the checks

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def incomplete(self) -> bool:
        """Some lines could not be parsed, so its keys are not all known (skip references to it)."""
        return any(f.rejected for f in self.files)

    def file(self, key: str) -> StagedFile:
        for f in self.files:
            if f.key == key:
                return f
        raise KeyError(key)


class Stager:
    """Stages tables into the scratch connection, collecting problems and warnings."""

    def __init__(self, con: duckdb.DuckDBPyConnection, problems: list[Problem], warnings: list[str]):
        self.con = con
        self.problems = problems
        self.warnings = warnings
        self._n = 0

    def _name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n}"

    # ------------------------------------------------------------------ table
    def stage(self, src: TableSource) -> StagedTable | None:
        t = src.table
        files: list[StagedFile] = []
        ok = True
        for sf in src.files:
            staged = self._stage_csv(t, sf) if sf.format == "csv" else self._stage_parquet(t, sf)
            if staged is None:
                ok = False
            else:
                files.append(staged)
        if not ok or not files:
            return None

        contract = t.column_names
        present = [c for c in contract if any(c in f.columns for f in files)]
        broken: set[str] = set()
        for f in files:
            cols = set(f.columns)
            extras = [c for c in f.columns if c not in contract]
            for col in t.columns:
                if col.name in cols:
                    continue
                if col.required or not col.nullable:
                    broken.add(col.name)
                    hint = [e for e in extras if e.strip().lower() == col.name.lower()]
                    why = f"; found {hint[0]!r} (names are case-sensitive)" if hint else ""
                    self.problems.append(Problem(
                        "missing_column",
                        f"missing required column {col.name!r}{why} (columns in the file: "
                        f"{', '.join(f.columns) or 'none'})",
                        file=f.source.rel, table=t.qualified_name, column=col.name))
                elif col.name in present:
                    self.warnings.append(f"{f.source.rel}: optional column {col.name!r} absent; "
                                         f"its rows load it as null")
            if extras:
                self.warnings.append(
                    f"{f.source.rel}: column{'s' if len(extras) > 1 else ''} not in the contract ignored "
                    f"(not loaded): {', '.join(repr(e) for e in extras)}")
        for col in t.columns:
            if col.name not in present and not (col.required or not col.nullable):
                self.warnings.append(f"{src.entry}: optional column {col.name!r} absent; loaded as null")

        view = self._name("src")
        try:
            if src.format == "csv":
                branches = []
                for f in files:
                    cols = ", ".join(
                        f"{f.internal[c]} AS {quote_ident(c)}" if c in f.internal else f"CAST(NULL AS VARCHAR) AS {quote_ident(c)}"
                        for c in present)
                    branches.append(f"SELECT {sql_str(f.key)} AS __file, rowid AS __rid"
                                    f"{', ' if cols else ''}{cols} FROM {f.stage}")
                self.con.execute(f"CREATE VIEW {view} AS " + "\nUNION ALL\n".join(branches))
            else:
                paths = "[" + ", ".join(sql_str(f.key) for f in files) + "]"
                cols = ", ".join(quote_ident(c) for c in present)
                self.con.execute(
                    f"CREATE VIEW {view} AS SELECT filename AS __file, file_row_number AS __rid"
                    f"{', ' if cols else ''}{cols} FROM read_parquet({paths}, filename=true, "
                    f"file_row_number=true, union_by_name=true)")
            types = {r[0]: r[1] for r in self.con.execute(f"DESCRIBE {view}").fetchall()
                     if r[0] not in ("__file", "__rid")}
        except duckdb.Error as e:
            detail = "; ".join(f"{f.source.rel}: " + ", ".join(f"{c} {f.columns[c]}" for c in present if c in f.columns)
                               for f in files)
            self.problems.append(Problem(
                "unreadable", f"cannot combine the part files into one table: {_short(e)} ({detail})",
                file=src.entry, table=t.qualified_name))
            return None
        return StagedTable(t, src, files, view, types, broken)

    # -------------------------------------------------------------------- csv
    def _stage_csv(self, t: Table, sf: SourceFile) -> StagedFile | None:
        qn = t.qualified_name
        if not self._nonempty(t, sf):
            return None
        header = self._read_header(t, sf)
        if header is None:
            return None
        seen: dict[str, int] = {}
        for i, name in enumerate(header):
            if name in seen:
                self.problems.append(Problem(
                    "duplicate_column",
                    f"column {name!r} appears twice in the header (columns {seen[name] + 1} and {i + 1})",
                    file=sf.rel, table=qn, column=name, rows=[1], row_count=1))
                return None
            seen[name] = i
        scan = scan_lines(sf)
        if not self._scan_ok(t, sf, scan):
            return None
        stage = self._name("stg")
        rejects = self._name("rej")
        cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header))) + "}"
        try:
            self.con.execute(
                f"CREATE TABLE {stage} AS SELECT * FROM read_csv({sql_str(str(sf.path))}, header=true, "
                f"auto_detect=false, columns={cols}, delim=',', quote='\"', escape='\"', "
                f"strict_mode=true, null_padding=false, max_line_size={MAX_LINE_BYTES}, store_rejects=true, rejects_table='{rejects}', "
                f"rejects_scan='{rejects}_scan', compression='{'gzip' if sf.compressed else 'none'}')")
            rows = self.con.execute(f"SELECT count(*) FROM {stage}").fetchone()[0]
        except duckdb.Error as e:
            self.problems.append(Problem("unreadable", f"cannot read the CSV file: {_short(e)}",
                                         file=sf.rel, table=qn))
            return None
        except (OSError, EOFError) as e:
            self.problems.append(Problem("unreadable", f"cannot read the file: {e}", file=sf.rel, table=qn))
            return None
        staged = StagedFile(sf, str(sf.path), {h: "VARCHAR" for h in header}, rows=rows, stage=stage,
                            internal={h: f"c{i}" for i, h in enumerate(header)})
        staged.lines = CsvLines(self.con, sf, stage, rejects, len(header))
        staged.rejected = self._report_rejects(t, sf, rejects, len(header))
        if not staged.rejected and not self._all_rows_read(t, sf, scan, stage, len(header), rows):
            return None
        return staged

    def _scan_ok(self, t: Table, sf: SourceFile, scan: LineScan) -> bool:
        qn = t.qualified_name
        ok = True
        if scan.nul_line is not None:
            self.problems.append(Problem(
                "nul_bytes",
                f"NUL byte at byte offset {scan.nul_offset} (CSV text never contains NUL bytes: the file is "
                "truncated, zero-padded or not text); re-export it",
                file=sf.rel, table=qn, rows=[scan.nul_line], row_count=1))
            ok = False
        if scan.long_count:
            self.problems.append(Problem(
                "line_too_long",
                f"line longer than {_mib(MAX_LINE_BYTES)} (" + ", ".join(
                    f"line {line}: {_mib(size)}" for line, size in scan.long_lines) +
                "); a field that large is not CRM data, or the file is corrupt (an unterminated tail?)",
                file=sf.rel, table=qn, rows=[line for line, _ in scan.long_lines], row_count=scan.long_count))
            ok = False
        return ok

    def _all_rows_read(self, t: Table, sf: SourceFile, scan: LineScan, stage: str, ncols: int, rows: int) -> bool:
        """The staged rows account for every line of the file (else a problem naming the line)."""
        embedded = " + ".join(
            f"coalesce(sum(length(c{i}) - length(replace(c{i}, chr(10), ''))), 0)" for i in range(ncols))
        breaks = self.con.execute(f"SELECT {embedded} FROM {stage}").fetchone()[0] if ncols else 0
        if scan.lines == 1 + scan.blank + rows + int(breaks):
            return True
        records = count_csv_records(sf)
        if records == rows:
            return True
        size, line = scan.longest
        self.problems.append(Problem(
            "rows_not_read",
            f"the file has {records:,} data rows but only {rows:,} could be read; the longest line is line "
            f"{line} ({_mib(size)}); check that line and the end of the file",
            file=sf.rel, table=t.qualified_name, rows=[line], row_count=records - rows))
        return False

    def _nonempty(self, t: Table, sf: SourceFile) -> bool:
        try:
            size = sf.path.stat().st_size
        except OSError as e:
            self.problems.append(Problem("unreadable", f"cannot read the file: {e}", file=sf.rel,
                                         table=t.qualified_name))
            return False
        if size == 0:
            what = "a header-only CSV" if sf.format == "csv" else "a Parquet file with zero rows"
            self.problems.append(Problem(
                "empty_file", f"the file is empty (0 bytes); a table without rows must still be {what}",
                file=sf.rel, table=t.qualified_name))
            return False
        return True

    def _read_header(self, t: Table, sf: SourceFile) -> list[str] | None:
        qn = t.qualified_name
        try:
            with _open_bytes(sf) as f:
                raw = f.readline(_HEADER_LIMIT)
        except (OSError, EOFError) as e:
            self.problems.append(Problem("unreadable", f"cannot read the file: {e}", file=sf.rel, table=qn))
            return None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            self.problems.append(Problem(
                "encoding", f"not valid UTF-8 (byte offset {e.start}, in the header); save the file as UTF-8",
                file=sf.rel, table=qn, rows=[1], row_count=1, values=[show_value(raw[:60].decode('utf-8', 'replace'))]))
            return None
        text = text.rstrip("\r\n")
        if not raw.endswith(b"\n") and len(raw) >= _HEADER_LIMIT:
            self.problems.append(Problem("no_header", "no header line within the first MiB",
                                         file=sf.rel, table=qn, rows=[1], row_count=1))
            return None
        if not text.strip():
            self.problems.append(Problem(
                "no_header", "the first line is empty; a CSV starts with the header line of column names "
                "(an empty table is a header-only file)", file=sf.rel, table=qn, rows=[1], row_count=1))
            return None
        return [h.strip() for h in next(csv.reader([text]))]

    def _report_rejects(self, t: Table, sf: SourceFile, rejects: str, ncols: int) -> int:
        # DuckDB logs one reject per missing/surplus field: count each line once.
        rows = self.con.execute(
            f"WITH per_line AS (SELECT error_type, line_byte_position AS lbp, min(byte_position) AS bp, "
            f"any_value(csv_line) AS line FROM {rejects} GROUP BY error_type, line_byte_position) "
            f"SELECT error_type, count(*), min_by({{'lbp': lbp, 'bp': bp, 'line': line}}, lbp, {MAX_EXAMPLES}) "
            f"FROM per_line GROUP BY error_type ORDER BY min(lbp)").fetchall()
        if not rows:
            return 0
        skipped = f"; rows referring to {t.qualified_name}.{t.primary_key} are not checked until it reads cleanly"
        offsets = [e["lbp"] for _, _, ex in rows for e in ex if e["lbp"] is not None]
        lines = physical_lines(sf, offsets)
        for etype, n, ex in rows:
            msg = REJECT_MESSAGES.get(etype, etype.lower())
            if etype in ("TOO MANY COLUMNS", "MISSING COLUMNS"):
                counts = []
                for e in ex:
                    try:
                        counts.append(str(len(next(csv.reader(io.StringIO((e["line"] or "").strip("\r\n")))))))
                    except (csv.Error, StopIteration):
                        counts.append("?")
                msg = f"wrong number of fields: the header has {ncols}, the line{'s' if len(ex) > 1 else ''} " \
                      f"{'have' if len(ex) > 1 else 'has'} {', '.join(counts)}"
            found = [lines.get(e["lbp"], 0) for e in ex]
            values = [(e["line"] or "").strip("\r\n") for e in ex]
            if etype == "INVALID ENCODING":
                bad = invalid_utf8(sf, set(found))
                offs = [bad[ln][0] if ln in bad else e["bp"] for ln, e in zip(found, ex)]
                values = [bad[ln][1] if ln in bad else v for ln, v in zip(found, values)]
                msg += f"; first invalid byte at byte offset{'s' if len(offs) > 1 else ''} " + ", ".join(
                    str(o) for o in offs)
            self.problems.append(Problem(
                "encoding" if etype == "INVALID ENCODING" else "csv_parse",
                msg + skipped, file=sf.rel, table=t.qualified_name, rows=found, row_count=n,
                values=[show_value(v) for v in values]))
        return sum(r[1] for r in rows)

    # ---------------------------------------------------------------- parquet
    def _stage_parquet(self, t: Table, sf: SourceFile) -> StagedFile | None:
        if not self._nonempty(t, sf):
            return None
        lit = sql_str(str(sf.path))
        try:
            desc = self.con.execute(f"DESCRIBE SELECT * FROM read_parquet({lit})").fetchall()
            rows = self.con.execute(f"SELECT count(*) FROM read_parquet({lit})").fetchone()[0]
        except duckdb.Error as e:
            self.problems.append(Problem("unreadable", f"cannot read the Parquet file: {_short(e)}",
                                         file=sf.rel, table=t.qualified_name))
            return None
        return StagedFile(sf, str(sf.path), {r[0]: r[1] for r in desc}, rows=rows)


def _short(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return " ".join(x.strip() for x in text[:3])
