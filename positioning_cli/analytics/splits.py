"""One split model: split events and the factors that put every share count and price on one basis.

FINRA marks the report of a cycle in which a stock split with ``stockSplitFlag = S``: the split
happened in (the symbol's previous report, that report]. Its short interest is on the new basis,
the previous report's on the old one. An event's ratio (new shares per old share: 2 for 2-for-1,
0.1 for 1-for-10) comes from, in order:

1. FINRA: ``previousShortPositionQuantity`` on the flagged row is restated on the post-split basis,
   so restated previous / the previous report's short interest is the ratio. It is snapped to the
   nearest ratio in ``RATIOS`` when within ``FINRA_TOLERANCE``; a quotient near 1 means the file
   did not restate it and says nothing.
2. The stored closes: the close-to-close jump (previous close / close) in the window. With a FINRA
   ratio, a jump within ``PRICE_TOLERANCE`` of it pins the ex-date (the first close on the new
   basis); without one, the window's largest jump snapped within ``PRICE_TOLERANCE`` gives both.
   No jump means the closes are already split-adjusted (Yahoo's Close is): they are left alone.

A flagged report with neither stays *unresolved*: its changes across the split are nulled as
before (``split_unresolved``), never computed from mixed bases. Yahoo's ``events.splits`` is not
kept by the price ingest, so there is no third source.

The basis is the latest one in the data given (history restated into today's shares, like
Yahoo's adjusted close): a share count (short interest, average daily volume, shares outstanding,
float) dated t is multiplied by F(t), the product of the ratios of the symbol's events effective
after t, and a price divided by it (only for events whose jump is in the stored closes). An event is
effective on its ex-date, or on the flagged settlement date when no close pins it (a membership
snapshot taken inside the window then counts as pre-split). A store without split flags is
returned unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

# Ratios companies use: forward 3:2, 2, 3, 4, 5, 10, 20; reverse 1:2 ... 1:100.
RATIOS = (
    1.5,
    2.0,
    3.0,
    4.0,
    5.0,
    10.0,
    20.0,
    1 / 2,
    1 / 3,
    1 / 4,
    1 / 5,
    1 / 8,
    1 / 10,
    1 / 20,
    1 / 50,
    1 / 100,
)
# FINRA's restated previous is the old position times the ratio, up to rounding and a revision.
FINRA_TOLERANCE = 0.03
# A close moves on the ex-date too: up to 12% either side of the ratio (3:2 and 2 stay apart).
PRICE_TOLERANCE = 0.12
SHARE_COLUMNS = ("short_interest", "avg_daily_volume", "shares_outstanding", "float_shares")
PRICE_COLUMNS = ("open", "high", "low", "close")
UNRESOLVED = "split_unresolved"


@dataclass(frozen=True)
class SplitEvent:
    symbol: str
    after: date | None  # the symbol's previous report: the split is in (after, settlement_date]
    settlement_date: date  # the report FINRA flagged
    ratio: float | None  # new shares per old share; None: unresolved
    ex_date: date | None  # the first close on the new basis, when the stored closes show the jump
    source: str  # "finra", "finra+price", "price" or "unresolved"

    @property
    def effective(self) -> date:
        return self.ex_date or self.settlement_date


def snap(quotient: float, tolerance: float) -> float | None:
    """The ratio in ``RATIOS`` nearest ``quotient`` (in log distance) when within ``tolerance``."""
    if not quotient > 0 or not math.isfinite(quotient):
        return None
    best = min(RATIOS, key=lambda k: abs(math.log(quotient / k)))
    return best if abs(math.log(quotient / best)) <= math.log1p(tolerance) else None


def _closes_by_symbol(
    prices: pd.DataFrame | None, symbols: set[str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(days, closes) sorted by day, per symbol of ``symbols`` with prices."""
    import pandas as pd

    if prices is None or prices.empty:
        return {}
    px = prices.loc[prices["symbol"].isin(symbols), ["symbol", "date", "close"]].dropna()
    px = px.assign(date=pd.to_datetime(px["date"]).to_numpy().astype("datetime64[D]"))
    px = px.sort_values(["symbol", "date"], kind="stable")
    return {
        str(sym): (g["date"].to_numpy(dtype="datetime64[D]"), g["close"].to_numpy(dtype="float64"))
        for sym, g in px.groupby("symbol", sort=False)
    }


