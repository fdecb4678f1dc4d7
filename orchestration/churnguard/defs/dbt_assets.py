"""Every dbt model as a Dagster asset, in four dbt invocations per run (step names say what
they build):

0. ``dbt_seed_reference_data``: the reference seeds (health tiers, warning rules,
   playbooks...) and their tests. A step of its own: mixed into the next one, Dagster split
   that step in two and called the seeds' half ``dbt_models_2``.
1. ``dbt_build_staging_and_dimensions`` (unpartitioned): every model and snapshot that is
   *not* an incremental model or downstream of one: staging and intermediate views,
   utilities, dimensions such as ``dim_customers``.
2. ``dbt_build_daily_facts`` (daily partitions, single-run backfill policy): the incremental
   models (``config.materialized:incremental``: ``fct_customer_day``, the daily health
   scores, any model built per day) and the models between two of them. A run over a partition range runs ``dbt build`` once with the range's
   ``start_date``/``end_date`` as vars (see `churnguard.defs.partitions`).
3. ``dbt_build_alerts_and_kpis`` (unpartitioned): everything downstream of the incremental
   models (health scores, alert lists, KPI marts), rebuilt after them.

The split is by dbt selection, so a new model lands in the right place by its lineage.
Each invocation is ``dbt build`` (models and their tests: every dbt test is an asset check;
a failing ``error`` test fails the step, so nothing downstream runs), holds the warehouse
lock and sits in the ``churnguard_warehouse`` pool. Progress is logged per model as dbt
finishes it; row counts and previews are added once dbt has exited (DuckDB lets one
process at a time open the file).
"""

# No `from __future__ import annotations`: Dagster reads the config/resource annotations.
import json
import subprocess
import time
from datetime import date
from typing import Any, Iterable, Mapping, Optional, Sequence

import duckdb
from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    Config,
    DailyPartitionsDefinition,
    Output,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from dagster_dbt.utils import select_unique_ids
from pydantic import Field

from churnguard.defs.config import WAREHOUSE_POOL
from churnguard.defs.dbt_project import newest_source_mtime, run_target_path
from churnguard.defs.locking import retry_while_open_elsewhere
from churnguard.defs.metadata import model_metadata
from churnguard import data_test_scope, history_batches, settings, warehouse_sql
from churnguard.dbt_cli import RUN_ENV_PREFIX, run_dbt, run_settings_in_environ, split_run_settings
from churnguard.defs.partitions import HISTORY_FLOOR, dbt_window_vars, window_dates
from churnguard.defs.warehouse import WarehouseResource, WarehouseUnavailableError

INCREMENTAL = history_batches.INCREMENTAL
DAILY_SELECT = history_batches.DAILY_SELECT
DBT_SEEDS = "dbt_seed_reference_data"
DBT_MODELS = "dbt_build_staging_and_dimensions"
DBT_DAILY_MODELS = "dbt_build_daily_facts"
DBT_MODELS_AFTER_DAILY = "dbt_build_alerts_and_kpis"
SEEDS_SELECT = "resource_type:seed"


class DbtBuildConfig(Config):
    full_refresh: bool = Field(default=False, description="run dbt build --full-refresh (rebuild incremental models)")
    tests: str = Field(
        default="auto",
        description="rows the dbt data tests read: full (every row), window (the days this run wrote) or auto "
        "(window on a built warehouse, full when new, on a full refresh and on CHURNGUARD_FULL_TESTS_WEEKDAY); "
        "the run tag churnguard/tests, set by the schedule and `churnguard run`, takes precedence",
    )


def _selected(manifest: Mapping[str, Any], project: DbtProject, select: str, exclude: str) -> set[str]:
    ids = select_unique_ids(select=select, exclude=exclude, selector="", project=project, manifest_json=manifest)
    return {i for i in ids if i.split(".")[0] in ("model", "seed", "snapshot")}


def _nodes_by_key(manifest: Mapping[str, Any], project: DbtProject, translator: DagsterDbtTranslator) -> dict[AssetKey, Mapping[str, Any]]:
    return {
        translator.get_asset_spec(manifest, unique_id, project).key: node
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] in ("model", "seed", "snapshot")
    }


