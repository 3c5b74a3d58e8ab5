"""Index-level spellings in the proxy chain: Stooq's ``^spx_d.csv`` (stored as ^SPX) is the S&P 500
level Yahoo calls ^GSPC, so the SPX proxy chain finds it, and the warning never advises ingesting
what the store already holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from positioning_cli import api
from positioning_cli.indices import no_proxy_warning
from tests.conftest import run_cli

HEADER = (
    "accountingYearMonthNumber|symbolCode|issueName|issuerServicesGroupExchangeCode|marketClassCode|"
    "currentShortPositionQuantity|previousShortPositionQuantity|stockSplitFlag|averageDailyVolumeQuantity|"
    "daysToCoverQuantity|revisionFlag|changePercent|changePreviousNumber|settlementDate"
)
CLOSES = {"2026-06-12": 5000.0, "2026-06-15": 5100.0, "2026-06-30": 5250.0}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("stooq_spx")
    si = base / "shrt20260630.csv"
    si.write_text(HEADER + "\n20260630|AAA|AAA Corp|A|NNM|100|0||50|2.00||0|0|2026-06-30\n")
    members = base / "SPX.csv"
    members.write_text(
        "index,as_of,symbol,name,sector,shares_outstanding,float_shares,weight\n"
        "SPX,2026-01-02,AAA,AAA Corp,Health Care,1000,800,100\n"
    )
    # Stooq's own file name and its English header (no Adj Close, Open before Close)
    prices = base / "^spx_d.csv"
    prices.write_text(
        "Date,Open,High,Low,Close,Volume\n"
        + "".join(f"{d},{c},{c},{c},{c},1000\n" for d, c in CLOSES.items())
    )
    store = base / "store"
    for args in (("members", str(members)), ("short-interest", str(si)), ("prices", str(prices))):
        r = run_cli("ingest", *args, store=store)
        assert r.code == 0, r.err
    return store


def test_stooq_spx_is_the_spx_index_level_in_the_default_proxy_chain(store: Path) -> None:
    r = run_cli("scan", "--index", "SPX", "-f", "json", store=store)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    row = doc["rows"][0]
    assert (row["price_symbol"], row["price_close"]) == ("^SPX", CLOSES["2026-06-30"])
    assert not any("no price series" in w for w in doc["warnings"])


def test_a_proxy_named_in_one_spelling_finds_the_other(store: Path) -> None:
    r = run_cli("scan", "--index", "SPX", "--proxy", "SPX=^GSPC", "-f", "json", store=store)
    assert r.code == 0, r.err
    assert json.loads(r.out)["rows"][0]["price_symbol"] == "^SPX"


def test_index_level_spellings_in_every_default_chain() -> None:
    assert api.DEFAULT_PROXIES["SPX"] == ("SPY", "^GSPC", "^SPX")
    assert api.DEFAULT_PROXIES["NDX"] == ("QQQ", "^NDX")
    assert api.DEFAULT_PROXIES["RUT"] == ("IWM", "^RUT")
    # a stock symbol is not an index level: it stays alone
    assert api.proxy_chain("GME") == ("GME",)


def test_the_missing_proxy_warning_names_every_spelling_it_looked_for() -> None:
    text = no_proxy_warning("SPX", api.DEFAULT_PROXIES["SPX"])
    assert "SPY, ^GSPC or ^SPX" in text
    assert "--proxy SPX=SYMBOL" in text
