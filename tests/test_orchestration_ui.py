"""``churnguard ui`` serves the project: its GraphQL API lists the asset graph.

Starts the real command (``dg dev``: webserver, daemon, code server) on a free loopback
port with a temporary DAGSTER_HOME, waits (bounded) until the code location has loaded,
reads the assets, the schedule and the sensor over GraphQL, and stops the whole process
group.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from orchestration_support import dbt_target_env  # noqa: F401 (fixture; the manifest is parsed once)

STARTUP_SECONDS = 180
QUERY = """
{
  assetNodes { assetKey { path } groupName }
  repositoriesOrError {
    ... on RepositoryConnection {
      nodes {
        location { name }
        schedules { name cronSchedule executionTimezone scheduleState { status } }
        sensors { name sensorState { status } }
      }
    }
  }
}
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(port: int) -> dict | None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
        return None


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(server.pid, signal.SIGKILL)  # stragglers of our own process group
    except ProcessLookupError:
        pass
    server.wait()


def test_churnguard_ui_serves_the_asset_graph_schedule_and_sensor(
    isolated_warehouse: Path, dbt_target_env: Path, tmp_path: Path
) -> None:
    port = _free_port()
    env = {**os.environ, "CHURNGUARD_DAGSTER_HOME": str(tmp_path / "dagster_home")}
    log = open(tmp_path / "ui.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "churnguard.cli", "ui", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline, answer = time.monotonic() + STARTUP_SECONDS, None
        while time.monotonic() < deadline and server.poll() is None:
            answer = _graphql(port)
            if answer and answer.get("data", {}).get("assetNodes"):
                break
            time.sleep(0.5)  # polling the server until the code location has loaded
        log.flush()
        assert answer and answer["data"]["assetNodes"], (tmp_path / "ui.log").read_text()[-3000:]
    finally:
        _stop(server)
        log.close()

    nodes = answer["data"]["assetNodes"]
    keys = {"/".join(node["assetKey"]["path"]) for node in nodes}
    groups = {node["groupName"] for node in nodes}
    assert {"fct_customer_day", "dim_customers", "crm/accounts", "billing/invoices"} <= keys
    assert groups == {"raw", "staging", "intermediate", "marts", "quality", "delivery"}  # one group per layer
    [repository] = answer["data"]["repositoriesOrError"]["nodes"]
    assert repository["location"]["name"] == "churnguard"
    [schedule] = repository["schedules"]
    assert (schedule["name"], schedule["cronSchedule"]) == ("churnguard_nightly_schedule", "0 2 * * *")
    assert schedule["scheduleState"]["status"] == "RUNNING"
    sensors = {sensor["name"]: sensor["sensorState"]["status"] for sensor in repository["sensors"]}
    assert sensors.get("churnguard_run_failure_webhook") == "RUNNING"
    assert (tmp_path / "dagster_home" / "dagster.yaml").exists()
