"""Futures positioning from the CFTC Traders in Financial Futures table: pure pandas, no I/O.

``series`` turns the stored ``cot`` rows of one contract into a weekly series of leveraged-fund and
asset-manager nets; ``read`` summarises that series as of a date, using only reports dated on or
before it. Contracts are picked by CFTC_Contract_Market_Code, never by market name (the names
changed in February 2022). Consolidated ``+`` codes (13874+, 20974+) are never added to the others.

The Russell 2000 E-mini moved from ICE (``23977A``) to CME (``239742``) in 2017; ``series("RTY")``
stitches the two into one series and marks the first CME row after an ICE row with ``venue_break``
so that a reader can say so instead of comparing across venues silently.
"""

from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

CONTRACTS: dict[str, tuple[str, ...]] = {
    "ES": ("13874A",),  # E-mini S&P 500 (CME)
    "NQ": ("209742",),  # E-mini Nasdaq-100 (CME)
    "RTY": ("239742", "23977A"),  # Russell 2000 E-mini: CME from 2017-08-15, ICE before
}
INDEX_CONTRACT: dict[str, str] = {"SPX": "ES", "NDX": "NQ", "RUT": "RTY"}
# First CME Russell 2000 report; before it the ICE contract (the second code of RTY) is used.
RTY_CME_START = datetime.date(2017, 8, 15)

BASIS_TRADE_CAVEAT = (
    "Much of the leveraged-fund short in index futures is the cash-futures basis trade, "
    "offset by asset managers' longs — not purely a directional bet."
)

GROUPS: dict[str, str] = {"lev": "lev_net", "asset_mgr": "asset_mgr_net"}
WINDOW_DAYS: dict[str, int | None] = {"1y": 365, "3y": 3 * 365, "all": None}
INDEX_REPORTS = 52  # COT index and z-score: the last 52 weekly reports (today included)
_CODE_RE = re.compile(r"^[0-9A-Z]{5}[0-9A-Z+]$")
_MAX_REPORT_GAP_DAYS = 10  # weekly reports are 6-8 days apart (holiday Mondays); more means one is missing
_MATCH_SLACK_DAYS = 3  # a report "k weeks earlier" may be dated up to 3 days off (holiday Mondays)


def resolve_contract(text: str) -> tuple[str, tuple[str, ...]]:
    """``(name, codes)`` for ES / NQ / RTY (or their index SPX / NDX / RUT) or a raw CFTC code.

    Case-insensitive. A raw code stands for itself only (no stitching): ``"23977a"`` ->
    ``("23977A", ("23977A",))``. Anything else is a ValueError.
    """
    key = text.strip().upper()
    key = INDEX_CONTRACT.get(key, key)
    if key in CONTRACTS:
        return key, CONTRACTS[key]
    if _CODE_RE.match(key):
        return key, (key,)
    known = ", ".join([*CONTRACTS, *INDEX_CONTRACT])
    raise ValueError(f"unknown futures contract {text!r}: expected one of {known} or a 6-character CFTC code")


