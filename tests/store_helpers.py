"""Helpers shared by the store fault, kill and concurrency tests (not a test module)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

from positioning_cli.store import Store

HEADER = (
    "accountingYearMonthNumber|symbolCode|issueName|issuerServicesGroupExchangeCode|marketClassCode|"
    "currentShortPositionQuantity|previousShortPositionQuantity|stockSplitFlag|averageDailyVolumeQuantity|"
    "daysToCoverQuantity|revisionFlag|changePercent|changePreviousNumber|settlementDate"
)


def settlement_dates(n: int, start: date = date(2025, 1, 15)) -> list[date]:
    """``n`` semi-monthly settlement dates (15th and last-ish day), crossing a year boundary."""
    out, d = [], start
    while len(out) < n:
        out.append(d)
        d = d.replace(day=28) if d.day == 15 else (d.replace(day=1) + timedelta(days=32)).replace(day=15)
    return out


def write_finra_files(
    folder: Path, n_files: int, n_rows: int, seed: int = 0, *, revise: float = 0.0, start: date | None = None
) -> list[Path]:
    """FINRA pipe files, one per settlement date, ``n_rows`` symbols each.

    ``revise`` > 0 flags that share of the rows as revisions and changes their values, so a
    second set written over the same dates rewrites existing partitions.
    """
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    symbols = [f"S{i:05d}" for i in range(n_rows)]
    paths = []
    for d in settlement_dates(n_files, start or date(2025, 1, 15)):
        lines = [HEADER]
        for sym in symbols:
            si = rng.randrange(0, 5_000_000)
            flag = "R" if revise and rng.random() < revise else ""
            adv = rng.randrange(1, 900_000)
            lines.append(
                f"{d:%Y%m%d}|{sym}|Issue {sym}|U|OTC|{si}|{si // 2}||{adv}|{si / adv:.2f}|{flag}|0.00|0|{d:%Y-%m-%d}"
            )
        path = folder / f"shrt{d:%Y%m%d}.csv"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths


DATA_COLS = ["settlement_date", "symbol", "short_interest", "revision_flag", "source_file"]


def content(root: Path) -> list[tuple]:
    """The live short-interest rows through our Store (rolls a committed journal forward)."""
    store = Store(root)
    with store.reading(wait=60) as m:
        t = store.read("short_interest", DATA_COLS, m)
    return sorted(tuple(r.values()) for r in t.to_pylist())


def raw_rows(root: Path) -> tuple[list[tuple], list[tuple]]:
    """The same rows read by pyarrow.dataset and by DuckDB, straight from the files (hive glob)."""
    import duckdb

    folder = root / "short_interest"
    if not folder.exists():
        return [], []
    t: pa.Table = ds.dataset(folder, format="parquet", partitioning="hive").to_table(columns=DATA_COLS)
    by_arrow = sorted(tuple(r.values()) for r in t.to_pylist())
    con = duckdb.connect()
    by_duck = sorted(
        con.sql(
            f"select {', '.join(DATA_COLS)} from read_parquet('{folder}/**/*.parquet', hive_partitioning=true)"
        ).fetchall()
    )
    con.close()
    return by_arrow, by_duck
