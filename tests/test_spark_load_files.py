"""`churnguard load` on the Spark target, the part without a JVM: the Parquet files DuckDB
writes in place, the CURRENT pointer, clean-up of older loads, and a failed load leaving the
previous files untouched. The Spark child process is replaced by a stand-in here; the real
one runs in tests/engines (``make test-engines``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import duckdb
import pytest

from churnguard.contract import table as contract_table
from churnguard.loader import LoadError, load
from churnguard.loading import targets

SAMPLE = Path(__file__).resolve().parents[1] / "seeds" / "sample"


@pytest.fixture
def spark_target(tmp_path, monkeypatch):
    monkeypatch.setenv("CHURNGUARD_DBT_TARGET", "spark")
    monkeypatch.setenv("CHURNGUARD_SPARK_WAREHOUSE", str(tmp_path / "spark"))
    monkeypatch.setenv("CHURNGUARD_WAREHOUSE", str(tmp_path / "unused.duckdb"))
    children: list[list[str]] = []

    def child(cmd, **kwargs):  # the Spark job: registers the folders and swaps the tables
        children.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(targets.subprocess, "run", child)
    return tmp_path / "spark", children


def test_files_are_written_in_place_with_utc_timestamps_and_older_loads_removed(spark_target) -> None:
    spark_dir, children = spark_target
    first = load(SAMPLE)
    second = load(SAMPLE)
    assert len(children) == 2
    logins = contract_table("crm.logins")
    folder = spark_dir / "churnguard_raw_files" / "raw_crm.logins"
    # only the current load's files remain, and CURRENT names it
    assert sorted(p.name for p in folder.iterdir()) == sorted(["CURRENT", second.load_id])
    assert (folder / "CURRENT").read_text() == second.load_id != first.load_id
    files = targets.spark_table_files(logins)
    assert files == [folder / second.load_id / "part-0.parquet"]
    assert targets.spark_row_counts([logins]) == {"crm.logins": second.tables["crm.logins"].rows}
    con = duckdb.connect()
    try:
        schema = dict(con.execute("select name, logical_type from parquet_schema(?)", [str(files[0])]).fetchall())
        sample_rows = con.execute("select count(*) from read_csv(?)", [str(SAMPLE / "crm__logins.csv")]).fetchone()[0]
    finally:
        con.close()
    assert "isAdjustedToUTC=1" in schema["logged_in_at"].replace(" ", "")  # same instant in any session time zone
    assert second.tables["crm.logins"].rows == sample_rows
    assert not (spark_dir.parent / "unused.duckdb").exists()


def test_a_failed_spark_job_keeps_the_previous_load(spark_target, monkeypatch) -> None:
    spark_dir, _ = spark_target
    first = load(SAMPLE)
    monkeypatch.setattr(targets.subprocess, "run",
                        lambda cmd, **kw: subprocess.CompletedProcess(cmd, 1, "", "AnalysisException: disk full"))
    with pytest.raises(LoadError, match="disk full"):
        load(SAMPLE)
    folder = spark_dir / "churnguard_raw_files" / "raw_crm.logins"
    assert sorted(p.name for p in folder.iterdir()) == sorted(["CURRENT", first.load_id])
    assert targets.spark_row_counts([contract_table("crm.logins")]) == {"crm.logins": first.tables["crm.logins"].rows}
