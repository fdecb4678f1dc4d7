"""How dbt nodes become Dagster assets: groups from dbt folders, owners from dbt meta.

- **Asset key** = the dbt model (seed, snapshot) name, ``fct_customer_day``, unique in a
  dbt project; a source table's key is ``<source>/<table>`` (``crm/accounts``), the key of
  the raw-ingestion asset that loads it. ``meta.dagster.asset_key`` still wins.
- **Group** = the model's folder under ``models/``, joined with ``_``
  (``models/marts/customers/fct_customer_day.sql`` -> ``marts_customers``,
  ``models/utilities/util_calendar.sql`` -> ``utilities``). A new folder (``marts/health``,
  ``marts/kpis``) becomes a new group with no code change. dbt sources (the raw tables)
  are in group ``raw``. An explicit ``meta.dagster.group`` or dbt ``group`` still wins.
- **Owners** = ``meta.owner`` (a string or a list; ``dbt_project.yml`` sets
  ``analytics-engineering`` for every model). An e-mail stays an e-mail; any other name
  becomes a Dagster team, ``team:analytics-engineering``.
- **Metadata**: a link to the node's page in dbt docs (``CHURNGUARD_DBT_DOCS_URL``), the
  dbt folder and materialization, besides dagster-dbt's own (columns, relation name).
- **Freshness**: the alert list (``current_alert_list``) and the customer-day facts carry
  a freshness policy (``CHURNGUARD_ALERT_LIST_MAX_AGE_HOURS``, default 26 h: one nightly
  run plus slack), applied by model name, so the policy appears whenever the model exists.
- dbt tests become asset checks (dagster-dbt's default; a test of severity ``error``
  is a blocking check), source tests included.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Mapping, Optional, Sequence

from dagster import AssetKey, AssetSpec, FreshnessPolicy, MetadataValue
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject

from churnguard.defs import config

RAW_GROUP = "raw"
FRESHNESS_MODELS = ("current_alert_list", "fct_customer_day")
"""Models whose staleness must be visible in the UI (by dbt model name = asset key)."""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_").lower() or "default"


def owner_to_dagster(owner: str) -> str | None:
    owner = owner.strip()
    if not owner:
        return None
    if "@" in owner or owner.startswith("team:"):
        return owner
    return f"team:{_slug(owner).replace('_', '-')}"


def dbt_meta(props: Mapping[str, Any]) -> Mapping[str, Any]:
    return {**(props.get("meta") or {}), **((props.get("config") or {}).get("meta") or {})}


def freshness_policy() -> FreshnessPolicy:
    fail = timedelta(hours=config.alert_list_max_age_hours())
    warn = max(fail - timedelta(hours=1), fail / 2)  # an hour's notice before it turns stale
    return FreshnessPolicy.time_window(fail_window=fail, warn_window=warn)


class ChurnguardDbtTranslator(DagsterDbtTranslator):
    """dbt folders -> groups, dbt ``meta.owner`` -> owners, docs links, freshness by name."""

    def __init__(self) -> None:
        super().__init__(
            settings=DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_source_tests_as_checks=True)
        )

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        explicit = (dbt_meta(dbt_resource_props).get("dagster") or {}).get("asset_key")
        if explicit:
            return AssetKey(explicit)
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return AssetKey([dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> Optional[str]:
        explicit = super().get_group_name(dbt_resource_props)
        if explicit:
            return explicit
        if dbt_resource_props["resource_type"] == "source":
            return RAW_GROUP
        folders = list(dbt_resource_props.get("fqn", []))[1:-1]
        return _slug("_".join(folders)) if folders else dbt_resource_props["resource_type"] + "s"

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> Optional[Sequence[str]]:
        explicit = super().get_owners(dbt_resource_props)
        if explicit:
            return explicit
        owner = dbt_meta(dbt_resource_props).get("owner")
        names = [owner] if isinstance(owner, str) else list(owner or [])
        owners = [o for o in (owner_to_dagster(str(name)) for name in names) if o]
        return owners or None

    def get_metadata(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, Any]:
        metadata = dict(super().get_metadata(dbt_resource_props))
        unique_id = dbt_resource_props["unique_id"]
        resource_type = dbt_resource_props["resource_type"]
        metadata["dbt_docs"] = MetadataValue.url(f"{config.dbt_docs_url()}/#!/{resource_type}/{unique_id}")
        if resource_type != "source":
            metadata["dbt_folder"] = "/".join(list(dbt_resource_props.get("fqn", []))[1:-1]) or "."
        return metadata

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Optional[DbtProject]) -> AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "model" and props["name"] in FRESHNESS_MODELS:
            spec = spec.replace_attributes(freshness_policy=freshness_policy())
        return spec
