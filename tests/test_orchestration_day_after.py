"""The day after install: what a user finds after ``churnguard run`` (issue "The day after install").

One slow test on the committed sample (history 2025-01-01 .. 2025-12-31), two runs:

1. ``churnguard run`` records to the Dagster instance that ``churnguard ui`` opens
   (``<warehouse folder>/dagster_home``): the run, its materializations and the 365 daily
   partitions of the facts are read back from that instance;
2. the partitions are the data's days, not the wall clock's; the sources are judged fresh or
   stale against the data's as-of date, and the stale one is in the summary and the checks;
3. the marts are published to a DuckDB file in storage format v1.0.0 (DuckDB 1.0+ clients
   read it), and a reader holds it open and keeps reading during a second run while the
   warehouse itself is locked by that run;
4. the HTML report's charts plot the marts' numbers;
5. in a real browser (headless Chromium from Debian, driven by Selenium), the UI shows the
   run, the 365 materialized partitions 2025-01-01 .. 2025-12-31 and the gate node
   (skipped with a message where Chromium and its driver are not installed).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import urllib.error
import urllib.request
from contextlib import redirect_stdout
from dataclasses import dataclass
import re
import struct
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus

from churnguard import cli, contract
from churnguard.defs.locking import read_holder
from churnguard.defs.ui import ui_environment
from churnguard.publish import published_path
from churnguard.report import chart_specs, plotted_rows, report_path
from orchestration_support import shared_dbt_target

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("day_after")]  # one first run for both tests

DUCKDB_1_0_STORAGE_NUMBER = 64
"""The storage version number in the header of files DuckDB 1.0.0 .. 1.1.x write and every 1.x reads."""


def _storage_number(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[8:12] == b"DUCK", header
    return struct.unpack("<Q", header[12:20])[0]


def _run_holds_the_warehouse(warehouse: Path) -> bool:
    """The writer's lock is taken (read from the lock file: opening the warehouse would disturb the run)."""
    return read_holder(warehouse) is not None


