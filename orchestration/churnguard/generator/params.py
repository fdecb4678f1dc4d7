"""Tunable parameters of the simulated world, with their defaults.

Segment-indexed tuples follow ``SEGMENTS`` order: (enterprise, mid_market, smb).
"""

from __future__ import annotations

from dataclasses import dataclass

SEGMENTS = ("enterprise", "mid_market", "smb")
BUSINESS_MODELS = ("subscription", "activity", "order")
REGIONS = ("NA", "EMEA", "APAC", "LATAM")
REGION_UTC_OFFSET_H = (-5, 1, 8, -3)


@dataclass(frozen=True)
class GeneratorParams:
    # --- population
    segment_shares: tuple[float, float, float] = (0.03, 0.17, 0.80)
    # P(subscription, activity, order) per segment
    business_model_shares: tuple[tuple[float, float, float], ...] = (
        (0.97, 0.03, 0.00),
        (0.85, 0.05, 0.10),
        (0.78, 0.11, 0.11),
    )
    region_shares: tuple[float, float, float, float] = (0.45, 0.33, 0.14, 0.08)
    existing_share: float = 0.65  # customers who already exist at the window start
    max_history_days: int = 3 * 365  # how far back pre-existing accounts were created
    signup_skew: float = 1.25  # >1: more in-window signups early than late

    # --- churn process
    monthly_churn_rate: float = 0.02  # baseline churn hazard, average customer (B2B SaaS: 1-3 %)
    segment_churn_multiplier: tuple[float, float, float] = (0.4, 0.7, 1.1)
    sudden_churn_share: float = 0.20  # churners who leave with little warning
    # churn hazard multiplier while tenure < young_tenure_days (1.0: churn does not depend on tenure)
    young_churn_multiplier: float = 1.0
    young_tenure_days: int = 180
    decline_weeks: tuple[int, int] = (3, 16)  # build-up of a gradual churn
    noise_dip_ratio: float = 0.6  # harmless dips per churn (false-alarm material)
    reactivation_share: float = 0.15  # churners who come back after the grace gap
    grace_lapse_per_year: float = 0.05  # subscription lapses that return within the grace gap
    pause_per_year: float = 0.05  # activity/order customers that pause below the churn threshold
    # interventions
    intervention_prob: tuple[float, float, float] = (0.85, 0.60, 0.30)
    churn_without_intervention: float = 0.70  # an at-risk episode nobody acts on ends in churn
    churn_after_failed_intervention: float = 0.85

    # --- products and money
    annual_share: tuple[float, float, float] = (0.85, 0.55, 0.20)
    mrr_median: tuple[float, float, float] = (8000.0, 1800.0, 180.0)
    mrr_sigma: tuple[float, float, float] = (0.6, 0.7, 0.75)
    plan_changes_per_year: float = 0.30
    # monthly subscribers who move to annual billing (a longer commitment at a discount), per year
    annual_switch_per_year: float = 0.0
    annual_switch_discount: tuple[float, float] = (0.15, 0.25)  # MRR discount range of the annual plan
    autopay_share: tuple[float, float, float] = (0.0, 0.15, 0.60)
    addon_buyer_share: float = 0.20

    # --- behaviour
    logins_per_user_day: float = 0.30  # x seats**0.8; SMB ~4 logins a week when healthy
    login_sigma: float = 0.30  # lognormal spread of a customer's usage level around its segment's
    outbound_per_weekday: tuple[float, float, float] = (0.35, 0.15, 0.05)
    inbound_per_weekday: tuple[float, float, float] = (0.25, 0.10, 0.03)
    tickets_per_day: tuple[float, float, float] = (0.15, 0.05, 0.015)
    orders_per_day: tuple[float, float, float] = (0.25, 0.12, 0.08)
    order_rate_sigma: float = 0.30  # lognormal spread of a customer's order rate
    order_rate_floor: float = 0.70  # lower bound of that lognormal factor (0: no floor)
    # bursty purchase rhythm: a gamma "shopping mood" (mean 1, shape k) multiplies the order rate and is
    # redrawn on average every order_burst_days days; 0 = off (steady Poisson orders)
    order_burst_shape: float = 0.0
    order_burst_days: float = 21.0
    order_amount_median: tuple[float, float, float] = (6000.0, 1500.0, 250.0)
    csat_response_share: float = 0.35
    nps_response_share: float = 0.30
    nps_interval_days: int = 91

    # --- export
    late_sync_share: float = 0.03  # rows that reach the export 1-5 days after the event

    def churn_hazard_per_day(self) -> tuple[float, ...]:
        import math

        base = -math.log(1.0 - self.monthly_churn_rate) / 30.4375
        return tuple(base * m for m in self.segment_churn_multiplier)
