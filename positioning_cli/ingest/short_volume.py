"""Daily short-sale volume (Reg SHO) files: FINRA's and the NYSE group's.

Two formats, told apart by the header:

- "finra-regsho": ``Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market`` with a last line
  holding the record count; FINRA publishes one consolidated file (``CNMSshvolYYYYMMDD.txt``) and
  one per facility (FNQC, FNRA, FNSQ, FNYX, FORF). The ADF file (FNRA) is often a header and ``0``.
- "nyse-regsho": the NYSE group's exchange files (``NYSEshvol…``, ``ARCAshvol…``, ``Amexshvol…``),
  ``Date|Symbol|Short Exempt Volume|Short Volume|Total Volume|Market`` (exempt column first) since
  2017-07-24, ``Date|Symbol|Short Volume|Total Volume|Market`` before; no record-count line.

Neither layout names its venue inside the rows (a CNMS row and an FNSQ row can both say ``Q``), so
the facility comes from the file name (FINRA's ``CNMSshvol20210604.txt``, or our own
``sv-CNMS-2026-09-22.txt`` that the generated sample uses, ``own_file_name``) or
``--facility``. The date comes from the rows: NYSE's 2009 files carry the next day's date under the
file's own date.
"""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from positioning_cli import arrays
from positioning_cli.schema import SHORT_VOLUME

from . import values as v
from .base import FormatDef, Parsed, ParseOptions, build_table, dedupe
from .text import Source, canonical, plain_pipe_cells, read_csv

FINRA = "finra-regsho"
NYSE = "nyse-regsho"
CONSOLIDATED = "CNMS"  # FINRA's consolidated NMS file: the sum of FNQC, FNRA, FNSQ and FNYX
FINRA_FACILITIES = (CONSOLIDATED, "FNQC", "FNRA", "FNSQ", "FNYX", "FORF")
DATE_FORMAT = "%Y%m%d"

# Store field -> header name, per layout; short_exempt_volume is optional in NYSE's files.
FINRA_COLUMNS = {
    "date": "Date",
    "symbol": "Symbol",
    "short_volume": "ShortVolume",
    "short_exempt_volume": "ShortExemptVolume",
    "total_volume": "TotalVolume",
    "market": "Market",
}
NYSE_COLUMNS = {
    "date": "Date",
    "symbol": "Symbol",
    "short_volume": "Short Volume",
    "short_exempt_volume": "Short Exempt Volume",
    "total_volume": "Total Volume",
    "market": "Market",
}
_REQUIRED = ("date", "symbol", "short_volume", "total_volume")
# Suffix markers of the Reg SHO files, spelt out as NYSE's files (and FINRA's short-interest files)
# spell them, before the one symbol rule (symbols.py) runs. Without this, upper-casing and
# dropping separators would merge distinct securities: FINRA's ``TpC`` (a preferred) with ``TPC``,
# ARCA's ``F-B`` (Ford preferred B) with ``FB``. FINRA uses lower-case letters (CMS suffixes),
# ARCA the CQS signs; NYSE's own files already write ``ABR PRA``, ``AAC WS``, ``ACP RT``.
SUFFIX_MARKERS = {
    "p": "PR",  # preferred (FINRA ABRpA)
    "r": "RT",  # rights (FINRA ACPr)
    "w": "WI",  # when issued (FINRA GABrw)
    "-": "PR",  # preferred (ARCA ABR-A)
    "^": "RT",  # rights (ARCA ACP^)
    "#": "WI",  # when issued (ARCA GAB^#)
    "+": "WS",  # warrants (ARCA AAC+)
}
# The venue letters and the date, after the start of the name or a prefix that ends in a non-letter:
# FINRA's and NYSE's names (the letters before "shvol": CNMSshvol20210604.txt) or our own, which the
# generated sample uses so that no file carries a FINRA file's name (sv-CNMS-2026-09-22.txt; the longer
# short-volume-CNMS-2026-09-22.txt is read too).
_FILE_NAME = re.compile(
    r"(?<![A-Za-z])(?:([A-Za-z]+?)shvol\d{8}|(?:short-volume|sv)-([A-Za-z]+)-\d{4}-\d{2}-\d{2})",
    re.IGNORECASE,
)
OWN_NAME = "sv-{facility}-{day:%Y-%m-%d}"  # short: file names are a column of `store info`


def own_file_name(facility: str, day: date) -> str:
    """Our name for one facility's file of one day, without its extension (read back by the rule above)."""
    return OWN_NAME.format(facility=facility, day=day)


def _names(source: Source) -> set[str]:
    found = source.header_names("|")
    return {canonical(n) for n in found[0][1]} if found and not source.is_json else set()


