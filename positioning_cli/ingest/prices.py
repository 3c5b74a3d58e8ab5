"""Daily OHLCV parsers: Yahoo, yfinance and Stooq (English and Polish headers).

The three dialects differ in column names, order and the presence of Adj Close, so one parser
reads them all by header name; the format name records which dialect the header showed. They also
differ in what their prices are, and the store keeps each as what it is (schema.py PRICES):
Yahoo's Close is the quoted close (adjusted for splits only) and Adj Close the close adjusted also
for dividends; yfinance (auto_adjust) writes adjusted prices only, so its Close is an adjusted
close and its Open/High/Low are not the quoted ones; Stooq's Close is the quoted close.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from positioning_cli.schema import PRICES
from positioning_cli.symbols import describe_implausible, normalise_symbol, plausible

from . import values as v
from .base import FormatDef, Parsed, ParseOptions, absent_columns, build_table, dedupe
from .text import Source, read_csv

# Store field -> accepted header names (English, then Stooq's Polish).
COLUMNS = {
    "date": ("Date", "Data"),
    "open": ("Open", "Otwarcie"),
    "high": ("High", "Najwyzszy"),
    "low": ("Low", "Najnizszy"),
    "close": ("Close", "Zamkniecie"),
    "adj_close": ("Adj Close", "Adj_Close", "Adjusted Close"),
    "volume": ("Volume", "Wolumen"),
}
PRICE_FIELDS = ("open", "high", "low", "close", "adj_close")
# Dialects whose every price is adjusted for dividends: their Close is stored as adj_close.
ADJUSTED_ONLY = frozenset({"yfinance"})
# yfinance can write timestamps ("2024-01-02 00:00:00-05:00"); the trading day is the date part.
_DATE_PREFIX = r"^(\d{4}-\d{2}-\d{2})[ T].*$"
_SUFFIXES = (".gz", ".csv", ".txt")


def _header(source: Source) -> list[str]:
    found = source.header_names(",")
    return found[0][1] if found and not source.is_json else []


def _position(names: list[str], field: str) -> int:
    for alias in COLUMNS[field]:
        if alias.lower() in names:
            return names.index(alias.lower())
    return -1


def _is_yahoo(source: Source) -> bool:
    names = _header(source)
    return (
        _position(names, "date") >= 0
        and _position(names, "close") >= 0
        and _position(names, "adj_close") >= 0
    )


def _is_yfinance(source: Source) -> bool:
    # Same columns as Stooq's English header; yfinance writes Close first.
    names = _header(source)
    close, open_ = _position(names, "close"), _position(names, "open")
    return _position(names, "date") == 0 and _position(names, "adj_close") < 0 and 0 <= close < open_


def _is_stooq(source: Source) -> bool:
    names = _header(source)
    if "zamkniecie" in names:
        return True
    close, open_ = _position(names, "close"), _position(names, "open")
    return _position(names, "date") >= 0 and _position(names, "adj_close") < 0 and 0 <= open_ < close


def symbol_from_name(source: Source, fmt: str) -> str:
    """``^spx_d.csv.gz`` -> ``^SPX``: the file name stem, Stooq's ``_d`` (daily) suffix removed."""
    stem = source.path.name
    for suffix in _SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    if fmt == "stooq" and stem.lower().endswith("_d"):
        stem = stem[:-2]
    return stem


def _parse(source: Source, options: ParseOptions, fmt: str) -> Parsed:
    raw = read_csv(source, ",")
    cols = {f: hit for f, names in COLUMNS.items() if (hit := raw.find(*names)) is not None}
    lacking = [COLUMNS[f][0] for f in ("date", "close") if f not in cols]
    if lacking:
        raise raw.missing(lacking)
    if options.symbol is None and not source.regular:
        raise source.error(
            "read from a pipe, so there is no file name to take the symbol from; pass --symbol"
        )
    symbol = normalise_symbol(options.symbol or symbol_from_name(source, fmt))
    if not symbol:
        raise source.error("cannot tell the symbol from the file name; pass --symbol")
    if not plausible(symbol):
        given = "--symbol" if options.symbol else "the file name"
        raise source.error(f"symbol from {given}: {describe_implausible(symbol)}; pass --symbol")

    warnings: list[str] = []
    price_cols = [cols[f] for f in PRICE_FIELDS if f in cols]
    # Yahoo writes "null" for every price on a non-trading row: skip those, count them.
    empty = np.logical_and.reduce([v.blank(raw, c) for c in price_cols])
    if empty.any():
        first = int(raw.lines[np.flatnonzero(empty)[0]])
        warnings.append(f"skipped {int(empty.sum())} rows with no prices (first at line {first})")
        raw = raw.take(~empty)
        if raw.n == 0:
            raise source.error("no rows with prices")

    date_col = cols["date"]
    if (raw.columns[date_col].str.len() > 10).any():
        # A string pattern keeps the replace vectorised in Arrow (a compiled one runs per cell).
        raw.columns[date_col] = raw.columns[date_col].str.replace(_DATE_PREFIX, r"\1", regex=True)
    out: dict[str, pa.Array | list | None] = {}
    out["date"] = v.dates(raw, date_col, "%Y-%m-%d", v.PRICE_DATES)
    v.require_values(raw, date_col, out["date"], "blank date")
    for f in PRICE_FIELDS:
        if f in cols:
            numbers = v.floats(raw, cols[f], nonnegative=True)
            out[f] = pa.array(numbers, mask=np.isnan(numbers), type=pa.float64())
    close = out["close"]
    assert isinstance(close, pa.Array)
    v.require_values(raw, cols["close"], close, "blank close")
    not_positive = np.asarray(close.to_numpy(zero_copy_only=False)) <= 0
    if not_positive.any():
        row = int(np.flatnonzero(not_positive)[0])
        raise raw.error(row, cols["close"], f"close must be > 0: {raw.col(cols['close']).iloc[row]!r}")
    if fmt in ADJUSTED_ONLY:
        out["adj_close"] = close
        out["close"] = out["open"] = out["high"] = out["low"] = None
    if "volume" in cols:
        out["volume"] = v.ints(raw, cols["volume"], round_fractions=True)
    out["symbol"] = pa.array([symbol] * raw.n, type=pa.string())
    out["source_format"] = pa.array([fmt] * raw.n, type=pa.string())

    not_given = absent_columns(PRICES, out)
    table = build_table(PRICES, out, raw.n)
    table, dropped = dedupe(table, PRICES.key)
    if dropped:
        warnings.append(f"{dropped} duplicate dates dropped; kept the last row of each")
    return Parsed(table, fmt, tuple(warnings), absent=not_given)


def parse_yahoo(source: Source, options: ParseOptions) -> Parsed:
    return _parse(source, options, "yahoo")


def parse_yfinance(source: Source, options: ParseOptions) -> Parsed:
    return _parse(source, options, "yfinance")


def parse_stooq(source: Source, options: ParseOptions) -> Parsed:
    return _parse(source, options, "stooq")


FORMATS = (
    FormatDef("yahoo", _is_yahoo, parse_yahoo, signature=("Date", "Close", "Adj Close")),
    FormatDef("yfinance", _is_yfinance, parse_yfinance, signature=("Date", "Close", "Open")),
    FormatDef("stooq", _is_stooq, parse_stooq, signature=("Date", "Open", "Close")),
)
