"""Scale benchmark: generate, load, build and deliver at size S, M or L, and compare
every step with a lower-bound reference pass.

    .venv/bin/python benchmarks/scale.py --size S|M|L [--world NAME] [--out docs/BENCHMARKS.md]
                                         [--check] [--workdir DIR] [--history-days N]

Sizes: S = 1,000 customers x 365 days, M = 10,000 x 730, L = 100,000 x 730.
``--world`` picks the generator's world (``churnguard generate --world``; default saas, the
subscription world every size was first measured on; order_shop is the purchase-log-shaped
world, heavy_usage the login-heavy one).

Every step runs as a subprocess (the `churnguard` CLI, or benchmarks/reference_pass.py)
with the same DuckDB settings (the dbt profile's: CHURNGUARD_DUCKDB_MEMORY_LIMIT, default
5GB, 2 threads, temp directory next to the warehouse); its wall time and peak resident
memory (``wait4`` ru_maxrss: the largest process of the step, dbt and DuckDB run in one)
are recorded. Steps:

1. generate    ``churnguard generate`` (Parquet)
2. load        ``churnguard load``
3. reference   one DuckDB statement reading every raw table once, aggregated to
               customer x day (benchmarks/reference_pass.py); the ratio column divides
               each step by it
4. full build  ``churnguard build --as-of-date <as-of - 1> --tests full``: every model and
               test from an empty warehouse, as the warehouse was the day before the
               as-of date; a history of more than CHURNGUARD_HISTORY_BATCH_ROWS
               customer-days is split into batches by churnguard itself (``--batch-rows``
               sets it; the log dates each batch)
5. nightly     ``churnguard build``: what the nightly job runs (incremental models for
               the new day plus the lookback, tables rebuilt, every test)
6. incremental ``dbt run`` of the incremental models alone over the nightly window
7. backfill    ``dbt run`` of the incremental models over 7 days
8. quality     ``churnguard quality`` (the Great Expectations gate)
9. delivery    ``churnguard sync`` (default files destination)

``--history-days N`` also builds an N-day dataset of the same customers and times its
nightly run, to show whether nightly cost grows with history. Results are stored in
benchmarks/results/<size>.json for the saas world and <size>-<world>.json for the others
(a ``--check`` run without ``--out`` keeps them in its workdir); ``--out`` renders every
stored size and world into one Markdown file. Every result also counts the rows the build
wrote: the rows of every table outside the raw schemas once the nightly build and the
backfill are done (before the quality gate and the delivery), divided by the raw rows
loaded (``rows_written_per_raw_row``), and the same for ``fct_customer_day`` alone. ``--check`` exits 1 on gross regressions only: a failed step, an incremental run
slower than the full build, or a step's peak memory above the DuckDB memory limit plus
1 GiB for dbt and Python.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from churnguard.history_batches import BATCH_ROWS_ENV, INCREMENTAL

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "benchmarks" / "results"
PYTHON = Path(sys.executable)
CHURNGUARD = [str(PYTHON), "-m", "churnguard.cli"]
START_DATE = "2024-01-01"  # 730 days end before today: the loader rejects future events
SEED = 1
SIZES = {"S": (1_000, 365), "M": (10_000, 730), "L": (100_000, 730)}
DEFAULT_WORLD = "saas"
FACT_TABLE = "marts.fct_customer_day"
GIB = 1024**3

STEP_LABELS = {
    "generate": "generate raw data",
    "load": "load (validate + write raw tables)",
    "reference": "**reference pass** (lower bound)",
    "full_build": "full `dbt build` (models + tests)",
    "nightly_build": "nightly `dbt build` (1 new day)",
    "incremental_run": "nightly incremental models only",
    "backfill_week": "one-week backfill (incremental models)",
    "quality": "quality gate (`churnguard quality`)",
    "delivery": "file delivery (`churnguard sync`)",
}


def memory_limit_bytes() -> int:
    text = os.environ.get("CHURNGUARD_DUCKDB_MEMORY_LIMIT", "5GB").strip().upper()
    match = re.fullmatch(r"([\d.]+)\s*(GIB|GB|MIB|MB)", text)
    if not match:
        raise SystemExit(f"cannot read CHURNGUARD_DUCKDB_MEMORY_LIMIT={text!r}; write it like 6GB")
    number, unit = float(match.group(1)), match.group(2)
    factor = {"GIB": GIB, "GB": 1000**3, "MIB": 1024**2, "MB": 1000**2}[unit]
    return int(number * factor)


def machine() -> dict:
    with open("/proc/meminfo") as handle:
        total_kb = int(handle.readline().split()[1])
    model = ""
    try:
        with open("/proc/cpuinfo") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), "")
    except OSError:
        pass
    import dbt.version
    import duckdb

    return {
        "cores": os.cpu_count(),
        "memory_gib": round(total_kb / 1024**2, 1),
        "cpu": model or platform.processor(),
        "duckdb": duckdb.__version__,
        "dbt": dbt.version.__version__,
        "python": platform.python_version(),
    }


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def result_name(size: str, world: str = DEFAULT_WORLD) -> str:
    """S.json for the default world (the name the sizes always had), S-order_shop.json else."""
    return f"{size}.json" if world == DEFAULT_WORLD else f"{size}-{world}.json"


def is_raw_schema(schema: str) -> bool:
    return schema.startswith("raw")


def written_rows(con) -> dict[str, int]:
    """Rows of every base table outside the raw schemas (``schema.table`` -> rows): what the
    build wrote. Views write nothing and are left out."""
    tables = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_type = 'BASE TABLE' and table_catalog = current_database() "
        "and table_schema not in ('information_schema', 'pg_catalog') order by 1, 2"
    ).fetchall()
    return {
        f"{schema}.{name}": con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
        for schema, name in tables
        if not is_raw_schema(schema)
    }


def write_figures(written: dict[str, int], raw_rows: int) -> dict:
    """Rows written per raw row loaded, in total and for fct_customer_day alone."""
    total = sum(written.values())
    fact = written.get(FACT_TABLE)
    return {
        "rows_written": total,
        "tables_written": len(written),
        "rows_written_per_raw_row": round(total / raw_rows, 2) if raw_rows else None,
        "fct_customer_day_per_raw_row": round(fact / raw_rows, 2) if raw_rows and fact is not None else None,
    }


class SpillWatch:
    """The largest total size of the files under ``folder`` (DuckDB's temp directory, where it
    spills beyond its memory limit) while the block runs, sampled every ``every`` seconds."""

    def __init__(self, folder: Path, every: float = 2.0) -> None:
        self.folder, self.every, self.peak = folder, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def size(self) -> int:
        total = 0
        for root, _, files in os.walk(self.folder):
            for name in files:
                try:
                    total += os.stat(os.path.join(root, name)).st_size
                except OSError:  # removed while we looked
                    pass
        return total

    def _watch(self) -> None:
        while True:
            self.peak = max(self.peak, self.size())
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> "SpillWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class Bench:
    def __init__(self, size: str, workdir: Path, results_path: Path, world: str = DEFAULT_WORLD) -> None:
        self.size = size
        self.world = world
        self.results_path = results_path
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.result: dict = {"size": size, "world": world, "steps": {}, "history": {}}

    def env(self, tag: str) -> dict[str, str]:
        env = dict(os.environ)
        warehouse = self.workdir / f"{tag}.duckdb"
        env["CHURNGUARD_WAREHOUSE"] = str(warehouse)
        env["CHURNGUARD_DBT_TARGET_PATH"] = str(self.workdir / f"{tag}_dbt_target")
        env["CHURNGUARD_DBT_LOG_PATH"] = str(self.workdir / f"{tag}_dbt_logs")
        env.setdefault("CHURNGUARD_DUCKDB_MEMORY_LIMIT", "5GB")
        env["CHURNGUARD_DUCKDB_TEMP_DIR"] = str(self.workdir / f"{tag}_duckdb_tmp")
        env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
        env["PYTHONUNBUFFERED"] = "1"  # lines reach the log when printed: measure() dates them
        env.pop("CHURNGUARD_DESTINATIONS_FILE", None)
        # generated worlds end in the past: without this the stale-data guard would block the
        # delivery step and it would measure nothing
        env["CHURNGUARD_OVERRIDE_STALE_DATA"] = "benchmark on a generated world that ends in the past"
        return env

    def measure(self, name: str, command: list[str], env: dict[str, str]) -> dict:
        """Run ``command``; return wall seconds, CPU seconds, peak RSS and exit status. Each
        line of its output goes to the step's log prefixed with the seconds since the start
        (``[  12.3s] ``), which dates the parts of a batched build."""
        log = self.logs / f"{name}.log"
        print(f"[{datetime.now(timezone.utc):%H:%M:%S}] {name}: {' '.join(command)}", flush=True)
        load_before = load_average()
        spill = SpillWatch(Path(env["CHURNGUARD_DUCKDB_TEMP_DIR"])) if "CHURNGUARD_DUCKDB_TEMP_DIR" in env else None
        with open(log, "w") as out, (spill or contextlib.nullcontext()):
            started = time.perf_counter()
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=self.workdir,
                start_new_session=True, text=True, errors="replace",
            )
            try:
                for line in process.stdout:
                    out.write(f"[{time.perf_counter() - started:7.1f}s] {line}")
                    out.flush()
                _, status, usage = os.wait4(process.pid, 0)
            except BaseException:  # interrupted: stop the step's whole process group
                os.killpg(process.pid, signal.SIGTERM)
                raise
            seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        step = {
            "seconds": round(seconds, 2),
            # user + system CPU of the step's whole process tree: unlike wall time, not
            # inflated when a shared machine gives the step fewer cycles
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_bytes": usage.ru_maxrss * 1024,
            # DuckDB's spill files, sampled every 2 s: the largest total seen
            "peak_spill_bytes": spill.peak if spill else None,
            "exit": process.returncode,
            "load_before": load_before,
            "log": str(log),
        }
        print(
            f"    {seconds:9.1f} s  peak {step['peak_rss_bytes'] / GIB:5.2f} GiB  exit {step['exit']}"
            f"  (load {load_before})",
            flush=True,
        )
        return step

    def record(self, key: str, step: dict, scope: dict | None = None, required: bool = False) -> dict:
        (scope if scope is not None else self.result["steps"])[key] = step
        self.save()
        if required and step["exit"] != 0:
            raise SystemExit(f"{key} failed (exit {step['exit']}); see {step['log']}")
        return step

    def save(self) -> None:
        self.results_path.parent.mkdir(parents=True, exist_ok=True)
        self.results_path.write_text(json.dumps(self.result, indent=2, default=str) + "\n")

    # ---------------------------------------------------------------- steps
    def generate(self, customers: int, days: int, raw: Path, key: str, scope: dict | None = None) -> None:
        if raw.exists():
            shutil.rmtree(raw)
        command = [*CHURNGUARD, "generate", "--customers", str(customers), "--days", str(days),
                   "--seed", str(SEED), "--start", START_DATE, "--format", "parquet", "--out", str(raw),
                   "--world", self.world]
        self.record(key, self.measure(key, command, self.env("unused")), scope, required=True)

    def load(self, raw: Path, tag: str, key: str, scope: dict | None = None) -> None:
        for leftover in self.workdir.glob(f"{tag}.duckdb*"):
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        self.record(key, self.measure(key, [*CHURNGUARD, "load", str(raw)], self.env(tag)), scope, required=True)

    def dbt(self, key: str, tag: str, args: list[str], scope: dict | None = None, vars_: dict | None = None) -> dict:
        command = [*CHURNGUARD, "dbt", "--", *args]
        if vars_:
            command += ["--vars", json.dumps(vars_)]
        step = self.measure(key, command, self.dbt_env(tag, key))
        step.update(self.dbt_timings(tag, key))
        return self.record(key, step, scope)

    def build(self, key: str, tag: str, scope: dict | None = None, as_of: str | None = None) -> dict:
        """``churnguard build``; with ``as_of`` the full build of a new warehouse as it was
        that day (``--as-of-date``: facts, tables and tests all end then; every test reads
        every row), which splits a long history into batches by itself; without, the nightly
        build with window-scoped tests, as on six nights of seven."""
        if as_of:
            command = [*CHURNGUARD, "build", "--as-of-date", as_of, "--tests", "full"]
        else:
            command = [*CHURNGUARD, "build", "--tests", "window"]
        step = self.measure(key, command, self.dbt_env(tag, key))
        step.update(self.dbt_timings(tag, key))
        step.update(batch_parts(Path(step["log"]).read_text(), step["seconds"]))
        return self.record(key, step, scope)

    def drop_built_schemas(self, tag: str) -> None:
        """Everything dbt built (a resumed run starts from the loaded raw tables only)."""
        import duckdb

        con = duckdb.connect(str(self.workdir / f"{tag}.duckdb"))
        try:
            schemas = [row[0] for row in con.execute(
                "select schema_name from information_schema.schemata where catalog_name = current_database() "
                "and schema_name not like 'raw%' and schema_name not in ('main', 'information_schema', 'pg_catalog')"
            ).fetchall()]
            for schema in schemas:
                con.execute(f'drop schema "{schema}" cascade')
            con.execute("checkpoint")
        finally:
            con.close()
        print(f"resumed: dropped {', '.join(schemas) or 'nothing'}", flush=True)

    def dbt_env(self, tag: str, key: str) -> dict[str, str]:
        """The step's env, with a fresh folder that keeps every dbt invocation's run results
        (a build in batches runs dbt several times)."""
        env = self.env(tag)
        archive = self.logs / f"{key}.run_results"
        shutil.rmtree(archive, ignore_errors=True)
        env["CHURNGUARD_DBT_RUN_RESULTS_ARCHIVE"] = str(archive)
        return env

    def dbt_timings(self, tag: str, key: str) -> dict:
        """Execution times summed over every dbt invocation of the step (models, tests), the
        slowest nodes, and the invocations' count; from the run results kept in
        ``logs/<key>.run_results/``."""
        artifacts = [json.loads(path.read_text()) for path in sorted((self.logs / f"{key}.run_results").glob("*.json"))]
        if not artifacts:
            return {}
        results = [node for artifact in artifacts for node in artifact["results"]]
        by_kind: dict[str, float] = {}
        incremental = 0.0
        for node in results:
            kind = node["unique_id"].split(".")[0]
            by_kind[kind] = by_kind.get(kind, 0.0) + node["execution_time"]
            if node["unique_id"].split(".")[-1] in INCREMENTAL_MODELS and kind == "model":
                incremental += node["execution_time"]
        per_node: dict[str, float] = {}  # a batched build runs the day-grain models once per batch
        for node in results:
            name = node["unique_id"].split(".", 2)[-1]
            per_node[name] = per_node.get(name, 0.0) + node["execution_time"]
        slowest = sorted(per_node.items(), key=lambda item: -item[1])[:6]
        return {
            "dbt_invocations": len(artifacts),
            "dbt_elapsed_seconds": round(sum(artifact.get("elapsed_time") or 0.0 for artifact in artifacts), 1),
            "dbt_seconds_by_kind": {k: round(v, 1) for k, v in by_kind.items()},
            "dbt_incremental_model_seconds": round(incremental, 1),
            "dbt_slowest": [[name, round(seconds, 1)] for name, seconds in slowest],
            "dbt_failures": sum(1 for n in results if n["status"] in ("error", "fail")),
        }

    def reference(self, tag: str, first_day: str, last_day: str) -> None:
        command = [str(PYTHON), str(REPO / "benchmarks" / "reference_pass.py"),
                   "--warehouse", str(self.workdir / f"{tag}.duckdb"),
                   "--scratch", str(self.workdir / "reference.duckdb"),
                   "--first-day", first_day, "--last-day", last_day]
        step = self.measure("reference", command, self.env(tag))
        output = (self.logs / "reference.log").read_text().strip().splitlines()
        if step["exit"] == 0 and output:
            figures = json.loads(output[-1].split("] ", 1)[1])  # after the elapsed-time prefix
            step["query_seconds"] = round(figures["seconds"], 2)
            step["rows"] = figures["rows"]
        self.record("reference", step)
        (self.workdir / "reference.duckdb").unlink(missing_ok=True)

    def as_of_date(self, tag: str) -> date:
        """Build the clock (util_date_bounds and the staging views under it) and read it."""
        import duckdb

        self.dbt(f"clock_{tag}", tag, ["run", "--select", "+util_date_bounds"], scope={})
        con = duckdb.connect(str(self.workdir / f"{tag}.duckdb"), read_only=True)
        try:
            return con.execute("select as_of_date from utilities.util_date_bounds").fetchone()[0]
        finally:
            con.close()

    def raw_counts(self, tag: str) -> dict[str, int]:
        import duckdb

        con = duckdb.connect(str(self.workdir / f"{tag}.duckdb"), read_only=True)
        try:
            tables = con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_schema like 'raw\\_%' escape '\\' and table_schema != 'raw_meta' order by 1, 2"
            ).fetchall()
            return {f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0] for s, t in tables}
        finally:
            con.close()

    def model_counts(self, tag: str) -> dict[str, int]:
        import duckdb

        con = duckdb.connect(str(self.workdir / f"{tag}.duckdb"), read_only=True)
        counts = {}
        try:
            for relation in ("marts.fct_customer_day", "marts.health_scores", "marts.customer_alerts"):
                try:
                    counts[relation] = con.execute(f"select count(*) from {relation}").fetchone()[0]
                except duckdb.Error:
                    pass
        finally:
            con.close()
        return counts

    def written(self, tag: str) -> dict:
        """Rows written per table (outside the raw schemas) and per raw row."""
        import duckdb

        con = duckdb.connect(str(self.workdir / f"{tag}.duckdb"), read_only=True)
        try:
            written = written_rows(con)
        finally:
            con.close()
        raw_total = sum(self.result.get("raw_rows", {}).values())
        return {**write_figures(written, raw_total), "rows_by_table": written}

    def nightly(self, tag: str, as_of: date, scope: dict | None, prefix: str = "") -> None:
        """Facts up to the day before, then the nightly build; then the incremental
        models alone over the same window (new day + lookback)."""
        self.build(f"{prefix}nightly_build", tag, scope)
        window_start = (as_of - timedelta(days=3)).isoformat()
        self.dbt(f"{prefix}incremental_run", tag, ["run", "--select", INCREMENTAL], scope,
                 {"start_date": window_start, "end_date": as_of.isoformat()})


def incremental_models() -> set[str]:
    models = set()
    for sql in (REPO / "dbt_project" / "models").rglob("*.sql"):
        if re.search(r"materialized\s*=\s*['\"]incremental['\"]", sql.read_text()):
            models.add(sql.stem)
    return models


INCREMENTAL_MODELS = incremental_models()


BATCH_LINE = re.compile(
    r"^\[\s*([0-9.]+)s\] batch (\d+)/(\d+): (\d{4}-\d\d-\d\d) \.\. (\d{4}-\d\d-\d\d)", re.MULTILINE
)


def batch_parts(log: str, seconds: float) -> dict:
    """The parts of a ``churnguard build`` that split its history into batches, dated by
    the log's elapsed-time prefixes: the upstream build, each batch (the last one with
    everything downstream and the tests); ``{}`` for a build in one pass."""
    marks = [(float(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4), m.group(5))
             for m in BATCH_LINE.finditer(log)]
    if not marks:
        return {}
    parts = {"upstream": round(marks[0][0], 1)}
    for index, (at, number, count, first, last) in enumerate(marks):
        end = marks[index + 1][0] if index + 1 < len(marks) else seconds
        label = f"batch {number} ({first} .. {last})" + (", then everything downstream" if number == count else "")
        parts[label] = round(end - at, 1)
    days = [(date.fromisoformat(m[4]) - date.fromisoformat(m[3])).days + 1 for m in marks]
    return {"batches": marks[0][2], "batch_days": max(days), "parts": parts}


def run_size(
    size: str,
    workdir: Path,
    history_days: int | None,
    results_path: Path,
    stop_after: str | None = None,
    batch_rows: int | None = None,
    resume: bool = False,
    world: str = DEFAULT_WORLD,
) -> dict:
    customers, days = SIZES[size]
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(size, workdir, results_path, world)
    first_day = date.fromisoformat(START_DATE)
    last_day = first_day + timedelta(days=days - 1)
    bench.result.update(
        customers=customers,
        days=days,
        started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        machine=machine(),
        memory_limit=os.environ.get("CHURNGUARD_DUCKDB_MEMORY_LIMIT", "5GB"),
        load_at_start=load_average(),
    )
    raw = workdir / "raw"
    if resume:  # keep the stored generate/load/reference figures and the loaded raw tables
        stored = json.loads(results_path.read_text())
        for key in ("generate", "load", "reference"):
            bench.result["steps"][key] = stored["steps"][key]
        bench.result.update(started_at=stored["started_at"], load_at_start=stored["load_at_start"], resumed=True)
        bench.drop_built_schemas("wh")
    else:
        bench.generate(customers, days, raw, "generate")
        bench.load(raw, "wh", "load")
    bench.result["raw_rows"] = bench.raw_counts("wh")
    if not resume:
        bench.reference("wh", first_day.isoformat(), last_day.isoformat())
    if stop_after == "reference":
        bench.result["finished_at"] = "stopped after the reference pass (--stop-after reference)"
        bench.save()
        return bench.result
    as_of = bench.as_of_date("wh")
    bench.result["as_of_date"] = as_of.isoformat()
    if batch_rows is not None:
        os.environ[BATCH_ROWS_ENV] = str(batch_rows)  # every later step's env() copies it
    bench.result["batch_rows"] = os.environ.get(BATCH_ROWS_ENV, "default")
    bench.build("full_build", "wh", as_of=(as_of - timedelta(days=1)).isoformat())
    bench.nightly("wh", as_of, None)
    backfill_end = as_of - timedelta(days=7)
    bench.dbt("backfill_week", "wh", ["run", "--select", INCREMENTAL], None,
              {"start_date": (backfill_end - timedelta(days=6)).isoformat(), "end_date": backfill_end.isoformat()})
    bench.result["model_rows"] = bench.model_counts("wh")
    bench.result["written"] = bench.written("wh")
    bench.save()
    bench.record("quality", bench.measure("quality", [*CHURNGUARD, "quality"], bench.env("wh")))
    bench.record("delivery", bench.measure("delivery", [*CHURNGUARD, "sync"], bench.env("wh")))

    if history_days:
        history = bench.result["history"]
        history["days"] = history_days
        hraw = workdir / "raw_history"
        bench.generate(customers, history_days, hraw, "history_generate", history)
        bench.load(hraw, "history", "history_load", history)
        history["raw_rows"] = sum(bench.raw_counts("history").values())
        h_as_of = bench.as_of_date("history")
        bench.build("history_full_build", "history", history, as_of=(h_as_of - timedelta(days=1)).isoformat())
        bench.nightly("history", h_as_of, history, prefix="history_")
        shutil.rmtree(hraw, ignore_errors=True)
    bench.result["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    bench.result["load_at_end"] = load_average()
    bench.save()
    return bench.result


# -------------------------------------------------------------------- report
def _fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds >= 120:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def _wall_cpu(step: dict | None) -> str:
    """Wall time, and the CPU time of the step's processes in parentheses."""
    if not step:
        return "n/a"
    cpu = step.get("cpu_seconds")
    return _fmt_seconds(step.get("seconds")) + (f" ({_fmt_seconds(cpu)} CPU)" if cpu is not None else "")