def _is_finra(source: Source) -> bool:
    return {canonical(FINRA_COLUMNS[f]) for f in _REQUIRED} <= _names(source)


def _is_nyse(source: Source) -> bool:
    return {canonical(NYSE_COLUMNS[f]) for f in _REQUIRED} <= _names(source)


def facility_of(source: Source, options: ParseOptions, fmt: str) -> str:
    """The venue of the file: ``--facility``, else from its name (``_FILE_NAME``)."""
    given = options.facility
    if given is None:
        hit = _FILE_NAME.search(source.path.name)
        if hit is None:
            raise source.error(
                "cannot tell the facility from the file name (expected e.g. CNMSshvol20210604.txt or "
                "sv-CNMS-2021-06-04.txt); pass --facility"
            )
        given = hit.group(1) or hit.group(2)
    facility = given.strip().upper()
    if fmt == FINRA and facility not in FINRA_FACILITIES:
        raise source.error(
            f"facility {facility!r} is not a FINRA short-volume file; expected one of "
            f"{', '.join(FINRA_FACILITIES)}"
        )
    if fmt == NYSE and (facility in FINRA_FACILITIES or not facility.isalpha()):
        raise source.error(f"facility {facility!r} is not an exchange name (e.g. NYSE, ARCA, AMEX)")
    return facility


def _without_trailer(source: Source) -> tuple[Source, int | None, int | None]:
    """The source without its record-count line, the count it states and that line's number.

    The trailer is a last non-blank line of digits alone; anything else (a cut data row) is left
    for the reader, whose checks name it.
    """
    text = source.text
    body = text.rstrip()
    start = body.rfind("\n") + 1
    last = body[start:].strip()
    if not (last.isascii() and last.isdigit()):
        return source, None, None
    line = text.count("\n", 0, start) + 1
    kept = text[:start]
    stripped = Source(path=source.path, name=source.name, text=kept, data=kept.encode("utf-8"))
    return stripped, int(last), line


def spell_out_suffixes(symbols: pa.Array) -> pa.Array:
    """``ABRpA`` -> ``ABRPRA``, ``AAC+`` -> ``AACWS`` (see SUFFIX_MARKERS); others unchanged."""
    for marker, letters in SUFFIX_MARKERS.items():
        symbols = pc.replace_substring(symbols, pattern=marker, replacement=letters)
    return symbols


def _has_data_lines(source: Source) -> bool:
    lines = [ln for ln in source.text.splitlines() if ln.strip()]
    return len(lines) > 1


def _parse(source: Source, options: ParseOptions, fmt: str, columns: dict[str, str]) -> Parsed:
    facility = facility_of(source, options, fmt)
    body, stated, trailer_line = _without_trailer(source)
    warnings: list[str] = []
    if stated is None and fmt == FINRA:
        warnings.append("no record-count line at the end (FINRA writes one); the file may be cut short")
    if stated == 0 and not _has_data_lines(body):
        # FINRA's ADF file on most days: a header and "0". A valid day with nothing to store.
        empty = build_table(SHORT_VOLUME, {}, 0)
        return Parsed(table=empty, format=fmt, warnings=tuple(warnings))
    if fmt == FINRA:
        fast = _fast_finra(body, stated)
        if fast is not None:
            n = len(fast["date"])
            return _finish({**fast, **_constant_columns(facility, fmt, n)}, n, fmt, warnings)
    raw = read_csv(body, "|")
    cols = {f: hit for f, name in columns.items() if (hit := raw.find(name)) is not None}
    absent = [columns[f] for f in _REQUIRED if f not in cols]
    if absent:
        raise raw.missing(absent)
    if stated is not None and stated != raw.n:
        raise source.error(
            f"the record-count line says {stated} rows but the file holds {raw.n}; "
            "the file is incomplete or was edited",
            line=trailer_line,
        )

    out: dict[str, pa.Array | list | None] = {}
    out["date"] = v.dates(raw, cols["date"], DATE_FORMAT, v.TRADE_DATES)
    v.require_values(raw, cols["date"], out["date"], "blank date")
    spelled = v.normalise_symbols(spell_out_suffixes(v.strings(raw, cols["symbol"])))
    out["symbol"] = v.plausible_symbols(raw, cols["symbol"], spelled)
    v.require_values(raw, cols["symbol"], out["symbol"], "blank symbol")
    volumes: dict[str, np.ndarray] = {}
    for f in ("short_volume", "short_exempt_volume", "total_volume"):
        if f in cols:
            volumes[f] = v.floats(raw, cols[f], nonnegative=True)
            out[f] = column = pa.array(volumes[f], mask=np.isnan(volumes[f]), type=pa.float64())
            if f != "short_exempt_volume":
                v.require_values(raw, cols[f], column, f"blank {f.replace('_', ' ')}")
    if "market" in cols:
        out["market"] = v.strings(raw, cols["market"])
    out.update(_constant_columns(facility, fmt, raw.n))

    above = volumes["short_volume"] > volumes["total_volume"]
    if above.any():
        # NYSE's old layout has such rows (21 in the 2009-2017 samples): kept as published.
        first = int(raw.lines[np.flatnonzero(above)[0]])
        warnings.append(
            f"{int(above.sum())} rows with short volume above total volume (first at line {first}); "
            "kept as published"
        )
    return _finish(out, raw.n, fmt, warnings)


