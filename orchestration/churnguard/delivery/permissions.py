"""Owner-only files for everything that holds customer data.

The warehouse (and its WAL), Data Docs (sample rows), dead letters and delivered files hold
customer names, scores and owners. Every churnguard entry point that writes them calls
`apply_umask` first, so what it creates (DuckDB files, dbt's writes, GX's Data Docs, dead
letters, delivery files) is readable by the owner only:

| variable | default | meaning |
|---|---|---|
| ``CHURNGUARD_UMASK`` | ``077`` | octal umask added to the process's (only ever tightens); ``inherit`` keeps the process umask |

`tighten` applies the same mask to a file created before (an old 644 warehouse).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DEFAULT_UMASK = 0o077


def configured_umask() -> int | None:
    """The umask from ``CHURNGUARD_UMASK`` (None: ``inherit``)."""
    raw = os.environ.get("CHURNGUARD_UMASK", "").strip().lower()
    if not raw:
        return DEFAULT_UMASK
    if raw in ("inherit", "none", "off"):
        return None
    try:
        value = int(raw, 8)
    except ValueError:
        raise ValueError(f"CHURNGUARD_UMASK={raw!r}: use an octal mask such as 077 or 027, or 'inherit'") from None
    if not 0 <= value <= 0o777:
        raise ValueError(f"CHURNGUARD_UMASK={raw!r}: use an octal mask between 000 and 777")
    return value


def apply_umask() -> int | None:
    """Add the configured mask to this process's umask (children such as dbt inherit it)."""
    mask = configured_umask()
    if mask is None:
        return None
    current = os.umask(mask)
    os.umask(current | mask)
    return current | mask


def tighten(*paths: Path) -> None:
    """Remove from existing ``paths`` the permissions the configured mask forbids."""
    mask = configured_umask()
    if mask is None:
        return
    for path in paths:
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
            if mode & mask:
                os.chmod(path, mode & ~mask)
        except FileNotFoundError:
            continue
        except OSError:
            continue  # not ours to change (another owner): leave it
