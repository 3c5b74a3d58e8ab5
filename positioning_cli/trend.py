"""Price trend state from a daily close series: EMA stack, Bollinger %B, Keltner channel position.

Pure functions, no I/O. DOMAIN.md "Metrics": "trend state from the close: EMA stack (e.g. 8 > 21 > 50),
Bollinger %B (20, 2σ), position in the Keltner channel (EMA 20 ± 2 ATR)". Choices, written down once:

- EMA: alpha = 2 / (span + 1), recursive (pandas ``adjust=False``), seeded with the FIRST close
  (EMA_0 = close_0), and reported as NaN until ``span`` closes exist (the first value shown is at the
  span-th close). TA-Lib seeds with the SMA of the first ``span`` closes instead; on histories longer than
  a few spans the two agree to many digits, on short ones they differ — this module is the reference.
- Bollinger: middle = SMA of the last 20 closes, σ = POPULATION standard deviation (ddof = 0, as John
  Bollinger defines it), bands = middle ± 2σ, %B = (close − lower) / (upper − lower): 0 at the lower band,
  1 at the upper, > 1 above it. NaN with fewer than 20 closes or when σ = 0 (constant prices: no band).
- Keltner: middle = EMA 20 (as above), ATR 20 = Wilder's average true range: true range
  TR_t = max(high − low, |high − close_{t−1}|, |low − close_{t−1}|) (TR_0 = high − low), seeded with the
  mean of the first 20 TRs, then ATR_t = ATR_{t−1} + (TR_t − ATR_{t−1}) / 20 (an RMA, alpha 1/20).
  Channel = middle ± 2 × ATR; ``keltner_pos`` = (close − lower) / (upper − lower): 0 at the lower line,
  1 at the upper. Rows without high/low (a close-only source) use the close-to-close true range
  |close_t − close_{t−1}| (undefined on the first row); ``atr_method`` says which one was used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

EMA_SPANS = (8, 21, 50, 200)
BOLLINGER_N = 20
BOLLINGER_K = 2.0
KELTNER_N = 20
KELTNER_K = 2.0
# σ below this fraction of the mean is rounding noise on constant prices, not a band.
_SIGMA_EPS = 1e-12


@dataclass(frozen=True)
class TrendState:
    """Trend of one price series on one date (NaN / None where the history is too short)."""

    as_of: pd.Timestamp | None  # date of the last close used (on or before the requested date)
    n_obs: int  # closes on or before the requested date
    close: float
    ema8: float
    ema21: float
    ema50: float
    ema200: float
    ema_stack: str | None  # "bullish" (8>21>50), "bearish" (8<21<50), "mixed"; None without EMA 50
    stack_through_200: bool | None  # the stack continues to EMA 200 (bullish: 50>200, bearish: 50<200)
    bollinger_pct_b: float
    keltner_pos: float
    atr20: float
    atr_method: str | None  # "wilder" (high/low), "close-to-close" (any row lacked high/low), None
    label: str


def ema(close: pd.Series, span: int) -> pd.Series:
    """EMA with alpha = 2/(span+1), seeded by the first close, NaN before the span-th close."""
    if span < 1:
        raise ValueError(f"span must be >= 1, got {span}")
    return close.astype("float64").ewm(span=span, adjust=False, min_periods=span).mean()


def true_range(close: pd.Series, high: pd.Series | None = None, low: pd.Series | None = None) -> pd.Series:
    """Per-row true range; close-to-close |Δclose| on rows lacking high or low (NaN on the first such row)."""
    c = close.astype("float64")
    prev = c.shift(1)
    c2c = (c - prev).abs()
    if high is None or low is None:
        return c2c
    h = high.astype("float64")
    lo = low.astype("float64")
    hl = h - lo
    full = pd.concat([hl, (h - prev).abs(), (lo - prev).abs()], axis=1).max(axis=1, skipna=True)
    has_hl = h.notna() & lo.notna()
    return full.where(has_hl, c2c)


def wilder_atr(tr: pd.Series, n: int = KELTNER_N) -> pd.Series:
    """Wilder's ATR (RMA, alpha 1/n) seeded with the mean of the first n true ranges; NaN before that."""
    values = tr.astype("float64")
    valid = np.flatnonzero(values.notna().to_numpy())
    out = pd.Series(np.nan, index=tr.index)
    if len(valid) < n:
        return out
    t0 = int(valid[0])
    seed_end = t0 + n  # the first n TRs after the leading NaN(s)
    seed_slice = values.iloc[t0:seed_end]
    if seed_slice.isna().any():  # a gap inside the seed window: seed over the first n valid TRs instead
        seed_end = int(valid[n - 1]) + 1
        seed = float(values.iloc[valid[:n]].mean())
    else:
        seed = float(seed_slice.mean())
    s = values.copy()
    s.iloc[: seed_end - 1] = np.nan
    s.iloc[seed_end - 1] = seed
    atr = s.ewm(alpha=1.0 / n, adjust=False, ignore_na=True).mean()
    atr.iloc[: seed_end - 1] = np.nan
    return atr