def _duration(event: Output) -> str:
    value = event.metadata.get("Execution Duration")
    seconds = getattr(value, "value", value)
    return f" in {float(seconds):.1f}s" if isinstance(seconds, (int, float)) else ""


def run_dbt_build(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    build_config: DbtBuildConfig,
    nodes_by_key: Mapping[AssetKey, Mapping[str, Any]],
    project: DbtProject,
    loaded_at: float,
    dbt_vars: Optional[Mapping[str, str]] = None,
    window: Optional[tuple[date, date]] = None,
    exclude: Sequence[str] = (),
) -> Iterable[Any]:
    """``dbt build`` for the selected assets, under the warehouse lock; yields Dagster events."""
    step = context.op_def.name
    args = ["build"]
    if build_config.full_refresh:
        args.append("--full-refresh")
    if exclude:  # kept by dagster-dbt even when it subsets the selection (see _op_excludes)
        args += ["--exclude", " ".join(exclude)]
    events: list[Any] = []
    failure: Optional[BaseException] = None
    started = time.monotonic()
    if newest_source_mtime() > loaded_at:
        context.log.warning(
            "the dbt project changed after these definitions were loaded; new or renamed models are "
            "not assets yet: reload the code location (or restart `churnguard ui`)"
        )
    with warehouse.write_lock(context, f"dbt build ({step})"):
        requested = context.run.tags.get(data_test_scope.RUN_TAG) or build_config.tests
        scope = data_test_scope.choose(warehouse.path, requested, full_refresh=build_config.full_refresh)
        # the window and test scope go to dbt as environment variables: --vars that change
        # every run would discard dbt's partial parse (churnguard.dbt_cli)
        settings_env, other_vars = split_run_settings({**dict(dbt_vars or {}), "test_scope": scope})
        if other_vars:
            args += ["--vars", json.dumps(other_vars)]
        if scope == "window":
            context.log.info("data tests read the build window only (test_scope window); unit tests skipped")
        args += data_test_scope.dbt_build_args(scope)
        target = run_target_path(project, warehouse.path, step)
        if warehouse.path.exists() and settings.target_engine() == "duckdb":  # a reader holding the file would fail dbt
            retry_while_open_elsewhere(
                lambda: duckdb.connect(str(warehouse.path)).close(), warehouse.path, on_wait=context.log.warning
            )
        shown = " ".join(f"{name[len(RUN_ENV_PREFIX):].lower()}={value}" for name, value in settings_env.items() if value)
        context.log.info(f"dbt {' '.join(args)} ({shown})  [{len(context.selected_asset_keys)} models]")
        checks_passed = checks_failed = 0
        with run_settings_in_environ(settings_env):  # dagster-dbt copies the environment when dbt starts
            invocation = dbt.cli(args, context=context, target_path=target)
        try:
            for event in invocation.stream():
                if isinstance(event, Output):
                    key = context.asset_key_for_output(event.output_name)
                    context.log.info(f"built {key.to_user_string()}{_duration(event)}")
                elif isinstance(event, AssetCheckResult):
                    if event.passed:
                        checks_passed += 1
                    else:
                        checks_failed += 1
                        context.log.warning(
                            f"dbt test failed: {event.check_name} on {event.asset_key.to_user_string() if event.asset_key else '?'}"
                        )
                events.append(event)
        except Exception as error:  # dbt failed: still report what it built, then fail the step
            failure = error
            _stop(invocation.process)  # never leave dbt writing the file after the step gave up
        context.log.info(
            f"dbt finished in {time.monotonic() - started:.1f}s: "
            f"{sum(isinstance(e, Output) for e in events)} models, {checks_passed} tests passed, {checks_failed} failed"
        )
        enriched = list(_with_metadata(context, events, nodes_by_key, warehouse, window))
    yield from enriched
    if failure is not None:
        raise failure


