"""trend.py against an independent plain-Python computation on real price files, plus hand cases."""

from __future__ import annotations

import csv
import math
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from positioning_cli import trend as t

PRICES = Path(__file__).resolve().parents[2] / "shared/data/real/prices"
FILES = [
    PRICES / "yahoo_xjcarter" / "SPY.csv",
    PRICES / "yahoo_xjcarter" / "IWM.csv",
    PRICES / "yfinance_alitalbi" / "QQQ.csv",
]


def _read(path: Path) -> list[tuple[date, float, float, float]]:
    """(date, close, high, low) rows by header name, skipping rows without a close; sorted by date."""
    if not path.is_file():
        pytest.skip(f"real price file not present: {path} (lives in ../shared, outside the repo)")
    out = []
    with path.open(newline="") as fh:
        for rec in csv.DictReader(fh):
            try:
                c, h, lo = float(rec["Close"]), float(rec["High"]), float(rec["Low"])
            except (ValueError, KeyError):
                continue
            if math.isnan(c):
                continue
            out.append((date.fromisoformat(rec["Date"][:10]), c, h, lo))
    out.sort()
    return out


def _frame(rows: list[tuple[date, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {"close": [r[1] for r in rows], "high": [r[2] for r in rows], "low": [r[3] for r in rows]},
        index=pd.DatetimeIndex([pd.Timestamp(r[0]) for r in rows]),
    )


# --- the independent reference: loops only ----------------------------------------------------------
def _ema_loop(closes: list[float], span: int) -> float:
    if len(closes) < span:
        return math.nan
    a = 2.0 / (span + 1)
    e = closes[0]
    for c in closes[1:]:
        e = a * c + (1 - a) * e
    return e


def _pct_b_loop(closes: list[float], n: int = 20) -> float:
    if len(closes) < n:
        return math.nan
    w = closes[-n:]
    mean = sum(w) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in w) / n)
    if sd == 0:
        return math.nan
    upper, lower = mean + 2 * sd, mean - 2 * sd
    return (w[-1] - lower) / (upper - lower)


def _keltner_loop(rows: list[tuple[date, float, float, float]], n: int = 20) -> float:
    trs = []
    for i, (_, _c, h, lo) in enumerate(rows):
        if i == 0:
            trs.append(h - lo)
        else:
            pc = rows[i - 1][1]
            trs.append(max(h - lo, abs(h - pc), abs(lo - pc)))
    if len(trs) < n:
        return math.nan
    atr = sum(trs[:n]) / n
    for tr in trs[n:]:
        atr = atr + (tr - atr) / n
    mid = _ema_loop([r[1] for r in rows], n)
    upper, lower = mid + 2 * atr, mid - 2 * atr
    return (rows[-1][1] - lower) / (upper - lower)


