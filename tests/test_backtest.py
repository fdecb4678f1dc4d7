"""The backtest: its metrics against brute-force definitions, and a run on a small
generated customer base that the health score must predict better than chance.

The CI run is small (400 customers x 540 days, about a minute); the figures in
docs/BACKTEST.md come from benchmarks/backtest.py on 3,000 customers x 730 days.
"""

from __future__ import annotations

import itertools
import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from churnguard.backtest import BacktestError, precision_recall, roc_auc, run_backtest, top_fraction_lift
from conftest import build_warehouse

pytestmark = pytest.mark.xdist_group("test_backtest")  # one worker: its module fixture builds a 400-customer, 540-day world once

AUC_FLOOR = 0.65
LIFT_FLOOR = 2.0


def _pairwise_auc(risk: list[float], label: list[int]) -> float:
    wins = 0.0
    pairs = 0
    for (r1, y1), (r0, y0) in itertools.product(zip(risk, label), zip(risk, label)):
        if y1 == 1 and y0 == 0:
            pairs += 1
            wins += 1.0 if r1 > r0 else 0.5 if r1 == r0 else 0.0
    return wins / pairs


def test_auc_equals_the_share_of_correctly_ordered_pairs_with_ties_counting_half() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        risk = rng.integers(0, 5, 30).astype(float).tolist()  # many ties
        label = rng.integers(0, 2, 30).tolist()
        if 0 < sum(label) < len(label):
            assert roc_auc(risk, label) == pytest.approx(_pairwise_auc(risk, label))
    assert roc_auc([1, 1, 1, 1], [0, 1, 0, 1]) == 0.5
    assert roc_auc([4, 3, 2, 1], [1, 1, 0, 0]) == 1.0
    with pytest.raises(BacktestError):
        roc_auc([1, 2], [1, 1])


def test_top_decile_lift_shares_ties_at_the_cut() -> None:
    # 20 customers, 4 churned (base rate 20%); the riskiest 10% = 2 customers.
    risk = [10, 9] + [1] * 18
    label = [1, 1] + [1, 1] + [0] * 16
    assert top_fraction_lift(risk, label) == pytest.approx(1.0 / 0.2)  # both top ones churned: 100% / 20%
    # A tie across the cut: 3 customers share the top score, 1 of them churned; the top 2
    # contain 2/3 of a churner in expectation.
    risk = [5, 5, 5] + [1] * 17
    label = [1, 0, 0] + [1, 0, 0, 0] + [0] * 13
    assert top_fraction_lift(risk, label) == pytest.approx((2 / 3 / 2) / (2 / 20))


def test_precision_and_recall_of_a_flag() -> None:
    precision, recall, share = precision_recall([True, True, False, False], [1, 0, 1, 0])
    assert (precision, recall, share) == (0.5, 0.5, 0.5)


@pytest.fixture(scope="module")
def generated_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from churnguard.generator import generate

    root = tmp_path_factory.mktemp("backtest")
    result = generate(customers=400, days=540, seed=5, out_dir=root / "raw", start_date=date(2024, 1, 1),
                      file_format="parquet")
    warehouse = build_warehouse(root / "raw", root, ["build", "--exclude-resource-type", "test", "unit_test"])
    return warehouse, result.truth_path


