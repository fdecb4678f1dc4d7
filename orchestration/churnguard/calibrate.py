"""Fit the health score to the warehouse's own history (`churnguard calibrate`).

From monthly cut-offs of the warehouse's history (the backtest's cut-offs and label:
churn recognised within the horizon), without look-ahead:

1. the cut-offs are split in time: the fit uses the earlier ones whose label window ends
   before the later holdout period starts; the holdout is only scored;
2. each signal's **points curve** is the isotonic (monotone) regression of churn on the
   signal's cohort percentile, turned into points (0 at the riskiest end, 100 at the
   safest); a signal without a monotone relation to churn gets weight 0;
3. the **weights**: one logistic regression of churn on every signal's points
   (scikit-learn; negative coefficients dropped and the rest refitted); a dimension's
   weight is the sum of its signals' coefficients, a signal's weight its share of it;
4. the **churn probability** is a logistic regression of churn on the overall score and
   the log of tenure.

It writes everything as the long, reviewable seed ``seeds/reference/health_calibration.csv``
and prints the ROC AUC of the score before and after on the holdout cut-offs (after: the
score recomputed here from the fitted curves and weights, the way the SQL computes it).
``apply`` loads the seed and rebuilds the health models so that the nightly build uses it.

Nothing here opens a connection at import time.
"""

from __future__ import annotations

import csv
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from churnguard import settings
from churnguard.backtest import (
    DEFAULT_HORIZON_DAYS,
    DEFAULT_LABEL_DELAY_DAYS,
    DEFAULT_WARMUP_DAYS,
    BacktestError,
    _connect,
    load_frame,
    roc_auc,
    split_cutoffs,
)

DIMENSIONS = ("usage", "engagement", "financial", "satisfaction", "support")
CURVE_STEPS = 20  # knots 0..20 at percentiles k / 20, as macros/health/signals.sql
MIN_SIGNAL_ROWS = 200
MIN_SIGNAL_CHURNS = 10
MIN_TRAIN_CHURNS = 30


# The seed as shipped: one row saying that the defaults are in use (a seed with rows, so
# that every engine types its columns from them).
UNCALIBRATED_SEED = (
    "item_type,name,knot,value,description\n"
    'meta,calibrated,0,0,"Not calibrated: the score uses the default points curve, equal signal weights and '
    'the dimension weights of health_dimensions.csv (run churnguard calibrate)"\n'
)


class CalibrationError(RuntimeError):
    """The warehouse has too little history to calibrate on."""


def calibration_path() -> Path:
    """Where dbt reads the seed: seeds/reference next to the dbt project."""
    return settings.DBT_PROJECT_DIR.parent / "seeds" / "reference" / "health_calibration.csv"


