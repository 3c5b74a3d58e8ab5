"""Short-interest parsers: FINRA pipe file, FINRA API JSON/CSV, FINRA web export, mapped CSV.

All formats reduce to one step: name which source column feeds which store field, then
``_assemble`` converts, validates and fills the derived fields the same way for every source.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from positioning_cli.schema import SHORT_INTEREST

from . import values as v
from .base import FormatDef, Parsed, ParseOptions, build_table, dedupe
from .text import RawTable, Source, canonical, guess_delimiter, read_csv, read_json_records

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

    out: dict[str, pa.Array | list | None] = {}
    out["settlement_date"] = v.dates(raw, cols["settlement_date"], date_format)
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
        out[f] = v.flags(raw, cols[f]) if f in cols else np.zeros(raw.n, dtype=bool)

    dtc = (
        v.floats(raw, cols["days_to_cover"], nonnegative=True)
        if "days_to_cover" in cols
        else np.full(raw.n, np.nan)
    )
    dtc[dtc == NO_VOLUME_DTC] = np.nan
    if "avg_daily_volume" in cols:
        # FINRA's rule where the source gives none: SI / ADV, floor 1.00, undefined without volume.
        adv = out["avg_daily_volume"].to_numpy(zero_copy_only=False).astype(np.float64)  # type: ignore[union-attr]
        si_f = si.to_numpy(zero_copy_only=False).astype(np.float64)
        fill = np.isnan(dtc) & (adv > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            computed = np.round(np.maximum(1.0, si_f / adv), 2)
        dtc = np.where(fill, computed, dtc)
    out["days_to_cover"] = pa.array(dtc, mask=np.isnan(dtc), type=pa.float64())
    out["source_format"] = pa.array([fmt] * raw.n, type=pa.string())

    table = build_table(SHORT_INTEREST, out, raw.n)
    table, dropped = dedupe(table, SHORT_INTEREST.key, prefer="revision_flag")
    if dropped:
        warnings.append(
            f"{dropped} duplicate (settlement date, symbol) rows dropped; "
            "kept the revision-flagged row, else the last one"
        )
    return Parsed(table=table, format=fmt, warnings=tuple(warnings))


def parse_finra_pipe(source: Source, options: ParseOptions) -> Parsed:
    raw = read_csv(source, "|")
    return _assemble(raw, "finra-pipe", _resolve(raw, FINRA_FIELDS), date_format=ISO)


def parse_finra_api_csv(source: Source, options: ParseOptions) -> Parsed:
    raw = read_csv(source, ",")
    return _assemble(raw, "finra-api-csv", _resolve(raw, FINRA_FIELDS), date_format=ISO)


def parse_finra_api_json(source: Source, options: ParseOptions) -> Parsed:
    raw = read_json_records(source)
    return _assemble(raw, "finra-api-json", _resolve(raw, FINRA_FIELDS), date_format=ISO)


def parse_finra_web(source: Source, options: ParseOptions) -> Parsed:
    raw = read_csv(source, ",")
    return _assemble(raw, "finra-web", _resolve(raw, WEB_FIELDS), date_format="%d-%m-%Y")


def parse_mapped(source: Source, options: ParseOptions) -> Parsed:
    """Any delimited file through --map FIELD=COLUMN; incomplete rows are skipped with a count."""
    mapping = dict(options.mapping)
    unknown = sorted(set(mapping) - set(MAPPABLE))
    if unknown:
        raise source.error(f"unknown mapping field(s) {', '.join(unknown)}; known: {', '.join(MAPPABLE)}")
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
