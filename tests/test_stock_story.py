"""``positioning stock SYMBOL``: one stock over time, each number the one ``scan --by stock`` computes
for it on that date, checked by hand on a store small enough to do so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

HEADER = (
    "accountingYearMonthNumber|symbolCode|issueName|issuerServicesGroupExchangeCode|marketClassCode|"
    "currentShortPositionQuantity|previousShortPositionQuantity|stockSplitFlag|averageDailyVolumeQuantity|"
    "daysToCoverQuantity|revisionFlag|changePercent|changePreviousNumber|settlementDate"
)
# settlement date -> AAA's (short interest, average daily volume, split flag, revision flag)
AAA = {
    "2025-06-30": (1_000_000, 500_000, "", ""),
    "2025-12-31": (1_500_000, 500_000, "", ""),
    "2026-06-15": (2_000_000, 500_000, "", "R"),
    "2026-06-30": (2_200_000, 1_000_000, "S", ""),
}
CLOSES = {"2025-06-30": 10.0, "2025-12-31": 12.0, "2026-06-15": 11.0, "2026-06-30": 11.5}
SHARES_OUT = 10_000_000


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("story")
    si_dir = base / "si"
    si_dir.mkdir()
    for d, (si, adv, split, rev) in AAA.items():
        lines = [
            HEADER,
            f"{d.replace('-', '')}|AAA|AAA Corp|A|NNM|{si}|0|{split}|{adv}|{si / adv:.2f}|{rev}|0|0|{d}",
            f"{d.replace('-', '')}|BBB|BBB Corp|A|NNM|1000000|0||1000000|1.00||0|0|{d}",
        ]
        (si_dir / f"shrt{d.replace('-', '')}.csv").write_text("\n".join(lines) + "\n")
    members = base / "RUT.csv"
    members.write_text(
        "index,as_of,symbol,name,sector,shares_outstanding,float_shares,weight\n"
        f"RUT,2025-01-02,AAA,AAA Corp,Health Care,{SHARES_OUT},8000000,10\n"
        "RUT,2025-01-02,BBB,BBB Corp,Financials,100000000,90000000,90\n"
    )
    prices = base / "AAA.csv"
    prices.write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        + "".join(f"{d},{c},{c},{c},{c},{c},1000\n" for d, c in CLOSES.items())
    )
    store = base / "store"
    for args in (("members", str(members)), ("short-interest", str(si_dir)), ("prices", str(prices))):
        r = run_cli("ingest", *args, store=store)
        assert r.code == 0, r.err
    return store


def test_stock_story_numbers_by_hand(store: Path) -> None:
    r = run_cli("stock", "aaa", "-f", "json", store=store)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    rows = {row["settlement_date"]: row for row in doc["rows"]}
    assert list(rows) == list(AAA)
    for d, (si, adv, _, _) in AAA.items():
        row = rows[d]
        assert row["short_interest"] == si
        assert row["si_pct_so"] == pytest.approx(100 * si / SHARES_OUT)
        assert row["si_pct_float"] == pytest.approx(100 * si / 8_000_000)
        assert row["days_to_cover"] == pytest.approx(max(1.0, si / adv))
        assert row["close"] == CLOSES[d]
        assert (row["name"], row["sector"], row["indices"]) == ("AAA Corp", "Health Care", "RUT")
    mid = rows["2026-06-15"]
    assert mid["si_change_last"] == pytest.approx(2.0 / 1.5 - 1)
    assert mid["price_return_last"] == pytest.approx(11 / 12 - 1)
    # window (2025-06-15, 2026-06-15] holds 3 reports, fewer than the 12 a 1Y percentile needs
    # (README "Choices": minimum observations): no percentile rather than "100th" about nothing
    assert mid["si_pct_1y"] is None
    assert mid["quadrant_key"] == "shorts_confirmed"  # SI up, price down
    # the split cycle: no change is computed across it, and both flags are listed
    assert rows["2026-06-30"]["si_change_last"] is None and rows["2026-06-30"]["split_flag"] is True
    assert (mid["revision_flag"], mid["split_flag"]) == (True, False)
    assert doc["revisions"] == ["2026-06-15"] and doc["splits"] == ["2026-06-30"]
    assert doc["memberships"] == [
        {
            "index": "RUT",
            "first_as_of": "2025-01-02",
            "last_as_of": "2025-01-02",
            "snapshots": 1,
            "in_latest": True,
            "index_latest_as_of": "2025-01-02",
            "name": "AAA Corp",
            "sector": "Health Care",
        }
    ]
    assert doc["sparklines"]["short_interest"] == [si for si, _, _, _ in AAA.values()]


def test_stock_story_is_what_scan_by_stock_says_on_each_date(store: Path) -> None:
    story = {
        r["settlement_date"]: r
        for r in json.loads(run_cli("stock", "AAA", "-f", "json", store=store).out)["rows"]
    }
    for d in ("2025-12-31", "2026-06-15"):
        r = run_cli("scan", "--by", "stock", "--index", "RUT", "--as-of", d, "-f", "json", store=store)
        assert r.code == 0, r.err
        ranked = next(row for row in json.loads(r.out)["rows"] if row["symbol"] == "AAA")
        for key in (
            "si_pct_so",
            "days_to_cover",
            "close",
            "si_change_last",
            "si_pct_1y",
            "price_pct_1y",
            "quadrant",
        ):
            assert story[d][key] == ranked[key], (d, key)


def test_stock_story_table_sparkline_and_flags(store: Path) -> None:
    r = run_cli("stock", "AAA", "-f", "table", store=store, env={"COLUMNS": "80"})
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    # SI 1.0, 1.5, 2.0, 2.2 (M) between min 1.0 and max 2.2 on 8 levels: 0, 3, 6, 7
    assert any(line.startswith("Short interest") and line.endswith("▁▄▇█") for line in lines)
    assert max(len(line) for line in lines) <= 80
    flagged = {line.split()[0]: line.split()[-1] for line in lines if line[:4] in ("2025", "2026")}
    assert flagged["2026-06-15"] == "R" and flagged["2026-06-30"] == "S"
    assert "RUT: in 1 membership snapshot(s), 2025-01-02" in r.out


def test_stock_story_last_and_unknown_symbol(store: Path) -> None:
    doc = json.loads(run_cli("stock", "AAA", "--last", "2", "-f", "json", store=store).out)
    assert [r["settlement_date"] for r in doc["rows"]] == ["2026-06-15", "2026-06-30"]
    missing = run_cli("stock", "ZZZ", store=store)
    assert missing.code == 4 and "ZZZ: not a member of any index held" in missing.err


def test_stock_story_span_days_keeps_the_newest_window(store: Path) -> None:
    from positioning_cli import stock_story

    # (2026-06-30 - 200 days, 2026-06-30] = (2025-12-12, 2026-06-30]: three of the four reports
    got = stock_story.story(store, "AAA", last=0, span_days=200).rows
    assert [r["settlement_date"] for r in got] == ["2025-12-31", "2026-06-15", "2026-06-30"]
    every = stock_story.story(store, "AAA", last=0).rows
    assert got == every[1:]  # the same rows the full story has on those dates
