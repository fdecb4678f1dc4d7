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
