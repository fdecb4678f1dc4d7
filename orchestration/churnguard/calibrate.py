"""Fit the health score to the warehouse's own history (`churnguard calibrate`).

From monthly cut-offs of the warehouse's history (the backtest's cut-offs and label:
churn recognised within the horizon), without look-ahead:

1. the cut-offs are split in time: the fit uses the earlier ones whose label window ends
   before the later holdout period starts; the holdout is only scored;
2. each signal's **points curve** is the isotonic (monotone) regression of churn on the
   signal's cohort percentile, turned into points (0 at the riskiest end, 100 at the
   safest); a signal without a monotone relation to churn gets weight 0;
3. the **weights** of the signals within their dimension and of the dimensions: the
   non-negative weights that make the score, computed exactly as the SQL computes it
   (missing signals and dimensions left out, weights re-normalised), predict churn best
   (log-loss of a logistic function of the score, minimised with scipy's L-BFGS-B from
   the default weights);
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
MIN_WEIGHT = 0.01  # floor of every fitted signal and dimension weight (shares)


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
    auc_before: float = float("nan")  # the default score on the holdout
    auc_after: float = float("nan")  # the fitted score on the holdout
    score_kept_defaults: bool = False  # the fit did not beat the defaults: only the probability is kept
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
            "holdout_auc_default": (self.auc_before, f"default score's AUC on the holdout {self.holdout_cutoffs[0]}.."
                                                    f"{self.holdout_cutoffs[-1]}"),
            "holdout_auc_fitted": (self.auc_after, "fitted score's AUC on the holdout"),
            "score_kept_defaults": (int(self.score_kept_defaults),
                                    "1: the fitted curves and weights did not beat the defaults on the holdout, "
                                    "so the score keeps its defaults and only the probability is fitted"),
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
            f"  ROC AUC of the score on the holdout: defaults {self.auc_before:.3f}, fitted {self.auc_after:.3f}; "
            f"churn probability {self.probability_auc:.3f}",
        ]
        if self.score_kept_defaults:
            lines.append("  the fitted curves and weights do not beat the defaults on the holdout: the score keeps "
                         "its defaults; only the churn probability is calibrated")
        else:
            lines += [
                "  dimension weights: " + ", ".join(f"{d} {w:.2f}" for d, w in self.dimension_weights.items()),
                "  main signals (weight within their dimension >= 0.05): " + ", ".join(
                    f"{s} {w:.2f}" for s, w in sorted(self.signal_weights.items(), key=lambda kv: -kv[1]) if w >= 0.05),
            ]
        return "\n".join(lines)


# --------------------------------------------------------------------------- data


def catalog(warehouse: Path) -> dict[str, str]:
    """signal -> dimension, read from the columns of int_health_dimension_scores."""
    con = _connect(warehouse)
    try:
        from churnguard import warehouse_sql

        columns = warehouse_sql.relation_columns(con, "intermediate", "int_health_dimension_scores")
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


def dimension_weights_in(warehouse: Path) -> dict[str, float]:
    """The dimension weights of the warehouse's health_dimensions seed (the defaults)."""
    con = _connect(warehouse)
    try:
        rows = con.execute("select dimension, cast(weight as double) from reference.health_dimensions").fetchall()
    finally:
        con.close()
    return {dimension: weight for dimension, weight in rows}