def test_health_score_predicts_churn_on_a_small_generated_base(generated_warehouse: tuple[Path, Path], tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    """One test on the generated warehouse (a module fixture would be rebuilt on each xdist worker)."""
    from churnguard.cli import main

    warehouse, truth = generated_warehouse
    result = run_backtest(warehouse, truth_path=truth)
    # holdout = the later cut-offs; the ceiling is fitted on earlier ones whose labels end
    # before the holdout starts
    assert len(result.cutoffs) >= 3 and len(result.train_cutoffs) >= 1 and result.churned >= 20, result.format()
    assert max(result.train_cutoffs) < min(result.cutoffs)
    names = [card.name for card in result.baselines]
    assert names == ["random (seeded draw)", "days since last order", "orders in 90 days",
                     "logins/events in 28 days", "days since last login", "tenure"]
    assert result.best_single_signal.auc == max(card.auc for card in result.baselines[1:])
    assert result.ceiling is not None and 0.5 < result.ceiling.auc <= 1
    assert result.share_of_ceiling == pytest.approx(result.health_score.auc / result.ceiling.auc)
    assert result.health_score.auc > AUC_FLOOR, result.format()
    assert result.health_score.top_decile_lift > LIFT_FLOOR, result.format()
    random_baseline = result.baselines[0]
    assert result.health_score.auc > random_baseline.auc + 0.1
    assert result.red_precision > result.churn_rate  # a red customer churns more often than average
    assert result.truth_agreement["warehouse_churns_matching_truth"] > 0.9

    # The CLI: figures to JSON, exit 1 below the floor, 2 without a warehouse.
    out = tmp_path / "backtest.json"
    assert main(["--warehouse", str(warehouse), "backtest", "--json", str(out), "--min-auc", str(AUC_FLOOR)]) == 0
    figures = json.loads(out.read_text())
    assert figures["horizon_days"] == 90 and figures["health_score"]["auc"] == pytest.approx(result.health_score.auc)
    assert "ROC AUC" in capsys.readouterr().out
    assert main(["--warehouse", str(warehouse), "backtest", "--min-auc", "0.999"]) == 1
    assert main(["--warehouse", str(tmp_path / "missing.duckdb"), "backtest"]) == 2


def test_split_cutoffs_keeps_training_labels_out_of_the_holdout() -> None:
    from churnguard.backtest import split_cutoffs

    cutoffs = [date(2024, m, 1) for m in range(1, 13)]
    train, holdout = split_cutoffs(cutoffs, horizon_days=90, holdout_share=0.5)
    assert [c.date() for c in holdout] == [date(2024, m, 1) for m in range(7, 13)]
    # a training cut-off's 90-day label window must end by July 1
    assert [c.date() for c in train] == [date(2024, m, 1) for m in range(1, 5)]


def test_a_single_signal_that_beats_the_score_is_reported() -> None:
    import pandas as pd

    from churnguard.backtest import evaluate

    rng = np.random.default_rng(1)
    rows = []
    for month in range(1, 13):
        for customer in range(300):
            churned = int(rng.random() < 0.1)
            rows.append({
                "cutoff_date": pd.Timestamp(2024, month, 1), "customer_id": f"c{customer}",
                "churn_definition": "order", "health_tier": "green", "churn_probability": None,
                # the score is noise; days since the last order separates churners well
                "health_score": int(rng.integers(40, 100)),
                "days_since_last_order": (120 if churned else 20) + int(rng.integers(0, 60)),
                "orders_90d": 1, "logins_28d": 0, "days_since_last_login": None, "tenure_days": 400,
                "churned": churned,
            })
    result = evaluate(pd.DataFrame(rows), horizon_days=90)
    assert result.best_single_signal.name == "days since last order"
    assert result.best_single_signal.auc > 0.9 > result.health_score.auc
    assert any("a single signal beats the health score: days since last order" in w for w in result.warnings)
    assert "WARNING: a single signal beats the health score" in result.format()


def test_young_and_older_customers_score_alike_at_the_tenure_where_baselines_fill(
        generated_warehouse: tuple[Path, Path]) -> None:
    """No step when a signal becomes available: the revenue, order-pace and ticket
    baselines fill up around day 118 of a customer's history. Customers seen at tenure
    90-110 days and at 125-145 days have the same score distribution, within noise: the
    means within 2 points, the 10th percentiles within 5. (The first score stepped from
    100 to 94 there, when a 'stable' financial score of 85 started to count.)"""
    import duckdb

    warehouse, _ = generated_warehouse
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        before, after = (
            con.execute(
                "select avg(health_score), count(*), quantile_cont(health_score, 0.1) "
                "from marts.health_scores where tenure_days between ? and ?", [lo, hi]
            ).fetchone()
            for lo, hi in ((90, 110), (125, 145))
        )
    finally:
        con.close()
    assert before[1] > 1000 and after[1] > 1000  # customer-days in each band
    assert abs(after[0] - before[0]) < 2, (before, after)
    assert abs(after[2] - before[2]) < 5, (before, after)


def test_calibrate_then_build_then_backtest_is_reproducible(
        generated_warehouse: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Calibrating twice writes the same seed; the rebuilt warehouse's calibrated score has
    the AUC that calibrate estimated for the holdout, and carries a churn probability."""
    import shutil

    import duckdb

    from churnguard import settings
    from churnguard.calibrate import apply, calibrate, write_seed

    source, _ = generated_warehouse
    warehouse = tmp_path / "wh.duckdb"
    shutil.copy(source, warehouse)
    project = tmp_path / "copy" / "dbt_project"
    shutil.copytree(settings.DBT_PROJECT_DIR, project,
                    ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml"))
    shutil.copytree(settings.SEEDS_DIR / "reference", tmp_path / "copy" / "seeds" / "reference")
    monkeypatch.setattr(settings, "DBT_PROJECT_DIR", project)

    first = calibrate(warehouse)
    second = calibrate(warehouse)
    seed = write_seed(first)
    assert seed == tmp_path / "copy" / "seeds" / "reference" / "health_calibration.csv"
    assert write_seed(second, tmp_path / "again.csv").read_text() == seed.read_text()
    if first.score_kept_defaults:  # the fit did not beat the defaults on the holdout
        assert first.curves == first.signal_weights == first.dimension_weights == {}
        assert first.auc_after <= first.auc_before
    else:
        assert abs(sum(first.dimension_weights.values()) - 1) < 1e-9
        assert all(w >= 0 for w in first.signal_weights.values())
        for curve in first.curves.values():
            assert len(curve) == 21 and min(curve) >= 0 and max(curve) <= 100
    assert set(first.probability) == {"intercept", "health_score", "log_tenure_days"}
    assert first.probability["health_score"] < 0  # a higher score means less churn

    apply(warehouse)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        calibrated, probabilities = con.execute(
            "select bool_and(is_calibrated), count(churn_probability) = count(*) from marts.health_scores"
        ).fetchone()
        low, high = con.execute("select min(churn_probability), max(churn_probability) from marts.health_scores"
                                ).fetchone()
    finally:
        con.close()
    assert calibrated and probabilities and 0 <= low < high <= 1
    result = run_backtest(warehouse)
    assert result.churn_probability is not None
    # the SQL scores the holdout as calibrate's own replica of it did
    expected = first.auc_before if first.score_kept_defaults else first.auc_after
    assert result.health_score.auc == pytest.approx(expected, abs=0.002)
    assert result.churn_probability.auc == pytest.approx(first.probability_auc, abs=0.002)
    assert run_backtest(warehouse).health_score.auc == result.health_score.auc

    # The CLI: --no-apply writes the same seed without rebuilding; --reset goes back to the
    # shipped seed (one row: not calibrated).
    from churnguard.calibrate import UNCALIBRATED_SEED
    from churnguard.cli import main

    seed.unlink()
    assert main(["--warehouse", str(warehouse), "calibrate", "--no-apply"]) == 0
    def fitted(path: Path) -> list[str]:
        return path.read_text().splitlines()

    assert fitted(seed) == fitted(tmp_path / "again.csv")
    assert main(["--warehouse", str(warehouse), "calibrate", "--reset", "--no-apply"]) == 0
    assert seed.read_text() == UNCALIBRATED_SEED == (settings.SEEDS_DIR / "reference" / "health_calibration.csv"
                                                     ).read_text()


def test_a_heavy_usage_product_does_not_saturate_the_score(tmp_path_factory: pytest.TempPathFactory) -> None:
    """In a product used many times a day (the heavy_usage world: median ~50 logins a
    week, 100x between customers) the usage score and the overall score keep a spread:
    fewer than 5% of customer-days at the top usage score (100) or the top overall score,
    and no overall score value on more than 10% of them. Fixed anchors gave usage 100 on
    92-99% of customer-days of such products."""
    import duckdb

    from churnguard.generator import generate

    root = tmp_path_factory.mktemp("heavy_usage")
    generate(customers=120, days=240, seed=3, out_dir=root / "raw", start_date=date(2024, 1, 1),
             file_format="parquet", world="heavy_usage")
    warehouse = build_warehouse(root / "raw", root,
                                ["build", "--select", "+health_scores", "--exclude-resource-type", "test", "unit_test"])
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        days, usage_top, overall_top, most_common, median_logins = con.execute(
            """
            select
                count(*),
                avg(case when usage_score = 100 then 1.0 else 0 end),
                avg(case when health_score = (select max(health_score) from marts.health_scores) then 1.0 else 0 end),
                (select max(n) from (select count(*) as n from marts.health_scores group by health_score)) / count(*),
                (select median(logins_7d) from marts.fct_customer_day where is_active)
            from marts.health_scores
            """
        ).fetchone()
    finally:
        con.close()
    assert days > 10_000 and median_logins >= 20  # a heavy-usage product indeed
    assert usage_top < 0.05, usage_top
    assert overall_top < 0.05, overall_top
    assert most_common < 0.10, most_common
