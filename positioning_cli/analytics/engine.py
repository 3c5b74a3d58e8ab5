"""The DuckDB engine for set-based analytics: one deterministic connection, the shipped SQL files, the rules' constants.

Index levels per settlement date are defined in ``sql/levels.sql`` (with ``sql/rules.sql``,
``sql/sec.sql``, ``sql/membership.sql`` and ``sql/inputs.sql``); this module binds their inputs and
the constants below, runs them and returns ``levels.Levels`` per index. The inputs are the store's
Parquet files (the manifest's lists, checked by the store, never a glob) or, for a ``--known-at``
snapshot or a test, tables in memory (Arrow or pandas) registered under the same names: one SQL
either way. No pandas is imported here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np

from positioning_cli.levels import LEVEL_COLUMNS, LEVEL_DTYPES, Levels

if TYPE_CHECKING:
    import duckdb

# FINRA reports days to cover as 1 when the average daily volume exceeds the short interest.
DTC_FLOOR = 1.0
# A close older than this on a settlement date is not "the close on d" (covers long weekends + a holiday).
CLOSE_TOLERANCE_DAYS = 5
# SI above this % of shares outstanding is quarantined in index levels (scan --by stock|sector take
# --max-si-pct, default the same).
MAX_SI_PCT = 100.0
# SEC denominators (README "Denominators", sql/sec.sql). A value from SEC's XBRL is used for
# settlement date d when it is the issuer's latest with period_end <= d (and filed <= d when the
# filing date is known), and only for a member whose membership row (or SI row) gives no shares
# outstanding > 1. Values that cannot be a share count are quarantined with their reason, never
# averaged and never replaced by an older value behind the user's back:
SEC_PLACEHOLDER_MAX = 1_000  # 1 / 100 / 1,000 placeholders (Equibles #4115)
SEC_JUMP = 10.0  # 10x off the symbol's previous value and its next (if any): a typo or unit slip
SEC_STALE_DAYS = 456  # ~15 months: older than one annual report cycle plus a quarter

# The SQL files that define index levels, in the order they run (each reads views of the ones
# before); the levels cache hashes their text into its definitions digest.
LEVEL_SQL = ("rules", "inputs", "membership", "sec", "levels")  # rules: via rules_sql()
# What the level SQL reads of each input (inputs.sql), and the store table each comes from.
INPUT_COLUMNS: dict[str, tuple[str, ...]] = {
    "si_input": (
        "settlement_date",
        "symbol",
        "short_interest",
        "avg_daily_volume",
        "split_flag",
        "shares_outstanding",
        "float_shares",
    ),
    "members_input": ("index", "as_of", "symbol", "shares_outstanding", "float_shares"),
    "prices_input": ("symbol", "date", "close"),
    "shares_input": ("symbol", "period_end", "filed", "shares", "share_classes"),
}
STORE_TABLE = {
    "si_input": "short_interest",
    "members_input": "members",
    "prices_input": "prices",
    "shares_input": "shares_outstanding",
}
# A price file's close as the read commands use it (api.read_prices: the quoted close, or the
# adjusted close on a day only an adjusted-prices file gave).
_FILE_COLUMNS = {"prices_input": 'symbol, "date", coalesce(close, adj_close) AS close'}

# An input: a list of Parquet files, or a table in memory (pyarrow.Table or pandas.DataFrame).
Source = Sequence[str] | Any


def query_text(name: str) -> str:
    """The text of ``sql/NAME.sql`` as the package ships it."""
    return resources.files("positioning_cli.analytics").joinpath(f"sql/{name}.sql").read_text()


def deterministic_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB on one thread: parallel float sums add in a varying order, and the same
    store must give the same numbers to the last bit on every run (goldens, ndjson = json)."""
    import duckdb

    return duckdb.connect(config={"threads": 1})


@dataclass(frozen=True)
class LevelInputs:
    """What index levels are computed from: each a Source; ``prices`` and ``shares`` may be None."""

    short_interest: Source
    members: Source
    prices: Source | None = None
    shares: Source | None = None

    def named(self) -> dict[str, Source | None]:
        return {
            "si_input": self.short_interest,
            "members_input": self.members,
            "prices_input": self.prices,
            "shares_input": self.shares,
        }


def rules_sql(max_si_pct: float = MAX_SI_PCT) -> str:
    """rules.sql preceded by the statements binding its constants: what any DuckDB session (the
    engine's, or the bench's hand-written yardstick query) runs to get the shared rules."""
    values: dict[str, float | int] = {
        "close_tolerance_days": CLOSE_TOLERANCE_DAYS,
        "dtc_floor": DTC_FLOOR,
        "max_si_pct": float(max_si_pct),
        "sec_placeholder_max": float(SEC_PLACEHOLDER_MAX),
        "sec_jump": SEC_JUMP,
        "sec_stale_days": SEC_STALE_DAYS,
    }
    # Numbers only (typed above), so their repr is a SQL literal.
    binds = "".join(f"SET VARIABLE {name} = {value!r};\n" for name, value in values.items())
    return binds + query_text("rules")


