"""Intraday bar parser: yfinance ``df.to_csv()`` of ``yf.download(..., interval="1h")`` and alike.

Two header styles: one row (``Datetime,Open,High,Low,Close,Adj Close,Volume`` or
``Datetime,Close,High,Low,Open,Volume``) and yfinance's multi-index one (``Price,Close,...`` then
``Ticker,SPY,...`` then ``Datetime,,,...``), whose Ticker row names the symbol. Timestamps carry
their UTC offset (``2026-11-20 09:30:00-05:00``) or the zone is given (--tz); they are stored in
UTC, with the bar's session date in New York. The interval is the most common spacing within a
day (bars.py ``infer_interval``) or --interval. The Close is stored as the file gives it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pyarrow as pa

from positioning_cli.bars import NY, infer_interval, interval_minutes, interval_name
from positioning_cli.schema import BARS

from . import values as v
from .base import FormatDef, Parsed, ParseOptions, absent_columns, build_table, dedupe
from .prices import COLUMNS, file_symbol, price_columns, symbol_from_name, without_priceless_rows
from .text import RawTable, Source, read_csv

if TYPE_CHECKING:
    import pandas as pd

FORMAT = "yfinance-intraday"
_FIELDS = ("open", "high", "low", "close")
_OFFSET = r"(?:[+-]\d{2}:?\d{2}|Z)$"


def _layout(source: Source) -> tuple[int, int | None, int | None] | None:
    """(header line, Ticker line, the multi-index 'Datetime' line) of an intraday file, or None."""
    if source.is_json:
        return None
    rows = source.header_names(",", max_lines=3)
    if not rows or "close" not in rows[0][1]:
        return None
    first = rows[0][1]
    if first[0] == "datetime":
        return rows[0][0], None, None
    if first[0] in ("price", ""):
        ticker = next((n for n, names in rows[1:] if names[0] == "ticker"), None)
        stamp = next((n for n, names in rows[1:] if names[0] == "datetime"), None)
        if stamp is not None:
            return rows[0][0], ticker, stamp
    return None


def _is_intraday(source: Source) -> bool:
    return _layout(source) is not None


def _ticker(source: Source, line: int | None) -> str | None:
    """The one ticker a multi-index header names (several: one file per ticker, please)."""
    if line is None:
        return None
    import csv

    text = source.text.splitlines()[line - 1]
    cells = {c.strip() for c in next(csv.reader([text]))[1:] if c.strip()}
    if len(cells) > 1:
        raise source.error(
            f"several tickers in one file ({', '.join(sorted(cells))}); download one ticker per file",
            line=line,
        )
    return next(iter(cells), None)


def parse_intraday(source: Source, options: ParseOptions) -> Parsed:

    layout = _layout(source)
    if layout is None:
        raise source.error(
            "no intraday header (a 'Datetime' column, or yfinance's Price/Ticker/Datetime rows)"
        )
    header_line, ticker_line, stamp_line = layout
    in_file = _ticker(source, ticker_line)
    if in_file is None and source.regular:  # SPY_1h.csv -> SPY: the interval is not the symbol
        in_file = re.sub(r"[_-]\d+(m|h|min)$", "", symbol_from_name(source, "yfinance"), flags=re.I) or None
    symbol = file_symbol(source, options, "yfinance", in_file)
    raw = read_csv(source, ",", header_line=header_line)
    if stamp_line is not None:  # the Ticker and Datetime rows of the multi-index header are not data
        raw = raw.take(raw.lines > stamp_line)
        if raw.n == 0:
            raise source.error("header only, no data rows", line=stamp_line)
    stamp_col = raw.header[0]
    cols = {f: hit for f in (*_FIELDS, "volume") if (hit := raw.find(*COLUMNS[f])) is not None}
    if "close" not in cols:
        raise raw.missing(["Close"])

    warnings: list[str] = []
    raw = without_priceless_rows(source, raw, [cols[f] for f in _FIELDS if f in cols], warnings)

    ts, days = _timestamps(source, options, raw, stamp_col)

    out: dict[str, pa.Array | list | None] = {**price_columns(raw, cols, _FIELDS)}
    if "volume" in cols:
        out["volume"] = v.ints(raw, cols["volume"], round_fractions=True)
    n = raw.n
    out["ts"] = pa.array(ts, type=pa.timestamp("us", tz="UTC"))
    out["date"] = pa.array(list(days), type=pa.date32())
    out["symbol"] = pa.array([symbol] * n, type=pa.string())
    out["source_format"] = pa.array([FORMAT] * n, type=pa.string())
    out["interval"] = pa.array([""] * n, type=pa.string())  # set below, once the rows are distinct

    not_given = absent_columns(BARS, out)
    table = build_table(BARS, out, n)
    table, dropped = dedupe(table, ("symbol", "ts"))
    if dropped:
        warnings.append(f"{dropped} duplicate timestamps dropped; kept the last row of each")
    table = table.sort_by("ts")
    t_us = table.column("ts").cast(pa.int64()).to_numpy()
    day_ord = np.array([d.toordinal() for d in table.column("date").to_pylist()])
    minutes = _interval(source, options, t_us, day_ord, table)
    table = table.set_column(
        table.schema.get_field_index("interval"),
        BARS.schema.field("interval"),
        pa.array([interval_name(minutes)] * table.num_rows, type=pa.string()),
    )
    return Parsed(table, FORMAT, tuple(warnings), absent=not_given)


def _timestamps(
    source: Source, options: ParseOptions, raw: RawTable, stamp_col: str
) -> tuple[np.ndarray, pd.Series]:
    """The bars' UTC instants and their New York session dates, from offsets or ``--tz``."""
    import pandas as pd

    text = v.stripped(raw, stamp_col)
    has_offset = text.str.contains(_OFFSET, regex=True).to_numpy(dtype=bool)
    if has_offset.all():
        stamps = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    else:
        row = int(np.flatnonzero(~has_offset)[0])
        if options.tz is None or has_offset.any():
            raise raw.error(
                row,
                stamp_col,
                f"timestamp without a UTC offset: {text.iloc[row]!r}; pass --tz (e.g. America/New_York)"
                if not has_offset.any()
                else f"timestamp without a UTC offset among ones with: {text.iloc[row]!r}",
            )
        try:
            ZoneInfo(options.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise source.error(f"--tz {options.tz!r}: unknown time zone (e.g. America/New_York)") from None
        naive = pd.to_datetime(text, format="ISO8601", errors="coerce")
        try:
            stamps = naive.dt.tz_localize(options.tz, ambiguous="raise", nonexistent="raise").dt.tz_convert(
                "UTC"
            )
        except (ValueError, TypeError) as exc:  # a wall time that the zone skips or repeats
            raise source.error(f"--tz {options.tz}: {exc}") from None
    bad = stamps.isna().to_numpy(dtype=bool)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise raw.error(row, stamp_col, f"not a timestamp: {text.iloc[row]!r}")
    ts = stamps.dt.tz_localize(None).to_numpy().astype("datetime64[us]")
    days = stamps.dt.tz_convert(NY.key).dt.date
    outside = ~days.map(v.BAR_DATES.contains).to_numpy(dtype=bool)
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise raw.error(row, stamp_col, v.BAR_DATES.problem(days.iloc[row].isoformat()))
    return ts, days


def _interval(
    source: Source, options: ParseOptions, t_us: np.ndarray, days: np.ndarray, table: pa.Table
) -> int:
    if options.interval is not None:
        try:
            given = interval_minutes(options.interval)
        except ValueError as exc:
            raise source.error(f"--interval: {exc}") from None
        same_day = days[1:] == days[:-1]
        gaps = (t_us[1:] - t_us[:-1])[same_day]
        if len(gaps) and (gaps < given * 60_000_000).any():
            short = int(gaps.min() // 60_000_000)
            raise source.error(f"--interval {options.interval}: bars only {short} minutes apart")
        return given
    try:
        return infer_interval(t_us, days)
    except ValueError as exc:
        local = table.column("ts").to_pandas().dt.tz_convert(NY.key)
        if len(local) and ((local.dt.hour == 0) & (local.dt.minute == 0)).all():
            raise source.error(
                "a daily file (every timestamp at midnight): use `positioning ingest prices`"
            ) from None
        raise source.error(str(exc)) from None


FORMATS = (FormatDef(FORMAT, _is_intraday, parse_intraday, signature=("Datetime", "Close")),)
