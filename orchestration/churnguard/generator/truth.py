"""The ground truth: who churned when, and why (``_truth/churn_truth.csv``).

No model reads this file; it is the answer key for evaluating the health score and
the warnings. One row per churn event (``churn_number`` 1, 2, ...) for customers that
churned, and one row with ``churn_number`` 0 for every customer that did not.

Churn dates follow the warehouse's churn definitions, computed from the raw rows the generator wrote:

- subscription: ``churned_on`` = the first day without service (the date of the last
  subscription's ``ended_at``) when no new subscription starts within the 30-day grace
  gap. Grace returns in this world are 1-28 days, reactivations 35+ days, so the
  edge of the gap is never ambiguous.
- activity: ``churned_on`` = last login day + 90 (the first day with 90 days since the
  last login); order: last completed order day + 180. The last activity before the
  window start is unknown (tracking began at the window start), so a churn needs
  activity inside the window (or an in-window signup) before the gap.

``churn_observed`` is false for churns that the export cannot show: ``churned_on`` on or
after the window end (included when the decline started inside the window, so that a
warning raised near the end of the window counts as a true positive), and the rare
activity/order customer that stopped early in the window without a single login or
order since tracking began (its ``churned_on`` is then estimated from the stop day).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .. import contract as C
from .clock import NEVER, Window
from .daily import DailyResult
from .world import (ACT, CHURN_TYPES, EVENT_NAMES, GRADUAL, HORIZON, LAPSE, NOISE, NONE, ORD, PAUSE, RECOVER,
                    SAVED, SUB, SUDDEN, Customers, Lifecycle)

COLUMNS = ("customer_id", "churn_number", "archetype", "segment", "business_model", "created_on",
           "decline_started_on", "left_on", "churned_on", "churn_observed", "reactivated_on", "intervened",
           "history")
THRESHOLD = {ACT: 90, ORD: 180}


def _iso(w: Window, day) -> str:
    if day is None or day >= NEVER // 2:
        return ""
    return str(np.datetime64(int(day) + w.start_day, "D"))


def _activity_churns(cu: Customers, lc: Lifecycle, daily: DailyResult, w: Window, bm: int):
    """Churns found by the churn definition in the simulated activity, matched to simulated events.

    Returns (customer, last_activity_day, next_activity_day or None, slot or None, observable)."""
    D, thr = w.days, THRESHOLD[bm]
    custs = np.flatnonzero(cu.bm == bm)
    if custs.size == 0:
        return []
    act = (daily.login_any if bm == ACT else daily.order_any)[custs].copy()
    created = cu.created_day[custs]
    new = (created >= 0) & (created < D)
    act[np.flatnonzero(new), created[new]] = True  # signing up counts as the first sign of life
    rows, days = np.nonzero(act)
    out = []
    same = rows[1:] == rows[:-1]
    gap = days[1:] - days[:-1]
    hit = np.flatnonzero(same & (gap > thr))
    for i in hit:
        out.append((custs[rows[i]], int(days[i]), int(days[i + 1])))
    last_idx = np.flatnonzero(np.r_[~same, True])  # last activity of each row
    for i in last_idx:
        c = custs[rows[i]]
        out.append((c, int(days[i]), None))
    # match to simulated churn slots
    result = []
    used = set()
    for c, last, nxt in out:
        slots = [k for k in range(lc.typ.shape[1]) if lc.typ[c, k] in CHURN_TYPES
                 and last < lc.off_a[c, k] <= (nxt if nxt is not None else NEVER)]
        k = slots[0] if slots else None
        if nxt is None and k is None and last + thr >= D:
            continue  # quiet at the very end but not churned in the simulation: not (yet) churn
        if k is not None:
            used.add((c, k))
        result.append((c, last, nxt, k, True))
    # simulated churns the raw rows cannot show: stopping after the export, or stopping early in
    # the window without a single login/order since tracking began (their last activity is unknown)
    ck = np.argwhere(np.isin(lc.typ, CHURN_TYPES) & (cu.bm == bm)[:, None])
    for c, k in ck:
        if (c, k) in used:
            continue
        if lc.off_a[c, k] >= D + HORIZON or (lc.off_a[c, k] >= D and (lc.typ[c, k] != GRADUAL or lc.a[c, k] >= D)):
            continue
        result.append((c, int(min(lc.off_a[c, k], D + HORIZON) - 1), None, k, False))
    return result


def build_truth(cu: Customers, lc: Lifecycle, daily: DailyResult, w: Window, account_ids) -> list[dict]:
    D = w.days
    ids = account_ids.to_pylist()
    segs = C.SEGMENTS
    bms = C.BUSINESS_MODELS
    itv_in_window = lc.itv & (lc.open_day >= 0) & (lc.open_day < D)
    churn_rows: dict[int, list[dict]] = {}

    def history(c: int) -> str:
        parts = []
        for k in range(lc.typ.shape[1]):
            t = lc.typ[c, k]
            if t == NONE:
                continue
            day = lc.off_a[c, k] if t in (SUDDEN, GRADUAL, LAPSE, PAUSE) else lc.a[c, k]
            if day < D:
                parts.append(f"{EVENT_NAMES[t]}@{_iso(w, day)}")
        return ";".join(parts)

    def base(c: int) -> dict:
        return {"customer_id": ids[c], "segment": segs[cu.seg[c]], "business_model": bms[cu.bm[c]],
                "created_on": _iso(w, cu.created_day[c]), "history": history(c)}

    # a churn after the export only counts for customers who are still customers at the export
    alive_at_end = lc.alive_on(np.arange(cu.n), np.full(cu.n, D - 1), cu.created_day)

    # subscription customers: straight from the simulated service interruptions
    sub_ck = np.argwhere(np.isin(lc.typ, CHURN_TYPES) & (cu.bm == SUB)[:, None])
    for c, k in sub_ck:
        off_a = lc.off_a[c, k]
        if not (off_a < D or (lc.typ[c, k] == GRADUAL and lc.a[c, k] < D and off_a < D + HORIZON
                              and alive_at_end[c])):
            continue
        off_b = lc.off_b[c, k]
        churn_rows.setdefault(c, []).append({
            "archetype": EVENT_NAMES[lc.typ[c, k]], "decline_day": lc.a[c, k] if lc.typ[c, k] == GRADUAL else None,
            "left": off_a, "churned": off_a, "react": off_b if off_b < D else None,
            "intervened": bool(itv_in_window[c, k])})
    # activity and order customers: the churn definition applied to what was generated
    for bm in (ACT, ORD):
        thr = THRESHOLD[bm]
        for c, last, nxt, k, observable in _activity_churns(cu, lc, daily, w, bm):
            if k is not None and lc.off_a[c, k] >= D and not alive_at_end[c]:
                continue
            typ = lc.typ[c, k] if k is not None else None
            churn_rows.setdefault(c, []).append({"observable": observable,
                "archetype": EVENT_NAMES[typ] if k is not None else "inactive_gap",
                "decline_day": lc.a[c, k] if typ == GRADUAL else None,
                "left": last + 1, "churned": last + thr, "react": nxt if nxt is not None and nxt < D else None,
                "intervened": bool(itv_in_window[c, k]) if k is not None else False})

    rows = []
    for c in range(cu.n):
        if c in churn_rows:
            events = sorted(churn_rows[c], key=lambda e: e["churned"])
            b = base(c)
            for i, e in enumerate(events, start=1):
                rows.append({**b, "churn_number": i, "archetype": e["archetype"],
                             "decline_started_on": _iso(w, e["decline_day"]),
                             "left_on": _iso(w, e["left"]), "churned_on": _iso(w, e["churned"]),
                             "churn_observed": "true" if e["churned"] < D and e.get("observable", True)
                             else "false",
                             "reactivated_on": _iso(w, e["react"]),
                             "intervened": "true" if e["intervened"] else "false"})
            continue
        # not churned: the most telling thing that happened inside the window
        arch, decline = "healthy", None
        for t, name in ((SAVED, "saved"), (RECOVER, "recovered"), (LAPSE, "grace_return"), (PAUSE, "pause"),
                        (NOISE, "noise_dip")):
            ks = [k for k in range(lc.typ.shape[1]) if lc.typ[c, k] == t and
                  (lc.off_a[c, k] if t in (LAPSE, PAUSE) else lc.a[c, k]) < D and
                  (lc.c[c, k] >= 0 or t in (LAPSE, PAUSE))]
            if ks:
                arch = name
                decline = lc.a[c, ks[0]] if t in (SAVED, RECOVER) else None
                break
        rows.append({**base(c), "churn_number": 0, "archetype": arch, "decline_started_on": _iso(w, decline),
                     "left_on": "", "churned_on": "", "churn_observed": "false", "reactivated_on": "",
                     "intervened": "true" if itv_in_window[c].any() else "false"})
    return rows


def write_truth(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        wr = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        wr.writeheader()
        for r in rows:
            wr.writerow({k: r[k] for k in COLUMNS})
