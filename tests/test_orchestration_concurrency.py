"""Two Dagster runs on one warehouse: the second waits its turn or is refused cleanly.

Three separate processes, each with its own (in-memory) Dagster instance, so only the
warehouse's file lock stands between them, as between two deployments:

- run A loads the raw data and builds the staging models (dbt; no tests, to stay short);
- while A's dbt step holds the warehouse, run B (raw ingestion) starts and waits, then runs
  once A is done;
- run C (raw ingestion, ``CHURNGUARD_LOCK_TIMEOUT=0``) is refused with a message naming A,
  and writes nothing.

Afterwards the warehouse opens and holds exactly the sample, loaded by A and B only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from churnguard.defs.locking import read_holder
from churnguard.loader import load
from orchestration_support import dbt_target_env  # noqa: F401 (fixture; parsed once, shared)

RUN = r"""
import json, os, sys
from dagster import DagsterInstance
from churnguard.defs import build_definitions
from churnguard.defs.jobs import NIGHTLY_JOB
from churnguard.defs.raw import RAW_ASSETS_NAME
from churnguard.defs.sensors import step_failure_text

defs = build_definitions()
job = defs.resolve_job_def(NIGHTLY_JOB)
keys = [k for a in defs.assets if a.node_def.name == RAW_ASSETS_NAME for k in a.keys]
if sys.argv[1] == "raw+staging":
    graph = defs.resolve_asset_graph()
    keys += [k for k in graph.get_all_asset_keys() if (graph.get(k).group_name or "").startswith("staging")]
instance = DagsterInstance.ephemeral()
print("ready", flush=True)
sys.stdin.readline()  # the test says when
run = job.get_subset(asset_selection=set(keys), asset_check_selection=set())  # models only, no dbt tests
result = run.execute_in_process(
    instance=instance, raise_on_error=False,
    run_config={"ops": {RAW_ASSETS_NAME: {"config": {"data_dir": os.environ["RAW_DIR"]}}}},
)
messages = [r.user_message for r in instance.all_logs(result.run_id)]
failures = [step_failure_text(e.step_failure_data) for e in result.all_events if e.is_step_failure]
print(json.dumps({
    "success": result.success,
    "run_id": result.run_id,
    "failures": failures,
    "waited": any(m.startswith("waiting for the warehouse lock") for m in messages),
}), flush=True)
"""

DEADLINE_SECONDS = 240


def _start(mode: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", RUN, mode], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def _expect_ready(process: subprocess.Popen) -> None:
    line = process.stdout.readline().strip()
    assert line == "ready", f"run process did not start (exit {process.poll()}): {line!r}"


def _go(process: subprocess.Popen) -> None:
    process.stdin.write("go\n")
    process.stdin.flush()


def _result(process: subprocess.Popen) -> dict:
    out, _ = process.communicate(timeout=DEADLINE_SECONDS)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert lines, f"run process printed no result (exit {process.returncode}): {out[-2000:]}"
    return json.loads(lines[-1])


def test_a_second_run_waits_for_the_first_or_is_refused_and_the_data_stays_intact(
    isolated_warehouse: Path, dbt_target_env: Path, sample_dir: Path
) -> None:
    warehouse = isolated_warehouse
    expected_rows = load(sample_dir, warehouse).row_counts()  # an existing warehouse (load 1)
    env = {**os.environ, "RAW_DIR": str(sample_dir), "CHURNGUARD_LOCK_TIMEOUT": "600"}

    run_a = _start("raw+staging", env)
    run_b = _start("raw", env)
    run_c = _start("raw", {**env, "CHURNGUARD_LOCK_TIMEOUT": "0"})
    processes = [run_a, run_b, run_c]
    try:
        for process in processes:
            _expect_ready(process)
        _go(run_a)
        deadline = time.monotonic() + DEADLINE_SECONDS
        holder = None
        while time.monotonic() < deadline and run_a.poll() is None:
            holder = read_holder(warehouse)
            if holder and str(holder.get("what", "")).startswith("dbt build"):
                break
            time.sleep(0.05)  # polling the lock file for run A's dbt step
        assert holder and str(holder["what"]).startswith("dbt build"), f"run A never held the lock: {holder}"
        _go(run_b)
        _go(run_c)

        refused = _result(run_c)
        assert not refused["success"]
        [message] = refused["failures"]
        assert "is being written by dbt build" in message and f"pid {holder['pid']}" in message
        assert "CHURNGUARD_LOCK_TIMEOUT" in message and "Nothing was written" in message

        first, second = _result(run_a), _result(run_b)
        assert first["success"], first["failures"]
        assert second["success"], second["failures"]
        assert second["waited"] and not first["waited"]  # B queued behind A's dbt step
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert read_holder(warehouse) is None
    with duckdb.connect(str(warehouse), read_only=True) as con:  # opens: not corrupted
        loads = con.execute("select count(distinct load_id) from raw_meta.load_log").fetchone()[0]
        counts = {name: con.execute(f"select count(*) from raw_{name}").fetchone()[0] for name in expected_rows}
        accounts = con.execute("select count(*) from staging.stg_crm__accounts").fetchone()[0]
    assert loads == 3  # the first load, run A and run B; run C wrote nothing
    assert counts == expected_rows
    assert accounts == expected_rows["crm.accounts"]
