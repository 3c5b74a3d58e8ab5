"""``scan --by stock``: --symbols and the config's watchlist keep some stocks (their rank stays the
overall rank), --sort orders by any key, and the table shows name, sector and index when it has room."""

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
# symbol -> (shares outstanding, SI on the two dates, closes on the two dates)
STOCKS = {
    "AAA": (10_000_000, (1_000_000, 1_500_000), (10.0, 12.0)),
    "BBB": (20_000_000, (3_000_000, 2_000_000), (20.0, 25.0)),
    "CCC": (5_000_000, (500_000, 900_000), (30.0, 27.0)),
}
DATES = ("2026-06-15", "2026-06-30")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("watch")
    (base / "si").mkdir()
    (base / "px").mkdir()
    for i, d in enumerate(DATES):
        lines = [HEADER] + [
            f"{d.replace('-', '')}|{s}|{s} Corp|A|NNM|{si[i]}|0||500000|{si[i] / 500000:.2f}||0|0|{d}"
            for s, (_, si, _) in STOCKS.items()
        ]
        (base / "si" / f"shrt{d.replace('-', '')}.csv").write_text("\n".join(lines) + "\n")
    for s, (_, _, closes) in STOCKS.items():
        (base / "px" / f"{s}.csv").write_text(
            "Date,Open,High,Low,Close,Adj Close,Volume\n"
            + "".join(f"{d},{c},{c},{c},{c},{c},1000\n" for d, c in zip(DATES, closes, strict=True))
        )
    members = base / "RUT.csv"
    members.write_text(
        "index,as_of,symbol,name,sector,shares_outstanding\n"
        + "".join(f"RUT,2026-01-02,{s},{s} Corp,Sector {s},{so}\n" for s, (so, _, _) in STOCKS.items())
    )
    store = base / "store"
    for args in (
        ("members", str(members)),
        ("short-interest", str(base / "si")),
        ("prices", str(base / "px")),
    ):
        r = run_cli("ingest", *args, store=store)
        assert r.code == 0, r.err
    return store


def _scan(store: Path, *args: str, env: dict[str, str] | None = None) -> dict:
    r = run_cli("scan", "--by", "stock", "--index", "RUT", *args, "-f", "json", store=store, env=env)
    assert r.code == 0, r.err
    return json.loads(r.out)


def test_scan_by_stock_symbols_keeps_those_with_their_overall_rank(store: Path) -> None:
    everyone = {r["symbol"]: r["rank"] for r in _scan(store)["rows"]}
    assert set(everyone) == set(STOCKS)
    doc = _scan(store, "--symbols", "ccc,AAA,NOPE")
    assert [r["symbol"] for r in doc["rows"]] == sorted(["AAA", "CCC"], key=everyone.__getitem__)
    assert {r["symbol"]: r["rank"] for r in doc["rows"]} == {s: everyone[s] for s in ("AAA", "CCC")}
    assert doc["ranked"] == 3
    assert any(w.startswith("NOPE: not ranked on 2026-06-30") for w in doc["warnings"])


def test_scan_by_stock_watchlist_from_the_environment_and_the_config_file(
    store: Path, tmp_path: Path
) -> None:
    doc = _scan(store, "--watchlist", env={"POSITIONING_WATCHLIST": "BBB"})
    assert [r["symbol"] for r in doc["rows"]] == ["BBB"]
    config = tmp_path / "positioning.toml"
    config.write_text('watchlist = "AAA,BBB"\n')
    doc = _scan(store, "--watchlist", env={"POSITIONING_CONFIG": str(config)})
    assert sorted(r["symbol"] for r in doc["rows"]) == ["AAA", "BBB"]
    unset = run_cli(
        "scan",
        "--by",
        "stock",
        "--watchlist",
        store=store,
        env={"POSITIONING_CONFIG": str(tmp_path / "none.toml")},
    )
    assert unset.code == 2 and "no watchlist set" in unset.err


def test_scan_by_stock_sort_key(store: Path) -> None:
    # SI % of shares outstanding on 2026-06-30 by hand: AAA 15%, BBB 10%, CCC 18%
    doc = _scan(store, "--sort", "si_pct_so")
    assert [r["symbol"] for r in doc["rows"]] == ["CCC", "AAA", "BBB"]
    assert [r["si_pct_so"] for r in doc["rows"]] == pytest.approx([18.0, 15.0, 10.0])
    assert [r["symbol"] for r in _scan(store, "--sort", "si_pct_so:asc")["rows"]] == ["BBB", "AAA", "CCC"]
    assert [r["symbol"] for r in _scan(store, "--sort", "sector")["rows"]] == ["AAA", "BBB", "CCC"]
    assert [r["symbol"] for r in _scan(store, "--sort", "close", "--top", "1")["rows"]] == ["CCC"]
    bad = run_cli("scan", "--by", "stock", "--sort", "nope", store=store)
    assert bad.code == 2 and "--sort 'nope': unknown key" in bad.err


def test_stock_table_shows_name_sector_index_when_there_is_room(store: Path) -> None:
    wide = run_cli("scan", "--by", "stock", "-f", "table", store=store, env={"COLUMNS": "160"})
    assert wide.code == 0, wide.err
    header = next(line for line in wide.out.splitlines() if "Symbol" in line)
    assert header.split()[-3:] == ["Index", "Sector", "Name"]
    assert "Sector CCC" in wide.out and "CCC Corp" in wide.out
    narrow = run_cli("scan", "--by", "stock", "-f", "table", store=store, env={"COLUMNS": "80"})
    header = next(line for line in narrow.out.splitlines() if "Symbol" in line)
    assert "Sector" not in header and "Name" not in header and header.split()[-1] == "Score"
