"""CRM tables: users, accounts, contacts, interactions, interventions."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .. import contract as C
from .clock import DAY, HOUR, NEVER, NULL, Window, sync_times, working_seconds
from .contacts import ContactBook
from .daily import DailyResult
from .names import (CHURN_REASONS, COMPANY_SUFFIXES, COMPANY_WORDS_A, COMPANY_WORDS_B, CONTACT_TITLES,
                    DM_TITLES, FIRST_NAMES, INDUSTRIES, LAST_NAMES, VENDOR_DOMAIN)
from .params import REGIONS, GeneratorParams
from .world import (ENT, MID, O_CHURNED, O_NO_RESPONSE, O_PENDING, O_SAVED, OFF_CHURN, PB_EXEC, PB_NURTURE,
                    PB_ONBOARD, PB_RENEWAL, PB_ROI, PB_SUPPORT, PB_VIP, SAVED, Customers, Lifecycle, Users)
from .writer import make_ids

USD = "USD"


def _pick(rng, bank, idx_or_n):
    arr = np.array(bank, dtype=object)
    if np.isscalar(idx_or_n):
        return arr[rng.integers(0, len(bank), idx_or_n)]
    return arr[idx_or_n]


def _str_or_null(values: np.ndarray, null: np.ndarray) -> pa.Array:
    return pa.array(np.where(null, None, values).tolist(), type=pa.string())


def user_columns(rng, users: Users, w: Window, p: GeneratorParams) -> dict:
    first = np.array(FIRST_NAMES, dtype=object)[users.first]
    last = np.array(LAST_NAMES, dtype=object)[users.last]
    ids = make_ids("usr_", np.arange(1, users.n + 1), 5)
    full = [f"{f} {l}" for f, l in zip(first, last)]
    email = [f"{f.lower()}.{l.lower()}{i + 1}@{VENDOR_DOMAIN}" for i, (f, l) in enumerate(zip(first, last))]
    manager = np.where(users.manager >= 0, users.manager, 0)
    # the CRM record was last touched when the user left, or at a recent profile edit
    touched = np.where(users.left_day < NEVER, users.left_day,
                       w.days - 1 - rng.integers(0, max(1, min(60, w.days)), users.n))
    touched_sec = w.day_sec(np.clip(touched, 0, w.days - 1)) + rng.integers(8 * HOUR, 18 * HOUR, users.n)
    return {
        "user_id": ids,
        "full_name": full,
        "email": email,
        "role": np.array(C.USER_ROLES, dtype=object)[users.role],
        "manager_user_id": pa.array(np.where(users.manager >= 0, ids.take(pa.array(manager)).to_numpy(
            zero_copy_only=False), None).tolist(), type=pa.string()),
        "is_active": users.is_active,
        "_synced_at": sync_times(rng, touched_sec, w.export_sec, p.late_sync_share),
    }


def account_names(rng, n: int) -> tuple[np.ndarray, np.ndarray]:
    a = rng.integers(0, len(COMPANY_WORDS_A), n)
    b = rng.integers(0, len(COMPANY_WORDS_B), n)
    s = rng.integers(0, len(COMPANY_SUFFIXES), n)
    names = np.array([f"{COMPANY_WORDS_A[i]} {COMPANY_WORDS_B[j]} {COMPANY_SUFFIXES[k]}" for i, j, k in zip(a, b, s)],
                     dtype=object)
    slugs = np.array([f"{COMPANY_WORDS_A[i]}{COMPANY_WORDS_B[j]}{m + 1}".lower() for m, (i, j) in
                      enumerate(zip(a, b))], dtype=object)
    return names, slugs


def account_columns(rng, cu: Customers, lc: Lifecycle, w: Window, p: GeneratorParams, account_ids: pa.Array,
                    user_ids: pa.Array, names: np.ndarray) -> dict:
    n = cu.n
    final_off = np.where((lc.off_kind == OFF_CHURN) & (lc.off_b >= NEVER), lc.off_a, NEVER).min(1)
    # last modification: a recent touch for live accounts, the churn for churned ones
    recent = w.days - 1 - np.floor(rng.exponential(30.0, n)).astype(np.int64)
    touched_day = np.where(final_off < w.days, final_off + rng.integers(0, 6, n), recent)
    touched_day = np.clip(touched_day, 0, w.days - 1)
    updated = np.maximum(w.day_sec(touched_day) + working_seconds(rng, n, cu.tz), cu.created_sec)
    untouched = rng.random(n) < 0.1  # some records were never edited after creation
    updated = np.where(untouched, cu.created_sec, updated)
    updated = np.minimum(updated, w.export_sec)
    csm = np.where(cu.csm >= 0, cu.csm, 0)
    return {
        "account_id": account_ids,
        "account_name": names,
        "segment": np.array(C.SEGMENTS, dtype=object)[cu.seg],
        "industry": _str_or_null(np.array(INDUSTRIES, dtype=object)[np.maximum(cu.industry, 0)], cu.industry < 0),
        "region": _str_or_null(np.array(REGIONS, dtype=object)[np.maximum(cu.region, 0)], cu.region < 0),
        "owner_user_id": user_ids.take(pa.array(cu.owner)),
        "csm_user_id": _str_or_null(user_ids.take(pa.array(csm)).to_numpy(zero_copy_only=False), cu.csm < 0),
        "business_model": np.array(C.BUSINESS_MODELS, dtype=object)[cu.bm],
        "created_at": cu.created_sec,
        "updated_at": updated,
        "_synced_at": sync_times(rng, updated, w.export_sec, p.late_sync_share),
    }


def contact_columns(rng, cu: Customers, book: ContactBook, w: Window, p: GeneratorParams, account_ids: pa.Array,
                    slugs: np.ndarray) -> dict:
    cust, pos, j, vf, vt = book.rows()
    m = cust.size
    vf_sec = np.where((pos == 0) & (j == 0), cu.created_sec[cust], w.day_sec(vf) + working_seconds(rng, m, cu.tz[cust]))
    vf_sec = np.maximum(vf_sec, cu.created_sec[cust])
    vt_sec = np.where(vt < NEVER, w.day_sec(np.minimum(vt, w.days)) + working_seconds(rng, m, cu.tz[cust]), NULL)
    vt_sec = np.where((vt_sec != NULL) & (vt_sec <= vf_sec), vf_sec + HOUR, vt_sec)
    first = _pick(rng, FIRST_NAMES, m)
    last = _pick(rng, LAST_NAMES, m)
    email = np.array([f"{f.lower()}.{l.lower()}@{s}.example" for f, l, s in zip(first, last, slugs[cust])],
                     dtype=object)
    is_dm = pos == 0
    title = np.where(is_dm, _pick(rng, DM_TITLES, m), _pick(rng, CONTACT_TITLES, m))
    last_change = np.where(vt_sec != NULL, vt_sec, vf_sec)
    return {
        "contact_id": make_ids("con_", np.arange(1, m + 1), 7),
        "account_id": account_ids.take(pa.array(cust)),
        "full_name": np.array([f"{f} {l}" for f, l in zip(first, last)], dtype=object),
        "email": _str_or_null(email, rng.random(m) < 0.04),
        "title": _str_or_null(title, ~is_dm & (rng.random(m) < 0.08)),
        "is_decision_maker": is_dm,
        "valid_from": vf_sec,
        "valid_to": vt_sec,
        "_synced_at": sync_times(rng, last_change, w.export_sec, p.late_sync_share),
    }


def interaction_columns(rng, cu: Customers, book: ContactBook, daily: DailyResult, w: Window,
                        p: GeneratorParams, account_ids: pa.Array, user_ids: pa.Array, contact_ids: pa.Array) -> dict:
    it = daily.interactions
    order = np.lexsort((it["cust"], it["sec"]))
    cust, day, sec, outbound, h = (it[k][order] for k in ("cust", "day", "sec", "outbound", "h"))
    m = cust.size
    seg = cu.seg[cust]
    u = rng.random(m)
    # outbound: email/call/meeting (bigger customers get more meetings); inbound adds chat
    out_ch = np.select([seg == ENT, seg == MID],
                       [np.select([u < 0.5, u < 0.8], [0, 1], 2), np.select([u < 0.6, u < 0.9], [0, 1], 2)],
                       np.select([u < 0.7, u < 0.97], [0, 1], 2))
    in_ch = np.select([u < 0.45, u < 0.75, u < 0.95], [0, 3, 1], 2)
    channel = np.where(outbound, out_ch, in_ch)  # index into contract.CHANNELS (email, call, meeting, chat)
    p_ans = np.where(outbound, np.clip(cu.resp[cust] * (0.12 + 0.85 * h ** 1.3), 0.02, 0.97), 0.95)
    answered = rng.random(m) < p_ans
    lag = np.select(
        [channel == 0, channel == 3, channel == 1],
        [np.minimum(rng.lognormal(np.log(np.where(outbound, 5.0, 2.0) * HOUR), 1.0), 6 * DAY),
         rng.uniform(10, 600, m), rng.uniform(0, 120, m)], 0.0).astype(np.int64)
    answered_at = sec + lag
    answered &= answered_at <= w.export_sec
    answered_at = np.where(answered, answered_at, NULL)
    # who on the vendor side
    has_csm = cu.csm[cust] >= 0
    v = rng.random(m)
    user = np.where(outbound, np.where(has_csm & (v < 0.25), cu.csm[cust], cu.owner[cust]),
                    np.select([v < 0.55, has_csm & (v < 0.8)], [cu.owner[cust], cu.csm[cust]], -1))
    # which contact: the decision maker often, otherwise any position holder
    pos = np.where(rng.random(m) < 0.45, 0, (rng.random(m) * book.npos[cust]).astype(np.int64))
    contact = book.holder(cust, pos, day)
    contact = np.where(rng.random(m) < 0.05, -1, contact)
    last_change = np.where(answered, answered_at, sec)
    return {
        "interaction_id": make_ids("int_", np.arange(1, m + 1), 8),
        "account_id": account_ids.take(pa.array(cust)),
        "contact_id": contact_ids.take(pa.array(np.maximum(contact, 0), mask=contact < 0)),
        "user_id": user_ids.take(pa.array(np.maximum(user, 0), mask=user < 0)),
        "channel": np.array(C.CHANNELS, dtype=object)[channel],
        "direction": np.where(outbound, "outbound", "inbound").astype(object),
        "occurred_at": sec,
        "is_answered": answered,
        "answered_at": answered_at,
        "_synced_at": sync_times(rng, last_change, w.export_sec, p.late_sync_share),
    }


COST_RANGE = {  # dollars per playbook (contract.PLAYBOOKS order)
    PB_EXEC: (800, 6000), PB_VIP: (200, 1500), PB_ROI: (50, 400), PB_NURTURE: (0, 25),
    PB_RENEWAL: (300, 3000), PB_ONBOARD: (150, 900), PB_SUPPORT: (200, 1200),
}


def intervention_columns(rng, cu: Customers, lc: Lifecycle, users: Users, w: Window, p: GeneratorParams,
                         account_ids: pa.Array, user_ids: pa.Array) -> tuple[dict, np.ndarray]:
    """Interventions for at-risk episodes (opened inside the window) plus VIP care for a few healthy
    high-value accounts. Returns the columns and, per customer, whether an intervention row exists."""
    D = w.days
    cust_k, slot_k = np.nonzero(lc.itv & (lc.open_day >= 0) & (lc.open_day < D))
    typ = lc.typ[cust_k, slot_k]
    open_day = lc.open_day[cust_k, slot_k]
    pb = lc.playbook[cust_k, slot_k]
    outcome = lc.outcome[cust_k, slot_k]
    outcome_day = lc.outcome_day[cust_k, slot_k]
    sol_day = lc.sol_day[cust_k, slot_k]
    # VIP care for healthy high-value accounts (not at risk): ~0.3 a year each
    vip_n = rng.poisson(0.3 * D / 365.0 * cu.high_value)
    vip_c = np.repeat(np.arange(cu.n), vip_n)
    vip_open = rng.uniform(0, D, vip_c.size)
    ok = vip_open > np.maximum(cu.created_day[vip_c], 0) + 1
    ok &= lc.alive_on(vip_c, np.floor(vip_open).astype(np.int64), cu.created_day)
    vip_c, vip_open = vip_c[ok], vip_open[ok]
    k = vip_c.size
    cust = np.concatenate([cust_k, vip_c])
    typ = np.concatenate([typ, np.full(k, -1)])
    open_day = np.concatenate([open_day, vip_open])
    pb = np.concatenate([pb, np.full(k, PB_VIP)])
    outcome = np.concatenate([outcome, np.where(rng.random(k) < 0.8, O_SAVED, O_NO_RESPONSE)])
    outcome_day = np.concatenate([outcome_day, np.floor(vip_open).astype(np.int64) + rng.integers(7, 30, k)])
    sol_day = np.concatenate([sol_day, np.full(k, np.nan)])
    m = cust.size

    opened = w.day_sec(np.floor(open_day).astype(np.int64)) + working_seconds(rng, m, cu.tz[cust], 11.0, 2.0, 0.0)
    saved = outcome == O_SAVED
    churned = outcome == O_CHURNED
    u = rng.random(m)
    fc_h = np.select([saved, churned], [np.where(u < 0.85, rng.uniform(0.5, 24, m), rng.uniform(24, 96, m)),
                                        np.where(u < 0.6, rng.uniform(0.5, 24, m), rng.uniform(24, 96, m))],
                     rng.uniform(24, 120, m))
    fc_null = np.select([saved, churned], [u > 2, u > 0.9], u < 0.75)
    first_contact = np.where(fc_null, NULL, opened + (fc_h * HOUR).astype(np.int64))
    iv_p = np.select([typ == SAVED, saved, churned], [0.7, 0.5, 0.35], 0.0)
    interview = np.where((rng.random(m) < iv_p) & ~fc_null, opened + rng.uniform(3, 5, m) * DAY, NULL).astype(np.int64)
    sol_p = np.select([typ == SAVED, saved, churned], [1.0, 0.4, 0.2], 0.0)
    sol_days = np.where(typ == SAVED, sol_day - open_day,
                        np.where(rng.random(m) < 0.8, rng.uniform(4, 7, m), rng.uniform(8, 14, m)))
    solution = np.where((rng.random(m) < sol_p) & ~fc_null, opened + sol_days * DAY, NULL).astype(np.int64)
    solution = np.where((solution != NULL) & (interview != NULL), np.maximum(solution, interview + HOUR), solution)
    outcome_at = w.day_sec(outcome_day) + working_seconds(rng, m, cu.tz[cust], 14.0, 2.0, 0.0)
    later = np.maximum.reduce([first_contact, interview, solution, opened])
    outcome_at = np.maximum(outcome_at, later + HOUR)
    # nothing after the export: an outcome not yet recorded is pending
    for arr in (first_contact, interview, solution):
        arr[arr > w.export_sec] = NULL
    pending = outcome_at > w.export_sec
    outcome = np.where(pending, O_PENDING, outcome)
    outcome_at = np.where(pending, NULL, outcome_at)
    lo = np.array([COST_RANGE[i][0] for i in range(7)])[pb]
    hi = np.array([COST_RANGE[i][1] for i in range(7)])[pb]
    cost = np.round(rng.uniform(lo, hi) * 100).astype(np.int64)
    cost = np.where(pb == PB_NURTURE, cost // 100 * 100, cost)
    v = rng.random(m)
    channel = np.select(  # email, call, meeting, chat
        [pb == PB_EXEC, pb == PB_VIP, pb == PB_NURTURE, pb == PB_ROI, pb == PB_RENEWAL, pb == PB_ONBOARD],
        [np.where(v < 0.6, 2, 1), np.where(v < 0.5, 1, 2), 0, np.where(v < 0.5, 0, 1),
         np.select([v < 0.5, v < 0.8], [1, 2], 0), np.select([v < 0.5, v < 0.8], [2, 1], 0)],
        np.where(v < 0.6, 1, 0))
    owner = cu.owner[cust]
    user = np.select([pb == PB_EXEC, (pb == PB_SUPPORT) | (pb == PB_ONBOARD)],
                     [users.manager[owner], np.where(cu.csm[cust] >= 0, cu.csm[cust], owner)], owner)
    user = np.where((rng.random(m) < 0.03) | (user < 0), -1, user)
    reason_p = np.select([outcome == O_CHURNED, outcome == O_SAVED, outcome == O_PENDING], [1.0, 0.4, 0.3], 0.0)
    reason_idx = rng.integers(0, len(CHURN_REASONS), m)
    has_reason = rng.random(m) < reason_p
    last_change = np.maximum.reduce([opened, first_contact, interview, solution, outcome_at])
    order = np.lexsort((cust, opened))
    cols = {
        "intervention_id": make_ids("itv_", np.arange(1, m + 1), 6),
        "account_id": account_ids.take(pa.array(cust[order])),
        "alert_id": pa.nulls(m, pa.string()),
        "user_id": user_ids.take(pa.array(np.maximum(user, 0)[order], mask=(user < 0)[order])),
        "playbook": np.array(C.PLAYBOOKS, dtype=object)[pb][order],
        "channel": np.array(C.CHANNELS, dtype=object)[channel][order],
        "opened_at": opened[order],
        "first_contact_at": first_contact[order],
        "interview_at": interview[order],
        "solution_at": solution[order],
        "cost": cost[order],
        "currency": np.full(m, USD, dtype=object),
        "outcome": np.array(C.INTERVENTION_OUTCOMES, dtype=object)[outcome][order],
        "outcome_at": outcome_at[order],
        "churn_reason": _str_or_null(np.array(CHURN_REASONS, dtype=object)[reason_idx], ~has_reason)
        .take(pa.array(order)),
        "_synced_at": sync_times(rng, last_change[order], w.export_sec, p.late_sync_share),
    }
    intervened = np.zeros(cu.n, dtype=bool)
    intervened[cust_k] = True
    return cols, intervened
