"""SEC shares outstanding: XBRL frames and companyfacts JSON, joined to SEC's ticker map.

Three JSON layouts, as SEC serves them (data-sources.md §4.1):

- ``sec-frames``: ``/api/xbrl/frames/dei/EntityCommonStockSharesOutstanding/shares/CY2024Q4I.json``,
  one cover-page value per filer (``data[] = {accn, cik, entityName, loc, end, val}``), no filing date;
- ``sec-companyfacts``: ``/api/xbrl/companyfacts/CIK##########.json``, every value one issuer filed
  (``facts.dei.EntityCommonStockSharesOutstanding.units.shares[] = {end, val, accn, fy, fp, form,
  filed, frame}``), with its filing date;
- ``sec-tickers``: ``/files/company_tickers.json`` (``{"0": {cik_str, ticker, title}, ...}``), the
  CIK -> ticker map. Neither value file names a ticker, so both are read with the map: the one given
  by ``--tickers`` (``ParseOptions.tickers``), else a ``company_tickers.json`` beside the file (where
  ``fetch shares`` keeps it). The map ingested on its own holds no rows (a folder of raw SEC files
  can be ingested whole).

Tickers: the map lists a CIK's common share classes (GOOGL, GOOG), but also its preferreds
(BAC-PB), warrants, units and rights. Only common tickers get the issuer's value; ``share_classes``
records how many common tickers share the CIK. The dei value is issuer-wide (per-class counts are
dimensional facts, which frames and companyfacts leave out), so with ``share_classes`` > 1 it is not
any one class's count: it is stored as filed and quarantined where it is used (metrics).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from positioning_cli.errors import InputError
from positioning_cli.schema import SHARES_OUTSTANDING
from positioning_cli.symbols import normalise_symbol

from . import values as v
from .base import FormatDef, Parsed, ParseOptions, build_table, dedupe
from .text import Source, json_document, json_records, load

TAG = "EntityCommonStockSharesOutstanding"
TICKER_MAP = "company_tickers.json"
FRAMES, FACTS, TICKERS = "sec-frames", "sec-companyfacts", "sec-tickers"
# A map ticker that is not a common share class: preferred (BAC-PB), warrants (-WS, -WT), units
# (-U, -UN), rights (-R, -RT). SEC writes the class separator as "-".
_NOT_COMMON = re.compile(r"[-.](?:P[A-Z]?|WS|WT|W|U|UN|R|RT)$", re.IGNORECASE)


def ticker_map(source: Source) -> dict[int, tuple[str, ...]]:
    """CIK -> its common tickers, normalised (symbols.py), in the map's order, each once."""
    data = json_document(source)
    if not isinstance(data, dict) or not data:
        raise InputError(source.name, 'not SEC\'s ticker map (expected {"0": {cik_str, ticker, title}, ...})')
    out: dict[int, list[str]] = {}
    for key, rec in data.items():
        cik = rec.get("cik_str") if isinstance(rec, dict) else None
        ticker = rec.get("ticker") if isinstance(rec, dict) else None
        if isinstance(cik, str) and cik.isdigit():
            cik = int(cik)
        if (
            not isinstance(cik, int)
            or isinstance(cik, bool)
            or not isinstance(ticker, str)
            or not ticker.strip()
        ):
            raise InputError(f"{source.name}: record {key}", "expected cik_str (a number) and ticker")
        symbol = normalise_symbol(ticker)
        if _NOT_COMMON.search(ticker.strip()) or not symbol:
            continue
        held = out.setdefault(cik, [])
        if symbol not in held:
            held.append(symbol)
    return {cik: tuple(s) for cik, s in out.items()}


def _map_for(source: Source, options: ParseOptions) -> dict[int, tuple[str, ...]]:
    path = options.tickers or (source.path.parent / TICKER_MAP)
    if not Path(path).is_file():
        raise source.error(
            f"SEC's file names CIKs, not tickers: pass --tickers {TICKER_MAP} "
            "(https://www.sec.gov/files/company_tickers.json) or put it beside the file"
        )
    return ticker_map(load(Path(path)))


