"""How dbt nodes become Dagster assets: groups from dbt folders, owners from dbt meta.

- **Asset key** = the dbt model (seed, snapshot) name, ``fct_customer_day``, unique in a
  dbt project; a source table's key is ``<source>/<table>`` (``crm/accounts``), the key of
  the raw-ingestion asset that loads it. ``meta.dagster.asset_key`` still wins.
- **Group** = the model's *layer*: the first folder under ``models/`` (``staging``,
  ``intermediate``, ``marts``), so the lineage reads left to right in a handful of groups
  (raw, staging, intermediate, marts, quality, delivery) instead of one per sub-folder;
  ``utilities/`` (calendar, date bounds) joins ``intermediate``, and the reference seeds
  join ``raw`` (data that enters the warehouse, like the raw tables). The sub-folder stays
  visible as the ``dbt_folder`` metadata and as a ``domain:<folder>`` tag (e.g.
  ``domain:health``). A new top-level folder becomes a group of its own. An explicit
  ``meta.dagster.group`` or dbt ``group`` still wins.
- **Owners** = ``meta.owner`` (a string or a list; ``dbt_project.yml`` sets
  ``analytics-engineering`` for every model). An e-mail stays an e-mail; any other name
  becomes a Dagster team, ``team:analytics-engineering``.
- **Metadata**: a link to the node's page in dbt docs (``CHURNGUARD_DBT_DOCS_URL``), the
  dbt folder and materialization, besides dagster-dbt's own (columns, relation name).
- **Freshness**: when the data is live (`churnguard.defs.clock`), the alert list
  (``current_alert_list``) and the customer-day facts carry a freshness policy
  (``CHURNGUARD_ALERT_LIST_MAX_AGE_HOURS``, default 26 h: one nightly run plus slack), applied
  by model name. Historical data gets none: a wall-clock policy would call an alert list of
  a year-old data set "fresh" because it was rebuilt last night; the raw assets'
  ``source_freshness`` checks judge it against the data's own clock instead.
- dbt tests become asset checks (dagster-dbt's default; a test of severity ``error``
  is a blocking check), source tests included. The check keeps dbt's test name (dbt reports
  results by it) and gets a description a person can read (`check_description`):
  ``not null: customer_id``, ``values of segment in enterprise, mid_market, smb``...
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Mapping, Optional, Sequence

from dagster import AssetCheckSpec, AssetKey, AssetSpec, FreshnessPolicy, MetadataValue
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject

from churnguard.defs import config

RAW_GROUP = "raw"
LAYER_OF_FOLDER = {"staging": "staging", "intermediate": "intermediate", "utilities": "intermediate", "marts": "marts"}
"""Group (layer) of a model by its first folder under models/."""
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


def _relation(ref: Any) -> str:
    match = re.search(r"""(?:ref|source)\(\s*['"]([^'"]+)['"](?:\s*,\s*['"]([^'"]+)['"])?\s*\)""", str(ref))
    if not match:
        return str(ref)
    return ".".join(part for part in match.groups() if part)


def check_description(test: Mapping[str, Any]) -> str | None:
    """What a dbt generic test asserts, in words (None for tests we cannot describe)."""
    if test.get("description"):
        return str(test["description"])
    metadata = test.get("test_metadata") or {}
    kwargs = metadata.get("kwargs") or {}
    column = kwargs.get("column_name")
    kind = metadata.get("name")
    text = None
    if kind == "not_null":
        text = f"not null: {column}"
    elif kind == "unique":
        text = f"unique: {column}"
    elif kind == "accepted_values":
        text = f"values of {column} in " + ", ".join(str(v) for v in kwargs.get("values") or [])
    elif kind == "relationships":
        text = f"every {column} exists in {_relation(kwargs.get('to'))}.{kwargs.get('field')}"
    elif kind == "accepted_range":
        bounds = []
        if kwargs.get("min_value") is not None:
            bounds.append(f"{column} >= {kwargs['min_value']}")
        if kwargs.get("max_value") is not None:
            bounds.append(f"{column} <= {kwargs['max_value']}")
        text = "range: " + " and ".join(bounds or [f"{column} in range"])
    elif kind == "expression_is_true":
        text = f"true on every row: {kwargs.get('expression')}"
    elif kind == "unique_combination_of_columns":
        text = "unique combination: " + ", ".join(kwargs.get("combination_of_columns") or [])
    elif kind == "exact_row_count":
        text = f"exactly {kwargs.get('expected')} rows"
    if text is None:
        return None
    severity = str((test.get("config") or {}).get("severity") or "error").lower()
    where = (test.get("config") or {}).get("where")
    if where:
        text += f" (where {where})"
    return text + ("" if severity == "error" else f" [{severity}: does not block]")


def freshness_policy() -> FreshnessPolicy:
    fail = timedelta(hours=config.alert_list_max_age_hours())
    warn = max(fail - timedelta(hours=1), fail / 2)  # an hour's notice before it turns stale
    return FreshnessPolicy.time_window(fail_window=fail, warn_window=warn)


class ChurnguardDbtTranslator(DagsterDbtTranslator):
    """dbt folders -> groups, dbt ``meta.owner`` -> owners, docs links, freshness by name."""

    def __init__(self, live_data: bool = True) -> None:
        super().__init__(
            settings=DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_source_tests_as_checks=True)
        )
        self.live_data = live_data

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
        if dbt_resource_props["resource_type"] in ("source", "seed"):
            return RAW_GROUP
        folders = list(dbt_resource_props.get("fqn", []))[1:-1]
        if not folders:
            return dbt_resource_props["resource_type"] + "s"
        return LAYER_OF_FOLDER.get(folders[0], _slug(folders[0]))

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        tags = dict(super().get_tags(dbt_resource_props))
        folders = list(dbt_resource_props.get("fqn", []))[1:-1]
        if dbt_resource_props["resource_type"] == "model" and len(folders) > 1:
            tags["domain"] = _slug(folders[1])
        return tags

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

    def get_asset_check_spec(
        self, asset_spec: AssetSpec, manifest: Mapping[str, Any], unique_id: str, project: Optional[DbtProject]
    ) -> Optional[AssetCheckSpec]:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        test = manifest.get("nodes", {}).get(unique_id)
        if spec is None or not test:
            return spec
        description = check_description(test)
        return spec._replace(description=description) if description else spec

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Optional[DbtProject]) -> AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if self.live_data and props["resource_type"] == "model" and props["name"] in FRESHNESS_MODELS:
            spec = spec.replace_attributes(freshness_policy=freshness_policy())
        return spec
