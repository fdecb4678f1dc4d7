"""kill -9 of a writer that runs dbt: the warehouse lock lasts as long as dbt writes (the
child shares the lock's open file), so the next writer waits instead of failing on DuckDB."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from churnguard.defs.locking import WarehouseBusyError, warehouse_lock

PARENT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from churnguard import dbt_cli
    from churnguard.defs.locking import warehouse_lock

    warehouse, fake_dbt = Path(sys.argv[1]), sys.argv[2]
    with warehouse_lock(warehouse, holder="churnguard build (test)"):
        dbt_cli.sys.executable = fake_dbt  # "dbt": a process that keeps running
        dbt_cli.run_dbt(["build"], warehouse=warehouse)
    """
)


def _wait_for(path: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() or not path.read_text().strip():
        if time.monotonic() > deadline:
            pytest.fail(f"{path} never appeared")
        time.sleep(0.05)


def test_the_lock_outlives_a_killed_parent_while_dbt_runs(tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    pid_file = tmp_path / "dbt.pid"
    fake = tmp_path / "fake_dbt"
    fake.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 60\n")
    fake.chmod(0o755)
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(warehouse), str(fake)])
    try:
        _wait_for(pid_file)
        child = int(pid_file.read_text())
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        with pytest.raises(WarehouseBusyError, match="churnguard build"):
            with warehouse_lock(warehouse, holder="next load", timeout=0):
                pass
        os.kill(child, signal.SIGKILL)
        time.sleep(0.2)
        with warehouse_lock(warehouse, holder="next load", timeout=5):
            pass
    finally:
        parent.kill()
        if pid_file.exists() and pid_file.read_text().strip():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass
