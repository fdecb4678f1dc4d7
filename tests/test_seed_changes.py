"""Item 2 of issue 16: a user's change to a reference seed never fails the nightly build.

Every dbt unit test gives its own fixture rows for the seeds its model reads, so a
changed tier, weight, band, parameter, matrix cell or playbook changes the numbers and
not the outcome of the build. The test changes every seed of a private copy of the
project and runs the real `churnguard run` (load, dbt build with unit and data tests,
quality gate, delivery) on the committed sample, then checks that the new values were
used."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
from project_copy import copy_project, run_churnguard


def _rewrite(path: Path, change) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames, list(reader)
    for row in rows:
        change(row)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def _set(column: str, values: dict[str, str], key: str):
    def change(row: dict) -> None:
        if row[key] in values:
            row[column] = values[row[key]]
    return change


def test_changing_every_reference_seed_keeps_the_nightly_green(tmp_path: Path, sample_dir: Path) -> None:
    root = copy_project(tmp_path / "project")
    seeds = root / "seeds" / "reference"
    # The example: red up to 64, yellow 65-75.
    _rewrite(seeds / "health_tiers.csv", _set("max_score", {"red": "64"}, "tier"))
    _rewrite(seeds / "health_tiers.csv", _set("min_score", {"yellow": "65"}, "tier"))
    _rewrite(seeds / "health_dimensions.csv", _set(
        "weight", {"usage": "0.40", "engagement": "0.10", "financial": "0.20", "satisfaction": "0.20", "support": "0.10"},
        "dimension"))
    _rewrite(seeds / "health_dimension_bands.csv", _set("min_score", {"high": "85", "medium": "55"}, "band"))
    _rewrite(seeds / "health_dimension_bands.csv", _set("max_score", {"medium": "84", "low": "54"}, "band"))
    _rewrite(seeds / "health_scoring_parameters.csv", _set(
        "parameter_value", {"alert_min_yellow_days": "5", "alert_close_after_green_days": "10", "clv_horizon_months": "12"},
        "parameter_name"))
    _rewrite(seeds / "value_risk_matrix.csv", _set("recommended_playbook", {"high_value_low_risk": "support_escalation"},
                                                   "value_risk_cell"))
    _rewrite(seeds / "retention_playbooks.csv", _set("default_save_rate", {"roi_review": "0.35"}, "playbook"))
    _rewrite(seeds / "warning_rules.csv", _set("threshold", {"score_drop_20_in_90d": "15"}, "reason_code"))

    work = tmp_path / "work"
    work.mkdir()
    result = run_churnguard(root, ["run", "--data", str(sample_dir)], work)
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])

    con = duckdb.connect(str(work / "churnguard.duckdb"), read_only=True)
    try:
        tiers = con.execute("""
            select health_tier, min(health_score), max(health_score)
            from marts.health_scores where health_tier is not null group by 1 order by 1
        """).fetchall()
        playbooks = con.execute(
            "select distinct recommended_playbook from marts.customer_alerts where value_risk_cell = 'high_value_low_risk'"
        ).fetchall()
    finally:
        con.close()
    bounds = {tier: (low, high) for tier, low, high in tiers}
    assert bounds["red"][1] <= 64 and bounds["yellow"][0] >= 65, bounds
    assert 60 <= bounds["red"][1], "scores 60-64 are red under the changed tiers"
    assert playbooks in ([], [("support_escalation",)])
