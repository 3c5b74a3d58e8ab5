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

numpy only (no pandas: ``scan`` imports this module and pandas' import alone costs a third of a second).
The recursions are evaluated in closed form, never element by element in Python: with q = 1 − alpha,
E_T = q^T·E_0 + Σ_{k=1..T} alpha·q^(T−k)·x_k (weights q^j computed directly, so nothing overflows; the sum
is taken centred on x_T, so a constant series gives exactly that constant). Results match the step-by-step
recursion to the last few bits (≈1e-13 relative).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from positioning_cli.measures import day

EMA_SPANS = (8, 21, 50, 200)
BOLLINGER_N = 20
BOLLINGER_K = 2.0
KELTNER_N = 20
KELTNER_K = 2.0
# σ below this fraction of the mean is rounding noise on constant prices, not a band.
_SIGMA_EPS = 1e-12

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class TrendState:
    """Trend of one price series on one date (NaN / None where the history is too short)."""

    as_of: np.datetime64 | None  # day (unit "D") of the last close used (on or before the requested date)
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


# --- the recursion E_k = q·E_{k−1} + alpha·x_k, in closed form ---------------------------------------
_DECAY: dict[float, FloatArray] = {}


def _decay(q: float, m: int) -> FloatArray:
    """q^m, q^(m−1), …, q^0: the tail of one cached, read-only array per q (grown on demand), so a scan over
    thousands of series of varying length computes the powers once."""
    w = _DECAY.get(q)
    if w is None or len(w) <= m:
        length = max(2 * (m + 1), 4096)
        w = np.power(q, np.arange(length - 1, -1, -1, dtype=np.float64))
        w.flags.writeable = False
        _DECAY[q] = w
    return w[len(w) - 1 - m :]


def _ewm_last(seed: float, xs: FloatArray, alpha: float) -> float:
    """E_m of E_0 = seed, E_k = (1 − alpha)·E_{k−1} + alpha·xs_k (k = 1..m = len(xs))."""
    m = len(xs)
    if m == 0:
        return float(seed)
    w = _decay(1.0 - alpha, m)
    # The weights sum to 1, so centre on the last value: exact on a constant series, and the rounding
    # scales with the spread of the values rather than their level.
    last = float(xs[-1])
    return last + float(w[0] * (seed - last) + alpha * np.dot(w[1:], xs - last))


def _alpha(span: int) -> float:
    if span < 1:
        raise ValueError(f"span must be >= 1, got {span}")
    return 2.0 / (span + 1)


def _floats(x: ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def ema_last(close: ArrayLike, span: int) -> float:
    """The EMA on the last close: alpha = 2/(span+1), seeded by the first close; NaN before the
    span-th close. ``close`` holds no NaN (``trend_state`` drops rows without a close first)."""
    alpha = _alpha(span)
    x = _floats(close)
    if len(x) < span:
        return math.nan
    return _ewm_last(float(x[0]), x[1:], alpha)


def true_range(close: ArrayLike, high: ArrayLike | None = None, low: ArrayLike | None = None) -> FloatArray:
    """Per-row true range; close-to-close |Δclose| on rows lacking high or low (NaN on the first such row)."""
    c = _floats(close)
    return _true_range(c, None if high is None else _floats(high), None if low is None else _floats(low))[0]


def _true_range(c: FloatArray, h: FloatArray | None, lo: FloatArray | None) -> tuple[FloatArray, bool]:
    """(true range, whether every row had both high and low)."""
    out = np.empty(len(c), dtype=np.float64)
    if len(c) == 0:
        return out, h is not None and lo is not None
    prev = c[:-1]
    c2c = np.abs(c[1:] - prev)
    if h is None or lo is None:
        out[0] = np.nan
        out[1:] = c2c
        return out, False
    out[0] = h[0] - lo[0]  # no previous close: TR_0 = high − low (NaN without high/low, as c2c is)
    tail = out[1:]
    np.subtract(h[1:], lo[1:], out=tail)
    missing = np.isnan(tail)  # a row lacking high or low: close-to-close instead
    np.fmax(tail, np.abs(h[1:] - prev), out=tail)  # fmax: a missing previous close is skipped
    np.fmax(tail, np.abs(lo[1:] - prev), out=tail)
    any_missing = bool(missing.any())
    if any_missing:
        tail[missing] = c2c[missing]
    return out, not (any_missing or math.isnan(out[0]))


def _atr_seed(tr: FloatArray, n: int) -> tuple[NDArray[np.intp], FloatArray, float] | None:
    """(positions of the valid TRs, their values, the seed = mean of the first n); None with fewer than n."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    nan = np.isnan(tr)
    if nan.any():
        valid = np.flatnonzero(~nan)
        vals = tr[valid]
    else:
        valid = np.arange(len(tr))
        vals = tr
    if len(valid) < n:
        return None
    return valid, vals, float(np.add.reduce(vals[:n])) / n


def wilder_atr_last(tr: ArrayLike, n: int = KELTNER_N) -> float:
    """Wilder's ATR (RMA, alpha 1/n) on the last true range, seeded with the mean of the first n;
    NaN true ranges are skipped (the ATR carries over them), NaN with fewer than n valid ones."""
    seeded = _atr_seed(_floats(tr), n)
    if seeded is None:
        return math.nan
    _, vals, seed = seeded
    return _ewm_last(seed, vals[n:], 1.0 / n)


def bollinger_pct_b(closes: ArrayLike, n: int = BOLLINGER_N, k: float = BOLLINGER_K) -> float:
    """%B of the last close over the last n closes (population σ); NaN if short or σ = 0."""
    x = _floats(closes)
    if len(x) < n:
        return math.nan
    window = x[-n:]
    mid = float(np.add.reduce(window)) / n
    dev = window - mid
    sigma = math.sqrt(float(np.dot(dev, dev)) / n)  # population σ (ddof = 0)
    if not sigma > _SIGMA_EPS * max(abs(mid), 1.0):
        return math.nan
    lower = mid - k * sigma
    return (float(window[-1]) - lower) / (2.0 * k * sigma)


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


def trend_state(
    days: ArrayLike, close: ArrayLike, high: ArrayLike | None, low: ArrayLike | None, d: Any
) -> TrendState:
    """Trend state on d from parallel arrays: ``days`` (datetime64, any unit, any order), ``close`` and
    optionally ``high`` / ``low`` (None for a close-only source; NaN allowed).

    Only rows on or before d (by calendar day) are used (point in time); rows without a close are dropped.
    Every figure is taken at the last close on or before d.
    """
    t = np.asarray(days)
    if not np.issubdtype(t.dtype, np.datetime64):
        t = t.astype("datetime64[ns]")
    c = _floats(close)
    h = None if high is None else _floats(high)
    lo = None if low is None else _floats(low)
    if any(len(a) != len(t) for a in (c, h, lo) if a is not None):
        raise ValueError("trend_state: days, close, high and low must have the same length")
    # "on or before day d" = before midnight of d + 1, in the unit of ``days`` (no per-row unit conversion)
    cutoff = (day(d) + np.timedelta64(1, "D")).astype(t.dtype)
    ti = t.view(np.int64)  # NaT is the smallest int64: sorted as integers and no NaT first = sorted dates
    if len(t) > 1 and (np.isnat(t[0]) or not bool((ti[1:] >= ti[:-1]).all())):  # else stable sort first
        order = np.argsort(t, kind="stable")
        rows: slice | NDArray[np.intp] = order[t[order] < cutoff]  # NaT compares False: dropped
    else:
        rows = slice(0, int(np.searchsorted(t, cutoff, side="left")))
    t, c = t[rows], c[rows]
    h = None if h is None else h[rows]
    lo = None if lo is None else lo[rows]
    has_close = ~np.isnan(c)
    if not has_close.all():  # rows without a close are dropped
        t, c = t[has_close], c[has_close]
        h = None if h is None else h[has_close]
        lo = None if lo is None else lo[has_close]
    n = len(c)
    if n == 0:
        nan = math.nan
        return TrendState(None, 0, nan, nan, nan, nan, nan, None, None, nan, nan, nan, None, "no price data")

    emas = {span: ema_last(c, span) for span in (*EMA_SPANS, KELTNER_N)}
    stack, through = _stack(emas[8], emas[21], emas[50], emas[200])
    pct_b = bollinger_pct_b(c)

    tr, has_hl = _true_range(c, h, lo)
    atr = wilder_atr_last(tr, KELTNER_N)
    mid = emas[KELTNER_N]
    last_close = float(c[-1])
    if math.isnan(atr) or math.isnan(mid) or atr <= 0:
        kpos = math.nan
    else:
        lower = mid - KELTNER_K * atr
        kpos = (last_close - lower) / (2.0 * KELTNER_K * atr)
    return TrendState(
        as_of=t[-1].astype("datetime64[D]"),
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
