"""The backtest: its metrics against brute-force definitions, and a run on a small
generated customer base that the health score must predict better than chance.

The CI run is small (400 customers x 450 days, under a minute); the figures in
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
    result = generate(customers=400, days=450, seed=5, out_dir=root / "raw", start_date=date(2024, 1, 1),
                      file_format="parquet")
    warehouse = build_warehouse(root / "raw", root,
                                ["build", "--select", "+health_scores", "--exclude-resource-type", "test", "unit_test"])
    return warehouse, result.truth_path


def test_health_score_predicts_churn_on_a_small_generated_base(generated_warehouse: tuple[Path, Path], tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    """One test on the generated warehouse (a module fixture would be rebuilt on each xdist worker)."""
    from churnguard.cli import main

    warehouse, truth = generated_warehouse
    result = run_backtest(warehouse, truth_path=truth)
    assert len(result.cutoffs) >= 5 and result.churned >= 30, result.format()
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
