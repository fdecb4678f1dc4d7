"""Shared fixtures: every test gets its own warehouse file and dbt target/log folders
(through environment variables), so tests can run in parallel (pytest-xdist)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

from churnguard import settings  # noqa: E402

SAMPLE_DIR = settings.SAMPLE_DATA_DIR


@pytest.fixture(autouse=True)
def isolated_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point CHURNGUARD_WAREHOUSE and dbt's target/log paths at this test's tmp dir."""
    warehouse = tmp_path / "warehouse" / "churnguard.duckdb"
    monkeypatch.setenv("CHURNGUARD_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("CHURNGUARD_DBT_TARGET_PATH", str(tmp_path / "dbt_target"))
    monkeypatch.setenv("CHURNGUARD_DBT_LOG_PATH", str(tmp_path / "dbt_logs"))
    return warehouse


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    if not (SAMPLE_DIR / "crm__accounts.csv").exists():
        pytest.fail(f"the committed sample is missing from {SAMPLE_DIR} (regenerate with `make sample`)")
    return SAMPLE_DIR


def build_warehouse(data_dir: Path, root: Path, dbt_args: list[str] | None = None, dbt_vars: dict | None = None) -> Path:
    """Load ``data_dir`` into a fresh warehouse under ``root`` and run dbt (default: build)."""
    from churnguard.dbt_cli import run_dbt
    from churnguard.loader import load

    root.mkdir(parents=True, exist_ok=True)
    warehouse = root / "churnguard.duckdb"
    load(data_dir, warehouse)
    env = {
        "CHURNGUARD_DBT_TARGET_PATH": str(root / "dbt_target"),
        "CHURNGUARD_DBT_LOG_PATH": str(root / "dbt_logs"),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        run_dbt(dbt_args or ["build"], warehouse=warehouse, dbt_vars=dbt_vars, capture=True)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return warehouse


SAMPLE_BUILD = ["build", "--exclude-resource-type", "test"]
"""Seeds, models and dbt's unit tests. Not the ~1,000 data tests: no test reads their
results from this warehouse, and they run on the sample in every `churnguard run` test
(test_seed_changes, test_orchestration_pipeline, test_orchestration_day_after)."""


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path, worker_id: str) -> Path:
    """The committed sample loaded and built (SAMPLE_BUILD: seeds, models and unit tests).

    Built once per test session, shared by the xdist workers (the first to ask builds it
    under a file lock, the others wait and reuse it): tests must open it read-only."""
    if worker_id == "master":  # not under xdist
        return build_warehouse(sample_dir, tmp_path_factory.mktemp("sample_warehouse"), SAMPLE_BUILD)
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent / "shared_sample_warehouse"
    done = shared / "built"
    with FileLock(str(shared) + ".lock"):
        if not done.exists():
            shutil.rmtree(shared, ignore_errors=True)
            build_warehouse(sample_dir, shared, SAMPLE_BUILD)
            done.write_text("ok")
    return shared / "churnguard.duckdb"


def copy_warehouse(source: Path, destination_dir: Path) -> Path:
    destination_dir.mkdir(parents=True, exist_ok=True)
    target = destination_dir / source.name
    shutil.copy(source, target)
    return target


def table_differences(a: Path, b: Path, tables: list[tuple[str, str]]) -> dict[str, tuple[int, int, int]]:
    """{schema.table: (rows in a, rows only in a, rows only in b)}, comparing two DuckDB
    warehouse files with EXCEPT ALL both ways (read-only)."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute(f"attach '{a}' as a (read_only)")
        con.execute(f"attach '{b}' as b (read_only)")
        result = {}
        for schema, name in tables:
            left, right = f'a."{schema}"."{name}"', f'b."{schema}"."{name}"'
            rows = con.execute(f"select count(*) from {left}").fetchone()[0]
            only_a = con.execute(f"select count(*) from (select * from {left} except all select * from {right})").fetchone()[0]
            only_b = con.execute(f"select count(*) from (select * from {right} except all select * from {left})").fetchone()[0]
            result[f"{schema}.{name}"] = (rows, only_a, only_b)
    finally:
        con.close()
    return result


def identical(result: dict[str, tuple[int, int, int]]) -> bool:
    return all(only_a == 0 and only_b == 0 for _, only_a, only_b in result.values())
