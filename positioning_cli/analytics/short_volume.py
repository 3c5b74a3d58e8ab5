"""The daily short-sale volume ratio per index and per stock (a flow, not a position).

The numbers are defined once, in ``sql/short_volume.sql``; this module feeds it the store's rows and
returns typed rows. FINRA's caveat travels with every output (``CAVEAT``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from positioning_cli.analytics import engine
from positioning_cli.analytics.engine import deterministic_connection

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from positioning_cli.store import Store

CAVEAT = (
    "short-sale volume is not short interest: a short sold and covered the same day adds volume "
    "and no position, and FINRA's files leave out offsetting buys that are not reported to the "
    "tape, so the ratio overstates short selling; read it as a flow, against its own history"
)
# What the SQL reads of the two tables.
VOLUME_COLUMNS = ["date", "symbol", "facility", "short_volume", "total_volume"]
MEMBER_COLUMNS = ["index", "as_of", "symbol"]
LOOKBACK_DAYS = 400  # history read before the first day wanted: a year of ratios for pct_1y and z_1y


@dataclass(frozen=True)
class ShortVolumeStats:
    kind: str  # "index" or "stock"
    key: str  # the index (RUT, NDX, SPX) or the symbol
    date: date  # the latest day held on or before as_of
    short: float | None  # Σ short volume, shares
    total: float | None  # Σ total volume, shares
    ratio: float | None  # short / total
    avg_5d: float | None
    avg_20d: float | None
    members_with_volume: int
    pct_1y: float | None
    pct_1y_obs: int
    pct_1y_complete: bool
    z_1y: float | None


@dataclass(frozen=True)
class RatioDay:
    kind: str
    key: str
    date: date
    ratio: float | None
    avg_5d: float | None
    avg_20d: float | None


def query_text(name: str = "short_volume") -> str:
    return engine.query_text(name)


def _connect(volume: pa.Table, members: pa.Table, since: date, as_of: date) -> duckdb.DuckDBPyConnection:

    con = deterministic_connection()
    con.register("short_volume", volume)
    con.register("members", members)
    con.execute("SET VARIABLE sv_from = ?::DATE", [since])
    con.execute("SET VARIABLE as_of = ?::DATE", [as_of])
    con.execute(query_text("membership"))
    con.execute(query_text())
    return con


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> list[dict[str, Any]]:
    cursor = con.execute(sql, list(params))
    names = [c[0] for c in cursor.description or ()]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def stats(
    volume: pa.Table, members: pa.Table, as_of: date, *, kind: str | None = None
) -> list[ShortVolumeStats]:
    """Ratio, averages, 1Y percentile and z-score per index and per stock, at the latest day <= as_of.

    ``volume`` holds VOLUME_COLUMNS, ``members`` MEMBER_COLUMNS (Arrow tables, as the store gives them).
    """
    con = _connect(volume, members, as_of, as_of)
    try:
        where = "WHERE kind = ?" if kind else ""
        rows = _fetch(con, f"SELECT * FROM sv_stats {where} ORDER BY kind, key", [kind] if kind else [])
    finally:
        con.close()
    return [ShortVolumeStats(**r) for r in rows]


def series(
    volume: pa.Table, members: pa.Table, since: date, until: date, *, kind: str = "index"
) -> list[RatioDay]:
    """The daily ratio with its 5- and 20-day averages, per key, for days in [since, until]."""
    con = _connect(volume, members, since, until)
    try:
        rows = _fetch(
            con,
            "SELECT kind, key, d AS date, ratio, avg_5d, avg_20d FROM sv_series "
            "WHERE kind = ? AND d >= ? ORDER BY key, d",
            [kind, since],
        )
    finally:
        con.close()
    return [RatioDay(**r) for r in rows]


def read_store(
    store: Store, manifest: dict[str, Any], as_of: date | None, days_wanted: int = 1
) -> tuple[pa.Table, pa.Table, date | None]:
    """The short-volume rows a read needs, the membership rows, and the newest day held <= as_of.

    Rows run from ``days_wanted`` calendar days before that newest day, less LOOKBACK_DAYS for the
    windows. Only those days' partitions are opened (one file per day, named by its date); a
    point-in-time manifest (``known_at``) is rebuilt whole by the store and filtered by date.
    """
    import pyarrow.compute as pc

    from positioning_cli.levels_cache import partition_date

    members = store.read("members", MEMBER_COLUMNS, manifest)
    if manifest.get("known_at"):
        whole = store.read("short_volume", VOLUME_COLUMNS, manifest)
        if as_of is not None:
            whole = whole.filter(pc.less_equal(whole.column("date"), pa_date(as_of)))
        newest = pc.max(whole.column("date")).as_py() if whole.num_rows else None
        if newest is None:
            return whole, members, None
        first = newest - timedelta(days=days_wanted + LOOKBACK_DAYS)
        return whole.filter(pc.greater_equal(whole.column("date"), pa_date(first))), members, newest
    held = {rel: partition_date(rel) for rel in manifest["tables"]["short_volume"]["files"]}
    days = [d for d in held.values() if as_of is None or d <= as_of]
    newest = max(days) if days else None
    if newest is None:
        return store.read("short_volume", VOLUME_COLUMNS, manifest, partitions=[]), members, None
    first = newest - timedelta(days=days_wanted + LOOKBACK_DAYS)
    wanted = [rel for rel, d in held.items() if first <= d <= newest]
    return store.read("short_volume", VOLUME_COLUMNS, manifest, partitions=wanted), members, newest


def pa_date(day: date) -> pa.Scalar:
    import pyarrow as pa

    return pa.scalar(day, pa.date32())
