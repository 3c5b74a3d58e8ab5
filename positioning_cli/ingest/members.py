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
    as_of = _need_as_of(source, options)
    index = _index_from_options(source, options) or "SPX"
    out: dict = {"_symbol_column": raw.find("Symbol")}
    out["symbol"] = v.symbols(raw, "Symbol")
    out["index"] = _const(index, raw.n, pa.string())
    out["as_of"] = _const(as_of, raw.n, pa.date32())
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
    return _finish(raw, "sp500-list", out, [])


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

    index = _index_from_options(source, options)
    if index is None:
        index = next((code for text, code in FUND_INDEX if text in fund.lower()), None)
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
    return _finish(raw, "ishares", out, warnings)


# --------------------------------------------------------------------------------------- Invesco
def parse_invesco(source: Source, options: ParseOptions) -> Parsed:
    raw = read_csv(source, ",")
    raw.require("Holding Ticker", "Date")
    warnings: list[str] = []
    raw = _drop(
        raw, v.blank(raw, "Holding Ticker", v.SYMBOL_NULLS), "rows without a holding ticker", warnings
    )
    index = _index_from_options(source, options)
    if index is None:
        funds = set(v.stripped(raw, "Fund Ticker").str.upper()) if raw.find("Fund Ticker") else set()
        if funds != {"QQQ"}:
            raise source.error(f"cannot tell the index from fund ticker(s) {sorted(funds)}; pass --index")
        index = "NDX"
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
    return _finish(raw, "invesco", out, warnings)


# --------------------------------------------------------------------------------------- generic
def parse_generic(source: Source, options: ParseOptions) -> Parsed:
    """Header names matched case/space-insensitively; ``options.mapping`` renames FIELD=COLUMN."""
    unknown = sorted(set(options.mapping) - set(GENERIC_FIELDS))
    if unknown:
        raise source.error(
            f"unknown mapping field(s) {', '.join(unknown)}; known: {', '.join(GENERIC_FIELDS)}"
        )
    raw = read_csv(source, guess_delimiter(source.first_line()))
    raw.require(*options.mapping.values())
    cols = {f: hit for f in GENERIC_FIELDS if (hit := raw.find(options.mapping.get(f, f))) is not None}
    if "symbol" not in cols:
        raise raw.missing([options.mapping.get("symbol", "symbol")])

    out: dict = {"_symbol_column": cols["symbol"]}
    out["symbol"] = v.symbols(raw, cols["symbol"])
    if "index" in cols:
        idx = v.stripped(raw, cols["index"]).str.upper()
        bad = ~idx.isin(INDICES).to_numpy(dtype=bool)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise raw.error(
                row,
                cols["index"],
                f"unknown index {raw.col(cols['index']).iloc[row]!r}; expected one of {', '.join(INDICES)}",
            )
        out["index"] = pa.array(idx.tolist(), type=pa.string())
    else:
        index = _index_from_options(source, options)
        if index is None:
            raise source.error("no index column in file; pass --index")
        out["index"] = _const(index, raw.n, pa.string())
    if "as_of" in cols:
        out["as_of"] = v.dates(raw, cols["as_of"], options.date_format or ISO, v.AS_OF_DATES)
        v.require_values(raw, cols["as_of"], out["as_of"], "blank date")
    else:
        out["as_of"] = _const(_need_as_of(source, options), raw.n, pa.date32())
    for f in ("name", "sector"):
        if f in cols:
            out[f] = v.strings(raw, cols[f])
    for f in ("shares_outstanding", "float_shares"):
        if f in cols:
            out[f] = v.ints(raw, cols[f], thousands=True)
    if "weight" in cols:
        out["weight"] = v.floats(raw, cols["weight"], thousands=True)
    return _finish(raw, "generic", out, [])


FORMATS = (
    FormatDef("ishares", _is_ishares, parse_ishares, signature=("Ticker", "Asset Class", "Weight (%)")),
    FormatDef("invesco", _is_invesco, parse_invesco, signature=("Fund Ticker", "Holding Ticker", "Date")),
    FormatDef("sp500-list", _is_sp500, parse_sp500, signature=("Symbol", "Security", "GICS Sector")),
    FormatDef("generic", _is_generic, parse_generic, signature=("symbol",)),
)
