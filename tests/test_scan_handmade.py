"""scan on a store small enough to compute every number by hand (DOMAIN.md definitions)."""

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
# settlement date -> {symbol: (short interest, average daily volume)}
SI = {
    "2025-06-30": {"AAA": (100, 50), "BBB": (200, 100), "CCC": (300, 100)},
    "2025-12-31": {"AAA": (150, 50), "BBB": (200, 100), "CCC": (250, 100)},
    "2026-06-15": {"AAA": (200, 50), "BBB": (300, 100), "CCC": (300, 100)},
    "2026-06-30": {"AAA": (220, 100), "BBB": (330, 110), "CCC": (350, 0)},
}
# Yahoo closes for IWM on the settlement dates (and nothing else)
CLOSES = {"2025-06-30": 100.0, "2025-12-31": 120.0, "2026-06-15": 110.0, "2026-06-30": 115.0}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("hand")
    si_dir = base / "si"
    si_dir.mkdir()
    for d, rows in SI.items():
        lines = [HEADER]
        for sym, (si, adv) in rows.items():
            dtc = "" if adv == 0 else f"{max(1.0, si / adv):.2f}"
            lines.append(f"{d.replace('-', '')}|{sym}|{sym} Corp|A|NNM|{si}|0||{adv}|{dtc}||0|0|{d}")
        (si_dir / f"shrt{d.replace('-', '')}.csv").write_text("\n".join(lines) + "\n")
    members = base / "RUT.csv"
    members.write_text(
        "index,as_of,symbol,name,sector,shares_outstanding,float_shares,weight\n"
        "RUT,2025-01-02,AAA,AAA Corp,Health Care,1000,800,10\n"
        "RUT,2025-01-02,BBB,BBB Corp,Financials,10000,9000,60\n"
        "RUT,2025-01-02,CCC,CCC Corp,Industrials,5000,5000,30\n"
    )
    prices = base / "IWM.csv"
    prices.write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        + "".join(f"{d},{c},{c},{c},{c},{c},1000\n" for d, c in CLOSES.items())
    )
    store = base / "store"
    for args in (("members", str(members)), ("short-interest", str(si_dir)), ("prices", str(prices))):
        r = run_cli("ingest", *args, store=store)
        assert r.code == 0, r.err
    return store


def test_every_scan_number_matches_the_hand_computation(store: Path) -> None:
    r = run_cli("scan", "--index", "RUT", "-f", "json", store=store)
    assert r.code == 0, r.err
    row = json.loads(r.out)["rows"][0]
    assert row["settlement_date"] == "2026-06-30"
    assert (row["members"], row["members_with_si"], row["members_with_denominator"]) == (3, 3, 3)
    assert row["total_si_shares"] == 220 + 330 + 350
    # SI % of shares outstanding 22%, 3.3%, 7% -> median 7; of float 27.5%, 3.67%, 7% -> median 7
    assert row["median_si_pct_so"] == pytest.approx(7.0)
    assert row["median_si_pct_float"] == pytest.approx(7.0)
    # CCC has no volume: days to cover undefined for it, so Σ SI / Σ ADV over the others
    assert row["agg_days_to_cover"] == pytest.approx((220 + 330) / (100 + 110))
    # per-member days to cover 2.2 and 3.0 (floor 1.0) -> median 2.6
    assert row["median_days_to_cover"] == pytest.approx(2.6)
    # totals 600, 600, 800, 900: last report 900/800-1; YTD base = last report of 2025 (600);
    # 12M base = last report on or before 2025-06-30 (600)
    assert row["si_change_last"] == pytest.approx(900 / 800 - 1)
    assert (row["si_base_ytd"], row["si_change_ytd"]) == ("2025-12-31", pytest.approx(0.5))
    assert (row["si_base_12m"], row["si_change_12m"]) == ("2025-06-30", pytest.approx(0.5))
    # 1Y window (2025-06-30, 2026-06-30] holds 600, 800, 900: 3 reports, fewer than the 12 a 1Y
    # percentile needs (README "Choices") -> null, with the count kept; 5Y: 4 of the 60 needed.
    assert (row["si_pct_1y"], row["si_pct_1y_obs"], row["si_pct_1y_complete"]) == (None, 3, True)
    assert (row["si_pct_5y"], row["si_pct_5y_obs"], row["si_pct_5y_complete"]) == (None, 4, False)
    assert row["price_symbol"] == "IWM" and row["price_close"] == 115.0
    assert row["price_return_last"] == pytest.approx(115 / 110 - 1)
    assert row["price_return_ytd"] == pytest.approx(115 / 120 - 1)
    assert row["price_return_12m"] == pytest.approx(115 / 100 - 1)
    # closes in the 1Y window: 120, 110, 115 -> 3 closes, fewer than the 126 needed -> null
    assert row["price_pct_1y"] is None
    assert row["quadrant"] == "shorts pressing into strength"
    assert row["divergence_score"] is None
    assert row["score_missing"] == (
        "1Y SI percentile: 3 observations in the window, fewer than the 12 required; "
        "1Y price percentile: 3 observations in the window, fewer than the 126 required"
    )


