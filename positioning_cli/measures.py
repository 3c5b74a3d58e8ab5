"""Measures of one dated series: changes, percentiles, price returns, quadrant, divergence score;
and the one rule of an index's or sector's SI change, like for like (``like_for_like``).

DOMAIN.md "Metrics", to the letter, on numpy arrays only: ``scan`` and ``summary`` compute their
index rows from cached levels without importing pandas (its import alone costs more than the
rest of a warm scan). A series is a pair of arrays, ``days`` (numpy datetime64 of any unit, or
anything ``days()`` converts) and ``values`` (float, NaN = no value); pandas callers pass
``series.index`` and ``series.to_numpy()``. Dates come back as ``numpy.datetime64`` in days.

When the data are too short to define a number the result is NaN (empyrical's contract), never an
exception, so a scan over thousands of symbols does not stop on one thin history.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import numpy as np

# A price more stale than this cannot anchor a return or a price percentile.
PRICE_STALE_DAYS = 7
# A semi-monthly series misses the exact start of a window by up to ~16 days without being short.
WINDOW_TOLERANCE_DAYS = 16
# A window percentile needs at least half of the observations a full window holds at the series'
# cadence (README "Choices"). The percentile of the latest of n values can only take n values and
# is 100 whenever the latest is the highest so far: from 1 or 2 reports it says "100th percentile"
# about nothing. Half a window bounds the step at 100/n <= 8.3 points for a 1Y SI percentile and
# spans at least half the seasons of a year. Below it the percentile is null with a reason.
MIN_WINDOW_SHARE = 0.5
SI_REPORTS_PER_YEAR = 24  # FINRA: two settlement dates a month
PRICE_CLOSES_PER_YEAR = 252  # NYSE trading days

QUADRANT_KEYS: dict[str, str] = {
    "shorts pressing into strength": "pressing_into_strength",
    "shorts confirmed": "shorts_confirmed",
    "short-covering rally": "short_covering_rally",
    "shorts exiting weakness": "exiting_weakness",
}

Day = np.datetime64


@dataclass(frozen=True)
class Change:
    """x(d)/x(base) − 1 as a fraction (0.039 = +3.9%); NaN when it is undefined."""

    value: float
    base_date: Day | None


@dataclass(frozen=True)
class Percentile:
    """Where x(d) sits in its own trailing window, and how much of the window the data cover."""

    value: float  # 100 × share of observations in (d − W, d] that are <= x(d); 100 = highest
    n_obs: int
    first_obs: Day | None  # earliest observation inside the window
    window_complete: bool  # False: the store holds less than W, say so instead of a full-window figure
    covered_days: int  # d − first_obs
    min_obs: int = 0  # fewer observations in the window than this: value is NaN (``missing`` says why)
    sparse_date: bool = False  # d is a sparse settlement date (analytics/coverage.py): value is NaN

    @property
    def missing(self) -> str | None:
        """Why ``value`` is NaN for lack of observations or a sparse date; None otherwise."""
        if self.sparse_date:
            return "a sparse settlement date (too few symbols held) is not ranked"
        if self.n_obs >= self.min_obs:
            return None
        return f"{self.n_obs} observations in the window, fewer than the {self.min_obs} required"


def min_observations(window_days: int | None, per_year: int) -> int:
    """Fewest observations a window percentile is computed from: ``MIN_WINDOW_SHARE`` of a full
    window at ``per_year`` observations a year ("all history" counts as one year)."""
    years = 1.0 if window_days is None else window_days / 365
    return math.ceil(MIN_WINDOW_SHARE * per_year * years)


# --------------------------------------------------------------------------------------------- dates


def day(x: Any) -> Day:
    """One scalar date type: datetime64[D] from a date, a datetime (pandas Timestamps included: the
    time of day is dropped, an aware one read on its own wall clock), a numpy datetime64 or an ISO
    date or date-time string. ValueError for anything else, NaT included."""
    if isinstance(x, np.datetime64):
        if np.isnat(x):
            raise ValueError(f"not a date: {x!r}")
        return x.astype("datetime64[D]")
    found: object = None
    if isinstance(x, datetime):
        found = x.date()  # pandas NaT gives NaT, not a date
    elif isinstance(x, date):
        found = x
    elif isinstance(x, str):
        text = x.strip()
        try:
            found = date.fromisoformat(text)
        except ValueError:
            try:
                found = datetime.fromisoformat(text).date()
            except ValueError:
                found = None
    if type(found) is not date:
        raise ValueError(f"not a date: {x!r}")
    return np.datetime64(found, "D")


def days(values: Any) -> np.ndarray:
    """Dates (numpy datetime64 of any unit, a pandas DatetimeIndex or Series, a list of dates) as
    a datetime64[D] array."""
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[D]")
    return np.array([day(v) for v in arr.tolist()], dtype="datetime64[D]")


def to_date(d: Day) -> date:
    """The datetime.date of a datetime64 day (for isoformat and date arithmetic with stdlib dates)."""
    out: date = d.astype("datetime64[D]").astype(object)
    return out


def iso(d: Day | None) -> str | None:
    return None if d is None else to_date(d).isoformat()


def _series(days_: Any, values: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(days, values)`` as datetime64[D] and float64, in date order."""
    t = days(days_)
    v = np.asarray(values, dtype="float64")
    if len(t) > 1 and not bool((t[1:] >= t[:-1]).all()):
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
    return t, v


