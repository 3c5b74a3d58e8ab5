"""Types shared by every format parser: options, result, format registry entries, table assembly.

Kept apart from ``__init__`` so the per-format modules can import them without a cycle.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

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


@dataclass(frozen=True)
class Parsed:
    table: pa.Table  # exactly spec.parsed_schema
    format: str  # detected (or forced) format name
    warnings: tuple[str, ...]  # one-line notes for the user


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
    if table.num_rows == 0:
        return table, 0
    frame = pd.DataFrame({k: table.column(k).to_pandas() for k in key})
    if not frame.duplicated(keep=False).any():
        return table, 0
    frame["_order"] = range(table.num_rows)
    sort_by = list(key)
    if prefer is not None:
        # A stable sort puts preferred rows after unpreferred ones, then "last" wins.
        frame["_prefer"] = table.column(prefer).to_pandas().fillna(False).astype(bool)
        sort_by.append("_prefer")
    sort_by.append("_order")
    frame = frame.sort_values(sort_by, kind="stable")
    keep = frame.drop_duplicates(list(key), keep="last")["_order"].sort_values()
    return table.take(pa.array(keep.to_numpy())), table.num_rows - len(keep)
