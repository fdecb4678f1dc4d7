"""The Great Expectations suites as blocking Dagster asset checks.

Two ``@multi_asset_check`` definitions run the suites of ``expectations/`` (read-only,
rendering Data Docs): ``great_expectations_gate`` (the alert list and the marts it rests on)
and ``great_expectations_kpis`` (the KPI marts). They report one check per mart and kind: ``gx_integrity`` on every mart that has a suite (``current_alert_list``,
``customer_alerts``, ``health_scores``, ``kpi_monthly``, ``kpi_quarterly``) and
``gx_volume`` on ``current_alert_list``. Every check is ``blocking=True``: a failure (severity
ERROR) stops the assets downstream, above all ``alert_list_delivery``.

Volume override for one run: launch the run with the tag
``churnguard/override_volume_check=<reason>``. A failed volume check is then reported with
severity WARN (it does not block), the reason is written to the run log and to the check's
metadata, and the delivery records it in ``delivery.sync_runs``. Integrity checks have no
override.

Each result carries the failed expectations with sample rows (Markdown) and a link to the
Data Docs page (``<warehouse folder>/data_docs``).

When ``great_expectations_gate`` blocks, it writes the same audit rows as ``churnguard sync``
(`record_block`): a ``blocked`` row per destination in ``delivery.sync_runs``, the failed
expectations in ``delivery.quality_failures`` and the list in ``delivery.alert_list_history``.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Iterable, Iterator

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetChecksDefinition,
    AssetKey,
    MetadataValue,
    multi_asset_check,
)

from churnguard import settings
from churnguard.defs.config import WAREHOUSE_POOL

OVERRIDE_TAG = "churnguard/override_volume_check"
CHECK_NAMES = {"integrity": "gx_integrity", "volume": "gx_volume"}
CHECK_DESCRIPTIONS = {
    "integrity": "Great Expectations integrity suite (expectations/): keys, sets, ranges, deadlines, owners. "
    "Blocks delivery; cannot be overridden.",
    "volume": "Alert volume against the last delivered list and the active customers. Blocks delivery unless the run "
    f"has the tag {OVERRIDE_TAG}=<reason>.",
}


def override_reason(context) -> str | None:
    """The volume-check override of this run (run tag), if any."""
    tags = getattr(getattr(context, "run", None), "tags", None) or {}
    reason = str(tags.get(OVERRIDE_TAG, "")).strip()
    return reason or None


def check_plan(asset_keys: Iterable[AssetKey]) -> dict[AssetCheckKey, list[str]]:
    """``{check key: suite names}`` for the marts among ``asset_keys`` (matched by last key part)."""
    from churnguard.quality.suites import suite_definitions

    by_name = {key.path[-1]: key for key in asset_keys}
    plan: dict[AssetCheckKey, list[str]] = defaultdict(list)
    for name, suite in suite_definitions().items():
        table = suite["meta"]["churnguard"]["relation"].split(".")[-1]
        key = by_name.get(table)
        if key is None:
            continue
        for kind in sorted({e["meta"]["kind"] for e in suite["expectations"]}):
            plan[AssetCheckKey(key, CHECK_NAMES[kind])].append(name)
    return dict(plan)


def _kind(check_key: AssetCheckKey) -> str:
    return next(kind for kind, name in CHECK_NAMES.items() if name == check_key.name)


def failures_markdown(failures) -> str:
    lines = ["| suite | expectation | column | rows | sample |", "|---|---|---|---|---|"]
    for f in failures:
        sample = "; ".join(", ".join(f"{k}={row[k]}" for k in f.sample_keys(row)) for row in f.sample_rows[:3])
        rows = f"{f.unexpected_count}/{f.element_count}" if f.unexpected_count is not None else str(f.observed_value or "")
        cells = [f.suite, f.expectation, f.column or "", rows, sample or (f.error or "")]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def record_block(context, gate, reason: str | None) -> None:
    """Write the audit rows of a blocked delivery, exactly as ``churnguard sync`` does.

    The blocking checks stop ``alert_list_delivery`` before it runs, so without this a block
    in the nightly would leave no ``blocked`` row in ``delivery.sync_runs`` and nothing in
    ``delivery.quality_failures``. `churnguard.delivery.engine.sync` with the failed gate
    sends nothing and writes those rows (under the warehouse lock, with the run id).
    """
    from churnguard.delivery.engine import sync

    try:
        sync(settings.warehouse_path(), gate=gate, override_volume_reason=reason, run_id=context.run.run_id,
             log=context.log.info)
    except Exception as error:  # the check result must still be reported
        context.log.warning(f"could not record the blocked delivery in delivery.sync_runs: {type(error).__name__}: {error}")


def _results(
    context: AssetCheckExecutionContext, plan: dict[AssetCheckKey, list[str]], audit: bool = False
) -> Iterator[AssetCheckResult]:
    from churnguard.quality.runner import run_gate

    selected = [k for k in plan if k in context.selected_asset_check_keys] or list(plan)
    suites = sorted({s for k in selected for s in plan[k]})
    reason = override_reason(context)
    gate = run_gate(
        settings.warehouse_path(), suites=suites, override_volume_reason=reason,
        run_name=f"{context.run.job_name} (dagster run {context.run.run_id[:8]})",
    )
    context.log.info(gate.format())
    if audit and not gate.passed:
        record_block(context, gate, reason)
    for check_key in selected:
        kind = _kind(check_key)
        failures = [f for f in gate.failures if f.suite in plan[check_key] and f.kind == kind]
        overridden = kind == "volume" and bool(failures) and reason is not None
        if overridden:
            context.log.warning(f"volume check on {check_key.asset_key.to_user_string()} overridden for this run: {reason}")
        metadata = {
            "suites": MetadataValue.text(", ".join(plan[check_key])),
            "failed_expectations": MetadataValue.int(len(failures)),
            "evaluated_expectations": MetadataValue.int(
                sum(s.evaluated for s in gate.suites if s.suite in plan[check_key])
            ),
        }
        if failures:
            metadata["failures"] = MetadataValue.md(failures_markdown(failures))
        if overridden:
            metadata["override_reason"] = MetadataValue.text(reason)
        pages = [s.data_docs_page for s in gate.suites if s.suite in plan[check_key] and s.data_docs_page]
        if pages:
            metadata["data_docs"] = MetadataValue.url(Path(pages[0]).as_uri())
        elif gate.data_docs_index:
            metadata["data_docs"] = MetadataValue.url(Path(gate.data_docs_index).as_uri())
        if kind == "volume":
            for name in ("previous_delivered_alerts", "active_customers", "max_alerts_by_growth", "max_alerts_by_share"):
                value = gate.parameters.get(name)
                if value is not None:
                    metadata[name] = MetadataValue.int(int(value))
        yield AssetCheckResult(
            asset_key=check_key.asset_key,
            check_name=check_key.name,
            passed=not failures,
            severity=AssetCheckSeverity.WARN if overridden else AssetCheckSeverity.ERROR,
            metadata=metadata,
            description=None if not failures else "; ".join(f"{f.suite}.{f.expectation}" for f in failures)[:500],
        )


def _multi_check(
    name: str, description: str, plan: dict[AssetCheckKey, list[str]], audit: bool = False
) -> AssetChecksDefinition:
    specs = [
        AssetCheckSpec(name=key.name, asset=key.asset_key, blocking=True, description=CHECK_DESCRIPTIONS[_kind(key)])
        for key in plan
    ]

    # In the warehouse pool: a read-only connection fails while another process writes the file.
    @multi_asset_check(specs=specs, name=name, can_subset=True, description=description, pool=WAREHOUSE_POOL)
    def checks(context):  # no annotation: this module uses postponed annotations
        yield from _results(context, plan, audit)

    return checks


def build_quality_checks(asset_keys: Iterable[AssetKey]) -> list[AssetChecksDefinition]:
    """The blocking GX asset checks for the marts among ``asset_keys`` (none if no mart exists).

    Two check definitions: ``great_expectations_gate`` (the suites that gate the alert
    delivery) and ``great_expectations_kpis`` (the KPI marts), so a KPI problem never holds
    the alert list back.
    """
    from churnguard.quality.suites import delivery_suite_names

    gating = set(delivery_suite_names())
    plan = check_plan(asset_keys)
    gate_plan = {k: v for k, v in plan.items() if set(v) & gating}
    kpi_plan = {k: v for k, v in plan.items() if not set(v) & gating}
    checks = []
    # health_scores is built a step before the alert marts: its check is a step of its own,
    # else Dagster splits one check step in two and names one half great_expectations_gate_2
    early = {k: v for k, v in gate_plan.items() if k.asset_key.path[-1] == "health_scores"}
    gate_plan = {k: v for k, v in gate_plan.items() if k not in early}
    if early:
        checks.append(
            _multi_check(
                "great_expectations_health_scores",
                "Great Expectations suite of the health scores (expectations/), read-only. Blocks the alert marts "
                "and alert_list_delivery.",
                early,
            )
        )
    if gate_plan:
        checks.append(
            _multi_check(
                "great_expectations_gate",
                "Great Expectations suites of the alert list and the marts it rests on (expectations/), read-only; "
                "renders Data Docs. Blocks alert_list_delivery; a block is audited in delivery.sync_runs "
                "and delivery.quality_failures like churnguard sync.",
                gate_plan,
                audit=True,
            )
        )
    if kpi_plan:
        checks.append(
            _multi_check("great_expectations_kpis", "Great Expectations suites of the KPI marts (expectations/).", kpi_plan)
        )
    return checks
