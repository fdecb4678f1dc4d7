"""Run the expectation suites against the warehouse and render Data Docs.

    result = run_gate(warehouse)                 # every suite
    result = run_gate(warehouse, suites=delivery_suite_names(), override_volume_reason="...")
    result.passed, result.blocking_failures, result.data_docs_index

- Each suite's query (``meta.churnguard.query``) is read with a **read-only** DuckDB
  connection into a pandas DataFrame (GX 1.x cannot validate DuckDB through SQLAlchemy),
  then validated by GX Core in an ephemeral context. A mart that does not exist fails its
  suite (kind integrity): a missing alert list must never be "delivered".
- Suite parameters come from configuration: alerting tiers, health tiers, reason codes and
  playbooks from the dbt seeds (the warehouse copy when dbt has loaded it, else the CSV in
  ``seeds/reference``); volume bounds from `volume`.
- Failed expectations carry up to ``SAMPLE_ROWS`` failing rows (from GX's unexpected index
  list) and the observed value of table-level expectations.
- Data Docs (HTML) are rendered to ``<warehouse folder>/data_docs/`` (or
  ``CHURNGUARD_DATA_DOCS_DIR``), with the gate result as ``latest_gate_result.json``.

| variable | default | meaning |
|---|---|---|
| ``CHURNGUARD_DATA_DOCS_DIR`` | ``<warehouse folder>/data_docs`` | where Data Docs are rendered |
| ``CHURNGUARD_QUALITY_HEALTH_DAYS`` | ``7`` | days of ``health_scores`` (ending at its latest day) the gate validates |
| ``CHURNGUARD_EXPECTATIONS_DIR`` | ``<repo>/expectations`` | folder of the suite JSON files |
"""

from __future__ import annotations

import csv
import math
import os
import time
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import duckdb

from churnguard import settings, warehouse_sql
from churnguard.delivery.permissions import apply_umask
from churnguard.quality import suites as suite_defs
from churnguard.quality.result import INTEGRITY, VOLUME, ExpectationFailure, GateResult, SuiteResult
from churnguard.quality.volume import VolumeConfig, active_customers, last_delivered_count, volume_parameters

SAMPLE_ROWS = 5
DEFAULT_HEALTH_DAYS = 7
SITE_NAME = "churnguard"
SEED_DIR = settings.SEEDS_DIR / "reference"


class WarehouseReadError(RuntimeError):
    """The warehouse cannot be read (missing, or a writer holds it open)."""


def data_docs_dir(warehouse: Path | None = None) -> Path:
    value = os.environ.get("CHURNGUARD_DATA_DOCS_DIR", "").strip()
    if value:
        return Path(value).expanduser().resolve()
    return Path(warehouse or settings.warehouse_path()).resolve().parent / "data_docs"


def expectations_dir() -> Path:
    value = os.environ.get("CHURNGUARD_EXPECTATIONS_DIR", "").strip()
    return Path(value).expanduser().resolve() if value else suite_defs.EXPECTATIONS_DIR


def health_days() -> int:
    return settings.whole_days_setting("CHURNGUARD_QUALITY_HEALTH_DAYS", DEFAULT_HEALTH_DAYS)


# --- reading --------------------------------------------------------------------------------


def _connect_read_only(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """The configured engine's warehouse, read-only (`churnguard.warehouse_sql`)."""
    if warehouse_sql.engine() == "duckdb" and not Path(warehouse).exists():
        raise WarehouseReadError(f"no warehouse at {warehouse}: run `churnguard run` first")
    try:
        return warehouse_sql.open_connection(warehouse, read_only=True)
    except warehouse_sql.WarehouseUnavailableError as error:
        if warehouse_sql.engine() != "duckdb":
            raise WarehouseReadError(str(error)) from error
        raise WarehouseReadError(
            f"cannot read {warehouse} read-only ({error.__cause__ or error}); another process is writing it: "
            "try again when it ends"
        ) from error


def _relation_exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, name = relation.split(".", 1)
    return warehouse_sql.relation_exists(con, schema, name)


def _seed_rows(con: duckdb.DuckDBPyConnection, seed: str) -> list[dict[str, Any]]:
    """Rows of a dbt seed: the warehouse copy dbt loaded (what the marts used), else the CSV."""
    schema = warehouse_sql.seed_schema(con, seed)
    if schema:
        cursor = con.execute(f'select * from "{schema}"."{seed}"')
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]
    path = SEED_DIR / f"{seed}.csv"
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "t", "1", "yes")


