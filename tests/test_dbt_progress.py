"""``churnguard build`` prints one readable line per built node and per failed test, not
dbt's ~2,000-line console log with ANSI colours."""

from __future__ import annotations

import io
import json
import re

from churnguard.cli import main
from churnguard.dbt_progress import DbtProgress


def _event(event: str, msg: str = "", level: str = "info", **data) -> str:
    return json.dumps({"info": {"name": event, "msg": msg, "level": level}, "data": data})


def _node(schema: str, alias: str, materialized: str, resource: str = "model", status: str = "success") -> dict:
    return {"node_relation": {"schema": schema, "alias": alias}, "node_name": alias, "materialized": materialized,
            "resource_type": resource, "node_status": status}


def test_events_become_short_lines_and_a_summary():
    out = io.StringIO()
    progress = DbtProgress(stream=out)
    lines = [
        "<frozen runpy>:128: RuntimeWarning: not JSON, kept in dbt.log only",
        _event("ConcurrencyLine", node_count=5, num_threads=2),
        _event("LogStartLine", "1 of 5 START seed file reference.health_tiers"),
        _event("LogSeedResult", status="success", execution_time=0.52,
               node_info=_node("reference", "health_tiers", "seed", "seed")),
        _event("LogModelResult", status="OK", execution_time=25.84,
               node_info=_node("marts", "fct_customer_day", "incremental")),
        _event("LogTestResult", status="pass", name="unique_a", attached_node="model.churnguard.a"),
        _event("LogTestResult", status="fail", name="not_null_health_scores_customer_id", num_failures=3,
               attached_node="model.churnguard.health_scores"),
        _event("LogTestResult", status="warn", name="recency_warning", num_failures=1, attached_node=""),
        _event("LogModelResult", "4 of 5 ERROR creating sql table model marts.kpi_monthly", status="ERROR",
               execution_time=0.1, node_info=_node("marts", "kpi_monthly", "table", status="error")),
        _event("StatsLine", stats={"pass": 3, "warn": 1, "error": 2, "skip": 0, "total": 6}),
    ]
    for line in lines:
        progress.feed(line + "\n")
    progress.finish(1)
    text = re.sub(r"^\[\d\d:\d\d:\d\d\] ", "", out.getvalue(), flags=re.M).splitlines()
    assert text == [
        "    5 nodes, 2 threads",
        "      reference.health_tiers  seed  0.5s",
        "      marts.fct_customer_day  incremental  25.8s",
        "!     test failed: not_null_health_scores_customer_id (3 rows) on health_scores",
        "!     test warned: recency_warning (1 rows)",
        "!!!   marts.kpi_monthly table FAILED: 4 of 5 ERROR creating sql table model marts.kpi_monthly",
        text[-1],
    ]
    assert re.fullmatch(
        r"    dbt FAILED \(exit 1\) in \d+\.\ds: 1 model, 1 seed, 1 tests passed, 1 warned, 1 failed"
        r"  \[PASS=3 WARN=1 ERROR=2 SKIP=0 TOTAL=6\]",
        text[-1],
    ), text[-1]
    assert progress.errors[0].startswith("test not_null_health_scores_customer_id: fail")


def test_churnguard_build_prints_readable_progress(isolated_warehouse, capsys):
    code = main(["--warehouse", str(isolated_warehouse), "build", "--select", "health_tiers"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "\x1b[" not in out  # no ANSI colour codes
    lines = out.splitlines()
    assert re.search(r"\] ==> dbt build --select health_tiers$", lines[0])
    assert any(line.endswith("reference.health_tiers  seed  " + line.rsplit("  ", 1)[-1]) for line in lines)
    summary = [line for line in lines if "dbt done in" in line]
    # the seed and its tests (accepted values, not null, unique ...), every one passed
    assert len(summary) == 1 and re.search(r"1 seed, (\d+) tests passed, 0 failed", summary[0])
    passed = int(re.search(r"(\d+) tests passed", summary[0]).group(1))
    assert passed >= 3 and "ERROR=0" in summary[0]  # dbt's own count (PASS) also counts the hooks
    assert len(lines) <= 6
