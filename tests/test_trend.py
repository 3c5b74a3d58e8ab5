"""trend.py against an independent plain-Python computation on real price files, plus hand cases."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
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


def _arrays(rows: list[tuple[date, float, float, float]]) -> tuple[np.ndarray, ...]:
    """(days as datetime64[D], close, high, low) arrays, the shape ``trend_state`` takes."""
    days = np.array([r[0] for r in rows], dtype="datetime64[D]")
    return days, *(np.array([r[k] for r in rows], dtype=float) for k in (1, 2, 3))


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
    days, close, high, low = _arrays(rows)
    n = len(rows)
    # Early (short history: EMA 200 undefined), middle, and the very end; plus a date that is not a
    # trading day (uses the last close before it).
    picks = [15, 30, 120, n // 3, n // 2, n - 250, n - 1]
    for i in picks:
        d = rows[i][0]
        upto = rows[: i + 1]
        closes = [r[1] for r in upto]
        st = t.trend_state(days, close, high, low, d)
        assert st.as_of == np.datetime64(d, "D")
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
    assert t.trend_state(days, close, high, low, sat) == t.trend_state(days, close, high, low, rows[j][0])


def test_future_rows_are_ignored_and_order_does_not_matter() -> None:
    rows = _read(FILES[0])
    days, close, high, low = _arrays(rows)
    d = rows[1000][0]
    st = t.trend_state(days, close, high, low, d)
    assert st == t.trend_state(days[:1001], close[:1001], high[:1001], low[:1001], d)
    # Shuffled rows, nanosecond timestamps, and d as a pandas.Timestamp / numpy.datetime64 / datetime.
    perm = np.random.default_rng(0).permutation(len(rows))
    ns = days.astype("datetime64[ns]")[perm]
    for when in (pd.Timestamp(d), np.datetime64(d, "ns"), datetime(d.year, d.month, d.day, 23, 59)):
        assert t.trend_state(ns, close[perm], high[perm], low[perm], when) == st


# --- hand cases ---------------------------------------------------------------------------------------
def _series(values: list[float], start: date = date(2024, 1, 1)) -> tuple[np.ndarray, np.ndarray]:
    days = np.datetime64(start, "D") + np.arange(len(values))
    return days, np.array(values, dtype=float)


def test_ema_by_hand() -> None:
    # span 3: alpha = 2/(3+1) = 0.5, seeded by the first close, NaN before the 3rd close.
    # e0 = 10; e1 = .5*12 + .5*10 = 11; e2 = .5*13 + .5*11 = 12
    assert t.ema_last([10.0, 12.0, 13.0], 3) == 12.0
    assert math.isnan(t.ema_last([10.0, 12.0], 3))
    assert t.ema_last([10.0, 12.0, 13.0], 1) == 13.0
    assert t.ema_last([10.0, 12.0, 13.0], 2) == pytest.approx(2 / 3 * 13 + 1 / 3 * (2 / 3 * 12 + 1 / 3 * 10))


def test_constant_prices_pct_b_undefined() -> None:
    st = t.trend_state(*_series([0.1] * 60), None, None, date(2024, 12, 31))
    assert math.isnan(st.bollinger_pct_b)
    assert st.ema8 == st.ema21 == st.ema50 == 0.1  # exact: the closed form is centred on the last close
    assert st.ema_stack == "mixed"  # all EMAs equal: neither 8>21>50 nor 8<21<50
    assert math.isnan(st.keltner_pos)  # close-to-close ATR of a constant series is 0: no channel
    assert st.atr_method == "close-to-close"


def test_rising_prices_bullish_and_above_bands() -> None:
    st = t.trend_state(*_series([100.0 + k for k in range(250)]), None, None, date(2030, 1, 1))
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
    st = t.trend_state(*_series([200.0 - k for k in range(60)]), None, None, date(2030, 1, 1))
    assert st.ema_stack == "bearish" and st.stack_through_200 is None  # no EMA 200 yet
    assert math.isnan(st.ema200)
    assert st.label.endswith("EMA stack bearish")
    short = t.trend_state(*_series([1.0, 2.0, 3.0]), None, None, date(2030, 1, 1))
    assert short.ema_stack is None and math.isnan(short.bollinger_pct_b)
    assert short.label == "bands undefined (short history), EMA stack undefined"
    empty = t.trend_state(*_series([1.0]), None, None, date(2000, 1, 1))
    assert empty.n_obs == 0 and empty.as_of is None and empty.label == "no price data"
    nothing = t.trend_state(np.array([], dtype="datetime64[ns]"), np.array([]), None, None, date(2030, 1, 1))
    assert nothing.n_obs == 0 and nothing.label == "no price data"


def test_nan_closes_dropped_and_missing_high_low_falls_back() -> None:
    days, close = _series([10.0 + (k % 7) for k in range(40)])
    high, low = close + 1.0, close - 1.0
    gappy = close.copy()
    gappy[[3, 17, 39]] = np.nan
    st = t.trend_state(days, gappy, high, low, date(2030, 1, 1))
    keep = ~np.isnan(gappy)
    assert st == t.trend_state(days[keep], close[keep], high[keep], low[keep], date(2030, 1, 1))
    assert st.n_obs == 37 and st.as_of == days[38]
    assert st.atr_method == "wilder"
    low_gap = low.copy()
    low_gap[5] = np.nan
    assert t.trend_state(days, close, high, low_gap, date(2030, 1, 1)).atr_method == "close-to-close"


def test_wilder_atr_by_hand() -> None:
    # n = 3: TRs 2, 4, 6 seed 4; then 9 -> 4 + (9 − 4)/3 = 5.6667
    assert math.isnan(t.wilder_atr_last([2.0, 4.0], 3))
    assert t.wilder_atr_last([2.0, 4.0, 6.0], 3) == 4.0
    assert t.wilder_atr_last([2.0, 4.0, 6.0, 9.0], 3) == pytest.approx(4 + 5 / 3)
    assert t.wilder_atr_last([math.nan, 2.0, 4.0, 6.0, math.nan, 9.0], 3) == pytest.approx(4 + 5 / 3)
    # True range uses the previous close on gaps: H 12, L 11, prev close 8 -> 4.
    tr = t.true_range(np.array([8.0, 11.5]), np.array([9.0, 12.0]), np.array([7.0, 11.0]))
    assert list(tr) == [2.0, 4.0]


# --- against pandas: the previous implementation, kept here as the reference from another library -------
def _pd_ema(close: pd.Series, span: int) -> pd.Series:
    return close.astype("float64").ewm(span=span, adjust=False, min_periods=span).mean()


def _pd_true_range(close: pd.Series, high: pd.Series | None, low: pd.Series | None) -> pd.Series:
    c = close.astype("float64")
    prev = c.shift(1)
    c2c = (c - prev).abs()
    if high is None or low is None:
        return c2c
    h, lo = high.astype("float64"), low.astype("float64")
    full = pd.concat([h - lo, (h - prev).abs(), (lo - prev).abs()], axis=1).max(axis=1, skipna=True)
    return full.where(h.notna() & lo.notna(), c2c)


def _pd_wilder_atr(tr: pd.Series, n: int = 20) -> pd.Series:
    values = tr.astype("float64")
    valid = np.flatnonzero(values.notna().to_numpy())
    out = pd.Series(np.nan, index=tr.index)
    if len(valid) < n:
        return out
    seed_end = int(valid[n - 1]) + 1  # the seed (mean of the first n valid TRs) sits on the n-th of them
    s = values.copy()
    s.iloc[: seed_end - 1] = np.nan
    s.iloc[seed_end - 1] = float(values.iloc[valid[:n]].mean())
    atr = s.ewm(alpha=1.0 / n, adjust=False, ignore_na=True).mean()
    atr.iloc[: seed_end - 1] = np.nan
    return atr


def _pd_last(s: pd.Series) -> float:
    return math.nan if len(s) == 0 or pd.isna(s.iloc[-1]) else float(s.iloc[-1])


def _pd_reference(days: np.ndarray, close: np.ndarray, high: np.ndarray | None, low: np.ndarray | None, d):
    cols = {"close": close} | ({} if high is None or low is None else {"high": high, "low": low})
    frame = pd.DataFrame(cols, index=pd.DatetimeIndex(days)).sort_index(kind="stable")
    frame = frame[frame.index <= pd.Timestamp(d).normalize()]
    frame = frame[frame["close"].notna()]
    c = frame["close"]
    if len(c) == 0:
        return None
    h, lo = (frame["high"], frame["low"]) if "high" in frame else (None, None)
    atr = _pd_last(_pd_wilder_atr(_pd_true_range(c, h, lo)))
    mid = _pd_last(_pd_ema(c, 20))
    w = c.to_numpy()[-20:]
    sd = float(np.std(w)) if len(w) == 20 else math.nan
    return {
        "as_of": np.datetime64(c.index[-1], "D"),
        "n_obs": len(c),
        "close": float(c.iloc[-1]),
        **{f"ema{span}": _pd_last(_pd_ema(c, span)) for span in (8, 21, 50, 200)},
        "bollinger_pct_b": (w[-1] - (w.mean() - 2 * sd)) / (4 * sd)
        if sd > 1e-12 * max(abs(w.mean()), 1)
        else math.nan,
        "atr20": atr,
        "keltner_pos": (c.iloc[-1] - (mid - 2 * atr)) / (4 * atr) if atr > 0 else math.nan,
        "atr_method": None
        if math.isnan(atr)
        else (
            "wilder"
            if h is not None and lo is not None and h.notna().all() and lo.notna().all()
            else "close-to-close"
        ),
    }


def _rel_close(a: float, b: float, abs_tol: float = 0.0) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=abs_tol)


def _random_case(rng: np.random.Generator, case: int):
    n = int(rng.choice([0, 1, 5, 7, 8, 19, 20, 21, 49, 50, 199, 200, 201, 450, 1800]))
    kind = case % 4
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, n))) if kind != 3 else np.full(n, 37.25)
    spread = np.abs(rng.normal(0.0, 0.01, n)) * close
    high, low = close + spread * rng.uniform(0, 1, n), close - spread * rng.uniform(0, 1, n)
    if kind == 1 and n:  # NaN closes (and the odd NaN high)
        close[rng.random(n) < 0.1] = np.nan
        high[rng.random(n) < 0.03] = np.nan
    days = np.datetime64("2016-03-01", "ns") + rng.permutation(n * 2)[:n].astype("timedelta64[D]")
    with_hl = case % 3 != 0
    # d: mostly late in the history (long series), sometimes after its end
    d = np.sort(days)[int(n * rng.uniform(0.6, 1.0))] if n and case % 5 else np.datetime64("2030-01-01")
    return days, close, (high if with_hl else None), (low if with_hl else None), d


def test_trend_state_matches_pandas_reference() -> None:
    rng = np.random.default_rng(20240601)
    worst = 0.0
    for case in range(400):
        days, close, high, low, d = _random_case(rng, case)
        st = t.trend_state(days, close, high, low, d)
        ref = _pd_reference(days, close, high, low, d)
        if ref is None:
            assert st.n_obs == 0 and st.as_of is None
            continue
        assert (st.as_of, st.n_obs, st.close, st.atr_method) == (
            ref["as_of"],
            ref["n_obs"],
            ref["close"],
            ref["atr_method"],
        ), case
        for key in ("ema8", "ema21", "ema50", "ema200", "atr20"):
            got, want = getattr(st, key), ref[key]
            assert _rel_close(got, want), (case, key, got, want)
            if not math.isnan(want) and want:
                worst = max(worst, abs(got - want) / abs(want))
        # %B and the Keltner position are ratios of differences (close − lower band): near 0 their
        # relative error is unbounded, so they get an absolute floor too (at the 1e-12 scale of a band).
        for key in ("bollinger_pct_b", "keltner_pos"):
            assert _rel_close(getattr(st, key), ref[key], abs_tol=1e-12), (case, key)
        if not math.isnan(ref["ema50"]) and all(  # the stack, unless two EMAs tie to rounding
            abs(ref[a] - ref[b]) > 1e-9 * abs(ref[b]) for a, b in (("ema8", "ema21"), ("ema21", "ema50"))
        ):
            want_stack = (
                "bullish"
                if ref["ema8"] > ref["ema21"] > ref["ema50"]
                else "bearish"
                if ref["ema8"] < ref["ema21"] < ref["ema50"]
                else "mixed"
            )
            assert st.ema_stack == want_stack, case
    assert worst < 1e-12


def test_last_values_match_pandas_series() -> None:
    """ema_last and wilder_atr_last on every prefix length agree with pandas' series at that row."""
    rng = np.random.default_rng(7)
    for n in (0, 1, 3, 20, 21, 22, 25, 40, 300, 2500):
        close = 20.0 * np.exp(np.cumsum(rng.normal(0.0, 0.03, n)))
        high, low = close * (1 + rng.uniform(0, 0.02, n)), close * (1 - rng.uniform(0, 0.02, n))
        ends = sorted({*range(1, min(n, 30) + 1), *rng.integers(1, n + 1, 20).tolist()}) if n else []
        for span in (1, 2, 8, 20, 200):
            want = _pd_ema(pd.Series(close), span).to_numpy()
            for k in ends:
                assert _rel_close(t.ema_last(close[:k], span), float(want[k - 1])), (n, span, k)
        # NaN closes and highs, including inside the ATR seed window.
        gappy = close.copy()
        gappy[rng.random(n) < 0.1] = np.nan
        h = high.copy()
        h[rng.random(n) < 0.1] = np.nan
        for args in ((close, None, None), (gappy, None, None), (close, h, low), (gappy, h, low)):
            ps, ph, pl = (None if a is None else pd.Series(a) for a in args)
            assert ps is not None
            tr = t.true_range(*args)
            np.testing.assert_array_equal(tr, _pd_true_range(ps, ph, pl).to_numpy())
            want_atr = _pd_wilder_atr(pd.Series(tr)).to_numpy()
            for k in ends:
                got, ref = t.wilder_atr_last(tr[:k]), float(want_atr[k - 1])
                if math.isnan(ref) and not math.isnan(got):  # pandas carries the last value over a NaN TR
                    ref = _pd_last(_pd_wilder_atr(pd.Series(tr[:k])))
                assert _rel_close(got, ref), (n, k)


def test_import_does_not_load_pandas() -> None:
    code = "import sys, positioning_cli.trend; assert 'pandas' not in sys.modules, 'pandas imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