def _value_at(t: np.ndarray, v: np.ndarray, d: Day) -> float:
    pos = int(np.searchsorted(t, d, side="left"))
    if pos >= len(t) or t[pos] != d:
        return math.nan
    return float(v[pos])


# ------------------------------------------------------------------------------------------- changes


def previous_date(dates: Any, d: Any, kind: str) -> Day | None:
    """Base date of a change: "last" = the observation before d; "ytd" = the last on or before Dec 31 of
    the previous year; "12m" = the last on or before d − 365 days. None when the history is too short."""
    dd = day(d)
    side: Literal["left", "right"] = "right"
    if kind == "last":
        cutoff, side = dd, "left"
    elif kind == "ytd":
        year = int(dd.astype("datetime64[Y]").astype(int)) + 1970
        cutoff = np.datetime64(f"{year - 1}-12-31", "D")
    elif kind == "12m":
        cutoff = dd - np.timedelta64(365, "D")
    else:
        raise ValueError(f"unknown change kind {kind!r} (last, ytd, 12m)")
    held = np.unique(days(dates))
    pos = int(np.searchsorted(held, cutoff, side=side)) - 1
    return None if pos < 0 else held[pos]


def ratio_change(now: float, base: float) -> float:
    if math.isnan(now) or math.isnan(base) or base == 0:
        return math.nan
    return now / base - 1.0


# What each change compares: a constituent set held fixed, or each date's own (JSON ``*_basis``).
LIKE_FOR_LIKE = "like_for_like"
OWN_MEMBERSHIP = "own_membership"
# The counts behind a like-for-like change, per change kind: the constituents compared and those left
# out (split or one-sided). One list for the index and sector rows' keys.
LIKE_FOR_LIKE_COUNT_KEYS = (
    "si_change_compared_last",
    "si_change_compared_ytd",
    "si_change_compared_12m",
    "si_change_excluded_last",
    "si_change_excluded_ytd",
    "si_change_excluded_12m",
)


@dataclass(frozen=True)
class Matched:
    """The constituents a like-for-like change of total SI compares, with their SI on both dates.

    ``keys``, ``now`` and ``base`` are aligned (one entry per compared constituent); ``split`` are the
    constituents left out for a split flag in (base, d], ``unmatched`` those with an SI row on only one
    of the two dates. Both are keys, so a caller can count them per group (sector)."""

    keys: np.ndarray
    now: np.ndarray
    base: np.ndarray
    split: np.ndarray
    unmatched: np.ndarray

    @property
    def value(self) -> float:
        """Σ SI(d) / Σ SI(base) − 1 over the compared constituents; NaN when none are."""
        if not len(self.keys):
            return math.nan
        return ratio_change(float(self.now.sum()), float(self.base.sum()))

    def subset(self, keys: Any) -> Matched:
        """The same comparison restricted to ``keys`` (a sector's constituents)."""
        inside = np.isin(self.keys, keys)
        return Matched(
            self.keys[inside],
            self.now[inside],
            self.base[inside],
            self.split[np.isin(self.split, keys)],
            self.unmatched[np.isin(self.unmatched, keys)],
        )


