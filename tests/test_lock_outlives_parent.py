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


def _kill_fake_dbt(pid_file: Path) -> None:
    """Never leave the fake dbt running after a test, whatever happened."""
    if pid_file.exists() and pid_file.read_text().strip():
        try:
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
        except ProcessLookupError:
            pass


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
        _kill_fake_dbt(pid_file)


STEP = textwrap.dedent(
    """
    import subprocess, sys
    from pathlib import Path
    from churnguard.defs.locking import warehouse_lock

    warehouse, wrapper = Path(sys.argv[1]), sys.argv[2]
    with warehouse_lock(warehouse, holder="dagster step dbt_build_daily_facts (test)"):
        # as dagster-dbt starts dbt: Popen, inherited descriptors closed (the lock is not shared)
        subprocess.Popen([wrapper, "build"], close_fds=True).wait()
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by init) is not writing anything
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_dbt_started_by_a_dagster_step_dies_with_the_step(tmp_path, monkeypatch):
    from churnguard.defs.dbt_project import step_dbt_executable

    wrapper = Path(sys.executable).parent / "churnguard-dbt"
    assert wrapper.exists(), "pip install -e . installs the churnguard-dbt script"
    assert step_dbt_executable() == str(wrapper)
    warehouse = tmp_path / "wh.duckdb"
    pid_file = tmp_path / "dbt.pid"
    fake = tmp_path / "fake_dbt"
    fake.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 60\n")
    fake.chmod(0o755)
    monkeypatch.setenv("CHURNGUARD_DBT_EXECUTABLE", str(fake))
    step = subprocess.Popen([sys.executable, "-c", STEP, str(warehouse), str(wrapper)])
    try:
        _wait_for(pid_file)
        dbt = int(pid_file.read_text())
        assert _alive(dbt)
        step.send_signal(signal.SIGKILL)  # the step's process dies: the kernel frees the lock...
        step.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(dbt) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(dbt), "dbt kept running after its step was killed"  # ...and kills dbt
        with warehouse_lock(warehouse, holder="next load", timeout=0):
            pass
    finally:
        step.kill()
        _kill_fake_dbt(pid_file)
