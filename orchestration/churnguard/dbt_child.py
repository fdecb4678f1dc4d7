"""``churnguard-dbt``: the dbt executable Dagster's dbt steps run; dbt dies with its step.

dagster-dbt starts dbt with ``subprocess.Popen`` and closes every inherited descriptor, so
the warehouse lock the step holds cannot be shared with dbt as ``churnguard build`` does
(`churnguard.dbt_cli`). If the step's process were killed (``kill -9``, the OOM killer), the
kernel would release the lock while dbt went on writing the warehouse, and the next
``churnguard load`` would fail on DuckDB's own lock.

This wrapper asks Linux to kill it when its parent (the step's process) dies
(``PR_SET_PDEATHSIG`` with SIGKILL, which survives ``exec``), then replaces itself with the
real dbt: a writer never outlives the lock holder. DuckDB's write-ahead log keeps the
warehouse consistent across the kill; the next run rebuilds what was interrupted.
Elsewhere than Linux it only runs dbt.

``CHURNGUARD_DBT_EXECUTABLE`` names the real dbt (default: the ``dbt`` next to this
interpreter, else the first on PATH).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1


def installed_dbt() -> str | None:
    """The ``dbt`` installed next to this interpreter, else the first on PATH (None: none)."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else shutil.which("dbt")


def real_dbt() -> str:
    configured = os.environ.get("CHURNGUARD_DBT_EXECUTABLE", "").strip()
    found = configured or installed_dbt()
    if not found:
        raise SystemExit(f"churnguard-dbt: no dbt next to {sys.executable} or on PATH")
    return found


def die_with_parent() -> bool:
    """Have the kernel SIGKILL this process when its parent dies (Linux); True if set."""
    if not sys.platform.startswith("linux"):
        return False
    parent = os.getppid()
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:  # the parent died before the request: do not start dbt
        os._exit(137)
    return True


def main() -> None:
    die_with_parent()
    dbt = real_dbt()
    os.execv(dbt, [dbt, *sys.argv[1:]])


if __name__ == "__main__":
    main()
