"""The semantic layer: MetricFlow metrics over the KPI marts answer what the marts say.

`churnguard metrics` (MetricFlow, read-only on the warehouse) returns the monthly churn
rate by segment equal to marts.kpi_monthly, and the alert episodes by tier equal to
marts.kpi_alert_outcomes, on the sample warehouse.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from churnguard import cli
from churnguard.metrics import MetricsError, query_metrics


def test_churn_rate_by_segment_by_month_equals_kpi_monthly(sample_warehouse: Path) -> None:
    target = sample_warehouse.parent / "dbt_target"
    result = query_metrics(
        ["customer_churn_rate", "nps"], ["metric_time__month", "kpi_period__segment"],
        warehouse=sample_warehouse, target_path=target,
    )
    assert result.columns == ["metric_time__month", "kpi_period__segment", "customer_churn_rate", "nps"]
    got = {(str(month)[:10], segment): (rate, nps) for month, segment, rate, nps in result.rows}
    with duckdb.connect(str(sample_warehouse), read_only=True) as con:
        expected = {
            (str(month), segment): (rate, nps)
            for month, segment, rate, nps in con.execute(
                "select period_start_date, segment, customer_churn_rate, nps from marts.kpi_monthly"
            ).fetchall()
        }
    assert got.keys() == expected.keys() and len(got) == 12 * 4  # 12 months x (3 segments + 'all')
    for key, (rate, nps) in expected.items():
        assert got[key][0] == (pytest.approx(float(rate)) if rate is not None else None), key
        assert got[key][1] == (pytest.approx(float(nps)) if nps is not None else None), key
    # January, all customers, by hand from kpi_monthly's counts: churned from start / at start
    with duckdb.connect(str(sample_warehouse), read_only=True) as con:
        churned, at_start = con.execute(
            "select churned_from_start_customers, customers_at_start from marts.kpi_monthly "
            "where segment = 'all' and period_start_date = date '2025-01-01'"
        ).fetchone()
    assert got[("2025-01-01", "all")][0] == pytest.approx(churned / at_start)


def test_alert_episodes_by_tier_and_the_command_line(
    sample_warehouse: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    target = sample_warehouse.parent / "dbt_target"
    result = query_metrics(["alert_episodes"], ["alert__alert_tier"], warehouse=sample_warehouse, target_path=target)
    with duckdb.connect(str(sample_warehouse), read_only=True) as con:
        expected = dict(con.execute("select alert_tier, count(*) from marts.kpi_alert_outcomes group by 1").fetchall())
    assert dict(result.rows) == expected and sum(expected.values()) > 0
    with pytest.raises(MetricsError, match="nope"):
        query_metrics(["nope"], warehouse=sample_warehouse, target_path=target)

    monkeypatch.setenv("CHURNGUARD_DBT_TARGET_PATH", str(target))
    assert cli.main(["--warehouse", str(sample_warehouse), "metrics", "save_rate",
                     "--group-by", "metric_time__quarter", "--where", "{{ Dimension('kpi_period__segment') }} = 'all'"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["metric_time__quarter", "save_rate"] and len(out) == 1 + 4  # four quarters of 2025
    assert cli.main(["metrics", "--list"]) == 0
    assert "customer_churn_rate" in capsys.readouterr().out
