"""SQL expressions that turn a raw column into its contract type, set-based in DuckDB.

Every expression returns NULL for a value that does not parse, so a type error is
"the input is not null, the parsed value is": ``NOT <nullish> AND <parsed> IS NULL``.

Text (all CSV columns, and Parquet VARCHAR columns) is parsed strictly:

- integer: optional sign and digits; ``12.0`` is accepted (pandas writes nullable
  integers that way), ``12.5``, ``1e3``, ``1_000`` and ``0x10`` are not.
- decimal: dot as decimal separator, optional exponent; rounded half away from
  zero to 2 places (DECIMAL(18,2)). ``1,50`` and ``$12`` are errors.
- boolean: true/false, t/f, 1/0, yes/no, any case.
- timestamp: ``YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|UTC|±HH[:MM]]``; no offset means
  UTC; an offset (at most ±14:00, minutes 00-59) is converted to UTC and dropped (naive UTC
  TIMESTAMP); ``+25:00`` or ``+99:99`` is a type error.
- date: ``YYYY-MM-DD``.
- string: loaded verbatim; the empty string counts as null (CSV cannot tell them apart).

Parquet columns of a native type are converted when the conversion cannot lose
information (any integer width to BIGINT, a whole-valued float to BIGINT, numbers to
DECIMAL(18,2), 0/1 to boolean, any timestamp unit or zone to naive UTC, a midnight
timestamp to DATE, integer ids to text); any other physical type is a type error
reported on every non-null row.
"""

from __future__ import annotations

from dataclasses import dataclass

SQL_TYPES = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "decimal": "DECIMAL(18,2)",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
}

TYPE_HINTS = {
    "string": "text",
    "integer": "a whole number such as 42",
    "decimal": "a number with a dot as decimal separator, such as 1234.50",
    "boolean": "true/false (also t/f, 1/0, yes/no)",
    "timestamp": "an ISO 8601 timestamp such as 2025-03-01T14:05:00Z",
    "date": "a date YYYY-MM-DD",
}

_INT_RE = r"[+-]?[0-9]+([.]0*)?"
_DEC_RE = r"[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?"
# Offsets: -14:00 .. +14:00 (real zones span -12:00 .. +14:00), minutes 00-59.
_TS_RE = (r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?)? ?"
          r"(Z|UTC|[+-]((0[0-9]|1[0-3])(:?[0-5][0-9])?|14(:?00)?))?")
_DATE_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_TRUE = ("true", "t", "1", "yes")
_FALSE = ("false", "f", "0", "no")

_INT_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
              "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
