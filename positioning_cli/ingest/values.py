"""Typed columns from string columns, vectorised, with line-aware errors.

Each converter checks a whole column at once and, only when something is wrong, looks up the first
offending row to name its line, column and value. Blank cells (and the usual null spellings) become
nulls; whether a null is allowed is the caller's decision.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from positioning_cli import arrays
from positioning_cli.symbols import _SEPARATORS, TICKER_PATTERN, describe_implausible, normalise_symbol

from .text import RawTable, shorten

if TYPE_CHECKING:
    import pandas as pd

# Cell spellings that mean "no value" (compared lower-cased). "-" is iShares' blank.
NULLS = frozenset({"", "null", "none", "nan", "n/a", "na", "-"})
# For symbols only emptiness (and iShares' "-") is blank: NAN, NA and NULL can be real tickers.
SYMBOL_NULLS = frozenset({"", "-"})
_TRUE = frozenset({"R", "S", "Y", "YES", "T", "TRUE", "1"})
_FALSE = frozenset({"", "N", "NO", "F", "FALSE", "0"})
# The sets as Arrow arrays for pc.is_in (built without pandas, see arrays.py).
_TRUE_SET, _FALSE_SET, _NULLS_SET = (arrays.strings(sorted(s)) for s in (_TRUE, _FALSE, NULLS))
_SEPARATORS_RE = _SEPARATORS.pattern  # symbols.py's class separators, for Arrow's regex replace
_INT64_LIMIT = 9.2e18
_INTEGRAL_TOLERANCE = 1e-6  # scraped sources write counts as floats ("2380000.0")


def stripped(raw: RawTable, column: str) -> pd.Series:
    """The column's strings (``text.read_csv`` already trimmed them)."""
    return raw.col(column)


def blank(raw: RawTable, column: str, nulls: frozenset[str] = NULLS) -> np.ndarray:
    """True where the cell is empty or a null spelling (pass SYMBOL_NULLS for symbol columns)."""
    return stripped(raw, column).str.lower().isin(nulls).to_numpy(dtype=bool)


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _value(raw: RawTable, column: str, row: int) -> str:
    return repr(shorten(str(raw.col(column).iloc[row]).strip(), 40))


def _arrow(raw: RawTable, column: str) -> pa.Array:
    """The column's (trimmed) strings as one Arrow array."""
    col = raw.col(column)
    arr = pa.array(col.array, type=pa.string()) if len(col) else pa.array([], pa.string())
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def blank_to_null(text: pa.Array) -> pa.Array:
    """The strings with empty ones null."""
    return pc.if_else(pc.equal(text, arrays.EMPTY_STRING), arrays.NULL_STRING, text)


def strings(raw: RawTable, column: str) -> pa.Array:
    """Stripped text; only empty cells become null ("NA" or "None" can be a real name)."""
    return blank_to_null(_arrow(raw, column))


