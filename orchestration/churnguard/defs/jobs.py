"""The nightly job: every asset of the code location, in dependency order.

Raw ingestion -> dbt models (views, utilities, dimensions) -> the daily facts for a
partition range -> the models after them (health, alerts, KPIs) -> whatever is added
downstream later (quality gate, delivery): the selection is *all assets*, so a new asset
joins the nightly run by being defined.
"""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

NIGHTLY_JOB = "churnguard_nightly"


def build_nightly_job() -> UnresolvedAssetJobDefinition:
    """Partitioned like the daily models (Dagster infers it from the selected assets)."""
    return define_asset_job(
        name=NIGHTLY_JOB,
        selection=AssetSelection.all(),
        description=(
            "Load the raw data, build every dbt model (the daily facts for the run's partition "
            "range, one dbt invocation), run every dbt test as an asset check."
        ),
        tags={"churnguard/job": "nightly"},
    )
