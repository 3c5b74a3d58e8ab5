"""Per-stock and per-sector rows for ``scan --by stock`` / ``scan --by sector``: pure functions, no I/O.

Built on ``metrics`` (membership, per-member rows, change bases, percentiles, quadrant, divergence score),
vectorised across symbols: no Python loop over dates, and per-stock work is groupby / merge over all
symbols at once. Inputs are the store's frames as ``api.scan`` reads them:

- ``si``: settlement_date, symbol, short_interest, avg_daily_volume, split_flag, shares_outstanding,
  float_shares;
- ``members``: index, as_of, symbol, name, sector, shares_outstanding, float_shares;
- ``prices``: symbol, date, close (other columns ignored).

Choices, written down once (DOMAIN.md "Metrics"):

- Change bases are settlement dates of the store (the dates with any SI row, up to d), the same for every
  stock: "last" = the previous settlement date, "3" = three settlement dates earlier, "12m" = the last
  on or before d − 365 days. A stock without a row on a base date has a null change for it: skipping to an
  older report would silently change what "since last" means (as ``metrics.change`` does).
- Splits (``GateConfig.exclude_split_flagged``): a stock whose split_flag is set on any settlement date in
  (base, d] has that window's SI change, price return and dollar split nulled ("split in window", in
  ``change_note``), and its 1Y SI percentile uses only reports from the last split on (a flagged report
  already carries post-split shares), with ``si_pct_1y_complete`` False.
- Prices: the close on a date is the last close on or before it within 5 days (``metrics`` close
  tolerance), on d and on every base date alike, so ``close_prev`` in the dollar split is the same number
  the return uses.
- Gates are checked on d, on the SI row's FINRA average daily volume and the close. A gate that cannot be
  checked (no close; no volume) does not exclude: ``price_gates`` / ``volume_gates`` say "unchecked".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from positioning_cli import measures as ms
from positioning_cli import metrics as m
from positioning_cli.analytics import splits

ONE_YEAR_DAYS = 365
FIVE_YEAR_DAYS = 5 * 365
SI_PCT_TOLERANCE_DAYS = 16  # metrics.percentile default: semi-monthly reports miss the window start by < 16d
PRICE_PCT_TOLERANCE_DAYS = ms.PRICE_STALE_DAYS
CHANGE_KINDS = ("last", "3", "12m")
SECTOR_CHANGE_KINDS = ("last", "ytd", "12m")
UNKNOWN_SECTOR = "Unknown"


def _base(dates: pd.DatetimeIndex, d: pd.Timestamp, kind: str) -> pd.Timestamp | None:
    """``measures.previous_date`` as a pandas Timestamp (this module compares it with frames)."""
    b = ms.previous_date(dates, d, kind)
    return None if b is None else pd.Timestamp(b)


@dataclass(frozen=True)
class GateConfig:
    """Which stocks are ranked. Defaults follow common professional screens for short-interest work."""

    min_avg_daily_volume: float = 100_000  # shares (FINRA average daily volume on the SI row)
    min_price: float = 5.0  # close on d
    min_dollar_volume: float = 1_000_000  # ADV × close
    max_si_pct: float = 100.0  # SI % of shares outstanding above this: quarantined (bad denominator)
    exclude_split_flagged: bool = True  # null changes across a split instead of computing them


STOCK_TABLE_COLUMNS = [
    "rank",
    "prev_rank",
    "symbol",
    "name",
    "sector",
    "index",
    "indices",
    "settlement_date",
    "membership_as_of",
    "membership_look_ahead",
    "sparse_date",
    "short_interest",
    "avg_daily_volume",
    "shares_outstanding",
    "float_shares",
    "si_pct_so",
    "si_pct_float",
    "days_to_cover",
    "si_base_last",
    "si_base_3",
    "si_base_12m",
    "si_change_last",
    "si_change_3",
    "si_change_12m",
    "si_pct_1y",
    "si_pct_1y_obs",
    "si_pct_1y_complete",
    "close",
    "price_return_last",
    "price_return_3",
    "price_return_12m",
    "price_pct_1y",
    "price_pct_1y_obs",
    "price_pct_1y_complete",
    "quadrant",
    "quadrant_key",
    "divergence_score",
    "score_missing",
    "short_interest_prev",
    "close_prev",
    "si_dollar_change_last",
    "si_dollar_quantity_effect",
    "si_dollar_price_effect",
    "split_flag",
    "change_note",
    "price_gates",
    "volume_gates",
]

EXCLUDED_COLUMNS = ["symbol", "name", "sector", "indices", "gate", "reason"]

SECTOR_TABLE_COLUMNS = [
    "rank",
    "prev_rank",
    "sector",
    "index",
    "settlement_date",
    "membership_as_of",
    "membership_look_ahead",
    "sparse_date",
    "members",
    "members_with_si",
    "members_with_denominator",
    "quarantined",
    "median_si_pct_so",
    "total_si_shares",
    "si_base_last",
    "si_base_ytd",
    "si_base_12m",
    "si_change_last",
    "si_change_ytd",
    "si_change_12m",
    "si_change_basis",
    "si_level_basis",
    *ms.LIKE_FOR_LIKE_COUNT_KEYS,
    "split_excluded_symbols",
    "si_pct_1y",
    "si_pct_1y_obs",
    "si_pct_1y_complete",
    "si_pct_5y",
    "si_pct_5y_obs",
    "si_pct_5y_complete",
    "members_with_price",
    "price_return_last",
    "price_return_ytd",
    "price_return_12m",
    "price_pct_1y",
    "quadrant",
    "quadrant_key",
    "divergence_score",
    "score_missing",
]


# --------------------------------------------------------------------------------------------- helpers


def _iso(ts: pd.Timestamp | None) -> str | None:
    return None if ts is None else ts.date().isoformat()


def _not_sparse(dates: pd.DatetimeIndex, sparse: np.ndarray | None, d: pd.Timestamp) -> pd.DatetimeIndex:
    """Settlement dates without the sparse ones (analytics/coverage.py), d itself kept: no change
    is measured from a sparse report (its base skips to the previous one that is not sparse)."""
    if sparse is None or not len(sparse):
        return dates
    t = ms.days(dates)
    return dates[~np.isin(t, ms.days(sparse)) | (t == ms.day(d))]


def _without_dates(obs: _Obs, sparse: np.ndarray | None) -> _Obs:
    """``obs`` without the observations dated on a sparse settlement date."""
    if sparse is None or not len(sparse):
        return obs
    keep = ~np.isin(obs.date, ms.days(sparse).astype("datetime64[ns]").view("int64"))
    return _Obs(obs.code[keep], obs.date[keep], obs.value[keep], obs.flag[keep])


def _look_ahead(as_of: Any, d: pd.Timestamp) -> tuple[Any, Any]:
    """``(membership_as_of as ISO text, membership_look_ahead)`` of snapshot dates: a list taken
    after d stands in for d's (the earliest snapshot, used before it: metrics.membership_on)."""
    when = pd.to_datetime(pd.Series(as_of, dtype=object))
    text = when.dt.strftime("%Y-%m-%d").where(when.notna(), None)
    return text.to_numpy(dtype=object), (when > d).to_numpy(dtype=bool)


