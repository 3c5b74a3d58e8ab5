"""Futures positioning from the CFTC Traders in Financial Futures table: numpy and pyarrow, no I/O.

``series`` turns the stored ``cot`` rows (an Arrow table) of one contract into a weekly series of
leveraged-fund and asset-manager nets; ``read`` summarises that series as of a date, using only
reports dated on or before it. Contracts are picked by CFTC_Contract_Market_Code, never by market
name (the names changed in February 2022). Consolidated ``+`` codes (13874+, 20974+) are never added
to the others.

The Russell 2000 E-mini moved from ICE (``23977A``) to CME (``239742``) in 2017; ``series("RTY")``
stitches the two into one series and marks the first CME row after an ICE row with ``venue_break``
so that a reader can say so instead of comparing across venues silently.

No pandas: ``scan`` and ``cot`` run without importing it (about a third of a second). Arrow columns
are turned into numpy through their raw buffers (``positioning_cli.arrays``): pyarrow's own
``to_numpy`` imports pandas.
"""

from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from positioning_cli import arrays
from positioning_cli.measures import day, min_observations

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
COT_REPORTS_PER_YEAR = 52  # weekly: the window-percentile minimum is half of a full window (measures)
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


_EPOCH = datetime.date(1970, 1, 1)
_VALUES = ("open_interest", "lev_money_long", "lev_money_short", "asset_mgr_long", "asset_mgr_short")
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class FuturesSeries:
    """One contract's weekly positioning: numpy arrays, one row per report date (ascending, unique).

    Floats are NaN where the source cell was blank; the pct columns are NaN when open interest is 0.
    ``venue_break`` is True on a row whose code differs from the previous row's (for RTY: the first
    239742 report after a 23977A one, 2017-08-15 in the real data).
    """

    report_date: npt.NDArray[np.datetime64]  # datetime64[D]
    contract_code: npt.NDArray[np.object_]  # str
    open_interest: FloatArray
    lev_money_long: FloatArray
    lev_money_short: FloatArray
    lev_net: FloatArray
    lev_net_pct_oi: FloatArray
    asset_mgr_long: FloatArray
    asset_mgr_short: FloatArray
    asset_mgr_net: FloatArray
    asset_mgr_net_pct_oi: FloatArray
    venue_break: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.report_date)

    @property
    def empty(self) -> bool:
        return len(self.report_date) == 0


def _column(table: pa.Table, name: str) -> pa.Array:
    column = table.column(name)
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _floats(table: pa.Table, name: str) -> FloatArray:
    """float64 values of a numeric column, NaN for nulls."""
    column = _column(table, name)
    if column.type not in (pa.int32(), pa.int64(), pa.float64()):
        column = column.cast(pa.float64())
    return arrays.floats(column)


def _days(column: pa.Array) -> npt.NDArray[np.int64]:
    """Days since 1970-01-01 of a date column (nulls: arbitrary, mask them with ``arrays.valid``)."""
    if column.type != pa.date32():
        column = column.cast(pa.date32())
    return arrays.to_numpy(column.view(pa.int32())).astype(np.int64)


def _codes(column: pa.Array) -> tuple[npt.NDArray[np.int64], list[str | None]]:
    """(per row: index into the list of distinct stripped codes, -1 for null; that list)."""
    if not pa.types.is_string(column.type):
        column = column.cast(pa.string())
    encoded = pc.utf8_trim_whitespace(column).dictionary_encode()
    indices = arrays.to_numpy(encoded.indices).astype(np.int64)
    indices[~arrays.valid(encoded.indices)] = -1
    return indices, encoded.dictionary.to_pylist()


