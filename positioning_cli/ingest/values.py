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
from positioning_cli.symbols import _SEPARATORS, normalise_symbol

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
    ):
        fmt = fmt.replace(code, text)
    return fmt


MIN_YEAR, MAX_YEAR = 1000, 2999


def dates(raw: RawTable, column: str, fmt: str) -> pa.Array:
    """date32 values parsed with strftime ``fmt``, null for blanks."""
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
        raise raw.error(
            row, column, f"not a date in format {describe_date_format(fmt)}: {_value(raw, column, row)}"
        )
    # pandas reads "-2019-01-02" as year -2019; market data starts in the 18th century (Stooq's S&P
    # series goes back to 1789), so years outside 1000-2999 are typos, not history.
    years = parsed.dt.year.to_numpy(dtype="float64", na_value=np.nan)
    implausible = ~is_blank & ((years < MIN_YEAR) | (years > MAX_YEAR))
    if implausible.any():
        row = _first(implausible)
        raise raw.error(
            row, column, f"implausible date (year outside {MIN_YEAR}-{MAX_YEAR}): {_value(raw, column, row)}"
        )
    days = parsed.to_numpy(dtype="datetime64[D]")
    missing = np.isnat(days)
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


def symbols(raw: RawTable, column: str) -> pa.Array:
    """Normalised symbols of a column; blank -> null."""
    return normalise_symbols(_arrow(raw, column))


def require_values(raw: RawTable, column: str, values: pa.Array, what: str = "blank value") -> None:
    """Error at the first null in a column that must be filled."""
    if values.null_count:
        row = _first(np.asarray(values.is_null()))
        raise raw.error(row, column, f"{what} (required)")


@dataclass(frozen=True)
class DateRange:
    """The dates a kind of value can plausibly carry: from ``first`` (when the source began) to
    ``ahead_days`` after today. Anything outside is a typo or a unit mix-up, reported at its row."""

    first: datetime.date
    why: str  # why nothing can be older, for the message ("XBRL cover pages begin in 2009")
    ahead_days: int = 7

    def outside(self, values: pa.Array) -> np.ndarray:
        """True where a (non-null) date is outside the range."""
        last = datetime.date.today() + datetime.timedelta(days=self.ahead_days)
        lo, hi = pa.scalar(self.first, pa.date32()), pa.scalar(last, pa.date32())
        return arrays.to_numpy(pc.fill_null(pc.or_(pc.less(values, lo), pc.greater(values, hi)), False))

    def problem(self, when: datetime.date) -> str:
        return (
            f"date {when} before {self.first} ({self.why})"
            if when < self.first
            else f"date {when} is in the future"
        )

    def check(self, raw: RawTable, column: str, values: pa.Array) -> None:
        """An error at the first date outside the range."""
        outside = self.outside(values)
        if outside.any():
            row = _first(outside)
            raise raw.error(row, column, self.problem(values[row].as_py()))


# SEC XBRL financial data (and with it dei cover-page facts) begins with 2009 filings.
XBRL_DATES = DateRange(datetime.date(2009, 1, 1), "SEC XBRL data begins in 2009")
