"""Types shared by every format parser: options, result, format registry entries, table assembly.

Kept apart from ``__init__`` so the per-format modules can import them without a cycle.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from positioning_cli import arrays
from positioning_cli.schema import TableSpec

from .text import Source


@dataclass(frozen=True)
class ParseOptions:
    format: str | None = None  # override auto-detection, one of FORMATS[kind]
    mapping: Mapping[str, str] = field(default_factory=dict)  # store FIELD -> source COLUMN
    date_format: str | None = None  # strftime codes for mapped/generic CSV dates, e.g. "%m/%d/%y"
    symbol: str | None = None  # prices: symbol for the file (else from the file name)
    index: str | None = None  # members: RUT|NDX|SPX (else from the file)
    as_of: datetime.date | None = None  # members: as-of date when the file has none
    facility: str | None = None  # short volume: CNMS, FNSQ, NYSE, ... (else from the file name)
    tickers: Path | None = None  # shares: SEC's company_tickers.json (else the one beside the file)
    interval: str | None = None  # bars: "1h", "30m", ... (else inferred from the timestamps)
    tz: str | None = None  # bars: zone of timestamps written without a UTC offset


@dataclass(frozen=True)
class Parsed:
    table: pa.Table  # exactly spec.parsed_schema
    format: str  # detected (or forced) format name
    warnings: tuple[str, ...]  # one-line notes for the user
    # Columns the source does not carry (all null in ``table``): the store keeps what another
    # source gave there. ``absent_columns`` computes it.
    absent: frozenset[str] = frozenset()
    # The file is the whole of each snapshot it holds (a FINRA file: its settlement date; a members
    # file: an index on an as-of date): rows the store holds for those and the file lacks are removed.
    snapshot: bool = False
    sha256: str = ""  # of a pipe's bytes as read (set by ``parse_file``; "" for a regular file)
    # Values for held rows of other dates (``store.SourceBatch.restates``): FINRA's R rows'
    # corrected previous-cycle figures. None: the file restates nothing.
    restates: pa.Table | None = None


@dataclass(frozen=True)
class FormatDef:
    """One accepted input format of one kind."""

    name: str
    # True when the header identifies this format. None: never auto-detected (needs --format/--map).
    sniff: Callable[[Source], bool] | None
    parse: Callable[[Source, ParseOptions], Parsed]
    # Header names that identify the format; only used to explain a failed detection.
    signature: tuple[str, ...] = ()
    delimiter: str = ","  # how its header is split ("json" for JSON formats); for error hints


def absent_columns(spec: TableSpec, columns: Mapping[str, object]) -> frozenset[str]:
    """The parsed columns ``columns`` (what a parser fills) does not give."""
    return frozenset(f.name for f in spec.parsed_schema if columns.get(f.name) is None)


def build_table(spec: TableSpec, columns: Mapping[str, pa.Array | list | None], n: int) -> pa.Table:
    """Assemble ``spec.parsed_schema`` exactly: missing columns become all-null, every column cast."""
    schema = spec.parsed_schema
    arrays = []
    for f in schema:
        values = columns.get(f.name)
        if values is None:
            arrays.append(pa.nulls(n, type=f.type))
        elif isinstance(values, pa.Array | pa.ChunkedArray):
            arrays.append(values.cast(f.type))
        else:
            arrays.append(pa.array(values, type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def dedupe(table: pa.Table, key: tuple[str, ...], *, prefer: str | None = None) -> tuple[pa.Table, int]:
    """Keep one row per key: the last occurrence, or the last with ``prefer`` True when given.

    Returns the table (original row order kept) and how many rows were dropped.
    """
    n = table.num_rows
    if n == 0:
        return table, 0
    # One dense code per distinct key (nulls equal to each other), built column by column and
    # renumbered after each so it stays below n. Numpy and Arrow only: no pandas on the fast path.
    group = np.zeros(n, dtype=np.int64)
    for k in key:
        codes = pc.dictionary_encode(table.column(k).combine_chunks(), null_encoding="encode")
        combined = group * len(codes.dictionary) + arrays.to_numpy(codes.indices)
        group = np.unique(combined, return_inverse=True)[1].reshape(-1)
    if group.max() + 1 == n:
        return table, 0
    # The row kept per key is the one with the highest rank: preferred rows first, then the last.
    rank = np.arange(n, dtype=np.int64)
    if prefer is not None:
        column = table.column(prefer)
        rank += n * (arrays.to_numpy(column) & arrays.valid(column))
    by_group = np.lexsort((rank, group))
    last = np.append(group[by_group][1:] != group[by_group][:-1], True)
    keep = np.sort(by_group[last])
    return table.take(arrays.from_numpy(keep)), n - len(keep)
