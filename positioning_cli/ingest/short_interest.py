"""Short-interest parsers: FINRA pipe file, FINRA API JSON/CSV, FINRA web export, mapped CSV.

All formats reduce to one step: name which source column feeds which store field, then
``_assemble`` converts, validates and fills the derived fields the same way for every source.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from positioning_cli import arrays
from positioning_cli.schema import RESTATES_FROM, RESTATES_TO, SHORT_INTEREST

from . import values as v
from .base import FormatDef, Parsed, ParseOptions, absent_columns, build_table, dedupe
from .text import RawTable, Source, canonical, guess_delimiter, plain_pipe_cells, read_csv, read_json_records

ISO = "%Y-%m-%d"
NO_VOLUME_DTC = 999.99  # FINRA's days-to-cover sentinel for "no volume": stored as null
REQUIRED = ("settlement_date", "symbol", "short_interest")

# Store field -> source column, per FINRA layout. Optional columns may be absent from a file.
FINRA_FIELDS = {
    "settlement_date": "settlementDate",
    "symbol": "symbolCode",
    "short_interest": "currentShortPositionQuantity",
    "previous_short_interest": "previousShortPositionQuantity",
    "avg_daily_volume": "averageDailyVolumeQuantity",
    "days_to_cover": "daysToCoverQuantity",
    "revision_flag": "revisionFlag",
    "split_flag": "stockSplitFlag",
    "issue_name": "issueName",
    "market": "marketClassCode",
}
WEB_FIELDS = {
    "settlement_date": "settlementDate",
    "symbol": "issueSymbolIdentifier",
    "short_interest": "currentShortShareNumber",
    "previous_short_interest": "previousShortShareNumber",
    "avg_daily_volume": "averageShortShareNumber",  # the web grid's name for average daily volume
    "days_to_cover": "daysToCoverNumber",
    "issue_name": "issueName",
    "market": "marketCategoryCode",
}
MAPPABLE = (
    "settlement_date",
    "symbol",
    "short_interest",
    "previous_short_interest",
    "avg_daily_volume",
    "days_to_cover",
    "shares_outstanding",
    "float_shares",
    "issue_name",
    "market",
    "revision_flag",
    "split_flag",
)


def _has_columns(source: Source, delimiter: str, *names: str) -> bool:
    found = source.header_names(delimiter)
    return bool(found) and {canonical(n) for n in names} <= set(found[0][1])


def _resolve(raw: RawTable, fields: dict[str, str]) -> dict[str, str]:
    """Store field -> column as spelt in the file; required ones must exist, optional may not."""
    raw.require(*(fields[f] for f in REQUIRED if f in fields))
    return {f: hit for f, col in fields.items() if (hit := raw.find(col)) is not None}


def _check_mapping(source: Source, options: ParseOptions) -> dict[str, str]:
    mapping = dict(options.mapping)
    unknown = sorted(set(mapping) - set(MAPPABLE))
    if unknown:
        raise source.error(f"unknown mapping field(s) {', '.join(unknown)}; known: {', '.join(MAPPABLE)}")
    return mapping


def _mapped_over(
    source: Source, raw: RawTable, cols: dict[str, str], options: ParseOptions
) -> dict[str, str]:
    """A recognised layout's columns with --map FIELD=COLUMN put over the fields it names; the
    other fields stay as the layout reads them."""
    mapping = _check_mapping(source, options)
    raw.require(*mapping.values())
    return {**cols, **{f: raw.find(c) or c for f, c in mapping.items()}}


def _assemble(
    raw: RawTable,
    fmt: str,
    cols: dict[str, str],
    *,
    date_format: str,
    skip_incomplete: bool = False,
) -> Parsed:
    warnings: list[str] = []
    if skip_incomplete:
        # Scraped files carry rows with no date or no figure (new listings, delisted names):
        # nothing can be keyed on them, so they are skipped and counted rather than fatal.
        incomplete = np.zeros(raw.n, dtype=bool)
        for f in REQUIRED:
            incomplete |= v.blank(raw, cols[f], v.SYMBOL_NULLS if f == "symbol" else v.NULLS)
        if incomplete.any():
            first = int(raw.lines[np.flatnonzero(incomplete)[0]])
            warnings.append(
                f"skipped {int(incomplete.sum())} rows with a blank "
                f"settlement date, symbol or short interest (first at {raw.unit} {first})"
            )
            raw = raw.take(~incomplete)
            if raw.n == 0:
                raise raw.source.error(
                    "no complete data rows (every row lacks a date, symbol or short interest)"
                )

    out: dict[str, pa.Array] = {}
    out["settlement_date"] = v.dates(raw, cols["settlement_date"], date_format, v.SETTLEMENT_DATES)
    v.require_values(raw, cols["settlement_date"], out["settlement_date"], "blank date")
    out["symbol"] = v.symbols(raw, cols["symbol"])
    v.require_values(raw, cols["symbol"], out["symbol"], "blank symbol")
    si = v.ints(raw, cols["short_interest"])
    v.require_values(raw, cols["short_interest"], si, "blank short interest")
    out["short_interest"] = si
    for f in ("previous_short_interest", "avg_daily_volume", "shares_outstanding", "float_shares"):
        if f in cols:
            out[f] = v.ints(raw, cols[f])
    for f in ("issue_name", "market"):
        if f in cols:
            out[f] = v.strings(raw, cols[f])
    for f in ("revision_flag", "split_flag"):
        if f in cols:
            out[f] = v.flags(raw, cols[f])
    dtc = v.floats(raw, cols["days_to_cover"], nonnegative=True) if "days_to_cover" in cols else None
    return _finish(out, dtc, raw.n, fmt, warnings)


def _finish(
    out: dict[str, pa.Array], dtc: np.ndarray | None, n: int, fmt: str, warnings: list[str]
) -> Parsed:
    """The steps after conversion, shared by every format and the fast FINRA path: derived days to
    cover, absent flags False, the format column, the table, duplicates dropped, and which columns
    the source does not carry (``dtc`` None: it has no days to cover column)."""
    absent = absent_columns(SHORT_INTEREST, out)
    if dtc is None and "avg_daily_volume" in out:
        absent -= {"days_to_cover"}  # derived from the volume the source gives
    dtc = np.full(n, np.nan) if dtc is None else dtc
    out["days_to_cover"] = _days_to_cover(dtc, out["short_interest"], out.get("avg_daily_volume"))
    for f in ("revision_flag", "split_flag"):
        out.setdefault(f, arrays.from_numpy(np.zeros(n, dtype=bool)))
    out["source_format"] = arrays.repeat(fmt, n)
    table = build_table(SHORT_INTEREST, out, n)
    table, dropped = dedupe(table, SHORT_INTEREST.key, prefer="revision_flag")
    if dropped:
        warnings.append(
            f"{dropped} duplicate (settlement date, symbol) rows dropped; "
            "kept the revision-flagged row, else the last one"
        )
    # A FINRA file is the whole settlement date; API extracts, web exports and mapped files are
    # often a selection of symbols.
    return Parsed(
        table, fmt, tuple(warnings), absent=absent, snapshot=fmt == "finra-pipe", restates=revisions(table)
    )


def previous_cycle(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last day of the FINRA cycle before each settlement date's (datetime64[D]).

    FINRA's cycles are the 15th and the month end, each rolled back to a business day (by a few
    days at most), so a date on or before the 15th is the month's mid cycle, whose previous cycle
    is the previous month's end (16th to last day), and a later date is the month-end cycle,
    whose previous cycle is this month's mid one (1st to 15th).
    """
    month = days.astype("datetime64[M]")
    first = month.astype("datetime64[D]")
    mid = (days - first) < np.timedelta64(15, "D")
    before = (month - 1).astype("datetime64[D]")
    one = np.timedelta64(1, "D")
    return np.where(mid, before + 15 * one, first), np.where(mid, first - one, first + 14 * one)


