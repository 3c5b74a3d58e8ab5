"""Price context as the commentary quotes it: highs, the breakout, weekly and monthly runs.

"Since breaking to new highs the index has posted only two weekly losses, -0.31% and -2.5%";
"on pace for an 8th consecutive monthly gain". The numbers are defined once, in
``sql/price_context.sql``; this module binds its parameters and returns typed rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

# A breakout is the first new all-time high after a fall of at least this fraction below the
# previous high: 10% is the usual meaning of "a correction" (README "Price context").
CORRECTION = 0.10


@dataclass(frozen=True)
class PriceContext:
    symbol: str
    close_date: date
    close: float
    history_from: date
    all_time_high: float
    all_time_high_date: date
    at_all_time_high: bool
    pct_from_all_time_high: float
    high_52w: float | None  # None when the newest close is more than a year before as_of
    high_52w_date: date | None
    at_52w_high: bool | None
    pct_from_52w_high: float | None
    breakout_date: date | None
    breakout_run_intact: bool | None  # no correction since the breakout; None without a breakout
    weeks_since_breakout: int
    down_weeks_since_breakout: int
    down_week_returns: tuple[float, ...]  # % each, oldest first
    week_to_date_return: float | None  # %
    monthly_streak: int  # complete months: +n gains in a row, -n losses in a row
    month_to_date_return: float | None  # %


def query_text() -> str:
    return resources.files("positioning_cli.analytics").joinpath("sql/price_context.sql").read_text()


def price_context(
    symbols: Sequence[str],
    days: Sequence[date],
    closes: Sequence[float],
    as_of: date,
    *,
    correction: float = CORRECTION,
) -> list[PriceContext]:
    """One row per symbol with a positive close on or before ``as_of`` (the three sequences align)."""
    import duckdb
    import numpy as np
    import pyarrow as pa

    from positioning_cli import arrays

    # Built from buffers, not Python lists: pa.array on lists imports pandas, which a warm scan avoids.
    epoch_days = np.array(list(days), dtype="datetime64[D]").astype(np.int32)
    table = pa.table(
        {
            "symbol": arrays.strings(list(symbols)),
            "date": pa.Array.from_buffers(pa.date32(), len(epoch_days), [None, pa.py_buffer(epoch_days)]),
            "close": arrays.from_numpy(np.asarray(list(closes), dtype=np.float64)),
        }
    )
    con = duckdb.connect()
    try:
        con.register("closes_input", table)
        return price_context_on(con, "closes_input", as_of, correction=correction)
    finally:
        con.close()


def price_context_on(
    con: duckdb.DuckDBPyConnection, relation: str, as_of: date, *, correction: float = CORRECTION
) -> list[PriceContext]:
    """The same, on a relation (table or view) with columns symbol, "date", close in ``con``."""
    con.execute(f'CREATE OR REPLACE TEMP VIEW closes AS SELECT symbol, "date", close FROM {relation}')
    con.execute("SET VARIABLE as_of = ?::DATE", [as_of])
    con.execute("SET VARIABLE correction = ?::DOUBLE", [correction])
    cursor = con.execute(query_text())
    names = [c[0] for c in cursor.description or ()]
    out = []
    for values in cursor.fetchall():
        row = dict(zip(names, values, strict=True))
        row["down_week_returns"] = tuple(row["down_week_returns"])
        out.append(PriceContext(**row))
    return out
