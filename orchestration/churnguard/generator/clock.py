"""Time helpers: the simulation window, billing boundaries, times of day, sync delays.

Internally every instant is an ``int64`` count of seconds since 1970-01-01 UTC and
every day is an integer offset from the window start (day 0 = ``start_date``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

DAY = 86_400
HOUR = 3_600
NULL = np.iinfo(np.int64).min  # null marker for timestamp, date and integer columns
NEVER = 10_000_000  # a day index that never comes ("no end")


def epoch_day(d: date) -> int:
    return (d - date(1970, 1, 1)).days


@dataclass(frozen=True)
class Window:
    """The simulated window ``[start, start + days)`` and the export instant."""

    start: date
    days: int

    @property
    def start_day(self) -> int:  # days since 1970-01-01
        return epoch_day(self.start)

    @property
    def start_sec(self) -> int:
        return self.start_day * DAY

    @property
    def end_sec(self) -> int:
        """First instant after the window (exclusive end)."""
        return self.start_sec + self.days * DAY

    @property
    def export_sec(self) -> int:
        """When the raw export was taken: the last second of the window. Nothing is later."""
        return self.end_sec - 1

    def day_sec(self, day) -> np.ndarray:
        """Midnight UTC of window-relative day(s)."""
        return self.start_sec + np.asarray(day, dtype=np.int64) * DAY

    def weekday(self, day) -> np.ndarray:
        """0 = Monday ... 6 = Sunday for window-relative day(s)."""
        return (np.asarray(day, dtype=np.int64) + self.start_day + 3) % 7  # 1970-01-01 was a Thursday


def _month_start_day(months: np.ndarray) -> np.ndarray:
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def _month_of(days_abs: np.ndarray) -> np.ndarray:
    return days_abs.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def next_boundary(anchor, step, x, start_abs: int) -> np.ndarray:
    """First billing boundary of a term anchored on day ``anchor`` that is on or after day ``x``.

    Boundaries fall every ``step`` months (1 = monthly, 12 = yearly) on the anchor's day
    of month (29th-31st clipped to the 28th), strictly after the anchor. All days are
    window-relative; ``start_abs`` is the window start in days since 1970-01-01.
    """
    anchor = np.asarray(anchor, dtype=np.int64)
    x = np.clip(np.asarray(x, dtype=np.int64), -20_000, 20_000)
    step = np.asarray(step, dtype=np.int64)
    anchor_abs = anchor + start_abs
    x_abs = x + start_abs
    ma = _month_of(anchor_abs)
    dom = np.minimum(anchor_abs - _month_start_day(ma), 27)
    mx = _month_of(x_abs)
    k = np.maximum(1, (mx - ma) // step)
    b = _month_start_day(ma + k * step) + dom
    k = np.where(b < x_abs, k + 1, k)
    b = _month_start_day(ma + k * step) + dom
    return b - start_abs


def working_seconds(rng: np.random.Generator, n: int, tz_offset_h: np.ndarray,
                    mean_h: float = 13.0, sd_h: float = 2.8, anytime_share: float = 0.10) -> np.ndarray:
    """Seconds after UTC midnight for events that follow the customer's local office hours.

    The local time is converted to UTC and wrapped into the same UTC day, so an event
    always stays on the day it was drawn for.
    """
    local = np.clip(rng.normal(mean_h, sd_h, n), 6.0, 23.0)
    anytime = rng.random(n) < anytime_share
    local = np.where(anytime, rng.random(n) * 24.0, local)
    sec = (local * HOUR).astype(np.int64)
    return (sec - np.asarray(tz_offset_h, dtype=np.int64) * HOUR) % DAY


def sync_times(rng: np.random.Generator, event_sec: np.ndarray, export_sec: int, late_share: float) -> np.ndarray:
    """``_synced_at`` for rows whose last change happened at ``event_sec``.

    Most rows reach the export a few minutes to a few hours later (log-normal, median
    ~1.5 h, capped at 20 h); a share ``late_share`` arrives 1-5 days late. The export is taken at the
    window end, so the value is clamped to ``export_sec``: a row whose sync would fall
    after the export is written with ``_synced_at = export_sec`` (never after it).
    """
    event_sec = np.asarray(event_sec, dtype=np.int64)
    n = event_sec.size
    delay = np.minimum(rng.lognormal(np.log(1.5 * HOUR), 1.0, n), 20 * HOUR)
    late = rng.random(n) < late_share
    delay = np.where(late, rng.uniform(1.0, 5.0, n) * DAY, delay)
    return np.minimum(event_sec + delay.astype(np.int64) + 1, export_sec)
