"""Leveraged-fund net assets: a CSV with ``fund,date,aum`` (and, for a fund outside the shipped
list, ``leverage`` and ``index``). Columns are matched by name, case-insensitively; ``assets`` or
``net_assets`` may stand for ``aum`` and ``symbol`` or ``ticker`` for ``fund``."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from positioning_cli.letf import FUNDS_BY_NAME
from positioning_cli.schema import FUNDS, INDICES

from . import values as v
from .base import FormatDef, Parsed, ParseOptions, build_table, dedupe
from .text import Source, canonical, read_csv

FORMAT = "fund-assets"
COLUMNS = {
    "fund": ("fund", "symbol", "ticker"),
    "date": ("date",),
    "aum": ("aum", "assets", "net_assets"),
    "leverage": ("leverage",),
    "index": ("index",),
}


def _sniff(source: Source) -> bool:
    found = source.header_names(",")
    names = {canonical(n) for n in found[0][1]} if found and not source.is_json else set()
    return all(any(a in names for a in COLUMNS[f]) for f in ("fund", "date", "aum"))


def parse_funds(source: Source, options: ParseOptions) -> Parsed:
    raw = read_csv(source, ",")
    cols = {f: hit for f, names in COLUMNS.items() if (hit := raw.find(*names)) is not None}
    absent = [COLUMNS[f][0] for f in ("fund", "date", "aum") if f not in cols]
    if absent:
        raise raw.missing(absent)
    out: dict[str, pa.Array | list | None] = {}
    out["fund"] = fund = v.symbols(raw, cols["fund"])
    v.require_values(raw, cols["fund"], fund, "blank fund")
    out["date"] = v.dates(raw, cols["date"], "%Y-%m-%d", v.FUND_DATES)
    v.require_values(raw, cols["date"], out["date"], "blank date")
    aum = v.floats(raw, cols["aum"], nonnegative=True)
    out["aum"] = pa.array(aum, mask=np.isnan(aum), type=pa.float64())
    v.require_values(raw, cols["aum"], out["aum"], "blank assets")
    leverage = v.floats(raw, cols["leverage"]) if "leverage" in cols else np.full(raw.n, np.nan)
    out["leverage"] = pa.array(leverage, mask=np.isnan(leverage), type=pa.float64())
    index = v.strings(raw, cols["index"]) if "index" in cols else pa.nulls(raw.n, pa.string())
    out["index"] = index
    # A fund needs a leverage and an index: from the file, else from the shipped list.
    for row, (name, lev, idx) in enumerate(
        zip(fund.to_pylist(), leverage.tolist(), index.to_pylist(), strict=True)
    ):
        known = FUNDS_BY_NAME.get(name)
        if (np.isnan(lev) or idx is None) and known is None:
            raise raw.error(
                row,
                cols["fund"],
                f"fund {name!r} is not in the shipped list; give its leverage and index columns",
            )
        if idx is not None and idx.upper() not in INDICES:
            raise raw.error(row, cols["index"], f"index {idx!r} is not one of {', '.join(INDICES)}")
        if not np.isnan(lev) and lev in (0.0, 1.0):
            raise raw.error(
                row, cols["leverage"], f"leverage {lev:g} does not rebalance; expected e.g. 2, 3, -2, -3"
            )
    out["source_format"] = pa.array([FORMAT] * raw.n, type=pa.string())
    table = build_table(FUNDS, out, raw.n)
    table, dropped = dedupe(table, FUNDS.key)
    warnings = (f"{dropped} duplicate (fund, date) rows dropped; kept the last of each",) if dropped else ()
    return Parsed(table=table, format=FORMAT, warnings=warnings)


FORMATS = (FormatDef(FORMAT, _sniff, parse_funds, signature=("fund", "date", "aum")),)
