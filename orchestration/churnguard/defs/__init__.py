"""churnguard's Dagster code: the asset graph, nightly job, schedule, sensors, resources.

Entry point: ``churnguard.definitions`` (``dagster dev -m churnguard.definitions``,
``dg dev``, ``churnguard ui``). `build_definitions` assembles:

- ``raw`` group: `raw.build_raw_assets`, one multi-asset loading the 14 raw tables;
- dbt models, grouped by dbt folder with owners from dbt meta (`translator`), in three
  dbt invocations (`dbt_assets`): models before the daily facts, the daily-partitioned
  incremental facts, and the models after them; every dbt test is an asset check;
- the Great Expectations checks on the marts and the ``alert_list_delivery`` asset
  (`quality`, `delivery`), downstream of the alert marts;
- ``published_marts`` (a read-only copy of the marts for BI tools) and ``run_report`` (the
  static HTML report), downstream of every mart (`outputs`);
- the nightly job over all assets (`jobs`), its 02:00 schedule (`schedules`) and the
  run-failure webhook sensor (`sensors`), both running by default;
- resources: ``dbt`` (dagster-dbt, the venv's dbt) and ``warehouse`` (`warehouse`).

Every asset that writes the warehouse sits in the concurrency pool ``churnguard_warehouse``
(limit 1 in the instances churnguard creates, see `instance`) and holds the warehouse's file
lock (`locking`) while it writes.

Adding assets downstream: depend on dbt models by key (the model name,
``AssetKey("current_alert_list")``), use ``pool=WAREHOUSE_POOL`` and the ``warehouse``
resource's ``write_lock`` if they write the warehouse, and add them in `build_definitions`;
the nightly job selects all assets, so they run in it.

Environment variables: see `churnguard.defs.config`.
"""

from __future__ import annotations

from pathlib import Path

from dagster import Definitions

from churnguard.defs.config import WAREHOUSE_POOL

__all__ = ["WAREHOUSE_POOL", "build_definitions"]


def build_definitions(dbt_target_path: Path | None = None, raw_dir: Path | None = None) -> Definitions:
    """The code location's definitions (parses the dbt project first when needed).

    The daily partitions span the data's own history (`churnguard.defs.clock`): read from
    ``raw_dir`` when given (the folder a run is about to load), else from the warehouse.
    """
    from churnguard import settings
    from churnguard.defs.clock import data_clock
    from churnguard.defs.dbt_assets import DBT_DAILY_MODELS, build_dbt_assets, daily_tables
    from churnguard.defs.dbt_project import dbt_project, dbt_resource, load_manifest
    from churnguard.defs.delivery import delivery_definitions
    from churnguard.defs.jobs import build_nightly_job
    from churnguard.defs.delivery import GATED_MARTS
    from churnguard.defs.outputs import GATE_ASSET, build_gate_asset, build_output_assets, mart_keys, with_gate_dependency
    from churnguard.defs.partitions import daily_partitions
    from churnguard.defs.freshness import build_freshness_checks
    from churnguard.defs.raw import build_raw_assets, raw_keys_by_table
    from churnguard.defs.schedules import build_nightly_schedule
    from churnguard.defs.sensors import notify_run_failure
    from churnguard.defs.translator import ChurnguardDbtTranslator
    from churnguard.defs.instance import enable_event_batches
    from churnguard.defs.warehouse import WarehouseResource

    enable_event_batches()  # the process that runs the job stores Dagster's events in batches

    manifest = load_manifest(dbt_target_path)
    project = dbt_project(dbt_target_path)
    clock = data_clock(settings.warehouse_path(), raw_dir)
    translator = ChurnguardDbtTranslator(live_data=clock.live)
    partitions_def = daily_partitions(clock=clock)
    dbt_defs = build_dbt_assets(manifest, project, translator, partitions_def)
    daily_keys = [key for a in dbt_defs if a.node_def.name == DBT_DAILY_MODELS for key in a.keys]
    nightly_job = build_nightly_job()
    dbt_keys = [key for a in dbt_defs for key in a.keys]
    delivery = delivery_definitions(dbt_keys)  # GX checks + alert_list_delivery
    gated = [key for key in dbt_keys if key.path[-1] in GATED_MARTS]
    gate = [build_gate_asset(gated)] if gated else []
    delivery_assets = [with_gate_dependency(a) for a in delivery.assets] if gate else list(delivery.assets)
    outputs = build_output_assets(mart_keys(dbt_defs), GATE_ASSET if gate else None)  # published marts + report
    raw = build_raw_assets(manifest, project, translator)
    freshness = build_freshness_checks(raw_keys_by_table(raw))  # source_freshness on each raw table
    return Definitions(
        assets=[raw, *dbt_defs, *gate, *delivery_assets, *outputs],
        asset_checks=[*delivery.asset_checks, *([freshness] if freshness else [])],
        jobs=[nightly_job],
        schedules=[build_nightly_schedule(nightly_job, partitions_def, daily_keys, daily_tables(dbt_defs))],
        sensors=[notify_run_failure],
        resources={"dbt": dbt_resource(project), "warehouse": WarehouseResource()},
    )
