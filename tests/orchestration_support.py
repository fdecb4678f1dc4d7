"""Shared by the test_orchestration*.py modules: one parsed dbt manifest per test process.

Definitions need dbt's manifest; parsing takes ~10 s. Each pytest(-xdist) worker parses
once into its own temporary folder, and every orchestration test points
CHURNGUARD_DBT_TARGET_PATH at it. Runs against different warehouses keep their dbt
artifacts apart (``<target>/dagster/<warehouse hash>/<step>``), so sharing is safe.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from churnguard.defs.dbt_project import prepare_manifest

_SHARED_TARGET: Path | None = None


def shared_dbt_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    global _SHARED_TARGET
    if _SHARED_TARGET is None:
        _SHARED_TARGET = tmp_path_factory.mktemp("orchestration_dbt_target")
    prepare_manifest(_SHARED_TARGET)  # parses only when missing or older than the dbt project
    return _SHARED_TARGET


@pytest.fixture
def dbt_target_env(isolated_warehouse: Path, tmp_path_factory: pytest.TempPathFactory,
                   monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's warehouse (``isolated_warehouse``) with the process's shared dbt target."""
    target = shared_dbt_target(tmp_path_factory)
    monkeypatch.setenv("CHURNGUARD_DBT_TARGET_PATH", str(target))
    return target
