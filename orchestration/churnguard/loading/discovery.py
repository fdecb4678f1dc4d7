"""Find the raw files of each contract table in a source folder.

A table ``<system>.<name>`` is read from exactly one entry of the folder:

- a file ``<system>__<name>.csv``, ``.csv.gz`` or ``.parquet``, or
- a sub-folder ``<system>__<name>/`` holding part files (``*.csv``, ``*.csv.gz`` or
  ``*.parquet``, all one format), read as one table in file-name order.

Entries whose name starts with ``_`` or ``.`` are ignored silently (ground truth in
``_truth/``, ``_SUCCESS`` markers, ``.DS_Store``); any other entry that is not a
contract table is a warning. An empty folder, mixed formats in a folder and two entries
for the same table are problems. A table without any entry is absent: given a scratch
folder (``absent_dir``), it is read from a header-only CSV written there, i.e. loaded
as an empty table, and a warning names it; without one it is a problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from churnguard.contract import TABLES, Table, file_stem

from .report import Problem

FORMATS = ((".csv.gz", "csv"), (".csv", "csv"), (".parquet", "parquet"))


@dataclass(frozen=True)
class SourceFile:
    path: Path
    rel: str  # relative to the source folder, posix
    format: str  # "csv" | "parquet"
    compressed: bool = False


@dataclass
class TableSource:
    table: Table
    entry: str  # "crm__accounts.csv" or "crm__logins/"
    format: str
    files: list[SourceFile] = field(default_factory=list)


def split_name(name: str) -> tuple[str, str | None]:
    """``crm__accounts.csv.gz`` -> (``crm__accounts``, ``csv``); unknown suffix -> (stem, None)."""
    low = name.lower()
    for suffix, fmt in FORMATS:
        if low.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], fmt
    return name.split(".", 1)[0], None


DOCUMENTATION_SUFFIXES = (".md", ".txt", ".rst")


def _ignored(name: str) -> bool:
    """Hidden and underscore entries (e.g. the generator's `_truth/`) and documentation
    files (a README describing the export) are skipped silently."""
    return name.startswith(("_", ".")) or name.lower().endswith(DOCUMENTATION_SUFFIXES)


def _absent_source(t: Table, absent_dir: Path) -> TableSource:
    """An absent table read as empty: a header-only CSV with the contract's columns."""
    absent_dir.mkdir(parents=True, exist_ok=True)
    path = absent_dir / f"{file_stem(t)}.csv"
    path.write_text(",".join(t.column_names) + "\n", encoding="utf-8")
    entry = f"(absent: {file_stem(t)})"
    return TableSource(t, entry, "csv", [SourceFile(path, entry, "csv")])


def discover(source_dir: Path, absent_dir: Path | None = None) -> tuple[dict[str, TableSource], list[Problem], list[str]]:
    """Map each contract table to its source; return (sources by qualified name, problems, warnings)."""
    problems: list[Problem] = []
    warnings: list[str] = []
    by_stem = {file_stem(t): t for t in TABLES}
    found: dict[str, list[TableSource]] = {}

    for entry in sorted(source_dir.iterdir(), key=lambda p: p.name):
        name = entry.name
        if _ignored(name):
            continue
        if entry.is_dir():
            table = by_stem.get(name)
            if table is None:
                warnings.append(f"{name}/: unknown folder, ignored (not a raw table of the contract)")
                continue
            src = _folder_source(entry, table, source_dir, problems, warnings)
            if src is not None:
                found.setdefault(table.qualified_name, []).append(src)
            continue
        stem, fmt = split_name(name)
        table = by_stem.get(stem)
        if table is None:
            warnings.append(f"{name}: unknown file, ignored (raw tables are <system>__<name>.csv, "
                            f".csv.gz, .parquet or a folder of parts)")
            continue
        if fmt is None:
            warnings.append(f"{name}: unsupported format for {table.qualified_name}, ignored "
                            f"(use .csv, .csv.gz or .parquet)")
            continue
        sf = SourceFile(entry, name, fmt, compressed=name.lower().endswith(".gz"))
        found.setdefault(table.qualified_name, []).append(TableSource(table, name, fmt, [sf]))

    sources: dict[str, TableSource] = {}
    for t in TABLES:
        cands = found.get(t.qualified_name, [])
        stem = file_stem(t)
        if not cands and absent_dir is not None:
            sources[t.qualified_name] = _absent_source(t, absent_dir)
            warnings.append(f"{t.qualified_name}: absent from {source_dir.name}/ (no {stem}.csv, .csv.gz, "
                            f".parquet or {stem}/), loaded as an empty table")
        elif not cands:
            problems.append(Problem(
                "missing_table",
                f"no file for raw table {t.qualified_name}: expected {stem}.csv, {stem}.csv.gz, "
                f"{stem}.parquet or a folder {stem}/ (every load is a full snapshot of all "
                f"{len(TABLES)} tables; write a header-only CSV for a table with no rows)",
                file=f"{stem}.csv", table=t.qualified_name))
        elif len(cands) > 1:
            problems.append(Problem(
                "duplicate_source",
                f"{len(cands)} sources for raw table {t.qualified_name}: "
                f"{', '.join(c.entry for c in cands)}; keep exactly one",
                file=cands[0].entry, table=t.qualified_name))
        else:
            sources[t.qualified_name] = cands[0]
    return sources, problems, warnings


def _folder_source(folder: Path, table: Table, source_dir: Path,
                   problems: list[Problem], warnings: list[str]) -> TableSource | None:
    entry = folder.name + "/"
    parts: list[SourceFile] = []
    for p in sorted(folder.iterdir(), key=lambda p: p.name):
        if _ignored(p.name):
            continue
        rel = p.relative_to(source_dir).as_posix()
        _, fmt = split_name(p.name)
        if p.is_dir() or fmt is None:
            warnings.append(f"{rel}: not a part file (.csv, .csv.gz, .parquet), ignored")
            continue
        parts.append(SourceFile(p, rel, fmt, compressed=p.name.lower().endswith(".gz")))
    if not parts:
        problems.append(Problem(
            "empty_folder", f"folder for {table.qualified_name} holds no part files (.csv, .csv.gz, .parquet)",
            file=entry, table=table.qualified_name))
        return None
    formats = sorted({p.format for p in parts})
    if len(formats) > 1:
        listing = "; ".join(f"{f}: {', '.join(p.rel for p in parts if p.format == f)}" for f in formats)
        problems.append(Problem(
            "mixed_formats", f"part files of {table.qualified_name} mix formats ({listing}); use one format",
            file=entry, table=table.qualified_name))
        return None
    return TableSource(table, entry, formats[0], parts)
