"""Support tables: tickets, CSAT ratings, NPS responses."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .. import contract as C
from .clock import DAY, HOUR, NULL, Window, sync_times
from .contacts import P_MAX, ContactBook
from .daily import DailyResult
from .names import CSAT_COMMENTS, NPS_COMMENTS, SUBJECTS
from .params import GeneratorParams
from .world import CATEGORIES, CATEGORY_BASE_P, Customers, Lifecycle
from .writer import make_ids

RESOLUTION_MEDIAN_H = np.array([60.0, 30.0, 12.0, 5.0])  # low, normal, high, urgent


def _ids_or_null(ids: pa.Array, idx: np.ndarray) -> pa.Array:
    return ids.take(pa.array(np.maximum(idx, 0), mask=idx < 0))


def build_support(rng, cu: Customers, lc: Lifecycle, book: ContactBook, daily: DailyResult, w: Window,
                  p: GeneratorParams, account_ids: pa.Array, contact_ids: pa.Array) -> dict[str, dict]:
    t = daily.tickets
    order = np.lexsort((t["cust"], t["sec"]))
    cust, day, created = t["cust"][order], t["day"][order], t["sec"][order]
    h = t["h"][order]
    m = cust.size

    # category: struggling customers keep raising the same kind of problem
    p_dom = np.clip(1.6 * (0.9 - h), 0.0, 0.8)
    base_cat = np.searchsorted(np.cumsum(CATEGORY_BASE_P), rng.random(m) * CATEGORY_BASE_P.sum(), side="right")
    category = np.where(rng.random(m) < p_dom, cu.dom_category[cust], np.minimum(base_cat, len(CATEGORIES) - 1))
    # priority: severe (high/urgent) tickets become common as health falls
    p_severe = 0.10 + 0.55 * (1.0 - h) ** 1.2
    u = rng.random(m)
    priority = np.where(u < p_severe, np.where(rng.random(m) < 0.3, 3, 2), np.where(rng.random(m) < 0.35, 0, 1))
    res_h = RESOLUTION_MEDIAN_H[priority] * (1.0 + (1.0 - h)) * rng.lognormal(0.0, 0.9, m)
    reopen = rng.poisson(0.06 + 0.6 * (1.0 - h) ** 1.5)
    extra_h = np.zeros(m)
    for r in range(int(reopen.max()) if m else 0):  # each reopen adds another round of work
        extra_h += np.where(reopen > r, rng.lognormal(np.log(24.0), 0.8, m), 0.0)
    solved = created + ((res_h + extra_h) * HOUR).astype(np.int64) + 60
    stuck = rng.random(m) < 0.01
    unsolved = (solved > w.export_sec) | stuck
    solved_at = np.where(unsolved, NULL, solved)
    age = w.export_sec - created
    v = rng.random(m)
    status = np.select([unsolved & (age < DAY) & (v < 0.5), unsolved & (v < 0.6), unsolved],
                       [0, 1, 2], np.where(solved < w.export_sec - 4 * DAY, 4, 3))  # new/open/pending/solved/closed
    pos = (rng.random(m) * book.npos[cust]).astype(np.int64)
    requester = book.holder(cust, pos, day)
    requester = np.where(rng.random(m) < 0.10, -1, requester)
    subj_idx = rng.integers(0, 5, m)
    subjects = np.array([SUBJECTS[c] for c in CATEGORIES], dtype=object)[category, subj_idx]
    subj_null = rng.random(m) < 0.03
    ticket_ids = make_ids("tkt_", np.arange(1, m + 1), 7)
    last_change = np.where(unsolved, created, solved)
    tickets = {
        "ticket_id": ticket_ids,
        "account_id": account_ids.take(pa.array(cust)),
        "requester_contact_id": _ids_or_null(contact_ids, requester),
        "subject": pa.array(np.where(subj_null, None, subjects).tolist(), type=pa.string()),
        "category": np.array(CATEGORIES, dtype=object)[category],
        "priority": np.array(C.TICKET_PRIORITIES, dtype=object)[priority],
        "status": np.array(C.TICKET_STATUSES, dtype=object)[status],
        "created_at": created,
        "solved_at": solved_at,
        "reopen_count": reopen.astype(np.int64),
        "_synced_at": sync_times(rng, last_change, w.export_sec, p.late_sync_share),
    }

    # CSAT on a share of solved tickets; unhappy customers answer a bit more often
    rate_p = p.csat_response_share * (0.85 + 0.3 * (1.0 - h))
    rated = ~unsolved & (rng.random(m) < rate_p)
    rated_at = solved + np.minimum(rng.lognormal(np.log(6 * HOUR), 1.0, m), 7 * DAY).astype(np.int64) + 30
    rated &= rated_at <= w.export_sec
    ri = np.flatnonzero(rated)
    ri = ri[np.argsort(rated_at[ri], kind="stable")]
    quality = np.clip(h[ri] - 0.12 * reopen[ri] - 0.1 * (priority[ri] >= 2), 0.0, 1.0)
    score = np.clip(np.round(1.2 + 4.0 * quality ** 1.2 + rng.normal(0.0, 0.75, ri.size)), 1, 5).astype(np.int64)
    k = ri.size
    pick = rng.integers(0, 3, k)
    comments = np.array([CSAT_COMMENTS[s][i % len(CSAT_COMMENTS[s])] for s, i in zip(score, pick)], dtype=object)
    has_comment = rng.random(k) < 0.35
    csat = {
        "rating_id": make_ids("csat_", np.arange(1, k + 1), 7),
        "ticket_id": ticket_ids.take(pa.array(ri)),
        "account_id": account_ids.take(pa.array(cust[ri])),
        "score": score,
        "rated_at": rated_at[ri],
        "comment": pa.array(np.where(has_comment, comments, None).tolist(), type=pa.string()),
        "_synced_at": sync_times(rng, rated_at[ri], w.export_sec, p.late_sync_share),
    }

    # NPS: a survey wave per account about every quarter, sent to every current contact
    n = cu.n
    period = p.nps_interval_days
    offset = rng.integers(0, period, n)
    parts = {k: [] for k in ("cust", "pos", "day")}
    for wave in range(w.days // period + 2):
        wave_day = offset + wave * period
        for pos in range(P_MAX):
            ok = (pos < book.npos) & (wave_day < w.days) & (wave_day >= cu.created_day + 30)
            idx = np.flatnonzero(ok)
            resp_day = wave_day[idx] + np.minimum(np.floor(rng.exponential(2.0, idx.size)), 14).astype(np.int64)
            hh = daily.h(idx, resp_day)
            answer = rng.random(idx.size) < p.nps_response_share * (0.5 + 0.5 * hh)
            idx, resp_day = idx[answer], resp_day[answer]
            parts["cust"].append(idx); parts["pos"].append(np.full(idx.size, pos)); parts["day"].append(resp_day)
    n_cust = np.concatenate(parts["cust"]); n_pos = np.concatenate(parts["pos"]); n_day = np.concatenate(parts["day"])
    ok = (n_day < w.days) & lc.service_on(n_cust, n_day, cu.created_day)
    n_cust, n_pos, n_day = n_cust[ok], n_pos[ok], n_day[ok]
    contact = book.holder(n_cust, n_pos, n_day)
    keep = contact >= 0
    n_cust, n_day, contact = n_cust[keep], n_day[keep], contact[keep]
    j = n_cust.size
    resp_sec = w.day_sec(n_day) + rng.integers(7 * HOUR, 22 * HOUR, j) - cu.tz[n_cust] * HOUR
    resp_sec = np.clip(resp_sec, w.day_sec(n_day), w.day_sec(n_day) + DAY - 1)
    order = np.lexsort((n_cust, resp_sec))
    n_cust, n_day, contact, resp_sec = n_cust[order], n_day[order], contact[order], resp_sec[order]
    hh = daily.h(n_cust, n_day)
    nps_score = np.clip(np.round(10.0 * hh ** 1.3 + 0.6 + rng.normal(0.0, 1.4, j)), 0, 10).astype(np.int64)
    group = np.where(nps_score <= 6, "detractor", np.where(nps_score <= 8, "passive", "promoter"))
    pick = rng.integers(0, 5, j)
    comments = np.array([NPS_COMMENTS[g][i % len(NPS_COMMENTS[g])] for g, i in zip(group, pick)], dtype=object)
    has_comment = rng.random(j) < 0.3
    contact = np.where(rng.random(j) < 0.05, -1, contact)
    nps = {
        "response_id": make_ids("nps_", np.arange(1, j + 1), 7),
        "account_id": account_ids.take(pa.array(n_cust)),
        "contact_id": _ids_or_null(contact_ids, contact),
        "score": nps_score,
        "responded_at": resp_sec,
        "comment": pa.array(np.where(has_comment, comments, None).tolist(), type=pa.string()),
        "_synced_at": sync_times(rng, resp_sec, w.export_sec, p.late_sync_share),
    }
    return {"support.tickets": tickets, "support.csat_ratings": csat, "support.nps_responses": nps}
