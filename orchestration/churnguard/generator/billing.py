"""Billing tables: subscriptions (with plan changes), invoices, payments, orders.

A subscription customer's service is split into *epochs*: the first starts when the
account is created; an epoch ends at a churn or a grace lapse, and a return (a
reactivation or the end of a lapse) starts a new epoch with its own billing anchor.
Inside an epoch, plan changes (upgrades when healthy, downgrades when declining)
end one subscription row and start the next on a billing boundary. A move from monthly
to annual billing (``Lifecycle.switch_day``, only in worlds that have it) also starts a
new epoch, without a gap: the annual plan is anchored on the switch day and costs 15-25 %
less per month than the monthly plan it replaces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .. import contract as C
from .clock import DAY, HOUR, NEVER, NULL, Window, next_boundary, sync_times, working_seconds
from .daily import DailyResult
from .names import PLAN_TIERS
from .params import GeneratorParams
from .world import GRADUAL, K, OFF_CHURN, SUB, Customers, Lifecycle
from .writer import make_ids

USD = "USD"
KIND_OPEN, KIND_CHURN, KIND_LAPSE, KIND_SWITCH = 0, 1, 2, 3


@dataclass
class Subscriptions:
    cust: np.ndarray
    start: np.ndarray  # day
    end: np.ndarray  # day (NEVER: open)
    start_sec: np.ndarray
    step: np.ndarray
    anchor: np.ndarray  # epoch start day (billing anchor)
    mrr: np.ndarray  # cents
    bill_until: np.ndarray  # last day (exclusive) that is invoiced
    renewal: np.ndarray  # day or NEVER
    epoch_end_kind: np.ndarray  # kind of the epoch end if this row is the epoch's last, else -1


def _epochs(rng, cu: Customers, lc: Lifecycle, p: GeneratorParams):
    n = cu.n
    sw = lc.switch_day if lc.switch_day is not None else np.full(n, NEVER, dtype=np.int64)
    switcher = (cu.bm == SUB) & (sw < NEVER)
    E = K + 1 + int(switcher.any())
    start = np.full((n, E), NEVER, dtype=np.int64)
    end = np.full((n, E), NEVER, dtype=np.int64)
    step = np.ones((n, E), dtype=np.int64)
    kind = np.zeros((n, E), dtype=np.int64)
    renew = np.full((n, E), NEVER, dtype=np.int64)
    decline = np.full((n, E), NEVER, dtype=np.int64)
    is_sub = cu.bm == SUB
    start[:, 0] = cu.created_day
    step[:, 0] = np.where(cu.annual, 12, 1)
    cnt = np.zeros(n, dtype=np.int64)
    closed = ~is_sub
    rows = np.arange(n)
    # monthly -> annual: the first epoch ends on the switch day and the annual one starts at once
    si = np.flatnonzero(switcher)
    end[si, 0] = sw[si]
    kind[si, 0] = KIND_SWITCH
    start[si, 1] = sw[si]
    step[si, 1] = 12
    cnt[si] = 1
    for k in range(K):
        has = ~closed & (lc.off_kind[:, k] != 0)
        e = cnt
        end[rows[has], e[has]] = lc.off_a[has, k]
        kind[rows[has], e[has]] = np.where(lc.off_kind[has, k] == OFF_CHURN, KIND_CHURN, KIND_LAPSE)
        renew[rows[has], e[has]] = lc.renew_bnd[has, k]
        decline[rows[has], e[has]] = np.where(lc.typ[has, k] == GRADUAL, lc.a[has, k], NEVER)
        ret = has & (lc.off_b[:, k] < NEVER)
        start[rows[ret], e[ret] + 1] = lc.off_b[ret, k]
        step[rows[ret], e[ret] + 1] = lc.step_after[ret, k]
        cnt = np.where(ret, cnt + 1, cnt)
        closed |= has & ~ret
    valid = is_sub[:, None] & (np.arange(E)[None, :] <= cnt[:, None])
    ci, ei = np.nonzero(valid)
    mrr = np.where(ei == 0, cu.mrr0[ci],
                   np.maximum(np.round(cu.mrr0[ci] / 100 * rng.lognormal(0.0, 0.2, ci.size)), 29) * 100)
    # the annual plan's price is set from the monthly plan's last MRR once plan changes are known
    is_switch = (ei == 1) & switcher[ci]
    return (ci, ei, start[ci, ei], end[ci, ei], step[ci, ei], kind[ci, ei], renew[ci, ei], decline[ci, ei], mrr,
            is_switch)


def build_subscriptions(rng, cu: Customers, lc: Lifecycle, daily: DailyResult, w: Window,
                        p: GeneratorParams) -> Subscriptions:
    D, S = w.days, w.start_day
    ci, ei, e_start, e_end, e_step, e_kind, e_renew, e_decline, mrr, e_switch = _epochs(rng, cu, lc, p)
    keep = e_start < D
    ci, ei, e_start, e_end, e_step, e_kind, e_renew, e_decline, mrr, e_switch = (
        x[keep] for x in (ci, ei, e_start, e_end, e_step, e_kind, e_renew, e_decline, mrr, e_switch))
    m = ci.size
    first_start = np.minimum(cu.created_sec[ci] + rng.integers(5 * 60, 90 * 60, m),
                             np.maximum(cu.created_sec[ci], w.export_sec - 2 * HOUR))
    e_start_sec = np.where(ei == 0, first_start, w.day_sec(e_start) + working_seconds(rng, m, cu.tz[ci]))
    e_start_sec = np.where(e_switch, w.day_sec(e_start), e_start_sec)  # hands over at the same instant
    lim = np.minimum(e_end, D)

    # plan changes on billing boundaries (materialised up to the export)
    rows = {k: [] for k in ("epoch", "start", "end", "mrr", "last")}
    cur = e_start.copy()
    cur_mrr = mrr.copy()
    active = np.ones(m, dtype=bool)
    mean_gap = 365.0 / max(p.plan_changes_per_year, 1e-6)
    for _ in range(8):
        gap = rng.exponential(mean_gap, m)
        nxt = next_boundary(e_start, e_step, np.maximum(np.ceil(cur + gap), cur + 1).astype(np.int64), S)
        ok = active & (nxt < lim)
        h = daily.h(ci, nxt)
        up = rng.random(m) < np.where(h > 0.7, 0.8, 0.15)
        factor = np.where(up, rng.uniform(1.15, 1.6, m), rng.uniform(0.55, 0.85, m))
        idx = np.flatnonzero(ok)
        rows["epoch"].append(idx); rows["start"].append(cur[idx]); rows["end"].append(nxt[idx])
        rows["mrr"].append(cur_mrr[idx]); rows["last"].append(np.zeros(idx.size, dtype=bool))
        cur = np.where(ok, nxt, cur)
        cur_mrr = np.where(ok, np.maximum(np.round(cur_mrr / 100 * factor), 29) * 100, cur_mrr).astype(np.int64)
        active &= ok
        if not active.any():
            break
    idx = np.arange(m)
    rows["epoch"].append(idx); rows["start"].append(cur); rows["end"].append(e_end)
    # annual plans after a switch: 15-25 % below the monthly plan's last MRR; that epoch's own later plan
    # changes keep their ratios
    sw_idx = np.flatnonzero(e_switch)
    scale = np.ones(m)
    if sw_idx.size:
        lo, hi = p.annual_switch_discount
        target = np.maximum(np.round(cur_mrr[sw_idx - 1] / 100 * (1.0 - rng.uniform(lo, hi, sw_idx.size))), 29)
        scale[sw_idx] = target * 100 / mrr[sw_idx]
        rows["mrr"] = [np.where(e_switch[ep_], np.maximum(np.round(v / 100 * scale[ep_]), 29) * 100, v)
                       for ep_, v in zip(rows["epoch"][:-1], rows["mrr"])]
        cur_mrr = np.where(e_switch, np.maximum(np.round(cur_mrr / 100 * scale), 29) * 100, cur_mrr).astype(np.int64)
    rows["mrr"].append(cur_mrr); rows["last"].append(np.ones(m, dtype=bool))
    ep = np.concatenate(rows["epoch"]); r_start = np.concatenate(rows["start"]); r_end = np.concatenate(rows["end"])
    r_mrr = np.concatenate(rows["mrr"]).astype(np.int64); r_last = np.concatenate(rows["last"])

    # a third of gradual churners on monthly plans downgrade during the decline
    dec = e_decline[ep]
    f = next_boundary(e_start[ep], e_step[ep], np.where(dec < NEVER, dec + 14, 0), S)
    split = (dec < NEVER) & (e_step[ep] == 1) & (rng.random(ep.size) < 0.35) & (r_start < f) & (f < r_end) & (f < D)
    s_idx = np.flatnonzero(split)
    ep = np.concatenate([ep, ep[s_idx]])
    new_start = np.concatenate([r_start, f[s_idx]])
    new_end = np.concatenate([np.where(split, f, r_end), r_end[s_idx]])
    r_mrr = np.concatenate([r_mrr, np.maximum(np.round(r_mrr[s_idx] / 100 * rng.uniform(0.5, 0.85, s_idx.size)),
                                              29).astype(np.int64) * 100])
    r_last = np.concatenate([np.where(split, False, r_last), r_last[s_idx]])
    r_start, r_end = new_start, new_end

    order = np.lexsort((r_start, ci[ep]))
    ep, r_start, r_end, r_mrr, r_last = ep[order], r_start[order], r_end[order], r_mrr[order], r_last[order]
    first_of_epoch = r_start == e_start[ep]
    start_sec = np.where(first_of_epoch, e_start_sec[ep], w.day_sec(r_start))
    renew_bnd = np.where(r_last, e_renew[ep], NEVER)
    bill_until = np.minimum(r_end, renew_bnd)
    annual = e_step[ep] == 12
    running_renewal = next_boundary(e_start[ep], 12, np.maximum(D, r_start + 1), S)
    renewal = np.where(~annual, NEVER,
                       np.where(renew_bnd < NEVER, renew_bnd,
                                np.where(r_end < D, r_end, np.minimum(running_renewal, r_end))))
    return Subscriptions(cust=ci[ep], start=r_start, end=r_end, start_sec=start_sec, step=e_step[ep],
                         anchor=e_start[ep], mrr=r_mrr, bill_until=bill_until, renewal=renewal,
                         epoch_end_kind=np.where(r_last, e_kind[ep], -1))


def _plan_names(mrr_cents: np.ndarray, annual: np.ndarray) -> np.ndarray:
    tier = np.digitize(mrr_cents / 100, [150, 600, 2500, 8000, 25000])
    base = np.array(PLAN_TIERS, dtype=object)[tier]
    return np.where(annual, base + " Annual", base + " Monthly")


@dataclass
class Invoices:
    cust: np.ndarray
    sub: np.ndarray  # subscription row index or -1
    amount: np.ndarray
    issued: np.ndarray
    due: np.ndarray
    status: np.ndarray  # index into contract.INVOICE_STATUSES
    order_status: np.ndarray  # for one-off invoices: the order's status (refunded -> a refund payment)


def _subscription_invoices(rng, cu: Customers, subs: Subscriptions, w: Window):
    D, S = w.days, w.start_day
    n = subs.cust.size
    first = np.where(subs.start >= 0, subs.start, next_boundary(subs.anchor, subs.step, 0, S))
    cur = first
    parts = {k: [] for k in ("sub", "day")}
    for _ in range(400):
        ok = (cur < subs.bill_until) & (cur < D)
        if not ok.any():
            break
        idx = np.flatnonzero(ok)
        parts["sub"].append(idx); parts["day"].append(cur[idx])
        cur = np.where(ok, next_boundary(subs.anchor, subs.step, cur + 1, S), cur)
    sub = np.concatenate(parts["sub"]) if parts["sub"] else np.zeros(0, dtype=np.int64)
    day = np.concatenate(parts["day"]) if parts["day"] else np.zeros(0, dtype=np.int64)
    at_start = day == subs.start[sub]
    issued = np.where(at_start & (subs.start_sec[sub] % DAY != 0), subs.start_sec[sub] + rng.integers(60, 1800, sub.size),
                      w.day_sec(day) + rng.integers(1 * HOUR, 5 * HOUR, sub.size))
    amount = subs.mrr[sub] * np.where(subs.step[sub] == 12, 12, 1)
    keep = issued <= w.export_sec
    return subs.cust[sub][keep], sub[keep], amount[keep], issued[keep], day[keep]


def build_orders(rng, cu: Customers, daily: DailyResult, w: Window):
    o = daily.orders
    order = np.lexsort((o["cust"], o["sec"]))
    cust, day, sec, h, addon, status = (o[k][order] for k in ("cust", "day", "sec", "h", "addon", "status"))
    m = cust.size
    amount = np.where(addon, cu.mrr0[cust] / 100 * rng.uniform(0.1, 0.6, m) * (0.6 + 0.4 * h),
                      cu.order_amount[cust] * rng.lognormal(0.0, 0.35, m) * (0.45 + 0.55 * h))
    cents = np.maximum(np.round(amount * 100), 500).astype(np.int64)
    return cust, day, sec, h, cents, status


def build_billing(rng, cu: Customers, lc: Lifecycle, daily: DailyResult, w: Window, p: GeneratorParams,
                  account_ids: pa.Array) -> dict[str, dict]:
    D = w.days
    subs = build_subscriptions(rng, cu, lc, daily, w, p)
    n_sub = subs.cust.size
    sub_ids = make_ids("sub_", np.arange(1, n_sub + 1), 7)

    # ---------------------------------------------------------------- orders
    o_cust, o_day, o_sec, o_h, o_cents, o_status = build_orders(rng, cu, daily, w)
    n_ord = o_cust.size

    # -------------------------------------------------------------- invoices
    i_cust, i_sub, i_amount, i_issued, i_day = _subscription_invoices(rng, cu, subs, w)
    i_h = daily.h(i_cust, i_day)
    # one-off invoices for completed and refunded orders
    billed = o_status != 2
    oi = np.flatnonzero(billed)
    oi_issued = np.where(cu.autopay[o_cust[oi]], o_sec[oi] + 60, o_sec[oi] + rng.integers(60, 20 * HOUR, oi.size))
    keep = oi_issued <= w.export_sec
    oi, oi_issued = oi[keep], oi_issued[keep]
    cust = np.concatenate([i_cust, o_cust[oi]])
    sub = np.concatenate([i_sub, np.full(oi.size, -1)])
    amount = np.concatenate([i_amount, o_cents[oi]])
    issued = np.concatenate([i_issued, oi_issued])
    h = np.concatenate([i_h, o_h[oi]])
    ostat = np.concatenate([np.full(i_cust.size, -1), o_status[oi]])
    # a few subscription invoices are voided and re-issued a day or two later
    void = (sub >= 0) & (rng.random(cust.size) < 0.003) & (issued + 3 * DAY <= w.export_sec)
    vi = np.flatnonzero(void)
    cust = np.concatenate([cust, cust[vi]]); sub = np.concatenate([sub, sub[vi]])
    amount = np.concatenate([amount, amount[vi]]); h = np.concatenate([h, h[vi]])
    issued = np.concatenate([issued, issued[vi] + rng.integers(DAY, 2 * DAY, vi.size)])
    ostat = np.concatenate([ostat, ostat[vi]])
    void = np.concatenate([void, np.zeros(vi.size, dtype=bool)])
    n_inv = cust.size
    net = cu.net_days[cust]
    due = issued + net * DAY

    # -------------------------------------------------------------- payments
    # the customer's health around the due date sets how late it pays (the payment-delay bands:
    # on time when healthy, 5-10 days late when slipping, more than 10 days when in trouble)
    due_day = np.clip((due - w.start_sec) // DAY, 0, D - 1)
    hp = np.minimum(h, daily.h(cust, due_day))
    autopay = cu.autopay[cust]
    u = rng.random(n_inv)
    v = rng.random(n_inv)
    late_p = np.select([hp >= 0.75, hp >= 0.55, hp >= 0.35], [0.07, 0.45, 0.75], 0.9)
    late_days = np.select([hp >= 0.75, hp >= 0.55, hp >= 0.35],
                          [rng.uniform(1, 4, n_inv), rng.uniform(3, 10, n_inv),
                           np.where(v < 0.5, rng.uniform(5, 10, n_inv), rng.uniform(11, 30, n_inv))],
                          rng.uniform(11, 45, n_inv))
    early = rng.uniform(0, 1, n_inv) * net * DAY
    on_time = np.where(autopay, issued + rng.integers(60, 1800, n_inv), due - early + rng.integers(0, 4 * HOUR, n_inv))
    paid_at = np.where(u < late_p, due + late_days * DAY, on_time)
    paid_at = np.maximum(paid_at, issued + 60).astype(np.int64)
    never = rng.random(n_inv) < 0.002 + 0.5 * np.maximum(0.0, 0.4 - hp)
    fail_p = np.where(autopay, 0.02 + 0.5 * (1 - hp) ** 2, 0.02 + 0.15 * (1 - hp))
    failed = (rng.random(n_inv) < fail_p) | (autopay & (u < late_p))  # a late card payment failed first
    fail_at = np.where(never, due + rng.uniform(0, 5, n_inv) * DAY, paid_at - rng.uniform(1, 6, n_inv) * DAY)
    fail_at = np.maximum(fail_at, issued + 30).astype(np.int64)
    succ = ~never & ~void & (paid_at <= w.export_sec)
    fail_row = failed & ~void & (fail_at <= w.export_sec)
    refund_at = paid_at + rng.uniform(3, 20, n_inv) * DAY
    refund_row = succ & (ostat == 1) & (refund_at <= w.export_sec)
    inv_status = np.select([void, succ, due + 90 * DAY < w.export_sec], [2, 1, 3], 0)  # open/paid/void/uncollectible

    # order invoices chronologically, ids follow
    inv_order = np.lexsort((cust, issued))
    inv_rank = np.empty(n_inv, dtype=np.int64)
    inv_rank[inv_order] = np.arange(n_inv)
    inv_ids = make_ids("inv_", np.arange(1, n_inv + 1), 8)

    p_inv = np.concatenate([np.flatnonzero(succ), np.flatnonzero(fail_row), np.flatnonzero(refund_row)])
    p_at = np.concatenate([paid_at[succ], fail_at[fail_row], refund_at[refund_row].astype(np.int64)])
    p_status = np.concatenate([np.zeros(succ.sum(), dtype=np.int64), np.ones(fail_row.sum(), dtype=np.int64),
                               np.full(refund_row.sum(), 2)])  # succeeded/failed/refunded
    p_order = np.lexsort((inv_rank[p_inv], p_at))
    p_inv, p_at, p_status = p_inv[p_order], p_at[p_order], p_status[p_order]
    n_pay = p_inv.size

    # --------------------------------------------------- subscription status
    open_overdue = (inv_status == 0) & (sub >= 0) & (due < w.export_sec)
    past_due_sub = np.zeros(n_sub, dtype=bool)
    past_due_sub[sub[open_overdue]] = True
    ended = subs.end < D
    status = np.where(ended, 1, np.where(past_due_sub, 2, 0))  # active/canceled/past_due
    annual = subs.step == 12
    ended_at = np.where(ended, w.day_sec(np.minimum(subs.end, D)), NULL)
    # cancellation requests: churns (mostly voluntary), some lapses
    is_churn_end = subs.epoch_end_kind == KIND_CHURN
    is_lapse_end = subs.epoch_end_kind == KIND_LAPSE
    ask = (is_churn_end & (rng.random(n_sub) < 0.85)) | (is_lapse_end & (rng.random(n_sub) < 0.4))
    lead = np.where(annual, rng.integers(1, 76, n_sub), rng.integers(1, 21, n_sub))
    lead = np.where(is_lapse_end, rng.integers(1, 11, n_sub), lead)
    # an overdue renewal (service ran on past the renewal date) is settled during the overrun
    overrun = subs.renewal < subs.end
    cancel_day = np.where(overrun, np.maximum(subs.end - rng.integers(1, 11, n_sub), subs.renewal),
                          np.minimum(subs.end, subs.renewal) - lead)
    cancel_sec = w.day_sec(np.clip(cancel_day, -100_000, D)) + working_seconds(rng, n_sub, cu.tz[subs.cust])
    cancel_sec = np.maximum(cancel_sec, subs.start_sec + HOUR)
    cancel_ok = ask & (cancel_sec <= w.export_sec) & ((ended_at == NULL) | (cancel_sec < ended_at))
    canceled_at = np.where(cancel_ok, cancel_sec, NULL)
    sub_last = np.maximum.reduce([subs.start_sec, canceled_at, ended_at])
    renewal_date = np.where(subs.renewal < NEVER, subs.renewal + w.start_day, NULL)

    subs_cols = {
        "subscription_id": sub_ids,
        "account_id": account_ids.take(pa.array(subs.cust)),
        "plan_name": _plan_names(subs.mrr, annual),
        "status": np.array(C.SUBSCRIPTION_STATUSES, dtype=object)[status],
        "billing_interval": np.where(annual, "year", "month").astype(object),
        "billing_interval_count": np.ones(n_sub, dtype=np.int64),
        "mrr": subs.mrr,
        "currency": np.full(n_sub, USD, dtype=object),
        "started_at": subs.start_sec,
        "ended_at": ended_at,
        "renewal_date": renewal_date,
        "canceled_at": canceled_at,
        "_synced_at": sync_times(rng, sub_last, w.export_sec, p.late_sync_share),
    }
    inv_last = np.maximum.reduce([issued, np.where(succ, paid_at, issued),
                                  np.where(inv_status == 3, np.minimum(due + 90 * DAY, w.export_sec), issued)])
    inv_cols = {
        "invoice_id": inv_ids,
        "account_id": account_ids.take(pa.array(cust[inv_order])),
        "subscription_id": sub_ids.take(pa.array(np.maximum(sub, 0)[inv_order], mask=(sub < 0)[inv_order])),
        "amount_due": amount[inv_order],
        "currency": np.full(n_inv, USD, dtype=object),
        "status": np.array(C.INVOICE_STATUSES, dtype=object)[inv_status[inv_order]],
        "issued_at": issued[inv_order],
        "due_at": due[inv_order],
        "_synced_at": sync_times(rng, inv_last[inv_order], w.export_sec, p.late_sync_share),
    }
    pay_cols = {
        "payment_id": make_ids("pay_", np.arange(1, n_pay + 1), 8),
        "invoice_id": inv_ids.take(pa.array(inv_rank[p_inv])),
        "account_id": account_ids.take(pa.array(cust[p_inv])),
        "amount": amount[p_inv],
        "currency": np.full(n_pay, USD, dtype=object),
        "status": np.array(C.PAYMENT_STATUSES, dtype=object)[p_status],
        "paid_at": p_at,
        "_synced_at": sync_times(rng, p_at, w.export_sec, p.late_sync_share),
    }
    ord_cols = {
        "order_id": make_ids("ord_", np.arange(1, n_ord + 1), 8),
        "account_id": account_ids.take(pa.array(o_cust)),
        "ordered_at": o_sec,
        "amount": o_cents,
        "currency": np.full(n_ord, USD, dtype=object),
        "status": np.array(C.ORDER_STATUSES, dtype=object)[o_status],
        "_synced_at": sync_times(rng, o_sec, w.export_sec, p.late_sync_share),
    }
    return {"billing.subscriptions": subs_cols, "billing.invoices": inv_cols,
            "billing.payments": pay_cols, "billing.orders": ord_cols}
