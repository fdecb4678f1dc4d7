"""Paths and configuration, read from environment variables with documented defaults.

Nothing here opens a connection or touches the disk at import time.

| variable | default | meaning |
|---|---|---|
| ``CHURNGUARD_WAREHOUSE`` | ``<repo>/warehouse/churnguard.duckdb`` | DuckDB warehouse file |
| ``CHURNGUARD_CURRENCY`` | ``USD`` | the one reporting currency raw amounts must be in |
| ``CHURNGUARD_DBT_TARGET`` | ``duckdb`` | dbt target in ``dbt_project/profiles.yml`` |
| ``PGHOST`` ``PGPORT`` ``PGUSER`` ``PGPASSWORD`` ``PGDATABASE`` | ``localhost`` ``5432`` ``postgres`` (none) ``churnguard`` | the ``postgres`` target (dbt and the loader) |
| ``CHURNGUARD_SPARK_WAREHOUSE`` | ``<repo>/warehouse/spark`` | the ``spark`` target's tables and Derby metastore |
| ``CHURNGUARD_SPARK_MASTER`` | ``local[2]`` | the ``spark`` target's master |
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
SEEDS_DIR = PROJECT_ROOT / "seeds"
SAMPLE_DATA_DIR = SEEDS_DIR / "sample"
DEFAULT_WAREHOUSE = PROJECT_ROOT / "warehouse" / "churnguard.duckdb"


def warehouse_path() -> Path:
    """The DuckDB warehouse file (``CHURNGUARD_WAREHOUSE``)."""
    return Path(os.environ.get("CHURNGUARD_WAREHOUSE", str(DEFAULT_WAREHOUSE))).expanduser().resolve()


def reporting_currency() -> str:
    """ISO 4217 code every raw amount must be in (``CHURNGUARD_CURRENCY``)."""
    return os.environ.get("CHURNGUARD_CURRENCY", "USD").upper()


def dbt_target() -> str:
    return os.environ.get("CHURNGUARD_DBT_TARGET", "duckdb")


DEFAULT_SPARK_WAREHOUSE = PROJECT_ROOT / "warehouse" / "spark"
ENGINES = ("duckdb", "postgres", "spark")


def target_engine(target: str | None = None) -> str:
    """The engine (``duckdb``, ``postgres``, ``spark``) of a dbt target of ``dbt_project/profiles.yml``.

    Read from the output's ``type``; a target missing from the file (a user's own profiles
    directory) is taken by its name when that is an engine's name."""
    target = target or dbt_target()
    try:
        import yaml

        outputs = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())["churnguard"]["outputs"]
        kind = str(outputs[target]["type"])
    except (OSError, KeyError, TypeError):
        kind = target
    if kind not in ENGINES:
        raise ValueError(f"CHURNGUARD_DBT_TARGET={target!r}: churnguard loads into {', '.join(ENGINES)}, "
                         f"not {kind!r} (land the raw tables with your EL tool instead)")
    return kind


def postgres_conninfo() -> dict[str, str]:
    """Connection keywords for the ``postgres`` target, with the profile's defaults."""
    return {
        "host": os.environ.get("PGHOST", "localhost"),
        "port": os.environ.get("PGPORT", "5432"),
        "user": os.environ.get("PGUSER", "postgres"),
        "password": os.environ.get("PGPASSWORD", ""),
        "dbname": os.environ.get("PGDATABASE", "churnguard"),
        "sslmode": os.environ.get("PGSSLMODE", "prefer"),
    }


def spark_warehouse_dir() -> Path:
    """Where the ``spark`` target keeps its tables and metastore (``CHURNGUARD_SPARK_WAREHOUSE``)."""
    return Path(os.environ.get("CHURNGUARD_SPARK_WAREHOUSE", str(DEFAULT_SPARK_WAREHOUSE))).expanduser().resolve()


def spark_conf() -> dict[str, str]:
    """The Spark session settings of the ``spark`` target (the same as profiles.yml's)."""
    wh = spark_warehouse_dir()
    return {
        "spark.master": os.environ.get("CHURNGUARD_SPARK_MASTER", "local[2]"),
        "spark.sql.warehouse.dir": str(wh),
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={wh}/metastore_db;create=true",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={wh}",
        "spark.driver.memory": os.environ.get("CHURNGUARD_SPARK_DRIVER_MEMORY", "4g"),
        "spark.sql.shuffle.partitions": os.environ.get("CHURNGUARD_SPARK_SHUFFLE_PARTITIONS", "4"),
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.ansi.enabled": "false",
        # adaptive execution re-plans the health models' plans of hundreds of stages after
        # every stage: minutes of planning for nothing on a local session (docs/DECISIONS.md)
        "spark.sql.adaptive.enabled": os.environ.get("CHURNGUARD_SPARK_ADAPTIVE", "false"),
    }


def whole_days_setting(name: str, default: int, error: type[Exception] = ValueError) -> int:
    """The environment variable ``name`` as a whole number of days, at least 1 (``default`` when
    unset or empty); a bad value raises ``error`` with a message naming the variable."""
    value = (os.environ.get(name) or "").strip()
    if not value:
        return default
    try:
        days = int(value)
    except ValueError:
        raise error(f"{name}={value!r} is not a whole number of days") from None
    if days < 1:
        raise error(f"{name}={value!r} must be at least 1")
    return days
