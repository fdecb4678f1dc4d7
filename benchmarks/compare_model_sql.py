"""Is a rewritten dbt model cheaper, and are its rows the same? CPU time and EXCEPT ALL.

    # 1. the old SQL, compiled from the code before the change (e.g. with the change stashed)
    git stash
    .venv/bin/python benchmarks/compare_model_sql.py --warehouse W --model M --save-sql old.sql
    git stash pop
    # 2. the new SQL against the old one
    .venv/bin/python benchmarks/compare_model_sql.py --warehouse W --model M --base-sql old.sql [--repeat 3]

Compiles the model against warehouse W as benchmarks/profile_model.py does (``churnguard
dbt -- compile``; ``--full-refresh`` for a rebuild of the whole history, ``--vars`` for a
build window), then runs the old and the new SELECT in turn (``--repeat`` times each) as
temporary tables on a read-only connection (2 threads, the profile's memory limit) and
prints the CPU seconds (user + system, ``getrusage``) of each run: on a shared machine
wall time says little. Last, it compares the two results: same column names and types,
and ``EXCEPT ALL`` both ways (rows of one missing from the other, duplicates counted).
Nothing in the warehouse changes; exits 1 when the rows differ.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from profile_model import compile_model  # noqa: E402


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--full-refresh", action="store_true", help="compile a rebuild of the whole history")
    parser.add_argument("--vars", help="dbt vars (JSON), e.g. a build window")
    parser.add_argument("--save-sql", type=Path, help="only compile the model and write its SQL here")
    parser.add_argument("--base-sql", type=Path, help="the old model's compiled SQL to compare with")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    warehouse = args.warehouse.resolve()

    with tempfile.TemporaryDirectory(prefix="churnguard-compare-") as scratch:
        new_sql = compile_model(warehouse, args.model, args.full_refresh, args.vars, Path(scratch) / "target")
        if args.save_sql:
            args.save_sql.write_text(new_sql)
            print(f"wrote {args.save_sql}")
            return 0
        if not args.base_sql:
            parser.error("give --base-sql (the old SQL) or --save-sql")
        sqls = {"old": args.base_sql.read_text(), "new": new_sql}

        con = duckdb.connect(str(warehouse), read_only=True)
        con.execute(f"set memory_limit = '{os.environ.get('CHURNGUARD_DUCKDB_MEMORY_LIMIT', '5GB')}'")
        con.execute(f"set threads = {args.threads}")
        con.execute("set preserve_insertion_order = false")
        con.execute(f"set temp_directory = '{Path(scratch) / 'spill'}'")
        con.execute("set enable_progress_bar = false")
        runs: dict[str, list[float]] = {"old": [], "new": []}
        for _ in range(args.repeat):
            for name, sql in sqls.items():
                started = cpu_seconds()
                con.execute(f"create or replace temp table result_{name} as {sql}")
                runs[name].append(cpu_seconds() - started)
        for name, seconds in runs.items():
            rows = con.execute(f"select count(*) from result_{name}").fetchone()[0]
            print(f"{name}: {rows:,} rows; CPU s per run: {', '.join(f'{s:.1f}' for s in seconds)}"
                  f" (min {min(seconds):.1f})")
        print(f"new / old (min CPU): {min(runs['new']) / min(runs['old']):.2f}")

        old_columns = con.execute("describe result_old").fetchall()
        new_columns = con.execute("describe result_new").fetchall()
        same_columns = [column[:2] for column in old_columns] == [column[:2] for column in new_columns]
        only_old = con.execute("select count(*) from (select * from result_old except all select * from result_new)").fetchone()[0]
        only_new = con.execute("select count(*) from (select * from result_new except all select * from result_old)").fetchone()[0]
        con.close()
    print(f"same column names and types: {same_columns}; rows only in old: {only_old:,}; rows only in new: {only_new:,}")
    return 0 if same_columns and only_old == 0 and only_new == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
