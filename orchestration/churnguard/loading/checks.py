"""Set-based validation of staged tables in the scratch DuckDB connection.

Per table: one aggregate pass counts every row rule at once (nulls, types,
accepted values, ranges, future timestamps, currency); only rules that fail run a
second query that fetches the first example rows per file. Then a GROUP BY finds
duplicate primary keys, and anti-joins find references to unknown parents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from churnguard.contract import Column

from .parsing import SQL_TYPES, TYPE_HINTS, category, column_parse, quote_ident, sql_str
from .report import MAX_EXAMPLES, Problem, show_value
from .sources import StagedTable, _short

SYNCED_AT = "_synced_at"

# Timestamp/date columns that may legitimately lie in the future: scheduled, not happened.
# (Everything else that dates an event must not be later than now + tolerance.)
FUTURE_ALLOWED: frozenset[str] = frozenset({
    "billing.invoices.due_at",
    "billing.subscriptions.ended_at",
    "billing.subscriptions.renewal_date",
})


def is_currency(col: Column) -> bool:
    return col.type == "string" and (col.name == "currency" or col.name.endswith("_currency"))


@dataclass
class Check:
    rule: str
    column: str
    predicate: str  # SQL over the source view, true for an offending row
    message: str
    value: str  # SQL: what to show for an offending row


@dataclass
class Settings:
    currency: str
    now: datetime  # naive UTC
    tolerance_text: str
    today: date
    history_start: date | None = None  # earlier dates and timestamps are rejected


def _fmt_num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def prepare(st: StagedTable, warnings: list[str]) -> None:
    """Decide how each contract column is read (``st.parses``) and the typed SELECT list (``st.typed``).

    Queries inline only the expressions they need over the plain source view: binding a
    wide view of parse expressions costs more than running the query on small inputs.
    """
    select = []
    for col in st.table.columns:
        q = quote_ident(col.name)
        if col.name in st.types and col.name not in st.broken:
            cp = column_parse(q, st.types[col.name], col.type, upper=is_currency(col))
            if cp.note:
                warnings.append(f"{st.source.entry}: column {col.name!r} {cp.note}")
        else:
            cp = column_parse(f"CAST(NULL AS VARCHAR)", '"NULL"', col.type)
        st.parses[col.name] = cp
        select.append(f"CAST({cp.parsed} AS {SQL_TYPES[col.type]}) AS {q}")
    st.typed = ", ".join(select)


def _checked(st: StagedTable, name: str) -> bool:
    return name in st.types and name not in st.broken


def row_checks(st: StagedTable, s: Settings) -> list[Check]:
    t = st.table
    checks: list[Check] = []
    for col in t.columns:
        if not _checked(st, col.name):
            continue
        cp = st.parses[col.name]
        v = f"({cp.parsed})"
        null, raw = cp.nullish, cp.display
        src_type = st.types[col.name]
        if not col.nullable:
            checks.append(Check("not_null", col.name, null,
                                "empty or null value in a column that does not allow nulls", raw))
        if cp.can_fail:
            stored = "" if category(src_type) == "text" else f" (stored in the file as {src_type})"
            checks.append(Check("type", col.name, f"NOT {null} AND {v} IS NULL",
                                f"value is not {TYPE_HINTS[col.type]}{stored}", raw))
        if col.accepted_values:
            vals = ", ".join(sql_str(x) for x in col.accepted_values)
            checks.append(Check("accepted_values", col.name, f"{v} IS NOT NULL AND {v} NOT IN ({vals})",
                                f"value not in the accepted values ({', '.join(col.accepted_values)})", raw))
        lo, hi = col.min_value, col.max_value
        if lo is not None and hi is not None:
            checks.append(Check("range", col.name, f"({v} < {lo} OR {v} > {hi})",
                                f"value outside the allowed range {_fmt_num(lo)} to {_fmt_num(hi)}", raw))
        elif lo is not None:
            checks.append(Check("min_value", col.name, f"{v} < {lo}",
                                f"value below the minimum {_fmt_num(lo)}" + (" (negative)" if lo == 0 else ""), raw))
        elif hi is not None:
            checks.append(Check("max_value", col.name, f"{v} > {hi}",
                                f"value above the maximum {_fmt_num(hi)}", raw))
        if f"{t.qualified_name}.{col.name}" not in FUTURE_ALLOWED:
            if col.type == "timestamp":
                checks.append(Check(
                    "future", col.name, f"{v} > TIMESTAMP '{s.now.isoformat(sep=' ')}'",
                    f"timestamp in the future (later than {s.now:%Y-%m-%d %H:%M:%S} UTC, "
                    f"i.e. now + {s.tolerance_text})", raw))
            elif col.type == "date":
                checks.append(Check("future", col.name, f"{v} > DATE '{s.today.isoformat()}'",
                                    f"date in the future (after today, {s.today.isoformat()} UTC)", raw))
        if s.history_start is not None and col.type in ("timestamp", "date"):
            floor = f"{'TIMESTAMP' if col.type == 'timestamp' else 'DATE'} '{s.history_start.isoformat()}'"
            checks.append(Check(
                "before_history_start", col.name, f"{v} < {floor}",
                f"{col.type} before the history start {s.history_start.isoformat()} (CHURNGUARD_HISTORY_START; "
                "default 20 years before today): a placeholder or corrupt value such as 0001-01-01 or 1900-01-01", raw))
        if is_currency(col):
            checks.append(Check(
                "currency", col.name, f"{v} IS NOT NULL AND {v} <> {sql_str(s.currency)}",
                f"currency is not the reporting currency {s.currency} (amounts are not converted; "
                f"set CHURNGUARD_CURRENCY or pass currency= if {s.currency} is wrong)", raw))
    return checks


def run_row_checks(con: duckdb.DuckDBPyConnection, st: StagedTable, checks: list[Check],
                   problems: list[Problem]) -> None:
    if not checks:
        return
    counts = con.execute(
        "SELECT " + ", ".join(f"count_if({c.predicate})" for c in checks) + f" FROM {st.view}").fetchone()
    for check, n in zip(checks, counts):
        if n:
            _examples(con, st, check.predicate, check.value, check.rule, check.column, check.message, problems)


def _examples(con, st: StagedTable, predicate: str, value: str, rule: str, column: str, message: str,
              problems: list[Problem], extra_sql: str = "", distinct: str | None = None) -> None:
    dist = f", count(DISTINCT {distinct})" if distinct else ""
    rows = con.execute(
        f"SELECT __file, count(*), min_by({{'r': __rid, 'v': {value}}}, __rid, {MAX_EXAMPLES}){dist} "
        f"FROM {st.view} AS c {extra_sql} WHERE {predicate} GROUP BY __file ORDER BY __file").fetchall()
    for row in rows:
        key, n, ex = row[0], row[1], row[2]
        f = st.file(key)
        msg = message
        if distinct:
            msg += f"; {row[3]} distinct value{'s' if row[3] != 1 else ''}"
        problems.append(Problem(
            rule, msg, file=f.source.rel, table=st.table.qualified_name, column=column,
            rows=f.display_rows([e["r"] for e in ex]), row_count=n, row_label=f.row_label,
            values=[show_value(e["v"]) for e in ex]))


def check_primary_key(con: duckdb.DuckDBPyConnection, st: StagedTable, problems: list[Problem]) -> None:
    pk = st.table.primary_key
    if not _checked(st, pk):
        return
    k = f"({st.parses[pk].parsed})"
    # A row exported twice is expected when the later copy has a later _synced_at (the latest
    # wins in staging): only equal keys with an equal _synced_at are duplicates.
    synced = f"({st.parses[SYNCED_AT].parsed})" if _checked(st, SYNCED_AT) else "NULL"
    dups = (f"(SELECT {k} AS k, {synced} AS s FROM {st.view} WHERE {k} IS NOT NULL "
            f"GROUP BY {k}, {synced} HAVING count(*) > 1)")
    on = f"{k} = d.k AND {synced} IS NOT DISTINCT FROM d.s"
    n_keys = con.execute(f"SELECT count(DISTINCT k) FROM {dups}").fetchone()[0]
    if not n_keys:
        return
    per_file = con.execute(
        f"SELECT __file, count(*) FROM {st.view} SEMI JOIN {dups} d ON {on} GROUP BY __file").fetchall()
    samples = con.execute(
        f"SELECT {k}, count(*), list({{'f': __file, 'r': __rid}} ORDER BY __file, __rid)[1:{MAX_EXAMPLES}] "
        f"FROM {st.view} SEMI JOIN {dups} d ON {on} GROUP BY {k} "
        f"ORDER BY min({{'f': __file, 'r': __rid}}) LIMIT {MAX_EXAMPLES}").fetchall()
    for key, n_rows in per_file:
        f = st.file(key)
        descr = []
        rows: list[int] = []
        values: list[str] = []
        for value, n, locs in samples:
            here = [loc["r"] for loc in locs if loc["f"] == key]
            if not here:
                continue
            shown = f.display_rows(here)
            rows += shown
            values += [show_value(value)] * len(shown)
            others = [loc for loc in locs if loc["f"] != key]
            where = f"{f.row_label}s {', '.join(map(str, shown))}"
            if others:
                where += "; also in " + ", ".join(
                    f"{st.file(o['f']).source.rel} {st.file(o['f']).row_label} "
                    f"{st.file(o['f']).display_rows([o['r']])[0]}" for o in others)
            descr.append(f"{show_value(value)} {n}x ({where})")
        more = f" (first {len(descr)} shown)" if n_keys > len(descr) else ""
        problems.append(Problem(
            "duplicate_key",
            f"duplicate primary key: {n_keys} value{'s occur' if n_keys != 1 else ' occurs'} more than once "
            f"with the same {SYNCED_AT}, in {n_rows} rows{more} (a re-exported row needs a later {SYNCED_AT}): "
            + "; ".join(descr),
            file=f.source.rel, table=st.table.qualified_name, column=pk,
            rows=rows[:MAX_EXAMPLES], row_count=n_rows, row_label=f.row_label, values=values[:MAX_EXAMPLES],
            list_rows=False))


def _reference_parts(st: StagedTable, staged: dict[str, StagedTable]):
    for col in st.table.columns:
        if not col.references or not _checked(st, col.name):
            continue
        system, name, pcol = col.references.split(".")
        parent = staged.get(f"{system}.{name}")
        if parent is None or not _checked(parent, pcol) or parent.incomplete:
            continue  # the parent's own problem is reported; its keys are not all known
        pk = f"({parent.parses[pcol].parsed})"
        keys = f"(SELECT DISTINCT {pk} AS k FROM {parent.view} WHERE {pk} IS NOT NULL)"
        yield col, parent, f"({st.parses[col.name].parsed})", keys


def check_references(con: duckdb.DuckDBPyConnection, st: StagedTable, staged: dict[str, StagedTable],
                     problems: list[Problem]) -> None:
    refs = list(_reference_parts(st, staged))
    if not refs:
        return
    counts = con.execute("SELECT " + ", ".join(
        f"(SELECT count(*) FROM {st.view} ANTI JOIN {keys} p ON {v} = p.k WHERE {v} IS NOT NULL)"
        for _, _, v, keys in refs)).fetchone()
    for (col, parent, v, keys), n in zip(refs, counts):
        if n:
            _examples(con, st, f"{v} IS NOT NULL", st.parses[col.name].display, "reference", col.name,
                      f"{col.name} not found in {col.references} ({parent.source.entry})", problems,
                      extra_sql=f"ANTI JOIN {keys} p ON {v} = p.k", distinct=v)


def check_table(con: duckdb.DuckDBPyConnection, st: StagedTable, s: Settings, problems: list[Problem],
                warnings: list[str]) -> bool:
    """All single-table checks; False if the table could not be read while checking."""
    try:
        prepare(st, warnings)
        run_row_checks(con, st, row_checks(st, s), problems)
        check_primary_key(con, st, problems)
    except duckdb.Error as e:
        st.typed = None
        problems.append(Problem("unreadable", f"cannot read while checking: {_short(e)}",
                                file=st.source.entry, table=st.table.qualified_name))
        return False
    return True