def _jumps(
    series: tuple[np.ndarray, np.ndarray] | None, after: date | None, end: date
) -> list[tuple[date, float]]:
    """(day, previous close / close) for each close dated in (after, end]."""
    if series is None:
        return []
    day, close = series
    lo = np.datetime64(after, "D") if after is not None else np.datetime64("NaT")
    inside = (day[1:] <= np.datetime64(end, "D")) & (close[1:] > 0)
    if after is not None:
        inside &= day[1:] > lo
    return [(day[1:][i].astype(date), float(close[i] / close[i + 1])) for i in np.flatnonzero(inside)]


def _price_pin(jumps: list[tuple[date, float]], finra: float | None) -> tuple[float | None, date | None]:
    """(ratio, ex-date) from the closes: the jump matching ``finra``, else the largest one snapped."""
    if finra is not None:
        near = [(abs(math.log(j / finra)), day) for day, j in jumps if snap(j, PRICE_TOLERANCE) == finra]
        return (finra, min(near)[1]) if near else (None, None)
    if not jumps:
        return None, None
    day, j = max(jumps, key=lambda dj: abs(math.log(dj[1])))
    ratio = snap(j, PRICE_TOLERANCE)
    return (ratio, day) if ratio is not None else (None, None)


def events(si: pd.DataFrame, prices: pd.DataFrame | None) -> list[SplitEvent]:
    """The split events of the flagged rows of ``si`` (settlement_date, symbol, short_interest,
    split_flag, and previous_short_interest when held), the symbol's earlier rows giving the
    previous report; ``prices`` (symbol, date, close) pins ex-dates."""
    import pandas as pd

    if UNRESOLVED in si:  # restated already: its quotients would read the ratio as 1
        raise ValueError("split events: the short-interest frame is already split-adjusted")
    if si.empty or "split_flag" not in si:
        return []
    flag = si["split_flag"].fillna(False).astype(bool).to_numpy()
    if not flag.any():
        return []
    flagged_symbols = set(si.loc[flag, "symbol"])
    rows = si[si["symbol"].isin(flagged_symbols)].copy()
    rows["settlement_date"] = pd.to_datetime(rows["settlement_date"])
    rows = rows.sort_values(["symbol", "settlement_date"], kind="stable")
    rows = rows.drop_duplicates(["symbol", "settlement_date"], keep="last")  # one report per date
    by = rows.groupby("symbol", sort=False)
    held = by["short_interest"].shift(1).to_numpy(dtype="float64", na_value=np.nan)
    after = by["settlement_date"].shift(1).to_numpy(dtype="datetime64[D]")
    ends = rows["settlement_date"].to_numpy(dtype="datetime64[D]")
    names = rows["symbol"].astype(str).to_numpy()
    restated = (
        pd.to_numeric(rows["previous_short_interest"], errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan
        )
        if "previous_short_interest" in rows
        else np.full(len(rows), np.nan)
    )
    closes = _closes_by_symbol(prices, flagged_symbols)
    out = []
    for i in np.flatnonzero(rows["split_flag"].fillna(False).astype(bool).to_numpy()):
        sym, end = str(names[i]), ends[i].astype(date)
        start = None if np.isnat(after[i]) else after[i].astype(date)
        finra = snap(restated[i] / held[i], FINRA_TOLERANCE) if held[i] > 0 else None
        ratio, ex = _price_pin(_jumps(closes.get(sym), start, end), finra)
        if finra is not None:
            out.append(SplitEvent(sym, start, end, finra, ex, "finra+price" if ex else "finra"))
        elif ratio is not None:
            out.append(SplitEvent(sym, start, end, ratio, ex, "price"))
        else:
            out.append(SplitEvent(sym, start, end, None, None, "unresolved"))
    return out


