"""The gate in Dagster: the Great Expectations checks are blocking asset checks, and a failing
one stops the delivery asset (materialized in process, with a temporary Dagster instance)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from delivery_fixtures import alert_row, default_alerts, query, write_marts

from churnguard.defs.delivery import DELIVERY_ASSET, delivery_definitions
from churnguard.defs.quality import OVERRIDE_TAG

MARTS = ("current_alert_list", "customer_alerts", "health_scores", "kpi_monthly", "kpi_quarterly")


def _graph(warehouse: Path, alerts: dict):
    @dg.multi_asset(specs=[dg.AssetSpec(name) for name in MARTS], name="fake_marts")
    def fake_marts():
        write_marts(warehouse, alerts["rows"])
        for name in MARTS:
            yield dg.MaterializeResult(asset_key=name)

    keys = [dg.AssetKey(name) for name in MARTS]
    extra = delivery_definitions(keys)
    return [fake_marts, *extra.assets, *extra.asset_checks]


def _run(assets, instance, tags=None):
    return dg.materialize(assets, instance=instance, raise_on_error=False, tags=tags or {})


@pytest.fixture
def instance(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        yield instance


def _check(result, asset: str, name: str):
    evaluations = [e.asset_check_evaluation_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    return next(e for e in evaluations if e.asset_key == dg.AssetKey(asset) and e.check_name == name)


def test_checks_are_blocking_and_cover_every_mart():
    definitions = delivery_definitions([dg.AssetKey(name) for name in MARTS])
    specs = [spec for checks in definitions.asset_checks for spec in checks.check_specs]
    assert {(s.asset_key.path[-1], s.name) for s in specs} == {
        *((name, "gx_integrity") for name in MARTS),
        ("current_alert_list", "gx_volume"),
    }
    assert all(s.blocking for s in specs)


def test_failing_check_blocks_the_delivery_asset(isolated_warehouse, instance):
    alerts = {"rows": default_alerts()}
    assets = _graph(isolated_warehouse, alerts)
    first = _run(assets, instance)
    assert first.success
    snapshot = isolated_warehouse.parent / "deliveries" / "alerts" / "alert_list.csv"
    before = snapshot.read_bytes()
    assert instance.get_latest_materialization_event(DELIVERY_ASSET) is not None

    alerts["rows"] = [*default_alerts(), alert_row(2)]  # a duplicate alert
    second = _run(assets, instance)
    check = _check(second, "current_alert_list", "gx_integrity")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "current_alert_list.expect_column_values_to_be_unique" in check.description
    assert "alert-0002" in check.metadata["failures"].value
    assert check.metadata["data_docs"].value.startswith("file://")
    materialized = {e.asset_key for e in second.all_events if e.event_type_value == "ASSET_MATERIALIZATION"}
    assert DELIVERY_ASSET not in materialized
    assert snapshot.read_bytes() == before
    # The block leaves the same trace as `churnguard sync`: a blocked row, the failures, the history.
    assert query(isolated_warehouse, "select status, sent, error like '%expect_column_values_to_be_unique%' "
                 "from delivery.sync_runs where run_id = ?", [second.run_id]) == [("blocked", 0, True)]
    failures = query(isolated_warehouse, "select suite, expectation from delivery.quality_failures where run_id = ?",
                     [second.run_id])
    assert ("current_alert_list", "expect_column_values_to_be_unique") in failures
    assert query(isolated_warehouse, "select alert_count, gate_passed, delivered from delivery.alert_list_history "
                 "where run_id = ?", [second.run_id]) == [(7, False, False)]


def test_volume_override_tag_delivers_and_is_logged(isolated_warehouse, instance):
    alerts = {"rows": default_alerts()}
    assets = _graph(isolated_warehouse, alerts)
    assert _run(assets, instance).success
    alerts["rows"] = [alert_row(i) for i in range(1, 41)]  # 6 -> 40 alerts, 100% of the customers

    blocked = _run(assets, instance)
    assert not _check(blocked, "current_alert_list", "gx_volume").passed
    assert DELIVERY_ASSET not in {e.asset_key for e in blocked.all_events if e.event_type_value == "ASSET_MATERIALIZATION"}

    result = _run(assets, instance, tags={OVERRIDE_TAG: "data migration, checked by hand"})
    volume = _check(result, "current_alert_list", "gx_volume")
    assert not volume.passed and volume.severity == dg.AssetCheckSeverity.WARN
    assert volume.metadata["override_reason"].value == "data migration, checked by hand"
    assert result.success
    logs = [e.message for e in instance.all_logs(result.run_id)]
    assert any("overridden for this run: data migration" in (m or "") for m in logs)
    assert query(isolated_warehouse, "select override_reason, sent from delivery.sync_runs where run_id = ?", [result.run_id]) == [
        ("data migration, checked by hand", 34)
    ]