def _is_sparse(sparse: np.ndarray | None, d: pd.Timestamp) -> bool:
    return sparse is not None and bool(np.isin(ms.day(d), ms.days(sparse)))


def _indices(members: pd.DataFrame, index: str | None) -> list[str]:
    if index is not None:
        return [index]
    return sorted(str(x) for x in members["index"].dropna().unique())


def _si_frame(si: pd.DataFrame, d: pd.Timestamp) -> pd.DataFrame:
    """SI rows on or before d (point in time) with a datetime64[ns] settlement_date."""
    out = si.copy()
    out["settlement_date"] = m._dt(out["settlement_date"]).to_numpy()
    return out[out["settlement_date"] <= d]


def _price_frame(
    prices: pd.DataFrame | None, symbols: Any, d: pd.Timestamp, start: pd.Timestamp
) -> pd.DataFrame:
    """symbol, date, close (float) for ``symbols`` with a close in [start, d], sorted by date."""
    if prices is None or prices.empty:
        return pd.DataFrame(
            {
                "symbol": pd.Series(dtype=object),
                "date": pd.Series(dtype="datetime64[ns]"),
                "close": pd.Series(dtype="float64"),
            }
        )
    dates = m._dt(prices["date"]).to_numpy()
    close = m._float(prices, "close")
    keep = np.flatnonzero((dates <= d.to_datetime64()) & (dates >= start.to_datetime64()) & ~np.isnan(close))
    sym = prices["symbol"].iloc[keep]
    inside = sym.isin(symbols).to_numpy()
    keep = keep[inside]
    px = pd.DataFrame(
        {"symbol": sym.to_numpy(dtype=object)[inside], "date": dates[keep], "close": close[keep]}
    )
    return px.sort_values(["date", "symbol"], kind="stable").reset_index(drop=True)


def _close_at(px: pd.DataFrame, t: pd.Timestamp | None) -> pd.Series:
    """Per symbol: the last close on or before t within the metrics close tolerance (5 days)."""
    if t is None or px.empty:
        return pd.Series(dtype="float64")
    lo = t - pd.Timedelta(days=m.CLOSE_TOLERANCE_DAYS)
    sel = px[(px["date"] <= t) & (px["date"] >= lo)]
    return sel.groupby("symbol", sort=False)["close"].last()


_NO_DATE = np.iinfo("int64").min  # int64 view of "no date" (NaT)
_FAR = np.iinfo("int64").max


@dataclass(frozen=True)
class _Obs:
    """Observations of many symbols as parallel arrays sorted by date; ``code`` = position in the universe."""

    code: np.ndarray  # int64
    date: np.ndarray  # int64 nanoseconds (datetime64[ns] viewed as int64)
    value: np.ndarray  # float64, never NaN
    flag: np.ndarray  # bool (split flag; all False for prices)


def _coded(
    universe: pd.Index, symbols: Any, dates: np.ndarray, values: np.ndarray, flags: np.ndarray | None = None
) -> _Obs:
    code = universe.get_indexer(symbols)
    keep = (code >= 0) & ~np.isnan(values)
    d64 = dates.astype("datetime64[ns]").view("int64")[keep]
    order = np.argsort(d64, kind="stable")
    fl = np.zeros(len(values), dtype=bool) if flags is None else flags
    return _Obs(code[keep][order], d64[order], values[keep][order], fl[keep][order])


