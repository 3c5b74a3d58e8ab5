"""Index membership parsers: S&P 500 lists, iShares and Invesco holdings exports, generic CSV.

Membership is dated (``as_of``) and belongs to one index; when a file does not say which date or
index, the user supplies it (--as-of, --index) and a missing one is an error, never a guess.
"""

from __future__ import annotations

import csv
import datetime

import numpy as np
import pyarrow as pa

from positioning_cli.schema import INDICES, MEMBERS

from . import values as v
from .base import FormatDef, Parsed, ParseOptions, absent_columns, build_table, dedupe
from .text import RawTable, Source, canonical, guess_delimiter, read_csv, shorten

ISO = "%Y-%m-%d"
# Fund names in an iShares preamble -> the index the fund tracks.
FUND_INDEX = (("russell 2000", "RUT"), ("nasdaq-100", "NDX"), ("nasdaq 100", "NDX"), ("s&p 500", "SPX"))
# Fund tickers in a holdings file's own column -> the index the fund tracks.
FUND_TICKER_INDEX = {"QQQ": "NDX", "QQQM": "NDX", "IWM": "RUT", "IVV": "SPX", "SPY": "SPX", "VOO": "SPX"}
GENERIC_FIELDS = (
    "index",
    "as_of",
    "symbol",
    "name",
    "sector",
    "shares_outstanding",
    "float_shares",
    "weight",
)


def _names(source: Source) -> list[str]:
    found = source.header_names(",")
    return [canonical(n) for n in found[0][1]] if found and not source.is_json else []


def _ishares_header_line(source: Source) -> int | None:
    """Physical line of the holdings header (after a preamble of up to ~9 lines), or None."""
    for number, names in source.header_names(",", max_lines=20):
        canon = {canonical(n) for n in names}
        if {"ticker", "asset_class"} <= canon and ("weight_(%)" in canon or "weight" in canon):
            return number
    return None


def _is_ishares(source: Source) -> bool:
    return not source.is_json and _ishares_header_line(source) is not None


def _is_invesco(source: Source) -> bool:
    return {"fund_ticker", "holding_ticker"} <= set(_names(source))


def _is_sp500(source: Source) -> bool:
    names = set(_names(source))
    described = "security" in names or "gics_sector" in names or {"name", "sector"} <= names
    return "symbol" in names and described and not names & {"index", "as_of"}


def _is_generic(source: Source) -> bool:
    names = set(_names(source))
    return "symbol" in names and bool(names & set(GENERIC_FIELDS[:2] + GENERIC_FIELDS[3:]))


def _index_from_options(source: Source, options: ParseOptions) -> str | None:
    if options.index is None:
        return None
    index = options.index.strip().upper()
    if index not in INDICES:
        raise source.error(f"unknown index {options.index!r}; expected one of {', '.join(INDICES)}")
    return index


def _index_named_or_given(
    source: Source, options: ParseOptions, named: str | None, fund: str, line: int
) -> str | None:
    """The index the file's fund tracks, or --index; both, when they disagree, is refused: a holdings
    file filed under another index would be stored silently wrong (as a conflicting date would)."""
    given = _index_from_options(source, options)
    if given and named and given != named:
        raise source.error(
            f"the file holds {shorten(fund, 40)}, which tracks {named}, not --index {given}; "
            "drop --index or ingest the right file",
            line=line,
        )
    return given or named


def _const(value: object, n: int, type_: pa.DataType) -> pa.Array:
    return pa.array([value] * n, type=type_)


def _finish(raw: RawTable, fmt: str, out: dict, warnings: list[str]) -> Parsed:
    """Shared tail: required symbol, source format, exact schema, duplicate keys."""
    symbol_col = out.pop("_symbol_column")
    v.require_values(raw, symbol_col, out["symbol"], "blank symbol")
    out["source_format"] = _const(fmt, raw.n, pa.string())
    absent = absent_columns(MEMBERS, out)
    table = build_table(MEMBERS, out, raw.n)
    table, dropped = dedupe(table, MEMBERS.key)
    if dropped:
        warnings.append(f"{dropped} duplicate (index, as-of, symbol) rows dropped; kept the last")
    # A members file lists the whole index on each as-of date it holds.
    return Parsed(table, fmt, tuple(warnings), absent=absent, snapshot=True)


def _drop(raw: RawTable, mask: np.ndarray, why: str, warnings: list[str]) -> RawTable:
    if mask.any():
        warnings.append(f"dropped {int(mask.sum())} {why}")
        raw = raw.take(~mask)
    if raw.n == 0:
        raise raw.source.error(f"no member rows left after dropping {why}")
    return raw


def _need_as_of(source: Source, options: ParseOptions) -> datetime.date:
    if options.as_of is None:
        raise source.error("no as-of date in file; pass --as-of")
    if not v.AS_OF_DATES.contains(options.as_of):
        raise source.error(f"--as-of: {v.AS_OF_DATES.problem(options.as_of.isoformat())}")
    return options.as_of