def like_for_like(
    constituents: Any, now_keys: Any, now_si: Any, base_keys: Any, base_si: Any, flagged: Any
) -> Matched:
    """The one rule of an index or sector SI change (DOMAIN.md "change of a level", README "Choices"):
    the same constituents at both dates — ``constituents``, the members of the snapshot used for d —
    that have an SI row (a number) on both dates, less any symbol in ``flagged`` (a split flag in
    (base, d]: its two figures count different shares). So a reconstitution between base and d moves
    neither sum. Keys are symbols or symbol codes, one row per key and date."""
    members = np.asarray(constituents)
    sides = []
    for keys, si in ((now_keys, now_si), (base_keys, base_si)):
        k, v = np.asarray(keys), np.asarray(si, dtype="float64")
        ok = np.isin(k, members) & ~np.isnan(v)
        sides.append((k[ok], v[ok]))
    (nk, nv), (bk, bv) = sides
    split = np.union1d(nk[np.isin(nk, flagged)], bk[np.isin(bk, flagged)])
    keep_n, keep_b = ~np.isin(nk, split), ~np.isin(bk, split)
    nk, nv, bk, bv = nk[keep_n], nv[keep_n], bk[keep_b], bv[keep_b]
    common, i_now, i_base = np.intersect1d(nk, bk, return_indices=True)
    unmatched = np.setxor1d(nk, bk)
    return Matched(common, nv[i_now], bv[i_base], split, unmatched)


def change(days_: Any, values: Any, d: Any, kind: str) -> Change:
    """x(d)/x(base) − 1 with the base from ``previous_date``. The base is a date of the series even when
    its value is NaN: skipping to an older report would silently change what "since last" means."""
    t, v = _series(days_, values)
    base = previous_date(t, d, kind)
    if base is None:
        return Change(math.nan, None)
    return Change(ratio_change(_value_at(t, v, day(d)), _value_at(t, v, base)), base)


# ---------------------------------------------------------------------------------------- percentiles


def _percentile(
    t: np.ndarray,
    v: np.ndarray,
    d: Day,
    x: float,
    window_days: int | None,
    tolerance_days: int,
    per_year: int,
    left_out: np.ndarray | None = None,
) -> Percentile:
    held = ~np.isnan(v) & (t <= d)  # point in time: nothing after d exists yet
    sparse_d = False
    if left_out is not None and len(left_out):
        held &= ~np.isin(t, left_out)
        sparse_d = bool((left_out == d).any())
    t, v = t[held], v[held]
    if window_days is None:
        in_window = np.ones(len(t), dtype=bool)
        complete = True
    else:
        start = d - np.timedelta64(window_days, "D")
        in_window = t > start
        complete = len(t) > 0 and bool(t.min() <= start + np.timedelta64(tolerance_days, "D"))
    win_t, win_v = t[in_window], v[in_window]
    n = len(win_v)
    first = win_t.min() if n else None
    covered = int((d - first).astype(int)) if first is not None else 0
    need = max(1, min_observations(window_days, per_year))
    value = math.nan if math.isnan(x) or n < need or sparse_d else 100.0 * float((win_v <= x).sum()) / n
    return Percentile(value, n, first, bool(complete), covered, need, sparse_d)


def percentile(
    days_: Any,
    values: Any,
    d: Any,
    window_days: int | None,
    tolerance_days: int = WINDOW_TOLERANCE_DAYS,
    per_year: int = SI_REPORTS_PER_YEAR,
    left_out: Any = None,
) -> Percentile:
    """Percentile of x(d) in its trailing window (d − W, d]: 100 × share of observations <= x(d).

    Ties count as <=, so 100 = highest in the window. ``window_days=None`` uses all history up to d.
    ``window_complete`` is False when the series' first observation is later than d − W + tolerance
    (a semi-monthly series misses the exact window start by up to ~16 days without being short).
    NaN with fewer than ``min_observations(window_days, per_year)`` observations in the window.
    ``left_out``: dates whose observations are not counted (sparse settlement dates,
    analytics/coverage.py); when d is one of them the value is NaN (``sparse_date``).
    """
    t, v = _series(days_, values)
    dd = day(d)
    skip = None if left_out is None else days(left_out)
    return _percentile(t, v, dd, _value_at(t, v, dd), window_days, tolerance_days, per_year, skip)


