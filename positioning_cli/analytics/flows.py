"""Flows per index and day: the index return, the leveraged-ETF rebalance it sets off (letf.py),
that rebalance against the constituents' dollar volume (sql/dollar_volume.sql), and the short-sale
volume ratio (sql/short_volume.sql)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from positioning_cli import arrays, letf
from positioning_cli.analytics import short_volume as sv

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class FlowDay:
    index: str
    date: date
    proxy_symbol: str
    index_return: float  # the proxy's close-to-close return, a fraction
    letf_rebalance_usd: float | None  # Σ over the index's funds with assets; + = buying at the close
    letf_funds: int  # funds with net assets known at the day's close
    constituents_adv_usd: float | None  # Σ constituents' 20-session average daily dollar volume
    members_with_dollar_volume: int
    letf_rebalance_pct_adv: float | None  # 100 x rebalance / constituents' ADV$
    short_interest_usd: float | None  # Σ latest short interest x close, constituents with an ADV$
    covering_days: float | None  # short_interest_usd / their ADV$: days of dollar volume to cover
    sv_ratio: float | None  # short-sale volume ratio that day (a flow, not short interest)


@dataclass(frozen=True)
class _FundAssets:
    leverage: float
    index: str
    days: list[date]
    assets: list[float]

    def on(self, day: date) -> float | None:
        """Net assets reported for ``day``'s close, or None."""
        at = bisect_right(self.days, day) - 1
        return self.assets[at] if at >= 0 and self.days[at] == day else None


def fund_assets(funds: pa.Table) -> dict[str, _FundAssets]:
    """Per fund: leverage and index (the file's, else the shipped list's) and its assets by day."""
    rows = sorted(funds.to_pylist(), key=lambda r: (r["fund"], r["date"]))
    out: dict[str, _FundAssets] = {}
    for r in rows:
        known = letf.FUNDS_BY_NAME.get(r["fund"])
        leverage = r["leverage"] if r["leverage"] is not None else (known.leverage if known else None)
        index = r["index"] if r["index"] is not None else (known.index if known else None)
        if leverage is None or index is None:
            continue  # ingest refuses such rows; a hand-edited store is not trusted further
        entry = out.setdefault(r["fund"], _FundAssets(float(leverage), index.upper(), [], []))
        entry.days.append(r["date"])
        entry.assets.append(float(r["aum"]))
    return out


def rebalance_on(
    funds: Mapping[str, _FundAssets], index: str, day: date, previous: date, r: float
) -> tuple[float | None, int]:
    """Σ letf.rebalance over ``index``'s funds whose assets at ``day``'s close are known (reported,
    or the ``previous`` session's grown by the move: letf.assets_at_close), and their count."""
    total, n = 0.0, 0
    for f in funds.values():
        if f.index != index:
            continue
        assets = letf.assets_at_close(f.on(day), f.on(previous), f.leverage, r)
        if assets is not None:
            total += letf.rebalance(assets, f.leverage, r)
            n += 1
    return (total if n else None), n


@dataclass(frozen=True)
class _DollarVolume:
    adv_usd: float | None
    members_with_dollar_volume: int
    si_usd: float | None
    cover_days: float | None


def dollar_volume(
    prices: pa.Table, members: pa.Table, short_interest: pa.Table, days: Sequence[date]
) -> dict[tuple[str, date], _DollarVolume]:
    """(index, day) -> the constituents' ADV$ and dollar short interest, sql/dollar_volume.sql."""
    import pyarrow as pa

    con = sv.deterministic_connection()
    try:
        con.register("prices", prices)
        con.register("members", members)
        con.register("short_interest", short_interest)
        con.register("flow_days", pa.table({"d": arrays.dates(sorted(set(days)))}))
        con.execute(sv.query_text("membership"))
        con.execute(sv.query_text("dollar_volume"))
        rows = con.execute(
            'SELECT "index", d, adv_usd, members_with_dollar_volume, si_usd, cover_days FROM dv_index'
        ).fetchall()
    finally:
        con.close()
    return {(idx, d): _DollarVolume(adv, int(n), si, cover) for idx, d, adv, n, si, cover in rows}


def flow_days(
    closes: Mapping[str, tuple[str, list[date], list[float]]],
    prices: pa.Table,
    members: pa.Table,
    funds: pa.Table,
    volume: pa.Table,
    short_interest: pa.Table,
) -> list[FlowDay]:
    """One row per index and proxy session in ``closes`` (index -> (proxy, days, closes), the first
    close being the day before the first row)."""
    assets = fund_assets(funds)
    wanted = [d for _, days, _ in closes.values() for d in days[1:]]
    if not wanted:
        return []
    adv = dollar_volume(prices, members, short_interest, wanted)
    ratios = {
        (r.key, r.date): r.ratio for r in sv.series(volume, members, min(wanted), max(wanted), kind="index")
    }
    out = []
    for idx, (proxy, days, close) in closes.items():
        for k in range(1, len(days)):
            r = close[k] / close[k - 1] - 1.0
            usd, n_funds = rebalance_on(assets, idx, days[k], days[k - 1], r)
            dv = adv.get((idx, days[k]), _DollarVolume(None, 0, None, None))
            pct = 100.0 * usd / dv.adv_usd if usd is not None and dv.adv_usd else None
            out.append(
                FlowDay(
                    idx,
                    days[k],
                    proxy,
                    r,
                    usd,
                    n_funds,
                    dv.adv_usd,
                    dv.members_with_dollar_volume,
                    pct,
                    dv.si_usd,
                    dv.cover_days,
                    ratios.get((idx, days[k])),
                )
            )
    return out
