"""Hostile raw exports that used to load silently wrong: over-long lines, NUL-padded
files, rows DuckDB drops without a word, shrinking tables, out-of-range offsets, ancient
dates, re-exported rows and control characters in rejected values.

Every rejection leaves the warehouse as it was (`bad_load` checks it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_load import _default_currency, bad_load, find, template_wh, valid_dataset, wh, write_csvs  # noqa: F401

from churnguard.loading import sources

BIG = 40 << 20  # 40 MiB


def _logins(n: int) -> dict:
    data = valid_dataset()
    first = data["crm.logins"][0]
    data["crm.logins"] = [{**first, "login_id": f"L{i:03d}"} for i in range(n)]
    return data


def test_a_40_mib_field_rejects_the_file_naming_its_line(tmp_path, wh):
    data = _logins(350)
    data["crm.logins"][99]["login_id"] = "x" * BIG  # data row 100 = line 101
    err = bad_load(write_csvs(tmp_path / "raw", data), wh)
    problem = find(err, "line_too_long", "crm__logins.csv")
    assert problem.rows == [101] and "40.0 MiB" in problem.message


def test_an_unterminated_40_mib_tail_rejects_the_file(tmp_path, wh):
    folder = write_csvs(tmp_path / "raw", _logins(350))
    with open(folder / "crm__logins.csv", "ab") as handle:
        handle.write(b"y" * BIG)
    problem = find(bad_load(folder, wh), "line_too_long", "crm__logins.csv")
    assert problem.rows == [352]  # header + 350 rows, then the tail


def test_a_header_followed_by_nul_bytes_is_rejected_not_loaded_empty(tmp_path, wh):
    folder = write_csvs(tmp_path / "raw", valid_dataset())
    path = folder / "crm__logins.csv"
    header = path.read_bytes().splitlines(keepends=True)[0]
    path.write_bytes(header + b"\0" * (64 << 20))
    problem = find(bad_load(folder, wh), "nul_bytes", "crm__logins.csv")
    assert problem.rows == [2] and f"byte offset {len(header)}" in problem.message


def test_rows_dropped_by_the_csv_reader_fail_the_load_naming_the_line(tmp_path, wh, monkeypatch):
    """The backstop: were a line to slip past the byte scan, the row count would still not match."""
    scan = sources.scan_lines
    monkeypatch.setattr(sources, "scan_lines", lambda sf: scan(sf, max_line=1 << 40))
    data = _logins(350)
    data["crm.logins"][99]["login_id"] = "x" * BIG
    problem = find(bad_load(write_csvs(tmp_path / "raw", data), wh), "rows_not_read", "crm__logins.csv")
    assert "350 data rows but only 349" in problem.message and problem.rows == [101]


def test_scan_lines_counts_lines_blank_lines_and_crlf(tmp_path):
    path = tmp_path / "crm__logins.csv"
    path.write_bytes(b"a,b\r\n1,2\r\n\r\n3,\"x\ny\"\n\nlast")
    found = sources.scan_lines(sources.SourceFile(path=path, rel=path.name, format="csv", compressed=False))
    assert (found.lines, found.blank, found.nul_line, found.long_count) == (7, 2, None, 0)
    assert found.longest == (4, 1)  # "a,b\r": the first of the 4-byte lines


# --- item 5: a table that shrinks ------------------------------------------------------------


def _logins_in(wh: Path) -> int:
    import duckdb

    con = duckdb.connect(str(wh), read_only=True)
    try:
        return con.execute("select count(*) from raw_crm.logins").fetchone()[0]
    finally:
        con.close()


def test_a_header_only_export_of_a_large_table_is_rejected_unless_allowed(tmp_path, monkeypatch):
    from churnguard.loader import LoadError, load

    wh = tmp_path / "wh.duckdb"
    load(write_csvs(tmp_path / "full", _logins(350)), wh)
    header_only = _logins(350)
    header_only["crm.logins"] = []
    folder = write_csvs(tmp_path / "empty", header_only)
    with pytest.raises(LoadError) as info:
        load(folder, wh)
    problem = find(info.value, "table_shrank", "crm__logins.csv")
    assert "0 rows would replace the 350" in problem.message and "100% fewer" in problem.message
    assert _logins_in(wh) == 350  # untouched

    # 200 of 350 (43% fewer) is within the default 50%; a stricter share rejects it.
    folder = write_csvs(tmp_path / "fewer", _logins(200))
    monkeypatch.setenv("CHURNGUARD_MAX_SHRINK_SHARE", "0.3")
    with pytest.raises(LoadError, match="43% fewer"):
        load(folder, wh)
    monkeypatch.delenv("CHURNGUARD_MAX_SHRINK_SHARE")
    assert load(folder, wh).tables["crm.logins"].rows == 200

    assert load(write_csvs(tmp_path / "empty2", header_only), wh, allow_shrink=True).tables["crm.logins"].rows == 0
    assert _logins_in(wh) == 0


def test_small_tables_may_shrink_freely(tmp_path, wh):
    from churnguard.loader import load

    data = valid_dataset()
    data["crm.logins"] = data["crm.logins"][:1]  # 3 rows -> 1: below CHURNGUARD_SHRINK_MIN_ROWS (100)
    assert load(write_csvs(tmp_path / "raw", data), wh).tables["crm.logins"].rows == 1


# --- item 17: control characters in rejected values are shown escaped ------------------------


def test_escape_sequences_in_a_rejected_value_are_printed_escaped(tmp_path, wh):
    data = valid_dataset()
    data["crm.logins"][0]["session_seconds"] = "\x1b[2J\x1b[31mRED\x1b[0m\x07"
    err = bad_load(write_csvs(tmp_path / "raw", data), wh)
    text = str(err)
    assert "\x1b" not in text and "\x07" not in text
    assert "\\x1b[2J\\x1b[31mRED\\x1b[0m\\x07" in text


# --- items 14, 15: impossible offsets and ancient dates ---------------------------------------


@pytest.mark.parametrize("value", ["2025-05-01T08:00:00+25:00", "2025-05-01T08:00:00+99:99", "2025-05-01T08:00:00-13:60"])
def test_timestamp_offsets_out_of_range_are_rejected(value, tmp_path, wh):
    data = valid_dataset()
    data["crm.logins"][1]["logged_in_at"] = value
    problem = find(bad_load(write_csvs(tmp_path / "raw", data), wh), "type", "crm__logins.csv", "logged_in_at")
    assert problem.rows == [3]


def test_real_offsets_still_load(tmp_path):
    from churnguard.loader import load

    data = valid_dataset()
    data["crm.logins"][0]["logged_in_at"] = "2025-05-01T08:00:00+14:00"
    data["crm.logins"][1]["logged_in_at"] = "2025-05-01T08:00:00-0930"
    report = load(write_csvs(tmp_path / "raw", data), tmp_path / "wh.duckdb")
    assert report.tables["crm.logins"].rows == 4


def test_ancient_dates_are_rejected_before_the_history_start(tmp_path, wh, monkeypatch):
    data = valid_dataset()
    data["crm.logins"][0]["logged_in_at"] = "0001-01-01T00:00:00Z"
    data["crm.interactions"][1]["occurred_at"] = "1900-01-01T00:00:00Z"
    err = bad_load(write_csvs(tmp_path / "raw", data), wh)
    login = find(err, "before_history_start", "crm__logins.csv", "logged_in_at")
    assert login.rows == [2] and "history start" in login.message
    assert find(err, "before_history_start", "crm__interactions.csv", "occurred_at").rows == [3]
    monkeypatch.setenv("CHURNGUARD_HISTORY_START", "1899-01-01")  # 1900 is now allowed, year 1 is not
    err = bad_load(write_csvs(tmp_path / "raw2", data), wh)
    assert [p.file for p in err.problems if p.rule == "before_history_start"] == ["crm__logins.csv"]


# --- item 16: a re-exported row with a later _synced_at is the contract's normal case ---------


def test_a_re_exported_row_with_a_later_synced_at_loads(tmp_path):
    import duckdb

    from churnguard.loader import load

    data = valid_dataset()
    data["crm.accounts"].append(dict(data["crm.accounts"][0], account_name="Acme Corp (renamed)",
                                     _synced_at="2025-06-02T03:00:00Z"))
    warehouse = tmp_path / "wh.duckdb"
    assert load(write_csvs(tmp_path / "raw", data), warehouse).tables["crm.accounts"].rows == 4
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute("select account_name from raw_crm.accounts where account_id = 'A1' order by _synced_at").fetchall()
    finally:
        con.close()
    assert rows == [("Acme Corp",), ("Acme Corp (renamed)",)]  # staging keeps the latest


def test_equal_keys_with_equal_synced_at_are_still_duplicates(tmp_path, wh):
    data = valid_dataset()
    data["crm.accounts"].append(dict(data["crm.accounts"][0], account_name="Acme again"))
    data["crm.accounts"].append(dict(data["crm.accounts"][1], _synced_at="2025-06-02T03:00:00Z"))  # A2: fine
    problem = find(bad_load(write_csvs(tmp_path / "raw", data), wh), "duplicate_key", "crm__accounts.csv", "account_id")
    assert problem.rows == [2, 5] and "1 value occurs more than once with the same _synced_at" in problem.message