def _ns(t: pd.Timestamp) -> int:
    return int(t.to_datetime64().astype("datetime64[ns]").view("int64"))


def _last_in(obs: _Obs, n: int, lo: pd.Timestamp, hi: pd.Timestamp) -> np.ndarray:
    """Per code: the value of the latest observation dated in [lo, hi]; NaN when there is none."""
    sel = np.flatnonzero((obs.date >= _ns(lo)) & (obs.date <= _ns(hi)))
    last = np.full(n, -1, dtype="int64")
    np.maximum.at(last, obs.code[sel], sel)
    return np.where(last >= 0, obs.value[np.maximum(last, 0)] if len(obs.value) else np.nan, np.nan)


def _any_flag_in(obs: _Obs, n: int, after: pd.Timestamp) -> np.ndarray:
    """Per code: a flagged observation dated after ``after`` (observations are all <= d already)."""
    out = np.zeros(n, dtype=bool)
    out[obs.code[obs.flag & (obs.date > _ns(after))]] = True
    return out


def _last_flag_after(obs: _Obs, n: int, after: pd.Timestamp) -> np.ndarray:
    """Per code: int64 date of the latest flagged observation after ``after``, else _NO_DATE."""
    out = np.full(n, _NO_DATE, dtype="int64")
    sel = obs.flag & (obs.date > _ns(after))
    np.maximum.at(out, obs.code[sel], obs.date[sel])
    return out


