"""Run dbt commands against the churnguard project and warehouse.

dbt runs in a subprocess of the current interpreter (``python -m dbt.cli.main``), so
the dbt that runs is always the one installed with churnguard, whatever is first on
PATH, and each invocation starts with clean state. It inherits the warehouse lock the
caller holds (`churnguard.defs.locking.held_lock_fds`): killing the caller does not free the
lock while dbt still writes.

| variable | default | meaning |
|---|---|---|
| ``CHURNGUARD_DBT_TARGET_PATH`` | ``dbt_project/target`` | where dbt writes manifest and run results |
| ``CHURNGUARD_DBT_LOG_PATH`` | ``dbt_project/logs`` | where dbt writes its log file |
| ``CHURNGUARD_DBT_RUN_RESULTS_ARCHIVE`` | unset | a folder that keeps a copy of every invocation's ``run_results.json`` (``001-build.json``, ``002-run.json``...); a build in batches runs dbt several times and each overwrites the last |

The settings that change on every run (the build window ``start_date``/``end_date`` and
``test_scope``) reach dbt as ``CHURNGUARD_RUN_*`` environment variables, not ``--vars``:
dbt discards its partial parse whenever ``--vars`` change, and re-parsing the project (a
thousand tests) costs more than many of the nightly steps themselves. The macro
``run_var`` reads them when the run executes (dbt_project/macros/customer_day/run_vars.sql).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Iterator, Mapping, Sequence

from churnguard import settings


class DbtError(RuntimeError):
    """A dbt command failed; the message carries the tail of its output."""


RUN_SETTINGS = ("start_date", "end_date", "test_scope", "test_start_date")
RUN_ENV_PREFIX = "CHURNGUARD_RUN_"


def split_run_settings(dbt_vars: Mapping[str, Any] | None) -> tuple[dict[str, str], dict[str, Any]]:
    """``dbt_vars`` as (environment variables for the per-run settings, the other vars for
    ``--vars``). Every ``CHURNGUARD_RUN_*`` variable is in the first dict, empty when unset,
    so that a value left in the caller's environment never leaks into a run."""
    env = {RUN_ENV_PREFIX + name.upper(): "" for name in RUN_SETTINGS}
    rest: dict[str, Any] = {}
    for name, value in dict(dbt_vars or {}).items():
        if name in RUN_SETTINGS:
            env[RUN_ENV_PREFIX + name.upper()] = "" if value is None else str(value)
        else:
            rest[name] = value
    return env, rest