def load_signals(warehouse: Path, signals: dict[str, str], frame: pd.DataFrame) -> pd.DataFrame:
    """The signal percentiles of every customer-cut-off of ``frame``, with the interval of
    the cohort each value occupies (``<signal>_low`` / ``_high``): the table keeps the
    interval's midpoint; its width is the share of the cohort with the same value that day,
    counted here over every scored customer of the cohort (as the SQL ranks them)."""
    con = _connect(warehouse)
    try:
        cutoffs = sorted({str(c)[:10] for c in frame["cutoff_date"]})
        percentiles = ", ".join(f"{s}_percentile" for s in signals)
        data = con.execute(
            f"select customer_id, date_day as cutoff_date, cohort, {percentiles} "
            "from intermediate.int_health_dimension_scores where cast(date_day as varchar) in "
            f"({', '.join('?' for _ in cutoffs)})",
            cutoffs,
        ).df()
    finally:
        con.close()
    for signal in signals:
        column = f"{signal}_percentile"
        data[column] = data[column].astype(float)
        present = data[column].notna()
        keys = [data["cutoff_date"], data["cohort"]]
        cohort_size = present.groupby(keys).transform("sum")
        tied = data.groupby([*keys, data[column]], dropna=False)[column].transform("size")
        half = np.where(present, tied / cohort_size.where(cohort_size > 0, 1) / 2.0, np.nan)
        data[f"{signal}_low"] = (data[column] - half).clip(0.0, 1.0)
        data[f"{signal}_high"] = (data[column] + half).clip(0.0, 1.0)
    frame = frame.copy()
    frame["cutoff_date"] = pd.to_datetime(frame["cutoff_date"])
    data["cutoff_date"] = pd.to_datetime(data["cutoff_date"])
    return frame.merge(data.drop(columns=["cohort"]), on=["customer_id", "cutoff_date"], how="left")


# --------------------------------------------------------------------------- scoring


def curve_points(percentile: np.ndarray, curve: list[float]) -> np.ndarray:
    """Points of a piecewise-linear curve (knots at k / 20) at the given percentiles."""
    knots = np.linspace(0.0, 1.0, CURVE_STEPS + 1)
    out = np.interp(np.nan_to_num(percentile, nan=0.0), knots, np.asarray(curve, dtype=float))
    return np.where(np.isnan(percentile), np.nan, out)


def interval_points(low: np.ndarray, high: np.ndarray, curve: list[float]) -> np.ndarray:
    """Mean of a piecewise-linear curve (knots at k / 20) over [low, high], as the SQL
    (macros/health/signals.sql) computes a signal's points; NaN stays NaN."""
    knots = np.linspace(0.0, 1.0, CURVE_STEPS + 1)
    values = np.asarray(curve, dtype=float)
    area = np.concatenate([[0.0], np.cumsum((values[:-1] + values[1:]) / 2.0 / CURVE_STEPS)])

    def integral(p: np.ndarray) -> np.ndarray:
        p = np.clip(np.nan_to_num(p, nan=0.0), 0.0, 1.0)
        i = np.minimum(np.floor(p * CURVE_STEPS).astype(int), CURVE_STEPS - 1)
        x = p - knots[i]
        slope = (values[i + 1] - values[i]) * CURVE_STEPS
        return area[i] + x * values[i] + 0.5 * x * x * slope

    width = high - low
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(width > 1e-12, (integral(high) - integral(low)) / np.where(width > 1e-12, width, 1.0),
                        curve_points(low, curve))
    return np.where(np.isnan(low) | np.isnan(high), np.nan, mean)


def signal_points(data: pd.DataFrame, signal: str, curve: list[float]) -> np.ndarray:
    return interval_points(data[f"{signal}_low"].to_numpy(dtype=float), data[f"{signal}_high"].to_numpy(dtype=float),
                           curve)


def default_curve(exponent: float) -> list[float]:
    knots = np.linspace(0.0, 1.0, CURVE_STEPS + 1)
    return list(100.0 * (1.0 - (1.0 - knots) ** exponent))


