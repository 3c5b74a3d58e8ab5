"""`ingest cot`, `cot` and the futures read in `scan`, checked against the raw CFTC lines."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pytest

from tests.conftest import SAMPLE, run_cli
from tests.test_scan_handmade import store as hand_store  # noqa: F401  (fixture)


def raw_rows(code: str) -> dict[str, dict[str, str]]:
    """report date -> raw row of the futures-only file lines for one contract code, read with csv."""
    out: dict[str, dict[str, str]] = {}
    for path in sorted((SAMPLE / "cot").glob("FinFut*.txt.gz")):
        text = gzip.decompress(path.read_bytes()).decode("ascii")
        for row in csv.DictReader(io.StringIO(text)):
            if row["CFTC_Contract_Market_Code"].strip() == code:
                out[row["Report_Date_as_YYYY-MM-DD"].strip()] = row
    return out


def net(row: dict[str, str], group: str) -> int:
    return int(row[f"{group}_Positions_Long_All"]) - int(row[f"{group}_Positions_Short_All"])


@pytest.fixture(scope="module")
def cot_store(hand_store: Path) -> Path:  # noqa: F811
    r = run_cli("ingest", "cot", str(SAMPLE / "cot"), store=hand_store)
    assert r.code == 0, r.err
    return hand_store


def test_cot_reads_the_raw_numbers(cot_store: Path) -> None:
    doc = json.loads(run_cli("cot", "--as-of", "2024-07-23", "-f", "json", store=cot_store).out)
    assert doc["command"] == "cot" and doc["as_of"] == "2024-07-23"
    rows = {(r["contract"], r["group"]): r for r in doc["rows"]}
    for contract, code in (("ES", "13874A"), ("NQ", "209742"), ("RTY", "239742")):
        raw = raw_rows(code)["2024-07-23"]
        lev = rows[(contract, "lev_money")]
        assert lev["net"] == net(raw, "Lev_Money")
        assert lev["open_interest"] == int(raw["Open_Interest_All"])
        assert lev["net_pct_oi"] == pytest.approx(100 * net(raw, "Lev_Money") / int(raw["Open_Interest_All"]))
        assert rows[(contract, "asset_mgr")]["net"] == net(raw, "Asset_Mgr")
    assert "basis trade" in doc["caveat"]


def test_scan_never_reads_a_later_futures_report(cot_store: Path) -> None:
    doc = json.loads(
        run_cli("scan", "--index", "RUT", "--as-of", "2026-06-15", "-f", "json", store=cot_store).out
    )
    row = doc["rows"][0]
    assert row["futures_contract"] == "RTY"
    assert row["futures_report_date"] == "2026-06-09"  # the Tuesday before the 2026-06-15 settlement
    assert row["lev_net"] == net(raw_rows("239742")["2026-06-09"], "Lev_Money")


def test_scan_compares_futures_and_equity_shorts_over_the_same_window(cot_store: Path) -> None:
    doc = json.loads(run_cli("scan", "--index", "RUT", "-f", "json", store=cot_store).out)
    row = doc["rows"][0]  # settlement 2026-06-30, previous report 2026-06-15
    raw = raw_rows("239742")
    change = net(raw["2026-06-30"], "Lev_Money") - net(raw["2026-06-09"], "Lev_Money")
    assert row["lev_net_change"] == change
    # equity short interest rose (+12.5%): futures agree when the leveraged net fell
    assert row["futures_agree"] is (change < 0)


def test_cot_on_an_empty_store_is_no_data(tmp_path: Path) -> None:
    r = run_cli("cot", store=tmp_path / "s")
    assert r.code == 4 and "ingest cot" in r.err


def test_cot_unknown_contract_is_a_usage_error(cot_store: Path) -> None:
    r = run_cli("cot", "--contract", "GOLD", store=cot_store)
    assert r.code == 2 and "GOLD" in r.err
