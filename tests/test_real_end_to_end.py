"""Real third-party files through the whole CLI, checked against the raw text read independently.

Short interest with shares outstanding and float (a scraped CSV, ingested through --map), the S&P 500
list of 2021-03-11 and Yahoo SPY prices: scan SPX on 2021-01-29 and recompute its numbers from the
raw files with the csv module and ``statistics``.
"""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import pytest

from tests.conftest import real_dir, run_cli

MAP = [
    "--date-format",
    "%m/%d/%y",
    "--map",
    "symbol=symbol",
    "--map",
    "settlement_date=short_interest_date",
    "--map",
    "short_interest=shares_sold_short",
    "--map",
    "shares_outstanding=shares_outstanding",
    "--map",
    "float_shares=public_float",
    "--map",
    "market=exchange",
]


# Line 392 of the 2021 S&P 500 list is damaged ("American Airlines Group,reports,Airlines"); a symbol
# that is not a ticker is refused (issue 12), so the run ingests a copy without it.
DAMAGED = "American Airlines Group"


def without_damaged_row(src: Path, folder: Path) -> Path:
    out = folder / src.name
    out.write_text("".join(x for x in src.read_text().splitlines(True) if not x.startswith(DAMAGED)))
    return out


def norm(symbol: str) -> str:
    return "".join(ch for ch in symbol.strip().upper() if ch not in "./- ")


@pytest.fixture(scope="module")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    si_dir = real_dir("finra_short_interest")
    constituents = real_dir("constituents")
    prices = real_dir("prices")
    work = tmp_path_factory.mktemp("real")
    store = work / "store"
    sp500 = without_damaged_row(constituents / "sp500_constituents__datasets_2021-03-11.csv", work)
    steps = [
        ("short-interest", *sorted(str(p) for p in si_dir.glob("haoenhui_*.csv")), *MAP),
        (
            "members",
            str(sp500),
            "--index",
            "SPX",
            "--as-of",
            "2021-03-11",
        ),
        (
            "members",
            str(constituents / "IWM_holdings__ishares_2026-05-05__brownplaya239.csv"),
            "--index",
            "RUT",
        ),
        ("prices", str(prices / "yahoo_xjcarter" / "SPY.csv"), str(prices / "yahoo_xjcarter" / "IWM.csv")),
    ]
    for args in steps:
        r = run_cli("ingest", *args, store=store)
        assert r.code == 0, r.err
    return store


def raw_expectations() -> dict:
    si_file = next(real_dir("finra_short_interest").glob("haoenhui_*2021-02-10*.csv"))
    with open(si_file, newline="") as f:
        rows = {}
        for r in csv.DictReader(f):
            if r["short_interest_date"] == "01/29/21" and r["shares_sold_short"] and r["symbol"]:
                rows[norm(r["symbol"])] = r  # the parser keeps the last of duplicates too
    with open(real_dir("constituents") / "sp500_constituents__datasets_2021-03-11.csv", newline="") as f:
        members = {norm(r["Symbol"]) for r in csv.DictReader(f) if r["Symbol"] != DAMAGED}
    held = [rows[s] for s in sorted(members) if s in rows]
    pcts = []
    for r in held:
        so = float(r["shares_outstanding"]) if r["shares_outstanding"] else 0.0
        if so > 1:
            pct = 100 * float(r["shares_sold_short"]) / so
            if pct <= 100:
                pcts.append(pct)
    with open(real_dir("prices") / "yahoo_xjcarter" / "SPY.csv", newline="") as f:
        closes = {r["Date"]: float(r["Close"]) for r in csv.DictReader(f)}
    return {
        "members": len(members),
        "members_with_si": len(held),
        "total": sum(round(float(r["shares_sold_short"])) for r in held),
        "median": statistics.median(pcts),
        "close": closes["2021-01-29"],
        "ret_last": closes["2021-01-29"] / closes["2021-01-15"] - 1,
    }


def test_scan_spx_on_real_files_matches_the_raw_text(real_store: Path) -> None:
    r = run_cli("scan", "--index", "SPX", "--as-of", "2021-01-29", "-f", "json", store=real_store)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    row = doc["rows"][0]
    want = raw_expectations()
    assert row["settlement_date"] == "2021-01-29"
    assert row["members"] == want["members"]
    assert row["members_with_si"] == want["members_with_si"]
    assert row["total_si_shares"] == want["total"]
    assert row["median_si_pct_so"] == pytest.approx(want["median"], rel=1e-12)
    assert row["price_symbol"] == "SPY"
    assert row["price_close"] == pytest.approx(want["close"])
    assert row["price_return_last"] == pytest.approx(want["ret_last"])
    # four reports held: the 1Y window is honestly partial, and membership predates its snapshot
    assert row["si_pct_1y_complete"] is False and row["si_pct_1y_obs"] == 4
    assert any("membership before its first snapshot" in w for w in doc["warnings"])


