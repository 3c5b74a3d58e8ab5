"""``--map FIELD=COLUMN`` on a file whose format is recognised overrides only the fields it names;
the rest are read as the detected format reads them (they used to be dropped: sector "Unknown",
names empty)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pyarrow.parquet as pq

from positioning_cli.ingest import ParseOptions, parse_file
from tests.conftest import real_dir, run_cli

D = datetime.date
FINRA_HEADER = (
    "accountingYearMonthNumber|symbolCode|issueName|issuerServicesGroupExchangeCode|marketClassCode|"
    "currentShortPositionQuantity|previousShortPositionQuantity|stockSplitFlag|averageDailyVolumeQuantity|"
    "daysToCoverQuantity|revisionFlag|changePercent|changePreviousNumber|settlementDate|sharesOut"
)


def test_map_one_field_on_an_sp500_list_keeps_names_and_sectors(tmp_path: Path) -> None:
    path = tmp_path / "sp500.csv"
    path.write_text(
        "Symbol,Security,GICS Sector,Shares Outstanding\n"
        'AAA,Aaa Inc,Health Care,"1,000"\n'
        "BRK.B,Berkshire Hathaway,Financials,2000\n"
    )
    options = ParseOptions(mapping={"shares_outstanding": "Shares Outstanding"}, as_of=D(2026, 1, 2))
    parsed = parse_file("members", path, options)
    assert parsed.format == "sp500-list"
    rows = {r["symbol"]: r for r in parsed.table.to_pylist()}
    assert (rows["AAA"]["name"], rows["AAA"]["sector"], rows["AAA"]["shares_outstanding"]) == (
        "Aaa Inc",
        "Health Care",
        1000,
    )
    assert (rows["BRKB"]["name"], rows["BRKB"]["sector"], rows["BRKB"]["shares_outstanding"]) == (
        "Berkshire Hathaway",
        "Financials",
        2000,
    )
    assert {r["index"] for r in rows.values()} == {"SPX"}


def test_map_on_a_finra_pipe_file_adds_a_field_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "shrt20260814.csv"
    path.write_text(
        FINRA_HEADER
        + "\n20260814|AAPL|Apple Inc.|A|NNM|34636195|39059449||38275532|1.0||-11.32|-4423254|2026-08-14|"
        "14700000000\n"
    )
    parsed = parse_file("short-interest", path, ParseOptions(mapping={"shares_outstanding": "sharesOut"}))
    assert parsed.format == "finra-pipe"
    row = parsed.table.to_pylist()[0]
    assert (row["issue_name"], row["avg_daily_volume"], row["previous_short_interest"]) == (
        "Apple Inc.",
        38275532,
        39059449,
    )
    assert (row["short_interest"], row["shares_outstanding"]) == (34636195, 14_700_000_000)


def test_map_overrides_a_field_the_real_sp500_list_has(tmp_path: Path) -> None:
    path = real_dir("constituents") / "sp500_constituents__datasets_2026-08-08.csv"
    store = tmp_path / "store"
    r = run_cli(
        "ingest",
        "members",
        str(path),
        "--as-of",
        "2026-08-08",
        "--map",
        "sector=GICS Sub-Industry",
        store=store,
    )
    assert r.code == 0, r.err
    table = pq.read_table(store / "members")
    rows = {r["symbol"]: r for r in table.to_pylist()}
    # MMM,3M,Industrials,Industrial Conglomerates,...: the mapped field changed, the name did not
    assert (rows["MMM"]["name"], rows["MMM"]["sector"]) == ("3M", "Industrial Conglomerates")
    assert rows["MMM"]["source_format"] == "sp500-list"
    assert len(rows) == sum(1 for _ in path.open(encoding="utf-8")) - 1
