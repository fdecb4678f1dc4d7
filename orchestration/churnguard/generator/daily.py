"""The day-by-day simulation: latent health, logins, interactions, tickets and orders.

One loop over days with numpy arrays over all customers. Logins are streamed to their
sink in chunks; the sparser event streams are collected and finished afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .clock import NULL, Window, sync_times, working_seconds
from .params import GeneratorParams
from .world import ORD, SUB, Customers, Lifecycle
from .writer import TableSink, make_ids

LOGIN_DOW = np.array([1.15, 1.2, 1.2, 1.15, 1.0, 0.2, 0.1]) * 7 / 6.0  # Monday..Sunday, mean 1
WORK_DOW = np.array([1.0, 1.0, 1.0, 1.0, 0.9, 0.04, 0.02])  # interactions
TICKET_DOW = np.array([1.0, 1.0, 1.0, 1.0, 0.9, 0.35, 0.3])
ORDER_DOW = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.4, 0.3])
HEALTH_SCALE = 250.0  # health stored as uint8 (0..250)


def season_factor(w: Window) -> np.ndarray:
    """Mild yearly seasonality: a holiday dip from Dec 22 to Jan 1, a softer August."""
    days = (np.arange(w.days) + w.start_day).astype("datetime64[D]")
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (days - days.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    f = np.ones(w.days)
    f[(month == 12) & (dom >= 22)] = 0.5
    f[(month == 1) & (dom == 1)] = 0.5
    f[month == 8] = 0.9
    return f


@dataclass
class DailyResult:
    health: np.ndarray  # uint8 (n, days)
    login_any: np.ndarray  # bool (n, days)
    order_any: np.ndarray  # bool (n, days): a completed order that day
    logins: int
    interactions: dict
    tickets: dict
    orders: dict

    def h(self, cust: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Latent health (0..1) for (customer, day) pairs; days outside the window are clipped."""
        d = np.clip(np.asarray(day), 0, self.health.shape[1] - 1)
        return self.health[cust, d] / HEALTH_SCALE


def _cat(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)