def _status(step: dict) -> str:
    if step.get("exit", 0) == 0:
        return "ok"
    return f"exit {step['exit']}"


def size_table(result: dict) -> list[str]:
    steps = result["steps"]
    reference = steps.get("reference", {}).get("seconds")
    lines = [
        f"### {label_of(result, long=True)}: {result['customers']:,} customers x {result['days']} days",
        "",
        f"Run {result.get('started_at', '?')} .. {result.get('finished_at', 'unfinished')}; as-of date "
        f"{result.get('as_of_date', '?')}; DuckDB memory limit {result.get('memory_limit')}, 2 threads; "
        f"1-minute load average {result.get('load_at_start')} at start, {result.get('load_at_end', '?')} at end.",
        "",
        "| step | wall time | CPU time | x reference | peak memory (RSS) | peak spill | status |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for key, label in STEP_LABELS.items():
        step = steps.get(key)
        if step is None:
            lines.append(f"| {label} | not run | | | | | |")
            continue
        ratio = f"{step['seconds'] / reference:.1f}" if reference else "n/a"
        if key == "reference":
            ratio = "1.0"
        spill = step.get("peak_spill_bytes")
        lines.append(
            f"| {label} | {_fmt_seconds(step['seconds'])} | {_fmt_seconds(step.get('cpu_seconds'))} | {ratio} | "
            f"{step['peak_rss_bytes'] / GIB:.2f} GiB | {'not measured' if spill is None else f'{spill / GIB:.2f} GiB'} | "
            f"{_status(step)} |"
        )
    full = steps.get("full_build", {})
    nightly = steps.get("nightly_build", {})
    incremental = steps.get("incremental_run", {})
    ref = steps.get("reference", {})
    lines += [""]
    if ref.get("rows"):
        lines.append(
            f"Reference pass: {ref['rows']:,} customer-day rows; the statement itself took "
            f"{ref.get('query_seconds')} s (the rest of the step is Python and DuckDB start-up)."
        )
    if full.get("batches"):
        lines.append(
            f"Full build: `churnguard build` split the history into {full['batches']} batches of up to "
            f"{full['batch_days']} days ({BATCH_ROWS_ENV}={result.get('batch_rows', 'default')}): "
            + ", ".join(f"{name} {_fmt_seconds(sec)}" for name, sec in full["parts"].items())
            + "."
        )
    for key, label in (("full_build", "Full build"), ("nightly_build", "Nightly build")):
        step = steps.get(key, {})
        kinds = step.get("dbt_seconds_by_kind")
        if kinds:
            lines.append(
                f"{label}: dbt's own elapsed time {step.get('dbt_elapsed_seconds', 0):.0f} s of "
                f"{_fmt_seconds(step['seconds'])} wall in {step.get('dbt_invocations', 1)} dbt invocation(s) "
                "(the rest is start-up and parsing); "
                f"node time summed over both threads: models {kinds.get('model', 0):.0f} s "
                f"(incremental models {step.get('dbt_incremental_model_seconds', 0):.0f} s), "
                f"data tests {kinds.get('test', 0):.0f} s, unit tests {kinds.get('unit_test', 0):.0f} s, "
                f"seeds {kinds.get('seed', 0):.0f} s; slowest: "
                + ", ".join(f"{name} {sec} s" for name, sec in step.get("dbt_slowest", [])[:4])
                + "."
            )
    written = result.get("written")
    if written:
        raw_total = sum(result.get("raw_rows", {}).values())
        fact = written["rows_by_table"].get(FACT_TABLE)
        lines.append(
            f"Rows written: {written['rows_written']:,} rows in {written['tables_written']} tables outside the raw "
            f"schemas for {raw_total:,} raw rows = **{written['rows_written_per_raw_row']} per raw row**; "
            f"`fct_customer_day` {fact if fact is None else f'{fact:,}'} rows = "
            f"{written['fct_customer_day_per_raw_row']} per raw row (after the nightly build and the backfill)."
        )
    if full and nightly and incremental:
        lines.append(
            f"Nightly build = {nightly['seconds'] / full['seconds']:.0%} of the full build; "
            f"the incremental models alone over the nightly window = "
            f"{incremental['seconds'] / full['seconds']:.1%} of it."
        )
    history = result.get("history") or {}
    if history.get("history_nightly_build"):
        lines += [
            "",
            f"History effect (same {result['customers']:,} customers, one new day):",
            "",
            "| history | raw rows | full build | nightly build | incremental models only |",
            "|---|---:|---:|---:|---:|",
            f"| {history['days']} days | {history.get('raw_rows', 0):,} | "
            f"{_wall_cpu(history.get('history_full_build'))} | {_wall_cpu(history['history_nightly_build'])} | "
            f"{_wall_cpu(history.get('history_incremental_run'))} |",
            f"| {result['days']} days | {sum(result.get('raw_rows', {}).values()):,} | "
            f"{_wall_cpu(full)} | {_wall_cpu(nightly)} | {_wall_cpu(incremental)} |",
        ]
        if history.get("rerun_nightly_build"):
            lines.append(
                f"| {result['days']} days, re-timed (`--rerun-nightly`, load {history['rerun_nightly_build']['load_before']}) | | | "
                f"{_fmt_seconds(history['rerun_nightly_build']['seconds'])} | "
                f"{_fmt_seconds(history.get('rerun_incremental_run', {}).get('seconds'))} |"
            )
        lines += [
            "",
            "Load average at the start of each nightly step: "
            f"{history['days']} days {history['history_nightly_build'].get('load_before')}, "
            f"{result['days']} days {nightly.get('load_before')}.",
        ]
    return lines


def label_of(result: dict, long: bool = False) -> str:
    """``S`` for the default world, ``S order_shop`` (``Size S, world order_shop``) else."""
    world = result.get("world", DEFAULT_WORLD)
    if long:
        return f"Size {result['size']}" + ("" if world == DEFAULT_WORLD else f", world {world}")
    return result["size"] + ("" if world == DEFAULT_WORLD else f" {world}")


def _per_raw_row(result: dict, key: str) -> str:
    value = (result.get("written") or {}).get(key)
    return "not measured" if value is None else f"{value}"


def rows_table(results: list[dict]) -> list[str]:
    sizes = [label_of(r) for r in results]
    tables = sorted({t for r in results for t in r.get("raw_rows", {})})
    lines = ["| raw table | " + " | ".join(sizes) + " |", "|---|" + "---:|" * len(sizes)]
    for table in tables:
        lines.append(f"| `{table}` | " + " | ".join(f"{r.get('raw_rows', {}).get(table, 0):,}" for r in results) + " |")
    lines.append("| **total raw rows** | " + " | ".join(f"{sum(r.get('raw_rows', {}).values()):,}" for r in results) + " |")
    models = sorted({t for r in results for t in r.get("model_rows", {})})
    for table in models:
        cells = [r.get("model_rows", {}).get(table) for r in results]
        lines.append(f"| `{table}` (built) | " + " | ".join("not built" if c is None else f"{c:,}" for c in cells) + " |")
    lines.append("| **rows written** (every table outside the raw schemas) | " + " | ".join(
        "not measured" if not r.get("written") else f"{r['written']['rows_written']:,}" for r in results) + " |")
    lines.append("| **rows written per raw row** | " + " | ".join(
        _per_raw_row(r, "rows_written_per_raw_row") for r in results) + " |")
    lines.append("| `fct_customer_day` rows per raw row | " + " | ".join(
        _per_raw_row(r, "fct_customer_day_per_raw_row") for r in results) + " |")
    return lines


def stored_results() -> list[dict]:
    """Every stored result: the sizes of the default world first (S, M, L), then the other
    worlds by size and name."""
    from churnguard.generator.core import WORLDS

    names = [result_name(size) for size in SIZES]
    names += [result_name(size, world) for size in SIZES for world in sorted(WORLDS) if world != DEFAULT_WORLD]
    return [json.loads((RESULTS_DIR / name).read_text()) for name in names if (RESULTS_DIR / name).exists()]


def render(out: Path) -> None:
    results = stored_results()
    if not results:
        raise SystemExit("no stored results in benchmarks/results/; run a size first")
    info = results[0]["machine"]
    notes_path = REPO / "benchmarks" / "NOTES.md"
    lines = [
        "# Benchmarks",
        "",
        "<!-- The tables are generated by `benchmarks/scale.py --size S|M|L [--world NAME] --out docs/BENCHMARKS.md`",
        "     from benchmarks/results/*.json; the notes come from benchmarks/NOTES.md. -->",
        "",
        f"Machine: {info['cores']} cores ({info['cpu']}), {info['memory_gib']} GiB memory; "
        f"DuckDB {info['duckdb']}, dbt-core {info['dbt']}, Python {info['python']}. "
        "Every step runs with the dbt profile's DuckDB settings (memory limit "
        f"{results[-1].get('memory_limit')}, 2 threads, temp directory for spills).",
        "",
        "**x reference** divides a step's wall time by the reference pass: one hand-written DuckDB",
        "statement that reads every raw table once and aggregates it to customer x day",
        "(`benchmarks/reference_pass.py`). It is the least work any implementation must do, so the",
        "ratios compare across machines. Wall times include process start-up (about 5-10 s for dbt",
        "to start and parse the project). Peak memory is the resident set of the step's largest",
        "process (dbt and DuckDB run in one).",
        "",
    ]
    for result in results:
        table = size_table(result)
        other = result.get("machine", info)
        if other != info:  # measured on another machine or library version than the header's
            table[2:2] = [f"Machine of this run: {other['cores']} cores ({other['cpu']}), {other['memory_gib']} GiB; "
                          f"DuckDB {other['duckdb']}, dbt-core {other['dbt']}, Python {other['python']}.", ""]
        lines += table + [""]
    lines += ["### Row counts", ""] + rows_table(results) + [""]
    if notes_path.exists():
        lines += [notes_path.read_text().rstrip(), ""]
    out.write_text("\n".join(lines))
    print(f"wrote {out}")


def check(result: dict) -> list[str]:
    """Gross regressions only."""
    problems = []
    # DuckDB's limit covers its buffer pool; dbt, Python and GX add up to about 1 GiB.
    limit = memory_limit_bytes() + GIB
    steps = result["steps"]
    for key, step in steps.items():
        if step.get("exit", 0) != 0 and key not in ("quality", "delivery"):
            problems.append(f"{key} failed (exit {step['exit']}; log {step.get('log')})")
        if step["peak_rss_bytes"] > limit:
            problems.append(
                f"{key} peak memory {step['peak_rss_bytes'] / GIB:.2f} GiB is above the DuckDB memory limit + 1 GiB "
                f"({limit / GIB:.2f} GiB)"
            )
    for key in ("quality", "delivery"):
        if steps.get(key, {}).get("exit") == 2:
            problems.append(f"{key} could not run (exit 2; log {steps[key].get('log')})")
    full, nightly, incremental = (steps.get(k, {}) for k in ("full_build", "nightly_build", "incremental_run"))
    # Steps are compared on CPU time where it was measured: on a shared CI machine wall time
    # swung 2-5x between steps of one run (a nightly build 1.27x the full build's wall time
    # with the same work). Results stored before cpu_seconds existed fall back to wall time.
    measure = "cpu_seconds" if all("cpu_seconds" in s for s in (full, nightly, incremental) if s) else "seconds"
    unit = "CPU s" if measure == "cpu_seconds" else "s"
    if full and incremental and incremental[measure] >= full[measure]:
        problems.append(f"incremental run {incremental[measure]} {unit} is not less than the full build's {full[measure]} {unit}")
    if full and nightly and nightly[measure] > 1.25 * full[measure]:  # it was 70-95% of it at S
        problems.append(f"nightly build {nightly[measure]} {unit} is more than 1.25 x the full build's {full[measure]} {unit}")
    full_incr = full.get("dbt_incremental_model_seconds")
    nightly_incr = nightly.get("dbt_incremental_model_seconds")
    if full_incr and nightly_incr and nightly_incr >= full_incr:
        problems.append(
            f"incremental models took {nightly_incr} s in the nightly build, not less than {full_incr} s in the full build"
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    from churnguard.generator.core import WORLDS

    parser.add_argument("--size", choices=sorted(SIZES), help="S, M or L")
    parser.add_argument("--world", choices=sorted(WORLDS), default=DEFAULT_WORLD,
                        help=f"the generator's world (churnguard generate --world; default {DEFAULT_WORLD})")
    parser.add_argument("--out", type=Path, help="render every stored size to this Markdown file")
    parser.add_argument("--check", action="store_true", help="exit 1 on gross regressions")
    parser.add_argument("--workdir", type=Path, help="scratch folder (default: /tmp/churnguard-bench/<size>)")
    parser.add_argument("--history-days", type=int, help="also time the nightly run on an N-day history")
    parser.add_argument("--keep", action="store_true", help="keep the workdir (warehouse, raw data, logs)")
    parser.add_argument("--stop-after", choices=["reference"], help="stop after this step (partial run)")
    parser.add_argument("--render-only", action="store_true", help="only render stored results to --out")
    parser.add_argument(
        "--resume", action="store_true",
        help="reuse the workdir's loaded warehouse and the stored generate/load/reference figures; rebuild the rest",
    )
    parser.add_argument(
        "--batch-rows", type=int,
        help=f"customer-days per batch of the full build ({BATCH_ROWS_ENV}; default: the product's; 0 = one pass)",
    )
    parser.add_argument(
        "--rerun-nightly", action="store_true",
        help="re-time the nightly build and incremental models on the kept workdir (e.g. once the machine is quiet)",
    )
    parser.add_argument(
        "--reference-only", action="store_true",
        help="re-measure only the reference pass on the workdir's warehouse (kept with --keep) and update the stored size",
    )
    args = parser.parse_args(argv)

    if args.render_only:
        if not args.out:
            parser.error("--render-only needs --out")
        render(args.out)
        return 0
    if not args.size:
        parser.error("--size is required")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stops the running step too
    tag = args.size if args.world == DEFAULT_WORLD else f"{args.size}-{args.world}"
    workdir = (args.workdir or Path("/tmp/churnguard-bench") / tag).resolve()
    started = time.perf_counter()
    if args.rerun_nightly:
        stored = RESULTS_DIR / result_name(args.size, args.world)
        bench = Bench(args.size, workdir, stored, args.world)
        bench.result = json.loads(stored.read_text())
        bench.result.setdefault("history", {})
        bench.nightly("wh", date.fromisoformat(bench.result["as_of_date"]), bench.result["history"], prefix="rerun_")
        if args.out:
            render(args.out)
        return 0
    if args.reference_only:
        stored = RESULTS_DIR / result_name(args.size, args.world)
        result = json.loads(stored.read_text())
        bench = Bench(args.size, workdir, stored, args.world)
        bench.result = result
        first_day = date.fromisoformat(START_DATE)
        last_day = first_day + timedelta(days=result["days"] - 1)
        bench.reference("wh", first_day.isoformat(), last_day.isoformat())
        if args.out:
            render(args.out)
        return 0
    # A --check run without --out keeps its figures out of the stored results.
    stored = RESULTS_DIR / result_name(args.size, args.world)
    results_path = workdir / "result.json" if args.check and not args.out else stored
    result = run_size(args.size, workdir, args.history_days, results_path, args.stop_after, args.batch_rows,
                      args.resume, args.world)
    print(f"size {tag} done in {_fmt_seconds(time.perf_counter() - started)}")
    print("\n".join(size_table(result)))
    if args.out:
        render(args.out)
    if not args.keep:
        shutil.rmtree(workdir / "raw", ignore_errors=True)
    if args.check:
        problems = check(result)
        for problem in problems:
            print(f"REGRESSION: {problem}", file=sys.stderr)
        if problems:
            return 1
        print("benchmark check passed: no gross regression")
    return 0


if __name__ == "__main__":
    sys.exit(main())