# --------------------------------------------------------------------------------------- S&P 500
def parse_sp500(source: Source, options: ParseOptions) -> Parsed:
    raw = read_csv(source, ",")
    raw.require("Symbol")
    mapped = _mapped_fields(source, raw, options)
    index = _index_from_options(source, options) or "SPX"
    out: dict = {"_symbol_column": raw.find("Symbol")}
    out["symbol"] = v.symbols(raw, "Symbol")
    out["index"] = _const(index, raw.n, pa.string())
    if "as_of" not in mapped:
        out["as_of"] = _const(_need_as_of(source, options), raw.n, pa.date32())
    if (name := raw.find("Security", "Name")) is not None:
        out["name"] = v.strings(raw, name)
    if (sector := raw.find("GICS Sector", "Sector")) is not None:
        out["sector"] = v.strings(raw, sector)
    cap, price = raw.find("Market Cap"), raw.find("Price")
    if cap is not None and price is not None:
        # The financials variant has no share count; market cap / price recovers it.
        caps = v.floats(raw, cap, nonnegative=True)
        prices = v.floats(raw, price, nonnegative=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            shares = np.round(caps / prices)
        missing = ~np.isfinite(shares) | (prices <= 0)
        out["shares_outstanding"] = pa.array(
            np.where(missing, 0, shares).astype(np.int64), mask=missing, type=pa.int64()
        )
    return _finish(raw, "sp500-list", {**out, **mapped}, [])


# --------------------------------------------------------------------------------------- iShares
def _ishares_preamble(source: Source, header_line: int) -> tuple[str, datetime.date | None]:
    """(fund name, holdings date) from the lines above the header."""
    lines = source.head_lines()[: header_line - 1]
    fund, as_of = "", None
    for line in lines:
        fields = next(csv.reader([line]), [])
        if not fields or not fields[0].strip():
            continue
        if not fund:
            fund = fields[0].strip()
        if fields[0].strip().lower() == "fund holdings as of" and len(fields) > 1:
            text = fields[1].strip()
            try:
                as_of = datetime.datetime.strptime(text, "%b %d, %Y").date()
            except ValueError:
                line_no = source.head_lines().index(line) + 1
                raise source.error(
                    f"not a date in format 'Mon DD, YYYY': {shorten(text, 40)!r}",
                    line=line_no,
                    field="Fund Holdings as of",
                ) from None
            if not v.AS_OF_DATES.contains(as_of):
                line_no = source.head_lines().index(line) + 1
                raise source.error(
                    v.AS_OF_DATES.problem(repr(text)), line=line_no, field="Fund Holdings as of"
                )
    return fund, as_of


def parse_ishares(source: Source, options: ParseOptions) -> Parsed:
    header_line = _ishares_header_line(source)
    if header_line is None:
        raise source.error("no iShares holdings header (Ticker, Name, Sector, Asset Class, Weight (%)) found")
    fund, file_as_of = _ishares_preamble(source, header_line)
    # The legal disclaimer after the holdings follows a blank line: stop there.
    raw = read_csv(source, ",", header_line=header_line, stop_at_blank=True)
    raw.require("Ticker", "Asset Class")
    warnings: list[str] = []

    named = next((code for text, code in FUND_INDEX if text in fund.lower()), None)
    fund_line = 1 + next((i for i, line in enumerate(source.head_lines()) if fund and fund in line), 0)
    index = _index_named_or_given(source, options, named, repr(fund), fund_line)
    if index is None:
        raise source.error(
            f"cannot tell the index from the fund name {shorten(fund, 40)!r}; pass --index"
            if fund
            else "no fund name in file to tell the index; pass --index"
        )
    as_of = file_as_of or _need_as_of(source, options)
    if file_as_of and options.as_of and options.as_of != file_as_of:
        # The export's own date describes the holdings; a different --as-of is most likely a slip.
        warnings.append(f"file says holdings as of {file_as_of}; ignored --as-of {options.as_of}")

    # Cash, futures and money-market lines are the fund's, not index members.
    asset = v.stripped(raw, "Asset Class").str.lower()
    raw = _drop(
        raw,
        (asset != "equity").to_numpy(dtype=bool),
        "non-equity rows (cash, futures, money market)",
        warnings,
    )
    raw = _drop(raw, v.blank(raw, "Ticker", v.SYMBOL_NULLS), "rows without a ticker ('-')", warnings)

    out: dict = {"_symbol_column": raw.find("Ticker")}
    out["symbol"] = v.symbols(raw, "Ticker")
    out["index"] = _const(index, raw.n, pa.string())
    out["as_of"] = _const(as_of, raw.n, pa.date32())
    if raw.find("Name"):
        out["name"] = v.strings(raw, "Name")
    if raw.find("Sector"):
        out["sector"] = v.strings(raw, "Sector")
    # Quantity/Shares is the fund's holding, not the company's shares outstanding: not used.
    if (weight := raw.find("Weight (%)", "Weight")) is not None:
        out["weight"] = v.floats(raw, weight, thousands=True)
    return _finish(raw, "ishares", {**out, **_mapped_fields(source, raw, options)}, warnings)


# --------------------------------------------------------------------------------------- Invesco
def parse_invesco(source: Source, options: ParseOptions) -> Parsed:
    raw = read_csv(source, ",")
    raw.require("Holding Ticker", "Date")
    warnings: list[str] = []
    raw = _drop(
        raw, v.blank(raw, "Holding Ticker", v.SYMBOL_NULLS), "rows without a holding ticker", warnings
    )
    funds = set(v.stripped(raw, "Fund Ticker").str.upper()) if raw.find("Fund Ticker") else set()
    tracked = {FUND_TICKER_INDEX.get(f) for f in funds}
    named = tracked.pop() if len(tracked) == 1 else None
    index = _index_named_or_given(
        source, options, named, f"fund {', '.join(sorted(funds))}", int(raw.lines[0])
    )
    if index is None:
        raise source.error(f"cannot tell the index from fund ticker(s) {sorted(funds)}; pass --index")
    out: dict = {"_symbol_column": raw.find("Holding Ticker")}
    out["symbol"] = v.symbols(raw, "Holding Ticker")  # padded "AAPL " is stripped by the rule
    out["index"] = _const(index, raw.n, pa.string())
    out["as_of"] = v.dates(raw, "Date", "%m/%d/%Y", v.AS_OF_DATES)
    v.require_values(raw, raw.find("Date") or "Date", out["as_of"], "blank date")
    if raw.find("Name"):
        out["name"] = v.strings(raw, "Name")
    if raw.find("Sector"):
        out["sector"] = v.strings(raw, "Sector")
    if raw.find("Weight"):
        out["weight"] = v.floats(raw, "Weight", thousands=True)
    return _finish(raw, "invesco", {**out, **_mapped_fields(source, raw, options)}, warnings)


# --------------------------------------------------------------------------------------- generic
def _read_field(raw: RawTable, field: str, column: str, options: ParseOptions) -> dict:
    """One store field from one column, converted as the generic format converts it."""
    if field == "symbol":
        return {"symbol": v.symbols(raw, column), "_symbol_column": column}
    if field == "index":
        idx = v.stripped(raw, column).str.upper()
        bad = ~idx.isin(INDICES).to_numpy(dtype=bool)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise raw.error(
                row,
                column,
                f"unknown index {raw.col(column).iloc[row]!r}; expected one of {', '.join(INDICES)}",
            )
        return {"index": pa.array(idx.tolist(), type=pa.string())}
    if field == "as_of":
        as_of = v.dates(raw, column, options.date_format or ISO, v.AS_OF_DATES)
        v.require_values(raw, column, as_of, "blank date")
        return {"as_of": as_of}
    if field in ("name", "sector"):
        return {field: v.strings(raw, column)}
    if field in ("shares_outstanding", "float_shares"):
        return {field: v.ints(raw, column, thousands=True)}
    return {field: v.floats(raw, column, thousands=True)}  # weight


def _check_mapping(source: Source, options: ParseOptions) -> None:
    unknown = sorted(set(options.mapping) - set(GENERIC_FIELDS))
    if unknown:
        raise source.error(
            f"unknown mapping field(s) {', '.join(unknown)}; known: {', '.join(GENERIC_FIELDS)}"
        )


def _mapped_fields(source: Source, raw: RawTable, options: ParseOptions) -> dict:
    """--map FIELD=COLUMN on a recognised layout: the named fields, to put over what the layout
    read; the fields it does not name stay as the layout reads them."""
    _check_mapping(source, options)
    raw.require(*options.mapping.values())
    out: dict = {}
    for field_name, column in options.mapping.items():
        out.update(_read_field(raw, field_name, raw.find(column) or column, options))
    return out


def parse_generic(source: Source, options: ParseOptions) -> Parsed:
    """Header names matched case/space-insensitively; ``options.mapping`` renames FIELD=COLUMN."""
    _check_mapping(source, options)
    raw = read_csv(source, guess_delimiter(source.first_line()))
    raw.require(*options.mapping.values())
    cols = {f: hit for f in GENERIC_FIELDS if (hit := raw.find(options.mapping.get(f, f))) is not None}
    if "symbol" not in cols:
        raise raw.missing([options.mapping.get("symbol", "symbol")])

    out: dict = {}
    for field_name, column in cols.items():
        out.update(_read_field(raw, field_name, column, options))
    if "index" not in cols:
        index = _index_from_options(source, options)
        if index is None:
            raise source.error("no index column in file; pass --index")
        out["index"] = _const(index, raw.n, pa.string())
    if "as_of" not in cols:
        out["as_of"] = _const(_need_as_of(source, options), raw.n, pa.date32())
    return _finish(raw, "generic", out, [])


FORMATS = (
    FormatDef("ishares", _is_ishares, parse_ishares, signature=("Ticker", "Asset Class", "Weight (%)")),
    FormatDef("invesco", _is_invesco, parse_invesco, signature=("Fund Ticker", "Holding Ticker", "Date")),
    FormatDef("sp500-list", _is_sp500, parse_sp500, signature=("Symbol", "Security", "GICS Sector")),
    FormatDef("generic", _is_generic, parse_generic, signature=("symbol",)),
)
