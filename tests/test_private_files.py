"""Everything holding customer data is created owner-only (CHURNGUARD_UMASK, default 077),
even when the process umask is the usual 022: the warehouse, Data Docs, dead letters and
delivered files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from delivery_fixtures import Receiver, WebhookServer, write_marts
from test_load import valid_dataset, write_csvs

from churnguard.delivery.config import DeliveryConfig, Destination
from churnguard.delivery.engine import sync
from churnguard.loader import load
from churnguard.quality.result import GateResult


@pytest.fixture(autouse=True)
def umask_022(monkeypatch):
    monkeypatch.delenv("CHURNGUARD_UMASK", raising=False)
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_loaded_warehouse_is_owner_only_and_an_old_one_is_tightened(tmp_path):
    raw = write_csvs(tmp_path / "raw", valid_dataset())
    warehouse = tmp_path / "wh" / "fresh.duckdb"
    load(raw, warehouse, currency="USD")
    assert _mode(warehouse) == 0o600
    old = tmp_path / "wh" / "old.duckdb"
    old.write_bytes(warehouse.read_bytes())
    os.chmod(old, 0o644)
    load(raw, old, currency="USD")
    assert _mode(old) == 0o600


def test_umask_inherit_keeps_the_process_umask(tmp_path, monkeypatch):
    monkeypatch.setenv("CHURNGUARD_UMASK", "inherit")
    warehouse = tmp_path / "wh.duckdb"
    load(write_csvs(tmp_path / "raw", valid_dataset()), warehouse, currency="USD")
    assert _mode(warehouse) == 0o644


def test_dead_letters_and_data_docs_are_owner_only(isolated_warehouse):
    from churnguard.quality.runner import run_gate

    warehouse = write_marts(isolated_warehouse)
    gate = run_gate(warehouse, suites=["current_alert_list"])
    pages = [p for p in (warehouse.parent / "data_docs").rglob("*") if p.is_file()]
    assert pages and {_mode(p) for p in pages} == {0o600}, gate.format()
    receiver = Receiver(reject_alerts={"alert-0001"})
    server = WebhookServer(receiver)
    try:
        config = DeliveryConfig(destinations=(Destination("hook", "webhook", {"url": server.url, "rate_limit_per_second": 1000}),))
        sync(warehouse, config=config, gate=GateResult(checked_at="t", suites=[]), log=lambda m: None)
    finally:
        server.stop()
    letters = warehouse.parent / "deliveries" / "dead_letters" / "hook.jsonl"
    assert _mode(letters) == 0o600 and _mode(letters.parent) == 0o700