def _codes(symbols: Any, names: list[str]) -> np.ndarray:
    """Per row: the position of its symbol in ``names``, -1 when absent. ``symbols``: anything Arrow
    takes (an Arrow column, a pandas Series), so the warm scan needs no pandas."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from positioning_cli import arrays

    # pa.array on a Python list imports pandas: the value set is built from buffers.
    column = symbols if isinstance(symbols, pa.ChunkedArray | pa.Array) else pa.array(symbols)
    found = pc.index_in(column.cast(pa.string()), value_set=arrays.strings(names))
    return np.where(arrays.valid(found), arrays.to_numpy(found), -1).astype(
        np.int64
    )  # pc.fill_null imports pandas


def factors(events_: list[SplitEvent], symbols: Any, days: np.ndarray, *, prices: bool = False) -> np.ndarray:
    """F per row: the product of the ratios of the row's symbol's events effective after its day.

    ``prices``: only events whose jump is in the stored closes (the others' closes are already on
    the new basis, or there are none to adjust).
    """
    out = np.ones(len(days), dtype="float64")
    used = [e for e in events_ if e.ratio is not None and (e.ex_date is not None or not prices)]
    if not used or not len(days):
        return out
    names = sorted({e.symbol for e in used})
    code = _codes(symbols, names)
    hit = np.flatnonzero(code >= 0)
    day = np.asarray(days, dtype="datetime64[D]")[hit]
    for e in used:
        mine = hit[(code[hit] == names.index(e.symbol)) & (day < np.datetime64(e.effective, "D"))]
        out[mine] *= float(e.ratio or 1.0)
    return out


def unresolved(events_: list[SplitEvent], symbols: Any, days: np.ndarray) -> np.ndarray:
    """Per row (symbol, settlement date): the flagged report of an unresolved event."""
    out = np.zeros(len(days), dtype=bool)
    open_ = [e for e in events_ if e.ratio is None]
    if not open_ or not len(days):
        return out
    names = sorted({e.symbol for e in open_})
    code = _codes(symbols, names)
    d = np.asarray(days, dtype="datetime64[D]")
    for e in open_:
        out |= (code == names.index(e.symbol)) & (d == np.datetime64(e.settlement_date, "D"))
    return out


def restate_arrow_si(si: Any, events_: list[SplitEvent]) -> Any:
    """Arrow SI rows (settlement_date, symbol, short_interest, split_flag) as ``restate_si`` gives
    them, ``split_flag`` meaning unresolved: for the cached index view, without pandas."""

    from positioning_cli import arrays

    days = arrays.days(si.column("settlement_date"))
    f = factors(events_, si.column("symbol"), days)
    shares = arrays.floats(si.column("short_interest")) * f
    flag = unresolved(events_, si.column("symbol"), days) & arrays.flags(si.column("split_flag"))
    restated = arrays.from_numpy(shares, np.isnan(shares))
    out = si.set_column(si.schema.get_field_index("short_interest"), "short_interest", restated)
    return out.set_column(out.schema.get_field_index("split_flag"), "split_flag", arrays.from_numpy(flag))


def restate_si(si: pd.DataFrame, events_: list[SplitEvent]) -> pd.DataFrame:
    """Share counts on the latest basis, plus ``split_unresolved``: the flagged rows whose ratio is
    unknown (their changes are still nulled)."""
    out = si.copy()
    f = factors(events_, si["symbol"], si["settlement_date"].to_numpy())
    if (f != 1.0).any():
        for col in SHARE_COLUMNS:
            if col in out:
                out[col] = out[col].astype("float64") * f
    out[UNRESOLVED] = unresolved(events_, si["symbol"], si["settlement_date"].to_numpy())
    return out


def restate_members(members: pd.DataFrame, events_: list[SplitEvent]) -> pd.DataFrame:
    """Membership shares outstanding and float (dated by as_of) and the SEC values (dated by
    period_end) on the latest basis."""
    from positioning_cli import metrics as m

    f = factors(events_, members["symbol"], members["as_of"].to_numpy())
    sec = m._sec_of(members)
    if not (f != 1.0).any() and sec is None:
        return members
    out = members.copy()
    for col in ("shares_outstanding", "float_shares"):
        if col in out and (f != 1.0).any():
            out[col] = out[col].astype("float64") * f
    if sec is not None:
        g = factors(events_, sec["symbol"], sec["period_end"].to_numpy())
        if (g != 1.0).any():
            out.attrs[m.SEC_ATTR] = m._Shared(sec.assign(shares=sec["shares"] * g))
    return out


def restate_shares(shares: Any, events_: list[SplitEvent]) -> Any:
    """SEC shares outstanding (Arrow, dated by period_end) on the latest basis: the index levels'
    explicit SEC denominators (analytics/sql/sec.sql), restated as the membership's are."""
    from positioning_cli import arrays

    if shares is None or not shares.num_rows:
        return shares
    g = factors(events_, shares.column("symbol"), arrays.days(shares.column("period_end")))
    if not (g != 1.0).any():
        return shares
    values = arrays.floats(shares.column("shares")) * g
    i = shares.schema.get_field_index("shares")
    return shares.set_column(i, "shares", arrays.from_numpy(values, np.isnan(values)))


