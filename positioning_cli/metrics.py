"""Metrics: the per-date joins of short interest with index membership, on pandas objects.

Per-stock rows (scan --by stock, sectors). Index levels are computed by the DuckDB engine
(analytics/engine.py, sql/levels.sql), with the same rules' constants. The measures of one series (changes, percentiles, price returns) are in
measures.py, numpy only. No I/O, no printing. Dates may be ``datetime.date`` or pandas
Timestamps; inside this module everything is datetime64[ns] so comparisons, merges and
searchsorted never mix types.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

# The rules' constants live with the engine that binds them into the SQL (one place); the
# per-stock rows below use the same values.
from positioning_cli.analytics.engine import (
    CLOSE_TOLERANCE_DAYS,
    DTC_FLOOR,
)

STOCK_COLUMNS = [
    "symbol",
    "name",
    "sector",
    "short_interest",
    "avg_daily_volume",
    "shares_outstanding",
    "float_shares",
    "close",
    "si_pct_so",
    "si_pct_float",
    "days_to_cover",
    "split_flag",
    "quarantine_reason",
    "denominator_source",
]

SEC_ATTR = "sec_shares"  # members.attrs key holding the shares_outstanding rows for the stock views


# --------------------------------------------------------------------------------------------- helpers


def _ts(d: Any) -> pd.Timestamp:
    """One scalar date type inside the module (date, datetime, str or Timestamp in; naive Timestamp out)."""
    return pd.Timestamp(d).normalize()


def _dt(values: Any) -> pd.Series:
    # Arrow date32 arrives as datetime.date objects or datetime64[ms]; merges need one resolution.
    return pd.Series(pd.to_datetime(values), copy=False).astype("datetime64[ns]")


def _float(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A nullable (Int64 / object / missing) column as float64 with NaN, so arithmetic propagates NaN."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def isin(values: pd.Series, allowed: pd.Series) -> np.ndarray:
    """Writable bool mask of ``values`` found in ``allowed`` (Arrow's hash lookup on Arrow strings:
    pandas' ``isin`` walks the allowed values in Python for them)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        hay = pa.array(values.array)  # zero-copy for Arrow-backed strings
        needles = pa.array(allowed.unique() if len(allowed) else allowed.array)
        mask = pc.is_in(hay, value_set=needles.cast(hay.type) if needles.type != hay.type else needles)
        return np.array(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)
    except (pa.ArrowException, TypeError, ValueError):
        return np.array(values.isin(allowed.unique()).to_numpy(dtype=bool), dtype=bool)


def _index_members(members: pd.DataFrame, index: str) -> pd.DataFrame:
    """The index's snapshot rows with numeric denominators; ``mrow`` points back to ``members`` rows."""
    mask = (members["index"] == index).to_numpy(dtype=bool)
    mem = members.loc[mask]
    return pd.DataFrame(
        {
            "as_of": _dt(mem["as_of"]).to_numpy(),
            "mrow": np.flatnonzero(mask),
            "so_member": _float(mem, "shares_outstanding"),
            "float_member": _float(mem, "float_shares"),
        }
    )


def _prepare_si(si: pd.DataFrame, rows: np.ndarray | None = None) -> pd.DataFrame:
    """Numeric SI columns; ``srow`` points back to ``si`` rows (symbols are kept out: see _joined).

    ``rows``: only these positions of ``si`` (a full-market table holds ~22,000 symbols per date,
    an index a few thousand: converting only the rows that can join is most of the speed).
    """
    srow = np.arange(len(si)) if rows is None else rows
    if rows is not None:
        si = si.iloc[rows]
    return pd.DataFrame(
        {
            "settlement_date": _dt(si["settlement_date"]).to_numpy(),
            "srow": srow,
            "short_interest": _float(si, "short_interest"),
            "avg_daily_volume": _float(si, "avg_daily_volume"),
            "split_flag": (
                si["split_flag"].fillna(False).astype(bool).to_numpy()
                if "split_flag" in si
                else np.zeros(len(si), dtype=bool)
            ),
            "so_si": _float(si, "shares_outstanding"),
            "float_si": _float(si, "float_shares"),
        }
    )


class _Shared:
    """A read-only frame in ``attrs``: pandas deep-copies attrs on every derived frame; this is
    passed along as is instead."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def __deepcopy__(self, memo: dict[int, Any]) -> _Shared:
        return self


def with_sec(members: pd.DataFrame, shares: pd.DataFrame | None) -> pd.DataFrame:
    """``members`` carrying the SEC denominators every view's join uses (``members.attrs``, so
    the frames the views pass around keep them without another argument on every function)."""
    if shares is not None and len(shares):
        members.attrs[SEC_ATTR] = _Shared(shares)
    return members


def _sec_of(members: pd.DataFrame) -> pd.DataFrame | None:
    held = members.attrs.get(SEC_ATTR)
    return held.frame if isinstance(held, _Shared) else None


def _sec_for(rows: pd.DataFrame, symbols: Any, shares: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per joined row: the SEC value as of its settlement date (NaN when none) and why it cannot be
    used (None when it can): sql/sec.sql's ``sec_for``, the rule index levels use."""
    n = len(rows)
    if shares is None or not len(shares) or not n:
        return np.full(n, np.nan), np.full(n, None, dtype=object)
    from positioning_cli.analytics import engine

    wanted = pd.DataFrame(
        {
            "d": rows["settlement_date"].to_numpy(),
            "symbol": np.asarray(symbols, dtype=object)[rows["code"].to_numpy()],
        }
    )
    got = engine.sec_for(wanted, shares).to_pandas()
    got["d"] = _dt(got["d"])
    hit = wanted.merge(got, on=["d", "symbol"], how="left", sort=False)
    reason = hit["sec_reason"].to_numpy(dtype=object)
    reason[pd.isna(reason)] = None
    return hit["sec_shares"].to_numpy(dtype="float64", na_value=np.nan), reason


