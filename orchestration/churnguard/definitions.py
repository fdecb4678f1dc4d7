"""The Dagster code location of churnguard.

    churnguard ui                     # dg dev, DAGSTER_HOME next to the warehouse
    cd orchestration && dg dev        # Dagster's recommended CLI (dg.toml)
    dagster dev                       # from the repository root ([tool.dagster] in pyproject.toml)

The same location loads with ``dagster dev`` from the repository root ([tool.dagster] in
pyproject.toml) and ``dg dev`` / ``dg check defs`` from ``orchestration/`` (dg.toml); its
name is ``churnguard``. Loading parses the dbt project first when its manifest is missing
or stale (see `churnguard.defs.dbt_project`). What it contains: `churnguard.defs`.
"""

from __future__ import annotations

import dagster as dg

from churnguard.defs import build_definitions


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