@dataclass
class Calibration:
    horizon_days: int
    train_cutoffs: list[str]
    holdout_cutoffs: list[str]
    curves: dict[str, list[float]] = field(default_factory=dict)  # signal -> points at the 21 knots
    signal_weights: dict[str, float] = field(default_factory=dict)
    dimension_weights: dict[str, float] = field(default_factory=dict)
    probability: dict[str, float] = field(default_factory=dict)
    auc_before: float = float("nan")
    auc_after: float = float("nan")
    probability_auc: float = float("nan")
    train_rows: int = 0
    holdout_rows: int = 0

    def rows(self) -> list[dict]:
        out = []
        for signal, points in sorted(self.curves.items()):
            for knot, value in enumerate(points):
                out.append({"item_type": "signal_curve", "name": signal, "knot": knot, "value": f"{value:.4f}",
                            "description": f"points at percentile {knot / CURVE_STEPS:.2f} of the cohort"})
        for signal, weight in sorted(self.signal_weights.items()):
            out.append({"item_type": "signal_weight", "name": signal, "knot": 0, "value": f"{weight:.6f}",
                        "description": "weight within its dimension"})
        for dimension in DIMENSIONS:
            if dimension in self.dimension_weights:
                out.append({"item_type": "dimension_weight", "name": dimension, "knot": 0,
                            "value": f"{self.dimension_weights[dimension]:.6f}",
                            "description": "weight in the overall score"})
        for name, value in self.probability.items():
            out.append({"item_type": "probability", "name": name, "knot": 0, "value": f"{value:.6f}",
                        "description": "coefficient of the churn probability (logistic)"})
        meta = {
            "calibrated": (1, "fitted by churnguard calibrate on this warehouse's history"),
            "horizon_days": (self.horizon_days, "days ahead the churn probability speaks of"),
            "holdout_auc_before": (self.auc_before, f"score AUC on the holdout {self.holdout_cutoffs[0]}.."
                                                   f"{self.holdout_cutoffs[-1]} before calibration"),
            "holdout_auc_after": (self.auc_after, "score AUC on the holdout with this calibration (estimated)"),
            "train_rows": (self.train_rows, f"customer-cut-offs fitted on, {self.train_cutoffs[0]}.."
                                            f"{self.train_cutoffs[-1]}"),
        }
        for name, (value, description) in meta.items():
            out.append({"item_type": "meta", "name": name, "knot": 0, "value": f"{value:.6f}",
                        "description": description})
        return out

    def format(self) -> str:
        lines = [
            f"Calibration of the health score (horizon {self.horizon_days} days)",
            f"  fitted on {self.train_rows:,} customer-cut-offs ({len(self.train_cutoffs)} cut-offs "
            f"{self.train_cutoffs[0]} .. {self.train_cutoffs[-1]})",
            f"  holdout: {self.holdout_rows:,} customer-cut-offs ({len(self.holdout_cutoffs)} cut-offs "
            f"{self.holdout_cutoffs[0]} .. {self.holdout_cutoffs[-1]})",
            f"  ROC AUC on the holdout: before {self.auc_before:.3f}, after {self.auc_after:.3f} (score), "
            f"churn probability {self.probability_auc:.3f}",
            "  dimension weights: " + ", ".join(f"{d} {w:.2f}" for d, w in self.dimension_weights.items()),
            "  signals used: " + ", ".join(s for s, w in sorted(self.signal_weights.items()) if w > 0),
        ]
        return "\n".join(lines)


# --------------------------------------------------------------------------- data


def catalog(warehouse: Path) -> dict[str, str]:
    """signal -> dimension, read from the columns of int_health_dimension_scores."""
    con = _connect(warehouse)
    try:
        columns = [row[0] for row in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'intermediate' and table_name = 'int_health_dimension_scores'"
        ).fetchall()]
    finally:
        con.close()
    signals = {}
    for column in columns:
        if column.endswith("_percentile"):
            signal = column[: -len("_percentile")]
            signals[signal] = signal.split("_", 1)[0]
    if not signals:
        raise CalibrationError("int_health_dimension_scores has no signal percentiles: build the health models first")
    return signals


def load_signals(warehouse: Path, signals: dict[str, str], frame: pd.DataFrame) -> pd.DataFrame:
    """The signal percentiles of every customer-cut-off of ``frame``."""
    con = _connect(warehouse)
    try:
        cutoffs = sorted({str(c)[:10] for c in frame["cutoff_date"]})
        percentiles = ", ".join(f"{s}_percentile" for s in signals)
        data = con.execute(
            f"select customer_id, date_day as cutoff_date, {percentiles} "
            "from intermediate.int_health_dimension_scores where cast(date_day as varchar) in "
            f"({', '.join('?' for _ in cutoffs)})",
            cutoffs,
        ).df()
    finally:
        con.close()
    frame = frame.copy()
    frame["cutoff_date"] = pd.to_datetime(frame["cutoff_date"])
    data["cutoff_date"] = pd.to_datetime(data["cutoff_date"])
    return frame.merge(data, on=["customer_id", "cutoff_date"], how="left")


# --------------------------------------------------------------------------- scoring


def curve_points(percentile: np.ndarray, curve: list[float]) -> np.ndarray:
    """Points of a piecewise-linear curve (knots at k / 20) at the given percentiles."""
    knots = np.linspace(0.0, 1.0, CURVE_STEPS + 1)
    out = np.interp(np.nan_to_num(percentile, nan=0.0), knots, np.asarray(curve, dtype=float))
    return np.where(np.isnan(percentile), np.nan, out)


