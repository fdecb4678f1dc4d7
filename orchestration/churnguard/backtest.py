"""Backtest the health score as a churn predictor, without look-ahead.

For monthly cut-off dates (the first of each month), take every customer that is active
on the cut-off day (not churned, not in a subscription's grace period: a lapsed
subscription has already ended, so there is nothing left to predict) and its health
score *on that day*, and label it 1 when the warehouse recognised a churn dated within
the next ``horizon_days`` days (``int_customer_lifecycle_spells.churn_date``, the label a
real warehouse has too). The score of a day only uses data up to that day
(``marts.health_scores`` is built as known that day), so the backtest is honest.

Reported: ROC AUC, top-decile lift, precision and recall of the red tier and of red or
yellow, against two baselines: random (AUC 0.5, lift 1) and "days since the last
login" alone. Optionally, the warehouse's churn dates are compared with the
generator's ground truth (``_truth/churn_truth.csv``).

Cut-offs start ``warmup_days`` after the history start (the score's baselines need
history) and end ``horizon_days + label_delay_days`` before the as-of date, so that
every churn inside a cut-off's horizon has been recognised by the as-of date
(subscription churn is recognised after the 30-day grace gap).

Nothing here opens a connection at import time.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DEFAULT_HORIZON_DAYS = 90
DEFAULT_WARMUP_DAYS = 120
DEFAULT_LABEL_DELAY_DAYS = 30


class BacktestError(RuntimeError):
    """The warehouse cannot be backtested (missing models, no cut-offs, no churn)."""


# --------------------------------------------------------------------------- metrics


def roc_auc(risk: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve of ``risk`` (higher = more likely churn) for 0/1 labels.

    Mann-Whitney form with average ranks, so tied scores count one half (a constant
    score has AUC 0.5 exactly)."""
    risk = np.asarray(risk, dtype=float)
    label = np.asarray(label, dtype=int)
    positives = int(label.sum())
    negatives = int(label.size - positives)
    if positives == 0 or negatives == 0:
        raise BacktestError("AUC needs both churned and retained customers")
    ranks = pd.Series(risk).rank(method="average").to_numpy()
    return float((ranks[label == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def top_fraction_lift(risk: np.ndarray, label: np.ndarray, fraction: float = 0.1) -> float:
    """Churn rate among the ``fraction`` riskiest customers over the overall churn rate.

    Ties at the cut are shared proportionally (the expected value over random tie
    breaks), so integer scores with many ties give a well-defined lift."""
    risk = np.asarray(risk, dtype=float)
    label = np.asarray(label, dtype=int)
    n = risk.size
    base_rate = label.mean()
    if n == 0 or base_rate == 0:
        raise BacktestError("lift needs at least one churned customer")
    k = fraction * n
    order = np.argsort(-risk, kind="stable")
    sorted_risk, sorted_label = risk[order], label[order]
    # Walk the groups of equal risk from the riskiest down.
    taken = 0.0
    positives = 0.0
    start = 0
    while start < n and taken < k:
        end = start
        while end < n and sorted_risk[end] == sorted_risk[start]:
            end += 1
        size = end - start
        share = min(1.0, (k - taken) / size)
        positives += share * sorted_label[start:end].sum()
        taken += share * size
        start = end
    return float((positives / k) / base_rate)


def precision_recall(flag: np.ndarray, label: np.ndarray) -> tuple[float, float, float]:
    """(precision, recall, share flagged) of a 0/1 flag."""
    flag = np.asarray(flag, dtype=bool)
    label = np.asarray(label, dtype=int)
    flagged = int(flag.sum())
    precision = float(label[flag].mean()) if flagged else float("nan")
    recall = float(label[flag].sum() / label.sum()) if label.sum() else float("nan")
    return precision, recall, float(flagged / flag.size) if flag.size else float("nan")


# --------------------------------------------------------------------------- data


def _connect(warehouse: Path):
    """The configured engine's warehouse, read-only (`churnguard.warehouse_sql`)."""
    from churnguard import warehouse_sql

    if not warehouse_sql.warehouse_exists(warehouse):
        raise BacktestError(f"no warehouse at {warehouse}: run `churnguard run` or `churnguard build` first")
    try:
        con = warehouse_sql.open_connection(warehouse, read_only=True)
    except warehouse_sql.WarehouseUnavailableError as error:
        raise BacktestError(str(error)) from error
    if warehouse_sql.engine() == "duckdb":
        con.execute("set enable_progress_bar = false")
    return con


def load_frame(
    warehouse: Path,
    *,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    warmup_days: int = DEFAULT_WARMUP_DAYS,
    label_delay_days: int = DEFAULT_LABEL_DELAY_DAYS,
) -> pd.DataFrame:
    """One row per (cut-off, active customer): score, tier, baseline signal and label."""
    con = _connect(warehouse)
    try:
        from churnguard import warehouse_sql

        tables = {f"{schema}.{name}" for schema, name in warehouse_sql.tables(con)}
        for needed in ("marts.health_scores", "marts.fct_customer_day",
                       "intermediate.int_customer_lifecycle_spells", "utilities.util_date_bounds"):
            if needed not in tables:
                raise BacktestError(f"{warehouse} has no {needed}: build the health models first "
                                    "(`churnguard build --select +health_scores`)")
        frame = con.execute(
            """
            with bounds as (
                select history_start_date, as_of_date from utilities.util_date_bounds
            ),

            cutoffs as (
                select distinct calendar.month_start_date as cutoff_date
                from utilities.util_calendar as calendar
                cross join bounds
                where calendar.month_start_date >= bounds.history_start_date + cast(? as integer)
                    and calendar.month_start_date <= bounds.as_of_date - cast(? as integer)
            ),

            population as (
                select
                    cutoffs.cutoff_date,
                    scores.customer_id,
                    scores.churn_definition,
                    scores.health_score,
                    scores.health_tier,
                    scores.churn_probability,
                    scores.tenure_days,
                    facts.days_since_last_login,
                    facts.days_since_last_order,
                    facts.days_since_last_interaction,
                    facts.logins_7d,
                    facts.logins_28d,
                    facts.logins_90d,
                    facts.orders_90d,
                    facts.order_amount_90d,
                    facts.mrr,
                    facts.tickets_opened_90d,
                    facts.open_tickets,
                    facts.latest_nps_score,
                    facts.latest_csat_score
                from cutoffs
                inner join marts.health_scores as scores
                    on scores.date_day = cutoffs.cutoff_date
                inner join marts.fct_customer_day as facts
                    on facts.customer_id = scores.customer_id
                    and facts.date_day = scores.date_day
                where not scores.is_in_grace_period
            ),

            churns as (
                select customer_id, churn_date
                from intermediate.int_customer_lifecycle_spells
                where churn_date is not null
            ),

            labelled as (
                select
                    population.*,
                    churns.churn_date
                from population
                left join (
                    select population.cutoff_date, population.customer_id, min(churns.churn_date) as churn_date
                    from population
                    inner join churns
                        on churns.customer_id = population.customer_id
                        and churns.churn_date > population.cutoff_date
                        and churns.churn_date <= population.cutoff_date + cast(? as integer)
                    group by population.cutoff_date, population.customer_id
                ) as churns
                    on churns.cutoff_date = population.cutoff_date
                    and churns.customer_id = population.customer_id
            )

            select * from labelled
            order by cutoff_date, customer_id
            """,
            [warmup_days, horizon_days + label_delay_days, horizon_days],
        ).df()
    finally:
        con.close()
    if frame.empty:
        raise BacktestError(
            f"no cut-off dates: the history must span at least warmup ({warmup_days}) + horizon "
            f"({horizon_days}) + label delay ({label_delay_days}) days"
        )
    frame["churned"] = frame["churn_date"].notna().astype(int)
    return frame


# --------------------------------------------------------------------------- result

# Simple signals a data team would try first, each with the direction in which it means
# risk (+1: more is riskier). Missing values (never logged in, never ordered) are the
# riskiest end of "days since" and zero of counts.
BASELINE_SIGNALS: dict[str, tuple[str, int]] = {
    "days since last order": ("days_since_last_order", +1),
    "orders in 90 days": ("orders_90d", -1),
    "logins/events in 28 days": ("logins_28d", -1),
    "days since last login": ("days_since_last_login", +1),
    "tenure": ("tenure_days", -1),
}
# The ceiling: a gradient-boosting model fitted on these activity counts (the baselines'
# signals and a few more raw counts), on the earlier cut-offs, scored on the later ones.
CEILING_FEATURES = (
    "days_since_last_order", "orders_90d", "order_amount_90d", "logins_7d", "logins_28d", "logins_90d",
    "days_since_last_login", "days_since_last_interaction", "tenure_days", "mrr", "tickets_opened_90d",
    "open_tickets", "latest_nps_score", "latest_csat_score",
)


@dataclass
class Scorecard:
    name: str
    auc: float
    top_decile_lift: float


@dataclass
class BacktestResult:
    warehouse: str
    horizon_days: int
    cutoffs: list[str]
    customers: int
    customer_days: int
    churned: int
    churn_rate: float
    health_score: Scorecard
    baselines: list[Scorecard]
    red_precision: float
    red_recall: float
    red_share: float
    red_yellow_precision: float
    red_yellow_recall: float
    red_yellow_share: float
    auc_by_churn_definition: dict[str, float] = field(default_factory=dict)
    churn_probability: Scorecard | None = None
    ceiling: Scorecard | None = None
    best_single_signal: Scorecard | None = None
    share_of_ceiling: float | None = None
    train_cutoffs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    truth_agreement: dict[str, Any] | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self) -> str:
        """A short Markdown report."""
        lines = [
            f"Backtest of the health score, horizon {self.horizon_days} days",
            f"  warehouse: {self.warehouse}",
            f"  holdout: {len(self.cutoffs)} monthly cut-offs {self.cutoffs[0]} .. {self.cutoffs[-1]}; "
            f"{self.customer_days:,} customer-cut-offs of {self.customers:,} customers; "
            f"{self.churned:,} churned within the horizon ({self.churn_rate:.1%})",
        ]
        if self.train_cutoffs:
            lines.append(f"  the ceiling model was fitted on {len(self.train_cutoffs)} earlier cut-offs "
                         f"{self.train_cutoffs[0]} .. {self.train_cutoffs[-1]} (labels end before the holdout)")
        lines += ["", "| predictor | ROC AUC | top-decile lift |", "|---|---|---|"]
        cards = [self.health_score]
        if self.churn_probability is not None:
            cards.append(self.churn_probability)
        cards += self.baselines
        if self.ceiling is not None:
            cards.append(self.ceiling)
        for card in cards:
            lines.append(f"| {card.name} | {card.auc:.3f} | {card.top_decile_lift:.2f} |")
        if self.share_of_ceiling is not None:
            lines += ["", f"Health score AUC as a share of the ceiling: {self.share_of_ceiling:.1%}"]
        lines += [
            "",
            "| alert | share of customers | precision | recall |",
            "|---|---|---|---|",
            f"| red (score < 60) | {self.red_share:.1%} | {self.red_precision:.1%} | {self.red_recall:.1%} |",
            f"| red or yellow (score <= 75) | {self.red_yellow_share:.1%} | {self.red_yellow_precision:.1%} "
            f"| {self.red_yellow_recall:.1%} |",
        ]
        if self.auc_by_churn_definition:
            lines += ["", "ROC AUC by churn definition: " + ", ".join(
                f"{name} {value:.3f}" for name, value in sorted(self.auc_by_churn_definition.items()))]
        if self.truth_agreement:
            t = self.truth_agreement
            lines += ["", f"Ground truth: {t['warehouse_churns_matching_truth']:.1%} of the warehouse's churn dates "
                          f"match the generator's truth ({t['warehouse_churns']:,} churns; "
                          f"{t['truth_churns_observed']:,} observed in the truth)"]
        for warning in self.warnings:
            lines += ["", f"WARNING: {warning}"]
        lines.append(f"\n({self.seconds:.1f}s)")
        return "\n".join(lines)


def truth_agreement(warehouse: Path, truth_path: Path) -> dict[str, Any]:
    """How many of the warehouse's churn dates match the generator's answer key."""
    truth = pd.read_csv(truth_path, dtype=str, keep_default_na=False)
    truth = truth[(truth["churn_number"] != "0") & (truth["churn_observed"] == "true")]
    con = _connect(warehouse)
    try:
        churns = con.execute(
            "select customer_id, cast(churn_date as varchar) as churn_date "
            "from intermediate.int_customer_lifecycle_spells where churn_date is not null"
        ).df()
    finally:
        con.close()
    truth_pairs = set(zip(truth["customer_id"], truth["churned_on"]))
    warehouse_pairs = set(zip(churns["customer_id"], churns["churn_date"]))
    matching = len(truth_pairs & warehouse_pairs)
    return {
        "warehouse_churns": len(warehouse_pairs),
        "truth_churns_observed": len(truth_pairs),
        "matching": matching,
        "warehouse_churns_matching_truth": matching / len(warehouse_pairs) if warehouse_pairs else float("nan"),
        "truth_churns_found": matching / len(truth_pairs) if truth_pairs else float("nan"),
    }


def split_cutoffs(cutoffs: list, horizon_days: int, holdout_share: float = 0.5) -> tuple[list, list]:
    """(train, holdout) cut-offs in time order: the holdout is the later ``holdout_share``;
    train keeps only cut-offs whose label window (cut-off + horizon) ends by the holdout's
    first day, so nothing fitted on train has seen an outcome of the holdout period."""
    cutoffs = sorted(pd.Timestamp(c) for c in set(cutoffs))
    if len(cutoffs) < 2:
        return [], cutoffs
    first_holdout = cutoffs[min(len(cutoffs) - 1, max(1, int(round(len(cutoffs) * (1 - holdout_share)))))]
    holdout = [c for c in cutoffs if c >= first_holdout]
    train = [c for c in cutoffs if c + pd.Timedelta(days=horizon_days) <= first_holdout]
    return train, holdout


def signal_risk(frame: pd.DataFrame, column: str, direction: int) -> np.ndarray:
    """A baseline signal as a risk (higher = riskier); missing counts as the riskiest
    "days since" (never happened) or as zero of a count."""
    values = frame[column].astype(float)
    if direction > 0:
        top = values.max() if values.notna().any() else 0.0
        values = values.fillna(top + 1)
    else:
        values = values.fillna(0.0)
    return direction * values.to_numpy(dtype=float)


def fit_ceiling(train: pd.DataFrame, test: pd.DataFrame, seed: int = 0) -> np.ndarray | None:
    """Churn risk of ``test`` from a gradient-boosting model fitted on ``train`` (None when
    train has too few churns to fit)."""
    if len(train) < 200 or train["churned"].sum() < 20 or train["churned"].sum() == len(train):
        return None
    from sklearn.ensemble import HistGradientBoostingClassifier

    # an export without logins (or tickets, surveys...) has all-missing or constant columns
    features = [c for c in CEILING_FEATURES
                if c in train.columns and train[c].astype(float).nunique(dropna=True) > 1]
    if not features:
        return None
    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15,
                                           min_samples_leaf=40, l2_regularization=1.0, random_state=seed)
    model.fit(train[features].astype(float), train["churned"])
    return model.predict_proba(test[features].astype(float))[:, 1]


def evaluate(frame: pd.DataFrame, *, warehouse: str = "", horizon_days: int = DEFAULT_HORIZON_DAYS,
             seed: int = 0, holdout_share: float = 0.5) -> BacktestResult:
    """Metrics of a frame from :func:`load_frame` on the holdout (later) cut-offs; the
    ceiling model is fitted on the earlier ones. With ``holdout_share`` 1 every cut-off is
    evaluated and there is no ceiling."""
    train_cutoffs, holdout_cutoffs = (
        split_cutoffs(list(frame["cutoff_date"]), horizon_days, holdout_share) if holdout_share < 1
        else ([], sorted(pd.Timestamp(c) for c in set(frame["cutoff_date"])))
    )
    cut = pd.to_datetime(frame["cutoff_date"])
    train = frame[cut.isin(train_cutoffs)]
    frame = frame[cut.isin(holdout_cutoffs)].reset_index(drop=True)
    label = frame["churned"].to_numpy()
    if label.sum() == 0 or label.sum() == len(label):
        raise BacktestError("the holdout cut-offs need both churned and retained customers")
    risk = -frame["health_score"].to_numpy(dtype=float)
    random_risk = np.random.default_rng(seed).random(len(frame))
    red = frame["health_tier"].eq("red").to_numpy()
    red_yellow = frame["health_tier"].isin(["red", "yellow"]).to_numpy()
    red_p, red_r, red_s = precision_recall(red, label)
    ry_p, ry_r, ry_s = precision_recall(red_yellow, label)
    by_definition = {}
    for name, group in frame.groupby("churn_definition"):
        if 0 < group["churned"].sum() < len(group):
            by_definition[str(name)] = roc_auc(-group["health_score"].to_numpy(dtype=float),
                                               group["churned"].to_numpy())
    baselines = [Scorecard("random (seeded draw)", roc_auc(random_risk, label), top_fraction_lift(random_risk, label))]
    for name, (column, direction) in BASELINE_SIGNALS.items():
        if column in frame.columns:
            values = signal_risk(frame, column, direction)
            baselines.append(Scorecard(name, roc_auc(values, label), top_fraction_lift(values, label)))
    singles = [card for card in baselines[1:]]
    best = max(singles, key=lambda card: card.auc) if singles else None
    score_card = Scorecard("health score", roc_auc(risk, label), top_fraction_lift(risk, label))
    probability_card = None
    if "churn_probability" in frame.columns and frame["churn_probability"].notna().all():
        probability = frame["churn_probability"].to_numpy(dtype=float)
        probability_card = Scorecard("churn probability (calibrated)", roc_auc(probability, label),
                                     top_fraction_lift(probability, label))
    ceiling_card = None
    ceiling_risk = fit_ceiling(train, frame, seed) if len(train) else None
    if ceiling_risk is not None:
        ceiling_card = Scorecard("ceiling: gradient boosting on activity counts", roc_auc(ceiling_risk, label),
                                 top_fraction_lift(ceiling_risk, label))
    warnings = []
    if best is not None and best.auc > score_card.auc:
        warnings.append(f"a single signal beats the health score: {best.name} (AUC {best.auc:.3f} vs "
                        f"{score_card.auc:.3f}); calibrate the score (`churnguard calibrate`) or review the signals")
    share = None
    if ceiling_card is not None and ceiling_card.auc > 0.5:
        share = score_card.auc / ceiling_card.auc
        if share < 0.95:
            warnings.append(f"the health score reaches {share:.1%} of the fitted ceiling's AUC "
                            f"({score_card.auc:.3f} vs {ceiling_card.auc:.3f})")
    return BacktestResult(
        warehouse=warehouse,
        horizon_days=horizon_days,
        cutoffs=[str(c)[:10] for c in holdout_cutoffs],
        customers=int(frame["customer_id"].nunique()),
        customer_days=int(len(frame)),
        churned=int(label.sum()),
        churn_rate=float(label.mean()),
        health_score=score_card,
        baselines=baselines,
        red_precision=red_p, red_recall=red_r, red_share=red_s,
        red_yellow_precision=ry_p, red_yellow_recall=ry_r, red_yellow_share=ry_s,
        auc_by_churn_definition=by_definition,
        churn_probability=probability_card,
        ceiling=ceiling_card,
        best_single_signal=best,
        share_of_ceiling=share,
        train_cutoffs=[str(c)[:10] for c in train_cutoffs],
        warnings=warnings,
    )


def run_backtest(
    warehouse: Path,
    *,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    warmup_days: int = DEFAULT_WARMUP_DAYS,
    label_delay_days: int = DEFAULT_LABEL_DELAY_DAYS,
    truth_path: Path | None = None,
) -> BacktestResult:
    """Load the cut-off frame from ``warehouse`` and evaluate it."""
    started = time.perf_counter()
    frame = load_frame(warehouse, horizon_days=horizon_days, warmup_days=warmup_days,
                       label_delay_days=label_delay_days)
    if frame["churned"].sum() == 0:
        raise BacktestError("no customer churned within the horizon of any cut-off: nothing to predict")
    result = evaluate(frame, warehouse=str(warehouse), horizon_days=horizon_days)
    if truth_path is not None:
        result.truth_agreement = truth_agreement(warehouse, truth_path)
    result.seconds = time.perf_counter() - started
    return result


def write_json(result: BacktestResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
