"""``churnguard ui``: the Dagster UI on the same warehouse as ``churnguard run``.

Starts ``dg dev`` (Dagster's recommended local server; the dg project is ``orchestration/``,
see ``orchestration/dg.toml``), or ``dagster dev`` when ``dg`` is not installed: webserver
plus daemon (nightly schedule, failure sensor, freshness, run queue). ``--no-daemon`` starts
only ``dagster-webserver``: browse and launch runs by hand, nothing scheduled. Every variant
loads the code location ``churnguard`` (module ``churnguard.definitions``).

``DAGSTER_HOME`` is ``CHURNGUARD_DAGSTER_HOME`` or ``<warehouse folder>/dagster_home``,
created with churnguard's ``dagster.yaml`` (pool limit 1, see `instance`).
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

from churnguard import settings
from churnguard.defs import config
from churnguard.defs.dbt_project import ManifestError, prepare_manifest
from churnguard.defs.instance import EVENT_BATCH_SIZE, ensure_dagster_home

CODE_LOCATION_MODULE = "churnguard.definitions"
DG_PROJECT_DIR = settings.PROJECT_ROOT / "orchestration"


def _executable(name: str) -> str | None:
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    return shutil.which(name)


def ui_command(host: str, port: int, daemon: bool = True) -> tuple[list[str], Path]:
    """The command line and working directory of the UI server."""
    address = ["--host", host, "--port", str(port)]
    if not daemon:
        webserver = _executable("dagster-webserver")
        if webserver is None:
            raise FileNotFoundError("dagster-webserver is not installed; reinstall churnguard (make install)")
        return [webserver, *address], settings.PROJECT_ROOT  # reads [tool.dagster] in pyproject.toml
    dg = _executable("dg")
    if dg is not None and (DG_PROJECT_DIR / "dg.toml").exists():
        return [dg, "dev", *address], DG_PROJECT_DIR
    dagster = _executable("dagster")
    if dagster is None:
        raise FileNotFoundError("neither dg nor dagster is installed; reinstall churnguard (make install)")
    return [dagster, "dev", *address], settings.PROJECT_ROOT


def ui_environment(warehouse: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["CHURNGUARD_WAREHOUSE"] = str(warehouse)
    env["DAGSTER_HOME"] = str(ensure_dagster_home(config.dagster_home(warehouse)))
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    env.setdefault("DAGSTER_EVENT_BATCH_SIZE", EVENT_BATCH_SIZE)  # webserver, daemon, runs: batched events
    return env


class PortBusyError(OSError):
    """The UI's address is taken (another `churnguard ui`, or any other server)."""


def check_port_free(host: str, port: int) -> None:
    """Raise `PortBusyError` when nothing could listen on ``host:port``; checked before any
    server or daemon starts, so a second ``churnguard ui`` leaves nothing behind."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise PortBusyError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortBusyError(
                    f"port {port} on {host} is already in use (another `churnguard ui`?). Open that one, stop it, "
                    f"or start this one on another port: churnguard ui --port {port + 1}"
                ) from None
            raise PortBusyError(f"cannot listen on {host}:{port}: {error.strerror}") from None


def start_ui(host: str, port: int, warehouse: Path | None = None, daemon: bool = True) -> int:
    """Run the UI server in the foreground until Ctrl-C (or SIGTERM); returns its exit code."""
    warehouse = Path(warehouse or settings.warehouse_path()).expanduser().resolve()
    try:
        check_port_free(host, port)
    except PortBusyError as error:
        print(f"churnguard ui: {error}", file=sys.stderr)
        return 1
    try:
        prepare_manifest()  # a broken dbt project fails here, readably, not inside the UI
        command, cwd = ui_command(host, port, daemon)
    except (ManifestError, FileNotFoundError) as error:
        print(str(error), file=sys.stderr)
        return 1
    env = ui_environment(warehouse)
    print(f"Dagster UI on http://{host}:{port}  (warehouse {warehouse}, DAGSTER_HOME {env['DAGSTER_HOME']})", flush=True)
    process = subprocess.Popen(command, env=env, cwd=cwd)

    def forward(signum, _frame) -> None:
        process.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        while True:
            try:
                return process.wait()
            except KeyboardInterrupt:  # Ctrl-C reached both; wait for the server to shut down
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)
