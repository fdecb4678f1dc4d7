"""Contacts at the customer: a few *positions* per account, each held by a chain of people.

Position 0 is the decision maker. A holder leaves (``valid_to``) and a replacement
takes the position the same day or after a vacancy of up to three weeks. Holders
change at a low background rate, and much more often during an at-risk episode
(the decision maker leaves in 35 % of gradual churns and 15 % of saved or recovered
episodes): a key-contact change is an early-warning signal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .clock import NEVER
from .world import ENT, MID, OFF_CHURN, Customers, Lifecycle

P_MAX = 5  # positions per account at most
J = 3  # holder changes per position at most


@dataclass
class ContactBook:
    npos: np.ndarray  # positions per account
    pos_start: np.ndarray  # (n, P) day the first holder started
    chg: np.ndarray  # (n, P, J) day a holder left (NEVER: none)
    gap: np.ndarray  # (n, P, J) vacancy days before the replacement started
    base: np.ndarray  # (n, P) contact number of the first holder
    total: int

    def holder(self, cust: np.ndarray, pos: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Contact number holding ``pos`` of ``cust`` on ``day``, or -1 when vacant."""
        day = np.asarray(day)
        ch = self.chg[cust, pos]  # (m, J)
        left = (ch <= day[:, None]).sum(1)
        started = (ch + self.gap[cust, pos] <= day[:, None]).sum(1)
        ok = (pos < self.npos[cust]) & (day >= self.pos_start[cust, pos]) & (left == started)
        return np.where(ok, self.base[cust, pos] + started, -1)

    def rows(self):
        """Flat per-contact arrays: customer, position, holder index, valid_from day, valid_to day."""
        n = self.npos.size
        holders = 1 + (self.chg < NEVER).sum(2)  # (n, P)
        holders = np.where(np.arange(P_MAX)[None, :] < self.npos[:, None], holders, 0)
        cust = np.repeat(np.repeat(np.arange(n), P_MAX), holders.ravel())
        pos = np.repeat(np.tile(np.arange(P_MAX), n), holders.ravel())
        first = np.repeat(self.base.ravel(), holders.ravel())
        number = np.arange(first.size)
        # holder index within the position: running index minus the position's first row
        pos_first_row = np.repeat(np.cumsum(holders.ravel()) - holders.ravel(), holders.ravel())
        j = number - pos_first_row
        ch = self.chg[cust, pos]
        gp = self.gap[cust, pos]
        prev = np.clip(j - 1, 0, J - 1)
        valid_from = np.where(j == 0, self.pos_start[cust, pos],
                              ch[np.arange(j.size), prev] + gp[np.arange(j.size), prev])
        valid_to = np.where(j < J, ch[np.arange(j.size), np.minimum(j, J - 1)], NEVER)
        assert np.array_equal(first + j, number)
        return cust, pos, j, valid_from, valid_to


def build_contacts(rng: np.random.Generator, cu: Customers, lc: Lifecycle, days: int) -> ContactBook:
    n = cu.n
    npos = np.select([cu.seg == ENT, cu.seg == MID], [rng.integers(3, 6, n), rng.integers(2, 5, n)],
                     rng.integers(1, 3, n))
    pos_start = cu.created_day[:, None] + np.where(np.arange(P_MAX)[None, :] == 0, 0,
                                                   rng.integers(0, 61, (n, P_MAX)))
    final_off = np.where((lc.off_kind == OFF_CHURN) & (lc.off_b >= NEVER), lc.off_a, NEVER).min(1)
    limit = np.minimum(final_off, days)[:, None]  # no CRM changes after the final churn or the export
    # later positions are filled within two months of signup, but never after the export or the churn
    pos_start = np.minimum(pos_start, np.maximum(cu.created_day[:, None], limit - 1))

    # background turnover: ~10 % of contacts a year
    gaps = rng.exponential(3650.0, (n, P_MAX, J))
    chg = (pos_start[:, :, None] + np.cumsum(gaps, axis=2)).astype(np.int64)
    # forced decision-maker changes during at-risk episodes
    forced = np.sort(lc.dm_change, axis=1)[:, :J]  # (n, J) (K >= J)
    dm = np.sort(np.concatenate([chg[:, 0, :], forced], axis=1), axis=1)[:, :J]
    chg[:, 0, :] = dm
    gap = np.where(rng.random((n, P_MAX, J)) < 0.6, 0, rng.integers(1, 22, (n, P_MAX, J)))
    # enforce order: a change happens after the previous replacement started, before the limit
    prev_start = pos_start.copy()
    for j in range(J):
        cj = np.maximum(chg[:, :, j], prev_start + 1)
        cj = np.where(cj < limit, cj, NEVER)
        chg[:, :, j] = cj
        prev_start = np.where(cj < NEVER, cj + gap[:, :, j], NEVER - 1)
    # once a position stops changing it stays that way
    for j in range(1, J):
        chg[:, :, j] = np.where(chg[:, :, j - 1] >= NEVER, NEVER, chg[:, :, j])
    gap = np.where(chg < NEVER, gap, 0)
    # a replacement starts before the limit (never after the export or the final churn)
    gap = np.where(chg < NEVER, np.minimum(gap, np.maximum(limit[:, :, None] - 1 - chg, 0)), 0)
    valid = np.arange(P_MAX)[None, :] < npos[:, None]
    holders = np.where(valid, 1 + (chg < NEVER).sum(2), 0)
    base = (np.cumsum(holders.ravel()) - holders.ravel()).reshape(n, P_MAX)
    return ContactBook(npos=npos, pos_start=pos_start, chg=chg, gap=gap, base=base, total=int(holders.sum()))
