"""Raw ingestion: one multi-asset that loads the 14 raw tables of the contract.

Its asset keys are the dbt sources' keys (``crm/accounts``, ``billing/invoices``, ...), so
every staging model depends on the table it reads. The load is all or nothing (one
transaction, see ``churnguard.loader``), so the tables cannot be materialized separately.

Run config (``raw_data`` op, or the Launchpad):

- ``source: folder`` (default) loads ``data_dir``, default ``CHURNGUARD_RAW_DATA_DIR``
  (default: the committed sample in ``seeds/sample``);
- ``source: generate`` writes a synthetic dataset (``customers``, ``days``, ``seed``,
  ``start``) to a temporary folder and loads it.
"""

# No `from __future__ import annotations`: Dagster reads the config/resource annotations.
import tempfile
from datetime import date
from pathlib import Path
from typing import Any, Literal, Mapping, Optional

from dagster import AssetExecutionContext, AssetKey, AssetSpec, Config, Failure, MaterializeResult, MetadataValue, multi_asset
from dagster_dbt import DagsterDbtTranslator, DbtProject
from pydantic import Field

from churnguard.contract import file_stem, tables_in_load_order
from churnguard.defs.config import WAREHOUSE_POOL, raw_data_dir
from churnguard.defs.translator import RAW_GROUP
from churnguard.defs.warehouse import WarehouseResource

RAW_ASSETS_NAME = "raw_data"


class RawDataConfig(Config):
    source: Literal["folder", "generate"] = Field(
        default="folder", description="folder: load raw files from data_dir; generate: synthesize a dataset first"
    )
    data_dir: Optional[str] = Field(
        default=None, description="folder of raw files (default: CHURNGUARD_RAW_DATA_DIR, else the sample)"
    )
    customers: int = Field(default=250, description="generate: number of customers")
    days: int = Field(default=365, description="generate: days of history")
    seed: int = Field(default=42, description="generate: random seed")
    start: str = Field(default="2025-01-01", description="generate: first simulated day")


def _source_specs(manifest: Mapping[str, Any], project: DbtProject, translator: DagsterDbtTranslator) -> dict[tuple[str, str], AssetSpec]:
    """dbt source specs keyed by (schema, table name)."""
    specs = {}
    for unique_id, source in manifest.get("sources", {}).items():
        spec = translator.get_asset_spec(manifest, unique_id, project)
        specs[(source["schema"], source.get("identifier") or source["name"])] = spec
    return specs


def raw_asset_specs(manifest: Mapping[str, Any], project: DbtProject, translator: DagsterDbtTranslator) -> list[AssetSpec]:
    sources = _source_specs(manifest, project, translator)
    specs = []
    for table in tables_in_load_order():
        relation = f"{table.raw_schema}.{table.name}"
        source = sources.get((table.raw_schema, table.name))
        metadata = {
            key: value
            for key, value in (source.metadata if source else {}).items()
            if not key.startswith("dagster_dbt") and not key.startswith("dagster-dbt")
        }
        metadata["relation"] = MetadataValue.text(relation)
        metadata["raw_file"] = MetadataValue.text(f"{file_stem(table)}.csv | .csv.gz | .parquet | {file_stem(table)}/")
        specs.append(
            AssetSpec(
                key=source.key if source else AssetKey([table.system, table.name]),
                description=table.description,
                group_name=RAW_GROUP,
                owners=source.owners if source else None,
                metadata=metadata,
                kinds={"duckdb"},
            )
        )
    return specs


def raw_keys_by_table(raw_assets) -> dict[str, AssetKey]:
    """``{system.table: asset key}`` of the raw assets (``crm.accounts`` -> ``crm/accounts``)."""
    return {".".join(key.path): key for key in raw_assets.keys if len(key.path) == 2}


def build_raw_assets(manifest: Mapping[str, Any], project: DbtProject, translator: DagsterDbtTranslator):
    specs = raw_asset_specs(manifest, project, translator)
    key_by_table = {f"{t.system}.{t.name}": spec.key for t, spec in zip(tables_in_load_order(), specs)}

    @multi_asset(
        name=RAW_ASSETS_NAME,
        specs=specs,
        pool=WAREHOUSE_POOL,
        can_subset=False,
        description="Validate a folder of raw files against the contract and replace the raw tables (all or nothing).",
    )
    def raw_data(context: AssetExecutionContext, config: RawDataConfig, warehouse: WarehouseResource):
        from churnguard.loader import LoadError, load

        with tempfile.TemporaryDirectory(prefix="churnguard-generate-") as scratch:
            if config.source == "generate":
                from churnguard.generator import generate

                folder = Path(scratch) / "raw"
                context.log.info(f"generating {config.customers} customers x {config.days} days (seed {config.seed})")
                generate(
                    customers=config.customers, days=config.days, seed=config.seed, out_dir=folder,
                    start_date=date.fromisoformat(config.start), file_format="parquet",
                )
            else:
                folder = Path(config.data_dir).expanduser().resolve() if config.data_dir else raw_data_dir()
            context.log.info(f"loading raw data from {folder}")
            with warehouse.write_lock(context, f"raw data load from {folder}"):
                try:
                    report = load(folder, warehouse.path)
                except LoadError as error:
                    raise Failure(description=f"The raw data in {folder} was not loaded:\n{error}") from error
        for warning in report.warnings:
            context.log.warning(warning)
        total = sum(t.rows for t in report.tables.values())
        context.log.info(f"loaded {len(report.tables)} raw tables, {total:,} rows in {report.duration_seconds:.1f}s")
        for name, table in report.tables.items():
            yield MaterializeResult(
                asset_key=key_by_table[name],
                metadata={
                    "dagster/row_count": MetadataValue.int(table.rows),
                    "source": MetadataValue.text(str(folder / table.source)),
                    "format": MetadataValue.text(table.format),
                    "load_id": MetadataValue.text(report.load_id),
                },
            )

    return raw_data
