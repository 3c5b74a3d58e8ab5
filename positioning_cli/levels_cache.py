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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

CACHE_DIR = ".cache"
LEVELS_FILE = "levels.parquet"
# Bump whenever metrics.index_levels (or what it is given) changes what a level means.
VERSION = "levels-1"
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
    }


def path(store_root: Path) -> Path:
    return Path(store_root) / CACHE_DIR / LEVELS_FILE


def load(store_root: Path, wanted: dict[date, str], dtypes: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """Cached levels per index whose fingerprint matches ``wanted`` (indexed by settlement date)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    file = path(store_root)
    if not file.is_file() or file.is_symlink():
        return {}
    try:
        table = pq.read_table(file)
    except (OSError, pa.ArrowException):
        return {}  # unreadable or from another version: recomputed and rewritten
    if not {"index", "settlement_date", FINGERPRINT, *dtypes} <= set(table.column_names):
        return {}
    frame = table.to_pandas()
    frame["settlement_date"] = pd.to_datetime(frame["settlement_date"]).astype("datetime64[ns]")
    keys = [pd.Timestamp(d) for d in wanted]
    expected = pd.Series(list(wanted.values()), index=pd.DatetimeIndex(keys, dtype="datetime64[ns]"))
    ok = frame[FINGERPRINT].to_numpy() == expected.reindex(frame["settlement_date"]).to_numpy()
    frame = frame[ok]
    out = {}
    for idx, part in frame.groupby("index", sort=False):
        levels = part.set_index("settlement_date").sort_index()[list(dtypes)].astype(dtypes)
        levels.index.name = "settlement_date"
        out[str(idx)] = levels
    return out


def save(store_root: Path, levels: dict[str, pd.DataFrame], wanted: dict[date, str]) -> None:
    """Replace the cache with ``levels`` (atomic rename; silently skipped when it cannot be written)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = []
    for idx, frame in levels.items():
        part = frame.reset_index()
        part.insert(0, "index", idx)
        part[FINGERPRINT] = [wanted.get(pd.Timestamp(d).date(), "") for d in part["settlement_date"]]
        parts.append(part)
    if not parts:
        return
    folder = Path(store_root) / CACHE_DIR
    tmp = folder / f".{uuid.uuid4().hex}.tmp"
    try:
        if folder.is_symlink():
            return
        folder.mkdir(exist_ok=True)
        pq.write_table(pa.Table.from_pandas(pd.concat(parts, ignore_index=True), preserve_index=False), tmp)
        os.replace(tmp, path(store_root))
    except (OSError, pa.ArrowException):
        with contextlib.suppress(OSError):
            tmp.unlink()
