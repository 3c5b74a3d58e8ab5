"""Index levels kept between runs: ``STORE/.cache/levels.parquet``.

``scan`` and ``summary`` rank each index's latest level against its own history, which needs the
level (median SI %, totals, days to cover...) of every settlement date held. A date's level
depends only on that date's short-interest file, the membership snapshots and the stock closes
(metrics.index_levels), so each cached row carries a fingerprint of exactly those inputs: the
SHA-256 of the date's partition file and of every members and prices file (from the manifest),
the price-proxy symbols excluded from the stock closes, and ``VERSION``. A row is used only when
its fingerprint matches the store as it is now; everything else is computed again and the cache
rewritten. So after ingesting one new FINRA file the next scan computes one date, and after a
membership or price ingest it recomputes them all once.

The cache is derived data, outside the manifest and never read by other engines; deleting it
is always safe. Writing it is best effort (a read-only store is scanned without one).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from positioning_cli.levels import LEVEL_COLUMNS, LEVEL_DTYPES, Levels

CACHE_DIR = ".cache"
LEVELS_FILE = "levels.parquet"
# Bump whenever metrics.index_levels (or what it is given) changes what a level means.
VERSION = "levels-2"
FINGERPRINT = "fingerprint"


def partition_date(rel: str) -> date:
    """The settlement date of a short-interest partition file ("year=YYYY/part-YYYYMMDD.parquet")."""
    stem = rel.rsplit("/", 1)[-1].removeprefix("part-").removesuffix(".parquet")
    return date(int(stem[:4]), int(stem[4:6]), int(stem[6:8]))


def fingerprints(manifest: dict[str, Any], proxies: Iterable[str]) -> dict[date, str]:
    """Per settlement date held: a digest of every input its index levels depend on."""
    tables = manifest["tables"]
    shared = json.dumps(
        [
            VERSION,
            sorted(proxies),
            sorted((rel, e["sha256"]) for rel, e in tables["members"]["files"].items()),
            sorted((rel, e["sha256"]) for rel, e in tables["prices"]["files"].items()),
        ]
    )
    return {
        partition_date(rel): hashlib.sha256(f"{shared}|{e['sha256']}".encode()).hexdigest()[:32]
        for rel, e in tables["short_interest"]["files"].items()
        if int(e["rows"])  # emptied by `store forget`: no date held
    }


def path(store_root: Path) -> Path:
    return Path(store_root) / CACHE_DIR / LEVELS_FILE


def load(store_root: Path, wanted: dict[date, str]) -> dict[str, Levels]:
    """Cached levels per index whose fingerprint matches ``wanted``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from positioning_cli import arrays

    file = path(store_root)
    if not file.is_file() or file.is_symlink():
        return {}
    try:
        table = pq.ParquetFile(file).read()
    except (OSError, pa.ArrowException):
        return {}  # unreadable: recomputed and rewritten
    expected = {"index": pa.string(), "settlement_date": pa.date32(), FINGERPRINT: pa.string()}
    expected |= {c: _arrow_type(t) for c, t in LEVEL_DTYPES.items()}
    if any(
        table.schema.get_field_index(c) < 0 or table.schema.field(c).type != t for c, t in expected.items()
    ):
        return {}  # another layout (an older version): recomputed and rewritten
    settled = arrays.days(table.column("settlement_date"))
    ok = np.array(
        [
            wanted.get(d) == fp
            for d, fp in zip(settled.astype(object), table.column(FINGERPRINT).to_pylist(), strict=True)
        ],
        dtype=bool,
    )
    values = {c: _from_arrow(table.column(c), LEVEL_DTYPES[c]) for c in LEVEL_COLUMNS}
    index = np.array(table.column("index").to_pylist(), dtype=object)
    out = {}
    for idx in dict.fromkeys(index[ok].tolist()):
        rows = np.flatnonzero(ok & (index == idx))
        rows = rows[np.argsort(settled[rows], kind="stable")]
        out[str(idx)] = Levels(settled[rows], {c: v[rows] for c, v in values.items()})
    return out


def save(store_root: Path, levels: dict[str, Levels], wanted: dict[date, str]) -> None:
    """Replace the cache with ``levels`` (atomic rename; silently skipped when it cannot be written)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from positioning_cli import arrays

    names = [idx for idx, lv in levels.items() for _ in range(len(lv))]
    if not names:
        return
    settled = np.concatenate([lv.days for lv in levels.values()])
    columns = {
        "index": arrays.strings(names),
        "settlement_date": _to_arrow(settled, "datetime64[D]"),
        **{
            c: _to_arrow(np.concatenate([lv[c] for lv in levels.values()]), LEVEL_DTYPES[c])
            for c in LEVEL_COLUMNS
        },
        FINGERPRINT: arrays.strings([wanted.get(d, "") for d in settled.astype(object)]),
    }
    folder = Path(store_root) / CACHE_DIR
    tmp = folder / f".{uuid.uuid4().hex}.tmp"
    try:
        if folder.is_symlink():
            return
        folder.mkdir(exist_ok=True)
        pq.write_table(pa.table(columns), tmp)
        os.replace(tmp, path(store_root))
    except (OSError, pa.ArrowException):
        with contextlib.suppress(OSError):
            tmp.unlink()


def _arrow_type(dtype: str) -> Any:
    import pyarrow as pa

    return {"int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_(), "datetime64[D]": pa.date32()}[
        dtype
    ]


def _from_arrow(column: Any, dtype: str) -> np.ndarray:
    from positioning_cli import arrays

    if dtype == "datetime64[D]":
        return arrays.days(column)
    if dtype == "float64":
        return arrays.floats(column)
    return arrays.to_numpy(column)


def _to_arrow(values: np.ndarray, dtype: str) -> Any:
    import pyarrow as pa

    from positioning_cli import arrays

    if dtype == "datetime64[D]":
        data = np.ascontiguousarray(values.astype("datetime64[D]").astype(np.int32))
        return pa.Array.from_buffers(pa.date32(), len(data), [None, pa.py_buffer(data)])
    if dtype == "float64":
        return arrays.from_numpy(values.astype(np.float64), np.isnan(values))
    return arrays.from_numpy(values.astype(dtype))
