"""One writer at a time: an OS file lock next to the DuckDB warehouse.

DuckDB allows one writing process per database file. Dagster's concurrency pool
(``churnguard_warehouse``, limit 1) serialises the runs of one Dagster instance; this lock
also serialises everything else that writes the same file: a second Dagster instance,
``churnguard run`` in another terminal, ``churnguard load`` / ``build``.

    with warehouse_lock(path, holder="dbt build (run 1a2b3c)"):
        ...  # write the warehouse

- The lock file is ``<warehouse>.lock`` (e.g. ``churnguard.duckdb.lock``), locked with
  ``fcntl.flock``; the kernel releases it when the holder exits or crashes, so it never goes
  stale. While held it contains who holds it (JSON: pid, host, what, since).
- A writer that finds the lock taken waits, polling, up to ``timeout`` seconds
  (``CHURNGUARD_LOCK_TIMEOUT``, default 3600; 0 = do not wait), then raises
  `WarehouseBusyError` naming the holder. Nothing has been written at that point.
- Re-entrant within a process: a step that runs inside ``churnguard run`` (which holds the
  lock for the whole run) does not deadlock on itself. Threads of one process take turns.
- A child process that writes the warehouse (dbt) inherits the lock's file descriptor
  (`held_lock_fds`), so a ``kill -9`` of the parent does not free the lock while dbt still
  writes.
- A reader holding the DuckDB file open (a BI tool, a notebook) blocks any writer; writers
  open the file through `retry_while_open_elsewhere`, which waits with one message instead
  of failing with DuckDB's error.
- `lock_released` lets other writers in while a holder waits on something outside the
  warehouse (a delivery destination), then takes the lock back.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from churnguard.defs import config

POLL_SECONDS_MAX = 0.5
T = TypeVar("T")


class WarehouseBusyError(RuntimeError):
    """Another writer holds the warehouse lock and the wait timed out."""


@dataclass
class _ProcessState:
    thread_lock: threading.RLock
    fd: int | None = None
    depth: int = 0


_STATES: dict[Path, _ProcessState] = {}
_STATES_GUARD = threading.Lock()


def lock_path(warehouse: Path) -> Path:
    """``<warehouse>.lock`` in the warehouse's folder."""
    warehouse = Path(warehouse).expanduser().resolve()
    return warehouse.with_name(warehouse.name + ".lock")


def _state(path: Path) -> _ProcessState:
    with _STATES_GUARD:
        if path not in _STATES:
            _STATES[path] = _ProcessState(thread_lock=threading.RLock())
        return _STATES[path]


def read_holder(warehouse: Path) -> dict | None:
    """Who holds the lock right now, as written by the holder (None if free or unknown)."""
    try:
        text = lock_path(warehouse).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not text:
        return None
    try:
        holder = json.loads(text)
    except ValueError:
        return None
    return holder if isinstance(holder, dict) else None


def describe_holder(holder: dict | None) -> str:
    if not holder:
        return "another process (it did not say who)"
    parts = [f"pid {holder.get('pid')}"]
    if holder.get("host"):
        parts.append(f"on {holder['host']}")
    if holder.get("since"):
        parts.append(f"since {holder['since']}")
    return f"{holder.get('what') or 'another writer'} ({', '.join(parts)})"