def overall_score(data: pd.DataFrame, signals: dict[str, str], curves: dict[str, list[float]],
                  signal_weights: dict[str, float], dimension_weights: dict[str, float]) -> np.ndarray:
    """The overall score of each row of ``data`` exactly as the SQL computes it (dimension
    scores and the overall score rounded half away from zero)."""
    names = list(signals)
    points = np.column_stack([signal_points(data, s, curves[s]) for s in names]) if names else np.empty((len(data), 0))
    dims = [d for d in DIMENSIONS if d in signals.values()]
    members = [np.array([i for i, s in enumerate(names) if signals[s] == d]) for d in dims]
    dim_w = np.array([dimension_weights.get(d, 0.0) for d in dims])
    sig_w = np.array([signal_weights.get(s, 0.0) for s in names])
    return _score_matrix(points, members, dim_w, sig_w, rounded=True)


def _score_matrix(points: np.ndarray, members: list[np.ndarray], dim_w: np.ndarray,
                  sig_w: np.ndarray, rounded: bool = False) -> np.ndarray:
    """The overall score (0-100) of each row of ``points`` (rows x signals, NaN = no
    evidence) as the SQL computes it: per dimension the weighted mean of its present signals
    (the macro renormalised_weighted_mean), then the weighted mean of the present dimensions,
    both re-normalised; a dimension or row whose present weights sum to 0 is null.
    ``rounded``: round each dimension and the result half away from zero, as the SQL does
    (left out while fitting, where the loss must be smooth)."""
    present = ~np.isnan(points)
    filled = np.nan_to_num(points)
    num = np.zeros(len(points))
    den = np.zeros(len(points))
    for d, idx in enumerate(members):
        w = sig_w[idx] * present[:, idx]
        total = w.sum(axis=1)
        has = total > 0
        dim = np.where(has, (filled[:, idx] * w).sum(axis=1) / np.where(has, total, 1.0), 0.0)
        if rounded:
            dim = np.floor(dim + 0.5)
        num += dim_w[d] * dim * has
        den += dim_w[d] * has
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return np.floor(score + 0.5) if rounded else score