@dataclass
class FirstRun:
    warehouse: Path
    env: dict[str, str]
    exit_code: int
    out: str


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> FirstRun:
    """`churnguard run` on a new warehouse, as `make run` does it (once for this module)."""
    root = tmp_path_factory.mktemp("day_after")
    warehouse = root / "warehouse" / "churnguard.duckdb"
    env = {
        "CHURNGUARD_WAREHOUSE": str(warehouse),
        "CHURNGUARD_DBT_TARGET_PATH": str(shared_dbt_target(tmp_path_factory)),
        "CHURNGUARD_DBT_LOG_PATH": str(root / "dbt_logs"),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        for name in ("CHURNGUARD_DAGSTER_HOME", "CHURNGUARD_RAW_DATA_DIR", "CHURNGUARD_DATA_CLOCK"):
            patch.delenv(name, raising=False)
        out = io.StringIO()
        with redirect_stdout(out):
            code = cli.main(["run"])
    return FirstRun(warehouse=warehouse, env=env, exit_code=code, out=out.getvalue())


def test_run_is_in_the_ui_instance_over_the_data_days_with_published_marts_and_a_report(
    first_run: FirstRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = first_run.warehouse
    for name, value in first_run.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CHURNGUARD_DAGSTER_HOME", raising=False)

    # -- first run, as `make run` does it
    assert first_run.exit_code == 0, first_run.out[-3000:]
    out = first_run.out
    assert "Nightly run over partitions 2025-01-01 .. 2025-12-31" in out  # the sample's days, not up to yesterday

    # -- 1. the instance the UI opens holds the run and its materializations
    home = Path(ui_environment(warehouse)["DAGSTER_HOME"])
    assert home == warehouse.parent / "dagster_home"
    assert f"Dagster instance {home}" in out
    instance = DagsterInstance.from_config(str(home))
    try:
        [run] = instance.get_runs()
        assert run.job_name == "churnguard_nightly" and run.status == DagsterRunStatus.SUCCESS
        facts = AssetKey("fct_customer_day")
        with duckdb.connect(str(warehouse), read_only=True) as con:
            days = {str(d) for (d,) in con.execute("select distinct date_day from marts.fct_customer_day").fetchall()}
            kpi_rows = con.execute("select count(*) from marts.kpi_monthly").fetchone()[0]
            alert_rows = con.execute("select count(*) from marts.current_alert_list").fetchone()[0]
        assert len(days) == 365 and min(days) == "2025-01-01" and max(days) == "2025-12-31"
        assert set(instance.get_materialized_partitions(facts)) == days
        for key in ("current_alert_list", "kpi_monthly", "published_marts", "run_report"):
            event = instance.get_latest_materialization_event(AssetKey(key))
            assert event is not None and event.run_id == run.run_id, key

        # -- 2. freshness against the data's clock (the end of 2025-12-31): two sources lag behind
        checks = {
            record.get_dagster_event().event_specific_data.asset_key.to_user_string():
                record.get_dagster_event().event_specific_data
            for record in instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
            if record.get_dagster_event().event_specific_data.check_name == "source_freshness"
        }
        assert len(checks) == len(contract.TABLES)  # one per raw table
        # the sample's last login sync is 2025-12-31T23:59:59Z: 1 s before the end of the as-of date
        assert checks["crm/logins"].passed
        # the last intervention sync is 2025-12-22T16:21:19Z: 9.3 days old, error after 72 h;
        # the last order sync 2025-12-30T00:33Z: 47 h old, warn after 36 h
        assert {k for k, c in checks.items() if not c.passed} == {"crm/interventions", "billing/orders"}
        assert checks["crm/interventions"].severity.value == "ERROR" and checks["billing/orders"].severity.value == "WARN"
        assert "data clock: historical data, as of 2025-12-31" in out
        assert f"STALE SOURCES: 2 of {len(contract.TABLES)}" in out
        assert "crm.interventions: last _synced_at 2025-12-22 16:21, 9.3 days old (error after 3.0 days)" in out
        report_materialization = instance.get_latest_materialization_event(AssetKey("run_report")).asset_materialization
        assert report_materialization.metadata["report"].value == report_path(warehouse).as_uri()
    finally:
        instance.dispose()

    # -- 3. the published copy: DuckDB 1.0 storage, same rows as the warehouse
    published = published_path(warehouse)
    assert published == warehouse.parent / "published" / "churnguard_marts.duckdb"
    assert _storage_number(published) == DUCKDB_1_0_STORAGE_NUMBER
    assert f"published marts for BI tools (read-only, DuckDB v1.0.0+ clients): {published}" in out
    reader = duckdb.connect(str(published), read_only=True)
    assert reader.execute("select count(*) from marts.kpi_monthly").fetchone()[0] == kpi_rows
    assert reader.execute("select count(*) from marts.current_alert_list").fetchone()[0] == alert_rows
    assert reader.execute("select row_count from marts.published_marts where mart = 'kpi_monthly'").fetchone()[0] == kpi_rows
    marts_before = reader.execute("select count(*) from marts.published_marts").fetchone()[0]
    assert marts_before >= 13
    # types a BI connector maps: no HUGEINT, every money column DECIMAL(18,4), 'all' flagged
    types = reader.execute(
        "select table_name, column_name, data_type from information_schema.columns where table_schema = 'marts'"
    ).fetchall()
    assert [t for t in types if t[2] == "HUGEINT"] == []
    money = {(t, c): d for t, c, d in types if c in ("mrr", "current_mrr", "revenue", "customer_lifetime_value")}
    assert set(money.values()) == {"DECIMAL(18,4)"} and ("fct_customer_day", "mrr") in money
    assert reader.execute(
        "select count(*) filter (where is_all_segments) = count(*) filter (where segment = 'all') from marts.kpi_monthly"
    ).fetchone()[0]

    # -- 4. the report plots the marts' numbers
    assert f"run report: {report_path(warehouse).as_uri()}" in out
    specs = chart_specs(report_path(warehouse))
    assert {"health_tiers", "kpi_trends", "alert_funnel"} <= set(specs)
    text = report_path(warehouse).read_text(encoding="utf-8")
    assert text.count("<svg") >= 3  # pictures inline: nothing to fetch to view the page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", text) and "<link" not in text
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tiers = con.execute(
            "select strftime(date_day, '%Y-%m-%d'), health_tier, count(*) from marts.health_scores "
            "where date_day in ('2025-06-30', '2025-12-31') and health_tier is not null group by 1, 2"
        ).fetchall()
        churn = dict(con.execute(
            "select strftime(period_start_date, '%Y-%m'), customer_churn_rate from marts.kpi_monthly "
            "where segment = 'all' and customer_churn_rate is not null"
        ).fetchall())
        opened, saved = con.execute(
            "select count(*), count(*) filter (where save_outcome = 'saved') from marts.kpi_alert_outcomes"
        ).fetchone()
    plotted_tiers = {(r["day"], r["tier"]): r["customers"] for r in plotted_rows(specs["health_tiers"])}
    assert tiers and all(plotted_tiers[(day, tier)] == n for day, tier, n in tiers)
    plotted_churn = {
        r["month"]: r["actual"] for r in plotted_rows(specs["kpi_trends"])
        if r["kpi"] == "customer churn rate" and r["actual"] is not None
    }
    assert len(churn) >= 11 and plotted_churn == pytest.approx({m: float(v) for m, v in churn.items()})
    funnel = {r["stage"]: r["episodes"] for r in plotted_rows(specs["alert_funnel"])}
    assert funnel["opened"] == opened > 0 and funnel["saved"] == saved

    # -- 3b. a reader keeps reading the published copy while a second run writes the warehouse
    env = {**os.environ, "CHURNGUARD_WAREHOUSE": str(warehouse)}
    second = subprocess.Popen(
        # `-m`, not `-c`: with pyspark installed (churnguard[spark]) Great Expectations imports
        # pyspark.sql.connect, whose dependency check calls sys.exit(0) in a `python -c` process
        [sys.executable, "-m", "churnguard.cli", "run"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    reads = locked_seen = 0
    deadline = time.monotonic() + 900
    try:
        while second.poll() is None and time.monotonic() < deadline:
            # the open reader, and a new reader each time: both always read a complete copy
            assert reader.execute("select count(*) from marts.kpi_monthly").fetchone()[0] == kpi_rows
            with duckdb.connect(str(published), read_only=True) as fresh:
                assert fresh.execute("select count(*) from marts.kpi_monthly").fetchone()[0] == kpi_rows
            reads += 1
            locked_seen += _run_holds_the_warehouse(warehouse)
            time.sleep(0.5)
        output = second.communicate(timeout=max(1, deadline - time.monotonic()))[0]
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()
    assert second.returncode == 0, output[-3000:]
    assert locked_seen > 0 and reads > locked_seen  # the warehouse was locked while the copy was read
    assert reader.execute("select count(*) from marts.kpi_monthly").fetchone()[0] == kpi_rows
    reader.close()
    with duckdb.connect(str(published), read_only=True) as con:  # the new copy, from the second run
        run_ids = {r for (r,) in con.execute("select distinct run_id from marts.published_marts").fetchall()}
    assert len(run_ids) == 1 and run.run_id not in run_ids
    instance = DagsterInstance.from_config(str(home))
    try:
        assert len(instance.get_runs()) == 2  # both runs are in the UI's instance
    finally:
        instance.dispose()


# -- 5. the browser acceptance test ------------------------------------------------------

CHROMIUM_HELP = (
    "no headless Chromium for the browser acceptance test: install Debian's `chromium` and "
    "`chromium-driver` (apt-get install chromium chromium-driver) and the dev extra (selenium)"
)
UI_STARTUP_SECONDS = 240
PAGE_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ui_ready(port: int) -> bool:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": "{ assetNodes { id } }"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return bool(json.loads(response.read()).get("data", {}).get("assetNodes"))
    except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
        return False


def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip(CHROMIUM_HELP)
    if not chromium or not driver:
        pytest.skip(CHROMIUM_HELP)
    options = Options()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1000"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(driver), options=options)  # the Debian driver: nothing downloaded


def _page_text(browser, url: str, expected: list[str], screenshot: Path) -> str:
    """Open ``url``, dismiss Dagster's newsletter dialog, wait (bounded) for ``expected``."""
    from selenium.webdriver.common.by import By

    browser.get(url)
    deadline, text = time.monotonic() + PAGE_SECONDS, ""
    while time.monotonic() < deadline:
        for button in browser.find_elements(By.XPATH, "//button[normalize-space()='Skip']"):
            try:
                button.click()
            except Exception:  # re-rendered meanwhile: the next poll finds it again
                pass
        text = browser.find_element(By.TAG_NAME, "body").text
        if all(item in text for item in expected):
            break
        time.sleep(1)
    browser.save_screenshot(str(screenshot))
    return text


def test_the_ui_in_a_browser_shows_the_run_the_data_days_and_the_gate(first_run: FirstRun, tmp_path: Path) -> None:
    assert first_run.exit_code == 0, first_run.out[-3000:]
    browser = _browser()  # skips when there is no Chromium
    home = first_run.warehouse.parent / "dagster_home"
    instance = DagsterInstance.from_config(str(home))
    try:
        run_id = instance.get_runs()[-1].run_id  # the first run (newest first)
    finally:
        instance.dispose()
    port = _free_port()
    env = {**os.environ, **first_run.env}
    env.pop("CHURNGUARD_DAGSTER_HOME", None)
    log = open(tmp_path / "ui.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "churnguard.cli", "ui", "--no-daemon", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    shots = Path(os.environ.get("CHURNGUARD_SCREENSHOTS_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    try:
        deadline = time.monotonic() + UI_STARTUP_SECONDS
        while time.monotonic() < deadline and server.poll() is None and not _ui_ready(port):
            time.sleep(1)
        assert _ui_ready(port), (tmp_path / "ui.log").read_text()[-3000:]
        base = f"http://127.0.0.1:{port}"
        runs = _page_text(browser, f"{base}/runs", [run_id[:8], "Success"], shots / "ui_runs.png")
        assert run_id[:8] in runs and "churnguard_nightly" in runs and "Success" in runs
        partitions = _page_text(
            browser, f"{base}/assets/fct_customer_day?view=partitions", ["Materialized (365)"], shots / "ui_partitions.png"
        )
        assert "Materialized (365)" in partitions and "Missing (0)" in partitions
        assert "2025-01-01" in partitions and "2025-12-31" in partitions and "2026-" not in partitions
        gate = _page_text(
            browser, f"{base}/assets/quality_gate?view=lineage", ["published_marts", "quality"], shots / "ui_gate.png"
        )
        assert "quality_gate" in gate and "published_marts" in gate and "current_alert_list" in gate
    finally:
        browser.quit()
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        log.close()