def default_curve(exponent: float) -> list[float]:
    knots = np.linspace(0.0, 1.0, CURVE_STEPS + 1)
    return list(100.0 * (1.0 - (1.0 - knots) ** exponent))


def weighted_mean(values: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """Weighted mean over the non-missing values, re-normalised (null when none, or when
    every value present has weight 0), as the SQL macro renormalised_weighted_mean."""
    names = list(values)
    stack = np.vstack([values[n] for n in names])
    w = np.array([weights.get(n, 0.0) for n in names])[:, None] * ~np.isnan(stack)
    total = w.sum(axis=0)
    summed = np.nansum(np.nan_to_num(stack) * w, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, summed / np.where(total > 0, total, 1.0), np.nan)


def overall_score(data: pd.DataFrame, signals: dict[str, str], curves: dict[str, list[float]],
                  signal_weights: dict[str, float], dimension_weights: dict[str, float]) -> np.ndarray:
    dims = {}
    for dimension in DIMENSIONS:
        members = [s for s, d in signals.items() if d == dimension]
        if not members:
            continue
        points = {s: curve_points(data[f"{s}_percentile"].to_numpy(dtype=float), curves[s]) for s in members}
        dims[dimension] = np.round(weighted_mean(points, signal_weights))
    return np.round(weighted_mean(dims, dimension_weights))


def _nonnegative_logistic_weights(features: pd.DataFrame, label: np.ndarray) -> dict[str, float]:
    """Weights = minus the coefficients of a logistic regression of churn on points (more
    points = less risk), standardised features, negative contributions dropped and refitted."""
    from sklearn.linear_model import LogisticRegression

    columns = list(features.columns)
    while columns:
        x = features[columns].to_numpy(dtype=float)
        x = np.where(np.isnan(x), np.nanmean(x, axis=0), x)
        scale = x.std(axis=0)
        scale[scale == 0] = 1.0
        model = LogisticRegression(C=1.0, max_iter=1000)
        model.fit(x / scale, label)
        coefficients = -model.coef_[0] / scale  # per point
        negative = [c for c, w in zip(columns, coefficients) if w <= 0]
        if not negative:
            return {c: float(w) for c, w in zip(columns, coefficients)}
        columns = [c for c in columns if c not in negative]
    return {}


# --------------------------------------------------------------------------- fit


def calibrate(
    warehouse: Path,
    *,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    warmup_days: int = DEFAULT_WARMUP_DAYS,
    label_delay_days: int = DEFAULT_LABEL_DELAY_DAYS,
    holdout_share: float = 0.5,
    default_exponent: float = 5.0,
) -> Calibration:
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    try:
        frame = load_frame(warehouse, horizon_days=horizon_days, warmup_days=warmup_days,
                           label_delay_days=label_delay_days)
    except BacktestError as error:
        raise CalibrationError(f"too little history to calibrate: {error}") from error
    signals = catalog(warehouse)
    data = load_signals(warehouse, signals, frame)
    train_cutoffs, holdout_cutoffs = split_cutoffs(list(data["cutoff_date"]), horizon_days, holdout_share)
    train = data[data["cutoff_date"].isin(train_cutoffs)].reset_index(drop=True)
    holdout = data[data["cutoff_date"].isin(holdout_cutoffs)].reset_index(drop=True)
    if not train_cutoffs or train["churned"].sum() < MIN_TRAIN_CHURNS:
        raise CalibrationError(
            f"too little history to calibrate: {train['churned'].sum() if len(train) else 0} churns in the "
            f"fitting period (at least {MIN_TRAIN_CHURNS} needed, with {horizon_days}-day labels that end "
            "before the holdout); the score keeps its defaults"
        )
    if holdout["churned"].sum() == 0 or holdout["churned"].sum() == len(holdout):
        raise CalibrationError("the holdout period needs both churned and retained customers")
    label = train["churned"].to_numpy()

    result = Calibration(
        horizon_days=horizon_days,
        train_cutoffs=[str(c)[:10] for c in train_cutoffs],
        holdout_cutoffs=[str(c)[:10] for c in holdout_cutoffs],
        train_rows=len(train), holdout_rows=len(holdout),
    )
    knots = np.linspace(0.0, 1.0, CURVE_STEPS + 1)
    fallback = default_curve(default_exponent)
    for signal in signals:
        pct = train[f"{signal}_percentile"].to_numpy(dtype=float)
        present = ~np.isnan(pct)
        if present.sum() < MIN_SIGNAL_ROWS or label[present].sum() < MIN_SIGNAL_CHURNS:
            result.curves[signal] = fallback
            result.signal_weights[signal] = 0.0
            continue
        iso = IsotonicRegression(increasing="auto", out_of_bounds="clip")
        with warnings.catch_warnings():  # "increasing may be suspect": a flat fit gets weight 0 below
            warnings.simplefilter("ignore", UserWarning)
            iso.fit(pct[present], label[present])
        risk = iso.predict(knots)
        spread = risk.max() - risk.min()
        if spread <= 0:
            result.curves[signal] = fallback
            result.signal_weights[signal] = 0.0
            continue
        result.curves[signal] = list(100.0 * (risk.max() - risk) / spread)

    # One logistic regression of churn on every usable signal's points: with every signal
    # present the overall score is sum(w_s x points_s) / sum(w_s), so the score is then
    # exactly the fitted linear predictor. Its weights split into a dimension's weight (the
    # sum over its signals) and each signal's share within its dimension.
    usable = [s for s in signals if s not in result.signal_weights]
    points_train = {s: curve_points(train[f"{s}_percentile"].to_numpy(dtype=float), result.curves[s])
                    for s in usable}
    weights = _nonnegative_logistic_weights(pd.DataFrame(points_train), label) if usable else {}
    total = sum(weights.values())
    for dimension in DIMENSIONS:
        members = [s for s, d in signals.items() if d == dimension]
        if not members:
            continue
        dimension_total = sum(weights.get(s, 0.0) for s in members)
        result.dimension_weights[dimension] = dimension_total / total if total > 0 else 0.2
        for s in members:
            if s in usable:
                result.signal_weights[s] = weights.get(s, 0.0) / dimension_total if dimension_total > 0 else 0.0

    # the churn probability: logistic in the overall score and log tenure
    score_train = overall_score(train, signals, result.curves, result.signal_weights, result.dimension_weights)
    ok = ~np.isnan(score_train)
    x = np.column_stack([score_train[ok], np.log1p(train["tenure_days"].to_numpy(dtype=float)[ok])])
    model = LogisticRegression(C=1e4, max_iter=1000).fit(x, label[ok])
    result.probability = {
        "intercept": float(model.intercept_[0]),
        "health_score": float(model.coef_[0][0]),
        "log_tenure_days": float(model.coef_[0][1]),
    }

    # before and after, on the holdout
    holdout_label = holdout["churned"].to_numpy()
    result.auc_before = roc_auc(-holdout["health_score"].to_numpy(dtype=float), holdout_label)
    score_holdout = overall_score(holdout, signals, result.curves, result.signal_weights, result.dimension_weights)
    score_holdout = np.where(np.isnan(score_holdout), np.nanmean(score_holdout), score_holdout)
    result.auc_after = roc_auc(-score_holdout, holdout_label)
    logit = (result.probability["intercept"] + result.probability["health_score"] * score_holdout
             + result.probability["log_tenure_days"] * np.log1p(holdout["tenure_days"].to_numpy(dtype=float)))
    result.probability_auc = roc_auc(logit, holdout_label)
    return result


def write_seed(calibration: Calibration, path: Path | None = None) -> Path:
    path = Path(path or calibration_path())
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["item_type", "name", "knot", "value", "description"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(calibration.rows())
    return path


def reset_seed(path: Path | None = None) -> Path:
    """Back to the defaults: the seed as shipped."""
    path = Path(path or calibration_path())
    path.write_text(UNCALIBRATED_SEED, encoding="utf-8")
    return path


def apply(warehouse: Path) -> None:
    """Load the seed and rebuild the health score and everything downstream of it."""
    from churnguard.dbt_cli import run_dbt

    run_dbt(["seed", "--full-refresh", "--select", "health_calibration"], warehouse=warehouse, capture=True)
    run_dbt(["build", "--full-refresh", "--select", "int_health_dimension_scores+"], warehouse=warehouse,
            capture=True, dbt_vars={"test_scope": "full"})
