"""A private copy of the project (package, dbt project, reference seeds, expectations)
under a temporary folder, so that a test can change a seed or a model setting and run
the real pipeline without touching the working tree other tests read."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
_IGNORE = shutil.ignore_patterns("target", "logs", "__pycache__", "*.duckdb", "dbt_packages", ".user.yml")


def copy_project(destination: Path) -> Path:
    """Copy what `churnguard run` reads into ``destination``; returns its root."""
    destination.mkdir(parents=True, exist_ok=True)
    for folder in ["orchestration", "dbt_project", "expectations", "seeds/reference"]:
        shutil.copytree(REPO_ROOT / folder, destination / folder, ignore=_IGNORE)
    shutil.copy(REPO_ROOT / "pyproject.toml", destination / "pyproject.toml")
    return destination


def run_churnguard(root: Path, args: list[str], work: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    """`churnguard <args>` from the copy under ``root`` (its own package first on the path),
    with the warehouse, dbt target and log folders under ``work``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root / "orchestration")
    env["CHURNGUARD_WAREHOUSE"] = str(work / "churnguard.duckdb")
    env["CHURNGUARD_DBT_TARGET_PATH"] = str(work / "dbt_target")
    env["CHURNGUARD_DBT_LOG_PATH"] = str(work / "dbt_logs")
    env.pop("CHURNGUARD_DAGSTER_HOME", None)
    # the bundled sample ends in 2025: from a copied project it is not recognised as the
    # sample, so the stale-data guard would block its delivery
    env.setdefault("CHURNGUARD_OVERRIDE_STALE_DATA", "test run on the bundled historical sample")
    # `-m`, not `-c`: with pyspark installed (churnguard[spark]) Great Expectations imports
    # pyspark.sql.connect, whose dependency check calls sys.exit(0) in a `python -c` process
    return subprocess.run([sys.executable, "-m", "churnguard.cli", *args], cwd=work, env=env, capture_output=True,
                          text=True, timeout=timeout)