def revisions(table: pa.Table) -> pa.Table | None:
    """FINRA's revisions as restatements for the store (``store.SourceBatch.restates``).

    A row flagged R on settlement date d carries in ``previous_short_interest`` the corrected
    short interest of the symbol's previous FINRA cycle (``previous_cycle``): that is the value the
    store gives the row it holds there. A row that also has a split in the cycle (S) is left out:
    FINRA restates its previous figure on the post-split basis, which is not the figure printed
    for the previous cycle. None when the file has no such row.
    """
    given = table.column("previous_short_interest")
    usable = arrays.flags(table.column("revision_flag")) & arrays.valid(given)
    usable &= ~arrays.flags(table.column("split_flag"))
    if not usable.any():
        return None
    rows = table.filter(arrays.from_numpy(usable))
    first, last = previous_cycle(arrays.days(rows.column("settlement_date")))

    def as_dates(d: np.ndarray) -> pa.Array:
        return arrays.from_numpy(d.astype(np.int64)).cast(pa.int32()).cast(pa.date32())

    return pa.table(
        {
            "symbol": rows.column("symbol"),
            RESTATES_FROM: as_dates(first),
            RESTATES_TO: as_dates(last),
            "short_interest": rows.column("previous_short_interest"),
        }
    )


def _days_to_cover(dtc: np.ndarray, si: pa.Array, adv: pa.Array | None) -> pa.Array:
    """Days to cover as given (NaN: none), FINRA's no-volume sentinel as null, and where the source
    gives none FINRA's rule: SI / ADV, floor 1.00, rounded to 2 decimals, undefined without volume."""
    dtc = np.where(dtc == NO_VOLUME_DTC, np.nan, dtc)
    if adv is not None:
        adv_f = arrays.floats(adv)
        fill = np.isnan(dtc) & (adv_f > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            computed = np.round(np.maximum(1.0, arrays.floats(si) / adv_f), 2)
        dtc = np.where(fill, computed, dtc)
    return arrays.from_numpy(dtc, mask=np.isnan(dtc))


def parse_finra_pipe(source: Source, options: ParseOptions) -> Parsed:
    fast = None if options.mapping else fast_finra_pipe(source)
    return fast if fast is not None else slow_finra_pipe(source, options)


def slow_finra_pipe(source: Source, options: ParseOptions | None = None) -> Parsed:
    """Any FINRA pipe file, through the general reader and converters (with their exact errors)."""
    return _parse_layout(source, read_csv(source, "|"), "finra-pipe", FINRA_FIELDS, ISO, options)


def _parse_layout(
    source: Source,
    raw: RawTable,
    fmt: str,
    fields: dict[str, str],
    date_format: str,
    options: ParseOptions | None,
) -> Parsed:
    cols = _resolve(raw, fields)
    if options is not None and options.mapping:
        cols = _mapped_over(source, raw, cols, options)
        date_format = options.date_format or date_format
    return _assemble(raw, fmt, cols, date_format=date_format)


_COUNT_LIMIT = 2**53  # above it the general path's float64 route rounds; exact int64 would differ


def fast_finra_pipe(source: Source) -> Parsed | None:
    """The common FINRA file read straight from its bytes with Arrow, without pandas.

    Returns None, so the caller takes ``slow_finra_pipe`` with its exact errors, unless the file
    is plainly valid: header on the first line with no two names alike, LF or CRLF line ends,
    dates strictly YYYY-MM-DD within the plausible years, counts plain digits, days to cover a
    non-negative number, flags known, no required cell blank. Cells are split like the general
    reader's Arrow split and text goes through the same helpers, so anything accepted here parses
    to exactly the same table and warnings there.
    """
    cells = plain_pipe_cells(source, FINRA_FIELDS)
    if cells is None or not set(REQUIRED) <= set(cells):
        return None
    try:
        return _fast_convert(cells, len(cells["settlement_date"]))
    except pa.ArrowException:
        return None  # a cell a strict cast rejects


def _fast_convert(cells: dict[str, pa.Array], n: int) -> Parsed | None:
    """Typed columns from the raw (untrimmed) cells, or None at the first doubt."""
    out: dict[str, pa.Array] = {}
    # Strict ISO dates only (no blank, no spaces, no "2026-1-5"); pandas reads those the same.
    dates = pc.cast(cells["settlement_date"], pa.date32())
    span = pc.min_max(dates)
    if not (
        v.SETTLEMENT_DATES.contains(span["min"].as_py()) and v.SETTLEMENT_DATES.contains(span["max"].as_py())
    ):
        return None  # the general path names the line
    out["settlement_date"] = dates
    out["symbol"] = v.normalise_symbols(pc.utf8_trim_whitespace(cells["symbol"]))
    if v.implausible_symbols(out["symbol"]).any():
        return None  # the general path names the line
    for f in ("short_interest", "previous_short_interest", "avg_daily_volume"):
        if f in cells:
            counts = _plain_counts(cells[f])
            if counts is None:
                return None
            out[f] = counts
    for f in ("issue_name", "market"):
        if f in cells:
            out[f] = v.blank_to_null(pc.utf8_trim_whitespace(cells[f]))
    for f in ("revision_flag", "split_flag"):
        if f in cells:
            truthy, known = v.flag_values(pc.utf8_trim_whitespace(cells[f]))
            if not pc.all(known).as_py():
                return None
            out[f] = truthy
    if out["symbol"].null_count or out["short_interest"].null_count:
        return None
    dtc = None
    if "days_to_cover" in cells:
        # The general path's own cast of the same text (it only trims, and this cast takes no spaces).
        given = pc.cast(v.blank_to_null(cells["days_to_cover"]), pa.float64())
        low = pc.min(given).as_py()
        if pc.any(pc.invert(pc.is_finite(given))).as_py() or (low is not None and low < 0):
            return None
        dtc = arrays.floats(given)
    return _finish(out, dtc, n, "finra-pipe", [])


def _plain_counts(text: pa.Array) -> pa.Array | None:
    """int64 (null when blank) if every cell is blank or plain ASCII digits, else None.

    Arrow's own int64 parse would also take " 123" and "0x1F"; the general path reads counts as
    float64, so beyond 2**53 it would round where int64 is exact.
    """
    digits = pc.or_(pc.equal(text, arrays.EMPTY_STRING), pc.ascii_is_decimal(text))
    if not pc.all(digits).as_py():
        return None
    counts = pc.cast(v.blank_to_null(text), pa.int64())
    top = pc.max(counts).as_py()
    return None if top is not None and top > _COUNT_LIMIT else counts


def parse_finra_api_csv(source: Source, options: ParseOptions) -> Parsed:
    return _parse_layout(source, read_csv(source, ","), "finra-api-csv", FINRA_FIELDS, ISO, options)


def parse_finra_api_json(source: Source, options: ParseOptions) -> Parsed:
    return _parse_layout(source, read_json_records(source), "finra-api-json", FINRA_FIELDS, ISO, options)


def parse_finra_web(source: Source, options: ParseOptions) -> Parsed:
    return _parse_layout(source, read_csv(source, ","), "finra-web", WEB_FIELDS, "%d-%m-%Y", options)


def parse_mapped(source: Source, options: ParseOptions) -> Parsed:
    """Any delimited file through --map FIELD=COLUMN; incomplete rows are skipped with a count."""
    mapping = _check_mapping(source, options)
    absent = [f for f in REQUIRED if f not in mapping]
    if absent:
        raise source.error(
            f"format 'mapped' needs --map for {', '.join(absent)} (e.g. --map short_interest=COLUMN)"
        )
    raw = read_csv(source, guess_delimiter(source.first_line()))
    raw.require(*mapping.values())
    cols = {f: raw.find(c) or c for f, c in mapping.items()}
    return _assemble(raw, "mapped", cols, date_format=options.date_format or ISO, skip_incomplete=True)


FORMATS = (
    FormatDef(
        "finra-pipe",
        lambda s: not s.is_json and _has_columns(s, "|", "symbolCode", "settlementDate"),
        parse_finra_pipe,
        signature=tuple(FINRA_FIELDS[f] for f in REQUIRED),
        delimiter="|",
    ),
    FormatDef(
        "finra-api-json",
        lambda s: s.is_json and "symbolcode" in s.text[:4000].lower(),
        parse_finra_api_json,
        signature=tuple(FINRA_FIELDS[f] for f in REQUIRED),
        delimiter="json",
    ),
    FormatDef(
        "finra-api-csv",
        lambda s: not s.is_json and _has_columns(s, ",", "symbolCode", "settlementDate"),
        parse_finra_api_csv,
        signature=tuple(FINRA_FIELDS[f] for f in REQUIRED),
    ),
    FormatDef(
        "finra-web",
        lambda s: not s.is_json and _has_columns(s, ",", "issueSymbolIdentifier", "settlementDate"),
        parse_finra_web,
        signature=tuple(WEB_FIELDS[f] for f in REQUIRED),
    ),
    FormatDef("mapped", None, parse_mapped),
)
