"""The delivery asset and the quality checks in front of it, as one ``Definitions`` to merge.

- ``alert_list_delivery`` (group ``delivery``) syncs the alert list to every configured
  destination (`churnguard.delivery.engine.sync`; default: CSV and Parquet files under the
  warehouse folder). It depends on the marts the gate validates, whose blocking checks
  (`churnguard.defs.quality`) stop it when an expectation fails. It runs the gate once more
  while it holds the warehouse lock (the data cannot change between check and send) and
  writes ``delivery.sync_state`` / ``delivery.sync_runs`` with the Dagster run id.
- A destination that fails fails the asset (so the run-failure sensor reports it); the
  others are still delivered and everything is in the audit table.
- The volume override is the run tag ``churnguard/override_volume_check=<reason>``.
- Source freshness is checked by the sync (`churnguard.quality.freshness`): a raw table older
  than its error threshold blocks the delivery unless the run has the tag
  ``churnguard/override_stale_data=<reason>`` (or ``CHURNGUARD_OVERRIDE_STALE_DATA`` is set).

Merge with `delivery_definitions` (see ``churnguard.defs.build_definitions``).
"""

from __future__ import annotations

from typing import Iterable

from dagster import (
    AssetKey,
    Definitions,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from churnguard import settings
from churnguard.defs.config import WAREHOUSE_POOL
from churnguard.defs.quality import OVERRIDE_TAG, build_quality_checks, override_reason

DELIVERY_ASSET = AssetKey("alert_list_delivery")
STALE_OVERRIDE_TAG = "churnguard/override_stale_data"
GATED_MARTS = ("current_alert_list", "customer_alerts", "health_scores")


def build_delivery_asset(upstream: Iterable[AssetKey]):
    deps = list(upstream)

    @asset(
        key=DELIVERY_ASSET,
        deps=deps,
        group_name="delivery",
        pool=WAREHOUSE_POOL,
        kinds={"python"},
        description=(
            "Reverse-ETL of the alert list (marts.current_alert_list) to the configured destinations "
            "(churnguard.yml / CHURNGUARD_SYNC_*; default: files under the warehouse folder): only new, "
            "changed and closed alerts since the last successful sync. Blocked by the Great Expectations "
            f"checks; volume override: run tag {OVERRIDE_TAG}=<reason>."
        ),
    )
    def alert_list_delivery(context):  # no annotation: this module uses postponed annotations
        from churnguard.delivery.engine import sync

        reason = override_reason(context)
        if reason:
            context.log.warning(f"volume checks overridden for this run: {reason}")
        stale = str((context.run.tags or {}).get(STALE_OVERRIDE_TAG, "")).strip() or None
        if stale:
            context.log.warning(f"stale sources accepted for this run: {stale}")
        report = sync(
            settings.warehouse_path(),
            override_volume_reason=reason,
            override_stale_reason=stale,
            run_id=context.run.run_id,
            log=context.log.info,
        )
        summary = report.format()
        context.log.info(summary)
        metadata = {"summary": MetadataValue.md(f"```\n{summary}\n```")}
        if report.alert_count is not None:
            metadata["open_alerts"] = MetadataValue.int(report.alert_count)
        for d in report.destinations:
            metadata[f"{d.name}_status"] = MetadataValue.text(d.status)
            metadata[f"{d.name}_sent"] = MetadataValue.int(d.sent)
            metadata[f"{d.name}_updated"] = MetadataValue.int(d.updated)
            metadata[f"{d.name}_closed"] = MetadataValue.int(d.closed)
            metadata[f"{d.name}_failed"] = MetadataValue.int(d.failed)
        if report.gate is not None and report.gate.data_docs_index:
            metadata["data_docs"] = MetadataValue.path(report.gate.data_docs_index)
        if not report.ok:
            raise Failure(description=summary, metadata=metadata)
        return MaterializeResult(metadata=metadata)

    return alert_list_delivery


def delivery_definitions(asset_keys: Iterable[AssetKey]) -> Definitions:
    """Checks on the marts among ``asset_keys`` and, when the alert list exists, its delivery."""
    keys = list(asset_keys)
    checks = build_quality_checks(keys)
    by_name = {key.path[-1]: key for key in keys}
    assets = []
    if "current_alert_list" in by_name:
        assets.append(build_delivery_asset([by_name[n] for n in GATED_MARTS if n in by_name]))
    return Definitions(assets=assets, asset_checks=checks)