def _last_per_key(keys: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Positions of the last row of each distinct key, in row order."""
    _, first_from_end = np.unique(keys[::-1], return_index=True)
    return np.sort(len(keys) - 1 - first_from_end)


def _first_per_key(keys: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Positions of the first row of each distinct key, in row order."""
    _, first = np.unique(keys, return_index=True)
    return np.sort(first)


def series(cot: pa.Table, contract: str, futures_only: bool = True) -> FuturesSeries:
    """One contract's weekly positioning (ascending report dates, one row per date).

    ``cot`` is the store's ``cot`` table (see schema.COT) as Arrow.
    Columns of the result: report_date, contract_code, open_interest, lev_money_long,
    lev_money_short, lev_net, lev_net_pct_oi, asset_mgr_long, asset_mgr_short, asset_mgr_net,
    asset_mgr_net_pct_oi (floats, NaN where the source cell was blank; pct NaN when open interest is
    0) and venue_break. For a contract with a predecessor code (RTY), the predecessor's rows fill
    dates before the successor's start on which the successor has no row; venue_break is True on a
    row whose code differs from the previous row's (for RTY: the first 239742 report after a 23977A
    one, 2017-08-15 in the real data).
    """
    _, codes = resolve_contract(contract)
    code_idx, distinct = _codes(_column(cot, "contract_code"))
    wanted = [i for i, c in enumerate(distinct) if c in codes]
    only = _column(cot, "futures_only")
    if only.type != pa.bool_():
        only = only.cast(pa.bool_())
    dates_col = _column(cot, "report_date")
    keep = (
        np.isin(code_idx, wanted)
        & arrays.valid(only)
        & (arrays.to_numpy(only) == futures_only)
        & arrays.valid(dates_col)
    )
    rows = np.flatnonzero(keep)
    days = _days(dates_col)[rows]
    code_of = code_idx[rows]
    # One row per (date, code): the last one given (the store already guarantees this).
    picked = _last_per_key(days * (len(distinct) + 1) + code_of)
    if len(codes) > 1:
        primary = distinct.index(codes[0]) if codes[0] in distinct else -2
        predecessors = [distinct.index(c) for c in codes[1:] if c in distinct]
        main = picked[code_of[picked] == primary]
        start = (RTY_CME_START - _EPOCH).days
        older = picked[
            np.isin(code_of[picked], predecessors)
            & (days[picked] < start)
            & ~np.isin(days[picked], days[main])
        ]
        older = older[_first_per_key(days[older])]
        picked = np.concatenate([older, main])
    picked = picked[np.argsort(days[picked], kind="stable")]
    rows = rows[picked]

    names = np.empty(len(distinct), dtype=object)
    names[:] = distinct
    code_out = names[code_idx[rows]]
    values = {name: _floats(cot, name)[rows] for name in _VALUES}
    oi = values["open_interest"]
    oi_positive = np.where(oi > 0, oi, np.nan)
    nets = {}
    for group, long_col, short_col in (
        ("lev", "lev_money_long", "lev_money_short"),
        ("asset_mgr", "asset_mgr_long", "asset_mgr_short"),
    ):
        net = values[long_col] - values[short_col]
        nets[f"{group}_net"] = net
        nets[f"{group}_net_pct_oi"] = 100.0 * net / oi_positive
    venue_break = np.zeros(len(rows), dtype=bool)
    venue_break[1:] = code_out[1:] != code_out[:-1]
    return FuturesSeries(
        report_date=days[picked].astype("datetime64[D]"),
        contract_code=code_out,
        open_interest=oi,
        lev_money_long=values["lev_money_long"],
        lev_money_short=values["lev_money_short"],
        lev_net=nets["lev_net"],
        lev_net_pct_oi=nets["lev_net_pct_oi"],
        asset_mgr_long=values["asset_mgr_long"],
        asset_mgr_short=values["asset_mgr_short"],
        asset_mgr_net=nets["asset_mgr_net"],
        asset_mgr_net_pct_oi=nets["asset_mgr_net_pct_oi"],
        venue_break=venue_break,
    )


@dataclass(frozen=True)
class WindowPercentile:
    """Percentile of today's net among the nets in (report_date - W, report_date]."""

    pct: float  # 100 x share of observations <= today's (100 = highest in the window); NaN below the minimum observations
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


def _as_day(d: Any) -> int:
    """Days since 1970-01-01 of anything ``measures.day`` takes (ValueError otherwise)."""
    return int(day(d).astype(np.int64))


def _date(days: int) -> datetime.date:
    return _EPOCH + datetime.timedelta(days=int(days))


def _percentile(
    days: npt.NDArray[np.int64], nets: FloatArray, today: float, end: int, window_days: int | None
) -> WindowPercentile:
    if window_days is None:
        in_window = np.ones(len(days), dtype=bool)
        complete = True
    else:
        start = end - window_days
        in_window = days > start
        # Complete: the history held starts within a week of the window's start (the rule), and no
        # weekly report is missing inside the window (files held can have gaps, e.g. a missing year).
        offsets = days[in_window] - start
        edges = np.diff(np.concatenate([[0], offsets]))
        complete = bool(days[0] <= start + 7) and bool(edges.max() <= _MAX_REPORT_GAP_DAYS)
    values = nets[in_window]
    enough = len(values) >= min_observations(window_days, COT_REPORTS_PER_YEAR)
    return WindowPercentile(
        pct=float(100.0 * np.count_nonzero(values <= today) / len(values)) if enough else math.nan,
        n_obs=len(values),
        window_complete=complete,
        first_date=_date(days[in_window][0]),
    )


def _change(days: npt.NDArray[np.int64], nets: FloatArray, today: float, end: int, weeks: int) -> float:
    """today - net of the report dated nearest to ``weeks`` weeks earlier (within 3 days), else NaN."""
    gap = np.abs(days - (end - 7 * weeks))
    near = np.flatnonzero(gap <= _MATCH_SLACK_DAYS)
    if len(near) == 0:
        return math.nan
    best = near[np.argmin(gap[near])]
    return float(today - nets[best])


def read(ser: FuturesSeries, d: Any, group: Literal["lev", "asset_mgr"] | str) -> FuturesRead:
    """The positioning of ``group`` as of ``d``, from reports dated on or before ``d`` only.

    ``d``: a ``datetime.date``, a datetime or pandas Timestamp, a numpy datetime64 or an ISO string.
    Windows are anchored on the report read (its report_date), so any ``d`` between two reports
    gives the same read. ValueError when ``group`` is unknown or no report is dated on or before ``d``.
    """
    if group not in GROUPS:
        raise ValueError(f"unknown group {group!r}: expected one of {', '.join(GROUPS)}")
    column = GROUPS[group]
    when = _as_day(d)
    all_days = ser.report_date.astype("datetime64[D]").astype(np.int64)
    order = np.argsort(all_days, kind="stable")
    all_nets = np.asarray(getattr(ser, column), dtype=np.float64)[order]
    all_days = all_days[order]
    held = np.flatnonzero((all_days <= when) & ~np.isnan(all_nets))
    if len(held) == 0:
        raise ValueError(f"no {group} futures report dated on or before {_date(when)}")
    days = all_days[held]
    nets = all_nets[held]
    rows = order[held]  # positions in ``ser`` of the reports held
    end = int(days[-1])
    today = float(nets[-1])
    last = rows[-1]

    recent = nets[days > end - 7 * INDEX_REPORTS][-INDEX_REPORTS:]
    lo, hi = float(recent.min()), float(recent.max())
    cot_index = math.nan if hi == lo else 100.0 * (today - lo) / (hi - lo)
    # numpy's mean and sample std sum the same way as pandas' (pairwise), to the last bit.
    std = float(np.std(recent, ddof=1)) if len(recent) >= 2 else math.nan
    zscore = math.nan if not std or math.isnan(std) else (today - float(np.mean(recent))) / std

    lower = np.flatnonzero(nets[:-1] < today)
    if len(lower):
        weeks_since_lower: int | None = round(int(end - days[lower[-1]]) / 7)
    else:
        weeks_since_lower = None

    in_year = days > end - (WINDOW_DAYS["1y"] or 365)
    venue_break = bool(np.asarray(ser.venue_break, dtype=bool)[rows[in_year]].any())

    return FuturesRead(
        contract_code=str(ser.contract_code[last]),
        group=group,
        report_date=_date(end),
        open_interest=float(ser.open_interest[last]),
        net=today,
        net_pct_oi=float(getattr(ser, f"{column}_pct_oi")[last]),
        change_1w=_change(days, nets, today, end, 1),
        change_4w=_change(days, nets, today, end, 4),
        pct_1y=_percentile(days, nets, today, end, WINDOW_DAYS["1y"]),
        pct_3y=_percentile(days, nets, today, end, WINDOW_DAYS["3y"]),
        pct_all=_percentile(days, nets, today, end, WINDOW_DAYS["all"]),
        cot_index_52w=cot_index,
        zscore_52w=zscore,
        n_obs_52w=len(recent),
        weeks_since_lower=weeks_since_lower,
        venue_break_in_window=venue_break,
    )