@contextmanager
def run_settings_in_environ(settings_env: Mapping[str, str]) -> Iterator[None]:
    """Set ``settings_env`` in ``os.environ`` for a child started inside the block (dagster-dbt
    copies the environment when it starts dbt); the previous values come back after."""
    saved = {name: os.environ.get(name) for name in settings_env}
    os.environ.update(settings_env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def dbt_env(warehouse: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["CHURNGUARD_WAREHOUSE"] = str(warehouse or settings.warehouse_path())
    # dbt runs in dbt_project/: pass the Spark warehouse as an absolute path, the one the loader uses.
    env["CHURNGUARD_SPARK_WAREHOUSE"] = str(settings.spark_warehouse_dir())
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    if "CHURNGUARD_DBT_TARGET_PATH" in os.environ:
        env["DBT_TARGET_PATH"] = os.environ["CHURNGUARD_DBT_TARGET_PATH"]
    if "CHURNGUARD_DBT_LOG_PATH" in os.environ:
        env["DBT_LOG_PATH"] = os.environ["CHURNGUARD_DBT_LOG_PATH"]
    return env


def _targets_duckdb() -> bool:
    try:
        return settings.target_engine() == "duckdb"
    except ValueError:  # a target of the user's own (Snowflake, BigQuery): no DuckDB file involved
        return False


def run_dbt(
    args: Sequence[str],
    *,
    warehouse: Path | None = None,
    dbt_vars: Mapping[str, Any] | None = None,
    capture: bool = False,
    check: bool = True,
    progress: bool = False,
) -> subprocess.CompletedProcess:
    """Run ``dbt <args>`` in the project directory against ``warehouse``.

    ``dbt_vars`` are passed as ``--vars`` (JSON), except the per-run settings, passed as
    environment variables (see the module doc). With ``capture`` the output is
    returned instead of streamed; with ``progress`` it is printed as short readable lines
    (`churnguard.dbt_progress`) instead of dbt's console log. Raises :class:`DbtError` when
    dbt fails and ``check`` is true.
    """
    from churnguard.delivery.permissions import apply_umask

    apply_umask()  # dbt inherits it: the tables it writes hold customer data
    warehouse = Path(warehouse or settings.warehouse_path())
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "dbt.cli.main", *args]
    command += ["--project-dir", str(settings.DBT_PROJECT_DIR), "--profiles-dir", str(settings.DBT_PROJECT_DIR)]
    settings_env, dbt_vars = split_run_settings(dbt_vars)
    if dbt_vars:
        command += ["--vars", json.dumps(dict(dbt_vars))]
    from churnguard.defs.locking import held_lock_fds, retry_while_open_elsewhere

    if warehouse.exists() and _targets_duckdb():  # a reader holding the file would make dbt fail: wait for it first
        import duckdb

        retry_while_open_elsewhere(lambda: duckdb.connect(str(warehouse)).close(), warehouse)

    env = {**dbt_env(warehouse), **settings_env}
    started = time.time()
    if progress and not capture:
        try:
            return _run_with_progress(command, args, env, check)
        finally:
            _archive_run_results(args, env, started)
    result = subprocess.run(
        command,
        cwd=settings.DBT_PROJECT_DIR,
        env=env,
        capture_output=capture,
        text=True,
        # dbt shares the warehouse lock: if this process dies (kill -9), the lock lasts as
        # long as dbt writes, so the next writer waits instead of failing on DuckDB's lock.
        pass_fds=held_lock_fds(),
    )
    _archive_run_results(args, env, started)
    if check and result.returncode != 0:
        tail = ""
        if capture:
            tail = "\n".join((result.stdout or "").splitlines()[-40:])
        raise DbtError(f"dbt {' '.join(args)} failed (exit {result.returncode})\n{tail}")
    return result


def _archive_run_results(args: Sequence[str], env: Mapping[str, str], started: float) -> None:
    """Copy the invocation's run_results.json into $CHURNGUARD_DBT_RUN_RESULTS_ARCHIVE, if
    set and dbt wrote one since ``started`` (a run that failed before writing leaves the
    previous invocation's file: not copied)."""
    archive = os.environ.get("CHURNGUARD_DBT_RUN_RESULTS_ARCHIVE")
    if not archive:
        return
    args = list(args)
    given = args[args.index("--target-path") + 1] if "--target-path" in args[:-1] else None  # e.g. a Dagster step's own
    target = Path(given or env.get("DBT_TARGET_PATH") or settings.DBT_PROJECT_DIR / "target")
    if not target.is_absolute():
        target = settings.DBT_PROJECT_DIR / target
    source = target / "run_results.json"
    if not source.exists() or source.stat().st_mtime < started:
        return
    folder = Path(archive)
    folder.mkdir(parents=True, exist_ok=True)
    number = len(list(folder.glob("*.json"))) + 1
    command = next((arg for arg in args if not arg.startswith("-")), "dbt")
    (folder / f"{number:03d}-{command}.json").write_bytes(source.read_bytes())


def _run_with_progress(command: list[str], args: Sequence[str], env: Mapping[str, str], check: bool) -> subprocess.CompletedProcess:
    from churnguard.dbt_progress import DbtProgress
    from churnguard.defs.locking import held_lock_fds

    progress = DbtProgress()
    progress.start(" ".join(args))
    process = subprocess.Popen(
        [*command, "--log-format", "json", "--no-use-colors"],
        cwd=settings.DBT_PROJECT_DIR,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        pass_fds=held_lock_fds(),  # as in run_dbt: dbt shares the warehouse lock
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:
            progress.feed(line)
    except BaseException:
        process.terminate()
        process.wait()
        raise
    returncode = process.wait()
    progress.finish(returncode)
    if check and returncode != 0:
        errors = "\n".join(progress.errors[-10:])
        raise DbtError(f"dbt {' '.join(args)} failed (exit {returncode})\n{errors}".rstrip())
    return subprocess.CompletedProcess(command, returncode)
