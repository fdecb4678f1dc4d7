"""What materializing each per-customer-per-day aggregate as a table costs and saves.

    .venv/bin/python benchmarks/daily_tables.py --warehouse W.duckdb --target DIR [--json FILE]

Run it on a warehouse built with the aggregates as views (a ``dbt build``; ``--target`` is
that build's dbt target folder, for manifest.json and the tests' compiled SQL). For each
model it measures, in this process (DuckDB's threads count in its CPU time):

- cost: the CPU seconds of ``create table ... as select * from <view>`` into a scratch
  database, the rows, and the storage it takes (DuckDB blocks used after a checkpoint);
- saving: the CPU seconds of the model's data tests (their compiled SQL, full scope) run
  against the view, then against the scratch table.

Then the readers (the other models that select from these views: ``fct_customer_day`` and
``int_customer_lifecycle_spells`` ...) run once against the views and once against the
tables (their compiled SELECT, written into a temporary table). The warehouse is opened
read-only; the scratch database is deleted at the end. CPU times, not wall times: the
machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import tempfile
from pathlib import Path

import duckdb

MODELS = [
    "int_product_usage_daily",
    "int_interactions_daily",
    "int_orders_daily",
    "int_invoice_payments",
    "int_invoices_daily",
    "int_receivables_daily",
    "int_subscriptions_daily",
    "int_tickets_daily",
    "int_open_tickets_daily",
    "int_satisfaction_daily",
]


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    started = cpu()
    con.execute(sql).fetchall()
    return cpu() - started


def relation_pattern(model: str) -> re.Pattern[str]:
    return re.compile(r'"[^"]+"\."intermediate"\."' + model + '"')


def compiled(target: Path, node: dict) -> str | None:
    """The node's compiled SQL from the build's target folder (None when not compiled).
    A model's is at its own path; a generic test's under ``<models yml>/<test path>``."""
    root = target / "compiled" / node["package_name"]
    for candidate in (root / node["original_file_path"], root / node["original_file_path"] / node["path"]):
        if candidate.is_file():
            return candidate.read_text()
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--target", type=Path, required=True, help="the dbt target folder of the build")
    parser.add_argument("--json", type=Path, help="also store the figures here")
    parser.add_argument("--models", nargs="*", default=MODELS)
    args = parser.parse_args()

    manifest = json.loads((args.target / "manifest.json").read_text())
    nodes = manifest["nodes"]
    model_ids = {f"model.churnguard.{m}": m for m in args.models}
    tests: dict[str, list[tuple[str, str]]] = {m: [] for m in args.models}
    readers: dict[str, str] = {}
    for unique_id, node in nodes.items():
        parents = [p for p in node.get("depends_on", {}).get("nodes", []) if p in model_ids]
        if not parents:
            continue
        sql = compiled(args.target, node)
        if sql is None:
            continue
        if node["resource_type"] == "test" and node.get("attached_node") in model_ids:
            tests[model_ids[node["attached_node"]]].append((node["name"], sql))
        elif node["resource_type"] == "model" and unique_id not in model_ids:
            readers[node["name"]] = sql

    scratch_dir = Path(tempfile.mkdtemp(prefix="daily_tables_"))
    # the scratch database is the main one; the warehouse is attached read-only under its
    # file name, which is the catalog name dbt wrote into the views and the compiled SQL
    con = duckdb.connect(str(scratch_dir / "scratch.duckdb"))
    con.execute("set threads = 2")
    catalog = args.warehouse.stem
    con.execute(f"attach '{args.warehouse}' as \"{catalog}\" (read_only)")
    con.execute("create schema scratch.intermediate")

    def used_bytes() -> int:
        con.execute("checkpoint scratch")
        row = con.execute(
            "select used_blocks, block_size from pragma_database_size() where database_name = 'scratch'"
        ).fetchone()
        return int(row[0]) * int(row[1])

    figures: dict[str, dict] = {}
    before = used_bytes()
    # in lineage order: int_invoices_daily and int_receivables_daily read int_invoice_payments
    # as a view here (as they do in the warehouse), which is what their own build would do
    for model in args.models:
        source = f'"{catalog}".intermediate.{model}'
        build = timed(con, f"create table scratch.intermediate.{model} as select * from {source}")
        after = used_bytes()
        rows = con.execute(f"select count(*) from scratch.intermediate.{model}").fetchone()[0]
        on_view = on_table = 0.0
        for _, sql in tests[model]:
            on_view += timed(con, sql)
            on_table += timed(con, relation_pattern(model).sub(f"scratch.intermediate.{model}", sql))
        figures[model] = {
            "rows": rows,
            "bytes": after - before,
            "build_cpu_s": round(build, 2),
            "tests": len(tests[model]),
            "tests_cpu_s_on_view": round(on_view, 2),
            "tests_cpu_s_on_table": round(on_table, 2),
        }
        before = after
        print(model, figures[model], flush=True)

    reader_figures: dict[str, dict] = {}
    for name, sql in sorted(readers.items()):
        swapped = sql
        for model in args.models:
            swapped = relation_pattern(model).sub(f"scratch.intermediate.{model}", swapped)
        try:
            on_view = timed(con, f"create or replace temp table reader_out as {sql}")
        except duckdb.Error as error:  # a reader of an unbuilt model (e.g. the health scores)
            print(f"{name}: not measured ({str(error).splitlines()[0]})", flush=True)
            continue
        on_table = timed(con, f"create or replace temp table reader_out as {swapped}")
        reader_figures[name] = {"cpu_s_on_views": round(on_view, 2), "cpu_s_on_tables": round(on_table, 2)}
        print(name, reader_figures[name], flush=True)
    con.close()
    for leftover in scratch_dir.iterdir():
        leftover.unlink()
    scratch_dir.rmdir()

    result = {"warehouse": str(args.warehouse), "models": figures, "readers": reader_figures}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