def _pct_in_window(
    obs: _Obs,
    n: int,
    x: np.ndarray,
    d: pd.Timestamp,
    window_days: int,
    tolerance_days: int,
    min_obs: int,
    since: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """metrics._percentile for many symbols at once: (pct, obs, complete) per code.

    pct = 100 × share of observations in (d − W, d] (and on or after ``since`` per code) that are <= x;
    complete = the first observation held (any date) is <= d − W + tolerance.
    """
    start = d - pd.Timedelta(days=window_days)
    first = np.full(n, _FAR, dtype="int64")
    np.minimum.at(first, obs.code, obs.date)
    win = obs.date > _ns(start)
    if since is not None:
        win &= obs.date >= since[obs.code]
    c = obs.code[win]
    le = (obs.value[win] <= x[c]).astype("float64")
    cnt = np.bincount(c, minlength=n)
    le_cnt = np.bincount(c, weights=le, minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where((cnt >= max(1, min_obs)) & ~np.isnan(x), 100.0 * le_cnt / cnt, np.nan)
    complete = first <= _ns(start + pd.Timedelta(days=tolerance_days))
    return pct, cnt.astype("int64"), complete


def _split_breaks(si: pd.DataFrame) -> np.ndarray:
    """Per SI row: a split whose ratio is unknown (analytics/splits.py), so a change across it would
    mix share bases. Frames restated by the split model carry ``split_unresolved``; raw frames only
    FINRA's flag, every one of which then counts."""
    col = splits.UNRESOLVED if splits.UNRESOLVED in si else "split_flag"
    if col not in si:
        return np.zeros(len(si), dtype=bool)
    return np.asarray(si[col].fillna(False).astype(bool).to_numpy(), dtype=bool)


def _split_restated(si: pd.DataFrame) -> np.ndarray:
    """Per SI row: a split the model resolved (its window's shares and prices are restated)."""
    if splits.UNRESOLVED not in si or "split_flag" not in si:
        return np.zeros(len(si), dtype=bool)
    flag = np.asarray(si["split_flag"].fillna(False).astype(bool).to_numpy(), dtype=bool)
    return flag & ~_split_breaks(si)


def _rank(frame: pd.DataFrame, score: str, tie: str) -> np.ndarray:
    """1-based rank by ``score`` descending, NaN last, ties by ``tie`` ascending."""
    if frame.empty:
        return np.array([], dtype="int64")
    s = pd.to_numeric(frame[score], errors="coerce").to_numpy(dtype="float64")
    names = frame[tie].astype(str).to_numpy()
    order = sorted(range(len(frame)), key=lambda i: ms.rank_key(float(s[i]), str(names[i])))
    ranks = np.empty(len(frame), dtype="int64")
    ranks[order] = np.arange(1, len(frame) + 1)
    return ranks


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}"


def to_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: NaN / NA -> None, numpy scalars -> Python scalars."""
    out: list[dict[str, Any]] = []
    for rec in frame.to_dict(orient="records"):
        clean: dict[str, Any] = {}
        for k, v in rec.items():
            if v is None or (not isinstance(v, str | bool) and pd.isna(v)):
                clean[str(k)] = None
            elif isinstance(v, np.generic):
                clean[str(k)] = v.item()
            elif isinstance(v, pd.Timestamp):
                clean[str(k)] = v.date().isoformat()
            else:
                clean[str(k)] = v
        out.append(clean)
    return out


# ------------------------------------------------------------------------------------------- stocks


def _constituents_on(members: pd.DataFrame, indices: list[str], d: pd.Timestamp) -> pd.DataFrame:
    """symbol, name, sector, indices (comma-joined), membership_as_of (the latest snapshot date of the
    lists it was picked from) of the union of ``indices`` as of d (metrics.membership_on)."""
    parts = []
    for idx in indices:
        rows, as_of, _ = m.membership_on(members, idx, d)
        part = pd.DataFrame(
            {
                "symbol": rows["symbol"].to_numpy(dtype=object),
                "name": (rows["name"] if "name" in rows else pd.Series(None, index=rows.index)).to_numpy(
                    dtype=object
                ),
                "sector": (
                    rows["sector"] if "sector" in rows else pd.Series(None, index=rows.index)
                ).to_numpy(dtype=object),
                "idx": idx,
                "as_of": pd.Timestamp(as_of) if as_of is not None else pd.NaT,
            }
        )
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=["symbol", "name", "sector", "indices", "membership_as_of"])
    cons = pd.concat(parts, ignore_index=True)
    first = cons.drop_duplicates("symbol", keep="first").reset_index(drop=True)
    listed = np.full(len(first), "", dtype=object)
    for idx in sorted(indices):  # a few indices: one vectorised pass each
        has = first["symbol"].isin(set(cons.loc[cons["idx"] == idx, "symbol"])).to_numpy()
        listed = np.where(has, np.where(listed == "", idx, listed + "," + idx), listed)
    first["indices"] = listed
    first["membership_as_of"] = first["symbol"].map(cons.groupby("symbol")["as_of"].max()).to_numpy()
    return first.drop(columns=["idx", "as_of"])


def _member_rows(
    si_d: pd.DataFrame,
    members: pd.DataFrame,
    indices: list[str],
    d: pd.Timestamp,
    closes: pd.DataFrame | None,
    max_si_pct: float,
) -> pd.DataFrame:
    """metrics.stock_rows for each index, first index (sorted) wins for a stock in several."""
    parts = [m.stock_rows(si_d, members, idx, d, closes, max_si_pct) for idx in indices]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in m.STOCK_COLUMNS})
    return pd.concat(parts, ignore_index=True).drop_duplicates("symbol", keep="first").reset_index(drop=True)


def _empty_stock_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    return (
        pd.DataFrame({c: pd.Series(dtype=object) for c in STOCK_TABLE_COLUMNS}),
        pd.DataFrame({c: pd.Series(dtype=object) for c in EXCLUDED_COLUMNS}),
    )


def stock_table(  # noqa: PLR0915 (over 60 statements: to split, issue 11)
    si: pd.DataFrame,
    members: pd.DataFrame,
    prices: pd.DataFrame | None,
    index: str | None,
    d: Any,
    gates: GateConfig | None = None,
    prev_d: Any = None,
    *,
    sparse: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-stock rows on settlement date d over the constituents of ``index`` as of d (all indices when None).

    Returns (rows in ``STOCK_TABLE_COLUMNS`` order, ranked by divergence_score desc, NaN last, ties by
    symbol; excluded in ``EXCLUDED_COLUMNS``: one row per failed gate per stock, with a plain reason).
    ``prev_rank``: the stock's rank on ``prev_d`` computed the same way (null when not ranked then or no
    prev_d). ``sparse``: the sparse settlement dates (analytics/coverage.py), left out of change bases
    and SI percentiles; on a sparse d the SI percentile is null. See the module docstring for change
    bases, splits, closes and gates.
    """
    gates = gates or GateConfig()
    d = m._ts(d)
    indices = _indices(members, index)
    si_h = _si_frame(si, d)
    if si_h.empty or not indices:
        return _empty_stock_tables()
    dates = _not_sparse(pd.DatetimeIndex(np.sort(si_h["settlement_date"].unique())), sparse, d)
    sparse_d = _is_sparse(sparse, d)
    n_before = int(dates.searchsorted(d, side="left"))
    bases: dict[str, pd.Timestamp | None] = {
        "last": pd.Timestamp(dates[n_before - 1]) if n_before >= 1 else None,
        "3": pd.Timestamp(dates[n_before - 3]) if n_before >= 3 else None,
        "12m": _base(dates, d, "12m"),
    }

    cons = _constituents_on(members, indices, d)
    earliest = min([b for b in bases.values() if b is not None] + [d - pd.Timedelta(days=ONE_YEAR_DAYS)])
    px = _price_frame(prices, set(cons["symbol"]), d, earliest - pd.Timedelta(days=10))
    si_d = si_h[si_h["settlement_date"] == d]
    rows = _member_rows(
        si_d, members, indices, d, px[px["date"] >= d - pd.Timedelta(days=10)], gates.max_si_pct
    )
    rows = rows.merge(cons[["symbol", "indices", "membership_as_of"]], on="symbol", how="left")
    rows["index"] = index
    rows["settlement_date"] = _iso(d)
    rows["membership_as_of"], rows["membership_look_ahead"] = _look_ahead(rows["membership_as_of"], d)
    rows["sparse_date"] = sparse_d

    # ---- gates: one excluded row per failed gate
    excl: list[dict[str, Any]] = []
    no_si = cons[~cons["symbol"].isin(rows["symbol"])]
    for r in no_si.itertuples(index=False):
        excl.append(
            {
                "symbol": r.symbol,
                "name": r.name,
                "sector": r.sector,
                "indices": r.indices,
                "gate": "no_short_interest",
                "reason": f"no short interest report on {_iso(d)}",
            }
        )
    adv = rows["avg_daily_volume"].astype("float64").to_numpy()
    close = rows["close"].astype("float64").to_numpy()
    with np.errstate(invalid="ignore"):
        dollar = adv * close
        failed = {
            "quarantine": rows["quarantine_reason"].notna().to_numpy(),
            "min_avg_daily_volume": ~np.isnan(adv) & (adv < gates.min_avg_daily_volume),
            "min_price": ~np.isnan(close) & (close < gates.min_price),
            "min_dollar_volume": ~np.isnan(dollar) & (dollar < gates.min_dollar_volume),
        }
    texts = {
        "quarantine": lambda i: str(rows["quarantine_reason"].iat[i]),
        "min_avg_daily_volume": lambda i: (
            f"avg daily volume {_fmt(float(adv[i]))} < {_fmt(gates.min_avg_daily_volume)}"
        ),
        "min_price": lambda i: f"close {close[i]:,.2f} < {gates.min_price:,.2f}",
        "min_dollar_volume": lambda i: (
            f"dollar volume {_fmt(float(dollar[i]))} < {_fmt(gates.min_dollar_volume)}"
        ),
    }
    out_mask = np.zeros(len(rows), dtype=bool)
    for gate, mask in failed.items():
        out_mask |= mask
        for i in np.flatnonzero(mask).tolist():
            excl.append(
                {
                    "symbol": rows["symbol"].iat[i],
                    "name": rows["name"].iat[i],
                    "sector": rows["sector"].iat[i],
                    "indices": rows["indices"].iat[i],
                    "gate": gate,
                    "reason": texts[gate](i),
                }
            )
    excluded = pd.DataFrame(excl, columns=EXCLUDED_COLUMNS).sort_values(["symbol", "gate"], kind="stable")
    excluded = excluded.reset_index(drop=True)
    rows["price_gates"] = np.where(np.isnan(close), "unchecked", "passed")
    rows["volume_gates"] = np.where(np.isnan(adv), "unchecked", "passed")
    rows = rows.loc[~out_mask].reset_index(drop=True)
    if rows.empty:
        return _empty_stock_tables()[0], excluded

    # ---- history as parallel arrays keyed by the stock's position in ``syms`` (no string joins)
    syms = rows["symbol"].to_numpy(dtype=object)
    n = len(syms)
    universe = pd.Index(syms)
    h = _coded(
        universe,
        si_h["symbol"],
        si_h["settlement_date"].to_numpy(dtype="datetime64[ns]"),
        m._float(si_h, "short_interest"),
        _split_breaks(si_h),
    )
    p = _coded(universe, px["symbol"], px["date"].to_numpy(dtype="datetime64[ns]"), px["close"].to_numpy())
    si_now = rows["short_interest"].astype("float64").to_numpy()
    close_now = rows["close"].astype("float64").to_numpy()

    # ---- changes over the common base dates
    hit_by_kind: dict[str, np.ndarray] = {}
    for kind in CHANGE_KINDS:
        b = bases[kind]
        rows[f"si_base_{kind}"] = _iso(b)
        if b is None:
            si_b = close_b = np.full(n, np.nan)
            hit = np.zeros(n, dtype=bool)
        else:
            si_b = _last_in(h, n, b, b)
            close_b = _last_in(p, n, b - pd.Timedelta(days=m.CLOSE_TOLERANCE_DAYS), b)
            hit = _any_flag_in(h, n, b)  # split flagged on a date in (b, d]
        with np.errstate(divide="ignore", invalid="ignore"):
            si_chg = si_now / np.where(si_b != 0, si_b, np.nan) - 1.0
            px_ret = close_now / np.where(close_b != 0, close_b, np.nan) - 1.0
        hit_by_kind[kind] = hit
        if gates.exclude_split_flagged:
            si_chg[hit] = px_ret[hit] = si_b[hit] = close_b[hit] = np.nan
        rows[f"si_change_{kind}"] = si_chg
        rows[f"price_return_{kind}"] = px_ret
        if kind == "last":
            rows["short_interest_prev"] = si_b
            rows["close_prev"] = close_b

    # ---- dollar change since the last report: quantity effect + price effect = total, exactly
    s0, p0 = rows["short_interest_prev"].to_numpy(), rows["close_prev"].to_numpy()
    rows["si_dollar_change_last"] = si_now * close_now - s0 * p0
    rows["si_dollar_quantity_effect"] = (si_now - s0) * p0
    rows["si_dollar_price_effect"] = si_now * (close_now - p0)

    # ---- percentiles in the trailing year (SI: only post-split reports when splits are excluded)
    start_1y = d - pd.Timedelta(days=ONE_YEAR_DAYS)
    cut = _last_flag_after(h, n, start_1y) if gates.exclude_split_flagged else np.full(n, _NO_DATE)
    truncated = cut != _NO_DATE
    si_min = ms.min_observations(ONE_YEAR_DAYS, ms.SI_REPORTS_PER_YEAR)
    pct, obs, complete = _pct_in_window(
        _without_dates(h, sparse), n, si_now, d, ONE_YEAR_DAYS, SI_PCT_TOLERANCE_DAYS, si_min, since=cut
    )
    if sparse_d:
        pct[:] = np.nan
    rows["si_pct_1y"] = pct
    rows["si_pct_1y_obs"] = obs
    rows["si_pct_1y_complete"] = complete & ~truncated
    px_min = ms.min_observations(ONE_YEAR_DAYS, ms.PRICE_CLOSES_PER_YEAR)
    pct, obs, complete = _pct_in_window(p, n, close_now, d, ONE_YEAR_DAYS, PRICE_PCT_TOLERANCE_DAYS, px_min)
    rows["price_pct_1y"] = pct
    rows["price_pct_1y_obs"] = obs
    rows["price_pct_1y_complete"] = complete

    # ---- quadrant and score (metrics' own definitions, row by row: no dates involved)
    quads = [
        ms.quadrant(a, b) for a, b in zip(rows["si_change_last"], rows["price_return_last"], strict=True)
    ]
    rows["quadrant"] = pd.Series(quads, dtype=object)
    rows["quadrant_key"] = pd.Series([ms.QUADRANT_KEYS.get(q) if q else None for q in quads], dtype=object)
    rows["divergence_score"] = [
        ms.divergence_score(a, b) for a, b in zip(rows["si_pct_1y"], rows["price_pct_1y"], strict=True)
    ]
    rows["score_missing"] = pd.Series(
        [
            ms.score_missing(
                a,
                b,
                "1Y SI percentile: a sparse settlement date (too few symbols held) is not ranked"
                if sparse_d
                else f"1Y SI percentile: {so} reports in the window, fewer than the {si_min} required"
                if so < si_min
                else None,
                f"no close on or before {_iso(d)}"
                if c != c
                else (
                    f"1Y price percentile: {po} closes in the window, fewer than the {px_min} required"
                    if po < px_min
                    else None
                ),
            )
            for a, b, c, so, po in zip(
                rows["si_pct_1y"],
                rows["price_pct_1y"],
                rows["close"],
                rows["si_pct_1y_obs"],
                rows["price_pct_1y_obs"],
                strict=True,
            )
        ],
        dtype=object,
    )

    verb = "nulled" if gates.exclude_split_flagged else "computed across it"
    # Splits the model resolved (analytics/splits.py): the window's figures are restated, say so.
    restated = _coded(
        universe,
        si_h["symbol"],
        si_h["settlement_date"].to_numpy(dtype="datetime64[ns]"),
        m._float(si_h, "short_interest"),
        _split_restated(si_h),
    )
    restated_by_kind = {
        k: _any_flag_in(restated, n, b) if b is not None else np.zeros(n, dtype=bool)
        for k, b in bases.items()
    }
    note: list[str | None] = []
    for i in range(n):
        parts = []
        kinds = [k for k in CHANGE_KINDS if hit_by_kind[k][i]]
        if kinds:
            parts.append(f"split in window ({', '.join(kinds)}): changes {verb}")
        kinds = [k for k in CHANGE_KINDS if restated_by_kind[k][i]]
        if kinds:
            parts.append(f"split in window ({', '.join(kinds)}): restated on today's share basis")
        if truncated[i]:
            parts.append(f"1Y SI percentile from the split on {_iso(pd.Timestamp(cut[i]))}")
        note.append("; ".join(parts) or None)
    rows["change_note"] = pd.Series(note, dtype=object)
    rows["split_flag"] = rows["split_flag"].astype(bool)

    rows["rank"] = _rank(rows, "divergence_score", "symbol")
    rows["prev_rank"] = pd.array([pd.NA] * len(rows), dtype="Int64")
    if prev_d is not None:
        prev_rows, _ = stock_table(si, members, prices, index, prev_d, gates, sparse=sparse)
        prev_map = dict(zip(prev_rows["symbol"], prev_rows["rank"], strict=True))
        rows["prev_rank"] = pd.array([prev_map.get(sym) for sym in syms], dtype="Int64")
    rows = rows.sort_values("rank", kind="stable").reset_index(drop=True)
    for col in ("short_interest", "avg_daily_volume", "shares_outstanding", "float_shares", "close"):
        rows[col] = rows[col].astype("float64")
    return rows[STOCK_TABLE_COLUMNS], excluded


# ------------------------------------------------------------------------------------------- sectors


def _joined_all(
    si_h: pd.DataFrame, members: pd.DataFrame, indices: list[str], max_si_pct: float
) -> pd.DataFrame:
    """Per (settlement_date, constituent with SI) rows over each date's own membership (metrics._joined)."""
    parts = []
    for idx in indices:
        rows, _ = m._joined(si_h, members, None, idx, max_si_pct)
        if rows.empty:
            continue
        sector = members["sector"] if "sector" in members else pd.Series(None, index=members.index)
        parts.append(
            pd.DataFrame(
                {
                    "date": rows["settlement_date"].to_numpy(),
                    "symbol": si_h["symbol"].iloc[rows["srow"].to_numpy()].to_numpy(dtype=object),
                    "sector": sector.iloc[rows["mrow"].to_numpy()].to_numpy(dtype=object),
                    "si": rows["short_interest"].to_numpy(),
                    "pct_so": rows["si_pct_so"].to_numpy(),
                    "has_so": rows["has_so"].to_numpy(),
                    "so": rows["shares_outstanding"].to_numpy(),
                    "quarantined": rows["quarantined"].to_numpy(),
                }
            )
        )
    if not parts:
        return pd.DataFrame(
            columns=["date", "symbol", "sector", "si", "pct_so", "has_so", "so", "quarantined"]
        )
    out = pd.concat(parts, ignore_index=True).drop_duplicates(["date", "symbol"], keep="first")
    out["sector"] = out["sector"].where(out["sector"].notna(), UNKNOWN_SECTOR)
    return out.reset_index(drop=True)


def _sector_price_levels(px: pd.DataFrame, weights: pd.DataFrame) -> dict[str, pd.Series]:
    """Chain-linked cap-weighted price level per sector: L(t)/L(t−1) = Σ SO·close_t / Σ SO·close_{t−1}.

    Over the stocks with a close on both consecutive trading days of each stock (fixed shares outstanding
    as of d), so a stock entering or leaving the price data does not jump the level. L = 1 on the first day.
    """
    if px.empty or weights.empty:
        return {}
    p = px.merge(weights, on="symbol", how="inner").sort_values(["symbol", "date"], kind="stable")
    p["prev"] = p.groupby("symbol", sort=False)["close"].shift(1)
    pairs = p[p["prev"].notna()]
    num = (pairs["so"] * pairs["close"]).groupby([pairs["sector"], pairs["date"]]).sum()
    den = (pairs["so"] * pairs["prev"]).groupby([pairs["sector"], pairs["date"]]).sum()
    factor = (num / den).rename("f")
    grid = p[["sector", "date"]].drop_duplicates().set_index(["sector", "date"]).sort_index()
    grid = grid.join(factor).fillna(1.0)
    level = grid["f"].groupby(level="sector").cumprod()
    return {str(s): lv.droplevel("sector") for s, lv in level.groupby(level="sector")}


def _sector_changes(
    si_h: pd.DataFrame,
    cons: pd.DataFrame,
    d: pd.Timestamp,
    bases: dict[str, pd.Timestamp | None],
    exclude_split_flagged: bool,
) -> pd.DataFrame:
    """Per sector: SI changes like for like (``measures.like_for_like``, as the index rows do) over
    the sector's constituents on d, with the counts compared and left out; indexed by sector."""
    flags = si_h[_split_breaks(si_h)]  # only splits whose ratio is unknown: the rest are restated
    members = cons["symbol"].to_numpy(dtype=object)
    by_sector = {str(s): g["symbol"].to_numpy(dtype=object) for s, g in cons.groupby("sector")}
    out = pd.DataFrame(index=pd.Index(sorted(by_sector), name="sector"))
    out["si_change_basis"], out["si_level_basis"] = ms.LIKE_FOR_LIKE, ms.OWN_MEMBERSHIP
    split: dict[str, set[Any]] = {s: set() for s in by_sector}
    on_d = si_h[si_h["settlement_date"] == d]
    for kind in SECTOR_CHANGE_KINDS:
        b = bases[kind]
        cols = [f"si_change_{kind}", f"si_change_compared_{kind}", f"si_change_excluded_{kind}"]
        if b is None:
            out[cols] = None
            continue
        on_b = si_h[si_h["settlement_date"] == b]
        flagged = flags.loc[flags["settlement_date"] > b, "symbol"].to_numpy(dtype=object)
        matched = ms.like_for_like(
            members,
            on_d["symbol"].to_numpy(dtype=object),
            m._float(on_d, "short_interest"),
            on_b["symbol"].to_numpy(dtype=object),
            m._float(on_b, "short_interest"),
            flagged if exclude_split_flagged else np.array([], dtype=object),
        )
        subs = {s: matched.subset(syms) for s, syms in by_sector.items()}
        out[cols[0]] = [subs[s].value for s in out.index]
        out[cols[1]] = [len(subs[s].keys) for s in out.index]
        out[cols[2]] = [len(subs[s].split) + len(subs[s].unmatched) for s in out.index]
        for s, sub in subs.items():
            split[s].update(sub.split.tolist())
    out["split_excluded_symbols"] = [len(split[s]) for s in out.index]
    return out


def sector_table(  # noqa: PLR0915 (over 60 statements: to split, issue 11)
    si: pd.DataFrame,
    members: pd.DataFrame,
    prices: pd.DataFrame | None,
    index: str | None,
    d: Any,
    gates: GateConfig | None = None,
    prev_d: Any = None,
    *,
    sparse: np.ndarray | None = None,
) -> pd.DataFrame:
    """Per GICS sector of the constituents of ``index`` (all indices when None) on settlement date d.

    Each date's figures are over that date's own constituents of the sector that have an SI row (as
    the index levels, sql/levels.sql, do for the index). Quarantined rows stay out of the median SI % but their
    shares count in total_si_shares. SI changes of the sector total are like for like (``_sector_changes``):
    the sector's constituents on d with an SI row on both dates, split-flagged symbols (flag in (base, d])
    left out when ``gates.exclude_split_flagged``. si_pct_1y / 5y: percentile of the
    sector's median SI % of shares outstanding over the settlement dates held. Price: a chain-linked
    cap-weighted (Σ shares outstanding × close) level of the sector's constituents on d; null without
    closes, and then quadrant and divergence are null too. Liquidity gates do not apply to sector
    aggregates (as for index rows). Ranked by si_pct_1y desc, NaN last, ties by sector.
    """
    gates = gates or GateConfig()
    d = m._ts(d)
    indices = _indices(members, index)
    si_h = _si_frame(si, d)
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in SECTOR_TABLE_COLUMNS})
    if si_h.empty or not indices:
        return empty
    j = _joined_all(si_h, members, indices, gates.max_si_pct)
    if j.empty or not (j["date"] == d).any():
        return empty
    dates = _not_sparse(pd.DatetimeIndex(np.sort(j["date"].unique())), sparse, d)
    cons = _constituents_on(members, indices, d)
    cons["sector"] = cons["sector"].where(cons["sector"].notna(), UNKNOWN_SECTOR)
    sectors = sorted(set(cons["sector"]) | set(j.loc[j["date"] == d, "sector"]))
    out = pd.DataFrame({"sector": sectors}).set_index("sector", drop=False)
    out["index"] = index
    out["settlement_date"] = _iso(d)
    as_of, ahead = _look_ahead([cons["membership_as_of"].max()], d)
    out["membership_as_of"], out["membership_look_ahead"] = as_of[0], bool(ahead[0])
    out["sparse_date"] = _is_sparse(sparse, d)
    out["members"] = cons.groupby("sector").size().reindex(sectors).fillna(0).astype("int64")

    jd = j[j["date"] == d]
    gd = jd.groupby("sector")
    out["members_with_si"] = gd.size().reindex(sectors).fillna(0).astype("int64")
    out["members_with_denominator"] = gd["has_so"].sum().reindex(sectors).fillna(0).astype("int64")
    out["quarantined"] = gd["quarantined"].sum().reindex(sectors).fillna(0).astype("int64")
    ok = j[~j["quarantined"].astype(bool)]
    medians = ok.groupby(["sector", "date"])["pct_so"].median()
    out["median_si_pct_so"] = [float(medians.get((s, d), np.nan)) for s in sectors]
    out["total_si_shares"] = gd["si"].sum().reindex(sectors).to_numpy()

    bases: dict[str, pd.Timestamp | None] = {}
    for kind in SECTOR_CHANGE_KINDS:
        bases[kind] = _base(dates, d, kind)
        out[f"si_base_{kind}"] = _iso(bases[kind])
    out = out.join(_sector_changes(si_h, cons, d, bases, gates.exclude_split_flagged).reindex(sectors))

    for label, days in (("1y", ONE_YEAR_DAYS), ("5y", FIVE_YEAR_DAYS)):
        vals, obs, comp = [], [], []
        for s in sectors:
            series = (
                medians.xs(s, level="sector")
                if s in medians.index.get_level_values(0)
                else pd.Series(dtype="float64")
            )
            p = (
                ms.percentile(series.index, series.to_numpy(), d, days, left_out=sparse)
                if len(series)
                else ms.Percentile(math.nan, 0, None, False, 0)
            )
            vals.append(p.value)
            obs.append(p.n_obs)
            comp.append(p.window_complete)
        out[f"si_pct_{label}"] = vals
        out[f"si_pct_{label}_obs"] = obs
        out[f"si_pct_{label}_complete"] = comp

    # ---- price: cap-weighted level of the sector's constituents on d
    weights = jd[jd["has_so"].astype(bool) & ~jd["quarantined"].astype(bool)][["symbol", "sector", "so"]]
    earliest = min([b for b in bases.values() if b is not None] + [d - pd.Timedelta(days=ONE_YEAR_DAYS)])
    px = _price_frame(prices, set(weights["symbol"]), d, earliest - pd.Timedelta(days=10))
    levels = _sector_price_levels(px, weights)
    with_px = _close_at(px, d)
    out["members_with_price"] = (
        weights[weights["symbol"].isin(with_px.index)]
        .groupby("sector")
        .size()
        .reindex(sectors)
        .fillna(0)
        .astype("int64")
    )
    for kind in SECTOR_CHANGE_KINDS:
        b = bases[kind]
        out[f"price_return_{kind}"] = [
            ms.price_return(levels[s].index, levels[s].to_numpy(), b, d)
            if (s in levels and b is not None)
            else np.nan
            for s in sectors
        ]
    out["price_pct_1y"] = [
        ms.price_percentile(levels[s].index, levels[s].to_numpy(), d, ONE_YEAR_DAYS).value
        if s in levels
        else np.nan
        for s in sectors
    ]
    quads = [ms.quadrant(a, b) for a, b in zip(out["si_change_last"], out["price_return_last"], strict=True)]
    out["quadrant"] = quads
    out["quadrant_key"] = [ms.QUADRANT_KEYS.get(q) if q else None for q in quads]
    out["divergence_score"] = [
        ms.divergence_score(a, b) for a, b in zip(out["si_pct_1y"], out["price_pct_1y"], strict=True)
    ]
    out["score_missing"] = [
        ms.score_missing(a, b, None, None if s in levels else "no member prices for the sector")
        for a, b, s in zip(out["si_pct_1y"], out["price_pct_1y"], sectors, strict=True)
    ]
    out = out.reset_index(drop=True)
    out["rank"] = _rank(out, "si_pct_1y", "sector")
    out["prev_rank"] = pd.array([pd.NA] * len(out), dtype="Int64")
    if prev_d is not None:
        prev = sector_table(si, members, prices, index, prev_d, gates, sparse=sparse)
        prev_map = dict(zip(prev["sector"], prev["rank"], strict=True))
        out["prev_rank"] = pd.array([prev_map.get(s) for s in out["sector"]], dtype="Int64")
    out = out.sort_values("rank", kind="stable").reset_index(drop=True)
    return out[SECTOR_TABLE_COLUMNS]