def test_a_partial_window_is_said_not_hidden(store: Path) -> None:
    doc = json.loads(run_cli("scan", "--index", "RUT", "-f", "json", store=store).out)
    assert (
        "RUT: 5Y SI percentile null: 4 observations in the window, fewer than the 60 required"
        in doc["warnings"]
    )


def test_scan_as_of_between_reports_uses_the_report_before(store: Path) -> None:
    doc = json.loads(
        run_cli("scan", "--index", "RUT", "--as-of", "2026-06-20", "-f", "json", store=store).out
    )
    row = doc["rows"][0]
    assert row["settlement_date"] == "2026-06-15"
    assert row["total_si_shares"] == 800
    assert row["si_change_last"] == pytest.approx(800 / 600 - 1)
    assert any("not a settlement date" in w for w in doc["warnings"])


def test_summary_levels_percentiles_and_changes_by_hand(store: Path) -> None:
    doc = json.loads(run_cli("summary", "--index", "RUT", "--explain", "-f", "json", store=store).out)
    rows = {r["metric"]: r for r in doc["rows"]}
    total = rows["total_si_shares"]
    assert total["value"] == 900
    # 3 reports in 1Y and 4 in all (12 needed for either): no percentile, the count kept
    assert (total["pct_1y"], total["pct_all"], total["obs_all"]) == (None, None, 4)
    assert total["change_ytd"] == pytest.approx(0.5) and total["base_ytd"] == "2025-12-31"
    # medians of SI % of shares out per date: 2025-06-30: 10, 2, 6 -> 6; 2025-12-31: 15, 2, 5 -> 5;
    # 2026-06-15: 20, 3, 6 -> 6; 2026-06-30: 22, 3.3, 7 -> 7
    med = rows["median_si_pct_so"]
    assert med["value"] == pytest.approx(7.0)
    assert med["change_last"] == pytest.approx(7 / 6 - 1)
    assert med["change_ytd"] == pytest.approx(7 / 5 - 1)
    assert med["pct_1y"] is None
    dtc = rows["agg_days_to_cover"]  # Σ SI / Σ ADV over stocks with volume: 550/210 vs 800/250
    assert dtc["value"] == pytest.approx(550 / 210)
    assert dtc["change_last"] == pytest.approx((550 / 210) / (800 / 250) - 1)
    price = rows["price_close"]
    assert (price["symbol"], price["value"]) == ("IWM", 115.0)
    assert price["change_12m"] == pytest.approx(0.15)
    assert rows["total_si_value"]["value"] is None  # no stock closes in this store
    # total SI changes like for like (all three members reported on both dates); the median as a level
    assert (
        "change_ytd = Σ SI(2026-06-30) / Σ SI(2025-12-31) − 1 over the same 3 constituents"
        in total["explain"]
    )
    assert (
        "change_ytd = x(2026-06-30) / x(2025-12-31) − 1, each date over its own membership" in med["explain"]
    )
    text = " ".join(doc["text"]["RUT"])
    assert "too short a history for a percentile (4 reports held)" in text
    assert "+50.0% YTD" in text and "+12.5% since the last report" in text
    assert "expanding into strength" in text


def test_history_is_the_series_behind_the_percentiles(store: Path) -> None:
    doc = json.loads(run_cli("history", "--index", "RUT", "-f", "json", store=store).out)
    assert [(r["settlement_date"], r["value"]) for r in doc["rows"]] == [
        ("2025-06-30", 600),
        ("2025-12-31", 600),
        ("2026-06-15", 800),
        ("2026-06-30", 900),
    ]
    r = run_cli("history", "--index", "RUT", "--metric", "nope", store=store)
    assert r.code == 2 and "--metric" in r.err


@pytest.mark.parametrize(
    ("expr", "code"),
    [
        ("total_si_shares>=900", 7),
        ("total_si_shares>900", 0),
        ("si_change_last>0.1", 7),
        ("price_return_last<0", 0),
    ],
)
def test_fail_on_sets_the_exit_code_after_the_output(store: Path, expr: str, code: int) -> None:
    r = run_cli("scan", "--index", "RUT", "--fail-on", expr, "-f", "json", store=store)
    assert r.code == code, r.err
    assert json.loads(r.out)["rows"][0]["index"] == "RUT"  # output is complete either way
    if code:
        assert "matched RUT" in r.err


def test_fail_on_rejects_what_it_cannot_parse(store: Path) -> None:
    for expr in ("divergence_score>>80", "__import__('os')>1", "rank>=x"):
        r = run_cli("scan", "--fail-on", expr, store=store)
        assert r.code == 2 and r.out == "", expr
