"""Where does a dbt model's time go? DuckDB's profiler on the model's compiled SQL.

    .venv/bin/python benchmarks/profile_model.py --warehouse W --model fct_customer_day
                                                 [--full-refresh] [--vars JSON] [--top 12]

Compiles the model against warehouse W (``churnguard dbt -- compile``; with
``--full-refresh`` as a rebuild of the whole history, else as the next incremental run),
runs its SELECT with DuckDB's JSON profiler (as a temporary table) on a read-only connection with the profile's
memory limit and 2 threads, and prints the operators that took the most time, with their
share of the total and the rows they produced. The numbers quoted in benchmarks/NOTES.md
come from this script. Nothing in the warehouse changes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]


def compile_model(warehouse: Path, model: str, full_refresh: bool, dbt_vars: str | None, target: Path) -> str:
    env = dict(os.environ, CHURNGUARD_WAREHOUSE=str(warehouse), CHURNGUARD_DBT_TARGET_PATH=str(target),
               CHURNGUARD_DBT_LOG_PATH=str(target / "logs"))
    command = [sys.executable, "-m", "churnguard.cli", "dbt", "--", "compile", "--select", model]
    if full_refresh:
        command.append("--full-refresh")
    if dbt_vars:
        command += ["--vars", dbt_vars]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"dbt compile failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    results = json.loads((target / "run_results.json").read_text())["results"]
    for result in results:
        if result["unique_id"].endswith(f".{model}") and result["unique_id"].startswith("model."):
            return result["compiled_code"]
    raise SystemExit(f"no compiled SQL for model {model!r}")


def operators(node: dict, depth: int = 0):
    """(name, seconds, rows, depth) for every operator under ``node``. DuckDB 2.x writes
    {"operator": [...]} at the root and {"type", "timing", "intermediate_rows"} per
    operator; 1.x wrote "operator_name", "operator_timing", "operator_cardinality"."""
    for root in node.get("operator", []):
        yield from operators(root, depth)
    name = node.get("type") or node.get("operator_name") or node.get("operator_type")
    if name and isinstance(name, str):
        yield (
            name.strip(),
            float(node.get("timing", node.get("operator_timing", 0.0)) or 0.0),
            int(node.get("intermediate_rows", node.get("operator_cardinality", 0)) or 0),
            depth,
        )
    for child in node.get("children", []):
        yield from operators(child, depth + 1)


def profile(warehouse: Path, sql: str, profile_path: Path) -> tuple[float, list[tuple[str, float, int, int]]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute(f"set memory_limit = '{os.environ.get('CHURNGUARD_DUCKDB_MEMORY_LIMIT', '5GB')}'")
        con.execute("set threads = 2")
        con.execute("set preserve_insertion_order = false")
        con.execute(f"set temp_directory = '{profile_path.parent / 'spill'}'")
        con.execute("set enable_profiling = 'json'")
        con.execute(f"set profiling_output = '{profile_path}'")
        started = time.perf_counter()
        con.execute(f"create temp table profiled_model as {sql}")  # the profile is written when it ends
        seconds = time.perf_counter() - started
    finally:
        con.close()
    tree = json.loads(profile_path.read_text())
    return seconds, list(operators(tree))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--full-refresh", action="store_true", help="profile a rebuild of the whole history")
    parser.add_argument("--vars", help="dbt vars (JSON), e.g. a build window")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="churnguard-profile-") as scratch:
        scratch_dir = Path(scratch)
        sql = compile_model(args.warehouse.resolve(), args.model, args.full_refresh, args.vars, scratch_dir / "target")
        seconds, ops = profile(args.warehouse.resolve(), sql, scratch_dir / "profile.json")
    total = sum(op[1] for op in ops) or 1.0
    by_name: dict[str, float] = {}
    for name, timing, _, _ in ops:
        by_name[name] = by_name.get(name, 0.0) + timing
    print(f"{args.model} ({'full refresh' if args.full_refresh else 'incremental'}): {seconds:.1f} s wall; "
          f"operator time {total:.1f} s (summed over threads)")
    print("\nby operator type:")
    for name, timing in sorted(by_name.items(), key=lambda item: -item[1])[: args.top]:
        print(f"  {name:<28} {timing:8.1f} s  {timing / total:6.1%}")
    print("\nslowest operators:")
    for name, timing, rows, depth in sorted(ops, key=lambda op: -op[1])[: args.top]:
        print(f"  {name:<28} {timing:8.1f} s  {timing / total:6.1%}  {rows:>12,} rows  (depth {depth})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
