"""CFTC Traders in Financial Futures (TFF): the annual files ``FinFutYY.txt`` and ``FinComYY.txt``,
and the same report as CFTC's Public Reporting Environment (PRE, Socrata) serves it as JSON.

One format, "cftc-tff", for both: the futures-only and the futures-and-options-combined files share
the header, and the last column (``FutOnly_or_Combined``) says which a row is. Columns are read by
header name. Every row is kept (every market, consolidated ``+`` codes included, each under its own
code): the store holds the file, the analysis (``futures.py``) picks contracts by code.

Quirks handled (PROVENANCE.md section 8): quoted names, space-padded numbers, ``.`` for a blank
cell, CRLF or LF, rows newest first, Monday report dates in holiday weeks, the 2006-2016 bundle's ``MM/DD/YYYY 12:00:00 AM`` dates, trailing spaces in quoted
code fields (``"CME "``), codes with leading zeros (``090741``, kept as text). A ``.zip`` as CFTC
publishes it is unzipped by ``text.load``.

PRE JSON ("cftc-pre-json", datasets ``gpe5-46if`` futures only and ``yw9f-hn96`` combined) is an array of
records whose fields are the annual file's header names in lower case, numbers as strings and the report
date as a timestamp (``2024-01-02T00:00:00.000``). PRE drops the ``_all`` suffix on some fields
(``lev_money_positions_long``) and keeps it on others, so every field is looked up with and without it
(``_spellings``); both formats then go through one column mapping and one set of value checks.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from positioning_cli.schema import COT

from . import values as v
from .base import FormatDef, Parsed, ParseOptions, build_table, dedupe
from .text import RawTable, Source, read_csv, read_json_records

FORMAT = "cftc-tff"
PRE_FORMAT = "cftc-pre-json"
WEEK_FORMAT = "cftc-tff-week"
# The current-week files CFTC names FinFutWk.txt (futures only) and FinComWk.txt (combined).
WEEK_FILE_NAMES = ("finfutwk", "fincomwk")

# Store field -> accepted header names (first found wins).
DATE_COLUMNS = ("Report_Date_as_YYYY-MM-DD", "Report_Date_as_YYYY_MM_DD")
BUNDLE_DATE = "%m/%d/%Y %I:%M:%S %p"
PRE_DATE = "%Y-%m-%dT%H:%M:%S.%f"  # Socrata's floating timestamp
YYMMDD_COLUMN = "As_of_Date_In_Form_YYMMDD"  # fallback when a file lacks the ISO date
CODE = "CFTC_Contract_Market_Code"
NAME = "Market_and_Exchange_Names"
KIND = "FutOnly_or_Combined"
OPEN_INTEREST = "Open_Interest_All"
POSITIONS = {
    "dealer_long": ("Dealer_Positions_Long_All",),
    "dealer_short": ("Dealer_Positions_Short_All",),
    "asset_mgr_long": ("Asset_Mgr_Positions_Long_All",),
    "asset_mgr_short": ("Asset_Mgr_Positions_Short_All", "Asset_Mgr_Positions_Short"),
    "lev_money_long": ("Lev_Money_Positions_Long_All",),
    "lev_money_short": ("Lev_Money_Positions_Short_All", "Lev_Money_Positions_Short"),
    "other_rept_long": ("Other_Rept_Positions_Long_All",),
    "other_rept_short": ("Other_Rept_Positions_Short_All", "Other_Rept_Positions_Short"),
    "nonrept_long": ("NonRept_Positions_Long_All",),
    "nonrept_short": ("NonRept_Positions_Short_All",),
}
# The annual files' header line, column by column (every annual file since 2017 and the 2006-2016
# bundle carry it). The current-week files have the same fields and no header: this names them.
TFF_HEADER = (
    "Market_and_Exchange_Names",
    "As_of_Date_In_Form_YYMMDD",
    "Report_Date_as_YYYY-MM-DD",
    "CFTC_Contract_Market_Code",
    "CFTC_Market_Code",
    "CFTC_Region_Code",
    "CFTC_Commodity_Code",
    "Open_Interest_All",
    "Dealer_Positions_Long_All",
    "Dealer_Positions_Short_All",
    "Dealer_Positions_Spread_All",
    "Asset_Mgr_Positions_Long_All",
    "Asset_Mgr_Positions_Short_All",
    "Asset_Mgr_Positions_Spread_All",
    "Lev_Money_Positions_Long_All",
    "Lev_Money_Positions_Short_All",
    "Lev_Money_Positions_Spread_All",
    "Other_Rept_Positions_Long_All",
    "Other_Rept_Positions_Short_All",
    "Other_Rept_Positions_Spread_All",
    "Tot_Rept_Positions_Long_All",
    "Tot_Rept_Positions_Short_All",
    "NonRept_Positions_Long_All",
    "NonRept_Positions_Short_All",
    "Change_in_Open_Interest_All",
    "Change_in_Dealer_Long_All",
    "Change_in_Dealer_Short_All",
    "Change_in_Dealer_Spread_All",
    "Change_in_Asset_Mgr_Long_All",
    "Change_in_Asset_Mgr_Short_All",
    "Change_in_Asset_Mgr_Spread_All",
    "Change_in_Lev_Money_Long_All",
    "Change_in_Lev_Money_Short_All",
    "Change_in_Lev_Money_Spread_All",
    "Change_in_Other_Rept_Long_All",
    "Change_in_Other_Rept_Short_All",
    "Change_in_Other_Rept_Spread_All",
    "Change_in_Tot_Rept_Long_All",
    "Change_in_Tot_Rept_Short_All",
    "Change_in_NonRept_Long_All",
    "Change_in_NonRept_Short_All",
    "Pct_of_Open_Interest_All",
    "Pct_of_OI_Dealer_Long_All",
    "Pct_of_OI_Dealer_Short_All",
    "Pct_of_OI_Dealer_Spread_All",
    "Pct_of_OI_Asset_Mgr_Long_All",
    "Pct_of_OI_Asset_Mgr_Short_All",
    "Pct_of_OI_Asset_Mgr_Spread_All",
    "Pct_of_OI_Lev_Money_Long_All",
    "Pct_of_OI_Lev_Money_Short_All",
    "Pct_of_OI_Lev_Money_Spread_All",
    "Pct_of_OI_Other_Rept_Long_All",
    "Pct_of_OI_Other_Rept_Short_All",
    "Pct_of_OI_Other_Rept_Spread_All",
    "Pct_of_OI_Tot_Rept_Long_All",
    "Pct_of_OI_Tot_Rept_Short_All",
    "Pct_of_OI_NonRept_Long_All",
    "Pct_of_OI_NonRept_Short_All",
    "Traders_Tot_All",
    "Traders_Dealer_Long_All",
    "Traders_Dealer_Short_All",
    "Traders_Dealer_Spread_All",
    "Traders_Asset_Mgr_Long_All",
    "Traders_Asset_Mgr_Short_All",
    "Traders_Asset_Mgr_Spread_All",
    "Traders_Lev_Money_Long_All",
    "Traders_Lev_Money_Short_All",
    "Traders_Lev_Money_Spread_All",
    "Traders_Other_Rept_Long_All",
    "Traders_Other_Rept_Short_All",
    "Traders_Other_Rept_Spread_All",
    "Traders_Tot_Rept_Long_All",
    "Traders_Tot_Rept_Short_All",
    "Conc_Gross_LE_4_TDR_Long_All",
    "Conc_Gross_LE_4_TDR_Short_All",
    "Conc_Gross_LE_8_TDR_Long_All",
    "Conc_Gross_LE_8_TDR_Short_All",
    "Conc_Net_LE_4_TDR_Long_All",
    "Conc_Net_LE_4_TDR_Short_All",
    "Conc_Net_LE_8_TDR_Long_All",
    "Conc_Net_LE_8_TDR_Short_All",
    "Contract_Units",
    "CFTC_Contract_Market_Code_Quotes",
    "CFTC_Market_Code_Quotes",
    "CFTC_Commodity_Code_Quotes",
    "CFTC_SubGroup_Code",
    "FutOnly_or_Combined",
)
SIGNATURE = (CODE, OPEN_INTEREST, "Lev_Money_Positions_Long_All", KIND)
_KIND_VALUES = {"futonly": True, "combined": False}
_CFTC_BLANK = "."  # CFTC's placeholder for a suppressed or empty cell


def _spellings(*names: str) -> tuple[str, ...]:
    """Each header name as the annual file spells it, then without (or with) its ``_All`` suffix, as
    PRE spells some fields; matching ignores case (``RawTable.find``)."""
    out: list[str] = []
    for name in names:
        out += [name, name[: -len("_All")] if name.lower().endswith("_all") else f"{name}_All"]
    return tuple(dict.fromkeys(out))


def _sniff_pre(source: Source) -> bool:
    if not source.is_json:
        return False
    head = source.text[:4000].lower()
    return CODE.lower() in head and any(n.lower() in head for n in (*DATE_COLUMNS, YYMMDD_COLUMN))


def _sniff(source: Source) -> bool:
    if source.is_json:
        return False
    found = source.header_names(",")
    names = set(found[0][1]) if found else set()
    return all(n.lower() in names for n in (CODE, OPEN_INTEREST, "Lev_Money_Positions_Long_All"))


def _week_named(source: Source) -> bool:
    """A file named as CFTC names its current-week files (``FinFutWk.txt``, ``FinComWk.txt``)."""
    stem = source.name.replace("\\", "/").rsplit("/", 1)[-1].split(".", 1)[0].lower()
    return stem in WEEK_FILE_NAMES


def _sniff_week(source: Source) -> bool:
    """A current-week file: by its CFTC name, or headerless rows of the annual header's width whose
    second and third fields are the YYMMDD and ISO report dates."""
    if source.is_json:
        return False
    if _week_named(source):
        return True
    found = source.header_names(",")
    first = found[0][1] if found else []
    return (
        len(first) == len(TFF_HEADER)
        and len(first[1]) == 6
        and first[1].isdigit()
        and len(first[2]) == 10
        and first[2][4] == first[2][7] == "-"
        and first[2].replace("-", "").isdigit()
    )


def _dots_blank(raw: RawTable, column: str) -> None:
    """CFTC writes ``.`` for a blank cell: make it an empty string so the converters see a null."""
    s = raw.columns[column]
    raw.columns[column] = s.where(s != _CFTC_BLANK, "")


def _report_dates(raw: RawTable) -> tuple[pa.Array, str]:
    iso = raw.find(*DATE_COLUMNS)
    if iso is not None:
        # CFTC's 2006-2016 bundle writes "06/13/2006 12:00:00 AM" under the ISO-named header.
        first = next((x for x in raw.columns[iso].head(50) if str(x).strip()), "")
        fmt = BUNDLE_DATE if "/" in str(first) else PRE_DATE if "T" in str(first) else "%Y-%m-%d"
        return v.dates(raw, iso, fmt, v.REPORT_DATES), iso
    short = raw.find(YYMMDD_COLUMN)
    if short is None:
        raise raw.missing([DATE_COLUMNS[0]])
    return v.dates(raw, short, "%y%m%d", v.REPORT_DATES), short


def _futures_only(raw: RawTable) -> np.ndarray:
    column = raw.find(KIND)
    if column is None:
        raise raw.missing([KIND])
    text = raw.columns[column].str.lower()
    known = text.isin(list(_KIND_VALUES)).to_numpy(dtype=bool)
    if not known.all():
        row = int(np.flatnonzero(~known)[0])
        value = raw.columns[column].iloc[row]
        raise raw.error(row, column, f"expected FutOnly or Combined, got {value!r}")
    return (text == "futonly").to_numpy(dtype=bool)


def parse_tff(source: Source, options: ParseOptions) -> Parsed:
    return _parse(read_csv(source, ","), FORMAT)


def parse_week(source: Source, options: ParseOptions) -> Parsed:
    """A current-week file: the annual header applied by position (a file that has a header line
    after all is read by it, as an annual file)."""
    if _sniff(source):
        return _parse(read_csv(source, ","), WEEK_FORMAT)
    return _parse(read_csv(source, ",", names=TFF_HEADER), WEEK_FORMAT)


def parse_pre(source: Source, options: ParseOptions) -> Parsed:
    return _parse(read_json_records(source), PRE_FORMAT)


def _parse(raw: RawTable, fmt: str) -> Parsed:
    """The annual file's columns or PRE's fields (the same names), checked and typed."""
    raw.require(CODE, NAME)
    if raw.find(*_spellings(OPEN_INTEREST)) is None:
        raise raw.missing([OPEN_INTEREST])
    cols = {}
    for field, names in POSITIONS.items():
        hit = raw.find(*_spellings(*names))
        if hit is None:
            raise raw.missing([names[0]])
        cols[field] = hit

    out: dict[str, pa.Array | list | None] = {}
    out["report_date"], date_col = _report_dates(raw)
    v.require_values(raw, date_col, out["report_date"], "blank report date")
    code_col = raw.find(CODE)
    assert code_col is not None
    out["contract_code"] = v.strings(raw, code_col)  # trimmed: "13874A", leading zeros kept
    v.require_values(raw, code_col, out["contract_code"], "blank contract code")
    name_col = raw.find(NAME)
    assert name_col is not None
    out["market_name"] = v.strings(raw, name_col)
    out["futures_only"] = pa.array(_futures_only(raw), type=pa.bool_())

    oi_col = raw.find(*_spellings(OPEN_INTEREST))
    assert oi_col is not None
    for column in (oi_col, *cols.values()):
        _dots_blank(raw, column)
    out["open_interest"] = v.ints(raw, oi_col)
    v.require_values(raw, oi_col, out["open_interest"], "blank open interest")
    for field, column in cols.items():
        out[field] = v.ints(raw, column)
    out["source_format"] = pa.array([fmt] * raw.n, type=pa.string())

    warnings: list[str] = []
    full = build_table(COT, out, raw.n)
    table, dropped = dedupe(full, COT.key)
    if dropped:
        keys = full.select(list(COT.key)).to_pandas()
        first = int(raw.lines[np.flatnonzero(keys.duplicated(keep="last").to_numpy())[0]])
        warnings.append(
            f"{dropped} duplicate (report date, contract code, futures-only) rows dropped, "
            f"first at {raw.unit} {first}; kept the last of each"
        )
    return Parsed(table=table, format=fmt, warnings=tuple(warnings))


FORMATS = (
    FormatDef(FORMAT, _sniff, parse_tff, signature=SIGNATURE),
    FormatDef(WEEK_FORMAT, _sniff_week, parse_week),
    FormatDef(
        PRE_FORMAT,
        _sniff_pre,
        parse_pre,
        signature=tuple(n.lower() for n in SIGNATURE),
        delimiter="json",
    ),
)