def bollinger_pct_b(closes: np.ndarray, n: int = BOLLINGER_N, k: float = BOLLINGER_K) -> float:
    """%B of the last close over the last n closes (population σ); NaN if short or σ = 0."""
    if len(closes) < n:
        return math.nan
    window = np.asarray(closes[-n:], dtype="float64")
    mid = float(window.mean())
    sigma = float(window.std(ddof=0))
    if not sigma > _SIGMA_EPS * max(abs(mid), 1.0):
        return math.nan
    lower = mid - k * sigma
    return (float(window[-1]) - lower) / (2.0 * k * sigma)


def _last(s: pd.Series) -> float:
    v = s.iloc[-1] if len(s) else math.nan
    return math.nan if pd.isna(v) else float(v)


def _band_phrase(pct_b: float, kpos: float) -> str:
    if not math.isnan(pct_b) and pct_b > 1:
        return "above upper Bollinger band"
    if not math.isnan(pct_b) and pct_b < 0:
        return "below lower Bollinger band"
    if not math.isnan(kpos) and kpos > 1:
        return "above Keltner channel"
    if not math.isnan(kpos) and kpos < 0:
        return "below Keltner channel"
    if not math.isnan(kpos):
        return "inside Keltner channel"
    if not math.isnan(pct_b):
        return "inside Bollinger bands"
    return "bands undefined (short history)"


def trend_label(ema_stack: str | None, through_200: bool | None, pct_b: float, kpos: float) -> str:
    """A plain phrase: band position first (Bollinger when outside it, else Keltner), then the EMA stack."""
    stack = f"EMA stack {ema_stack}" if ema_stack else "EMA stack undefined"
    if ema_stack in ("bullish", "bearish") and through_200 is not None:
        stack += " (through EMA 200)" if through_200 else " (not through EMA 200)"
    return f"{_band_phrase(pct_b, kpos)}, {stack}"


def _stack(e8: float, e21: float, e50: float, e200: float) -> tuple[str | None, bool | None]:
    if any(math.isnan(v) for v in (e8, e21, e50)):
        return None, None
    if e8 > e21 > e50:
        return "bullish", (None if math.isnan(e200) else e50 > e200)
    if e8 < e21 < e50:
        return "bearish", (None if math.isnan(e200) else e50 < e200)
    return "mixed", None


def trend_state(df: pd.DataFrame, d: Any) -> TrendState:
    """Trend state on d from a date-indexed frame with ``close`` (and optionally ``high``, ``low``).

    Only rows on or before d are used (point in time); rows without a close are dropped. Every figure is
    taken at the last close on or before d.
    """
    frame = df.copy()
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.index)).astype("datetime64[ns]")
    frame = frame.sort_index()
    frame = frame[frame.index <= pd.Timestamp(d).normalize()]
    close = pd.to_numeric(frame["close"], errors="coerce") if "close" in frame else pd.Series(dtype=float)
    keep = close.notna().to_numpy()
    frame = frame.loc[keep]
    close = close.loc[keep].astype("float64")
    n = len(close)
    if n == 0:
        nan = math.nan
        return TrendState(None, 0, nan, nan, nan, nan, nan, None, None, nan, nan, nan, None, "no price data")

    emas = {span: _last(ema(close, span)) for span in EMA_SPANS}
    stack, through = _stack(emas[8], emas[21], emas[50], emas[200])
    pct_b = bollinger_pct_b(close.to_numpy())

    high = pd.to_numeric(frame["high"], errors="coerce") if "high" in frame else None
    low = pd.to_numeric(frame["low"], errors="coerce") if "low" in frame else None
    tr = true_range(close, high, low)
    has_hl = high is not None and low is not None and bool((high.notna() & low.notna()).all())
    atr = _last(wilder_atr(tr, KELTNER_N))
    mid = _last(ema(close, KELTNER_N))
    last_close = float(close.iloc[-1])
    if math.isnan(atr) or math.isnan(mid) or atr <= 0:
        kpos = math.nan
    else:
        lower = mid - KELTNER_K * atr
        kpos = (last_close - lower) / (2.0 * KELTNER_K * atr)
    return TrendState(
        as_of=pd.Timestamp(close.index[-1]),
        n_obs=n,
        close=last_close,
        ema8=emas[8],
        ema21=emas[21],
        ema50=emas[50],
        ema200=emas[200],
        ema_stack=stack,
        stack_through_200=through,
        bollinger_pct_b=pct_b,
        keltner_pos=kpos,
        atr20=atr,
        atr_method=None if math.isnan(atr) else ("wilder" if has_hl else "close-to-close"),
        label=trend_label(stack, through, pct_b, kpos),
    )
