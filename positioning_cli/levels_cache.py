"""Index levels kept between runs: ``STORE/.cache/levels.parquet``.

``scan`` and ``summary`` rank each index's latest level against its own history, which needs the
level (median SI %, totals, days to cover...) of every settlement date held. A date's level
depends only on that date's short-interest file, the membership snapshots, the stock closes and
the SEC shares outstanding (analytics/sql/levels.sql, run by analytics/engine.py), so each cached row carries a fingerprint of exactly those inputs: the
SHA-256 of the date's partition file and of every members, prices and SEC shares-outstanding file
(from the manifest),
the price-proxy symbols excluded from the stock closes, and the digest of the definitions that
compute a level (``definitions_digest``: the text of the SQL files ``DEFINITION_SQL``, the source
of ``DEFINITION_MODULES`` and the package version). A row is used only when its fingerprint matches the store and the code as they are now;
everything else is computed again and the cache rewritten. So after ingesting one new FINRA file
the next scan computes one date, after a membership or price ingest it recomputes them all once,
and after any edit to a definition (``median_of`` to ``avg`` in levels.sql, say) it recomputes them
all: there is no version string for a developer to forget to bump.

The cache is derived data, outside the manifest and never read by other engines; deleting it
is always safe. Writing it is best effort (a read-only store is scanned without one). A cache that
is a symbolic link, lives in a linked folder, cannot be read, or was not written by this module (no
``positioning_levels_cache`` key in its Parquet metadata, or another layout) is never trusted: it
is ignored with one note on stderr and rebuilt.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import sys
import uuid
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from positioning_cli.analytics.engine import LEVEL_SQL
from positioning_cli.levels import LEVEL_COLUMNS, LEVEL_DTYPES, Levels

CACHE_DIR = ".cache"
LEVELS_FILE = "levels.parquet"
FINGERPRINT = "fingerprint"
# Parquet key-value metadata naming the file as ours (value: the definitions digest it was built by).
MARKER = b"positioning_levels_cache"
# Every SQL file and module whose text decides what a cached level is: the per-date joins and
# aggregates (the SQL files, in engine.LEVEL_SQL's order), the engine that binds their inputs and
# constants (analytics.engine), the inputs it is given (api: _computed_levels, _index_levels;
# store: data_files), the container and its date conversions (levels, measures), the Arrow
# conversions of the cache file (arrays) and this module. Their text is hashed into every row's
# fingerprint, so editing any of them invalidates the cache.
DEFINITION_SQL = LEVEL_SQL
DEFINITION_MODULES = (
    "positioning_cli.analytics.engine",
    "positioning_cli.api",
    "positioning_cli.store",
    "positioning_cli.levels",
    "positioning_cli.measures",
    "positioning_cli.arrays",
    "positioning_cli.levels_cache",
    "positioning_cli.analytics.splits",
)


@functools.cache
def definitions_digest(
    modules: tuple[str, ...] = DEFINITION_MODULES, sql: tuple[str, ...] = DEFINITION_SQL
) -> str:
    """SHA-256 of the package version, the SQL files ``sql`` and the source of ``modules`` (read
    from disk, not imported)."""
    from positioning_cli import __version__

    h = hashlib.sha256(__version__.encode())
    sql_dir = _origin("positioning_cli.analytics").parent / "sql"
    for name in sql:
        h.update(f"sql/{name}.sql".encode() + b"\0" + (sql_dir / f"{name}.sql").read_bytes() + b"\0")
    for name in modules:
        h.update(name.encode() + b"\0" + _origin(name).read_bytes() + b"\0")
    return h.hexdigest()[:32]


def _origin(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"{module}: module not found for the levels-cache definitions digest")
    return Path(spec.origin)


def _note(file: Path, what: str) -> None:
    sys.stderr.write(f"note: {file}: {what}; ignored, the index levels are computed again\n")


def partition_date(rel: str) -> date:
    """The settlement date of a short-interest partition file ("year=YYYY/part-YYYYMMDD.parquet")."""
    stem = rel.rsplit("/", 1)[-1].removeprefix("part-").removesuffix(".parquet")
    return date(int(stem[:4]), int(stem[4:6]), int(stem[6:8]))


def fingerprints(manifest: dict[str, Any], proxies: Iterable[str], extra: str = "") -> dict[date, str]:
    """Per settlement date held: a digest of every input its index levels depend on (``extra``: the
    store's split events, which restate every earlier date)."""
    tables = manifest["tables"]
    shared = json.dumps(
        [
            definitions_digest(),
            extra,
            sorted(proxies),
            sorted((rel, e["sha256"]) for rel, e in tables["members"]["files"].items()),
            sorted((rel, e["sha256"]) for rel, e in tables["prices"]["files"].items()),
            sorted(
                (rel, e["sha256"])
                for rel, e in tables.get("shares_outstanding", {"files": {}})["files"].items()
            ),
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
    if file.parent.is_symlink():
        _note(file.parent, "the cache folder is a symbolic link")
        return {}
    if not file.exists() and not file.is_symlink():
        return {}  # no cache yet: nothing to say
    if file.is_symlink() or not file.is_file():
        _note(file, "not a regular file (a symbolic link or a folder)")
        return {}
    try:
        parquet = pq.ParquetFile(file)
        meta = parquet.schema_arrow.metadata or {}
        if MARKER not in meta:
            _note(file, "not a levels cache written by this version of positioning")
            return {}
        if meta[MARKER] != definitions_digest().encode():
            return {}  # built by other definitions (an edit or another version): silently recomputed
        table = parquet.read()
    except (OSError, pa.ArrowException):
        _note(file, "unreadable (damaged)")
        return {}
    expected = {"index": pa.string(), "settlement_date": pa.date32(), FINGERPRINT: pa.string()}
    expected |= {c: _arrow_type(t) for c, t in LEVEL_DTYPES.items()}
    if any(
        table.schema.get_field_index(c) < 0 or table.schema.field(c).type != t for c, t in expected.items()
    ):
        _note(file, "an unexpected layout")
        return {}
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
            folder.unlink()  # the link only, never what it points to: the cache is rebuilt in the store
        folder.mkdir(exist_ok=True)
        table = pa.table(columns).replace_schema_metadata({MARKER: definitions_digest().encode()})
        pq.write_table(table, tmp)
        os.replace(tmp, path(store_root))  # replaces a link or a damaged file, never writes through it
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