def _bind_input(con: duckdb.DuckDBPyConnection, name: str, source: Source | None) -> None:
    """View ``name`` over ``source``: its Parquet files, the table in memory, or no rows."""
    import pyarrow as pa

    columns = INPUT_COLUMNS[name]
    if isinstance(source, list | tuple) and source:
        picked = _FILE_COLUMNS.get(name, ", ".join(f'"{c}"' for c in columns))
        con.execute(f"SET VARIABLE {name}_files = ?", [list(source)])
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {picked} "
            f"FROM read_parquet(getvariable('{name}_files'))"
        )
        return
    if source is None or isinstance(source, list | tuple):
        from positioning_cli.schema import TABLES

        spec = TABLES[STORE_TABLE[name]].schema
        source = pa.Table.from_batches([], schema=pa.schema([spec.field(c) for c in columns]))
    table: Any = source
    if getattr(table, "attrs", None):  # a pandas frame's attrs: not rows, and DuckDB would serialise them
        table = table.copy(deep=False)
        table.attrs = {}
    con.register(f"{name}_table", table)
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {name}_table")


def connect_levels(
    inputs: LevelInputs, proxies: Iterable[str], max_si_pct: float = MAX_SI_PCT
) -> duckdb.DuckDBPyConnection:
    """A connection with the level SQL run over ``inputs``: views ``level_rows`` and ``index_levels``."""
    con = deterministic_connection()
    con.execute(rules_sql(max_si_pct))
    con.execute("SET VARIABLE proxies = ?::VARCHAR[]", [sorted(proxies)])
    for name, source in inputs.named().items():
        _bind_input(con, name, source)
    for name in LEVEL_SQL[1:]:
        con.execute(query_text(name))
    return con


def index_levels(
    inputs: LevelInputs, proxies: Iterable[str] = (), max_si_pct: float = MAX_SI_PCT
) -> dict[str, Levels]:
    """Each index's levels on every settlement date of ``inputs.short_interest`` (sql/levels.sql).

    Only indices with a membership snapshot have levels; ``proxies`` are the index price proxy
    symbols, kept out of the stock closes.
    """
    con = connect_levels(inputs, proxies, max_si_pct)
    try:
        got = con.execute("SELECT * FROM index_levels").fetchnumpy()
    finally:
        con.close()
    index = np.asarray(got["index"], dtype=object)
    out: dict[str, Levels] = {}
    for idx in dict.fromkeys(index.tolist()):
        rows = np.flatnonzero(index == idx)
        out[str(idx)] = Levels(
            _column(got["settlement_date"], "datetime64[D]")[rows],
            {c: _column(got[c], LEVEL_DTYPES[c])[rows] for c in LEVEL_COLUMNS},
        )
    return out


DENOMINATOR_COUNTS = ("members_file", "short_interest_file", "sec", "none", "sec_quarantined")


def denominator_counts(inputs: LevelInputs, d: date, indices: Iterable[str]) -> dict[str, dict[str, int]]:
    """Per index, where its constituents with SI on ``d`` got their shares outstanding
    (sql/levels.sql ``denominator_counts``; all 0 for an index with none)."""
    con = connect_levels(inputs, ())
    try:
        columns = ", ".join(f'"{c}"' for c in ("index", *DENOMINATOR_COUNTS))
        query = f"SELECT {columns} FROM denominator_counts WHERE settlement_date = ?"
        got = con.execute(query, [d]).fetchall()
    finally:
        con.close()
    held = {row[0]: dict(zip(DENOMINATOR_COUNTS, map(int, row[1:]), strict=True)) for row in got}
    return {i: held.get(i, dict.fromkeys(DENOMINATOR_COUNTS, 0)) for i in indices}


def sec_for(requests: Any, shares: Source) -> Any:
    """For each (d, symbol) of ``requests`` (a table in memory) that SEC has a value for by d: that
    value and why it cannot be used (sql/sec.sql ``sec_for``), as an Arrow table d, symbol,
    sec_shares, sec_reason."""
    con = connect_levels(LevelInputs((), (), None, shares), ())
    try:
        con.register("sec_requests_table", requests)
        con.execute(
            "CREATE TEMP VIEW sec_requests AS SELECT d::DATE AS d, symbol::VARCHAR AS symbol FROM sec_requests_table"
        )
        return con.sql("SELECT * FROM sec_for('sec_requests')").to_arrow_table()
    finally:
        con.close()


def sec_values(shares: Source) -> Any:
    """The SEC values of ``shares`` with their date-independent quarantine reason (sql/sec.sql's
    ``sec_values``) as an Arrow table ordered by symbol and period end."""
    con = connect_levels(LevelInputs((), (), None, shares), ())
    try:
        return con.sql(
            "SELECT symbol, period_end, available, shares, reason FROM sec_values ORDER BY symbol, period_end"
        ).to_arrow_table()
    finally:
        con.close()


def _column(values: Any, dtype: str) -> np.ndarray:
    """A fetched column as ``dtype`` (a NULL float is NaN; counts and flags are never NULL)."""
    if dtype == "float64":
        return np.ma.filled(np.ma.asarray(values).astype("float64"), np.nan)
    return np.asarray(np.ma.getdata(values)).astype(dtype)