def _numbers(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(frame[column], errors="coerce").astype("float64")


def series(cot: pd.DataFrame, contract: str, futures_only: bool = True) -> pd.DataFrame:
    """One contract's weekly positioning, indexed by report_date (ascending, one row per date).

    Columns: contract_code, open_interest, lev_money_long, lev_money_short, lev_net, lev_net_pct_oi,
    asset_mgr_long, asset_mgr_short, asset_mgr_net, asset_mgr_net_pct_oi (floats, NaN where the
    source cell was blank; pct NaN when open interest is 0) and venue_break. For a contract with a
    predecessor code (RTY), the predecessor's rows fill dates before the successor's start on which
    the successor has no row; venue_break is True on a row whose code differs from the previous
    row's (for RTY: the first 239742 report after a 23977A one, 2017-08-15 in the real data).
    """
    _, codes = resolve_contract(contract)
    frame = cot.loc[
        cot["contract_code"].astype("string").str.strip().isin(codes).fillna(False).to_numpy(dtype=bool)
        & (cot["futures_only"].astype("boolean").fillna(not futures_only) == futures_only).to_numpy(
            dtype=bool
        )
    ]
    out = pd.DataFrame(
        {
            "report_date": pd.to_datetime(frame["report_date"].astype("object")).to_numpy(),
            "contract_code": frame["contract_code"].astype("string").str.strip().to_numpy(dtype=object),
        }
    )
    for column in ("open_interest", "lev_money_long", "lev_money_short", "asset_mgr_long", "asset_mgr_short"):
        out[column] = _numbers(frame, column).to_numpy()
    # One row per (date, code): the last one given (the store already guarantees this).
    out = out.drop_duplicates(["report_date", "contract_code"], keep="last")
    if len(codes) > 1:
        primary, predecessors = codes[0], codes[1:]
        main = out[out["contract_code"] == primary]
        start = pd.Timestamp(RTY_CME_START)
        older = out[
            out["contract_code"].isin(predecessors)
            & (out["report_date"] < start)
            & ~out["report_date"].isin(main["report_date"])
        ].drop_duplicates("report_date", keep="first")
        out = pd.concat([older, main])
    out = out.sort_values("report_date", kind="stable").set_index("report_date")
    out.index.name = "report_date"
    for group in ("lev", "asset_mgr"):
        long_col = "lev_money_long" if group == "lev" else "asset_mgr_long"
        short_col = "lev_money_short" if group == "lev" else "asset_mgr_short"
        net = out[long_col] - out[short_col]
        oi = out["open_interest"].where(out["open_interest"] > 0)
        out[f"{group}_net"] = net
        out[f"{group}_net_pct_oi"] = 100.0 * net / oi
    previous = out["contract_code"].shift(1)
    out["venue_break"] = (previous.notna() & (out["contract_code"] != previous)).to_numpy(dtype=bool)
    return out[
        [
            "contract_code",
            "open_interest",
            "lev_money_long",
            "lev_money_short",
            "lev_net",
            "lev_net_pct_oi",
            "asset_mgr_long",
            "asset_mgr_short",
            "asset_mgr_net",
            "asset_mgr_net_pct_oi",
            "venue_break",
        ]
    ]


@dataclass(frozen=True)
class WindowPercentile:
    """Percentile of today's net among the nets in (report_date - W, report_date]."""

    pct: float  # 100 x share of observations <= today's (100 = highest in the window)
    n_obs: int  # reports in the window, today included
    # The history held starts on or before report_date - W + 7 days and no weekly report is missing
    # inside the window; "all" is always complete.
    window_complete: bool
    first_date: datetime.date  # earliest report in the window


@dataclass(frozen=True)
class FuturesRead:
    contract_code: str  # code of the report read (RTY: 239742, or 23977A before 2017-08-15)
    group: str  # "lev" or "asset_mgr"
    report_date: datetime.date  # the latest report dated on or before the requested date
    open_interest: float
    net: float  # long - short, contracts
    net_pct_oi: float  # 100 x net / open interest
    change_1w: float  # net - net of the report one week earlier (NaN if that report is missing)
    change_4w: float  # net - net of the report four weeks earlier (NaN if missing)
    pct_1y: WindowPercentile
    pct_3y: WindowPercentile
    pct_all: WindowPercentile
    cot_index_52w: float  # 100 x (net - min) / (max - min) over the last 52 reports; NaN if max == min
    zscore_52w: float  # (net - mean) / sample std over the same reports; NaN if fewer than 2 or std 0
    n_obs_52w: int  # reports behind cot_index_52w / zscore_52w (52 when the year is complete)
    weeks_since_lower: int | None  # weeks since the net was last lower; None: never lower in the history held
    venue_break_in_window: bool  # a venue break (ICE -> CME) falls in the 1Y window


def _as_timestamp(d: datetime.date | pd.Timestamp | str) -> pd.Timestamp:
    ts = pd.Timestamp(d)
    if ts is pd.NaT:
        raise ValueError(f"not a date: {d!r}")
    return ts.tz_localize(None).normalize() if ts.tzinfo is not None else ts.normalize()


def _percentile(nets: pd.Series, today: float, end: pd.Timestamp, days: int | None) -> WindowPercentile:
    held_first = nets.index[0]
    if days is None:
        window = nets
        complete = True
    else:
        start = end - pd.Timedelta(days=days)
        window = nets[nets.index > start]
        # Complete: the history held starts within a week of the window's start (the rule), and no
        # weekly report is missing inside the window (files held can have gaps, e.g. a missing year).
        offsets = (pd.DatetimeIndex(window.index) - start).days.to_numpy()
        edges = np.diff(np.concatenate([[0], offsets]))
        complete = bool(held_first <= start + pd.Timedelta(days=7)) and bool(
            edges.max() <= _MAX_REPORT_GAP_DAYS
        )
    values = window.to_numpy(dtype=float)
    return WindowPercentile(
        pct=float(100.0 * np.count_nonzero(values <= today) / len(values)),
        n_obs=len(values),
        window_complete=complete,
        first_date=window.index[0].date(),
    )


def _change(nets: pd.Series, today: float, end: pd.Timestamp, weeks: int) -> float:
    """today - net of the report dated nearest to ``weeks`` weeks earlier (within 3 days), else NaN."""
    target = end - pd.Timedelta(days=7 * weeks)
    gap = np.abs((pd.DatetimeIndex(nets.index) - target).days.to_numpy())
    near = np.flatnonzero(gap <= _MATCH_SLACK_DAYS)
    if len(near) == 0:
        return math.nan
    best = near[np.argmin(gap[near])]
    return float(today - nets.iloc[best])


def read(
    ser: pd.DataFrame, d: datetime.date | pd.Timestamp | str, group: Literal["lev", "asset_mgr"] | str
) -> FuturesRead:
    """The positioning of ``group`` as of ``d``, from reports dated on or before ``d`` only.

    Windows are anchored on the report read (its report_date), so any ``d`` between two reports
    gives the same read. ValueError when ``group`` is unknown or no report is dated on or before ``d``.
    """
    if group not in GROUPS:
        raise ValueError(f"unknown group {group!r}: expected one of {', '.join(GROUPS)}")
    column = GROUPS[group]
    when = _as_timestamp(d)
    index = pd.DatetimeIndex(pd.to_datetime(ser.index))
    held = ser.set_axis(index).sort_index(kind="stable")
    held = held[held.index <= when]
    held = held[held[column].notna()]
    if held.empty:
        raise ValueError(f"no {group} futures report dated on or before {when.date()}")
    nets = held[column].astype("float64")
    end = nets.index[-1]
    today = float(nets.iloc[-1])
    last = held.iloc[-1]

    recent = nets[nets.index > end - pd.Timedelta(days=7 * INDEX_REPORTS)].iloc[-INDEX_REPORTS:]
    lo, hi = float(recent.min()), float(recent.max())
    cot_index = math.nan if hi == lo else 100.0 * (today - lo) / (hi - lo)
    std = float(recent.std(ddof=1)) if len(recent) >= 2 else math.nan
    zscore = math.nan if not std or math.isnan(std) else (today - float(recent.mean())) / std

    lower = np.flatnonzero(nets.iloc[:-1].to_numpy(dtype=float) < today)
    if len(lower):
        weeks_since_lower: int | None = round((end - nets.index[lower[-1]]).days / 7)
    else:
        weeks_since_lower = None

    venue_break = False
    if "venue_break" in held.columns:
        in_year = held.index > end - pd.Timedelta(days=WINDOW_DAYS["1y"] or 365)
        venue_break = bool(held.loc[in_year, "venue_break"].fillna(False).astype(bool).any())

    pct_col = f"{column}_pct_oi"
    return FuturesRead(
        contract_code=str(last["contract_code"]) if "contract_code" in held.columns else "",
        group=group,
        report_date=end.date(),
        open_interest=float(last["open_interest"]) if "open_interest" in held.columns else math.nan,
        net=today,
        net_pct_oi=float(last[pct_col]) if pct_col in held.columns else math.nan,
        change_1w=_change(nets, today, end, 1),
        change_4w=_change(nets, today, end, 4),
        pct_1y=_percentile(nets, today, end, WINDOW_DAYS["1y"]),
        pct_3y=_percentile(nets, today, end, WINDOW_DAYS["3y"]),
        pct_all=_percentile(nets, today, end, WINDOW_DAYS["all"]),
        cot_index_52w=cot_index,
        zscore_52w=zscore,
        n_obs_52w=len(recent),
        weeks_since_lower=weeks_since_lower,
        venue_break_in_window=venue_break,
    )
