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
    import duckdb

    if not Path(warehouse).exists():
        raise BacktestError(f"no warehouse at {warehouse}: run `churnguard run` or `churnguard build` first")
    con = duckdb.connect(str(warehouse), read_only=True)
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
        tables = {row[0] for row in con.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
        ).fetchall()}
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
                    facts.days_since_last_login
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
                    min(churns.churn_date) as churn_date
                from population
                left join churns
                    on churns.customer_id = population.customer_id
                    and churns.churn_date > population.cutoff_date
                    and churns.churn_date <= population.cutoff_date + cast(? as integer)
                group by
                    population.cutoff_date, population.customer_id, population.churn_definition,
                    population.health_score, population.health_tier, population.days_since_last_login
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
    truth_agreement: dict[str, Any] | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self) -> str:
        """A short Markdown report."""
        lines = [
            f"Backtest of the health score, horizon {self.horizon_days} days",
            f"  warehouse: {self.warehouse}",
            f"  {len(self.cutoffs)} monthly cut-offs {self.cutoffs[0]} .. {self.cutoffs[-1]}; "
            f"{self.customer_days:,} customer-cut-offs of {self.customers:,} customers; "
            f"{self.churned:,} churned within the horizon ({self.churn_rate:.1%})",
            "",
            "| predictor | ROC AUC | top-decile lift |",
            "|---|---|---|",
        ]
        for card in [self.health_score, *self.baselines]:
            lines.append(f"| {card.name} | {card.auc:.3f} | {card.top_decile_lift:.2f} |")
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


def evaluate(frame: pd.DataFrame, *, warehouse: str = "", horizon_days: int = DEFAULT_HORIZON_DAYS,
             seed: int = 0) -> BacktestResult:
    """Metrics of a frame from :func:`load_frame`."""
    label = frame["churned"].to_numpy()
    risk = -frame["health_score"].to_numpy(dtype=float)
    never = frame["days_since_last_login"].isna()
    # A customer that never logged in is the most inactive of all.
    login_risk = frame["days_since_last_login"].fillna(
        (frame["days_since_last_login"].max() if not never.all() else 0) + 1
    ).to_numpy(dtype=float)
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
    return BacktestResult(
        warehouse=warehouse,
        horizon_days=horizon_days,
        cutoffs=sorted({str(d)[:10] for d in frame["cutoff_date"]}),
        customers=int(frame["customer_id"].nunique()),
        customer_days=int(len(frame)),
        churned=int(label.sum()),
        churn_rate=float(label.mean()),
        health_score=Scorecard("health score", roc_auc(risk, label), top_fraction_lift(risk, label)),
        baselines=[
            Scorecard("random (seeded draw)", roc_auc(random_risk, label), top_fraction_lift(random_risk, label)),
            Scorecard("days since last login", roc_auc(login_risk, label), top_fraction_lift(login_risk, label)),
        ],
        red_precision=red_p, red_recall=red_r, red_share=red_s,
        red_yellow_precision=ry_p, red_yellow_recall=ry_r, red_yellow_share=ry_s,
        auc_by_churn_definition=by_definition,
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