def run_days(rng: np.random.Generator, cu: Customers, lc: Lifecycle, w: Window, p: GeneratorParams,
             login_sink: TableSink, account_ids: pa.Array, chunk_rows: int = 2_000_000,
             mech: np.random.Generator | None = None) -> DailyResult:
    n, D = cu.n, w.days
    health = np.zeros((n, D), dtype=np.uint8)
    login_any = np.zeros((n, D), dtype=bool)
    order_any = np.zeros((n, D), dtype=bool)
    season = season_factor(w)
    weekday = w.weekday(np.arange(D))
    out_base = np.array(p.outbound_per_weekday)[cu.seg]
    in_base = np.array(p.inbound_per_weekday)[cu.seg]
    t_base = np.array(p.tickets_per_day)[cu.seg]
    is_ord = cu.bm == ORD
    addon_rate = np.where((cu.bm == SUB) & cu.addon, 1 / 90, 0.0)
    noise = rng.normal(0.0, 0.089, n)  # stationary start of the AR(1) noise
    # bursty purchases (gamma-Poisson): a per-customer "shopping mood" with mean 1 multiplies the order
    # rate; it is redrawn on a random day about every order_burst_days days, so orders cluster in spells
    k_burst = p.order_burst_shape
    bursty = k_burst > 0 and mech is not None
    mood = mech.gamma(k_burst, 1.0 / k_burst, n) if bursty else None

    login_buf: list[tuple] = []
    buffered = 0
    next_login = 1
    inter = {k: [] for k in ("cust", "day", "sec", "outbound", "h")}
    tick = {k: [] for k in ("cust", "day", "sec", "h")}
    orders = {k: [] for k in ("cust", "day", "sec", "h", "addon")}

    def flush():
        nonlocal login_buf, buffered, next_login
        if not login_buf:
            return
        cust = np.concatenate([b[0] for b in login_buf])
        sec = np.concatenate([b[1] for b in login_buf])
        user = np.concatenate([b[2] for b in login_buf])
        sess = np.concatenate([b[3] for b in login_buf])
        m = cust.size
        ids = make_ids("lgn_", np.arange(next_login, next_login + m), 9)
        next_login += m
        login_sink.write({
            "login_id": ids,
            "account_id": account_ids.take(pa.array(cust)),
            "user_id": make_ids("pu_", user, 8),
            "logged_in_at": sec,
            "session_seconds": sess,
            "_synced_at": sync_times(rng, sec, w.export_sec, p.late_sync_share),
        })
        login_buf = []
        buffered = 0

    for d in range(D):
        wd = weekday[d]
        noise = 0.92 * noise + rng.normal(0.0, 0.035, n)
        h = np.clip(cu.base_health * (1.0 + noise) * lc.event_factor(d), 0.02, 1.0)
        health[:, d] = np.round(h * HEALTH_SCALE).astype(np.uint8)
        churned, off = lc.off_today(d)
        started = d > cu.created_day
        alive = started & ~churned
        service = started & ~off
        day_sec = w.start_sec + d * 86_400

        # logins: healthy SMB ~4 a week; thin out fast as health falls (h**2); onboarding ramp in month one
        ramp = np.clip(0.55 + 0.45 * (d - cu.created_day) / 30.0, 0.55, 1.0)
        rate = cu.login_base * h ** 2.0 * ramp * (LOGIN_DOW[wd] * season[d]) * service
        cnt = rng.poisson(rate)
        login_any[:, d] = cnt > 0
        nz = np.flatnonzero(cnt)
        if nz.size:
            idx = np.repeat(nz, cnt[nz])
            m = idx.size
            tod = working_seconds(rng, m, cu.tz[idx], mean_h=13.0, sd_h=3.2, anytime_share=0.12)
            order = np.argsort(tod, kind="stable")
            idx, tod = idx[order], tod[order]
            n_act = np.maximum(1, np.round(cu.seats[idx] * (0.3 + 0.7 * h[idx]))).astype(np.int64)
            seat = np.minimum((n_act * rng.random(m) ** 1.7).astype(np.int64), n_act - 1)
            sess = (rng.lognormal(np.log(700.0), 0.9, m) * (0.5 + 0.5 * h[idx])).astype(np.int64)
            sess = np.where(rng.random(m) < 0.04, NULL, sess)
            login_buf.append((idx, day_sec + tod, cu.pu_base[idx] + seat, sess))
            buffered += m
            if buffered >= chunk_rows:
                flush()

        # interactions: vendor outreach (more when the AM senses trouble) and inbound contacts
        r_out = out_base * (1.0 + 0.5 * (1.0 - h)) * WORK_DOW[wd] * season[d] * alive
        r_in = in_base * (0.4 + 0.6 * h) * WORK_DOW[wd] * season[d] * alive
        for rate_, outbound in ((r_out, True), (r_in, False)):
            c = rng.poisson(rate_)
            nz = np.flatnonzero(c)
            if nz.size:
                idx = np.repeat(nz, c[nz])
                inter["cust"].append(idx)
                inter["day"].append(np.full(idx.size, d))
                inter["sec"].append(day_sec + working_seconds(rng, idx.size, cu.tz[idx], 11.5, 2.5, 0.03))
                inter["outbound"].append(np.full(idx.size, outbound))
                inter["h"].append(h[idx])

        # support tickets: more of them as health falls
        r_t = t_base * (1.0 + 5.0 * (1.0 - h) ** 1.5) * TICKET_DOW[wd] * (0.6 + 0.4 * season[d]) * service
        c = rng.poisson(r_t)
        nz = np.flatnonzero(c)
        if nz.size:
            idx = np.repeat(nz, c[nz])
            tick["cust"].append(idx)
            tick["day"].append(np.full(idx.size, d))
            tick["sec"].append(day_sec + working_seconds(rng, idx.size, cu.tz[idx], 12.0, 3.0, 0.15))
            tick["h"].append(h[idx])

        # orders: order-based buyers (frequency and size shrink with health) and add-ons
        if bursty:
            redraw = mech.random(n) < 1.0 / p.order_burst_days
            mood = np.where(redraw, mech.gamma(k_burst, 1.0 / k_burst, n), mood)
            o_rate = cu.order_rate * mood
        else:
            o_rate = cu.order_rate
        r_o = (np.where(is_ord, o_rate * (0.35 + 0.65 * h ** 1.2), 0.0) + addon_rate * h) \
            * ORDER_DOW[wd] * season[d] * service
        c = rng.poisson(r_o)
        nz = np.flatnonzero(c)
        if nz.size:
            idx = np.repeat(nz, c[nz])
            orders["cust"].append(idx)
            orders["day"].append(np.full(idx.size, d))
            orders["sec"].append(day_sec + working_seconds(rng, idx.size, cu.tz[idx], 12.0, 3.0, 0.2))
            orders["h"].append(h[idx])
            orders["addon"].append(~is_ord[idx])

    flush()

    inter_out = {"cust": _cat(inter["cust"], np.int64), "day": _cat(inter["day"], np.int64),
                 "sec": _cat(inter["sec"], np.int64), "outbound": _cat(inter["outbound"], bool),
                 "h": _cat(inter["h"], np.float64)}
    tick_out = {k: _cat(v, np.float64 if k == "h" else np.int64) for k, v in tick.items()}
    ord_out = {"cust": _cat(orders["cust"], np.int64), "day": _cat(orders["day"], np.int64),
               "sec": _cat(orders["sec"], np.int64), "h": _cat(orders["h"], np.float64),
               "addon": _cat(orders["addon"], bool)}
    # order status is settled here because "a purchase" (completed order) defines order-based churn
    h_o = ord_out["h"]
    u = rng.random(h_o.size)
    p_cancel = 0.03 + 0.10 * (1 - h_o)
    p_refund = 0.02 + 0.06 * (1 - h_o)
    ord_out["status"] = np.where(u < p_cancel, 2, np.where(u < p_cancel + p_refund, 1, 0))  # completed/refunded/canceled
    done = ord_out["status"] == 0
    order_any[ord_out["cust"][done], ord_out["day"][done]] = True
    return DailyResult(health=health, login_any=login_any, order_any=order_any, logins=next_login - 1,
                       interactions=inter_out, tickets=tick_out, orders=ord_out)
