"""``positioning stock SYMBOL``: one stock's story over every settlement date held.

Each date's numbers are ``stocks.stock_table``'s for that stock on that date (one definition of
each number: SI % of shares outstanding and of float, days to cover, close, changes, percentiles,
quadrant), computed on the stock's own rows plus one row per other settlement date (so the change
bases, which are the store's settlement dates, stay what ``scan --by stock`` uses). The quality
gates on volume and price are not applied: a story shows the dates a screen would skip; the
quarantine of an implausible denominator still is, with its reason.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from positioning_cli.errors import NoDataError, UsageError

STORY_KEYS = (
    "settlement_date",
    "symbol",
    "name",
    "sector",
    "indices",
    "short_interest",
    "si_pct_so",
    "si_pct_float",
    "days_to_cover",
    "close",
    "si_change_last",
    "price_return_last",
    "si_pct_1y",
    "si_pct_1y_complete",
    "price_pct_1y",
    "price_pct_1y_complete",
    "quadrant",
    "quadrant_key",
    "divergence_score",
    "revision_flag",
    "split_flag",
    "change_note",
    "quarantined",
    "membership_look_ahead",
    "sparse_date",
)
# The series drawn as sparklines (table view; JSON carries them under "sparklines").
SPARK_KEYS = ("short_interest", "si_pct_so", "days_to_cover", "close")


# Reports shown by default: a year of semi-monthly reports (each date costs a stock_table pass).
DEFAULT_LAST = 24


def story(
    store_root: Path,
    symbol: str,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    last: int = DEFAULT_LAST,
    span_days: int | None = None,
) -> Any:
    """The stock's rows on its last ``last`` settlement dates (0: all) up to ``as_of``; with
    ``span_days``, only those in (newest - span_days, newest] (``chart stock --years``), so a
    long window costs only the dates it shows."""
    import pandas as pd
    import pyarrow.compute as pc

    from positioning_cli import api, stocks
    from positioning_cli.store import Store
    from positioning_cli.symbols import normalise_symbol

    sym = normalise_symbol(symbol)
    if not sym:
        raise UsageError("stock: a symbol is needed, e.g. `positioning stock GME`")
    frames = api._load(store_root, known_at)
    members = frames.members[frames.members["symbol"] == sym]
    if members.empty:
        raise NoDataError(
            f"{sym}: not a member of any index held; the story joins short interest with membership"
        )
    si_all = frames.si
    mine = si_all[si_all["symbol"] == sym]
    if as_of is not None:
        mine = mine[mine["settlement_date"] <= pd.Timestamp(as_of)]
    if mine.empty:
        raise NoDataError(f"{sym}: no short-interest row{'' if as_of is None else f' on or before {as_of}'}")
    # one row of each settlement date keeps the store's dates (the change bases) complete
    si = pd.concat([mine, si_all.drop_duplicates("settlement_date")], ignore_index=True)
    prices = frames.prices[frames.prices["symbol"] == sym]
    gates = stocks.GateConfig(min_avg_daily_volume=0, min_price=0.0, min_dollar_volume=0)

    store = Store(store_root)
    with store.reading(known_at=known_at) as manifest:
        flags = store.read(
            "short_interest",
            ["settlement_date", "symbol", "revision_flag", "split_flag"],
            manifest,
            row_filter=lambda t: t.filter(pc.equal(t.column("symbol"), sym)),
        ).to_pylist()
    flag_of = {r["settlement_date"]: r for r in flags}

    rows: list[dict[str, Any]] = []
    days = sorted(mine["settlement_date"].unique())
    if span_days:
        days = [d for d in days if d > days[-1] - pd.Timedelta(days=span_days)]
    for d in days[-last:] if last > 0 else days:
        table, excluded = stocks.stock_table(
            si, members, prices, None, d, gates, sparse=frames.coverage.sparse_days()
        )
        day = pd.Timestamp(d).date()
        got = stocks.to_records(table[table["symbol"] == sym])
        if got:
            row = got[0]
            row["quarantined"] = None
        else:
            why = stocks.to_records(excluded[excluded["symbol"] == sym])
            if not why:
                continue  # not a constituent as of that date
            on_d = mine[mine["settlement_date"] == d].iloc[0]
            row = {"settlement_date": day.isoformat(), "symbol": sym, "name": why[0]["name"]}
            row |= {"sector": why[0]["sector"], "indices": why[0]["indices"]}
            row["short_interest"] = int(on_d["short_interest"])
            row["quarantined"] = why[0]["reason"]
        flag = flag_of.get(day, {})
        row["revision_flag"] = bool(flag.get("revision_flag", False))
        row["split_flag"] = bool(flag.get("split_flag", False))
        row["sparse_date"] = frames.coverage.is_sparse(d)
        rows.append({k: row.get(k) for k in STORY_KEYS})
    if not rows:
        raise NoDataError(f"{sym}: never a constituent on a date it has short interest")
    warnings = [f"{sym} {r['settlement_date']}: {r['quarantined']}" for r in rows if r["quarantined"]]
    extra = {
        "memberships": _memberships(members, frames.members),
        "sparklines": {k: [r[k] for r in rows] for k in SPARK_KEYS},
        "revisions": [r["settlement_date"] for r in rows if r["revision_flag"]],
        "splits": [r["settlement_date"] for r in rows if r["split_flag"]],
    }
    return api.Result("stock", date.fromisoformat(rows[-1]["settlement_date"]), rows, warnings, extra=extra)


def _memberships(mine: Any, members: Any) -> list[dict[str, Any]]:
    """Per index: the membership snapshots naming the stock (first, last, how many), its name and
    sector in the last, and whether the index's latest snapshot still lists it."""
    import pandas as pd

    out = []
    for idx, g in mine.groupby("index", sort=True):
        g = g.sort_values("as_of")
        last = g.iloc[-1]
        latest = members.loc[members["index"] == idx, "as_of"].max()
        out.append(
            {
                "index": str(idx),
                "first_as_of": g["as_of"].iloc[0].date().isoformat(),
                "last_as_of": last["as_of"].date().isoformat(),
                "snapshots": len(g),
                "in_latest": bool(last["as_of"] == latest),
                "index_latest_as_of": latest.date().isoformat(),
                "name": str(last["name"]) if "name" in g and pd.notna(last["name"]) else None,
                "sector": str(last["sector"]) if "sector" in g and pd.notna(last["sector"]) else None,
            }
        )
    return out