def _closes(days_: Any, closes: Any) -> tuple[np.ndarray, np.ndarray]:
    t, v = _series(days_, closes)
    keep = ~np.isnan(v)
    return t[keep], v[keep]


def _close_on_or_before(t: np.ndarray, v: np.ndarray, d: Day) -> tuple[float, Day | None]:
    pos = int(np.searchsorted(t, d, side="right")) - 1
    if pos < 0:
        return math.nan, None
    return float(v[pos]), t[pos]


def _stale(at: Day | None, when: Day) -> bool:
    return at is None or int((when - at).astype(int)) > PRICE_STALE_DAYS


def price_return(days_: Any, closes: Any, start: Any, end: Any) -> float:
    """close on or before end / close on or before start − 1.

    NaN when either close is missing or older than 7 days before its date: a stale price would report a
    return over a different period than the one asked for.
    """
    t, v = _closes(days_, closes)
    result = []
    for when in (day(start), day(end)):
        px, at = _close_on_or_before(t, v, when)
        if _stale(at, when):
            return math.nan
        result.append(px)
    return ratio_change(result[1], result[0])


def price_percentile(days_: Any, closes: Any, d: Any, window_days: int | None) -> Percentile:
    """Percentile of the close on d among the daily closes in (d − W, d] (same rules as ``percentile``).

    The close on d is the last close on or before d within 7 days, so a settlement date on a market
    holiday still has a price; the completeness tolerance is 7 days since prices are daily.
    """
    t, v = _closes(days_, closes)
    dd = day(d)
    px, at = _close_on_or_before(t, v, dd)
    if _stale(at, dd):
        px = math.nan
    return _percentile(t, v, dd, px, window_days, PRICE_STALE_DAYS, PRICE_CLOSES_PER_YEAR)


# ------------------------------------------------------------------------------------------ divergence


def quadrant(si_change: float, price_change: float) -> str | None:
    """DOMAIN quadrant by the signs of ΔSI and the price return; None when a sign is undefined (NaN or 0)."""
    if any(v is None or math.isnan(v) or v == 0 for v in (si_change, price_change)):
        return None
    if si_change > 0:
        return "shorts pressing into strength" if price_change > 0 else "shorts confirmed"
    return "short-covering rally" if price_change > 0 else "shorts exiting weakness"


def divergence_score(si_pct: float, price_pct: float) -> float:
    """Ranking score for "shorts expanding into strength": sqrt(si_pct × price_pct).

    The geometric mean of the SI percentile and the price percentile, both 0–100 over the 1Y window.
    Bounded 0–100; 100 only when SI and price both sit at their 1Y highs; low when either is low (a
    geometric mean is pulled down by its smaller input, so one extreme alone cannot rank a name high);
    increasing in each input. Explainable from the two percentiles: score² = si_pct × price_pct.
    NaN when either percentile is NaN.
    """
    if si_pct is None or price_pct is None or math.isnan(si_pct) or math.isnan(price_pct):
        return math.nan
    for v in (si_pct, price_pct):
        if not 0.0 <= v <= 100.0:
            raise ValueError(f"percentile {v} outside 0-100")
    return math.sqrt(si_pct * price_pct)


def score_missing(
    si_pct: float | None, price_pct: float | None, si_why: str | None = None, price_why: str | None = None
) -> str | None:
    """Why ``divergence_score`` is null, in words for the row; None when the score exists.

    ``si_why`` / ``price_why`` say why that percentile is missing when the caller knows more (no
    price series for the proxy, too few reports in the window...).
    """
    parts = []
    if si_pct is None or math.isnan(si_pct):
        parts.append(si_why or "no 1Y short-interest percentile")
    if price_pct is None or math.isnan(price_pct):
        parts.append(price_why or "no 1Y price percentile")
    return "; ".join(parts) or None


def rank_key(score: float | None, name: str) -> tuple[bool, float, str]:
    """The order of every ranking: highest score first, rows without a score (null/NaN) last, ties
    (and the unscored among themselves) by name ascending, so a rank never depends on input order."""
    missing = score is None or math.isnan(score)
    return (missing, 0.0 if missing or score is None else -score, name)