def floats(
    raw: RawTable,
    column: str,
    *,
    thousands: bool = False,
    nonnegative: bool = False,
    problem: str = "not a number",
) -> np.ndarray:
    """float64 values, NaN for blanks. ``thousands``: accept "1,234.5" (quoted holdings exports)."""
    s = stripped(raw, column)
    if thousands:
        s = s.str.replace(",", "", regex=False)
    is_blank = s.str.lower().isin(NULLS).to_numpy(dtype=bool)
    try:
        # Arrow's cast is the fast path; it fails as a whole on any bad cell.
        kept = pc.if_else(pa.array(is_blank), pa.scalar(None, pa.string()), pa.array(s, type=pa.string()))
        cast = pc.cast(kept, pa.float64())
        numbers = np.array(cast.to_numpy(zero_copy_only=False), dtype=np.float64)  # writable, NaN for null
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # Slow path only to find the offending cell: pandas marks each unparseable cell NaN.
        import pandas as pd

        parsed = pd.to_numeric(s.where(~is_blank, None), errors="coerce")
        numbers = np.array(parsed.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    bad = ~is_blank & ~np.isfinite(numbers)
    if bad.any():
        row = _first(bad)
        raise raw.error(row, column, f"{problem}: {_value(raw, column, row)}")
    if nonnegative:
        negative = numbers < 0  # NaN compares False
        if negative.any():
            row = _first(negative)
            raise raw.error(row, column, f"negative value not allowed: {_value(raw, column, row)}")
    return numbers


def ints(
    raw: RawTable,
    column: str,
    *,
    thousands: bool = False,
    nonnegative: bool = True,
    round_fractions: bool = False,
) -> pa.Array:
    """int64 counts (shares, volume), null for blanks.

    Float spellings of whole numbers ("8164300.0") are accepted; a real fraction is an error unless
    ``round_fractions`` (volumes, which some sources report fractionally).
    """
    numbers = floats(raw, column, thousands=thousands, nonnegative=nonnegative, problem="not a whole number")
    rounded = np.round(numbers)
    if not round_fractions:
        fractional = np.abs(numbers - rounded) > _INTEGRAL_TOLERANCE  # NaN compares False
        if fractional.any():
            row = _first(fractional)
            raise raw.error(row, column, f"not a whole number: {_value(raw, column, row)}")
    too_big = np.abs(numbers) > _INT64_LIMIT
    if too_big.any():
        row = _first(too_big)
        raise raw.error(row, column, f"number out of range: {_value(raw, column, row)}")
    missing = np.isnan(numbers)
    return pa.array(np.where(missing, 0, rounded).astype(np.int64), mask=missing, type=pa.int64())


def describe_date_format(fmt: str) -> str:
    """ "%m/%d/%y" -> "MM/DD/YY", for messages a user can act on."""
    for code, text in (
        ("%Y", "YYYY"),
        ("%y", "YY"),
        ("%m", "MM"),
        ("%d", "DD"),
        ("%b", "Mon"),
        ("%B", "Month"),
        ("%H", "hh"),
        ("%M", "mm"),
        ("%S", "ss"),
        ("%f", "fff"),
    ):
        fmt = fmt.replace(code, text)
    return fmt


# How far ahead of today a date may lie: a report is never published for a date a month away, so
# anything later is a typo (2062 for 2026). Dates outside pandas' 1677-2262 never get this far.
DAYS_AHEAD = 31


@dataclass(frozen=True)
class DateRange:
    """The dates a source can plausibly carry: ``earliest`` to today + ``DAYS_AHEAD`` days."""

    what: str  # "settlement date", for messages
    earliest: datetime.date

    def latest(self) -> datetime.date:
        return datetime.date.today() + datetime.timedelta(days=DAYS_AHEAD)

    def problem(self, value: object) -> str:
        return (
            f"implausible {self.what} {value} (outside {self.earliest.isoformat()} to"
            f" {self.latest().isoformat()}, today + {DAYS_AHEAD} days)"
        )

    def contains(self, d: datetime.date) -> bool:
        return self.earliest <= d <= self.latest()

    def outside(self, values: pa.Array) -> np.ndarray:
        """True where a (non-null) date32 value is outside the range."""
        lo, hi = pa.scalar(self.earliest, pa.date32()), pa.scalar(self.latest(), pa.date32())
        return arrays.to_numpy(pc.fill_null(pc.or_(pc.less(values, lo), pc.greater(values, hi)), False))


# The documented ranges (README "Input formats"), one per kind of date.
SETTLEMENT_DATES = DateRange("settlement date", datetime.date(1990, 1, 1))  # FINRA's files start 1990s
PRICE_DATES = DateRange("price date", datetime.date(1789, 1, 1))  # Stooq's S&P 500 series starts 1789
AS_OF_DATES = DateRange("as-of date", datetime.date(1957, 3, 4))  # the S&P 500 was launched then
REPORT_DATES = DateRange("report date", datetime.date(1986, 1, 1))  # CFTC's history starts 1986
# Short sale volume was first published under Reg SHO, effective 2005-01-03 (NYSE files go back to 2005)
TRADE_DATES = DateRange("trade date", datetime.date(2005, 1, 3))
# Fund flows: no US exchange-traded fund traded before SPY (1993-01-22)
FUND_DATES = DateRange("fund date", datetime.date(1993, 1, 22))
# Intraday bars: no vendor sells US intraday bars from before 1990 (session date in New York)
BAR_DATES = DateRange("bar date", datetime.date(1990, 1, 1))


def dates(raw: RawTable, column: str, fmt: str, allowed: DateRange, *, refuse: bool = True) -> pa.Array:
    """date32 values parsed with strftime ``fmt``, null for blanks; each within ``allowed``, or
    (``refuse=False``: the caller leaves such rows out, ``allowed.outside``) returned as read."""
    import pandas as pd

    s = stripped(raw, column)
    is_blank = s.str.lower().isin(NULLS).to_numpy(dtype=bool)
    try:
        parsed = pd.to_datetime(s.where(~is_blank, None), format=fmt, errors="coerce")
    except ValueError as exc:  # an invalid format string (a user's --date-format)
        raise raw.source.error(f"bad date format {fmt!r}: {exc}", field=column) from None
    bad = ~is_blank & parsed.isna().to_numpy(dtype=bool)
    if bad.any():
        row = _first(bad)
        text = str(raw.col(column).iloc[row]).strip()
        try:  # a real date pandas cannot hold (before 1677, after 2262) is implausible, not malformed
            outside = datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            outside = None
        if outside is not None and not allowed.contains(outside):
            raise raw.error(row, column, allowed.problem(repr(shorten(text, 40))))
        raise raw.error(
            row, column, f"not a date in format {describe_date_format(fmt)}: {_value(raw, column, row)}"
        )
    days = parsed.to_numpy(dtype="datetime64[D]")
    missing = np.isnat(days)
    # pandas reads "-2019-01-02" as year -2019; a typo'd year (2062) parses too: both are refused.
    low, high = np.datetime64(allowed.earliest, "D"), np.datetime64(allowed.latest(), "D")
    implausible = ~missing & ((days < low) | (days > high))
    if refuse and implausible.any():
        row = _first(implausible)
        raise raw.error(row, column, allowed.problem(_value(raw, column, row)))
    return (
        pa.array(days, mask=missing, type=pa.date32()) if missing.any() else pa.array(days, type=pa.date32())
    )


def flag_values(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(flag set, spelling known) per trimmed cell: R/S/Y/YES/T/TRUE/1 are True; blank, N/NO/F/
    FALSE/0 and null spellings False; anything else (a null cell too) is unknown."""
    upper = pc.utf8_upper(text)
    truthy = pc.is_in(upper, value_set=_TRUE_SET)
    known = pc.or_(
        pc.or_(truthy, pc.is_in(upper, value_set=_FALSE_SET)),
        pc.is_in(pc.utf8_lower(upper), value_set=_NULLS_SET),
    )
    return truthy, known  # pc.is_in matches a null against nothing: never null itself


def flags(raw: RawTable, column: str) -> pa.Array:
    """FINRA flags ("R", "S") and yes/no spellings as bool; blank is False."""
    truthy, known = flag_values(_arrow(raw, column))
    unknown = ~arrays.to_numpy(known)
    if unknown.any():
        row = _first(unknown)
        raise raw.error(row, column, f"unknown flag value: {_value(raw, column, row)}")
    return truthy


def normalise_symbols(text: pa.Array) -> pa.Array:
    """symbols.normalise_symbol (the one rule) over a string array; blank or null -> null.

    All-ASCII arrays (every real feed) take the same rule vectorised in Arrow: upper-casing and
    whitespace agree with Python's for ASCII; anything else goes through the Python rule.
    """
    # Printable ASCII: no control characters, which Arrow's and Python's trimming treat differently
    # (strip() also strips \x1c-\x1f); those go through the Python rule.
    if text.null_count == 0 and pc.all(pc.ascii_is_printable(text)).as_py() is not False:
        out = pc.ascii_upper(pc.ascii_trim_whitespace(text))
        # The regex replace is the costly step: run it only on the symbols holding a separator.
        split = pc.match_substring_regex(out, _SEPARATORS_RE)
        if pc.any(split).as_py():
            joined = pc.replace_substring_regex(pc.filter(out, split), pattern=_SEPARATORS_RE, replacement="")
            out = pc.replace_with_mask(out, split, joined)
        return pc.if_else(pc.equal(out, arrays.EMPTY_STRING), arrays.NULL_STRING, out)
    return blank_to_null(arrays.strings([normalise_symbol(v or "") for v in text.to_pylist()]))


def implausible_symbols(symbols: pa.Array) -> np.ndarray:
    """True where a normalised symbol is not a plausible ticker (``symbols.plausible``); null is not."""
    matched = pc.match_substring_regex(symbols, TICKER_PATTERN)
    return arrays.valid(matched) & ~arrays.to_numpy(matched)


def symbols(raw: RawTable, column: str) -> pa.Array:
    """Normalised symbols of a column, each a plausible ticker; blank -> null."""
    return plausible_symbols(raw, column, normalise_symbols(_arrow(raw, column)))


def plausible_symbols(raw: RawTable, column: str, normalised: pa.Array) -> pa.Array:
    """``normalised`` (one per row of ``column``), or the error naming the first implausible one."""
    bad = implausible_symbols(normalised)
    if bad.any():
        row = _first(bad)
        raise raw.error(row, column, describe_implausible(normalised[row].as_py()))
    return normalised


def require_values(raw: RawTable, column: str, values: pa.Array, what: str = "blank value") -> None:
    """Error at the first null in a column that must be filled."""
    if values.null_count:
        row = _first(np.asarray(values.is_null()))
        raise raw.error(row, column, f"{what} (required)")


# SEC XBRL financial data (and with it dei cover-page facts) begins with 2009 filings.
XBRL_DATES = DateRange("XBRL date", datetime.date(2009, 1, 1))
