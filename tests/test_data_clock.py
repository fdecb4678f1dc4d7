"""The data's clock: partitions span the data's own days, freshness is judged against them.

No dbt here: the clock is read from raw files (a 1997 data set made by the generator), the
partitions follow it, and source freshness is computed on a small DuckDB file.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from churnguard.defs.clock import ClockSettingError, data_clock
from churnguard.defs.freshness import check_sources
from churnguard.defs.partitions import daily_partitions, nightly_range
from churnguard.generator import generate

pytestmark = pytest.mark.xdist_group("test_data_clock")  # one worker: its module fixture generates the 1997 world once


@pytest.fixture(scope="module")
def data_1997(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("raw_1997")
    generate(customers=20, days=90, seed=3, out_dir=out, start_date=date(1997, 3, 1), file_format="csv")
    return out


def test_a_1997_data_set_gets_1997_partitions_not_the_wall_clocks(
    data_1997: Path, isolated_warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHURNGUARD_PARTITIONS_START_DATE", raising=False)
    clock = data_clock(isolated_warehouse, data_1997, today=date(2026, 11, 29))
    assert clock.history_start == date(1997, 3, 1) and clock.as_of.year == 1997
    assert not clock.live and clock.origin == f"raw files in {data_1997}"
    partitions = daily_partitions(clock=clock)
    keys = partitions.get_partition_keys(current_time=datetime(2026, 11, 29, 2, tzinfo=timezone.utc))
    assert keys[0] == "1997-03-01" and keys[-1] == clock.as_of.isoformat()
    assert len(keys) == (clock.as_of - date(1997, 3, 1)).days + 1 <= 90
    # the nightly run today rebuilds the data's last days, not today's
    assert nightly_range(partitions, datetime(2026, 11, 29, 2, tzinfo=timezone.utc), full=True) == (keys[0], keys[-1])
    # freshness is judged at the end of the as-of day
    assert clock.now() == datetime.combine(clock.as_of + timedelta(days=1), time(0), tzinfo=timezone.utc)


def test_live_data_keeps_open_partitions_and_the_setting_can_force_either(
    data_1997: Path, isolated_warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_of = data_clock(isolated_warehouse, data_1997).as_of
    live = data_clock(isolated_warehouse, data_1997, today=as_of + timedelta(days=2))  # two days later: live
    assert live.live and daily_partitions(clock=live).end is None
    monkeypatch.setenv("CHURNGUARD_DATA_CLOCK", "data")
    assert not data_clock(isolated_warehouse, data_1997, today=as_of).live
    monkeypatch.setenv("CHURNGUARD_DATA_CLOCK", "wall")
    assert data_clock(isolated_warehouse, data_1997, today=date(2026, 11, 29)).live
    monkeypatch.setenv("CHURNGUARD_DATA_CLOCK", "sometimes")
    with pytest.raises(ClockSettingError, match="CHURNGUARD_DATA_CLOCK"):
        data_clock(isolated_warehouse, data_1997)


def test_a_source_is_stale_only_against_the_clock_it_is_judged_by(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema raw_crm")
    con.execute("create table raw_crm.logins as select timestamptz '1997-05-29 20:00:00+00' as _synced_at")
    con.execute("create table raw_crm.interventions as select timestamptz '1997-05-20 12:00:00+00' as _synced_at")
    rules = {
        name: {"relation": ("raw_crm", name.split(".")[1]), "loaded_at_field": "_synced_at", "warn": 36.0, "error": 72.0}
        for name in ("crm.logins", "crm.interventions")
    }
    end_of_as_of = datetime(1997, 5, 30, tzinfo=timezone.utc)  # as-of date 1997-05-29
    results = {r.source: r for r in check_sources(con, end_of_as_of, rules)}
    assert results["crm.logins"].status == "pass" and results["crm.logins"].age_hours == pytest.approx(4.0)
    assert results["crm.interventions"].status == "error" and results["crm.interventions"].age_hours == pytest.approx(228.0)
    # against the wall clock everything would be decades old
    wall = {r.source: r.status for r in check_sources(con, datetime(2026, 11, 29, tzinfo=timezone.utc), rules)}
    assert wall == {"crm.logins": "error", "crm.interventions": "error"}