def _resolve_denominator(from_members: np.ndarray, from_si: np.ndarray) -> np.ndarray:
    """Membership value when it is > 1, else the SI row's when > 1, else whatever non-null value exists.

    Keeping a bad value (0, 1) instead of NaN lets the row be quarantined with a reason rather than
    silently dropping out of the denominator count.
    """
    with np.errstate(invalid="ignore"):
        return np.where(
            from_members > 1,
            from_members,
            np.where(from_si > 1, from_si, np.where(~np.isnan(from_members), from_members, from_si)),
        )


def _snapshot_for(dates: pd.DatetimeIndex, snapshots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Snapshot used for each date: the latest as_of <= d, else the earliest (flagged as before-first)."""
    pos = np.searchsorted(snapshots, dates.to_numpy(), side="right") - 1
    before = pos < 0
    return snapshots[np.where(before, 0, pos)], before


def _joined(  # noqa: PLR0915 (over 60 statements: to split, issue 11)
    si: pd.DataFrame,
    members: pd.DataFrame,
    closes: pd.DataFrame | None,
    index: str,
    max_si_pct: float,
    only_date: pd.Timestamp | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per (settlement_date, constituent) rows with the derived per-member figures.

    Returns (constituents with an SI row on the date, with derived columns; per-date table with the
    snapshot used and the constituent count). Both are empty when the index has no membership at all.
    Symbols are joined as integer codes: merging Arrow-backed strings dominates the run time otherwise.
    """
    mem = _index_members(members, index)
    # Only SI rows of a symbol listed in some snapshot of the index can join: select them before
    # converting anything (same rows, same order as filtering after the join). The dates reported
    # are every date with an SI row, member or not, as before.
    all_dates = _dt(si["settlement_date"]).to_numpy()
    has_si = np.array(si["short_interest"].notna().to_numpy(dtype=bool))
    candidate = isin(si["symbol"], members["symbol"].iloc[mem["mrow"].to_numpy()]) & has_si
    if only_date is not None:
        on_day = all_dates == np.datetime64(only_date, "ns")
        candidate &= on_day
        has_si &= on_day
    dates = pd.DatetimeIndex(np.sort(pd.unique(all_dates[has_si])))
    sip = _prepare_si(si, np.flatnonzero(candidate))
    snapshots = np.sort(mem["as_of"].unique())
    if len(snapshots) == 0 or len(dates) == 0:
        return pd.DataFrame(), pd.DataFrame()

    # Integer symbol codes: factorising the Arrow strings once is cheap, joining on them repeatedly is not.
    codes, symbols = pd.factorize(
        pd.concat(
            [members["symbol"].iloc[mem["mrow"].to_numpy()], si["symbol"].iloc[sip["srow"].to_numpy()]],
            ignore_index=True,
        )
    )
    mem["code"] = codes[: len(mem)]
    sip = sip.assign(code=codes[len(mem) :])
    # Duplicate keys cannot come from the store; keep the last like an upsert would.
    mem = mem.drop_duplicates(["as_of", "code"], keep="last").reset_index(drop=True)
    sip = sip.drop_duplicates(["settlement_date", "code"], keep="last").reset_index(drop=True)

    snap, before = _snapshot_for(dates, snapshots)
    per_date = pd.DataFrame(
        {"settlement_date": dates, "membership_as_of": snap, "before_first_snapshot": before}
    )
    per_date["members"] = mem.groupby("as_of").size().reindex(snap).to_numpy()

    # Constituents of each date's snapshot, inner-joined with that date's SI rows: a sorted-key
    # lookup on (snapshot, symbol code), rows ordered by date then membership row (what the
    # equivalent pandas merges give).
    n_codes = max(len(symbols), 1)
    mem_key = np.searchsorted(snapshots, mem["as_of"].to_numpy()).astype(np.int64) * n_codes + mem[
        "code"
    ].to_numpy(dtype=np.int64)
    by_key = np.argsort(mem_key, kind="stable")
    sorted_key = mem_key[by_key]
    date_pos = dates.get_indexer(pd.DatetimeIndex(sip["settlement_date"].to_numpy()))
    sip_key = np.searchsorted(snapshots, snap[date_pos]).astype(np.int64) * n_codes + sip["code"].to_numpy(
        dtype=np.int64
    )
    at = np.minimum(np.searchsorted(sorted_key, sip_key), max(len(sorted_key) - 1, 0))
    match = (sorted_key[at] == sip_key) if len(sorted_key) else np.zeros(len(sip_key), dtype=bool)
    s_sel = np.flatnonzero(match)
    m_sel = by_key[at[s_sel]]
    order = np.lexsort((m_sel, date_pos[s_sel]))
    s_sel, m_sel = s_sel[order], m_sel[order]
    left = mem.iloc[m_sel].reset_index(drop=True)
    right = sip.iloc[s_sel].reset_index(drop=True)
    rows = pd.DataFrame(
        {
            "settlement_date": right["settlement_date"].to_numpy(),
            "membership_as_of": left["as_of"].to_numpy(),
            "as_of": left["as_of"].to_numpy(),
            "mrow": left["mrow"].to_numpy(),
            "so_member": left["so_member"].to_numpy(),
            "float_member": left["float_member"].to_numpy(),
            "code": left["code"].to_numpy(),
            "srow": right["srow"].to_numpy(),
            "short_interest": right["short_interest"].to_numpy(),
            "avg_daily_volume": right["avg_daily_volume"].to_numpy(),
            "split_flag": right["split_flag"].to_numpy(),
            "so_si": right["so_si"].to_numpy(),
            "float_si": right["float_si"].to_numpy(),
        }
    )

    rows["close"] = np.nan
    if closes is not None and len(closes) and len(rows):
        px_code = pd.Index(symbols).get_indexer(closes["symbol"])
        keep = px_code >= 0
        px = pd.DataFrame(
            {
                "code": px_code[keep],
                "date": _dt(closes["date"]).to_numpy()[keep],
                "px": _float(closes, "close")[keep],
            }
        )
        px = px[px["px"].notna()].sort_values("date", kind="stable")
        rows = rows.sort_values("settlement_date", kind="stable").drop(columns="close")
        rows = pd.merge_asof(
            rows,
            px.rename(columns={"px": "close"}),
            left_on="settlement_date",
            right_on="date",
            by="code",
            direction="backward",
            tolerance=pd.Timedelta(days=CLOSE_TOLERANCE_DAYS),
        )

    si_sh = rows["short_interest"].to_numpy()
    so = _resolve_denominator(rows["so_member"].to_numpy(), rows["so_si"].to_numpy())
    # SEC's value only where neither file gives one > 1; a quarantined one stays (with its reason).
    sec_so, sec_reason = _sec_for(rows, symbols, _sec_of(members))
    with np.errstate(invalid="ignore"):
        use_sec = ~(so > 1) & ~np.isnan(sec_so)
        so = np.where(use_sec, sec_so, so)
        source = np.where(
            rows["so_member"].to_numpy() > 1,
            "members_file",
            np.where(rows["so_si"].to_numpy() > 1, "short_interest_file", np.where(use_sec, "sec", "none")),
        )
    sec_bad = pd.notna(sec_reason) & use_sec
    fl = _resolve_denominator(rows["float_member"].to_numpy(), rows["float_si"].to_numpy())
    adv = rows["avg_daily_volume"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        has_so = so > 1
        has_float = fl > 1
        pct_so = np.where(has_so, 100.0 * si_sh / so, np.nan)
        pct_float = np.where(has_float, 100.0 * si_sh / fl, np.nan)
        has_adv = adv > 0
        dtc = np.where(has_adv, np.maximum(si_sh / adv, DTC_FLOOR), np.nan)
        bad_so = ~np.isnan(so) & (so <= 1)
        too_high = has_so & (pct_so > max_si_pct)
    rows["shares_outstanding"] = so
    rows["float_shares"] = fl
    rows["si_pct_so"] = pct_so
    rows["si_pct_float"] = pct_float
    rows["days_to_cover"] = dtc
    rows["has_so"] = has_so
    rows["has_float"] = has_float
    rows["has_adv"] = has_adv
    rows["quarantined"] = bad_so | too_high | sec_bad
    rows["denominator_source"] = np.where(has_so | sec_bad, source, "none")
    sec_reason[~use_sec] = None  # a value not used gives no reason
    rows["sec_reason"] = sec_reason
    return rows, per_date


# ----------------------------------------------------------------------------------------- membership


def membership_on(members: pd.DataFrame, index: str, d: Any) -> tuple[pd.DataFrame, date | None, bool]:
    """Rows of the latest snapshot of ``index`` with as_of <= d.

    When every snapshot is after d the earliest one is returned with ``before_first_snapshot=True`` so
    the caller can warn that today's list stands in for history (survivorship). An index with no
    snapshot at all gives an empty frame and ``None``.
    """
    mem = members.loc[members["index"] == index]
    as_of = _dt(mem["as_of"])
    snapshots = np.sort(as_of.unique())
    if len(snapshots) == 0:
        return mem.iloc[0:0].copy(), None, False
    snap, before = _snapshot_for(pd.DatetimeIndex([_ts(d)]), snapshots)
    chosen = pd.Timestamp(snap[0])
    rows = mem.loc[(as_of == chosen).to_numpy()].copy()
    return rows, chosen.date(), bool(before[0])


# ------------------------------------------------------------------------------------ per-stock and index


def _quarantine_reason(so: float, pct: float, max_si_pct: float, sec: str | None = None) -> str | None:
    if sec is not None:
        return sec
    if not math.isnan(so) and so <= 1:
        return f"shares outstanding of {so:.0f}"
    if not math.isnan(pct) and pct > max_si_pct:
        return f"SI {pct:.1f}% of shares outstanding > {max_si_pct:g}%"
    return None


def stock_rows(
    si: pd.DataFrame,
    members: pd.DataFrame,
    index: str,
    d: Any,
    closes: pd.DataFrame | None = None,
    max_si_pct: float = 100.0,
) -> pd.DataFrame:
    """Per-member rows on settlement date d: the constituents of ``index`` as of d that have an SI row.

    shares_outstanding / float_shares are the resolved denominators (membership value when > 1, else the
    SI row's); si_pct_* are NaN without a denominator; days_to_cover is SI / ADV floored at 1 (FINRA),
    NaN without volume; quarantine_reason says why a row is kept out of the SI % statistics.
    ``close`` is the last close on or before d within 5 days (NaN without ``closes``).
    """
    rows, _ = _joined(si, members, closes, index, max_si_pct, only_date=_ts(d))
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in STOCK_COLUMNS})
    rows["symbol"] = si["symbol"].iloc[rows["srow"].to_numpy()].to_numpy(dtype=object)
    rows = rows.sort_values("symbol", kind="stable").reset_index(drop=True)
    for col in ("name", "sector"):
        source = members[col] if col in members.columns else pd.Series(None, index=members.index)
        rows[col] = source.iloc[rows["mrow"].to_numpy()].to_numpy(dtype=object)
    # object dtype so "no reason" stays None rather than becoming NaN in a string column.
    rows["quarantine_reason"] = pd.Series(
        [
            _quarantine_reason(so, pct, max_si_pct, sec) if q else None
            for so, pct, q, sec in zip(
                rows["shares_outstanding"],
                rows["si_pct_so"],
                rows["quarantined"],
                rows["sec_reason"],
                strict=True,
            )
        ],
        dtype=object,
    )
    return rows[STOCK_COLUMNS]