def fit_weights(points: np.ndarray, dimension_of: list[str], label: np.ndarray,
                start_dimension_weights: dict[str, float]) -> tuple[dict[str, float], np.ndarray]:
    """Dimension weights and signal weights (within their dimension) that make the score,
    computed exactly as the SQL computes it (missing signals and dimensions left out, the
    weights re-normalised), predict churn best: the log-loss of a logistic function of the
    score, minimised over non-negative weights with scipy's L-BFGS-B from the defaults
    (equal signal weights, the dimension weights of health_dimensions.csv)."""
    from scipy.optimize import minimize

    dims = [d for d in DIMENSIONS if d in dimension_of]
    members = [np.array([i for i, dd in enumerate(dimension_of) if dd == d]) for d in dims]
    n_dim, n_sig = len(dims), points.shape[1]
    usable = ~np.isnan(_score_matrix(points, members, np.ones(n_dim), np.ones(n_sig)))
    points, label = points[usable], label[usable].astype(float)

    def unpack(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
        return theta[:n_dim], theta[n_dim:n_dim + n_sig], theta[-2], theta[-1]

    def loss(theta: np.ndarray) -> float:
        dim_w, sig_w, intercept, slope = unpack(theta)
        score = _score_matrix(points, members, dim_w, sig_w)
        score = np.where(np.isnan(score), 50.0, score)
        z = intercept + slope * (score - 50.0) / 10.0
        return float(np.mean(np.logaddexp(0.0, z) - label * z))

    base = np.log(label.mean() / (1 - label.mean()))
    theta0 = np.concatenate([[start_dimension_weights.get(d, 0.2) for d in dims], np.ones(n_sig), [base, -1.0]])
    bounds = [(0.0, None)] * (n_dim + n_sig) + [(None, None), (None, None)]
    fitted = minimize(loss, theta0, method="L-BFGS-B", bounds=bounds, options={"maxiter": 300})
    dim_w, sig_w, _, _ = unpack(fitted.x)
    total = dim_w.sum()
    dimension_weights = {d: float(w / total) if total > 0 else 1.0 / n_dim for d, w in zip(dims, dim_w)}
    for idx in members:  # signal weights as shares of their dimension
        share = sig_w[idx].sum()
        sig_w[idx] = sig_w[idx] / share if share > 0 else 0.0
    return dimension_weights, sig_w


# --------------------------------------------------------------------------- fit


def calibrate(
    warehouse: Path,
    *,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    warmup_days: int = DEFAULT_WARMUP_DAYS,
    label_delay_days: int = DEFAULT_LABEL_DELAY_DAYS,
    holdout_share: float = 0.5,
    default_exponent: float = 5.0,
    default_dimension_weights: dict[str, float] | None = None,
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
    if default_dimension_weights is None:
        default_dimension_weights = dimension_weights_in(warehouse)
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

    # Weights: fitted on the score exactly as the SQL computes it (fit_weights).
    usable = [s for s in signals if s not in result.signal_weights]
    if usable:
        points_train = np.column_stack([
            signal_points(train, s, result.curves[s]) for s in usable
        ])
        dimension_weights, weights = fit_weights(points_train, [signals[s] for s in usable], label,
                                                 default_dimension_weights or {})
        result.dimension_weights = {d: dimension_weights.get(d, 0.0) for d in DIMENSIONS if d in signals.values()}
        for s, w in zip(usable, weights):
            result.signal_weights[s] = float(w)
    else:
        result.dimension_weights = dict(default_dimension_weights or {})

    # No weight is exactly 0: a customer whose only evidence is a signal (or dimension) the
    # fit found useless must still get a score (the SQL's re-normalised means would be null).
    for dimension in DIMENSIONS:
        members = [s for s, d in signals.items() if d == dimension]
        if not members:
            continue
        floored = {s: max(result.signal_weights.get(s, 0.0), MIN_WEIGHT) for s in members}
        total = sum(floored.values())
        result.signal_weights.update({s: w / total for s, w in floored.items()})
    if result.dimension_weights:
        floored = {d: max(w, MIN_WEIGHT) for d, w in result.dimension_weights.items()}
        total = sum(floored.values())
        result.dimension_weights = {d: w / total for d, w in floored.items()}

    # Keep the fitted curves and weights only where they score the holdout better than the
    # defaults do; a fit that does not generalise leaves the score as it was.
    holdout_label = holdout["churned"].to_numpy()
    default_curves = {s: fallback for s in signals}
    default_signal_weights = {s: 1.0 for s in signals}
    default_dims = dict(default_dimension_weights or {})

    def holdout_auc(curves: dict, signal_weights: dict, dimension_weights: dict) -> float:
        score = overall_score(holdout, signals, curves, signal_weights, dimension_weights)
        score = np.where(np.isnan(score), np.nanmean(score), score)
        return roc_auc(-score, holdout_label)

    result.auc_before = holdout_auc(default_curves, default_signal_weights, default_dims)
    result.auc_after = holdout_auc(result.curves, result.signal_weights, result.dimension_weights)
    if result.auc_after <= result.auc_before:
        result.score_kept_defaults = True
        result.curves, result.signal_weights, result.dimension_weights = {}, {}, {}
        chosen = (default_curves, default_signal_weights, default_dims)
    else:
        chosen = (result.curves, result.signal_weights, result.dimension_weights)

    # the churn probability: logistic in the (chosen) score and log tenure
    score_train = overall_score(train, signals, *chosen)
    ok = ~np.isnan(score_train)
    x = np.column_stack([score_train[ok], np.log1p(train["tenure_days"].to_numpy(dtype=float)[ok])])
    model = LogisticRegression(C=1e4, max_iter=1000).fit(x, label[ok])
    result.probability = {
        "intercept": float(model.intercept_[0]),
        "health_score": float(model.coef_[0][0]),
        "log_tenure_days": float(model.coef_[0][1]),
    }
    score_holdout = overall_score(holdout, signals, *chosen)
    score_holdout = np.where(np.isnan(score_holdout), np.nanmean(score_holdout), score_holdout)
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