def _close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_prices_against_loops(path: Path) -> None:
    rows = _read(path)
    frame = _frame(rows)
    n = len(rows)
    # Early (short history: EMA 200 undefined), middle, and the very end; plus a date that is not a
    # trading day (uses the last close before it).
    picks = [15, 30, 120, n // 3, n // 2, n - 250, n - 1]
    for i in picks:
        d = rows[i][0]
        upto = rows[: i + 1]
        closes = [r[1] for r in upto]
        st = t.trend_state(frame, d)
        assert st.as_of == pd.Timestamp(d)
        assert st.n_obs == i + 1
        assert st.close == closes[-1]
        for span, got in ((8, st.ema8), (21, st.ema21), (50, st.ema50), (200, st.ema200)):
            assert _close(got, _ema_loop(closes, span)), (path.name, d, span)
        assert _close(st.bollinger_pct_b, _pct_b_loop(closes)), (path.name, d)
        assert _close(st.keltner_pos, _keltner_loop(upto)), (path.name, d)
        assert st.atr_method == ("wilder" if i + 1 >= 20 else None)
    # A Saturday after the 200th row: same state as the Friday (or whichever day came last before it).
    i = n // 2
    sat = rows[i][0] + timedelta(days=(5 - rows[i][0].weekday()) % 7 or 7)
    j = max(k for k, r in enumerate(rows) if r[0] <= sat)
    assert t.trend_state(frame, sat) == t.trend_state(frame, rows[j][0])


def test_future_rows_are_ignored() -> None:
    rows = _read(FILES[0])
    frame = _frame(rows)
    d = rows[1000][0]
    assert t.trend_state(frame, d) == t.trend_state(frame.iloc[:1001], d)


# --- hand cases ---------------------------------------------------------------------------------------
def _series(values: list[float], start: date = date(2024, 1, 1)) -> pd.DataFrame:
    idx = pd.DatetimeIndex([pd.Timestamp(start + timedelta(days=k)) for k in range(len(values))])
    return pd.DataFrame({"close": values}, index=idx)


def test_ema_by_hand() -> None:
    # span 3: alpha = 2/(3+1) = 0.5, seeded by the first close, NaN before the 3rd close.
    s = t.ema(pd.Series([10.0, 12.0, 13.0]), 3)
    assert math.isnan(s.iloc[0]) and math.isnan(s.iloc[1])
    # e0 = 10; e1 = .5*12 + .5*10 = 11; e2 = .5*13 + .5*11 = 12
    assert s.iloc[2] == 12.0


def test_constant_prices_pct_b_undefined() -> None:
    frame = _series([0.1] * 60)
    st = t.trend_state(frame, date(2024, 12, 31))
    assert math.isnan(st.bollinger_pct_b)
    assert st.ema_stack == "mixed"  # all EMAs equal: neither 8>21>50 nor 8<21<50
    assert math.isnan(st.keltner_pos)  # close-to-close ATR of a constant series is 0: no channel
    assert st.atr_method == "close-to-close"


def test_rising_prices_bullish_and_above_bands() -> None:
    frame = _series([100.0 + k for k in range(250)])
    st = t.trend_state(frame, date(2030, 1, 1))
    assert st.ema_stack == "bullish" and st.stack_through_200 is True
    assert st.ema8 > st.ema21 > st.ema50 > st.ema200
    # Linear rise of 1/day over 20 closes: mean = last − 9.5, population σ = sqrt((20²−1)/12) = 5.766…
    sigma = math.sqrt((20**2 - 1) / 12)
    assert st.bollinger_pct_b == pytest.approx((9.5 + 2 * sigma) / (4 * sigma))
    # Close-to-close TR is 1 every day -> ATR 1; EMA 20 of a unit ramp lags by (20−1)/2 = 9.5 in the limit.
    assert st.atr20 == pytest.approx(1.0)
    assert st.keltner_pos == pytest.approx((9.5 + 2.0) / 4.0, rel=1e-6)
    assert st.label == "above Keltner channel, EMA stack bullish (through EMA 200)"


def test_falling_prices_bearish_and_short_history() -> None:
    st = t.trend_state(_series([200.0 - k for k in range(60)]), date(2030, 1, 1))
    assert st.ema_stack == "bearish" and st.stack_through_200 is None  # no EMA 200 yet
    assert math.isnan(st.ema200)
    assert st.label.endswith("EMA stack bearish")
    short = t.trend_state(_series([1.0, 2.0, 3.0]), date(2030, 1, 1))
    assert short.ema_stack is None and math.isnan(short.bollinger_pct_b)
    assert short.label == "bands undefined (short history), EMA stack undefined"
    empty = t.trend_state(_series([1.0]), date(2000, 1, 1))
    assert empty.n_obs == 0 and empty.label == "no price data"


def test_wilder_atr_by_hand() -> None:
    # n = 3: TRs 2, 4, 6 seed 4; then 9 -> 4 + (9 − 4)/3 = 5.6667
    atr = t.wilder_atr(pd.Series([2.0, 4.0, 6.0, 9.0]), 3)
    assert math.isnan(atr.iloc[1])
    assert atr.iloc[2] == 4.0
    assert atr.iloc[3] == pytest.approx(4 + 5 / 3)
    # True range uses the previous close on gaps: H 12, L 11, prev close 8 -> 4.
    tr = t.true_range(pd.Series([8.0, 11.5]), pd.Series([9.0, 12.0]), pd.Series([7.0, 11.0]))
    assert list(tr) == [2.0, 4.0]
