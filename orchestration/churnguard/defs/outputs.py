"""The gate as a node, and what readers get after each successful run.

- ``quality_gate`` (group ``quality``): the Great Expectations gate made visible in the
  lineage. The suites run as blocking asset checks on the marts (`churnguard.defs.quality`);
  this asset sits downstream of the gated marts, so it materializes only when those checks
  passed, and records their results (and the Data Docs link) as metadata. The alert-list
  delivery and the published marts depend on it, so the lineage reads
  marts -> quality_gate -> delivery.

- ``published_marts`` (group ``delivery``): a read-only copy of the marts in a DuckDB file
  that DuckDB 1.0+ clients read, swapped atomically (`churnguard.publish`). It depends on
  every mart, so it runs only when they were all built, and after the blocking Great
  Expectations checks on them passed.
- ``run_report`` (group ``delivery``): the static HTML report (`churnguard.report`) drawn
  from the published copy; its path and a ``file://`` link are the asset's metadata.
"""

# No `from __future__ import annotations`: Dagster reads the resource annotations.
from typing import Iterable

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult, MetadataValue, asset

from churnguard import settings
from churnguard.defs.config import WAREHOUSE_POOL
from churnguard.defs.warehouse import WarehouseResource

GATE_ASSET = AssetKey("quality_gate")
QUALITY_GROUP = "quality"
GX_CHECK_NAMES = ("gx_integrity", "gx_volume")
PUBLISHED_ASSET = AssetKey("published_marts")
REPORT_ASSET = AssetKey("run_report")
DELIVERY_GROUP = "delivery"


def mart_keys(assets: Iterable[AssetsDefinition]) -> list[AssetKey]:
    """The dbt assets whose dbt folder is under ``marts/`` (what the published copy holds)."""
    keys = []
    for assets_def in assets:
        for spec in assets_def.specs:
            folder = spec.metadata.get("dbt_folder")
            folder = getattr(folder, "value", folder)
            if isinstance(folder, str) and (folder == "marts" or folder.startswith("marts/")):
                keys.append(spec.key)
    return sorted(set(keys), key=lambda k: k.to_user_string())


def with_gate_dependency(assets_def: AssetsDefinition) -> AssetsDefinition:
    """``assets_def`` with ``quality_gate`` as an extra upstream (the delivery waits for the gate node)."""
    from dagster import AssetDep

    return assets_def.map_asset_specs(
        lambda spec: spec.replace_attributes(deps=[*spec.deps, AssetDep(GATE_ASSET)])
    )


def build_gate_asset(gated: Iterable[AssetKey]) -> AssetsDefinition:
    @asset(
        key=GATE_ASSET,
        deps=list(gated),
        group_name=QUALITY_GROUP,
        kinds={"great_expectations"},
        description=(
            "The quality gate: materializes only when the blocking Great Expectations checks on the alert list "
            "and the marts it rests on passed (gx_integrity, gx_volume). Delivery and publication wait for it."
        ),
    )
    def quality_gate(context: AssetExecutionContext):
        from dagster import DagsterEventType

        results = {}
        for record in context.instance.all_logs(context.run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
            data = record.get_dagster_event().event_specific_data
            if data.check_name in GX_CHECK_NAMES:
                results[f"{data.asset_key.to_user_string()} {data.check_name}"] = data.passed
        passed = sum(results.values())
        context.log.info(f"quality gate open: {passed} of {len(results)} Great Expectations checks passed in this run")
        metadata = {
            "checks_passed": MetadataValue.int(passed),
            "checks_evaluated": MetadataValue.int(len(results)),
            "checks": MetadataValue.md(
                "| check | passed |\n|---|---|\n"
                + "\n".join(f"| {name} | {'yes' if ok else 'no (warning only)'} |" for name, ok in sorted(results.items()))
                if results else "_No Great Expectations check ran in this run._"
            ),
        }
        docs = settings.warehouse_path().parent / "data_docs" / "index.html"
        if docs.exists():
            metadata["data_docs"] = MetadataValue.url(docs.resolve().as_uri())
        return MaterializeResult(metadata=metadata)

    return quality_gate


def build_output_assets(marts: Iterable[AssetKey], gate: AssetKey | None = None) -> list[AssetsDefinition]:
    deps = [*marts, *([gate] if gate is not None else [])]

    @asset(
        key=PUBLISHED_ASSET,
        deps=deps,
        group_name=DELIVERY_GROUP,
        pool=WAREHOUSE_POOL,
        kinds={"duckdb"},
        description=(
            "Read-only copy of every mart for BI tools: <warehouse folder>/published/churnguard_marts.duckdb, "
            "DuckDB storage v1.0.0 (DuckDB 1.0+ clients read it), replaced atomically after each successful "
            "run, so readers never meet the nightly run's lock or a half-written mart."
        ),
    )
    def published_marts(context: AssetExecutionContext, warehouse: WarehouseResource):
        from churnguard import warehouse_sql
        from churnguard.publish import publish_marts

        if warehouse_sql.engine() != "duckdb":  # BI tools read that engine's marts directly
            where = warehouse_sql.describe_target()
            context.log.info(f"published marts skipped: BI tools read the marts directly in {where}")
            return MaterializeResult(metadata={"skipped": MetadataValue.text(f"not a DuckDB warehouse: read {where}")})

        with warehouse.write_lock(context, "publish the marts"):  # nobody writes the warehouse while we copy
            publication = publish_marts(warehouse.path, run_id=context.run.run_id)
        context.log.info(publication.describe())
        return MaterializeResult(
            metadata={
                "path": MetadataValue.path(str(publication.path)),
                "marts": MetadataValue.int(len(publication.tables)),
                "dagster/row_count": MetadataValue.int(sum(publication.tables.values())),
                "as_of_date": MetadataValue.text(publication.as_of_date or "unknown"),
                "storage_version": MetadataValue.text("v1.0.0 (DuckDB 1.0+)"),
                "rows_per_mart": MetadataValue.md(
                    "| mart | rows |\n|---|---|\n"
                    + "\n".join(f"| {name} | {rows:,} |" for name, rows in sorted(publication.tables.items()))
                ),
            }
        )

    @asset(
        key=REPORT_ASSET,
        deps=[PUBLISHED_ASSET],
        group_name=DELIVERY_GROUP,
        kinds={"html"},
        description=(
            "Static HTML report of the run (<warehouse folder>/report/index.html, no internet needed): health "
            "tiers over time, KPI trends against targets, the alert funnel, the backtest's AUC and lift."
        ),
    )
    def run_report(context: AssetExecutionContext):
        from churnguard.publish import published_path
        from churnguard.report import build_report, report_path

        from churnguard import warehouse_sql

        warehouse = settings.warehouse_path()
        source = published_path(warehouse) if warehouse_sql.engine() == "duckdb" else None  # None: the engine itself
        report = build_report(source, report_path(warehouse), run_id=context.run.run_id)
        context.log.info(f"report: {report.url} ({len(report.charts)} charts)")
        metadata = {
            "path": MetadataValue.path(str(report.path)),
            "report": MetadataValue.url(report.url),
            "charts": MetadataValue.int(len(report.charts)),
        }
        funnel = report.charts.get("alert_funnel")
        if funnel is not None:
            for row in funnel.rows:
                metadata[f"alerts_{row['stage']}"] = MetadataValue.int(row["episodes"])
        return MaterializeResult(metadata=metadata)

    return [published_marts, run_report]
