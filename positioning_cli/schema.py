"""Store tables: column names, Arrow types, keys and partitioning — declared once.

This is a public contract (README "Store layout"): other engines read these files directly.
Each table lives in ``STORE/<table>/year=YYYY/<file>.parquet``; ``year`` is the hive partition key
derived from the table's date column and is not stored inside the files.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

# Columns every table carries so a row can be traced to the file it came from.
SOURCE_FILE = "source_file"
INGESTED_AT = "ingested_at"
LINEAGE_FIELDS = [
    pa.field(SOURCE_FILE, pa.string(), nullable=False),
    pa.field(INGESTED_AT, pa.timestamp("us", tz="UTC"), nullable=False),
]

# A restatement (``store.SourceBatch.restates``: values a source gives for a held row of another
# date, e.g. FINRA's corrected previous cycle) names the span of dates the restated row may have.
RESTATES_FROM = "restates_from"
RESTATES_TO = "restates_to"


@dataclass(frozen=True)
class TableSpec:
    name: str
    schema: pa.Schema  # full stored schema, lineage included
    key: tuple[str, ...]  # one row per key in the live table
    date_column: str  # drives the ``year=`` partition
    file_per_date: bool  # one Parquet file per distinct date (cheap appends) or one per year
    # Columns a parser must fill (non-null); the others may be null.
    required: tuple[str, ...]
    # Columns with (nearly) one distinct value per row in a partition file: Parquet dictionary
    # encoding only costs time there (it falls back to plain anyway), so they are written plain.
    plain_encoded: tuple[str, ...] = ()
    # Columns some sources do not carry (a file of adjusted prices has no quoted close): a null
    # in an incoming row keeps the value held for its key instead of erasing it.
    keep_held: tuple[str, ...] = ()
    # What one whole-snapshot source file covers (a FINRA file: its settlement date; a members
    # file: an index on an as-of date). A snapshot replaces every key of the scopes it holds; a
    # partial source only upserts. Empty: the table has no snapshot sources.
    snapshot_scope: tuple[str, ...] = ()

    @property
    def parsed_schema(self) -> pa.Schema:
        """What a parser returns: the stored schema without lineage (the store adds it)."""
        return pa.schema([f for f in self.schema if f.name not in (SOURCE_FILE, INGESTED_AT)])


SHORT_INTEREST = TableSpec(
    name="short_interest",
    schema=pa.schema(
        [
            pa.field("settlement_date", pa.date32(), nullable=False),
            pa.field("symbol", pa.string(), nullable=False),  # normalised, see symbols.py
            pa.field("short_interest", pa.int64(), nullable=False),  # shares
            pa.field("previous_short_interest", pa.int64()),
            pa.field("avg_daily_volume", pa.int64()),
            pa.field("days_to_cover", pa.float64()),  # null when undefined (no volume)
            pa.field("revision_flag", pa.bool_(), nullable=False),
            pa.field("split_flag", pa.bool_(), nullable=False),
            pa.field("issue_name", pa.string()),
            pa.field("market", pa.string()),  # exchange / market class code as the source gives it
            # Some non-FINRA sources carry denominators; scan uses them when membership lacks them.
            pa.field("shares_outstanding", pa.int64()),
            pa.field("float_shares", pa.int64()),
            pa.field("source_format", pa.string(), nullable=False),
            *LINEAGE_FIELDS,
        ]
    ),
    key=("settlement_date", "symbol"),
    date_column="settlement_date",
    file_per_date=True,
    required=("settlement_date", "symbol", "short_interest", "revision_flag", "split_flag", "source_format"),
    plain_encoded=("symbol", "issue_name"),
    snapshot_scope=("settlement_date",),
)

PRICES = TableSpec(
    name="prices",
    schema=pa.schema(
        [
            pa.field("symbol", pa.string(), nullable=False),
            pa.field("date", pa.date32(), nullable=False),
            pa.field("open", pa.float64()),
            pa.field("high", pa.float64()),
            pa.field("low", pa.float64()),
            # The close as quoted (adjusted for splits only: Yahoo's Close, Stooq's). Null when the
            # source gives adjusted prices only (yfinance auto_adjust): never an adjusted value.
            pa.field("close", pa.float64()),
            # Adjusted also for dividends (Yahoo's Adj Close, yfinance's Close); null when none.
            pa.field("adj_close", pa.float64()),
            pa.field("volume", pa.int64()),  # null when the source row has none
            pa.field("source_format", pa.string(), nullable=False),
            *LINEAGE_FIELDS,
        ]
    ),
    key=("symbol", "date"),
    date_column="date",
    file_per_date=False,
    required=("symbol", "date", "source_format"),  # and close or adj_close (ingest/prices.py)
    keep_held=("open", "high", "low", "close", "adj_close", "volume"),
)

MEMBERS = TableSpec(
    name="members",
    schema=pa.schema(
        [
            pa.field("index", pa.string(), nullable=False),  # RUT, NDX or SPX
            pa.field("as_of", pa.date32(), nullable=False),
            pa.field("symbol", pa.string(), nullable=False),
            pa.field("name", pa.string()),
            pa.field("sector", pa.string()),
            pa.field("shares_outstanding", pa.int64()),
            pa.field("float_shares", pa.int64()),
            pa.field("weight", pa.float64()),  # percent of the index/fund, as published
            pa.field("source_format", pa.string(), nullable=False),
            *LINEAGE_FIELDS,
        ]
    ),
    key=("index", "as_of", "symbol"),
    date_column="as_of",
    file_per_date=True,
    required=("index", "as_of", "symbol", "source_format"),
    plain_encoded=("symbol", "name"),
    snapshot_scope=("index", "as_of"),
)

COT = TableSpec(
    name="cot",
    schema=pa.schema(
        [
            pa.field("report_date", pa.date32(), nullable=False),  # positions as of (usually Tuesday)
            pa.field("contract_code", pa.string(), nullable=False),  # CFTC_Contract_Market_Code, stripped
            pa.field("market_name", pa.string()),  # Market_and_Exchange_Names (changes over time; not a key)
            pa.field("futures_only", pa.bool_(), nullable=False),  # FutOnly -> True, Combined -> False
            pa.field("open_interest", pa.int64(), nullable=False),  # contracts
            # Traders in Financial Futures categories, long / short contracts ("." in the file -> null).
            pa.field("dealer_long", pa.int64()),
            pa.field("dealer_short", pa.int64()),
            pa.field("asset_mgr_long", pa.int64()),
            pa.field("asset_mgr_short", pa.int64()),
            pa.field("lev_money_long", pa.int64()),
            pa.field("lev_money_short", pa.int64()),
            pa.field("other_rept_long", pa.int64()),
            pa.field("other_rept_short", pa.int64()),
            pa.field("nonrept_long", pa.int64()),
            pa.field("nonrept_short", pa.int64()),
            pa.field("source_format", pa.string(), nullable=False),
            *LINEAGE_FIELDS,
        ]
    ),
    key=("report_date", "contract_code", "futures_only"),
    date_column="report_date",
    file_per_date=False,  # weekly reports: one small file per year, not one per report
    required=("report_date", "contract_code", "futures_only", "open_interest", "source_format"),
)

SHORT_VOLUME = TableSpec(
    name="short_volume",
    schema=pa.schema(
        [
            pa.field("date", pa.date32(), nullable=False),  # trade date as the file's rows give it
            pa.field("symbol", pa.string(), nullable=False),  # normalised, see symbols.py
            # The file's venue: FINRA CNMS (consolidated) or one facility (FNQC, FNRA, FNSQ, FNYX,
            # FORF), or an exchange's own file (NYSE, ARCA, AMEX, ...). Part of the key: one symbol
            # has a row per venue file, and readers pick which to add up (short_volume.sql).
            pa.field("facility", pa.string(), nullable=False),
            # Shares; float because FINRA writes volumes with decimals (fractional-share trades).
            pa.field("short_volume", pa.float64(), nullable=False),
            pa.field("short_exempt_volume", pa.float64()),  # null in NYSE's pre-2017-07-24 layout
            pa.field("total_volume", pa.float64(), nullable=False),
            pa.field("market", pa.string()),  # the Market column as given ("B,Q,N", "N", "P")
            pa.field("source_format", pa.string(), nullable=False),
            *LINEAGE_FIELDS,
        ]
    ),
    key=("date", "symbol", "facility"),
    date_column="date",
    file_per_date=True,
    required=("date", "symbol", "facility", "short_volume", "total_volume", "source_format"),
    plain_encoded=("symbol",),
)

FUNDS = TableSpec(
    name="funds",
    schema=pa.schema(
        [
            pa.field("fund", pa.string(), nullable=False),  # ticker, normalised (TQQQ)
            pa.field("date", pa.date32(), nullable=False),
            pa.field("aum", pa.float64(), nullable=False),  # net assets at that day's close, dollars
            # For a fund outside the shipped list (letf.py): its leverage and index. Null: the list's.
            pa.field("leverage", pa.float64()),
            pa.field("index", pa.string()),
            pa.field("source_format", pa.string(), nullable=False),
            *LINEAGE_FIELDS,
        ]
    ),
    key=("fund", "date"),
    date_column="date",
    file_per_date=False,
    required=("fund", "date", "aum", "source_format"),
)

# Shares outstanding from SEC XBRL (dei:EntityCommonStockSharesOutstanding, the cover-page count):
# the denominator of SI % of shares outstanding when the membership file gives none. Values are
# kept as filed; what is implausible (placeholders, 10x jumps, stale values) is decided when they
# are used (analytics/sql/sec.sql), so a rule change needs no re-ingest.
SHARES_OUTSTANDING = TableSpec(
    name="shares_outstanding",
    schema=pa.schema(
        [
            pa.field("symbol", pa.string(), nullable=False),  # normalised, see symbols.py
            pa.field("cik", pa.int64(), nullable=False),  # SEC Central Index Key of the issuer
            pa.field("period_end", pa.date32(), nullable=False),  # the fact's "end" (cover-page date)
            pa.field("filed", pa.date32()),  # filing date; null from frames, which carry none
            pa.field("shares", pa.int64(), nullable=False),
            # Common-stock tickers the SEC map lists for this CIK: > 1 means one issuer-wide count
            # shared by several share classes (GOOGL/GOOG), which is not any one class's count.
            pa.field("share_classes", pa.int64(), nullable=False),
            pa.field("entity_name", pa.string()),
            pa.field("accn", pa.string()),  # accession number of the filing
            # sec-frames | sec-companyfacts (named like every table's format column)
            pa.field("source_format", pa.string(), nullable=False),
            *LINEAGE_FIELDS,
        ]
    ),
    key=("symbol", "period_end"),
    date_column="period_end",
    file_per_date=False,  # a few thousand rows per quarter: one file per year
    required=("symbol", "cik", "period_end", "shares", "share_classes", "source_format"),
)

# Intraday bars (``ingest bars``): kept apart from the daily ``prices`` so no daily reader ever
# mistakes a bar for a day; ``scan --trend-bars 4h`` reads them (bars.py aggregates them).
BARS = TableSpec(
    name="bars",
    schema=pa.schema(
        [
            pa.field("symbol", pa.string(), nullable=False),  # normalised, see symbols.py
            pa.field("interval", pa.string(), nullable=False),  # bar length: "5m", "30m", "1h", ...
            pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),  # the bar's start, UTC
            # The bar's day in New York (the exchange's session date): the year partition and the
            # point-in-time cut-off (a bar belongs to its session date, as a daily close does).
            pa.field("date", pa.date32(), nullable=False),
            pa.field("open", pa.float64()),
            pa.field("high", pa.float64()),
            pa.field("low", pa.float64()),
            pa.field("close", pa.float64(), nullable=False),
            pa.field("volume", pa.int64()),  # null when the source row has none
            pa.field("source_format", pa.string(), nullable=False),
            *LINEAGE_FIELDS,
        ]
    ),
    key=("symbol", "interval", "ts"),
    date_column="date",
    file_per_date=False,
    required=("symbol", "interval", "ts", "date", "close", "source_format"),
)

TABLES: dict[str, TableSpec] = {
    t.name: t for t in (SHORT_INTEREST, PRICES, MEMBERS, COT, SHORT_VOLUME, FUNDS, SHARES_OUTSTANDING, BARS)
}

INDICES = ("RUT", "NDX", "SPX")
