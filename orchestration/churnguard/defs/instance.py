"""The Dagster instance (``DAGSTER_HOME``) that ``churnguard run`` and ``churnguard ui`` share.

It lives next to the warehouse (``<warehouse folder>/dagster_home``, or
``CHURNGUARD_DAGSTER_HOME``), so the UI shows the runs of ``churnguard run`` and the
partitions they built. churnguard writes its ``dagster.yaml`` when the folder has none:

- ``concurrency.pools.default_limit: 1`` -- the ``churnguard_warehouse`` pool admits one
  writer; ``granularity: run`` -- a run that contains a writer is queued while another such
  run is in progress (so a nightly run and a manual one never interleave their steps);
- telemetry off.

A ``dagster.yaml`` you wrote yourself is left alone.
"""

from __future__ import annotations

from pathlib import Path

from dagster import DagsterInstance

DAGSTER_YAML = """\
# Written by churnguard (churnguard/defs/instance.py); edit freely, it is not overwritten.
concurrency:
  pools:
    default_limit: 1      # the churnguard_warehouse pool: one writer of the DuckDB file
    granularity: run      # a run with a writer waits in the queue while another one runs
telemetry:
  enabled: false
"""

INSTANCE_OVERRIDES = {
    "concurrency": {"pools": {"default_limit": 1, "granularity": "run"}},
    "telemetry": {"enabled": False},
}
"""The same settings, for ``dagster.instance_for_test(overrides=...)``."""


def ensure_dagster_home(home: Path) -> Path:
    home = Path(home).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML, encoding="utf-8")
    return home


def instance_at(home: Path) -> DagsterInstance:
    """A persistent instance in ``home`` (created with churnguard's dagster.yaml if new)."""
    return DagsterInstance.from_config(str(ensure_dagster_home(home)))