def seed_parameters(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    tiers = _seed_rows(con, "health_tiers")
    rules = _seed_rows(con, "warning_rules")
    playbooks = _seed_rows(con, "retention_playbooks")
    return {
        "health_tiers": sorted(str(r["tier"]) for r in tiers),
        "alert_tiers": sorted(str(r["tier"]) for r in tiers if r.get("response_hours") not in (None, "")),
        "reason_codes": sorted(str(r["reason_code"]) for r in rules),
        "playbooks": sorted(str(r["playbook"]) for r in playbooks),
    }


def suite_parameters(con: duckdb.DuckDBPyConnection, volume: VolumeConfig) -> dict[str, Any]:
    """Every ``$PARAMETER`` the suites use, computed from seeds and the delivery history."""
    return {**seed_parameters(con), **volume_parameters(volume, last_delivered_count(con), active_customers(con))}


def read_frames(
    con: duckdb.DuckDBPyConnection, suites: Mapping[str, dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, str]]:
    """``{suite: DataFrame}`` for suites whose relation exists, ``{suite: error}`` for the rest."""
    frames: dict[str, Any] = {}
    errors: dict[str, str] = {}
    days = health_days()
    for name, suite in suites.items():
        meta = suite["meta"]["churnguard"]
        if not _relation_exists(con, meta["relation"]):
            errors[name] = f"{meta['relation']} does not exist in the warehouse (has dbt built it?)"
            continue
        try:
            frames[name] = con.execute(meta["query"].replace("{health_days}", str(days))).df()
        except warehouse_sql.ERRORS as error:
            errors[name] = f"reading {meta['relation']} failed: {error}".splitlines()[0]
    return frames, errors


# --- validating ---------------------------------------------------------------------------------


def _gx():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    _spark_connect_import_must_not_exit()
    import great_expectations as gx  # noqa: PLC0415 (slow import, only when validating)

    return gx


def _spark_connect_import_must_not_exit() -> None:
    """Great Expectations probes for Spark Connect (``pyspark.sql.connect``) when pyspark is
    installed (``churnguard[spark]``). That package's import calls ``sys.exit(0)`` when its
    extra dependencies are missing and ``__main__`` has no file (``python -c``, pytest-xdist
    workers, some schedulers' workers), which ended the quality-gate step with "SystemExit: 0".
    Import it first; if it exits, mark it missing so the probe gets the ImportError it handles."""
    import importlib.util
    import sys

    if "pyspark.sql.connect.dataframe" in sys.modules or importlib.util.find_spec("pyspark") is None:
        return
    import contextlib
    import io

    try:
        with contextlib.redirect_stderr(io.StringIO()):  # its "Skipping doctests: ..." line
            import pyspark.sql.connect.dataframe  # noqa: F401, PLC0415
    except SystemExit:
        for name in ("pyspark.sql.connect", "pyspark.sql.connect.dataframe"):
            sys.modules[name] = None  # type: ignore[assignment]  # later imports raise ImportError
    except Exception:  # noqa: BLE001 (an ImportError or a broken install: GX's probe handles it)
        pass


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    try:
        if value != value:  # NaN, NaT
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        try:
            return value.isoformat()
        except (TypeError, ValueError):
            pass
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    try:
        if value != value:  # NaN / NaT
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _sample_rows(frame: Any, indexes: Iterable[Any] | None) -> list[dict[str, Any]]:
    if frame is None or not indexes:
        return []
    rows = []
    for index in list(indexes)[:SAMPLE_ROWS]:
        if isinstance(index, dict):  # unexpected_index_column_names style
            rows.append({k: _jsonable(v) for k, v in index.items()})
            continue
        try:
            record = frame.loc[index]
        except (KeyError, TypeError):
            continue
        rows.append({str(k): _jsonable(v) for k, v in record.items()})
    return rows


def _failure_from_result(suite: str, item: Any, frame: Any) -> ExpectationFailure:
    config = item.expectation_config
    meta = dict(config.meta or {})
    kwargs = {k: _jsonable(v) for k, v in dict(config.kwargs).items() if k not in ("batch_id",)}
    result = dict(item.result or {})
    error = None
    info = item.exception_info or {}
    if isinstance(info, dict) and info.get("raised_exception"):
        error = str(info.get("exception_message") or "the expectation raised an error").splitlines()[0]
    return ExpectationFailure(
        suite=suite,
        expectation=config.type,
        kind=meta.get("kind", INTEGRITY),
        description=meta.get("description", ""),
        column=kwargs.get("column") or (
            f"{kwargs['column_A']} > {kwargs['column_B']}" if "column_A" in kwargs else None
        ) or (", ".join(kwargs["column_list"]) if "column_list" in kwargs else None),
        kwargs=kwargs,
        unexpected_count=result.get("unexpected_count"),
        element_count=result.get("element_count"),
        observed_value=_jsonable(result.get("observed_value")),
        sample_rows=_sample_rows(frame, result.get("partial_unexpected_index_list")),
        error=error,
    )


def _resolve_parameters(value: Any, parameters: Mapping[str, Any]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$PARAMETER"}:
            return _jsonable(parameters.get(value["$PARAMETER"]))
        return {k: _resolve_parameters(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_parameters(v, parameters) for v in value]
    return value


def resolve_suite(suite: dict[str, Any], parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The suite with every ``$PARAMETER`` replaced by this run's value, so the suite and
    validation pages show the bounds that were checked (not ``{'$PARAMETER': ...}``).

    GX rejects a row-count expectation with both bounds None: those are dropped (no bound = pass).
    """
    kept = []
    for item in suite["expectations"]:
        item = {**item, "kwargs": _resolve_parameters(item.get("kwargs", {}), parameters)}
        if item["type"] == "expect_table_row_count_to_be_between":
            if all(item["kwargs"].get(k) is None for k in ("min_value", "max_value")):
                continue
        kept.append(item)
    return {**suite, "expectations": kept}


def _page_for(site: Path, suite: str, run_time: Any) -> str | None:
    stamp = ""
    if isinstance(run_time, datetime):
        stamp = run_time.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    folder = site / "validations" / suite
    pages = sorted(folder.rglob(f"{stamp}*/*.html") if stamp else folder.rglob("*.html"))
    return str(pages[-1]) if pages else None


def validate_frames(
    suites: Mapping[str, dict[str, Any]],
    frames: Mapping[str, Any],
    parameters: Mapping[str, Any],
    *,
    docs_dir: Path | None,
    errors: Mapping[str, str] | None = None,
    relations: Mapping[str, str] | None = None,
    override_volume_reason: str | None = None,
    run_name: str | None = None,
) -> GateResult:
    """Validate ``frames`` (suite name -> DataFrame) with GX.

    With ``docs_dir``, the results are stored in the file-backed GX project behind that
    Data Docs site (history kept, see `churnguard.quality.data_docs`) and the site is
    rebuilt for offline reading; without, an ephemeral context keeps nothing.
    """
    if docs_dir is None:
        return _validate(suites, frames, parameters, None, None, errors, relations, override_volume_reason, run_name)
    from churnguard.quality import data_docs

    docs_dir = Path(docs_dir)
    root = data_docs.gx_project_root(docs_dir)
    with data_docs.project_lock(root):
        return _validate(suites, frames, parameters, docs_dir, root, errors, relations, override_volume_reason, run_name)


def _whole_frame_batch(datasource: Any, name: str) -> Any:
    try:
        asset = datasource.get_asset(name)
    except LookupError:
        asset = datasource.add_dataframe_asset(name=name)
    try:
        return asset.get_batch_definition("whole")
    except (KeyError, LookupError, ValueError):
        return asset.add_batch_definition_whole_dataframe("whole")


def _validate(suites, frames, parameters, docs_dir, root, errors, relations, override_volume_reason, run_name):
    from churnguard.quality import data_docs

    gx = _gx()
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    now = datetime.now(timezone.utc)
    checked_at = now.isoformat(timespec="seconds")
    run_id = RunIdentifier(run_name=run_name or "churnguard quality gate", run_time=now)
    if docs_dir is None:
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        for site, site_config in dict(context.variables.data_docs_sites or {}).items():
            # GX creates a temporary folder for an ephemeral context's default site: remove both.
            context.delete_data_docs_site(site)
            temporary = Path(str((site_config.get("store_backend") or {}).get("base_directory", "")))
            if temporary.name.startswith("tmp") and temporary.is_dir() and not any(temporary.iterdir()):
                temporary.rmdir()
    else:
        context = data_docs.file_context(gx, root, docs_dir, SITE_NAME)
    try:
        datasource = context.data_sources.get("churnguard_warehouse")
    except (KeyError, LookupError, ValueError):
        datasource = context.data_sources.add_pandas("churnguard_warehouse")
    results: list[SuiteResult] = []
    named: list[tuple[Any, str]] = []  # (GX result, relation read) of this run
    for name, suite_json in suites.items():
        meta = suite_json["meta"]["churnguard"]
        relation = (relations or {}).get(name, meta["relation"])
        if name not in frames:
            message = (errors or {}).get(name) or f"no data for suite {name}"
            failure = ExpectationFailure(
                suite=name, expectation="relation_readable", kind=INTEGRITY, description=message, error=message
            )
            results.append(SuiteResult(suite=name, relation=relation, passed=False, rows=0, evaluated=1, failures=[failure]))
            continue
        frame = frames[name]
        suite = context.suites.add_or_update(gx.ExpectationSuite(**resolve_suite(suite_json, parameters)))
        batch = _whole_frame_batch(datasource, name)
        definition = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=name, data=batch, suite=suite)
        )
        outcome = definition.run(
            batch_parameters={"dataframe": frame},
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 20},
            run_id=run_id,
        )
        named.append((outcome, relation))
        failures = [_failure_from_result(name, item, frame) for item in outcome.results if not item.success]
        results.append(
            SuiteResult(
                suite=name,
                relation=relation,
                passed=not failures,
                rows=int(len(frame)),
                evaluated=len(outcome.results),
                failures=failures,
            )
        )
    gate = GateResult(
        checked_at=checked_at,
        suites=results,
        parameters={k: _jsonable(v) for k, v in parameters.items()},
        override_reason=override_volume_reason or None,
    )
    if docs_dir is not None:
        data_docs.name_data_assets(context, named)
        data_docs.prune(context, docs_dir, data_docs.keep_days(), now=now)
        urls = context.build_data_docs(site_names=[SITE_NAME])
        data_docs.make_offline(docs_dir)
        gate.data_docs_index = str(docs_dir / "index.html") if urls else None
        for suite_result in gate.suites:
            suite_result.data_docs_page = _page_for(docs_dir, suite_result.suite, now)
        (docs_dir / "latest_gate_result.json").write_text(gate.to_json(), encoding="utf-8")
    return gate


def run_gate(
    warehouse: Path | None = None,
    *,
    suites: Sequence[str] | None = None,
    override_volume_reason: str | None = None,
    volume: VolumeConfig | None = None,
    docs_dir: Path | None | bool = None,
    connection: duckdb.DuckDBPyConnection | None = None,
    run_name: str | None = None,
) -> GateResult:
    """Validate ``suites`` (default: all) against the warehouse, read-only.

    ``docs_dir=False`` skips Data Docs; ``None`` renders them to `data_docs_dir`. Pass an
    open ``connection`` to read through it (the caller keeps it open). ``run_name`` names
    the validations in Data Docs (which run checked the data).
    """
    apply_umask()  # Data Docs show sample rows: owner-only files
    warehouse = Path(warehouse or settings.warehouse_path())
    names = list(suites) if suites is not None else suite_defs.suite_names()
    directory = expectations_dir()
    loaded = {name: suite_defs.load_suite(name, directory) for name in names}
    volume = volume or VolumeConfig.load()
    started = time.perf_counter()
    con = connection or _connect_read_only(warehouse)
    try:
        parameters = suite_parameters(con, volume)
        frames, errors = read_frames(con, loaded)
    finally:
        if connection is None:
            con.close()
    target = None if docs_dir is False else (docs_dir or data_docs_dir(warehouse))
    gate = validate_frames(
        loaded,
        frames,
        parameters,
        docs_dir=target,
        errors=errors,
        override_volume_reason=override_volume_reason,
        run_name=run_name,
    )
    gate.parameters["seconds"] = round(time.perf_counter() - started, 2)
    return gate




def describe_failures(gate: GateResult, limit: int = 10) -> str:
    """A compact, multi-line list of the blocking failures (for errors and run logs)."""
    lines = [f.format() for f in gate.blocking_failures[:limit]]
    more = len(gate.blocking_failures) - limit
    if more > 0:
        lines.append(f"... and {more} more")
    return "\n".join(lines)


__all__ = [
    "INTEGRITY",
    "VOLUME",
    "WarehouseReadError",
    "data_docs_dir",
    "describe_failures",
    "run_gate",
    "suite_parameters",
    "validate_frames",
]
