"""A read-only client holding the warehouse file open: writers wait with one message and
then proceed, or give up with a message naming the holder; never DuckDB's traceback."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from delivery_fixtures import default_alerts, query, write_marts
from test_load import valid_dataset, write_csvs

from churnguard.delivery.config import DeliveryConfig, Destination
from churnguard.delivery.engine import SyncError, sync
from churnguard.loader import LoadError, load
from churnguard.quality.result import GateResult

READER = textwrap.dedent(
    """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    print("open", flush=True)
    time.sleep(float(sys.argv[2]))
    con.close()
    """
)


def _reader(warehouse: Path, seconds: float) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", READER, str(warehouse), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "open"
    return process


def test_load_waits_for_a_reader_then_loads(tmp_path, capsys):
    raw = write_csvs(tmp_path / "raw", valid_dataset())
    warehouse = tmp_path / "wh.duckdb"
    load(raw, warehouse, currency="USD")
    reader = _reader(warehouse, 2)
    try:
        report = load(raw, warehouse, currency="USD")
    finally:
        reader.wait(timeout=30)
    assert report.tables["crm.accounts"].rows == 3
    err = capsys.readouterr().err
    assert err.count("waiting for pid") == 1 and "to close the warehouse" in err and "Traceback" not in err


def test_load_gives_up_with_a_message_naming_the_reader(tmp_path, monkeypatch):
    raw = write_csvs(tmp_path / "raw", valid_dataset())
    warehouse = tmp_path / "wh.duckdb"
    load(raw, warehouse, currency="USD")
    monkeypatch.setenv("CHURNGUARD_LOCK_TIMEOUT", "1")
    reader = _reader(warehouse, 20)
    try:
        with pytest.raises(LoadError) as info:
            load(raw, warehouse, currency="USD")
    finally:
        reader.kill()
        reader.wait()
    text = str(info.value)
    assert f"held open by pid {reader.pid}" in text and "Nothing was written" in text


def test_sync_waits_for_a_reader(isolated_warehouse, tmp_path, monkeypatch):
    warehouse = write_marts(isolated_warehouse)
    config = DeliveryConfig(destinations=(Destination("files", "files", {"directory": str(tmp_path / "out")}),))
    passed = GateResult(checked_at="t", suites=[])
    messages: list[str] = []
    reader = _reader(warehouse, 2)
    try:
        report = sync(warehouse, config=config, gate=passed, log=messages.append)
    finally:
        reader.wait(timeout=30)
    assert report.destination("files").sent == len(default_alerts())
    assert query(warehouse, "select status from delivery.sync_runs") == [("success",)]
    monkeypatch.setenv("CHURNGUARD_LOCK_TIMEOUT", "1")
    reader = _reader(warehouse, 20)
    try:
        with pytest.raises(SyncError, match="held open by pid"):
            sync(warehouse, config=config, gate=passed, log=messages.append)
    finally:
        reader.kill()
        reader.wait()