def build_earlier_batches(
    context: AssetExecutionContext,
    warehouse: WarehouseResource,
    build_config: DbtBuildConfig,
    project: DbtProject,
    dbt_vars: Mapping[str, str],
    exclude: Sequence[str],
) -> tuple[dict[str, str], DbtBuildConfig]:
    """A long window of the daily models in batches of days (`churnguard.history_batches`):
    ``dbt run`` of every batch but the last, here; returns the vars and config of the step's
    own ``dbt build`` of the last batch (no --full-refresh: the first batch made the tables;
    its data tests read the whole window). A window that fits, or a subset of the daily
    assets, is returned unchanged: one pass."""
    unchanged = (dict(dbt_vars), build_config)
    if set(context.selected_asset_keys) != set(context.assets_def.keys):
        return unchanged
    start = None if dbt_vars["start_date"] == HISTORY_FLOOR else date.fromisoformat(dbt_vars["start_date"])
    end = date.fromisoformat(dbt_vars["end_date"])
    try:
        with warehouse.read_only() as con:
            batches = history_batches.plan(con, start, end)
    except WarehouseUnavailableError as error:
        context.log.warning(f"history batches not planned ({error}): one pass")
        return unchanged
    if len(batches) <= 1:
        return unchanged
    context.log.info(history_batches.describe_plan(batches))
    requested = context.run.tags.get(data_test_scope.RUN_TAG) or build_config.tests
    scope = data_test_scope.choose(warehouse.path, requested, full_refresh=build_config.full_refresh)
    target = run_target_path(project, warehouse.path, context.op_def.name)
    select = ["--select", DAILY_SELECT] + (["--exclude", *exclude] if exclude else [])
    with warehouse.write_lock(context, f"dbt run ({context.op_def.name}, history batches)"):
        for number, (first, last), batch_vars, refresh in history_batches.earlier_batches(
            batches, dict(dbt_vars), build_config.full_refresh
        ):
            started = time.monotonic()
            run_dbt(["run", *refresh, *select, "--target-path", str(target)], warehouse=warehouse.path,
                    dbt_vars=batch_vars, capture=True)
            context.log.info(f"batch {number}/{len(batches)}: {first} .. {last} built in {time.monotonic() - started:.1f}s")
    final_vars = history_batches.last_batch_vars(batches, dict(dbt_vars))
    return final_vars, build_config.model_copy(update={"full_refresh": False, "tests": scope})


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _with_metadata(context, events, nodes_by_key, warehouse: WarehouseResource, window) -> Iterable[Any]:
    outputs = [e for e in events if isinstance(e, Output)]
    extra: dict[str, dict] = {}
    if outputs:
        try:
            with warehouse.read_only() as con:
                for event in outputs:
                    key = context.asset_key_for_output(event.output_name)
                    node = nodes_by_key.get(key)
                    if node is None:
                        continue
                    try:
                        extra[event.output_name] = model_metadata(con, node, window)
                    except warehouse_sql.ERRORS as error:  # metadata is a courtesy: never fail the step for it
                        context.log.warning(f"no metadata for {key.to_user_string()}: {error}")
        except WarehouseUnavailableError as error:
            context.log.warning(f"no row counts for this step: {error}")
    for event in events:
        if isinstance(event, Output) and extra.get(event.output_name):
            yield event.with_metadata({**event.metadata, **extra[event.output_name]})
        else:
            yield event


def daily_tables(assets: Iterable[AssetsDefinition]) -> list[tuple[str, str]]:
    """(schema, table) of the incremental day-grain models: what the warehouse has built."""
    tables = []
    for assets_def in assets:
        if getattr(assets_def, "node_def", None) is None or assets_def.node_def.name != DBT_DAILY_MODELS:
            continue
        for spec in assets_def.specs:
            materialized = spec.metadata.get("dagster-dbt/materialization_type")
            table = spec.metadata.get("dagster/table_name")
            if getattr(materialized, "value", materialized) == "incremental" and table is not None:
                *_, schema, name = str(getattr(table, "value", table)).split(".")
                tables.append((schema, name))
    return sorted(tables)


