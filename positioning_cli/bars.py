"""Intraday bars: interval names, the interval a file's timestamps show, and 4-hour session bars.

Pure functions, numpy and the standard library only (``scan --trend-bars`` imports this module).
The 4-hour bars are those of a chart of the regular session (09:30–16:00 New York time) aligned to
the session open: 09:30–13:30 and 13:30–16:00. The second bar is 2½ hours long (the session is 6½
hours); on an early close (13:00) the 09:30–13:00 bar is the only one of the day. Bars of the
smaller interval outside the session (pre-market, after hours) are dropped. open = first, high =
max, low = min, close = last, volume = sum; a high or low (or volume) missing from any bar of the
group leaves the 4-hour one missing too, rather than a max over part of the group.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import numpy as np

NY = ZoneInfo("America/New_York")
SESSION_OPEN = time(9, 30)
SESSION_CLOSE = time(16, 0)
_OPEN_MIN = SESSION_OPEN.hour * 60 + SESSION_OPEN.minute
# --trend-bars values: "1d" is the daily close series (prices table), the others session bars.
TREND_BARS = ("1d", "4h")
_INTERVAL_RE = re.compile(r"^\s*(\d+)\s*(m|min|h|hr)\s*$", re.IGNORECASE)


def interval_minutes(text: str) -> int:
    """'30m' -> 30, '1h' / '60m' -> 60; ValueError for anything else (days are not intraday)."""
    m = _INTERVAL_RE.match(text)
    if not m or int(m.group(1)) <= 0:
        raise ValueError(f"interval {text!r}: expected minutes or hours, e.g. 5m, 30m, 1h")
    minutes = int(m.group(1)) * (60 if m.group(2).lower().startswith("h") else 1)
    if minutes >= 24 * 60:
        raise ValueError(f"interval {text!r} is not intraday")
    return minutes


def interval_name(minutes: int) -> str:
    """The one spelling stored: whole hours as 'Nh' (yfinance's '60m' is '1h'), else 'Nm'."""
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def infer_interval(ts_us: np.ndarray, days: np.ndarray) -> int:
    """The bar length in minutes: the most common spacing between consecutive bars of one day
    (``ts_us``: sorted distinct UTC microseconds; ``days``: each bar's session day, any comparable
    values). Gaps over the night are not spacings. ValueError when a day's spacing is not a
    multiple of it (bars of two intervals mixed) or no day has two bars."""
    t = np.asarray(ts_us, dtype=np.int64)
    same_day = np.asarray(days[1:]) == np.asarray(days[:-1])
    gaps = (t[1:] - t[:-1])[same_day]
    if len(gaps) == 0:
        raise ValueError("cannot infer the interval: no day has two bars; pass --interval")
    if (gaps % 60_000_000).any():
        raise ValueError("bars a fraction of a minute apart; pass --interval")
    minutes = gaps // 60_000_000
    values, counts = np.unique(minutes, return_counts=True)
    mode = int(values[np.argmax(counts)])  # ties: the shortest (np.unique sorts)
    odd = minutes % mode != 0
    if odd.any():
        other = int(minutes[np.flatnonzero(odd)[0]])
        raise ValueError(
            f"mixed spacing: bars {mode} and {other} minutes apart within a day; one interval per file"
        )
    return mode


@dataclass(frozen=True)
class Bars:
    """Bars in time order: ``ts`` = start (datetime64[us], UTC); NaN where a value is missing."""

    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


def _ny(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1e6, UTC).astimezone(NY)


def _utc_us(day: date, minute: int) -> int:
    local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=NY)
    return int(local.timestamp() * 1_000_000)


def session_bars(
    bars: Bars, interval_min: int, *, early_closes: Mapping[date, time] | None = None, hours: int = 4
) -> Bars:
    """Bars of ``interval_min`` minutes grouped into ``hours``-hour bars of the regular session,
    aligned to 09:30 New York time. ``early_closes``: session days closing before 16:00, with their
    close (fetch/calendar.py ``early_closes``). ValueError when a bar would straddle two groups
    (an interval that does not fit the 4-hour grid, e.g. 90-minute bars starting 12:30)."""
    span = hours * 60
    if interval_min > span:
        raise ValueError(f"{interval_name(interval_min)} bars are longer than {hours}-hour bars")
    closes = early_closes or {}
    order = np.argsort(np.asarray(bars.ts, dtype="datetime64[us]").view(np.int64), kind="stable")
    us = np.asarray(bars.ts, dtype="datetime64[us]").view(np.int64)[order]
    cols = [np.asarray(c, dtype=np.float64)[order] for c in (bars.open, bars.high, bars.low, bars.close)]
    vol = np.asarray(bars.volume, dtype=np.float64)[order]
    keys: list[tuple[date, int]] = []
    rows: list[int] = []
    for i, t in enumerate(us.tolist()):
        local = _ny(t)
        day = local.date()
        m = local.hour * 60 + local.minute - _OPEN_MIN
        close = closes.get(day, SESSION_CLOSE)
        close_m = close.hour * 60 + close.minute - _OPEN_MIN
        if m < 0 or m >= close_m:
            continue  # pre-market or after hours
        group = m // span
        last_minute = m + min(interval_min, close_m - m) - 1  # a bar cut by the close ends there
        if last_minute // span != group:
            raise ValueError(
                f"a {interval_name(interval_min)} bar at {local:%Y-%m-%d %H:%M} New York time straddles"
                f" the {hours}-hour bars (aligned to 09:30); use bars of an interval that divides {hours}h"
            )
        keys.append((day, group))
        rows.append(i)
    if not rows:
        empty = np.array([], dtype=np.float64)
        return Bars(np.array([], dtype="datetime64[us]"), empty, empty, empty, empty, empty)
    idx = np.asarray(rows)
    # rows are in time order, so each group's rows are consecutive
    starts = [0] + [j for j in range(1, len(keys)) if keys[j] != keys[j - 1]]
    bounds = [*starts, len(keys)]
    o, h, lo, c = (col[idx] for col in cols)
    v = vol[idx]
    out_ts: list[int] = []
    out: dict[str, list[float]] = {"open": [], "high": [], "low": [], "close": [], "volume": []}
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        day, group = keys[a]
        out_ts.append(_utc_us(day, _OPEN_MIN + group * span))
        out["open"].append(float(o[a]))
        out["high"].append(float(h[a:b].max()))  # NaN if any is NaN: missing, not a partial max
        out["low"].append(float(lo[a:b].min()))
        out["close"].append(float(c[b - 1]))
        out["volume"].append(float(v[a:b].sum()))
    return Bars(
        np.array(out_ts, dtype=np.int64).view("datetime64[us]"),
        *(np.array(out[k], dtype=np.float64) for k in ("open", "high", "low", "close", "volume")),
    )