def _busy_message(warehouse: Path, holder: dict | None, waited: float, timeout: float) -> str:
    return (
        f"The warehouse {warehouse} is being written by {describe_holder(holder)}. "
        f"Gave up after waiting {waited:.0f}s (CHURNGUARD_LOCK_TIMEOUT={timeout:g}). "
        "Nothing was written. Wait for that writer to finish, or raise CHURNGUARD_LOCK_TIMEOUT "
        "to queue behind it."
    )


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _acquire_file(
    warehouse: Path, path: Path, holder: str, started: float, timeout: float, on_wait: Callable[[str], None] | None
) -> int:
    """Open and ``flock`` the lock file (waiting up to ``timeout`` since ``started``); write who holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if not _try_flock(fd):
            if on_wait is not None:
                on_wait(
                    f"waiting for the warehouse lock: {warehouse} is being written by "
                    f"{describe_holder(read_holder(warehouse))}"
                )
            delay = 0.05
            while True:
                waited = time.monotonic() - started
                if waited >= timeout:
                    raise WarehouseBusyError(_busy_message(warehouse, read_holder(warehouse), waited, timeout))
                time.sleep(min(delay, timeout - waited))
                delay = min(delay * 2, POLL_SECONDS_MAX)
                if _try_flock(fd):
                    break
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "what": holder,
            "since": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _release_file(fd: int) -> None:
    try:
        os.ftruncate(fd, 0)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextmanager
def warehouse_lock(
    warehouse: Path,
    *,
    holder: str,
    timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """Hold the warehouse's write lock for the ``with`` block.

    ``holder`` says who is writing (shown to anyone who has to wait); ``timeout`` defaults
    to ``CHURNGUARD_LOCK_TIMEOUT``; ``on_wait`` is called once with a message when the lock
    is taken and this writer starts waiting. Raises `WarehouseBusyError` on timeout.
    """
    warehouse = Path(warehouse).expanduser().resolve()
    timeout = config.lock_timeout_seconds() if timeout is None else max(0.0, float(timeout))
    path = lock_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = _state(path)
    started = time.monotonic()

    acquired = state.thread_lock.acquire(timeout=timeout) if timeout > 0 else state.thread_lock.acquire(blocking=False)
    if not acquired:  # another thread of this process is writing
        raise WarehouseBusyError(_busy_message(warehouse, read_holder(warehouse), time.monotonic() - started, timeout))
    try:
        if state.depth == 0:
            state.fd = _acquire_file(warehouse, path, holder, started, timeout, on_wait)
        state.depth += 1
        try:
            yield path
        finally:
            state.depth -= 1
            if state.depth == 0 and state.fd is not None:
                fd, state.fd = state.fd, None
                _release_file(fd)
    finally:
        state.thread_lock.release()


def holds_lock(warehouse: Path) -> bool:
    """True when this process holds the warehouse lock (in any thread)."""
    state = _STATES.get(lock_path(warehouse))
    return bool(state and state.depth > 0)


@contextmanager
def lock_released(warehouse: Path, *, holder: str, timeout: float | None = None) -> Iterator[None]:
    """Let other writers in for the ``with`` block although this thread holds the lock.

    For work that writes nothing to the warehouse and may wait a long time (reaching a
    delivery destination) inside a run that holds the lock throughout (``churnguard run``).
    The lock is taken again afterwards, waiting like any writer (``timeout``). A no-op when
    this thread does not hold the lock.
    """
    warehouse = Path(warehouse).expanduser().resolve()
    path = lock_path(warehouse)
    state = _STATES.get(path)
    if state is None or state.depth == 0 or state.fd is None:
        yield
        return
    depth = state.depth
    released = 0
    try:
        for _ in range(depth):
            state.thread_lock.release()
            released += 1
    except RuntimeError:  # held by another thread of this process: not ours to release
        for _ in range(released):
            state.thread_lock.acquire()
        yield
        return
    fd, state.fd, state.depth = state.fd, None, 0
    _release_file(fd)
    try:
        yield
    finally:
        timeout = config.lock_timeout_seconds() if timeout is None else max(0.0, float(timeout))
        for _ in range(depth):
            state.thread_lock.acquire()
        state.fd = _acquire_file(warehouse, path, holder, time.monotonic(), timeout, None)
        state.depth = depth


def held_lock_fds() -> list[int]:
    """File descriptors of the warehouse locks this process holds.

    Pass them to a child process that writes the warehouse (``subprocess.run(...,
    pass_fds=...)``): an ``flock`` belongs to the open file, so the lock then lasts until the
    child exits too, even if this process is killed (``kill -9``) while the child writes.
    """
    with _STATES_GUARD:
        return [state.fd for state in _STATES.values() if state.depth > 0 and state.fd is not None]


_CONFLICT = re.compile(r"Could not set lock on file|Conflicting lock is held")
_HOLDER_PID = re.compile(r"held in (?P<program>\S+) \(PID (?P<pid>\d+)\)")


def is_open_elsewhere(error: BaseException) -> bool:
    """True when DuckDB refused the file because another process has it open."""
    return _CONFLICT.search(str(error)) is not None


def _who(error: BaseException) -> str:
    match = _HOLDER_PID.search(str(error))
    return f"pid {match['pid']} ({Path(match['program']).name})" if match else "another process"


def retry_while_open_elsewhere(
    action: Callable[[], T],
    warehouse: Path,
    *,
    timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> T:
    """``action()`` (open or attach the warehouse for writing), retried while another
    process (a DuckDB client, a BI tool, a notebook) holds the file open.

    Waits up to ``timeout`` (``CHURNGUARD_LOCK_TIMEOUT``), telling ``on_wait`` once (default:
    stderr) who holds it, then raises `WarehouseBusyError` with a message, never DuckDB's
    traceback. Readers belong on a copy of the warehouse, or should close their connection.
    """
    timeout = config.lock_timeout_seconds() if timeout is None else max(0.0, float(timeout))
    tell = on_wait or (lambda message: print(message, file=sys.stderr, flush=True))
    started = time.monotonic()
    delay = 0.1
    told = False
    while True:
        try:
            return action()
        except Exception as error:
            if not is_open_elsewhere(error):
                raise
            waited = time.monotonic() - started
            if waited >= timeout:
                raise WarehouseBusyError(
                    f"The warehouse {warehouse} is held open by {_who(error)}. Gave up after waiting {waited:.0f}s "
                    f"(CHURNGUARD_LOCK_TIMEOUT={timeout:g}). Nothing was written. Close that connection (readers "
                    "should read a copy of the warehouse) or raise CHURNGUARD_LOCK_TIMEOUT."
                ) from None
            if not told:
                tell(f"waiting for {_who(error)} to close the warehouse {warehouse} (DuckDB admits no writer while "
                     "another process has the file open); readers should read a copy")
                told = True
            time.sleep(min(delay, max(0.0, timeout - waited)))
            delay = min(delay * 2, 2.0)


def delivery_lock(warehouse: Path, *, holder: str, timeout: float | None = None):
    """Serialise the deliveries (syncs) of one warehouse: ``<warehouse>.delivery.lock``.

    A sync reaches its destinations without the warehouse lock (so loads and builds go on),
    but two syncs must not interleave their sends and dead-letter files. Lock order: this
    one first, then the warehouse lock (a sync inside ``churnguard run`` releases the run's
    warehouse lock before taking it).
    """
    warehouse = Path(warehouse).expanduser().resolve()
    return warehouse_lock(warehouse.with_name(warehouse.name + ".delivery"), holder=holder, timeout=timeout)