def test_real_store_is_read_by_duckdb_with_hive_partitioning(real_store: Path) -> None:
    duckdb = pytest.importorskip("duckdb", reason="duckdb is a dev dependency")
    counts = {}
    for table in ("short_interest", "members", "prices"):
        glob = f"{real_store}/{table}/**/*.parquet"
        counts[table] = duckdb.sql(
            f"select count(*) from read_parquet('{glob}', hive_partitioning=true)"
        ).fetchall()[0][0]
    manifest = json.loads((real_store / "manifest.json").read_text())
    for table, n in counts.items():
        assert n == sum(f["rows"] for f in manifest["tables"][table]["files"].values()) > 0
    brk = duckdb.sql(
        f"select short_interest, shares_outstanding from read_parquet('{real_store}/short_interest/**/*.parquet', "
        "hive_partitioning=true) where symbol = 'BRKB' and settlement_date = DATE '2020-12-15'"
    ).fetchall()
    assert brk == [(11720000, 1400000000)]  # raw: BRK.B,NYSE,1400000000.0,...,12/15/20,11720000.0


def raw_si_rows() -> dict[str, dict[str, str]]:
    si_file = next(real_dir("finra_short_interest").glob("haoenhui_*2021-02-10*.csv"))
    with open(si_file, newline="") as f:
        return {
            norm(r["symbol"]): r
            for r in csv.DictReader(f)
            if r["short_interest_date"] == "01/29/21" and r["shares_sold_short"] and r["symbol"]
        }


def test_scan_by_stock_on_real_files_matches_the_raw_text(real_store: Path) -> None:
    """iShares IWM holdings as RUT membership, SI % of shares outstanding and float from the raw CSV."""
    r = run_cli(
        "scan",
        "--by",
        "stock",
        "--index",
        "RUT",
        "--as-of",
        "2021-01-29",
        "--top",
        "0",
        "-f",
        "json",
        store=real_store,
    )
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    raw = raw_si_rows()
    with open(
        real_dir("constituents") / "IWM_holdings__ishares_2026-05-05__brownplaya239.csv", encoding="utf-8-sig"
    ) as f:
        lines = f.read().splitlines()
    header = next(i for i, ln in enumerate(lines) if ln.startswith("Ticker,"))
    members = {
        norm(row["Ticker"])
        for row in csv.DictReader(lines[header:])
        if row.get("Asset Class") == "Equity" and row["Ticker"] not in ("-", "")
    }
    by_symbol = {row["symbol"]: row for row in doc["rows"]}
    excluded = {x["symbol"] for x in doc["excluded"]["rows"]} if doc["excluded"]["rows"] else set()
    assert set(by_symbol) | excluded <= members
    checked = 0
    for sym, row in sorted(by_symbol.items())[:200]:
        src = raw[sym]
        si = float(src["shares_sold_short"])
        assert row["short_interest"] == round(si)
        for key, column in (("si_pct_so", "shares_outstanding"), ("si_pct_float", "public_float")):
            if src[column]:  # the scraped file leaves some denominators blank: then no percentage
                assert row[key] == pytest.approx(100 * si / float(src[column]), rel=1e-9), (sym, key)
            else:
                assert row[key] is None, (sym, key)
        checked += 1
    assert checked == min(200, len(by_symbol)) > 100
    assert "RUT: membership before its first snapshot; using the list as of 2026-05-05" in doc["warnings"]


def test_summary_on_real_files(real_store: Path) -> None:
    r = run_cli("summary", "--index", "SPX", "--as-of", "2021-01-29", "-f", "json", store=real_store)
    assert r.code == 0, r.err
    rows = {row["metric"]: row for row in json.loads(r.out)["rows"]}
    want = raw_expectations()
    assert rows["median_si_pct_so"]["value"] == pytest.approx(want["median"], rel=1e-12)
    assert rows["total_si_shares"]["value"] == want["total"]
    assert rows["price_close"]["value"] == pytest.approx(want["close"])
    assert rows["price_close"]["change_last"] == pytest.approx(want["ret_last"])