def _rows(
    source: Source,
    options: ParseOptions,
    records: list[dict[str, Any]],
    fmt: str,
    *,
    cik: int | None = None,
    name: str | None = None,
) -> Parsed:
    """Typed, checked rows for ``records`` (one per value), one row per common ticker of each CIK."""
    raw = json_records(source, records)
    cols = ("end", "val") if cik is not None else ("cik", "end", "val")
    raw.require(*cols)
    if cik is None:
        given = v.ints(raw, "cik")
        v.require_values(raw, "cik", given, "blank cik")
        ciks = np.asarray(given.to_numpy(zero_copy_only=False), dtype=np.int64)
    else:
        ciks = np.full(raw.n, cik, dtype=np.int64)
    end = v.dates(raw, "end", "%Y-%m-%d", v.XBRL_DATES, refuse=False)
    v.require_values(raw, "end", end, "blank end date")
    val = v.ints(raw, "val")
    v.require_values(raw, "val", val, "blank value")
    filed = (
        v.dates(raw, "filed", "%Y-%m-%d", v.XBRL_DATES, refuse=False)
        if raw.find("filed")
        else pa.nulls(raw.n, pa.date32())
    )
    # One filer's typo (a cover date in 2005 or 2208) must not cost every other filer its value:
    # values dated outside XBRL's years are left out, with a warning naming the first.
    outside = v.XBRL_DATES.outside(end) | v.XBRL_DATES.outside(filed)
    names = v.strings(raw, "entityName") if raw.find("entityName") else pa.array([name] * raw.n, pa.string())
    accn = v.strings(raw, "accn") if raw.find("accn") else pa.nulls(raw.n, pa.string())

    tickers = _map_for(source, options)
    take: list[int] = []
    symbols: list[str] = []
    classes: list[int] = []
    unmapped = set()
    for i, c in enumerate(ciks.tolist()):
        if outside[i]:
            continue
        held = tickers.get(int(c), ())
        if not held:
            unmapped.add(int(c))
        for s in held:
            take.append(i)
            symbols.append(s)
            classes.append(len(held))
    idx = pa.array(take, pa.int64())
    n = len(take)
    out: dict[str, pa.Array | list | None] = {
        "symbol": v.normalise_symbols(pa.array(symbols, pa.string())),
        "cik": pa.array(ciks[take] if n else [], pa.int64()),
        "period_end": end.take(idx),
        "filed": filed.take(idx),
        "shares": val.take(idx),
        "share_classes": pa.array(classes, pa.int64()),
        "entity_name": names.take(idx),
        "accn": accn.take(idx),
        "source_format": pa.array([fmt] * n, pa.string()),
    }
    table = build_table(SHARES_OUTSTANDING, out, n)
    if raw.find("filed"):  # several filings of one cover date (a 10-K/A): keep the latest filed
        table = table.take(pa.array(np.argsort(_days(table.column("filed")), kind="stable")))
    table, dropped = dedupe(table, SHARES_OUTSTANDING.key)
    warnings = []
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        bad = v.XBRL_DATES.outside(end)[row]
        first = raw.error(
            row,
            "end" if bad else "filed",
            v.XBRL_DATES.problem((end if bad else filed)[row].as_py().isoformat()),
        )
        warnings.append(
            f"{int(outside.sum())} value(s) dated outside SEC's XBRL years left out (first: {first.message})"
        )
    if unmapped:
        warnings.append(
            f"{len(unmapped)} CIK(s) not in the ticker map with a common-stock ticker (delisted, funds, "
            "preferred only): their values left out"
        )
    if dropped:
        warnings.append(
            f"{dropped} value(s) of an already-seen (symbol, end date) dropped; kept the latest filed"
        )
    multi = sorted({s for s, k in zip(symbols, classes, strict=True) if k > 1})
    if multi:
        warnings.append(
            f"{len(multi)} ticker(s) share one issuer-wide value with another share class "
            f"({', '.join(multi[:4])}{', ...' if len(multi) > 4 else ''}): stored, quarantined in scans"
        )
    return Parsed(table=table, format=fmt, warnings=tuple(warnings))


def _days(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Dates as day numbers with nulls first (for a stable sort by filing date)."""
    from positioning_cli import arrays

    days = arrays.days(column).astype("datetime64[D]").astype(np.int64)
    return np.where(arrays.valid(column), days, np.iinfo(np.int64).min)


def parse_frames(source: Source, options: ParseOptions) -> Parsed:
    data = json_document(source)
    if not isinstance(data, dict) or data.get("tag") != TAG:
        raise source.error(
            f"not an SEC frame of dei:{TAG} (tag {data.get('tag') if isinstance(data, dict) else None!r})"
        )
    if data.get("uom") != "shares":
        raise source.error(f"frame unit {data.get('uom')!r}, expected 'shares'")
    records = data.get("data")
    if not isinstance(records, list):
        raise source.error("frame without a data array")
    return _rows(source, options, records, FRAMES)


def parse_companyfacts(source: Source, options: ParseOptions) -> Parsed:
    data = json_document(source)
    cik = data.get("cik") if isinstance(data, dict) else None
    if isinstance(cik, str) and cik.isdigit():
        cik = int(cik)
    if not isinstance(cik, int) or isinstance(cik, bool) or not isinstance(data.get("facts"), dict):
        raise source.error("not SEC companyfacts (expected {cik, entityName, facts})")
    name = data.get("entityName") if isinstance(data.get("entityName"), str) else None
    fact = data["facts"].get("dei", {}).get(TAG) if isinstance(data["facts"].get("dei"), dict) else None
    units = fact.get("units", {}) if isinstance(fact, Mapping) else {}
    records = units.get("shares") if isinstance(units, Mapping) else None
    if not records:
        # Issuers that tag the cover page per share class have no undimensioned value (§4.1).
        empty = build_table(SHARES_OUTSTANDING, {}, 0)
        note = f"CIK {cik} ({name}): no undimensioned dei:{TAG} (multi-class issuers tag it per class)"
        return Parsed(table=empty, format=FACTS, warnings=(note,))
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise source.error(f"facts.dei.{TAG}.units.shares is not a list of objects")
    return _rows(source, options, records, FACTS, cik=cik, name=name)


def parse_tickers(source: Source, options: ParseOptions) -> Parsed:
    held = ticker_map(source)  # checked, so a broken map is named here and not by every value file
    empty = build_table(SHARES_OUTSTANDING, {}, 0)
    note = f"SEC ticker map ({len(held)} CIKs): read with the frames/companyfacts files, no rows of its own"
    return Parsed(table=empty, format=TICKERS, warnings=(note,))


def _head(source: Source) -> str:
    return source.text[:4000] if source.is_json else ""


FORMATS = (
    FormatDef(
        FRAMES,
        lambda s: f'"{TAG}"' in _head(s) and '"ccp"' in _head(s),
        parse_frames,
        signature=("tag", "ccp", "data"),
        delimiter="json",
    ),
    FormatDef(
        FACTS,
        lambda s: '"facts"' in _head(s) and '"cik"' in _head(s),
        parse_companyfacts,
        signature=("cik", "entityName", "facts"),
        delimiter="json",
    ),
    FormatDef(
        TICKERS,
        lambda s: '"cik_str"' in _head(s),
        parse_tickers,
        signature=("cik_str", "ticker", "title"),
        delimiter="json",
    ),
)
