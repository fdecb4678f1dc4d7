"""Helpers for the quality-gate and delivery tests: synthetic marts, a throwaway PostgreSQL
cluster and a scripted webhook receiver on loopback.

The synthetic marts have exactly the columns the gate and the payload read, so these tests
run in seconds without dbt; one test in test_quality_gate.py runs the suites on the real
sample warehouse.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

AS_OF = date(2025, 12, 31)
OPENED = date(2025, 12, 30)


def alert_row(i: int, tier: str = "red", score: int = 42, reasons: str | None = "inactive_60d", **extra: Any) -> dict[str, Any]:
    """One row of marts.current_alert_list (the columns the gate and the payload read)."""
    row = {
        "priority_rank": i,
        "alert_id": f"alert-{i:04d}",
        "customer_id": f"cust-{i:04d}",
        "customer_name": f"Customer {i}",
        "segment": "smb",
        "account_manager_id": f"am-{i % 3}",
        "account_manager_name": f"Manager {i % 3}",
        "account_manager_email": f"manager{i % 3}@vendor.example",
        "csm_user_id": "csm-1",
        "csm_name": "Success Manager",
        "key_contact_email": f"buyer{i}@customer{i}.example",
        "opened_date": OPENED,
        "days_open": 1,
        "alert_tier": tier,
        "response_due_date": OPENED + timedelta(days=1 if tier == "red" else 7),
        "health_score": score,
        "health_tier": tier,
        "pulled_down_most_by": "usage",
        "reason_codes": reasons,
        "recommended_playbook": "roi_review",
        "as_of_date": AS_OF,
    }
    row.update(extra)
    return row


def default_alerts(n: int = 6) -> list[dict[str, Any]]:
    return [alert_row(i, tier="red" if i % 2 else "yellow", score=40 if i % 2 else 70) for i in range(1, n + 1)]


def _health_rows(customers: int, days: int = 3) -> pd.DataFrame:
    rows = []
    for d in range(days):
        for c in range(1, customers + 1):
            dims = {"usage_score": 50.0, "engagement_score": 70.0, "financial_score": 90.0,
                    "satisfaction_score": None, "support_score": 100.0}
            rows.append({"customer_id": f"cust-{c:04d}", "date_day": AS_OF - timedelta(days=d), "health_score": 70,
                         "health_tier": "yellow", **dims})
    return pd.DataFrame(rows)


def write_marts(
    warehouse: Path,
    alerts: list[dict[str, Any]] | None = None,
    *,
    closed: list[dict[str, Any]] | None = None,
    customers: int = 40,
    health: pd.DataFrame | None = None,
) -> Path:
    """(Re)create the marts the gate and the sync read, in ``warehouse`` (tables replaced)."""
    alerts = default_alerts() if alerts is None else alerts
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("create schema if not exists marts")
        current = pd.DataFrame(alerts, columns=list(alert_row(0).keys()))
        con.register("current_df", current)
        con.execute(
            "create or replace table marts.current_alert_list as select * replace ("
            "reason_codes::varchar as reason_codes, opened_date::date as opened_date, "
            "response_due_date::date as response_due_date) from current_df"
        )
        episodes = [{**a, "alert_status": "open", "closed_date": None} for a in alerts]
        episodes += [{**a, "alert_status": "closed"} for a in (closed or [])]
        frame = pd.DataFrame(episodes, columns=[*alert_row(0).keys(), "alert_status", "closed_date"])
        frame = frame.rename(columns={"health_score": "last_health_score"})
        frame["opening_health_score"] = frame["lowest_health_score"] = frame["last_health_score"]
        con.register("episodes_df", frame)
        con.execute(
            "create or replace table marts.customer_alerts as select * replace ("
            "reason_codes::varchar as reason_codes, opened_date::date as opened_date, "
            "response_due_date::date as response_due_date, closed_date::date as closed_date) from episodes_df"
        )
        con.register("health_df", health if health is not None else _health_rows(customers))
        con.execute("create or replace table marts.health_scores as select * from health_df")
        dim = pd.DataFrame({"customer_id": [f"cust-{c:04d}" for c in range(1, customers + 1)], "current_status": "active"})
        con.register("dim_df", dim)
        con.execute("create or replace table marts.dim_customers as select * from dim_df")
        kpi = pd.DataFrame({
            "kpi_row_id": ["m1", "m2"], "period_start_date": [date(2025, 11, 1), date(2025, 12, 1)],
            "customer_churn_rate": [0.02, 0.03], "customer_churn_rate_annualized": [0.2, 0.3],
            "customer_retention_rate": [0.97, 0.96], "gross_revenue_retention": [0.95, 0.97],
            "csat_satisfied_share": [0.8, None], "nps": [35.0, None],
        })
        con.register("kpi_df", kpi)
        con.execute("create or replace table marts.kpi_monthly as select * from kpi_df")
        con.execute("create or replace table marts.kpi_quarterly as select * from kpi_df")
    finally:
        con.close()
    return warehouse


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


# --- PostgreSQL ---------------------------------------------------------------------------


def find_pg_bin() -> Path | None:
    """Folder of initdb/pg_ctl: on PATH, else the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(candidates[-1]).parent if candidates else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PostgresCluster:
    bin_dir: Path
    data_dir: Path
    port: int
    run_as: str | None

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres connect_timeout=5"

    def _cmd(self, *args: str) -> list[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        return ["runuser", "-u", self.run_as, "--", *command] if self.run_as else command

    def start(self) -> None:
        subprocess.run(
            self._cmd("initdb", "-D", str(self.data_dir / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"),
            check=True, capture_output=True, text=True,
        )
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data_dir} -c fsync=off -c full_page_writes=off"
        result = subprocess.run(
            self._cmd("pg_ctl", "-D", str(self.data_dir / "data"), "-o", options, "-l", str(self.data_dir / "server.log"), "-w", "-t", "60", "start"),
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            log = (self.data_dir / "server.log").read_text() if (self.data_dir / "server.log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {result.stdout}{result.stderr}\n{log}")

    def stop(self) -> None:
        subprocess.run(self._cmd("pg_ctl", "-D", str(self.data_dir / "data"), "-m", "immediate", "-w", "stop"), capture_output=True)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def start_postgres() -> PostgresCluster | str:
    """A running throwaway cluster, or the reason there cannot be one (no binaries)."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        return "no PostgreSQL server binaries (initdb) on PATH or under /usr/lib/postgresql/*/bin"
    run_as = None
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        run_as = "postgres"
        try:
            pwd.getpwnam(run_as)
        except KeyError:
            run_as = "nobody"
    data_dir = Path(tempfile.mkdtemp(prefix="churnguard-pg-"))
    os.chmod(data_dir, 0o755)
    if run_as:
        entry = pwd.getpwnam(run_as)
        os.chown(data_dir, entry.pw_uid, entry.pw_gid)
    cluster = PostgresCluster(bin_dir, data_dir, free_port(), run_as)
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster


# --- webhook receiver ---------------------------------------------------------------------


@dataclass
class Receiver:
    """State shared by every server instance of one test (survives a server restart)."""

    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    """Responses for the next requests, in order (status, headers); then 200."""
    reject_alerts: set[str] = field(default_factory=set)
    """Requests containing one of these alert ids get a permanent 400."""
    die_after: int | None = None
    """Accept this many requests, then take the next one in, drop the connection and stop."""
    requests: list[dict[str, Any]] = field(default_factory=list)
    accepted: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Idempotency key -> records, for every batch applied (dedupe log)."""
    duplicates: list[str] = field(default_factory=list)
    on_request: Any = None
    """Called (no arguments) in the server thread before a POST is answered."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def applied_records(self) -> list[dict[str, Any]]:
        return [r for batch in self.accepted.values() for r in batch]


class WebhookServer:
    def __init__(self, receiver: Receiver, port: int = 0) -> None:
        self.receiver = receiver
        handler = _handler(receiver, self)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def kill(self) -> None:
        threading.Thread(target=self._shutdown, daemon=True).start()

    def _shutdown(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def stop(self) -> None:
        try:
            self.httpd.shutdown()
        finally:
            self.httpd.server_close()


def _handler(receiver: Receiver, server: WebhookServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _reply(self, status: int, headers: dict[str, str] | None = None, body: dict | None = None) -> None:
            data = json.dumps(body or {}).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if receiver.on_request is not None:
                receiver.on_request()
            key = self.headers.get("Idempotency-Key", "")
            records = body.get("records", [])
            with receiver.lock:
                receiver.requests.append(
                    {"key": key, "body": body, "time": time.monotonic(), "method": "POST", "headers": dict(self.headers)}
                )
                count = len(receiver.requests)
                dying = receiver.die_after is not None and count == receiver.die_after + 1
                if dying:
                    # The worst case: the batch is applied, but the sender never hears back.
                    receiver.accepted.setdefault(key, records)
                script = receiver.script.pop(0) if receiver.script and not dying else None
            if dying:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                server.kill()
                return
            if script is not None:
                self._reply(script[0], script[1], {"error": "scripted"})
                return
            if any(r.get("alert", {}).get("alert_id") in receiver.reject_alerts for r in records):
                self._reply(400, body={"error": "invalid record"})
                return
            with receiver.lock:
                if key in receiver.accepted:
                    receiver.duplicates.append(key)
                    duplicate = True
                else:
                    receiver.accepted[key] = records
                    duplicate = False
            self._reply(200, body={"ok": True, "duplicate": duplicate})

        def do_GET(self) -> None:  # noqa: N802  (where a followed redirect would arrive)
            with receiver.lock:
                receiver.requests.append(
                    {"key": self.headers.get("Idempotency-Key", ""), "body": None, "time": time.monotonic(),
                     "method": "GET", "headers": dict(self.headers)}
                )
            self._reply(200, body={"ok": True})

    return Handler