def _constant_columns(facility: str, fmt: str, n: int) -> dict[str, pa.Array]:
    return {"facility": arrays.repeat(facility, n), "source_format": arrays.repeat(fmt, n)}


def _finish(out: dict[str, pa.Array | list | None], n: int, fmt: str, warnings: list[str]) -> Parsed:
    table = build_table(SHORT_VOLUME, out, n)
    table, dropped = dedupe(table, SHORT_VOLUME.key)
    if dropped:
        warnings.append(f"{dropped} duplicate (date, symbol) rows dropped; kept the last of each")
    return Parsed(table=table, format=fmt, warnings=tuple(warnings))


def _fast_finra(body: Source, stated: int | None) -> dict[str, pa.Array] | None:
    """A FINRA file's columns read straight from its bytes with Arrow, without pandas (whose
    import alone was a fifth of a one-day ingest), or None at the first doubt: the general path
    then reads it and names what is wrong.

    Taken only when the file is plainly valid: simple (``text.plain_pipe_cells``), every column of
    the layout, as many rows as the record-count line says, dates of 8 digits within
    the plausible years, volumes plain digits, no blank symbol, no symbol the store would refuse,
    no row with short volume above total. Cells are trimmed and converted by the same Arrow steps
    as the general path, so what is accepted here is the same table there.
    """
    cells = plain_pipe_cells(body, FINRA_COLUMNS)
    if cells is None or len(cells) != len(FINRA_COLUMNS):
        return None
    if stated is not None and stated != len(cells["date"]):
        return None
    return _fast_convert({f: pc.utf8_trim_whitespace(c) for f, c in cells.items()})


def _fast_convert(cells: dict[str, pa.Array]) -> dict[str, pa.Array] | None:
    out: dict[str, pa.Array] = {}
    day = cells["date"]
    width = pc.min_max(pc.utf8_length(day))  # (no Python value into a compute call: pandas, arrays.py)
    if not (pc.all(pc.ascii_is_decimal(day)).as_py() and width["min"].as_py() == width["max"].as_py() == 8):
        return None
    try:
        out["date"] = pc.cast(pc.strptime(day, format=DATE_FORMAT, unit="s"), pa.date32())
    except pa.ArrowInvalid:
        return None  # e.g. month 13: the general path names the line
    span = pc.min_max(out["date"])
    if not (v.TRADE_DATES.contains(span["min"].as_py()) and v.TRADE_DATES.contains(span["max"].as_py())):
        return None
    out["symbol"] = v.normalise_symbols(spell_out_suffixes(v.blank_to_null(cells["symbol"])))
    if out["symbol"].null_count or v.implausible_symbols(out["symbol"]).any():
        return None
    for f in ("short_volume", "short_exempt_volume", "total_volume"):
        if not pc.all(pc.ascii_is_decimal(cells[f])).as_py():
            return None  # blank, signed, fractional or not a number: the general path decides
        out[f] = pc.cast(cells[f], pa.float64())  # the general path's own cast of the same text
    if pc.any(pc.greater(out["short_volume"], out["total_volume"])).as_py():
        return None  # the general path's warning names the first such line
    out["market"] = v.blank_to_null(cells["market"])
    return out


def parse_finra(source: Source, options: ParseOptions) -> Parsed:
    return _parse(source, options, FINRA, FINRA_COLUMNS)


def parse_nyse(source: Source, options: ParseOptions) -> Parsed:
    return _parse(source, options, NYSE, NYSE_COLUMNS)


FORMATS = (
    FormatDef(
        FINRA,
        _is_finra,
        parse_finra,
        signature=tuple(FINRA_COLUMNS[f] for f in _REQUIRED),
        delimiter="|",
    ),
    FormatDef(
        NYSE,
        _is_nyse,
        parse_nyse,
        signature=tuple(NYSE_COLUMNS[f] for f in _REQUIRED),
        delimiter="|",
    ),
)