_FLOAT_TYPES = {"FLOAT", "DOUBLE", "REAL"}
_TS_TYPES = {"TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATETIME"}
_TSTZ_TYPES = {"TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"}


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_str(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def category(duck_type: str) -> str:
    """Coarse class of a DuckDB type: text, int, float, decimal, bool, date, ts, tstz, null, other."""
    t = duck_type.upper().strip()
    if t == "VARCHAR" or t.startswith("VARCHAR("):
        return "text"
    if t in _INT_TYPES:
        return "int"
    if t in _FLOAT_TYPES:
        return "float"
    if t.startswith("DECIMAL") or t.startswith("NUMERIC"):
        return "decimal"
    if t == "BOOLEAN":
        return "bool"
    if t == "DATE":
        return "date"
    if t in _TS_TYPES:
        return "ts"
    if t in _TSTZ_TYPES:
        return "tstz"
    if t in ('"NULL"', "NULL"):
        return "null"
    return "other"


@dataclass(frozen=True)
class ColumnParse:
    parsed: str  # SQL: value in the target type, NULL if null or unparseable
    nullish: str  # SQL: the input is null (or empty text)
    display: str  # SQL: the input as text, for messages
    can_fail: bool  # whether a non-null input can fail to parse
    note: str | None = None  # conversion worth a warning (e.g. BIGINT ids loaded as text)


def _text_parse(t: str, logical: str) -> str:
    """Parse trimmed, non-empty text ``t`` (SQL expression) into the logical type."""
    if logical == "integer":
        return f"CASE WHEN regexp_full_match({t}, '{_INT_RE}') THEN TRY_CAST({t} AS BIGINT) END"
    if logical == "decimal":
        return f"CASE WHEN regexp_full_match({t}, '{_DEC_RE}') THEN TRY_CAST({t} AS DECIMAL(18,2)) END"
    if logical == "boolean":
        whens = " ".join([f"WHEN '{v}' THEN true" for v in _TRUE] + [f"WHEN '{v}' THEN false" for v in _FALSE])
        return f"CASE lower({t}) {whens} END"
    if logical == "timestamp":
        u = f"upper({t})"
        norm = f"regexp_replace({u}, ' (Z|[+-])', '\\1')"
        return (f"CASE WHEN regexp_full_match({u}, '{_TS_RE}') "
                f"THEN CAST(TRY_CAST({norm} AS TIMESTAMPTZ) AS TIMESTAMP) END")
    if logical == "date":
        return f"CASE WHEN regexp_full_match({t}, '{_DATE_RE}') THEN TRY_CAST({t} AS DATE) END"
    raise ValueError(logical)


def column_parse(col_sql: str, duck_type: str, logical: str, *, upper: bool = False) -> ColumnParse:
    """How to read column ``col_sql`` of DuckDB type ``duck_type`` as contract type ``logical``.

    ``upper`` (strings only): trim and upper-case the value (currency codes).
    """
    cat = category(duck_type)
    target = SQL_TYPES[logical]
    c = col_sql
    if cat == "null":
        return ColumnParse(f"CAST(NULL AS {target})", "true", "CAST(NULL AS VARCHAR)", False)
    if cat == "text":
        nullish = f"({c} IS NULL OR trim({c}) = '')" if logical != "string" else f"({c} IS NULL OR {c} = '')"
        if logical == "string":
            parsed = f"upper(trim(nullif({c}, '')))" if upper else f"nullif({c}, '')"
            return ColumnParse(parsed, nullish, c, False)
        t = f"nullif(trim({c}), '')"
        return ColumnParse(_text_parse(t, logical), nullish, c, True)

    display = f"TRY_CAST({c} AS VARCHAR)"
    nullish = f"({c} IS NULL)"
    wrong = ColumnParse(f"CAST(NULL AS {target})", nullish, display, True)
    if logical == "string":
        if cat == "int":
            parsed = f"CAST({c} AS VARCHAR)"
            return ColumnParse(parsed, nullish, display, False, note=f"stored as {duck_type}, loaded as text")
        return wrong
    if logical == "integer":
        if cat == "int":
            return ColumnParse(f"TRY_CAST({c} AS BIGINT)", nullish, display, duck_type.upper() in
                               {"HUGEINT", "UBIGINT", "UHUGEINT"})
        if cat == "float":
            return ColumnParse(f"CASE WHEN isfinite({c}) AND {c} = trunc({c}) THEN TRY_CAST({c} AS BIGINT) END",
                               nullish, display, True)
        if cat == "decimal":
            return ColumnParse(f"CASE WHEN {c} = trunc({c}) THEN TRY_CAST({c} AS BIGINT) END",
                               nullish, display, True)
        return wrong
    if logical == "decimal":
        if cat == "float":
            return ColumnParse(f"CASE WHEN isfinite({c}) THEN TRY_CAST({c} AS DECIMAL(18,2)) END",
                               nullish, display, True)
        if cat in ("int", "decimal"):
            return ColumnParse(f"TRY_CAST({c} AS DECIMAL(18,2))", nullish, display, True)
        return wrong
    if logical == "boolean":
        if cat == "bool":
            return ColumnParse(c, nullish, display, False)
        if cat == "int":
            return ColumnParse(f"CASE {c} WHEN 1 THEN true WHEN 0 THEN false END", nullish, display, True)
        return wrong
    if logical == "timestamp":
        if cat in ("ts", "tstz", "date"):
            # TIMESTAMPTZ -> TIMESTAMP uses the session time zone, which the loader pins to UTC.
            return ColumnParse(f"CAST({c} AS TIMESTAMP)", nullish, display, False)
        return wrong
    if logical == "date":
        if cat == "date":
            return ColumnParse(c, nullish, display, False)
        if cat in ("ts", "tstz"):
            ts = f"CAST({c} AS TIMESTAMP)"
            return ColumnParse(f"CASE WHEN {ts} = date_trunc('day', {ts}) THEN CAST({ts} AS DATE) END",
                               nullish, display, True)
        return wrong
    raise ValueError(logical)