def restate_prices(prices: pd.DataFrame, events_: list[SplitEvent]) -> pd.DataFrame:
    """Prices (open, high, low, close) divided and volume multiplied by F on the latest basis,
    for events whose jump is in the stored closes."""
    f = factors(events_, prices["symbol"], prices["date"].to_numpy(), prices=True)
    if not (f != 1.0).any():
        return prices
    out = prices.copy()
    for col in PRICE_COLUMNS:
        if col in out:
            out[col] = out[col].astype("float64") / f
    if "volume" in out:
        out["volume"] = out["volume"].astype("float64") * f
    return out


# --------------------------------------------------------------------- the events of a store, kept


EVENTS_FILE = "splits.json"  # in STORE/.cache, next to the levels cache


def events_key(manifest: dict[str, Any], definitions: str) -> str:
    """Digest of every input the store's events depend on: the short-interest, price and membership
    files (membership decides which symbols are read) and the code that finds them."""
    import hashlib
    import json

    tables = manifest["tables"]
    files = {
        t: sorted((rel, e["sha256"]) for rel, e in tables.get(t, {"files": {}})["files"].items())
        for t in ("short_interest", "prices", "members")
    }
    return hashlib.sha256(json.dumps([definitions, files]).encode()).hexdigest()[:32]


def load_events(folder: Path, key: str) -> list[SplitEvent] | None:
    """The events kept for ``key``; None when there are none, they are for other inputs, or the file
    cannot be trusted (a link, damaged, another layout): derived data, recomputed."""
    import json

    file = folder / EVENTS_FILE
    if folder.is_symlink() or file.is_symlink() or not file.is_file():
        return None
    try:
        doc = json.loads(file.read_text())
        if not isinstance(doc, dict) or doc.get("key") != key:
            return None
        return [
            SplitEvent(
                str(sym),
                date.fromisoformat(after) if after else None,
                date.fromisoformat(end),
                None if ratio is None else float(ratio),
                date.fromisoformat(ex) if ex else None,
                str(source),
            )
            for sym, after, end, ratio, ex, source in doc["events"]
        ]
    except (OSError, ValueError, TypeError, KeyError):
        return None


def save_events(folder: Path, key: str, found: list[SplitEvent]) -> None:
    """Keep ``found`` for ``key`` (atomic rename; silently skipped when it cannot be written)."""
    import contextlib
    import json
    import os
    import uuid

    rows = [
        [
            e.symbol,
            e.after and e.after.isoformat(),
            e.settlement_date.isoformat(),
            e.ratio,
            e.ex_date and e.ex_date.isoformat(),
            e.source,
        ]
        for e in found
    ]
    tmp = folder / f".{uuid.uuid4().hex}.tmp"
    try:
        if folder.is_symlink():
            return
        folder.mkdir(exist_ok=True)
        tmp.write_text(json.dumps({"key": key, "events": rows}))
        os.replace(tmp, folder / EVENTS_FILE)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
