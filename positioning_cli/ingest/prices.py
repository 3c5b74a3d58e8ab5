"""Daily OHLCV parsers: Yahoo, yfinance and Stooq (English and Polish headers).

The three dialects differ in column names, order and the presence of Adj Close, so one parser
reads them all by header name; the format name records which dialect the header showed. They also
differ in what their prices are, and the store keeps each as what it is (schema.py PRICES):
Yahoo's Close is the quoted close (adjusted for splits only) and Adj Close the close adjusted also
for dividends; yfinance (auto_adjust) writes adjusted prices only, so its Close is an adjusted
close and its Open/High/Low are not the quoted ones; Stooq's Close is the quoted close.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from positioning_cli.schema import PRICES
from positioning_cli.symbols import describe_implausible, normalise_symbol, plausible

from . import values as v
from .base import FormatDef, Parsed, ParseOptions, absent_columns, build_table, dedupe
from .text import RawTable, Source, json_document, read_csv, shorten

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


def file_symbol(source: Source, options: ParseOptions, fmt: str, in_file: str | None = None) -> str:
    """A price file's symbol: --symbol, else ``in_file`` (a symbol the file itself names), else the
    file name; through the one symbol rule (normalised, plausible)."""
    if options.symbol is None and in_file is None and not source.regular:
        raise source.error(
            "read from a pipe, so there is no file name to take the symbol from; pass --symbol"
        )
    symbol = normalise_symbol(options.symbol or in_file or symbol_from_name(source, fmt))
    if not symbol:
        raise source.error("cannot tell the symbol from the file name; pass --symbol")
    if not plausible(symbol):
        given = "--symbol" if options.symbol else ("the file" if in_file else "the file name")
        raise source.error(f"symbol from {given}: {describe_implausible(symbol)}; pass --symbol")
    return symbol


def without_priceless_rows(
    source: Source, raw: RawTable, price_cols: list[str], warnings: list[str]
) -> RawTable:
    """``raw`` without the rows blank in every price column (Yahoo writes "null" for every price on
    a non-trading row), counted in ``warnings``; no row left is an error."""
    empty = np.logical_and.reduce([v.blank(raw, c) for c in price_cols])
    if empty.any():
        first = int(raw.lines[np.flatnonzero(empty)[0]])
        warnings.append(f"skipped {int(empty.sum())} rows with no prices (first at line {first})")
        raw = raw.take(~empty)
        if raw.n == 0:
            raise source.error("no rows with prices")
    return raw


def price_columns(raw: RawTable, cols: dict[str, str], fields: tuple[str, ...]) -> dict[str, pa.Array]:
    """The price columns of ``fields`` the file has (``cols``: field -> header), as float64 with
    nulls for blanks, never negative; the close is required in every row and must be > 0."""
    out: dict[str, pa.Array] = {}
    for f in fields:
        if f in cols:
            numbers = v.floats(raw, cols[f], nonnegative=True)
            out[f] = pa.array(numbers, mask=np.isnan(numbers), type=pa.float64())
    close = out["close"]
    v.require_values(raw, cols["close"], close, "blank close")
    not_positive = np.asarray(close.to_numpy(zero_copy_only=False)) <= 0
    if not_positive.any():
        row = int(np.flatnonzero(not_positive)[0])
        raise raw.error(row, cols["close"], f"close must be > 0: {raw.col(cols['close']).iloc[row]!r}")
    return out


def _parse(source: Source, options: ParseOptions, fmt: str) -> Parsed:
    raw = read_csv(source, ",")
    cols = {f: hit for f, names in COLUMNS.items() if (hit := raw.find(*names)) is not None}
    lacking = [COLUMNS[f][0] for f in ("date", "close") if f not in cols]
    if lacking:
        raise raw.missing(lacking)
    symbol = file_symbol(source, options, fmt)

    warnings: list[str] = []
    raw = without_priceless_rows(source, raw, [cols[f] for f in PRICE_FIELDS if f in cols], warnings)

    date_col = cols["date"]
    if (raw.columns[date_col].str.len() > 10).any():
        # A string pattern keeps the replace vectorised in Arrow (a compiled one runs per cell).
        raw.columns[date_col] = raw.columns[date_col].str.replace(_DATE_PREFIX, r"\1", regex=True)
    out: dict[str, pa.Array | list | None] = {}
    out["date"] = v.dates(raw, date_col, "%Y-%m-%d", v.PRICE_DATES)
    v.require_values(raw, date_col, out["date"], "blank date")
    out.update(price_columns(raw, cols, PRICE_FIELDS))
    close = out["close"]
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


# --------------------------------------------------------------------- Yahoo v8 chart JSON
def chart_problem(doc: Any) -> str | None:
    """What is wrong with a Yahoo chart document, or None: the one check the fetch's validation and
    the parser share (an error object, no result, arrays of different lengths)."""
    chart = doc.get("chart") if isinstance(doc, dict) else None
    if not isinstance(chart, dict):
        return "no 'chart' object (not a Yahoo chart document)"
    error = chart.get("error")
    if error:
        desc = error.get("description") or error.get("code") if isinstance(error, dict) else error
        return f"Yahoo reports an error: {shorten(str(desc), 100)}"  # one line, whatever it holds
    result = chart.get("result")
    if not isinstance(result, list) or not result or not isinstance(result[0], dict):
        return "empty result"
    r = result[0]
    stamps = r.get("timestamp")
    if not isinstance(stamps, list) or not stamps:
        return "no timestamps (no trading days in the range asked for)"
    quote = (r.get("indicators") or {}).get("quote") or [{}]
    close = quote[0].get("close") if isinstance(quote[0], dict) else None
    if not isinstance(close, list):
        return "no close prices"
    if len(close) != len(stamps):
        return f"{len(stamps)} timestamps but {len(close)} closes (truncated or inconsistent)"
    adj = (r.get("indicators") or {}).get("adjclose")
    if adj and isinstance(adj[0], dict) and len(adj[0].get("adjclose") or []) != len(stamps):
        return f"{len(stamps)} timestamps but {len(adj[0].get('adjclose') or [])} adjusted closes"
    if not str((r.get("meta") or {}).get("symbol") or "").strip():
        return "no meta.symbol"
    return None


def _is_yahoo_chart(source: Source) -> bool:
    return source.is_json and '"chart"' in source.text[:200]


def _column(values: list[Any], n: int, what: str, source: Source) -> np.ndarray:
    try:
        out = np.array([np.nan if x is None else float(x) for x in values], dtype=np.float64)
    except (TypeError, ValueError):
        raise source.error(f"a {what} value that is not a number") from None
    if len(out) != n:
        raise source.error(f"{n} timestamps but {len(out)} {what} values")
    if (out < 0).any():
        raise source.error(f"negative {what} value")
    return out


def parse_yahoo_chart(source: Source, options: ParseOptions) -> Parsed:
    doc = json_document(source)
    problem = chart_problem(doc)
    if problem:
        raise source.error(problem)
    r = doc["chart"]["result"][0]
    meta = r.get("meta") or {}
    symbol = normalise_symbol(options.symbol or str(meta["symbol"]))
    if not plausible(symbol):
        given = "--symbol" if options.symbol else "chart.result.meta.symbol"
        raise source.error(f"symbol from {given}: {describe_implausible(symbol)}")
    stamps = r["timestamp"]
    n = len(stamps)
    # Bars are stamped at the session's open in UTC; the exchange's offset gives the trading day.
    offset = int(meta.get("gmtoffset") or 0)
    try:
        days = [datetime.fromtimestamp(int(t) + offset, UTC).date() for t in stamps]
    except (TypeError, ValueError, OverflowError, OSError):
        raise source.error("a timestamp that is not a Unix time") from None
    outside = next((d for d in days if not v.PRICE_DATES.contains(d)), None)
    if outside is not None:
        raise source.error(v.PRICE_DATES.problem(outside.isoformat()))
    quote = r["indicators"]["quote"][0]
    cols = {f: _column(quote.get(f) or [None] * n, n, f, source) for f in ("open", "high", "low", "close")}
    adj = (r["indicators"].get("adjclose") or [{}])[0].get("adjclose")
    cols["adj_close"] = _column(adj if adj else [None] * n, n, "adjclose", source)
    volume = _column(quote.get("volume") or [None] * n, n, "volume", source)

    warnings: list[str] = []
    # Yahoo writes null for every price of a bar with no trading: skip those, count them.
    keep = ~(np.isnan(cols["close"]) & np.isnan(cols["adj_close"]))
    if not keep.all():
        warnings.append(f"skipped {int((~keep).sum())} bars with no prices")
    if not keep.any():
        raise source.error("no bars with prices")
    idx = np.flatnonzero(keep)
    if (cols["close"][idx] <= 0).any() or (cols["adj_close"][idx] <= 0).any():
        raise source.error("a close that is not > 0")
    out: dict[str, pa.Array | list | None] = {
        "symbol": pa.array([symbol] * len(idx), type=pa.string()),
        "date": pa.array([days[i] for i in idx], type=pa.date32()),
        "source_format": pa.array(["yahoo-chart"] * len(idx), type=pa.string()),
    }
    for f, values in cols.items():
        picked = values[idx]
        out[f] = pa.array(picked, mask=np.isnan(picked), type=pa.float64())
    picked = volume[idx]
    missing = np.isnan(picked)
    out["volume"] = pa.array(np.where(missing, 0, np.round(picked)).astype(np.int64), mask=missing)
    table = build_table(PRICES, out, len(idx))
    table, dropped = dedupe(table, PRICES.key)
    if dropped:
        warnings.append(f"{dropped} duplicate dates dropped; kept the last bar of each")
    return Parsed(table=table, format="yahoo-chart", warnings=tuple(warnings))


# --------------------------------------------------------------------- official index levels
# Series name in a Cboe or FRED index-level CSV -> the store symbol. Yahoo's spelling: these are
# the closes of the index itself, the series `fetch prices` keeps under ^GSPC/^NDX/^RUT (they are
# its fallback), and the proxy chains find every spelling of an index level (symbols.py).
INDEX_LEVEL_SERIES = {
    "SPX": "^GSPC",  # Cboe SPX_History.csv
    "RUT": "^RUT",  # Cboe RUT_History.csv
    "NDX": "^NDX",  # Cboe NDX_History.csv (listed, unconfirmed)
    "SP500": "^GSPC",  # FRED
    "NASDAQ100": "^NDX",  # FRED
}
_LEVEL_DATES = ("date", "observation_date")


def _is_index_level(source: Source) -> bool:
    names = _header(source)
    return len(names) == 2 and names[0] in _LEVEL_DATES and names[1].upper() in INDEX_LEVEL_SERIES


def parse_index_level(source: Source, options: ParseOptions) -> Parsed:
    raw = read_csv(source, ",")
    date_col, series = raw.header[0], raw.header[1]
    symbol = normalise_symbol(options.symbol or INDEX_LEVEL_SERIES.get(series.upper(), ""))
    if not symbol:
        raise source.error(f"unknown index-level series {series!r}; pass --symbol")
    warnings: list[str] = []
    # FRED leaves a holiday's value blank (older files: "."): not a price, skipped and counted.
    empty = v.blank(raw, series) | (v.stripped(raw, series) == ".").to_numpy(dtype=bool)
    if empty.any():
        warnings.append(f"skipped {int(empty.sum())} rows with no value")
        raw = raw.take(~empty)
        if raw.n == 0:
            raise source.error("no rows with values")
    first = str(v.stripped(raw, date_col).iloc[0])
    out: dict[str, pa.Array | list | None] = {}
    out["date"] = v.dates(raw, date_col, "%m/%d/%Y" if "/" in first else "%Y-%m-%d", v.PRICE_DATES)
    v.require_values(raw, date_col, out["date"], "blank date")
    close = v.floats(raw, series, nonnegative=True)
    if (close <= 0).any():
        row = int(np.flatnonzero(close <= 0)[0])
        raise raw.error(row, series, f"close must be > 0: {raw.col(series).iloc[row]!r}")
    out["close"] = pa.array(close, type=pa.float64())
    out["symbol"] = pa.array([symbol] * raw.n, type=pa.string())
    out["source_format"] = pa.array(["index-level"] * raw.n, type=pa.string())
    table = build_table(PRICES, out, raw.n)
    table, dropped = dedupe(table, PRICES.key)
    if dropped:
        warnings.append(f"{dropped} duplicate dates dropped; kept the last row of each")
    return Parsed(table=table, format="index-level", warnings=tuple(warnings))


FORMATS = (
    FormatDef("yahoo", _is_yahoo, parse_yahoo, signature=("Date", "Close", "Adj Close")),
    FormatDef("yfinance", _is_yfinance, parse_yfinance, signature=("Date", "Close", "Open")),
    FormatDef("stooq", _is_stooq, parse_stooq, signature=("Date", "Open", "Close")),
    FormatDef(
        "yahoo-chart",
        _is_yahoo_chart,
        parse_yahoo_chart,
        signature=("chart", "timestamp", "indicators"),
        delimiter="json",
    ),
    FormatDef("index-level", _is_index_level, parse_index_level, signature=("DATE", "SPX")),
)