def _op_excludes(manifest: Mapping[str, Any], project: DbtProject) -> dict[str, list[str]]:
    """What each dbt invocation must never run, even when dagster-dbt subsets it.

    A subsetted run selects models explicitly and dbt then adds, by its eager indirect
    selection, every test with *one* selected parent: a ``relationships`` test from
    ``fct_customer_day`` to ``dim_customers`` would run with ``dim_customers``, before the facts
    exist. Excluding the later invocations' models and their descendants (tests included)
    keeps every test in the invocation that builds all its parents.
    """
    after = _selected(manifest, project, f"{INCREMENTAL}+", DAILY_SELECT)
    return {
        DBT_SEEDS: [],
        DBT_MODELS: [f"{INCREMENTAL}+", SEEDS_SELECT],
        DBT_DAILY_MODELS: sorted(f"{manifest['nodes'][unique_id]['name']}+" for unique_id in after),
        DBT_MODELS_AFTER_DAILY: [],
    }


def build_dbt_assets(
    manifest: Mapping[str, Any],
    project: DbtProject,
    translator: DagsterDbtTranslator,
    partitions_def: DailyPartitionsDefinition,
) -> list[AssetsDefinition]:
    nodes_by_key = _nodes_by_key(manifest, project, translator)
    loaded_at = time.time()
    excludes = _op_excludes(manifest, project)
    assets: list[AssetsDefinition] = []
    common = dict(manifest=manifest, project=project, dagster_dbt_translator=translator, pool=WAREHOUSE_POOL)

    if _selected(manifest, project, SEEDS_SELECT, f"{INCREMENTAL}+"):

        @dbt_assets(name=DBT_SEEDS, select=SEEDS_SELECT, exclude=f"{INCREMENTAL}+", **common)
        def dbt_seed_reference_data(
            context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource, config: DbtBuildConfig
        ):
            """dbt seeds: the reference tables of the health score, alerts and playbooks, with their tests."""
            yield from run_dbt_build(
                context, dbt, warehouse, config, nodes_by_key, project, loaded_at, exclude=excludes[DBT_SEEDS]
            )

        assets.append(dbt_seed_reference_data)

    upstream = ("fqn:*", f"{INCREMENTAL}+ {SEEDS_SELECT}")
    if _selected(manifest, project, *upstream):

        @dbt_assets(name=DBT_MODELS, select=upstream[0], exclude=upstream[1], **common)
        def dbt_build_staging_and_dimensions(
            context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource, config: DbtBuildConfig
        ):
            """dbt models not downstream of the daily facts (views, utilities, dimensions)."""
            yield from run_dbt_build(
                context, dbt, warehouse, config, nodes_by_key, project, loaded_at, exclude=excludes[DBT_MODELS]
            )

        assets.append(dbt_build_staging_and_dimensions)

    if _selected(manifest, project, DAILY_SELECT, ""):

        @dbt_assets(
            name=DBT_DAILY_MODELS,
            select=DAILY_SELECT,
            partitions_def=partitions_def,
            backfill_policy=BackfillPolicy.single_run(),
            **common,
        )
        def dbt_build_daily_facts(
            context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource, config: DbtBuildConfig
        ):
            """Incremental, day-partitioned dbt models; one dbt build per partition range."""
            time_window = context.partition_time_window
            dbt_vars = dbt_window_vars(time_window, partitions_def)
            window = window_dates(time_window)
            first = "the start of history" if dbt_vars["start_date"] == HISTORY_FLOOR else dbt_vars["start_date"]
            context.log.info(f"partitions {window[0]} .. {window[1]}: building days from {first} to {dbt_vars['end_date']}")
            final_vars, final_config = build_earlier_batches(
                context, warehouse, config, project, dbt_vars, excludes[DBT_DAILY_MODELS]
            )
            yield from run_dbt_build(
                context, dbt, warehouse, final_config, nodes_by_key, project, loaded_at, final_vars, window,
                exclude=excludes[DBT_DAILY_MODELS],
            )

        assets.append(dbt_build_daily_facts)

    downstream = (f"{INCREMENTAL}+", DAILY_SELECT)
    if _selected(manifest, project, *downstream):

        @dbt_assets(name=DBT_MODELS_AFTER_DAILY, select=downstream[0], exclude=downstream[1], **common)
        def dbt_build_alerts_and_kpis(
            context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource, config: DbtBuildConfig
        ):
            """dbt models downstream of the daily facts (health, alerts, KPIs), rebuilt after them."""
            yield from run_dbt_build(context, dbt, warehouse, config, nodes_by_key, project, loaded_at)

        assets.append(dbt_build_alerts_and_kpis)
    return assets
