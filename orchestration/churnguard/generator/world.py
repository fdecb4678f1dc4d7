"""The simulated world: customers, the vendor's staff, contacts, and each customer's life story.

A customer's life story is a short sequence of *events* (at most ``K`` slots per
customer) drawn from competing hazards:

- ``sudden_churn``: leaves with little warning (at most a small dip in the last 1-2 weeks);
- an *at-risk episode*: health declines over 3-16 weeks; the account manager may run an
  intervention; the episode ends as ``gradual_churn``, ``saved`` (the intervention
  worked) or ``recovered`` (the customer got better on its own);
- ``noise_dip``: a short, shallow dip that heals by itself (false-alarm material);
- ``grace_lapse`` (subscription): service lapses at a billing boundary and a new
  subscription starts 1-28 days later (not churn under the 30-day grace gap);
- ``pause`` (activity/order): a quiet spell shorter than the churn threshold.

A churn may be followed by a reactivation after more than the grace gap. The latent
daily health of a customer is the product of the event profiles, a customer-specific
base level and slowly varying AR(1) noise; every observable signal is driven by it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .clock import NEVER, Window, next_boundary, working_seconds
from .params import REGION_UTC_OFFSET_H, GeneratorParams

ENT, MID, SMB = 0, 1, 2
SUB, ACT, ORD = 0, 1, 2

# event types
NONE, SUDDEN, GRADUAL, RECOVER, SAVED, NOISE, LAPSE, PAUSE = range(8)
EVENT_NAMES = ("none", "sudden_churn", "gradual_churn", "recovered", "saved", "noise_dip", "grace_lapse", "pause")
CHURN_TYPES = (SUDDEN, GRADUAL)
# service-off interval kinds
OFF_NONE, OFF_CHURN, OFF_GAP = 0, 1, 2
# intervention outcomes, as in contract.INTERVENTION_OUTCOMES
O_PENDING, O_SAVED, O_CHURNED, O_NO_RESPONSE = range(4)
# playbooks, as in contract.PLAYBOOKS
PB_EXEC, PB_VIP, PB_ROI, PB_NURTURE, PB_RENEWAL, PB_ONBOARD, PB_SUPPORT = range(7)
PLAYBOOK_SUCCESS = np.array([0.65, 0.55, 0.40, 0.25, 0.55, 0.50, 0.50])
# ticket categories, as in contract.TICKET_CATEGORIES
CATEGORIES = ("billing", "bug", "how_to", "integration", "performance", "access", "feature_request")
CATEGORY_BASE_P = np.array([0.10, 0.20, 0.30, 0.10, 0.08, 0.12, 0.10])
PROBLEM_CATEGORIES = np.array([0, 1, 3, 4, 5])  # what a struggling customer keeps raising

K = 4  # event slots per customer
HORIZON = 200  # days simulated beyond the window end (declines that straddle the export)
HIGH_VALUE_MRR_CENTS = 833_400  # annual revenue >= 100,000


@dataclass
class Customers:
    n: int
    seg: np.ndarray
    bm: np.ndarray
    region: np.ndarray  # -1 = unknown
    tz: np.ndarray  # UTC offset hours of the customer's office hours
    industry: np.ndarray  # -1 = unknown
    existing: np.ndarray  # created before the window start
    created_day: np.ndarray
    created_sec: np.ndarray
    seats: np.ndarray
    pu_base: np.ndarray  # first global product-user number of the account
    login_base: np.ndarray  # healthy logins per day (weekly average)
    resp: np.ndarray  # how readily the customer answers outreach
    base_health: np.ndarray
    annual: np.ndarray
    mrr0: np.ndarray  # MRR (cents, whole dollars) when the account started
    autopay: np.ndarray
    net_days: np.ndarray
    addon: np.ndarray
    order_rate: np.ndarray
    order_amount: np.ndarray  # median order, dollars
    dom_category: np.ndarray
    high_value: np.ndarray
    owner: np.ndarray = field(default=None)  # user index
    csm: np.ndarray = field(default=None)  # user index or -1


def build_customers(rng: np.random.Generator, n: int, w: Window, p: GeneratorParams) -> Customers:
    seg = rng.choice(3, n, p=np.array(p.segment_shares) / sum(p.segment_shares)).astype(np.int64)
    bm_p = np.array(p.business_model_shares)
    bm_p = bm_p / bm_p.sum(1, keepdims=True)
    u = rng.random(n)
    cum = np.cumsum(bm_p[seg], axis=1)
    bm = (u[:, None] >= cum[:, :-1]).sum(1).astype(np.int64)
    region = rng.choice(4, n, p=np.array(p.region_shares) / sum(p.region_shares)).astype(np.int64)
    tz = np.array(REGION_UTC_OFFSET_H)[region]
    region = np.where(rng.random(n) < 0.01, -1, region)
    industry = rng.integers(0, 12, n)
    industry = np.where(rng.random(n) < 0.03, -1, industry)

    existing = rng.random(n) < p.existing_share
    hist = rng.integers(1, p.max_history_days + 1, n)
    new_day = np.floor(w.days * rng.random(n) ** p.signup_skew).astype(np.int64)
    created_day = np.where(existing, -hist, np.minimum(new_day, w.days - 1))
    created_sec = w.day_sec(created_day) + working_seconds(rng, n, tz)

    seats = np.select([seg == ENT, seg == MID], [10 + rng.poisson(30, n), 3 + rng.poisson(6, n)],
                      1 + np.minimum(rng.poisson(1.5, n), 9))
    pu_base = np.concatenate([[0], np.cumsum(seats)[:-1]]) + 1
    login_base = p.logins_per_user_day * seats ** 0.8 * rng.lognormal(0.0, p.login_sigma, n)
    resp = rng.uniform(0.75, 1.0, n)
    base_health = rng.uniform(0.82, 1.0, n)

    annual = rng.random(n) < np.array(p.annual_share)[seg]
    mrr = rng.lognormal(np.log(np.array(p.mrr_median)[seg]), np.array(p.mrr_sigma)[seg])
    mrr0 = np.maximum(np.round(mrr), 29).astype(np.int64) * 100
    autopay = rng.random(n) < np.array(p.autopay_share)[seg]
    net_days = np.select([seg == ENT, seg == MID], [np.where(rng.random(n) < 0.6, 30, 45),
                                                    np.where(rng.random(n) < 0.7, 30, 14)], 14)
    net_days = np.where(autopay, 0, net_days)
    addon = (bm == SUB) & (rng.random(n) < p.addon_buyer_share)
    order_rate = np.array(p.orders_per_day)[seg] * np.maximum(rng.lognormal(0.0, p.order_rate_sigma, n),
                                                              p.order_rate_floor)
    order_amount = np.array(p.order_amount_median)[seg] * rng.lognormal(0.0, 0.4, n)
    dom_category = PROBLEM_CATEGORIES[rng.integers(0, len(PROBLEM_CATEGORIES), n)]
    high_value = np.where(bm == SUB, mrr0 >= HIGH_VALUE_MRR_CENTS,
                          np.where(bm == ORD, order_rate * 365 * order_amount >= 100_000, False))
    return Customers(n=n, seg=seg, bm=bm, region=region, tz=tz, industry=industry, existing=existing,
                     created_day=created_day, created_sec=created_sec, seats=seats, pu_base=pu_base,
                     login_base=login_base, resp=resp, base_health=base_health, annual=annual, mrr0=mrr0,
                     autopay=autopay, net_days=net_days, addon=addon, order_rate=order_rate,
                     order_amount=order_amount, dom_category=dom_category, high_value=high_value)


# ---------------------------------------------------------------------------- staff
ROLE_AM, ROLE_CSM, ROLE_SL = 0, 1, 2  # contract.USER_ROLES order


@dataclass
class Users:
    n: int
    role: np.ndarray
    manager: np.ndarray  # -1 = none
    is_active: np.ndarray
    first: np.ndarray
    last: np.ndarray
    left_day: np.ndarray  # day the user left (NEVER if active)


def build_users(rng: np.random.Generator, cu: Customers, w: Window) -> Users:
    """Vendor staff: a VP (sales lead without manager), sales leads, a head of CS, CSMs, AMs.

    About one account manager per 50 customers (at least 3), one CSM per 30 enterprise
    and mid-market customers (at least 2), one sales lead per 6 AMs (at least 2), plus a
    few former employees (inactive, owning nothing). Accounts get an active AM as owner;
    enterprise and mid-market accounts also get a CSM.
    """
    n_am = max(3, round(cu.n / 50))
    n_big = int((cu.seg != SMB).sum())
    n_csm = max(2, -(-n_big // 30))
    n_sl = max(2, -(-n_am // 6))
    n_gone = max(1, round(0.08 * (n_am + n_csm + n_sl)))
    roles, managers = [], []
    # 0: VP sales (a sales lead at the top); 1..n_sl-1: sales leads; then head of CS, CSMs, AMs, leavers
    roles.append(ROLE_SL); managers.append(-1)
    for _ in range(n_sl - 1):
        roles.append(ROLE_SL); managers.append(0)
    head_cs = len(roles)
    roles.append(ROLE_CSM); managers.append(0)
    csm_ids = list(range(len(roles), len(roles) + n_csm - 1)) or [head_cs]
    for _ in range(n_csm - 1):
        roles.append(ROLE_CSM); managers.append(head_cs)
    csm_ids = [head_cs] + [i for i in csm_ids if i != head_cs]
    leads = list(range(1, n_sl))
    am_first = len(roles)
    for i in range(n_am):
        roles.append(ROLE_AM); managers.append(leads[i % len(leads)])
    am_ids = np.arange(am_first, am_first + n_am)
    gone_first = len(roles)
    for i in range(n_gone):
        r = [ROLE_AM, ROLE_CSM, ROLE_AM][i % 3]
        roles.append(r); managers.append(leads[i % len(leads)] if r == ROLE_AM else head_cs)
    n = len(roles)
    is_active = np.ones(n, dtype=bool)
    is_active[gone_first:] = False
    left_day = np.full(n, NEVER, dtype=np.int64)
    left_day[gone_first:] = rng.integers(-300, max(2, w.days), n - gone_first)
    users = Users(n=n, role=np.array(roles), manager=np.array(managers), is_active=is_active,
                  first=rng.integers(0, 60, n), last=rng.integers(0, 60, n), left_day=left_day)
    cu.owner = am_ids[rng.integers(0, n_am, cu.n)]
    csm_arr = np.array(csm_ids)
    cu.csm = np.where(cu.seg != SMB, csm_arr[rng.integers(0, len(csm_arr), cu.n)], -1)
    return users


# ------------------------------------------------------------------------ lifecycle
@dataclass
class Lifecycle:
    """Event slots (arrays of shape (n, K)) and derived helpers."""

    typ: np.ndarray
    a: np.ndarray  # decline start
    t: np.ndarray  # trough (dips) / churn day (churns)
    c: np.ndarray  # recovery complete
    depth: np.ndarray
    shape: np.ndarray
    off_a: np.ndarray  # first day without service
    off_b: np.ndarray  # first day with service again (NEVER: no return)
    off_kind: np.ndarray
    renew_bnd: np.ndarray  # annual churn: the renewal boundary (service may run past it)
    step_after: np.ndarray  # billing step of the subscription after a return
    itv: np.ndarray  # an intervention was run for this event
    playbook: np.ndarray
    outcome: np.ndarray
    open_day: np.ndarray  # float day
    sol_day: np.ndarray  # float day (NaN: no solution planned)
    outcome_day: np.ndarray
    dm_change: np.ndarray  # forced decision-maker change day (NEVER: none)
    switch_day: np.ndarray = field(default=None)  # (n,) monthly -> annual billing switch day (NEVER: none)
    # precomputed float views for the daily health
    _af: np.ndarray = field(default=None, repr=False)
    _tf: np.ndarray = field(default=None, repr=False)
    _cf: np.ndarray = field(default=None, repr=False)

    def __post_init__(self):
        self._af = self.a.astype(np.float64)
        self._tf = self.t.astype(np.float64)
        self._cf = self.c.astype(np.float64)

    def event_factor(self, d: int) -> np.ndarray:
        """Product over event slots of the health multiplier on day ``d`` (shape (n,))."""
        a, t, c = self._af, self._tf, self._cf
        x_dec = np.clip((d - a) / np.maximum(t - a, 1.0), 0.0, 1.0)
        dec = 1.0 - self.depth * x_dec ** self.shape
        x_rec = np.clip((d - t) / np.maximum(c - t, 1.0), 0.0, 1.0)
        rec = 1.0 - self.depth * (1.0 - x_rec)
        f = np.where(d < a, 1.0, np.where(d < t, dec, np.where(d < c, rec, 1.0)))
        return f.prod(axis=1)

    def off_today(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        """(churned-off, any-off) masks for day ``d``.

        Service resumes the day *after* a return (``off_b``), like it starts the day after
        signup: the new subscription is created during the return day.
        """
        inside = (self.off_a <= d) & (d <= self.off_b)
        return (inside & (self.off_kind == OFF_CHURN)).any(1), inside.any(1)

    def service_on(self, cust: np.ndarray, day: np.ndarray, created_day: np.ndarray) -> np.ndarray:
        """Service active for (customer, day) pairs: started and not inside any off interval."""
        day = np.asarray(day)[:, None]
        inside = (self.off_a[cust] <= day) & (day <= self.off_b[cust])
        return (~inside.any(1)) & (np.asarray(day)[:, 0] > created_day[cust])

    def alive_on(self, cust: np.ndarray, day: np.ndarray, created_day: np.ndarray) -> np.ndarray:
        """Customer relationship alive (started, not churned) for (customer, day) pairs."""
        day = np.asarray(day)[:, None]
        inside = (self.off_a[cust] <= day) & (day <= self.off_b[cust]) & (self.off_kind[cust] == OFF_CHURN)
        return (~inside.any(1)) & (np.asarray(day)[:, 0] > created_day[cust])


def _choose_playbook(rng, cu: Customers, tenure: np.ndarray, renewal_soon: np.ndarray) -> np.ndarray:
    n = cu.n
    u = rng.random(n)
    smb = np.where(u < 0.55, PB_NURTURE, PB_ROI)
    mid = np.select([u < 0.4, u < 0.7], [PB_ROI, PB_SUPPORT], PB_RENEWAL)
    ent = np.select([u < 0.5, u < 0.7, u < 0.85], [PB_EXEC, PB_VIP, PB_SUPPORT], PB_RENEWAL)
    pb = np.select([cu.seg == ENT, cu.seg == MID], [ent, mid], smb)
    v = rng.random(n)
    pb = np.where((tenure < 180) & (v < 0.6), PB_ONBOARD, pb)
    pb = np.where(renewal_soon & (v < 0.5), PB_RENEWAL, pb)
    pb = np.where(cu.high_value & (rng.random(n) < 0.7), PB_EXEC, pb)
    return pb


def _annual_switch_days(mech: np.random.Generator | None, cu: Customers, w: Window, p: GeneratorParams) -> np.ndarray:
    """Day a monthly subscriber moves to annual billing (a monthly boundary inside the window), else NEVER.

    The switch is drawn independently of the customer's health and churn events: a longer
    commitment at a discount, not a risk signal. It only happens in the first service epoch
    (``simulate_lifecycle`` drops a switch that an earlier lapse or churn pre-empts).
    """
    none = np.full(cu.n, NEVER, dtype=np.int64)
    if p.annual_switch_per_year <= 0 or mech is None:
        return none
    monthly = (cu.bm == SUB) & ~cu.annual
    # earliest after a first month; exponential waiting time at the yearly rate from then on
    first = np.maximum(cu.created_day + 30, -3 * 365)
    wait = mech.exponential(365.0 / p.annual_switch_per_year, cu.n)
    sw = next_boundary(cu.created_day, 1, np.ceil(first + wait).astype(np.int64), w.start_day)
    return np.where(monthly & (sw < w.days), sw, none)


def simulate_lifecycle(rng: np.random.Generator, cu: Customers, w: Window, p: GeneratorParams,
                       mech: np.random.Generator | None = None) -> Lifecycle:
    n, D, S = cu.n, w.days, w.start_day
    is_sub = cu.bm == SUB
    lam_churn = np.array(p.churn_hazard_per_day())[cu.seg]
    p_int = np.array(p.intervention_prob)[cu.seg]
    p_int = np.where(cu.high_value, np.minimum(0.95, p_int + 0.10), p_int)
    s_bar = np.array([0.60, 0.48, 0.33])[cu.seg]  # mean playbook success per segment (approx.)
    p_churn_episode = ((1 - p_int) * p.churn_without_intervention
                       + p_int * (1 - s_bar) * p.churn_after_failed_intervention)
    lam_s = p.sudden_churn_share * lam_churn
    lam_e = (1 - p.sudden_churn_share) * lam_churn / p_churn_episode
    lam_n = p.noise_dip_ratio * lam_churn
    lam_x = np.where(is_sub, p.grace_lapse_per_year, p.pause_per_year) / 365.0
    lam_tot = lam_s + lam_e + lam_n + lam_x
    annual_p = np.array(p.annual_share)[cu.seg]
    wk0, wk1 = p.decline_weeks
    # tenure-dependent churn: the churn hazards (sudden and at-risk episodes) run young_churn_multiplier
    # times faster while tenure < young_tenure_days; noise dips, lapses and pauses do not depend on tenure
    tenure_hazard = p.young_churn_multiplier != 1.0
    young_edge = cu.created_day + p.young_tenure_days
    lam_young = lam_tot + (p.young_churn_multiplier - 1.0) * (lam_s + lam_e)
    switch_day = _annual_switch_days(mech, cu, w, p)
    first_epoch = np.ones(n, dtype=bool)

    shape_nk = (n, K)
    slot = {name: np.full(shape_nk, NEVER, dtype=np.int64) for name in
            ("a", "t", "c", "off_a", "off_b", "renew_bnd", "outcome_day", "dm_change")}
    slot["typ"] = np.zeros(shape_nk, dtype=np.int64)
    slot["off_kind"] = np.zeros(shape_nk, dtype=np.int64)
    slot["step_after"] = np.ones(shape_nk, dtype=np.int64)
    slot["itv"] = np.zeros(shape_nk, dtype=bool)
    slot["playbook"] = np.zeros(shape_nk, dtype=np.int64)
    slot["outcome"] = np.zeros(shape_nk, dtype=np.int64)
    slot["depth"] = np.zeros(shape_nk)
    slot["shape"] = np.ones(shape_nk)
    slot["open_day"] = np.full(shape_nk, np.nan)
    slot["sol_day"] = np.full(shape_nk, np.nan)

    step = np.where(cu.annual, 12, 1)
    anchor = cu.created_day.copy()
    # existing customers may have decided to leave before the window opened (annual ones up to
    # half a year before their renewal), so churn runs at its steady rate from the first month
    cursor = np.where(cu.existing, np.where(is_sub & cu.annual, -180.0, -30.0), cu.created_day + 14.0)
    alive = np.ones(n, dtype=bool)
    min_stop = np.where(cu.existing, 14, cu.created_day + 14)

    for k in range(K):
        if tenure_hazard:
            # first event of a piecewise-constant hazard (lam_young before the tenure edge, lam_tot after),
            # by inverting the cumulative hazard
            e = rng.exponential(1.0, n)
            young_left = np.maximum(young_edge - cursor, 0.0)
            T = np.where(e < lam_young * young_left, cursor + e / lam_young,
                         cursor + young_left + (e - lam_young * young_left) / lam_tot)
            mult = np.where(T < young_edge, p.young_churn_multiplier, 1.0)
            ls, le = lam_s * mult, lam_e * mult
            u = rng.random(n) * (ls + le + lam_n + lam_x)
        else:
            T = cursor + rng.exponential(1.0, n) / lam_tot
            ls, le = lam_s, lam_e
            u = rng.random(n) * lam_tot
        live = alive & (T < D + HORIZON)
        typ = np.select([u < ls, u < ls + le, u < ls + le + lam_n],
                        [SUDDEN, -1, NOISE], np.where(is_sub, LAPSE, PAUSE))
        Tc = np.ceil(T).astype(np.int64)
        # a monthly subscriber that moved to annual billing before this event is on the annual schedule
        switched = first_epoch & (switch_day < Tc)
        anchor_k = np.where(switched, switch_day, anchor)
        step_k = np.where(switched, 12, step)
        # billing boundary on/after the decision for subscriptions, the decision day otherwise
        b_sub = next_boundary(anchor_k, step_k, np.maximum(np.maximum(Tc, 1), anchor_k + 1), S)
        b = np.where(is_sub, b_sub, np.maximum(Tc, min_stop))

        # at-risk episodes: intervention? which playbook? outcome?
        tenure = Tc - cu.created_day
        renewal_soon = is_sub & (step_k == 12) & (b_sub - Tc < 120)
        pb = _choose_playbook(rng, cu, tenure, renewal_soon)
        intervened = rng.random(n) < p_int
        success = rng.random(n) < PLAYBOOK_SUCCESS[pb]
        u2 = rng.random(n)
        churns = np.where(intervened, ~success & (u2 < p.churn_after_failed_intervention),
                          u2 < p.churn_without_intervention)
        ep = np.where(intervened & success, SAVED, np.where(churns, GRADUAL, RECOVER))
        typ = np.where(typ == -1, ep, typ)
        is_churn = (typ == SUDDEN) | (typ == GRADUAL)

        # annual non-renewals: 40 % keep service up to 30 days past the renewal date (overdue renewal)
        ext = np.where(is_sub & (step_k == 12) & is_churn & (rng.random(n) < 0.4), rng.integers(1, 31, n), 0)
        end = b + ext
        L = rng.integers(7 * wk0, 7 * wk1 + 1, n)
        a_grad = np.maximum(end - L, cu.created_day + 1)
        frac = rng.uniform(0.3, 0.8, n)
        open_grad = a_grad + frac * (end - a_grad)
        open_ep = Tc + frac * L
        sol = open_ep + rng.integers(3, 11, n)
        t_saved = np.ceil(sol).astype(np.int64) + 2
        a = np.select([typ == SUDDEN, typ == GRADUAL, typ == LAPSE, typ == PAUSE],
                      [end - rng.integers(5, 15, n), a_grad, b, b], Tc)
        t = np.select([is_churn, typ == RECOVER, typ == SAVED, typ == NOISE],
                      [end, Tc + L, t_saved, Tc + rng.integers(10, 36, n)], b)
        c = np.select([is_churn, typ == RECOVER, typ == SAVED, typ == NOISE],
                      [end, t + rng.integers(21, 71, n), t + rng.integers(21, 57, n), t + rng.integers(10, 36, n)],
                      b)
        depth = np.select([typ == SUDDEN, typ == GRADUAL, typ == RECOVER, typ == SAVED, typ == NOISE],
                          [rng.uniform(0.0, 0.2, n), rng.uniform(0.65, 0.95, n), rng.uniform(0.35, 0.7, n),
                           rng.uniform(0.3, 0.65, n), rng.uniform(0.12, 0.4, n)], 0.0)
        shp = np.select([typ == GRADUAL, typ == RECOVER], [rng.uniform(0.6, 1.6, n), rng.uniform(0.8, 1.6, n)], 1.0)

        # interventions
        itv = ((typ == GRADUAL) | (typ == RECOVER)) & intervened | (typ == SAVED)
        open_day = np.where(typ == GRADUAL, open_grad, open_ep)
        recover_claimed = rng.random(n) < 0.5  # AM records a self-recovery as "saved"
        outcome = np.select([typ == SAVED, typ == GRADUAL, typ == RECOVER],
                            [O_SAVED, np.where(rng.random(n) < 0.75, O_CHURNED, O_NO_RESPONSE),
                             np.where(recover_claimed, O_SAVED, O_NO_RESPONSE)], O_PENDING)
        od_churn = np.maximum(end + rng.integers(-3, 4, n), np.floor(open_day).astype(np.int64) + 1)
        od_nr = np.floor(open_day).astype(np.int64) + rng.integers(14, 31, n)
        outcome_day = np.select(
            [typ == SAVED, (typ == GRADUAL) & (outcome == O_CHURNED), (typ == RECOVER) & (outcome == O_SAVED)],
            [t_saved + rng.integers(14, 46, n), od_churn, c - rng.integers(0, 14, n)], od_nr)
        outcome_day = np.maximum(outcome_day, np.floor(open_day).astype(np.int64) + 1)
        sol_day = np.where(typ == SAVED, sol, np.nan)
        dm_p = np.select([typ == GRADUAL, (typ == RECOVER) | (typ == SAVED)], [0.35, 0.15], 0.0)
        dm_change = np.where(rng.random(n) < dm_p, (a + rng.uniform(0.2, 0.9, n) * (t - a)).astype(np.int64), NEVER)

        # service interruptions and what follows them
        react = is_churn & (rng.random(n) < p.reactivation_share)
        r = np.select([cu.bm == SUB, cu.bm == ACT], [rng.integers(35, 241, n), rng.integers(95, 241, n)],
                      rng.integers(185, 301, n))
        gap_lapse = rng.integers(1, 29, n)
        gap_pause = np.where(cu.bm == ACT, rng.integers(20, 61, n), rng.integers(40, 111, n))
        off_a = np.select([is_churn, (typ == LAPSE) | (typ == PAUSE)], [end, b], NEVER)
        off_b = np.select([is_churn & react, is_churn, typ == LAPSE, typ == PAUSE],
                          [end + r, NEVER, b + gap_lapse, b + gap_pause], NEVER)
        off_kind = np.select([is_churn, (typ == LAPSE) | (typ == PAUSE)], [OFF_CHURN, OFF_GAP], OFF_NONE)
        new_step = np.where(is_churn, np.where(rng.random(n) < annual_p, 12, 1), step_k)

        # store
        vals = dict(typ=typ, a=a, t=t, c=c, depth=depth, shape=shp, off_a=off_a, off_b=off_b, off_kind=off_kind,
                    renew_bnd=np.where(is_churn & is_sub & (step_k == 12), b, NEVER), step_after=new_step,
                    itv=itv, playbook=pb, outcome=outcome, open_day=open_day, sol_day=sol_day,
                    outcome_day=outcome_day, dm_change=dm_change)
        for name, v in vals.items():
            slot[name][:, k] = np.where(live, v, slot[name][:, k])

        # advance
        first_epoch &= ~(live & (off_kind != OFF_NONE))
        returned = live & (off_b < NEVER) & (off_kind != OFF_NONE)
        anchor = np.where(returned, off_b, anchor)
        step = np.where(returned, new_step, step)
        nxt = np.select([is_churn, (typ == LAPSE) | (typ == PAUSE)], [off_b + 30, off_b + 60], c + 30)
        cursor = np.where(live, nxt.astype(np.float64), cursor)
        alive &= ~(live & is_churn & ~react)
        alive &= T < D + HORIZON

    # a switch only happens while the first subscription still runs
    has_off = slot["off_kind"] != OFF_NONE
    first_off = np.where(has_off.any(1), slot["off_a"][np.arange(n), has_off.argmax(1)], NEVER)
    slot["switch_day"] = np.where(switch_day < first_off, switch_day, NEVER)
    return Lifecycle(**slot)
